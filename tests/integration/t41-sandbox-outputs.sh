#!/usr/bin/env bash
# The overlay workspace: a step's writes land in its upper dir; declared
# outputs (and the metrics file) are moved into the workspace only when it
# succeeds; a failed or killed step leaves nothing; undeclared writes are
# dropped and listed in the log; an output the step did not write is
# `missing output X` even when an old copy sits in the workspace.
set -eu
. "$TESTS_DIR/integration/lib.sh"
echo "original" > input.txt
mkdir -p model && echo "kept" > model/old.txt && echo "doomed" > model/gone.txt
echo "stale" > stale.txt
cat > pipeline.yaml <<'YAML'
name: outs
steps:
  good:
    run: |
      mkdir -p out && echo "result" > out/result.txt
      echo '{"auc": 0.9}' > metrics.json
      echo scratch > scratch.txt
      echo "changed" > input.txt
      echo "answer=42" >> $SLUICE_OUTPUT
    outputs: [out/result.txt]
    metrics: metrics.json
  dir:
    run: echo new > model/new.txt && rm model/gone.txt
    outputs: [model]
  failing:
    run: echo partial > partial.txt; exit 4
    outputs: [partial.txt]
  killed:
    run: echo partial > killed.txt; sleep 30
    outputs: [killed.txt]
    timeout: 1s
    grace_period: 1s
  lazy:
    run: "true"
    outputs: [stale.txt]
  reader:
    needs: [good]
    run: cat out/result.txt > seen.txt && echo "${{ steps.good.outputs.answer }}" >> seen.txt
    outputs: [seen.txt]
YAML
run_sluice 1 run pipeline.yaml --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
def st(n, status, reason=None):
    assert s[n]["status"] == status, s[n]
    if reason is not None:
        assert s[n]["reason"] == reason, s[n]
st("good", "succeeded"); st("dir", "succeeded"); st("reader", "succeeded")
st("failing", "failed", "exit 4")
st("killed", "failed", "timeout after 1s")
st("lazy", "failed", "missing output stale.txt")
assert s["good"]["metrics"] == {"auc": 0.9}, s["good"]
PY
expect_eq "$(cat out/result.txt)" "result"
expect_eq "$(cat metrics.json)" '{"auc": 0.9}'
expect_eq "$(cat seen.txt)" "result
42"
expect_eq "$(cat input.txt)" "original" "an input the step overwrote"
expect_no_file scratch.txt
expect_no_file partial.txt
expect_no_file killed.txt
expect_eq "$(cat stale.txt)" "stale" "the old copy of a missing output"
# a directory output merges: new files, deletions, untouched files kept
expect_eq "$(cat model/new.txt)" "new"
expect_eq "$(cat model/old.txt)" "kept"
expect_no_file model/gone.txt
run_sluice 0 logs 1 good
expect_contains "$OUT" "sandbox: 2 undeclared writes dropped: input.txt, scratch.txt"
run_sluice 0 logs 1 failing
expect_contains "$OUT" "its outputs are not moved to the workspace"
# no file is left in the upper dirs: promoted, or dropped with the attempt
left=$(find .sluice/runs/1 -path '*/upper/*' ! -type d | head -5)
expect_eq "$left" "" "files left in upper dirs"
