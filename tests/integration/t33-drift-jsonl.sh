#!/usr/bin/env bash
# t33-drift-jsonl: the drift step on JSON Lines (numbers as JSON numbers,
# missing values as null or absent), and mixed formats, against scipy.
set -euo pipefail
. "$TESTS_DIR/integration/lib.sh"
PY=/usr/bin/python3
$PY -c 'import numpy, scipy' 2>/dev/null ||
	skip "/usr/bin/python3 lacks numpy/scipy (apt-get install python3-scipy python3-numpy)"
here=$TESTS_DIR/integration

for c in mixed-500 mixed-1001 one-sided; do
	mkdir -p "$T/$c" && cd "$T/$c"
	$PY "$here/drift_gen.py" $c . jsonl
	run_sluice 0 step drift --with reference=ref.jsonl --with current=cur.jsonl
	$PY "$here/drift_check.py" ref.jsonl cur.jsonl drift.json || fail "$c: report differs from scipy"
	# the same data as CSV gives the same report
	$PY "$here/drift_gen.py" $c . csv
	run_sluice 0 step drift --with reference=ref.csv --with current=cur.csv --with report=csv.json
	cmp -s drift.json csv.json || fail "$c: JSON Lines and CSV reports differ:
$(diff drift.json csv.json | head -20)"
done

# format= forces the reader: a JSON Lines file named .txt
cd "$T/mixed-500"
cp ref.jsonl ref.txt
run_sluice 0 step drift --with reference=ref.txt --with current=cur.jsonl --with format=jsonl \
	--with report=forced.json
cmp -s drift.json forced.json || fail "format=jsonl gave a different report"
run_sluice 2 step drift --with reference=ref.txt --with current=cur.jsonl
expect_contains "$ERR" "is not in current cur.jsonl" # read as CSV: its header is JSON
