#!/usr/bin/env bash
# Every process of a step ends with it (issue 12, item 6), also with
# `sandbox: none`: a `setsid` child (a session of its own, out of the step's
# process group) is killed at a timeout, at Ctrl-C, and when the step exits 0
# leaving it; under each way of tracking (cgroup2, freezer, descent: the
# first that works is the default) and in the sandbox.  A kill -9 of sluice
# leaves a plain step's processes to `resume` (docs/running.md); the next
# sluice removes the dead one's cgroup.  The step's processes are found by a
# unique argument of sleep; no cgroup of sluice's is left behind.
set -eu
. "$TESTS_DIR/integration/lib.sh"
base=$((300 + $$ % 97))
M1=$base.101 M2=$base.102 M3=$base.103 M4=$base.104 M5=$base.105 M6=$base.106 M7=$base.107
procs() { pgrep -f "^sleep $base\.1" || true; }
wait_gone() {
	for _ in $(seq 100); do [ -z "$(procs)" ] && return 0; sleep 0.05; done
	fail "$1: processes of the step survived: $(pgrep -af "^sleep $base\.1")"
}
cgroups() { find /sys/fs/cgroup -maxdepth 5 -name "sluice-*" -type d 2>/dev/null | sort; }
before=$(cgroups)
cat > p.yaml <<YAML
name: setsid
steps:
  timed:
    run: setsid sleep $M1 & sleep $M2
    timeout: 1s
    sandbox: none
  clean:
    run: setsid sleep $M3 & echo started
    sandbox: none
YAML
cat > long.yaml <<YAML
name: long
steps:
  long:
    run: setsid sleep $M4 & touch started; sleep $M5
    sandbox: none
YAML
for track in cgroup2 freezer descent; do
	export SLUICE_PROC_TRACK=$track
	rm -rf .sluice started
	run_sluice 1 run p.yaml --ci --json
	/usr/bin/python3 -c '
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
assert s["timed"]["status"] == "failed" and s["timed"]["reason"] == "timeout after 1s", s
assert s["clean"]["status"] == "succeeded", s' "$OUT"
	wait_gone "timeout and exit 0 ($track)"
	"$SLUICE" run long.yaml --ci >out.txt 2>err.txt &
	pid=$!
	for _ in $(seq 200); do [ -e started ] && break; sleep 0.05; done
	[ -e started ] || fail "step did not start: $(cat err.txt)"
	kill -INT $pid
	set +e; wait $pid; rc=$?; set -e
	expect_eq "$rc" "130" "exit code after SIGINT ($track)"
	wait_gone "Ctrl-C ($track)"
	case $track in descent) expect_contains "$(cat err.txt)" "tracked by descent" ;; esac
done
unset SLUICE_PROC_TRACK
# the sandbox: the pid namespace holds them all
cat > boxed.yaml <<YAML
name: boxed
steps:
  timed:
    run: setsid sleep $M6 & sleep $M7
    timeout: 1s
YAML
rm -rf .sluice
run_sluice 1 run boxed.yaml --ci
wait_gone "sandboxed timeout"
# kill -9 of sluice: the plain step's processes outlive it until `resume`
# kills them (the recorded process group, the SLUICE_RUN_ID scan)
rm -rf .sluice started
cat > killed.yaml <<YAML
name: killed
steps:
  long:
    run: test -e resumed && exit 0; setsid sleep $M4 & touch started; sleep $M5
    sandbox: none
YAML
"$SLUICE" run killed.yaml --ci >out.txt 2>err.txt &
pid=$!
for _ in $(seq 200); do [ -e started ] && break; sleep 0.05; done
[ -e started ] || fail "step did not start: $(cat err.txt)"
kill -9 $pid
wait $pid 2>/dev/null || true
touch resumed
run_sluice 0 resume 1 --ci
wait_gone "resume after kill -9"
# no cgroup of ours is left: not the steps', not the dead sluice's
left=$(comm -13 <(echo "$before") <(cgroups))
expect_eq "$left" "" "sluice cgroups left after the runs"
