#!/usr/bin/env bash
# kill -9 of the orchestrator mid-run: the database stays consistent, the run
# shows as interrupted, and it does not block the next run.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: killed
steps:
  first: {run: "touch first.done", outputs: [first.done]}
  long: {run: "echo $$ > long.pid; touch started; exec sleep 30", needs: [first], sandbox: none}
YAML
"$SLUICE" run pipeline.yaml --ci 2>err.txt &
pid=$!
for _ in $(seq 100); do [ -e started ] && break; sleep 0.1; done
[ -e started ] || fail "step did not start: $(cat err.txt)"
kill -9 $pid
wait $pid 2>/dev/null || true
kill "$(cat long.pid)" 2>/dev/null || true # the orphaned step; resume (#4) will do this
run_sluice 0 runs
echo "$OUT" | grep -E '^1 +killed +interrupted' >/dev/null || fail "run 1 not interrupted: $OUT"
run_sluice 0 status 1
echo "$OUT" | grep -E '^ +first +succeeded' >/dev/null || fail "first lost: $OUT"
[ "$(sqlite3 .sluice/state.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check failed"
sed -i 's/exec sleep 30/true/' pipeline.yaml
run_sluice 0 run pipeline.yaml --ci
