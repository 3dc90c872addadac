#!/usr/bin/env bash
# Expressions as in GitHub Actions (docs/pipeline-reference.md, "Expressions"):
# `||` as a default, loose and case-insensitive comparisons, left-to-right
# comparisons, number literals, case-insensitive contexts, the functions;
# `when: ${{ failure() }}` and `${{ always() }}` after an upstream failure;
# status functions outside `when:` and unknown functions are FILE:LINE:COL
# errors; a metrics file with NaN and Infinity (Python's json.dump) is read,
# shown as NaN and compares false.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: gh
params:
  tag: ""
  models: '["rf", "xgb"]'
steps:
  values:
    env:
      TAG: "${{ params.tag || 'latest' }}"
      LINE: "${{ format('{0}-{1} {{x}}', Params.tag || 'none', 0xff + .5) }}"
      HAS: "${{ contains(fromJSON(params.models), 'XGB') }}"
      CMP: "${{ 3 < 2 < 1 }} ${{ 2 <= 3 == true }} ${{ 'ABC' == 'abc' }} ${{ '' == 0 }} ${{ null == false }} ${{ NaN == NaN }}"
      JOINED: "${{ join(fromJSON(params.models), '+') }}"
    run: printf '%s\n' "$TAG" "$LINE" "$HAS" "$CMP" "$JOINED" > values.txt
    outputs: [values.txt]
  bad:
    run: exit 3
  after_bad:
    needs: [bad]
    run: touch after_bad.txt
    outputs: [after_bad.txt]
  cleanup:
    needs: [after_bad]
    when: ${{ failure() }}
    run: touch cleanup.txt
    outputs: [cleanup.txt]
  notify:
    needs: [bad]
    when: ${{ always() }}
    run: touch notify.txt
    outputs: [notify.txt]
  ok_only:
    needs: [values]
    when: ${{ failure() }}
    run: touch ok_only.txt
  metrics:
    run: |
      python3 -c 'import json; json.dump({"auc": float("nan"), "loss": float("inf"), "n": 2}, open("m.json", "w"))'
    metrics: m.json
  gated:
    needs: [metrics]
    when: ${{ steps.metrics.metrics.auc > 0.5 || steps.metrics.metrics.auc <= 0.5 }}
    run: touch gated.txt
YAML
command -v python3 >/dev/null || skip "python3 missing"
run_sluice 1 run pipeline.yaml --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
s = {x["name"]: x for x in doc["steps"]}
want = {"values": "succeeded", "bad": "failed", "after_bad": "upstream_failed",
        "cleanup": "succeeded", "notify": "succeeded", "ok_only": "skipped",
        "metrics": "succeeded", "gated": "skipped"}
for k, v in want.items():
    assert s[k]["status"] == v, (k, s[k])
assert doc["status"] == "failed", doc["status"]
PY
expect_eq "$(cat values.txt)" "latest
none-255.5 {x}
true
true true true true true false
rf+xgb" "values.txt"
expect_file cleanup.txt
expect_file notify.txt
expect_no_file after_bad.txt
expect_no_file ok_only.txt
# NaN is stored, shown as NaN, and compares false either way (gated was skipped)
run_sluice 0 show 1 metrics
expect_contains "$OUT" "metric     auc = NaN"
expect_contains "$OUT" "metric     loss = Infinity"
expect_contains "$OUT" "metric     n = 2"
# JSON has no NaN: --json says it as a string, and keeps the metric
run_sluice 0 show 1 metrics --json
expect_contains "$OUT" '"auc": "NaN"'
expect_contains "$OUT" '"loss": "Infinity"'

# load-time errors: FILE:LINE:COL, exit 2
cat > bad.yaml <<'YAML'
name: bad
steps:
  a:
    run: echo ${{ failure() }}
  b:
    run: echo ${{ hashFiles('x') }}
  c:
    run: echo ${{ contains('a') }}
YAML
run_sluice 2 validate bad.yaml
expect_contains "$ERR" "bad.yaml:4:19: success(), failure(), always() and cancelled() can only be used in when:"
expect_contains "$ERR" "bad.yaml:6:19: unknown function 'hashFiles'"
expect_contains "$ERR" "bad.yaml:8:19: contains() takes 2 arguments, got 1"
