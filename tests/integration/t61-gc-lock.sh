#!/usr/bin/env bash
# The state directory's lock (docs/state.md): a run holds it shared for its
# whole life, gc takes it exclusive.  gc during a run refuses at once (exit 2,
# naming the run) or, with --wait, waits up to a bound; a run that starts
# while gc holds the lock waits for it; a kill -9'd run holds nothing; gc
# leaves temporary files a live writer may still be writing.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: slow
defaults: {sandbox: none}
steps:
  wait:
    run: sh -c 'echo $$ > ../step.pid; while [ ! -e ../go ]; do sleep 0.05; done; echo done > w.txt'
    outputs: [w.txt]
YAML
wait_for() { # wait_for FILE: until it exists (bounded: 20 s)
	for _ in $(seq 1 400); do [ -e "$1" ] && return 0; sleep 0.05; done
	fail "$1 never appeared"
}

# a run going: gc refuses at once, naming it; --wait gives up after its bound
"$SLUICE" run pipeline.yaml --ci >"$T/run1.log" 2>&1 &
run=$!
wait_for ../step.pid
run_sluice 2 gc
expect_contains "$ERR" "is in use by run 1 of slow (pid $run)"
expect_contains "$ERR" "nothing was removed"
run_sluice 2 gc --dry-run
expect_contains "$ERR" "run 1 of slow"
run_sluice 2 gc --wait 200ms
expect_contains "$ERR" "still in use after waiting 200ms, by run 1 of slow"
run_sluice 2 gc --wait soon
expect_contains "$ERR" "--wait soon"
# reading commands do not take the lock
run_sluice 0 status 1

# gc --wait waits for the run to end, then collects
( sleep 0.5; touch ../go ) &
run_sluice 0 gc --wait 60s
wait $run || { cat "$T/run1.log"; fail "the run failed"; }
expect_eq "$(cat w.txt)" "done" "the run's output"
rm -f ../go ../step.pid

# a run killed with -9 holds nothing: gc goes ahead
"$SLUICE" run pipeline.yaml --ci --force >"$T/run2.log" 2>&1 &
run=$!
wait_for ../step.pid
kill -9 $run
wait $run 2>/dev/null || true
kill "$(cat ../step.pid)" 2>/dev/null || true
run_sluice 0 gc
rm -f ../step.pid

# a run that starts while gc holds the lock waits for it, then runs
touch ../go
flock -x .sluice/lock sleep 1 &
holder=$!
for _ in $(seq 1 100); do grep -q FLOCK /proc/locks 2>/dev/null && break; sleep 0.02; done
run_sluice 0 run pipeline.yaml --ci --force
expect_contains "$ERR" "waiting for 'sluice gc'"
expect_contains "$ERR" "succeeded"
wait $holder

# temporary files: a young one may be a live writer's (left), an old one is a leftover
h=$(printf young | sha256sum | cut -c1-64)
mkdir -p ".sluice/cache/${h:0:2}"
young=".sluice/cache/${h:0:2}/${h:2}.tmp-abc123"
old=".sluice/cache/${h:0:2}/${h:2}.tmp-def456"
printf y > "$young"
printf o > "$old"
touch -d '2 hours ago' "$old"
run_sluice 0 gc
expect_file "$young"
expect_no_file "$old"
expect_contains "$ERR" "left 1 temporary file changed within the hour"
