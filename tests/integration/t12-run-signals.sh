#!/usr/bin/env bash
# SIGINT in the middle of a run: running steps are cancelled, their process
# trees are gone, sluice exits 130, the run is recorded as cancelled.  Also
# -j1 never overlaps two steps, and a second run of a running pipeline is
# refused (concurrency: forbid).
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: sig
steps:
  long:
    run: sh -c 'sleep 300 & echo $! > child.pid; touch started; wait'
    sandbox: none # talks to the test through the workspace (t45 covers the sandbox)
  later:
    needs: [long]
    run: touch later
YAML
"$SLUICE" run pipeline.yaml --ci >out.txt 2>err.txt &
pid=$!
for _ in $(seq 100); do [ -e started ] && break; sleep 0.1; done
[ -e started ] || fail "step did not start: $(cat err.txt)"
# a second run while the first is alive is refused
run_sluice 2 run pipeline.yaml --ci
expect_contains "$ERR" "is still running"
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
expect_eq "$rc" "130" "exit code after SIGINT"
child=$(cat child.pid)
sleep 0.2
if alive "$child"; then fail "the step's child survived SIGINT"; fi
expect_no_file later
run_sluice 0 status 1
expect_contains "$OUT" "run 1 of sig: cancelled"
echo "$OUT" | grep -E '^ +long +cancelled' >/dev/null || fail "long not cancelled: $OUT"
# -j1: steps never overlap (each holds a directory as a lock)
cat > j1.yaml <<'YAML'
name: j1
steps:
  a: {run: mkdir lock && sleep 0.2 && rmdir lock}
  b: {run: mkdir lock && sleep 0.2 && rmdir lock}
  c: {run: mkdir lock && sleep 0.2 && rmdir lock}
  d: {run: mkdir lock && sleep 0.2 && rmdir lock}
YAML
run_sluice 0 run j1.yaml --ci -j1
run_sluice 2 run j1.yaml -j0
expect_contains "$ERR" "-j takes a number"
