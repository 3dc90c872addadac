#!/usr/bin/env bash
# resume obeys concurrency (issue 12, item 8): `sluice resume N` while a new
# run of the same pipeline is alive used to go ahead; it refuses like `run`
# (exit 2, naming the live run), and takes the run over once that one ended.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: churn
defaults: {sandbox: none}
steps:
  first:
    run: sh -c 'echo 1 > first.txt'
    outputs: [first.txt]
  hold:
    run: sh -c 'echo $$ > ../hold.pid; while [ ! -e ../go ]; do sleep 0.05; done; cat first.txt > hold.txt'
    inputs: [first.txt]
    outputs: [hold.txt]
YAML
wait_for() {
	for _ in $(seq 1 400); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "$1 never appeared"
}
status_of() { "$SLUICE" runs --json | /usr/bin/python3 -c "import json,sys; print({r['run_id']: r['status'] for r in json.load(sys.stdin)}[$1])"; }

# run 1 is killed with -9 while `hold` runs: interrupted
"$SLUICE" run pipeline.yaml --ci >"$T/run1.log" 2>&1 &
run1=$!
wait_for ../hold.pid
kill -9 $run1
wait $run1 2>/dev/null || true
kill "$(cat ../hold.pid)" 2>/dev/null || true
rm -f ../hold.pid
expect_eq "$(status_of 1)" "interrupted" "run 1"

# run 2 of the same pipeline is alive: resuming run 1 is refused, as a run is
"$SLUICE" run pipeline.yaml --ci --force >"$T/run2.log" 2>&1 &
run2=$!
wait_for ../hold.pid
run_sluice 2 resume 1 --ci
expect_contains "$ERR" "run 2 of churn is still running (pid $run2); wait for it or see 'sluice status 2'"
expect_eq "$(echo "$ERR" | grep -c sluice:)" "1" "one message"
run_sluice 2 run pipeline.yaml --ci --force
expect_contains "$ERR" "run 2 of churn is still running (pid $run2); wait for it or see 'sluice status 2'"
expect_eq "$(status_of 1)" "interrupted" "run 1 was not taken over"
alive $run2 || fail "run 2 should still be running"

# once run 2 has finished, run 1 resumes and finishes
touch ../go
wait $run2 || { cat "$T/run2.log"; fail "run 2 failed"; }
run_sluice 0 resume 1 --ci
expect_contains "$ERR" "resuming run 1 of churn"
expect_eq "$(status_of 1)" "succeeded" "run 1 after resume"
expect_eq "$(cat hold.txt)" "1" "output"
