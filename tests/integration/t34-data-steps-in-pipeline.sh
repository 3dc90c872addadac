#!/usr/bin/env bash
# validate-data and drift as `uses:` steps of a pipeline run by the engine:
# their reports are declared outputs, their step outputs drive `when:`, and
# a failing expectation fails the step with a reason that names it.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > make_data.sh <<'SH'
mkdir -p data
{ echo "age,plan"; for i in $(seq 1 300); do echo "$((20 + i % 40)),basic"; done; } > data/ref.csv
{ echo "age,plan"; for i in $(seq 1 300); do echo "$((50 + i % 40)),pro"; done; } > data/cur.csv
SH
cat > expectations.yaml <<'YAML'
columns: {age: int, plan: string}
row_count: {min: 100}
expect:
  age: {not_null: true, between: {min: 0, max: 120}}
  plan: {in_set: [basic, pro]}
YAML
cat > pipeline.yaml <<'YAML'
name: data
params: {max_age: 120}
steps:
  make:
    run: sh make_data.sh
    inputs: [make_data.sh]
    outputs: [data/ref.csv, data/cur.csv]
  check:
    uses: validate-data
    with: {data: data/cur.csv, expectations: expectations.yaml, report: reports/check.json}
    outputs: [reports/check.json]
  drift:
    uses: drift
    with: {reference: data/ref.csv, current: data/cur.csv, report: reports/drift.json}
    outputs: [reports/drift.json]
  retrain:
    needs: [drift]
    when: ${{ steps.drift.outputs.drifted == 'true' }}
    run: echo "retraining at share ${{ steps.drift.outputs.drift_share }}" > retrain.txt
    outputs: [retrain.txt]
YAML
run_sluice 0 run pipeline.yaml --ci --json
expect_file reports/check.json
expect_file reports/drift.json
expect_contains "$(cat retrain.txt)" "retraining at share 1"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
s = {x["name"]: x for x in doc["steps"]}
assert all(x["status"] == "succeeded" for x in doc["steps"]), doc["steps"]
assert [o["path"] for o in s["drift"]["outputs"]] == ["reports/drift.json"], s["drift"]
rep = json.load(open("reports/drift.json"))
assert rep["drifted"] is True and rep["columns"]["age"]["kind"] == "numeric", rep
chk = json.load(open("reports/check.json"))
assert chk["success"] is True, chk
PY
# a failing expectation: the step fails, its reason says which
sed -i 's/in_set: \[basic, pro\]/in_set: [basic]/' expectations.yaml
run_sluice 1 run pipeline.yaml --ci --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
r = s["check"]["reason"]
assert s["check"]["status"] == "failed" and "expect_column_values_to_be_in_set" in r and "plan" in r, r
assert s["retrain"]["status"] == "cached", s["retrain"]  # its input did not change
PY
# no `report` in with: the first declared .json output is the report (as in the example of docs/pipeline-reference.md)
cat > implicit.yaml <<'YAML'
name: implicit
steps:
  validate:
    uses: validate-data
    with: {data: data/ref.csv, expectations: expectations.yaml}
    outputs: [reports/validation.json]
YAML
run_sluice 0 run implicit.yaml --ci
/usr/bin/python3 -c 'import json; assert json.load(open("reports/validation.json"))["success"] is True'
# a sluice binary below /tmp (a build tree in a CI checkout) still runs its built-in
# steps: the sandbox's fresh /tmp would hide it, so it is bound in read-only
exe_dir=$(mktemp -d /tmp/sluice-exe.XXXXXX)
cp "$SLUICE" "$exe_dir/sluice"
run_sluice 0 run implicit.yaml --ci --force
set +e
"$exe_dir/sluice" run implicit.yaml --ci --force >"$T/exe.out" 2>&1
rc=$?
set -e
rm -rf "$exe_dir"
[ $rc = 0 ] || fail "sluice from /tmp could not run a built-in step: $(cat "$T/exe.out")"
