#!/usr/bin/env bash
# A full disk (issue 12, item 10): a run whose state directory filled up
# used to stay behind as an empty "interrupted" run and to warn 179 times.
# Now the store's reserve lets it record how it ended (failed), the same
# warning is said once, and a run that could record nothing is discarded.
# The small file system is a tmpfs in a private mount namespace (root);
# skipped loudly where that cannot be made.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

unshare -m true 2>/dev/null || skip "no private mount namespace (unshare -m needs root)"
mkdir -p ws small && cd ws
unshare -m sh -c "mount -t tmpfs -o size=2m tmpfs '$T/small'" || skip "cannot mount a tmpfs here"
{
	echo "name: fill"
	echo "defaults: {sandbox: none}"
	echo "steps:"
	for i in $(seq 1 20); do
		echo "  s$i:"
		echo "    run: sh -c 'seq 1 3000; head -c 60000 /dev/urandom > o$i.bin'"
		echo "    outputs: [o$i.bin]"
	done
} > fill.yaml
{
	echo "name: wide"
	echo "defaults: {sandbox: none}"
	echo "steps:"
	for i in $(seq 1 300); do echo "  w$i: {run: 'true'}"; done
} > wide.yaml
cat > tiny.yaml <<'YAML'
name: tiny
defaults: {sandbox: none}
steps:
  t: {run: 'true'}
YAML

cat > "$T/inside.sh" <<'EOF2'
set -u
mount -t tmpfs -o size=2m tmpfs "$T/small"
S="$T/small/state"
"$SLUICE" run tiny.yaml --ci --state "$S" >/dev/null 2>&1 || { echo "the first run failed"; exit 1; }
[ -e "$S/reserve" ] || { echo "no reserve in $S"; exit 1; }
# 1. steps fill the disk while they run
"$SLUICE" run fill.yaml --ci -j 2 --state "$S" >"$T/fill.out" 2>&1
echo "fill exited $?"
"$SLUICE" runs --json --state "$S" >"$T/runs1.json" 2>&1 || { cat "$T/runs1.json"; exit 1; }
# 2. the disk is full before a wide run starts
rm -rf "$S/runs/2" "$S/cache"/*
"$SLUICE" run tiny.yaml --ci --force --state "$S" >/dev/null 2>&1 # the reserve again
avail=$(df -k "$T/small" | awk 'NR == 2 {print $4}')
dd if=/dev/zero of="$T/small/filler" bs=1k count=$((avail - 64)) 2>/dev/null
"$SLUICE" run wide.yaml --ci --state "$S" >"$T/wide.out" 2>&1
echo "wide exited $?"
rm -f "$T/small/filler"
"$SLUICE" runs --json --state "$S" >"$T/runs2.json" 2>&1 || { cat "$T/runs2.json"; exit 1; }
"$SLUICE" run tiny.yaml --ci --force --state "$S" >/dev/null 2>&1 || { echo "no run after space came back"; exit 1; }
EOF2
SLUICE=$SLUICE T=$T unshare -m bash "$T/inside.sh" >"$T/inside.log" 2>&1 || { cat "$T/inside.log"; fail "inside the namespace"; }
cat "$T/inside.log"
fill=$(cat "$T/fill.out")
expect_contains "$fill" "is full"
# each problem is said once: the store's full disk, and the logs it cut short
# (no warning at all is fine: the disk may fill where a step's reason says so)
repeated=$({ grep "warning:" "$T/fill.out" || true; } | sort | uniq -d)
[ -z "$repeated" ] || fail "warned more than once: $repeated"
warnings=$(grep -c "warning:" "$T/fill.out" || true)
[ "$warnings" -le 2 ] || fail "warned $warnings times: $fill"
expect_contains "$(cat "$T/inside.log")" "fill exited 1"
/usr/bin/python3 - "$T/runs1.json" "$T/runs2.json" <<'PY'
import json, sys
for f in sys.argv[1:]:
    runs = json.load(open(f))
    st = {r["pipeline"]: r["status"] for r in runs}
    assert "interrupted" not in st.values() and all(r["status"] != "running" for r in runs), runs
    assert st.get("fill") == "failed", runs
# the wide run could record nothing: it left no run behind, or one that says how it ended
runs = json.load(open(sys.argv[2]))
assert all(r["status"] in ("succeeded", "failed") for r in runs), runs
PY
wide=$(cat "$T/wide.out")
[ -z "$({ grep "warning:" "$T/wide.out" || true; } | sort | uniq -d)" ] || fail "wide run warned more than once: $wide"
[ "$(grep -c "warning:" "$T/wide.out" || true)" -le 2 ] || fail "wide run warned too often: $wide"
