#!/usr/bin/env bash
# Strict mode for untrusted pipelines (issue 11, item 8), as root and as an
# unprivileged user.  The attack: a pipeline file that opts its own steps out
# of the sandbox (`sandbox: none` reads a host file the sandbox hides,
# `read:` mounts a host directory, `network: true`, a registry built-in that
# runs outside) gets what it wants in the default mode.  With `--sandbox
# strict` or SLUICE_SANDBOX=strict, run, rerun, resume and plan refuse it
# before anything runs (exit 2), naming each setting at FILE:LINE:COL;
# nothing is recorded, nothing is written, an interrupted run stays
# interrupted; the no-op fast path does not let an unchanged file through.
set -eu
. "$TESTS_DIR/integration/lib.sh"
secret=$(mktemp -d /var/tmp/sluice-t91.XXXXXX)
trap 'rm -rf "$secret"; unpriv_cleanup' EXIT
echo "host secret" > "$secret/key.txt"
chmod 755 "$secret"
chmod 644 "$secret/key.txt"

cgroups() { find /sys/fs/cgroup -maxdepth 5 -name "sluice-*" -type d 2>/dev/null | sort; }
cgroups_before=$(cgroups)
mkdir ws && cd ws
cat > untrusted.yaml <<YAML
name: untrusted
steps:
  build:
    run: echo built > build.txt
    outputs: [build.txt]
  leak:
    needs: [build]
    run: cat $secret/key.txt > leak.txt
    outputs: [leak.txt]
    sandbox: none
  peek:
    run: cat $secret/key.txt > peek.txt
    outputs: [peek.txt]
    sandbox:
      read: [$secret]
  phone:
    run: "true"
    sandbox: {network: true}
YAML
cat > clean.yaml <<'YAML'
name: clean
steps:
  hello:
    run: echo hello > hello.txt
    outputs: [hello.txt]
YAML
refusals="untrusted.yaml:10:14: step leak: sandbox: none is refused by --sandbox strict
untrusted.yaml:15:14: step peek: sandbox: {read: [$secret]} is refused by --sandbox strict (a host path beyond the sandbox's allow list)
untrusted.yaml:18:24: step phone: sandbox: {network: true} is refused by --sandbox strict (the step would share the host's network)
untrusted.yaml: 3 settings refused by --sandbox strict; nothing ran"

# strict first, in a fresh workspace: nothing runs, nothing is recorded
run_sluice 2 run untrusted.yaml --sandbox strict --ci
expect_eq "$ERR" "$refusals" "the refusals"
expect_no_file .sluice
expect_no_file build.txt
expect_no_file leak.txt
SLUICE_SANDBOX=strict run_sluice 2 run untrusted.yaml --ci
expect_eq "$ERR" "$refusals" "the refusals with SLUICE_SANDBOX=strict"
expect_no_file .sluice
run_sluice 2 plan untrusted.yaml --sandbox strict
expect_eq "$ERR" "$refusals" "plan's refusals"
expect_eq "$OUT" "" "plan's output when refused"
SLUICE_SANDBOX=strict run_sluice 2 plan untrusted.yaml
expect_eq "$ERR" "$refusals" "plan's refusals with SLUICE_SANDBOX=strict"
# bad values say what is accepted
run_sluice 2 run untrusted.yaml --sandbox loose
expect_eq "$ERR" "sluice: --sandbox loose: unknown sandbox mode (accepted: default, strict)" "a bad --sandbox"
SLUICE_SANDBOX=yes run_sluice 2 run untrusted.yaml
expect_eq "$ERR" "sluice: SLUICE_SANDBOX=yes: unknown sandbox mode (accepted: default, strict)" "a bad SLUICE_SANDBOX"
run_sluice 2 plan untrusted.yaml --sandbox loose
expect_no_file .sluice

# a clean pipeline runs in strict mode as usual
run_sluice 0 run clean.yaml --sandbox strict --ci
expect_eq "$(cat hello.txt)" "hello" "the clean pipeline's output"
SLUICE_SANDBOX=strict run_sluice 0 plan clean.yaml

# the attack, in the default mode: the file's own settings open the sandbox
run_sluice 0 run untrusted.yaml --ci
expect_eq "$(cat leak.txt)" "host secret" "what sandbox: none read"
expect_eq "$(cat peek.txt)" "host secret" "what read: showed"
# --sandbox default wins over the environment
SLUICE_SANDBOX=strict run_sluice 0 run untrusted.yaml --sandbox default --ci
rm -f leak.txt peek.txt
runs=$("$SLUICE" runs --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

# an unchanged file whose steps are all cached is still refused (the no-op
# path would record a run without reading the file)
cat > nothing.yaml <<'YAML'
name: nothing
steps:
  quiet:
    run: echo quiet > quiet.txt
    outputs: [quiet.txt]
    sandbox: none
YAML
run_sluice 0 run nothing.yaml --ci
run_sluice 0 run nothing.yaml --ci
expect_contains "$ERR" "nothing to do"
runs=$((runs + 2))
run_sluice 2 run nothing.yaml --sandbox strict --ci
expect_eq "$ERR" "nothing.yaml:6:14: step quiet: sandbox: none is refused by --sandbox strict
nothing.yaml: 1 setting refused by --sandbox strict; nothing ran" "the no-op path in strict mode"

# rerun: the snapshot of a recorded run is checked, and no run is recorded
run_sluice 2 rerun 2 --sandbox strict --ci
expect_contains "$ERR" "untrusted.yaml:10:14: step leak: sandbox: none is refused by --sandbox strict"
expect_contains "$ERR" "untrusted.yaml: 3 settings refused by --sandbox strict; nothing ran"
SLUICE_SANDBOX=strict run_sluice 2 rerun 2 --current --ci
expect_contains "$ERR" "3 settings refused by --sandbox strict"
n=$("$SLUICE" runs --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_eq "$n" "$runs" "runs recorded after the refused reruns"

# resume: an interrupted run of the untrusted file stays interrupted
cat > slow.yaml <<YAML
name: slow
steps:
  wait:
    run: echo started; [ -e go ] || sleep 60
  leak:
    needs: [wait]
    run: cat $secret/key.txt > leak.txt
    outputs: [leak.txt]
    sandbox: none
YAML
"$SLUICE" run slow.yaml --ci >/dev/null 2>&1 &
pid=$!
started() { grep -qs started .sluice/runs/*/wait/1/log; }
for _ in $(seq 200); do started && break; sleep 0.05; done
started || fail "the slow step did not start"
kill -9 $pid
wait $pid 2>/dev/null || true
id=$("$SLUICE" runs --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')
run_sluice 0 status "$id" --json
expect_contains "$OUT" '"status": "interrupted"'
run_sluice 2 resume "$id" --sandbox strict --ci
expect_eq "$ERR" "slow.yaml:9:14: step leak: sandbox: none is refused by --sandbox strict
slow.yaml: 1 setting refused by --sandbox strict; nothing ran" "resume's refusal"
run_sluice 0 status "$id" --json
expect_contains "$OUT" '"status": "interrupted"'
expect_no_file leak.txt
# a resume in the default mode finishes it
touch go
run_sluice 0 resume "$id" --ci
rm -f leak.txt
# the killed sluice's step cgroup is gone too: the next sluice that starts
# sandboxed steps removes the empty ones of orchestrators that are gone
left=$(comm -13 <(echo "$cgroups_before") <(cgroups) | grep -E "/sluice-($pid|$$)-" || true)
expect_eq "$left" "" "sluice cgroups left by this test's runs"

# the same as an unprivileged user, in a workspace of its own
cd "$T"
unpriv_user
cp ws/untrusted.yaml "$BOX/ws/"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
set +e
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run untrusted.yaml --sandbox strict \
	--ci > "$T/u.out" 2> "$T/u.err"
rc=$?
set -e
expect_eq "$rc" 2 "as $U: the exit of a strict run"
expect_eq "$(cat "$T/u.err")" "$refusals" "as $U: the refusals"
expect_no_file "$BOX/ws/.sluice"
set +e
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run untrusted.yaml --ci \
	> "$T/u.out" 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "as $U: the exit of a default run"
expect_eq "$(cat "$BOX/ws/leak.txt")" "host secret" "as $U: what sandbox: none read"
