#!/usr/bin/env bash
# rerun and resume (docs/caching.md): a user fixes a failed step and `rerun`
# runs exactly that step and what depends on it; --step forces one; --current
# takes the file as it is now; after kill -9 of sluice, `resume` kills what the
# dead run left behind and finishes it with nothing run twice; Ctrl-C too.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: fixme
params: {n: 3}
# the steps count their runs in ../ran.log, outside the workspace: unsandboxed
defaults: {sandbox: none}
steps:
  a:
    run: sh -c 'echo a${{ params.n }} > a.txt; echo a >> ../ran.log'
    outputs: [a.txt]
  b:
    run: sh b.sh
    inputs: [a.txt, b.sh]
    outputs: [b.txt]
  c:
    run: sh -c 'cat b.txt > c.txt; echo c >> ../ran.log'
    inputs: [b.txt]
    outputs: [c.txt]
  side:
    run: sh -c 'echo side > side.txt; echo side >> ../ran.log'
    outputs: [side.txt]
YAML
echo 'exit 3' > b.sh
run_sluice 1 run pipeline.yaml --ci -p n=5
expect_file .sluice/runs/1/pipeline.yaml
expect_eq "$(cat .sluice/runs/1/pipeline.yaml)" "$(cat pipeline.yaml)" "snapshot"
expect_eq "$(sort ../ran.log | tr '\n' ' ')" "a side " "first run"

# the fix: rerun runs b and c only, with run 1's params, and records its parent
echo 'cp a.txt b.txt; echo b >> ../ran.log' > b.sh
: > ../ran.log
run_sluice 0 rerun 1 --ci --json
expect_eq "$(sort ../ran.log | tr '\n' ' ')" "b c " "rerun ran exactly the fixed step and its downstream"
expect_contains "$(cat c.txt)" "a5"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
s = {x["name"]: x["status"] for x in d["steps"]}
assert s == {"a": "cached", "b": "succeeded", "c": "succeeded", "side": "cached"}, s
PY
run_sluice 0 runs --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
runs = {r["run_id"]: r for r in json.loads(sys.argv[1])}
assert runs[2]["trigger"] == "rerun" and runs[2]["parent_id"] == 1, runs[2]
PY
run_sluice 0 show 2 a
expect_contains "$OUT" "cached from run 1"

# --step forces a step and its downstream, even when nothing changed
: > ../ran.log
run_sluice 0 rerun 2 --step b --ci
expect_eq "$(sort ../ran.log | tr '\n' ' ')" "b c " "--step b"
expect_contains "$(cat .sluice/runs/3/b/1/log)" "forced (--step b)"

# --current: the file as it is now (a command changed), still run 1's params
sed -i 's/echo side > side.txt/echo SIDE > side.txt/' pipeline.yaml
: > ../ran.log
run_sluice 0 rerun 3 --current --ci
expect_eq "$(sort ../ran.log | tr '\n' ' ')" "side " "--current"
expect_eq "$(cat side.txt)" "SIDE" "side output"
expect_contains "$(cat a.txt)" "a5"

# bad input: exit 2 with a clear message
run_sluice 2 rerun 99
expect_contains "$ERR" "no run 99"
run_sluice 2 rerun 1 --step nope
expect_contains "$ERR" "--step nope"
run_sluice 2 resume 1
expect_contains "$ERR" "only an interrupted or cancelled run can be resumed"
run_sluice 2 resume abc
expect_contains "$ERR" "abc"
run_sluice 2 rerun 1 -j 0
expect_contains "$ERR" "-j takes a number of parallel steps"
run_sluice 0 runs --json
expect_not_contains "$OUT" '"run_id": 5' # a usage error records no run
mkdir -p "$T/empty"
(cd "$T/empty" && run_sluice 2 gc && expect_contains "$ERR" "no sluice state") || exit 1
(cd "$T/empty" && run_sluice 2 rerun 1 && expect_contains "$ERR" "no sluice state") || exit 1

# kill -9 of sluice in the middle: interrupted; resume kills the leftover, finishes
cat > slow.yaml <<'YAML'
name: slow
defaults: {sandbox: none} # the test finds the step's process by its host pid
steps:
  first:
    run: sh -c 'echo 1 > first.txt; echo first >> ../slow.log'
    outputs: [first.txt]
  sleepy:
    run: sh -c 'echo sleepy-$$ >> ../slow.log; if [ -e ../fast ]; then sleep 0.1; else sleep 30; fi; cat first.txt > sleepy.txt'
    inputs: [first.txt]
    outputs: [sleepy.txt]
  after:
    run: sh -c 'cat sleepy.txt > after.txt; echo after >> ../slow.log'
    inputs: [sleepy.txt]
    outputs: [after.txt]
YAML
: > ../slow.log
"$SLUICE" run slow.yaml --ci >/dev/null 2>"$T/run.err" &
pid=$!
for _ in $(seq 100); do grep -q sleepy- ../slow.log && break; sleep 0.1; done
grep -q sleepy- ../slow.log || fail "sleepy never started: $(cat "$T/run.err")"
kill -9 "$pid"
wait "$pid" || true
leftover=$(sed -n 's/^sleepy-//p' ../slow.log)
alive "$leftover" || fail "the step should still be running after sluice died"
id=$(sed -n 's/^sluice: run \([0-9]*\) of slow.*/\1/p' "$T/run.err")
run_sluice 0 runs
expect_contains "$OUT" "interrupted"
run_sluice 0 status "$id"
expect_contains "$OUT" "interrupted"
rm first.txt # lost from the workspace: resume restores it from the cache
touch ../fast
run_sluice 0 resume "$id" --ci
expect_contains "$ERR" "killed sleepy's leftover process group"
expect_contains "$ERR" "restored first.txt"
expect_contains "$ERR" "sleepy started (attempt 2)"
alive "$leftover" && fail "the leftover step process $leftover is still alive"
expect_eq "$(grep -c '^first$' ../slow.log)" 1 "first ran once"
expect_eq "$(cat after.txt)" 1 "after.txt"
run_sluice 0 status "$id" --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "succeeded", d
assert {x["name"]: x["status"] for x in d["steps"]} == {
    "first": "succeeded", "sleepy": "succeeded", "after": "succeeded"}, d["steps"]
PY
expect_eq "$(sqlite3 .sluice/state.db 'PRAGMA integrity_check')" ok "integrity"

# Ctrl-C: the run is cancelled, and resumable
: > ../slow.log
rm ../fast
"$SLUICE" run slow.yaml --ci --force >/dev/null 2>"$T/run.err" &
pid=$!
for _ in $(seq 100); do grep -q sleepy- ../slow.log && break; sleep 0.1; done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
expect_eq "$rc" 130 "exit after SIGINT"
id=$(sed -n 's/^sluice: run \([0-9]*\) of slow.*/\1/p' "$T/run.err")
touch ../fast
run_sluice 0 status "$id"
expect_contains "$OUT" "cancelled"
timeout 60 "$SLUICE" resume "$id" --ci 2>"$T/resume.err" || fail "resume failed: $(cat "$T/resume.err")"
expect_eq "$(grep -c '^first$' ../slow.log)" 1 "first was not run again"
run_sluice 0 status "$id"
expect_contains "$OUT" "succeeded"
