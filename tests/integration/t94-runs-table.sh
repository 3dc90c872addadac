#!/usr/bin/env bash
# The experiment table and its comparisons (docs/cli.md, "The experiment table"):
# `runs` with metrics and the params that differ as columns, --sort, --limit,
# --pipeline, --json; `metrics` (the latest run against the previous succeeded
# one, --diff, --md exactly); `params diff`; `diff` showing what changed, --all,
# --json, and 0.1 + 0.2 against 0.3 not a change (it was "* evaluate.sum 0.3 0.3
# (-5.55112e-17)").
set -eu
. "$TESTS_DIR/integration/lib.sh"
cat >pipeline.yaml <<'YAML'
name: exp
params: {lr: 0.1, depth: 3, seed: 1, mode: a, fail: 0}
steps:
  train:
    run: |
      python3 -c 'import json; json.dump({"loss": 1 / ${{ params.depth }}}, open("train.json", "w"))'
    outputs: [train.json]
    metrics: train.json
  evaluate:
    needs: [train]
    run: |
      python3 -c 'import json; json.dump({"auc": 0.5 + ${{ params.lr }}, "sum": 0.1 + 0.2 if "${{ params.mode }}" == "a" else 0.3}, open("eval.json", "w"))'
      exit ${{ params.fail }}
    outputs: [eval.json]
    metrics: eval.json
YAML
# a second pipeline whose step writes a hostile metric key: a terminal escape, a pipe
cat >other.yaml <<'YAML'
name: other
steps:
  score:
    run: |
      printf '{"acc": 0.8, "x|y\\u001b[2J<img src=x>": 1}' > score.json
    outputs: [score.json]
    metrics: score.json
YAML
run_sluice 0 run pipeline.yaml --ci                                   # 1
run_sluice 0 run other.yaml --ci                                      # 2
run_sluice 0 run pipeline.yaml --ci -p lr=0.2                         # 3
run_sluice 0 run pipeline.yaml --ci -p lr=0.05 -p depth=4             # 4
run_sluice 1 run pipeline.yaml --ci -p lr=0.3 -p fail=1               # 5 fails
run_sluice 0 run pipeline.yaml --ci -p lr=0.4 -p mode=b               # 6

# rows with the date and time (columns 5 and 6) left out, blanks squeezed
squeeze() { tr -s ' ' | cut -d' ' -f1-4,7-; }

# ---- runs: metrics as columns in the steps' order, then the params that differ
run_sluice 0 runs --pipeline exp
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" \
	"RUN PIPELINE STATUS TRIGGER STARTED loss auc sum depth fail lr mode" "heading"
expect_eq "$(echo "$OUT" | sed 1d | squeeze)" "6 exp succeeded ci 0.333333 0.9 0.3 3 0 0.4 b
5 exp failed ci 0.333333 - - 3 1 0.3 a
4 exp succeeded ci 0.25 0.55 0.3 4 0 0.05 a
3 exp succeeded ci 0.333333 0.7 0.3 3 0 0.2 a
1 exp succeeded ci 0.333333 0.6 0.3 3 0 0.1 a" "runs --pipeline exp"
echo "$OUT" | sed -n 2p | grep -qE '^6 +exp +succeeded +ci +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} ' ||
	fail "no start time in: $OUT"
# every pipeline: the other's metric is a column too, its hostile key made harmless
run_sluice 0 runs
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "6 5 4 3 2 1 " "runs, newest first"
expect_not_contains "$OUT" $'\x1b' "runs"
expect_contains "$(echo "$OUT" | head -1)" "x|y?[2J<img src=x>"
# --sort: largest first, :asc smallest first, runs without the metric last either way
run_sluice 0 runs --pipeline exp --sort auc
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "6 3 1 4 5 " "--sort auc"
run_sluice 0 runs --pipeline exp --sort evaluate.auc:asc
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "4 1 3 6 5 " "--sort auc:asc"
run_sluice 0 runs --pipeline exp --sort loss:asc
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "4 6 5 3 1 " "--sort loss:asc"
run_sluice 2 runs --pipeline exp --sort acu
expect_contains "$ERR" "no listed run has a metric 'acu' (did you mean auc?)"
# --limit: the newest N, then sorted; the rest counted on stderr
run_sluice 0 runs --pipeline exp --limit 2 --sort auc:asc
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "6 5 " "--limit 2"
expect_contains "$ERR" "the newest 2 of 5 runs"
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" \
	"RUN PIPELINE STATUS TRIGGER STARTED loss auc sum fail lr mode" "params of the two listed"
run_sluice 2 runs --limit lots
expect_contains "$ERR" "--limit takes a number of runs"
# one run: nothing to compare, so all its params; none of another pipeline: a note
run_sluice 0 runs --pipeline other
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "RUN PIPELINE STATUS TRIGGER STARTED acc x|y?[2J<img src=x>" \
	"runs --pipeline other"
expect_eq "$(echo "$OUT" | sed 1d | squeeze)" "2 other succeeded ci 0.8 1" "runs --pipeline other"
run_sluice 0 runs --pipeline nope
expect_eq "$OUT" "" "no runs"
expect_contains "$ERR" "no runs of pipeline nope recorded"
# a narrow terminal: columns from the right are left out and named
COLUMNS=70 run_sluice 0 runs --pipeline exp
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "RUN PIPELINE STATUS TRIGGER STARTED loss auc" "COLUMNS=70"
expect_contains "$ERR" "columns left out for the width: sum, depth, fail, lr, mode"
# --json: every run (no default limit), its params as recorded and metrics per step
run_sluice 0 runs --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
runs = json.loads(sys.argv[1])
assert [r["run_id"] for r in runs] == [6, 5, 4, 3, 2, 1], runs
r4 = runs[2]
assert r4["params"] == {"lr": 0.05, "depth": 4, "seed": 1, "mode": "a", "fail": 0}, r4
assert r4["metrics"] == {"evaluate": {"auc": 0.55, "sum": 0.30000000000000004},
                         "train": {"loss": 0.25}}, r4
assert r4["status"] == "succeeded" and r4["trigger"] == "ci" and r4["exit_code"] == 0, r4
assert runs[1]["status"] == "failed" and "evaluate" not in runs[1]["metrics"], runs[1]
assert runs[4]["metrics"]["score"]["x|y\u001b[2J<img src=x>"] == 1.0, runs[4]
PY
run_sluice 0 runs --json --sort auc --limit 2 --pipeline exp
/usr/bin/python3 -c "import json,sys; assert [r['run_id'] for r in json.loads(sys.argv[1])] == [6, 5]" "$OUT"

# ---- metrics: the latest run against the previous succeeded run of its pipeline (4: 5 failed)
run_sluice 0 metrics --md
expect_eq "$OUT" '| Step       | Metric | run 4 | run 6    | Change     |
|------------|--------|-------|----------|------------|
| `train`    | `loss` | 0.25  | 0.333333 | +0.0833333 |
| `evaluate` | `auc`  | 0.55  | 0.9      | +0.35      |
| `evaluate` | `sum`  | 0.3   | 0.3      | 0          |' "metrics --md"
run_sluice 0 metrics
expect_eq "$OUT" "Step      Metric  run 4     run 6      Change
train     loss     0.25  0.333333  +0.0833333
evaluate  auc      0.55       0.9       +0.35
evaluate  sum       0.3       0.3           0" "metrics"
run_sluice 0 metrics 6 --diff
expect_contains "$OUT" "Metric  run 4     run 6"
# one run: its metrics; the first run of a pipeline has nothing before it
run_sluice 0 metrics 3
expect_eq "$OUT" "Step      Metric     run 3
train     loss    0.333333
evaluate  auc          0.7
evaluate  sum          0.3" "metrics 3"
run_sluice 0 metrics 1 --diff
expect_contains "$ERR" "no succeeded run of exp before run 1 to compare with"
expect_contains "$OUT" "Metric     run 1"
# two runs: from the first to the second; a metric only one has
run_sluice 0 metrics 4 5 --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["old"] == {"run_id": 4} and d["new"] == {"run_id": 5}, d
m = {(r["step"], r["metric"]): r for r in d["metrics"]}
loss = m[("train", "loss")]
assert loss["old"] == 0.25 and abs(loss["change"] - (1 / 3 - 0.25)) < 1e-12 and loss["changed"], loss
auc = m[("evaluate", "auc")]
assert auc["old"] == 0.55 and auc["new"] is None and auc["change"] is None and auc["changed"], auc
PY
run_sluice 0 metrics 4 6 --json
/usr/bin/python3 -c "
import json, sys
m = {r['metric']: r for r in json.loads(sys.argv[1])['metrics']}
assert m['sum']['changed'] is False and m['sum']['change'] == 0, m['sum']" "$OUT"
# the hostile key in Markdown: one row, a code span, the pipe escaped, no escape byte
run_sluice 0 metrics 2 --md
expect_not_contains "$OUT" $'\x1b' "metrics --md"
expect_contains "$OUT" '| `score` | `x\|y?[2J<img src=x>` | 1     |'
expect_eq "$(echo "$OUT" | wc -l | tr -d ' ')" "4" "rows of metrics 2 --md"
run_sluice 2 metrics 1 99
expect_contains "$ERR" "no run 99"
run_sluice 2 metrics --json --md
run_sluice 2 metrics x
expect_contains "$ERR" "'x' is not a run id"

# ---- params diff: the latest two runs of the latest run's pipeline (5 and 6)
run_sluice 0 params diff
expect_eq "$OUT" "Param  run 5  run 6
fail   1      0
lr     0.3    0.4
mode   a      b" "params diff"
run_sluice 0 params diff 1 4 --md
expect_eq "$OUT" '| Param   | run 1 | run 4 |
|---------|-------|-------|
| `depth` | 3     | 4     |
| `lr`    | 0.1   | 0.05  |' "params diff 1 4 --md"
run_sluice 0 params diff 1 4 --all
expect_eq "$(echo "$OUT" | wc -l | tr -d ' ')" "6" "params diff --all: heading and five params"
expect_contains "$OUT" "seed   1      1"
run_sluice 0 params diff 1 2 --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
p = {r["name"]: r for r in d["params"]}
assert set(p) == {"lr", "depth", "seed", "mode", "fail"}, p
assert p["lr"] == {"name": "lr", "old": 0.1, "changed": True}, p["lr"]
PY
run_sluice 0 params diff 3 3
expect_eq "$OUT" "" "params diff of a run with itself"
expect_contains "$ERR" "no param changed from run 3 to run 3"
run_sluice 2 params diff 3
expect_contains "$ERR" "name two runs, or none"
run_sluice 2 params show
expect_contains "$ERR" "unknown subcommand 'show'"

# ---- diff: only what changed; 0.1 + 0.2 against 0.3 is not a change
run_sluice 0 diff 4 6
expect_contains "$OUT" "params"
echo "$OUT" | grep -qE '^\* lr +0\.05 +0\.4 *$' || fail "diff does not show lr: $OUT"
echo "$OUT" | grep -qE '^\* train\.loss +0\.25 +0\.333333 +\(\+0\.0833333\)$' ||
	fail "diff does not show loss: $OUT"
expect_not_contains "$OUT" "evaluate.sum"
expect_not_contains "$OUT" "seed"
expect_not_contains "$OUT" "steps"
run_sluice 0 diff 4 6 --all
echo "$OUT" | grep -qE '^  evaluate\.sum +0\.3 +0\.3 *$' || fail "diff --all: sum not the same: $OUT"
echo "$OUT" | grep -qE '^  seed +1 +1 *$' || fail "diff --all: seed: $OUT"
# train used none of the params that changed: cached, the same outcome
echo "$OUT" | grep -qE '^  train +succeeded +cached *$' || fail "diff --all: steps: $OUT"
# without runs: the latest two of the latest pipeline
run_sluice 0 diff
echo "$OUT" | grep -qE '^\* evaluate +failed +succeeded *$' || fail "diff 5 6: evaluate: $OUT"
run_sluice 0 diff 3 3
expect_contains "$OUT" "no params, statuses, metrics or outputs changed"
run_sluice 0 diff 4 6 --json
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["old"]["run_id"] == 4 and d["new"]["run_id"] == 6, d
assert [p["name"] for p in d["params"]] == ["depth", "lr", "mode"], d["params"]
assert {m["name"] for m in d["metrics"]} == {"train.loss", "evaluate.auc"}, d["metrics"]
assert d["steps"] == [] and {o["path"] for o in d["outputs"]} == {"train.json", "eval.json"}
PY
run_sluice 0 diff 4 6 --json --all
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
s = [m for m in d["metrics"] if m["name"] == "evaluate.sum"][0]
assert s["changed"] is False and s["change"] == 0 and s["new"] == 0.3, s
assert [p["name"] for p in d["params"] if not p["changed"]] == ["fail", "seed"], d["params"]
PY
run_sluice 2 diff 4
expect_contains "$ERR" "name two runs"
run_sluice 2 diff 4 99
expect_contains "$ERR" "no run 99"

# ---- a no-op run (nothing changed since run 6) has run 6's metrics in every view
run_sluice 0 run pipeline.yaml --ci -p lr=0.4 -p mode=b                 # 7
expect_contains "$ERR" "nothing to do"
run_sluice 0 runs --json --limit 2
/usr/bin/python3 -c "
import json, sys
r = json.loads(sys.argv[1])
assert r[0]['run_id'] == 7 and r[0]['metrics'] == r[1]['metrics'] and r[0]['metrics']['evaluate']['auc'] == 0.9, r" "$OUT"
run_sluice 0 metrics
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "Step Metric run 6 run 7 Change" "metrics after a no-op run"
expect_eq "$(echo "$OUT" | sed 1d | awk '{print $NF}' | tr '\n' ' ')" "0 0 0 " "no change"

# ---- a NaN metric (the store keeps NULL): shown as NaN, sorted last, no change computed
/usr/bin/python3 - .sluice/state.db <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE metrics SET value = NULL WHERE run_id = 3 AND key = 'auc'")
db.commit()
PY
run_sluice 0 runs --pipeline exp --sort auc
expect_eq "$(echo "$OUT" | sed 1d | cut -d' ' -f1 | tr '\n' ' ')" "7 6 1 4 5 3 " "--sort auc with a NaN"
echo "$OUT" | grep -qE '^3 .* NaN ' || fail "NaN not shown: $OUT"
run_sluice 0 metrics 1 3
echo "$OUT" | grep -qE '^evaluate +auc +0\.6 +NaN +-$' || fail "metrics with a NaN: $OUT"
run_sluice 0 metrics 3 3 --json
/usr/bin/python3 -c "
import json, sys
m = {r['metric']: r for r in json.loads(sys.argv[1])['metrics']}
assert m['auc']['old'] == 'NaN' and m['auc']['new'] == 'NaN' and m['auc']['changed'] is False, m" "$OUT"
run_sluice 0 runs --json --limit 5
/usr/bin/python3 -c "
import json, sys
r = {x['run_id']: x for x in json.loads(sys.argv[1])}
assert r[3]['metrics']['evaluate']['auc'] == 'NaN', r[3]" "$OUT"
