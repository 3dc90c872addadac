#!/usr/bin/env bash
# Signals reach a sandboxed step through its pid 1: a timeout's SIGTERM is
# forwarded (the step's trap runs), SIGKILL ends the whole namespace; SIGINT
# to sluice cancels the step and leaves none of its processes; a kill -9 of
# sluice takes the sandbox with it (PDEATHSIG).  When the step's leader
# exits, pid 1 exits and the kernel kills whatever is left in the namespace.  The step's processes are
# found from the host by a marker in their command line.
set -eu
. "$TESTS_DIR/integration/lib.sh"
marker=$((900000 + $$ % 99999))
procs() { pgrep -f "^(/usr/bin/)?sleep $marker\$" || true; } # the step's sleeps, by their command line
wait_for_procs() {
	for _ in $(seq 200); do [ -n "$(procs)" ] && return 0; sleep 0.05; done
	fail "the step did not start: $(cat err.txt 2>/dev/null)"
}
wait_gone() {
	for _ in $(seq 100); do [ -z "$(procs)" ] && return 0; sleep 0.05; done
	fail "processes of the step survived: $(procs)"
}
cat > pipeline.yaml <<YAML
name: sig
steps:
  polite:
    run: trap "echo got TERM; exit 7" TERM; sleep $marker & wait
    timeout: 1s
    grace_period: 5s
  stubborn:
    run: trap "echo ignoring TERM" TERM; while :; do sleep $marker; done
    timeout: 1s
    grace_period: 1s
YAML
run_sluice 1 run pipeline.yaml --ci --json -j2
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
for n in ("polite", "stubborn"):
    assert s[n]["status"] == "failed" and s[n]["reason"] == "timeout after 1s", s[n]
PY
run_sluice 0 logs 1 polite
expect_contains "$OUT" "got TERM"
run_sluice 0 logs 1 stubborn
expect_contains "$OUT" "ignoring TERM"
wait_gone
# SIGINT: cancelled, nothing left
cat > long.yaml <<YAML
name: long
steps:
  long: {run: "sleep $marker"}
YAML
"$SLUICE" run long.yaml --ci >out.txt 2>err.txt &
pid=$!
wait_for_procs
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
expect_eq "$rc" "130" "exit code after SIGINT"
wait_gone
run_sluice 0 status 2
echo "$OUT" | grep -E '^ +long +cancelled' >/dev/null || fail "long not cancelled: $OUT"
# kill -9 of sluice: the sandbox's pid 1 dies with it, and so does the step
"$SLUICE" run long.yaml --ci >out.txt 2>err.txt &
pid=$!
wait_for_procs
kill -9 $pid
wait $pid 2>/dev/null || true
wait_gone
