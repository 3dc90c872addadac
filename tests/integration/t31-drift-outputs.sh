#!/usr/bin/env bash
# t31-drift-outputs: what the drift step gives besides the report — the step
# outputs (drifted=, drift_share= appended to $SLUICE_OUTPUT), the Markdown
# summary in the log, the exit status with fail_on_drift and its reason.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
$PY -c 'import numpy' 2>/dev/null || skip "/usr/bin/python3 lacks numpy (apt-get install python3-numpy)"
here=$TESTS_DIR/integration
$PY "$here/drift_gen.py" mixed-500 "$T"

# mixed-500: 4 of its 9 columns drift (age, income, plan, and empty, which has
# no values in the current data).
# Drift found, fail_on_drift off: exit 0, outputs appended (existing lines kept).
echo "earlier=1" >"$T/outputs"
SLUICE_OUTPUT=$T/outputs run_sluice 0 step drift --with reference=ref.csv --with current=cur.csv \
	--with report=reports/drift.json --with threshold_share=0.4
expect_file reports/drift.json
expect_no_file drift.json
out=$(cat "$T/outputs")
expect_contains "$out" "earlier=1"
expect_contains "$out" "drifted=true"
share=$($PY -c 'import json; print(json.load(open("reports/drift.json"))["drift_share"])')
grep -qx "drift_share=$share" "$T/outputs" || fail "drift_share line: $out (report says $share)"
# The summary: one table row per column, PSI above 0.2 flagged as major.
expect_contains "$ERR" "| column | kind | method | statistic | p-value / distance | PSI | drifted |"
expect_contains "$ERR" "| age | numeric | ks |"
expect_contains "$ERR" "| plan | categorical | chisquare |"
expect_contains "$ERR" " major |"
expect_contains "$ERR" "dataset drift: "
[ "$(grep -c '^| ' <<<"$ERR")" = 10 ] || fail "expected header + 9 column rows:
$ERR"

# fail_on_drift: exit 1 and the reason names the count, the share and the columns.
run_sluice 1 step drift --with reference=ref.csv --with current=cur.csv --with fail_on_drift=true \
	--with threshold_share=0.4
expect_contains "$ERR" "sluice: step drift: dataset drift: 4 of 9 columns drifted (share 0.444444 >= 0.4): age, income, plan, empty"
expect_file drift.json # the report is written before the step fails

# No drift: the same file on both sides.
SLUICE_OUTPUT=$T/out2 run_sluice 0 step drift --with reference=ref.csv --with current=ref.csv \
	--with fail_on_drift=true --with report=same.json
expect_eq "$(cat "$T/out2")" "drifted=false
drift_share=0"
expect_contains "$ERR" "no dataset drift: 0 of 9 columns drifted (share 0 < 0.5)"

# threshold_share decides: 1.0 needs every column to drift.
run_sluice 0 step drift --with reference=ref.csv --with current=cur.csv --with fail_on_drift=yes \
	--with threshold_share=1
expect_contains "$ERR" "no dataset drift: 4 of 9 columns drifted (share 0.444444 < 1)"

# psi_threshold only changes the flag in the summary.
run_sluice 0 step drift --with reference=ref.csv --with current=cur.csv --with psi_threshold=100
expect_not_contains "$ERR" " major |"
