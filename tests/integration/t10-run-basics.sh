#!/usr/bin/env bash
# sluice run end to end with real processes: file edges, outputs, logs, runs,
# status, step outputs and metrics in expressions, `when`, the scrubbed env.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat > pipeline.yaml <<'YAML'
name: basics
params: {greeting: hello, n: 3}
env: {PYTHONHASHSEED: "0", GREETING: "${{ params.greeting }}"}
steps:
  make:
    run: mkdir -p data && seq ${{ params.n }} > data/nums.txt && echo "count=${{ params.n }}" >> $SLUICE_OUTPUT
    outputs: [data/nums.txt]
  sum:
    run: |
      awk '{s+=$1} END {print "{\"total\": " s ", \"nested\": {\"x\": 1.5}}"}' data/nums.txt > total.json
      echo "$GREETING from $SLUICE_STEP attempt $SLUICE_ATTEMPT"
    inputs: [data/nums.txt]
    outputs: [total.json]
    metrics: total.json
  big:
    needs: [sum]
    when: ${{ steps.sum.metrics.total > 5 && steps.make.outputs.count == 3 }}
    run: echo "big ${{ steps.sum.metrics.nested.x }}" > big.txt
    outputs: [big.txt]
  small:
    needs: [sum]
    when: ${{ steps.sum.metrics.total <= 5 }}
    run: touch small.txt
    outputs: [small.txt]
  env:
    run: env > env.txt
    outputs: [env.txt]
YAML
export LEAK_ME=secret-value
run_sluice 0 run pipeline.yaml --ci
expect_contains "$ERR" "run 1 of basics"
expect_contains "$ERR" "run 1 succeeded"
expect_eq "$(cat big.txt)" "big 1.5"
expect_no_file small.txt
expect_eq "$(wc -l < data/nums.txt | tr -d ' ')" "3"
# the environment is scrubbed
grep -q '^PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin$' env.txt || fail "PATH not scrubbed: $(cat env.txt)"
grep -q '^SLUICE_RUN_ID=1$' env.txt || fail "no SLUICE_RUN_ID"
grep -q '^LANG=C.UTF-8$' env.txt || fail "no LANG"
grep -q '^PYTHONUNBUFFERED=1$' env.txt || fail "no PYTHONUNBUFFERED=1: $(cat env.txt)"
grep -q '^GREETING=hello$' env.txt || fail "pipeline env not rendered"
# the sandbox: HOME and TMPDIR on a fresh tmpfs, params and outputs at fixed paths (docs/sandbox.md)
grep -q '^HOME=/tmp/home$' env.txt || fail "HOME not private: $(grep HOME env.txt)"
grep -q '^SLUICE_PARAMS=/tmp/.sluice/params.json$' env.txt || fail "SLUICE_PARAMS: $(grep PARAMS env.txt)"
grep -q LEAK_ME env.txt && fail "sluice's own environment leaked into the step"
params=.sluice/runs/1/params.json
/usr/bin/python3 -c "import json,sys; d=json.load(open('$params')); assert d=={'greeting':'hello','n':3}, d"
# status, runs, logs
run_sluice 0 status 1
expect_contains "$OUT" "run 1 of basics: succeeded"
expect_contains "$OUT" "small"
echo "$OUT" | grep -E '^ +small +skipped' >/dev/null || fail "small not skipped: $OUT"
run_sluice 0 runs
expect_contains "$OUT" "basics"
run_sluice 0 logs 1 sum
echo "$OUT" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z hello from sum attempt 1$' || fail "log line not stamped: $OUT"
run_sluice 2 logs 1 nosuchstep
expect_contains "$ERR" "no attempt of a step 'nosuchstep'"
run_sluice 2 status 99
run_sluice 2 status abc
expect_contains "$ERR" "'abc' is not a run id"
# -p overrides reach the step; the second run is run 2
run_sluice 0 run pipeline.yaml --ci -p n=2
expect_file small.txt
run_sluice 2 run pipeline.yaml -p n=lots
expect_contains "$ERR" "param 'n' is a number"
run_sluice 0 runs --json
/usr/bin/python3 -c "import json,sys; r=json.loads(sys.argv[1]); assert [x['run_id'] for x in r]==[2,1], r" "$OUT"
# diff: params, statuses, metrics side by side
run_sluice 0 diff 1 2
echo "$OUT" | grep -E '^\* n +3 +2 *$' >/dev/null || fail "diff does not show n 3 -> 2: $OUT"
echo "$OUT" | grep -E '^\* sum.total +6 +3 +\(-3\)' >/dev/null || fail "diff does not show total 6 -> 3: $OUT"
echo "$OUT" | grep -E '^\* small +skipped +succeeded' >/dev/null || fail "diff does not show small: $OUT"
run_sluice 2 diff 1 99
expect_contains "$ERR" "no run 99"
# show: command, attempts, outputs with hashes, metrics
run_sluice 0 show 1 sum
expect_contains "$OUT" "run 1 step sum: succeeded"
want=$(cd "$T" && printf '{"total": 6, "nested": {"x": 1.5}}\n' | sha256sum | cut -c1-64)
expect_contains "$OUT" "output     total.json  sha256 $want"
expect_contains "$OUT" "metric     nested.x = 1.5"
run_sluice 0 show 1 make --json
/usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); assert d['step_outputs']=={'count':'3'} and d['attempts'][0]['exit_code']==0, d" "$OUT"
run_sluice 2 show 1 nope
expect_contains "$ERR" "run 1 has no step 'nope'"
# reading commands never create a state directory
run_sluice 2 runs --state "$T/nowhere"
expect_contains "$ERR" "no sluice state at $T/nowhere"
expect_no_file "$T/nowhere"
run_sluice 2 status 1 --state "$T/nowhere"
