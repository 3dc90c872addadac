#!/usr/bin/env bash
# t32-drift-errors: bad input to the drift step is a usage error (exit 2)
# with a message naming what is wrong and where; nothing is half-written.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"

printf 'age,plan,score\n30,basic,1.5\n41,pro,2.5\n35,basic,0.5\n' >ref.csv
printf 'age,plan,score\n33,pro,1.0\n52,team,2.0\n' >cur.csv

drift() { run_sluice "$1" step drift --with reference=ref.csv --with current=cur.csv "${@:2}"; }

run_sluice 2 step drift --with reference=nope.csv --with current=cur.csv
expect_contains "$ERR" "step drift: reference: nope.csv: No such file or directory"
run_sluice 2 step drift --with reference=ref.csv --with current=missing/cur.csv
expect_contains "$ERR" "step drift: current: missing/cur.csv: "
run_sluice 2 step drift --with reference=ref.csv
expect_contains "$ERR" "current"

# columns that do not exist, on either side
drift 2 --with columns=age,plann
expect_contains "$ERR" "column 'plann' is not in reference ref.csv (did you mean 'plan'?)"
printf 'age,plan\n1,a\n' >cur2.csv
run_sluice 2 step drift --with reference=ref.csv --with current=cur2.csv
expect_contains "$ERR" "column 'score' is not in current cur2.csv"
drift 2 --with 'columns=["age", 3]'
expect_contains "$ERR" "columns: item 2 is not a column name"
drift 2 --with columns=age,plan,age
expect_contains "$ERR" "columns: 'age' is listed twice"
printf 'a,b,a\n1,2,3\n' >dup.csv
run_sluice 2 step drift --with reference=dup.csv --with current=dup.csv
expect_contains "$ERR" "dup.csv:1: column 'a' appears twice"
drift 2 --with columns=age,,plan
expect_contains "$ERR" "columns: empty column name"
drift 2 --with columns=age --with numeric=score
expect_contains "$ERR" "numeric: 'score' is not a compared column"
drift 2 --with categorical=age --with numeric=age
expect_contains "$ERR" "column 'age' is both categorical and numeric"

# text in a column declared numeric names the file and the line
drift 2 --with numeric=plan
expect_contains "$ERR" "reference: ref.csv:2: column 'plan' is declared numeric but has 'basic'"

# option values
drift 2 --with ks_threshold=abc
expect_contains "$ERR" "ks_threshold: expected a number between 0 and 1, got 'abc'"
drift 2 --with threshold_share=1.5
expect_contains "$ERR" "threshold_share: expected a number between 0 and 1"
drift 2 --with wasserstein_threshold=-1
expect_contains "$ERR" "wasserstein_threshold"
drift 2 --with fail_on_drift=maybe
expect_contains "$ERR" "fail_on_drift: expected true or false, got 'maybe'"
drift 2 --with small_sample=-5
expect_contains "$ERR" "small_sample: expected a row count or true/false"
drift 2 --with format=xml
expect_contains "$ERR" "format: expected csv, jsonl or auto, got 'xml'"
drift 2 --with treshold_share=0.4
expect_contains "$ERR" "did you mean 'threshold_share'"

# a ragged row: the reader's error, with the file and the line
printf 'age,plan,score\n33,pro,1.0\n52,team\n' >bad.csv
run_sluice 2 step drift --with reference=ref.csv --with current=bad.csv
expect_contains "$ERR" "step drift: current: bad.csv:3: "
expect_no_file drift.json
