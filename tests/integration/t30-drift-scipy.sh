#!/usr/bin/env bash
# t30-drift-scipy: every number in the drift report against scipy (issue 6).
# drift_gen.py writes the data sets (tiny to 60,000 rows, both sides of the
# exact/asymptotic KS switch and of the 1000-row method switch, ties,
# constant, empty and one-sided columns, missing values, late text);
# drift_check.py recomputes the report with numpy/scipy and compares every
# value (1e-6 relative or 1e-9 absolute), kind, method and decision.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
$PY -c 'import numpy, scipy' 2>/dev/null ||
	skip "/usr/bin/python3 lacks numpy/scipy (apt-get install python3-scipy python3-numpy)"
here=$TESTS_DIR/integration

# check LABEL CASE [KEY=VALUE for --with ...] [-- CHECKER OPTIONS ...]
check() {
	local label=$1 name=$2
	shift 2
	local with=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		with+=(--with "$1")
		shift
	done
	[ $# -gt 0 ] && shift
	local d=$T/$label
	mkdir -p "$d"
	$PY "$here/drift_gen.py" "$name" "$d"
	(cd "$d" && run_sluice 0 step drift --with reference=ref.csv --with current=cur.csv \
		${with[@]+"${with[@]}"})
	$PY "$here/drift_check.py" "$d/ref.csv" "$d/cur.csv" "$d/drift.json" "$@" ||
		fail "$label: the report differs from scipy"
}

check tiny tiny
check tiny-numeric tiny numeric=x,y -- --numeric x,y
check one-row one-row numeric=x -- --numeric x
check header-only header-only
check mixed-500 mixed-500
check mixed-1000 mixed-1000
check mixed-1001 mixed-1001
check same same
check exact-10000 exact-10000
check exact-square exact-square
check asymp-10001 asymp-10001
check asymp-big asymp-big
check one-sided one-sided
check late-text late-text
check late-text-cur late-text-cur
check categorical-numbers categorical-numbers
check number-forms number-forms

# overrides: column subset (as a YAML list arrives: JSON text), forced kinds,
# the method switch and every threshold
check subset mixed-500 'columns=["age", "plan", "flag", "rounded"]' categorical=age numeric=flag \
	-- --columns age,plan,flag,rounded --categorical age --numeric flag
check forced-small mixed-1001 small_sample=5000 -- --small-sample 5000
check forced-large mixed-500 small_sample=100 -- --small-sample 100
check never-small asymp-10001 small_sample=false -- --small-sample -1
check always-small asymp-big small_sample=true -- --small-sample 100000000
check thresholds mixed-1001 threshold_share=0.9 wasserstein_threshold=0.05 js_threshold=0.02 \
	-- --threshold-share 0.9 --wasserstein 0.05 --js 0.02
check thresholds-small mixed-500 ks_threshold=0.2 chi2_threshold=0.001 threshold_share=0.25 \
	-- --ks 0.2 --chi2 0.001 --threshold-share 0.25

# the report's shape, literally
d=$T/mixed-500
$PY - "$d/drift.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert list(r) == ["drifted", "drift_share", "threshold_share", "columns"], list(r)
c = r["columns"]
assert c["score"]["kind"] == "numeric" and c["score"]["method"] == "ks", c["score"]
assert c["plan"]["kind"] == "categorical" and c["plan"]["method"] == "chisquare", c["plan"]
assert c["constant"]["chi2_pvalue"] is None, c["constant"]   # one category: no dof
assert c["void"]["psi"] is None and c["void"]["drifted"] is False, c["void"]
assert c["empty"]["drifted"] is True and c["empty"]["ks_pvalue"] is None, c["empty"]
PYEOF
