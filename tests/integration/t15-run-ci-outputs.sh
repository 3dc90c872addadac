#!/usr/bin/env bash
# plan (order, waves, selection), the GitHub step summary, logs -f following
# a running step, --only and --from.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: ci
steps:
  a: {run: "echo a > a.txt", outputs: [a.txt]}
  b: {run: "cat a.txt > b.txt", inputs: [a.txt], outputs: [b.txt]}
  c: {run: "cat b.txt > c.txt", inputs: [b.txt], outputs: [c.txt]}
  side: {run: "true"}
YAML
run_sluice 0 plan pipeline.yaml
expect_contains "$OUT" "ci: 4 steps in 3 waves"
echo "$OUT" | grep -E '^ +3\. \[wave 3\] run +c +\(after b\)' >/dev/null || fail "plan order: $OUT"
run_sluice 0 plan pipeline.yaml --from b --json
/usr/bin/python3 -c 'import json,sys; d={x["name"]: x["action"] for x in json.loads(sys.argv[1])}; assert d=={"a":"skip","b":"run","c":"run","side":"skip"}, d' "$OUT"
run_sluice 2 plan pipeline.yaml --only nope
# a summary for GitHub Actions
export GITHUB_STEP_SUMMARY=$T/summary.md
run_sluice 0 run pipeline.yaml --ci
grep -q '^### sluice run 1 of `ci`: succeeded' summary.md || fail "no summary: $(cat summary.md)"
expect_eq "$(grep -c '^| [a-z]* | succeeded |' summary.md)" "4"
unset GITHUB_STEP_SUMMARY
# --from: only b and c run; --only: only a
rm -f b.txt c.txt
run_sluice 0 run pipeline.yaml --ci --from b
expect_file c.txt
run_sluice 0 status 2
echo "$OUT" | grep -E '^ +a +skipped .*not selected \(--from\)' >/dev/null || fail "a not skipped: $OUT"
run_sluice 2 run pipeline.yaml --only nope
expect_contains "$ERR" "--only nope: no such step"
run_sluice 0 runs --json
/usr/bin/python3 -c "import json,sys; assert len(json.loads(sys.argv[1]))==2, 'a usage error recorded a run'" "$OUT"
# logs -f follows a step while it runs and stops when it ends
cat > follow.yaml <<'YAML'
name: follow
steps:
  talk: {run: 'for i in 1 2 3; do echo line $i; sleep 0.3; done'}
YAML
"$SLUICE" run follow.yaml --ci 2>run.err &
pid=$!
for _ in $(seq 50); do [ -e .sluice/runs/3/talk/1/log ] && break; sleep 0.1; done
timeout 20 "$SLUICE" logs 3 talk -f >follow.txt || fail "logs -f failed or hung: $(cat run.err)"
wait $pid
expect_eq "$(grep -c 'line [123]$' follow.txt)" "3" "lines seen by logs -f"
# a directory output is recorded with its manifest hash and total size
umask 022
cat > dirout.yaml <<'YAML'
name: dirout
steps:
  many: {run: "mkdir -p out/sub && printf a > out/a && printf bc > out/sub/b", outputs: [out]}
YAML
run_sluice 0 run dirout.yaml --ci --json
want=$(printf 'a\t644\t%s\nsub/b\t644\t%s\n' "$(printf a | sha256sum | cut -c1-64)" "$(printf bc | sha256sum | cut -c1-64)" | sha256sum | cut -c1-64)
/usr/bin/python3 -c 'import json,sys; o=json.loads(sys.argv[1])["steps"][0]["outputs"][0]; assert o=={"path":"out","sha256":sys.argv[2],"size":3}, o' "$OUT" "$want"
