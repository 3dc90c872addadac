#!/usr/bin/env bash
# Failure propagation, retries with attempts, missing outputs, a timeout that
# kills a whole process tree, exit codes, --fail-fast.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: failures
steps:
  bad:
    run: echo "about to fail"; exit 3
  after_bad:
    needs: [bad]
    run: touch after_bad
  independent:
    run: sleep 0.3 && touch independent
    outputs: [independent]
  flaky:
    run: |
      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
      [ $n -ge 3 ]
    retries: {limit: 2, backoff: 100ms, factor: 1}
    sandbox: none # keeps its count in the workspace between attempts
  lazy:
    run: echo nothing
    outputs: [never.txt]
  slow:
    run: sh -c 'sleep 300 & echo $! > grandchild.pid; wait'
    timeout: 1s
    grace_period: 1s
    sandbox: none # the test reads the grandchild's host pid (t45 covers the sandbox)
YAML
run_sluice 1 run pipeline.yaml --ci --junit junit.xml --json
expect_file independent
expect_no_file after_bad
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
s = {x["name"]: x for x in doc["steps"]}
assert doc["status"] == "failed" and doc["exit_code"] == 1, doc
assert s["bad"]["status"] == "failed" and s["bad"]["reason"] == "exit 3" and s["bad"]["exit_code"] == 3, s["bad"]
assert s["after_bad"]["status"] == "upstream_failed", s["after_bad"]
assert s["independent"]["status"] == "succeeded", s["independent"]
assert s["flaky"]["status"] == "succeeded" and s["flaky"]["attempts"] == 3, s["flaky"]
assert s["lazy"]["status"] == "failed" and s["lazy"]["reason"] == "missing output never.txt", s["lazy"]
assert s["slow"]["status"] == "failed" and s["slow"]["reason"] == "timeout after 1s", s["slow"]
for k in ("run_id", "pipeline", "status", "exit_code", "started", "finished", "steps"):
    assert k in doc, k
for x in doc["steps"]:
    for k in ("name", "status", "reason", "attempts", "duration_s", "cached", "cache_key", "exit_code", "metrics", "outputs"):
        assert k in x, (k, x)
out = s["independent"]["outputs"][0]
assert out["path"] == "independent" and out["size"] == 0 and out["sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", out
PY
# the document matches the JSON Schema kept in tests/schema
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema missing"
/usr/bin/python3 -c 'import json, sys, jsonschema
jsonschema.validate(json.loads(sys.argv[1]), json.load(open(sys.argv[2])))' "$OUT" "$TESTS_DIR/schema/run.schema.json"
# the timeout killed the whole tree: the grandchild is gone
gc=$(cat grandchild.pid)
sleep 0.2
if alive "$gc"; then fail "grandchild $gc of the timed-out step survived"; fi
# JUnit is valid XML with one testcase per step
command -v xmllint >/dev/null || skip "xmllint missing (libxml2-utils)"
xmllint --noout junit.xml
expect_eq "$(grep -c '<testcase' junit.xml)" "6"
expect_eq "$(grep -c '<failure' junit.xml)" "4"
# logs of every attempt are kept
run_sluice 0 logs 1 flaky --attempt 1
run_sluice 0 logs 1 bad
expect_contains "$OUT" "about to fail"
# --fail-fast: the independent long step is cancelled
cat > ff.yaml <<'YAML'
name: ff
steps:
  bad: {run: sleep 0.2; exit 1}
  long: {run: sleep 30}
YAML
start=$(date +%s)
run_sluice 1 run ff.yaml --ci --fail-fast
[ $(( $(date +%s) - start )) -lt 20 ] || fail "--fail-fast did not stop the long step"
run_sluice 0 status 2
echo "$OUT" | grep -E '^ +long +cancelled' >/dev/null || fail "long not cancelled: $OUT"
