#!/usr/bin/env bash
# A read-only .sluice/ (issue 12, item 10): the reading commands (status,
# runs, logs, show, diff) used to fail with "unable to open database file";
# they open the store read-only and work.  Commands that record refuse with
# one clear message, exit 2.  The read-only directory is a read-only bind
# mount in a private mount namespace (root); skipped loudly without one.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: ro
defaults: {sandbox: none}
steps:
  a:
    run: sh -c 'echo a > a.txt; echo hello from a'
    outputs: [a.txt]
  b:
    run: sh -c 'cat a.txt > b.txt'
    inputs: [a.txt]
    outputs: [b.txt]
YAML
run_sluice 0 run pipeline.yaml --ci
run_sluice 0 run pipeline.yaml --ci --force
unshare -m true 2>/dev/null || skip "no private mount namespace (unshare -m needs root)"
unshare -m sh -c "mount --bind -o ro '$PWD/.sluice' '$PWD/.sluice' && ! touch '$PWD/.sluice/x' 2>/dev/null" ||
	skip "cannot make a read-only bind mount here"

cat > "$T/inside.sh" <<'EOF2'
set -eu
mount --bind -o ro "$PWD/.sluice" "$PWD/.sluice"
check() { # check EXPECTED_EXIT ARGS...
	want=$1; shift
	set +e
	"$SLUICE" "$@" >"$T/o" 2>"$T/e"
	rc=$?
	set -e
	if [ "$rc" != "$want" ]; then echo "sluice $* exited $rc, expected $want"; cat "$T/o" "$T/e"; exit 1; fi
}
check 0 status 2
grep -q "succeeded" "$T/o"
check 0 status 1 --json
check 0 runs
grep -q "^2 " "$T/o"
check 0 logs 1 a
grep -q "hello from a" "$T/o"
check 0 show 2 b
check 0 diff 1 2
check 0 doctor
grep -q "no problems found" "$T/o"
check 2 run pipeline.yaml --ci --force
grep -q "cannot be written" "$T/e"
[ "$(grep -c '^sluice:' "$T/e")" = 1 ]
check 2 rerun 1 --ci
grep -q "cannot be written" "$T/e"
EOF2
SLUICE=$SLUICE T=$T unshare -m bash "$T/inside.sh" || fail "in the read-only state directory"
# nothing was written meanwhile
run_sluice 0 runs --json
expect_eq "$(echo "$OUT" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "2" "runs"
