#!/usr/bin/env bash
# Params per step, as DVC tracks them per stage (issue 13, item 1): a step's
# cache key and its $SLUICE_PARAMS file hold only the params it uses, so one
# changed param reruns only the steps that use it and what depends on their
# changed outputs; plan, the log and show say "param X changed (A -> B)".
# Params from files: params_files: (YAML or JSON), --params-file, then -p;
# nested maps as params.train.lr and -p train.lr=...; their errors are
# FILE:LINE:COL and exit 2; a params file is an input of the run (the no-op
# path sees an edit, rerun reproduces the run's values after one).
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

mkdir -p ws && cd ws
cat > pipeline.yaml <<'YAML'
name: seven
params:
  n_estimators: 300
  seed: 7
  threshold: 0.5
  train: {lr: 0.1, depth: 4}
params_files: [params.yaml]
steps:
  fetch:
    run: echo "a,b" > raw.csv
    outputs: [raw.csv]
  clean:
    run: cp raw.csv clean.csv
    inputs: [raw.csv]
    outputs: [clean.csv]
  features:
    run: cp clean.csv features.csv
    inputs: [clean.csv]
    outputs: [features.csv]
  train:
    run: "echo n=${{ params.n_estimators }} lr=${{ params.train.lr }} > model.txt; cat $SLUICE_PARAMS > train-params.json"
    inputs: [features.csv]
    outputs: [model.txt, train-params.json]
    params: [seed]
  evaluate:
    run: "echo \"{\\\"auc\\\": 0.9}\" > eval.json; cat $SLUICE_PARAMS > eval-params.json"
    inputs: [model.txt]
    outputs: [eval.json, eval-params.json]
  gate:
    run: "echo ok > gate.txt"
    when: ${{ params.threshold < 1 }}
    inputs: [eval.json]
    outputs: [gate.txt]
  docs:
    run: echo docs > docs.txt
    outputs: [docs.txt]
YAML
# a shared params file: keys no step uses, a list, a name no expression can use
cat > params.yaml <<'YAML'
train:
  depth: 6
serving: {replicas: [1, 2], host-name: x}
YAML

ran() { # the steps that ran in the last --json run, sorted
	/usr/bin/python3 -c 'import json, sys
print(" ".join(sorted(s["name"] for s in json.loads(sys.argv[1])["steps"] if s["status"] == "succeeded")))' "$OUT"
}

run_sluice 0 run pipeline.yaml --ci --json
expect_eq "$(ran)" "clean docs evaluate features fetch gate train" "the first run"
# each step's $SLUICE_PARAMS holds only what it uses; a step that uses none gets {}
/usr/bin/python3 - <<'PY'
import json
t = json.load(open("train-params.json"))
assert t == {"n_estimators": 300, "seed": 7, "train": {"lr": 0.1}}, t
e = json.load(open("eval-params.json"))
assert e == {}, e
PY

# one param changed: only train reruns, and evaluate after it (its input changed);
# gate sees an identical eval.json (early cut-off); the other four are cached
run_sluice 0 run pipeline.yaml --ci --json -p n_estimators=30
expect_eq "$(ran)" "evaluate train" "steps rerun after -p n_estimators=30"
run_sluice 0 logs 2 train
expect_contains "$(echo "$OUT" | head -1)" "sluice: train runs: param n_estimators changed (300 -> 30)"
run_sluice 0 show 2 train
expect_contains "$OUT" "param n_estimators changed (300 -> 30)"
expect_contains "$OUT" "param      n_estimators = 30"
expect_contains "$OUT" "param      seed = 7"
expect_contains "$OUT" "param      train.lr = 0.1"
expect_not_contains "$OUT" "threshold"
run_sluice 0 show 2 train --json
/usr/bin/python3 -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["params"] == {"n_estimators": 30, "seed": 7, "train.lr": 0.1}, d["params"]' "$OUT"
run_sluice 0 show 2 docs --json
expect_contains "$OUT" '"params": {}'

# plan with a nested param from -p, and a param only `params:` declares
run_sluice 0 plan pipeline.yaml -p train.lr=0.2 -p n_estimators=30
expect_contains "$OUT" "param train.lr changed (0.1 -> 0.2)"
run_sluice 0 plan pipeline.yaml -p seed=8 -p n_estimators=30
expect_contains "$OUT" "param seed changed (7 -> 8)"
echo "$OUT" | grep -A1 ' cached docs' >/dev/null || fail "docs not cached in the plan: $OUT"

# the whole run with the same params is a no-op; an edit of params.yaml is seen,
# even one of a key no step uses (nothing reruns then)
run_sluice 0 run pipeline.yaml --ci -p n_estimators=30
expect_contains "$ERR" "nothing to do"
printf 'train:\n  depth: 8\nserving: {replicas: [1, 2]}\n' > params.yaml
run_sluice 0 run pipeline.yaml --ci --json -p n_estimators=30
expect_not_contains "$ERR" "nothing to do"
expect_eq "$(ran)" "" "steps rerun after an unused key changed"
printf 'train:\n  lr: 0.05\n' > params.yaml
run_sluice 0 run pipeline.yaml --ci --json -p n_estimators=30
expect_not_contains "$ERR" "nothing to do"
expect_eq "$(ran)" "evaluate train" "steps rerun after params.yaml's train.lr changed"
expect_eq "$(cat model.txt)" "n=30 lr=0.05"
params_run=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["run_id"])' "$OUT")

# --params-file after params_files:, -p after both; JSON works as well
printf '{"train": {"lr": 0.01}, "seed": 9}\n' > exp.json
run_sluice 0 run pipeline.yaml --ci --json --params-file exp.json -p n_estimators=30
expect_eq "$(ran)" "evaluate train" "steps rerun with --params-file"
expect_eq "$(cat model.txt)" "n=30 lr=0.01"
/usr/bin/python3 -c 'import json; t = json.load(open("train-params.json")); assert t["seed"] == 9 and t["train"] == {"lr": 0.01}, t'
run_sluice 0 run pipeline.yaml --ci --json --params-file exp.json -p train.lr=0.02 -p n_estimators=30
expect_eq "$(cat model.txt)" "n=30 lr=0.02"
# a different --params-file is a different run for the no-op path
run_sluice 0 run pipeline.yaml --ci -p n_estimators=30
expect_not_contains "$ERR" "nothing to do"
expect_eq "$(cat model.txt)" "n=30 lr=0.05"

# rerun reproduces the run's params although params.yaml changed or is gone
printf 'train:\n  lr: 0.9\n' > params.yaml
run_sluice 0 rerun "$params_run" --ci --json
expect_eq "$(ran)" "" "steps rerun by a rerun of run $params_run"
expect_eq "$(cat model.txt)" "n=30 lr=0.05"
mv params.yaml params.yaml.away
run_sluice 0 rerun "$params_run" --ci
mv params.yaml.away params.yaml

# errors: FILE:LINE:COL and exit 2, nothing ran
printf 'train:\n  lr: fast\n' > params.yaml
run_sluice 2 run pipeline.yaml --ci
expect_contains "$ERR" "params.yaml:2:7: param 'train.lr' is a number (its default at pipeline.yaml:6:15), not a string"
expect_contains "$ERR" "nothing ran"
printf 'train: {lr: [\n' > params.yaml
run_sluice 2 run pipeline.yaml --ci
expect_contains "$ERR" "params.yaml:2:1: "
printf 'train: 3\n' > params.yaml
run_sluice 2 validate pipeline.yaml
expect_contains "$ERR" "params.yaml:1:8: 'train' is a number here, but a group of params"
rm params.yaml
run_sluice 2 run pipeline.yaml --ci
expect_contains "$ERR" "pipeline.yaml:7:16: params file params.yaml: No such file or directory"
echo '{}' > params.yaml
run_sluice 2 run pipeline.yaml --ci --params-file ../outside.yaml
expect_contains "$ERR" "params file '../outside.yaml': path leaves the workspace"
run_sluice 2 run pipeline.yaml --ci --params-file missing.json
expect_contains "$ERR" "params file missing.json: No such file or directory"
ln -s /etc/passwd linked.yaml
run_sluice 2 run pipeline.yaml --ci --params-file linked.yaml
expect_contains "$ERR" "is a symlink"
run_sluice 2 run pipeline.yaml --ci -p train=1
expect_contains "$ERR" "-p train: 'train' is a group of params; set one of them (-p train."
run_sluice 2 run pipeline.yaml --ci -p train.lr=abc
expect_contains "$ERR" "-p train.lr=abc: param 'train.lr' is a number (its default), 'abc' is not"
sed -i 's/    params: \[seed\]/    params: [sed]/' pipeline.yaml
run_sluice 2 validate pipeline.yaml
expect_contains "$ERR" "pipeline.yaml:24:14: params: unknown param 'sed' (did you mean 'seed'?)"

# the step's own params file reaches the sandbox as root and as an
# unprivileged user, with nothing of the other steps' params
small_pipeline() {
	cat > "$1/pipeline.yaml" <<'YAML'
name: small
params: {lr: 0.1, secret_knob: 42}
params_files: [params.yaml]
steps:
  a:
    run: "rm -f seen.json; cat $SLUICE_PARAMS > seen.json"
    params: [lr, extra]
    outputs: [seen.json]
  b:
    run: "echo ${{ params.secret_knob }} > b.txt"
    outputs: [b.txt]
YAML
	printf 'extra: {k: 1}\n' > "$1/params.yaml"
}
trap unpriv_cleanup EXIT
for WHO in root user; do
	if [ "$WHO" = user ]; then
		unpriv_user
		dir=$BOX/ws
	else
		dir=$T/small
		mkdir -p "$dir"
	fi
	small_pipeline "$dir"
	sluice_as "$dir" run pipeline.yaml --ci
	[ "$RC" = 0 ] || fail "small run as $WHO exited $RC: $ERR"
	/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"extra": {"k": 1}, "lr": 0.1}, d' "$dir/seen.json" || fail "seen.json as $WHO"
	sluice_as "$dir" run pipeline.yaml --ci -p secret_knob=43
	expect_contains "$ERR" "a cached" "as $WHO"
done
echo "params per step: ok"
