#!/usr/bin/env bash
# continue_on_error: true (GitHub's continue-on-error): a step's failure is
# recorded and shown, its dependents still run, and the run succeeds with
# the failure listed; failure() downstream is false for it, as in GitHub.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: sweep
defaults: {sandbox: none}
steps:
  flaky:
    run: sh -c 'echo trying; exit 3'
    continue_on_error: true
  pick:
    needs: [flaky]
    run: touch picked.txt
    outputs: [picked.txt]
  cleanup:
    needs: [flaky]
    when: ${{ failure() }}
    run: touch cleaned.txt
YAML
run_sluice 0 run pipeline.yaml --ci --json
expect_contains "$ERR" "flaky failed: exit 3"
expect_contains "$ERR" "1 failed, allowed by continue_on_error"
expect_contains "$ERR" "run 1 succeeded"
expect_file picked.txt
expect_no_file cleaned.txt
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
s = {x["name"]: x["status"] for x in d["steps"]}
assert d["status"] == "succeeded", d["status"]
assert s == {"flaky": "failed", "pick": "succeeded", "cleanup": "skipped"}, s
PY
# without it the same failure fails the run and its dependents
sed -i '/continue_on_error/d' pipeline.yaml
rm -f picked.txt
run_sluice 1 run pipeline.yaml --ci
expect_contains "$ERR" "pick upstream_failed"
expect_file cleaned.txt
# a bad value is a pipeline error
printf 'name: x\nsteps:\n  a: {run: echo, continue_on_error: maybe}\n' > bad.yaml
run_sluice 2 validate bad.yaml
expect_contains "$ERR" "bad.yaml:3:37: continue_on_error"
