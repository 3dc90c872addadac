#!/usr/bin/env bash
# drift on 1,000,000 rows x 10 columns (reference and current, ~90 MB of CSV
# each): wall time and peak memory of `sluice step drift`, next to numpy/scipy
# computing the same statistics from the same files.  Target: < 3 s for sluice.
# The data is generated once into ${DRIFT_BENCH_DIR:-/tmp/sluice-bench-drift}.
set -eu
: "${SLUICE:?}"
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
rows=${DRIFT_BENCH_ROWS:-1000000}
dir=${DRIFT_BENCH_DIR:-/tmp/sluice-bench-drift}
if ! $PY -c 'import numpy, scipy' 2>/dev/null; then
	echo "bench_drift: skipped, /usr/bin/python3 lacks numpy/scipy"
	exit 0
fi
mkdir -p "$dir"
if [ ! -s "$dir/cur.csv" ] || [ "$(cat "$dir/rows" 2>/dev/null)" != "$rows" ]; then
	echo "generating $rows rows x 10 columns into $dir ..."
	$PY "$here/drift_data.py" "$dir" "$rows"
	echo "$rows" >"$dir/rows"
fi
work=$(mktemp -d /tmp/sluice-bench-drift-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat "$dir/ref.csv" "$dir/cur.csv" >/dev/null # page cache, for both contenders

best=999999999
for _ in 1 2 3; do
	s=$(date +%s%N)
	(cd "$work" && "$SLUICE" step drift --with reference="$dir/ref.csv" \
		--with current="$dir/cur.csv" 2>/dev/null)
	e=$((($(date +%s%N) - s) / 1000000))
	[ $e -lt $best ] && best=$e
done
rss=$(cd "$work" && /usr/bin/time -f %M "$SLUICE" step drift --with reference="$dir/ref.csv" \
	--with current="$dir/cur.csv" 2>&1 >/dev/null | tail -1)

s=$(date +%s%N)
py=$($PY "$here/drift_scipy.py" "$dir/ref.csv" "$dir/cur.csv")
pe=$((($(date +%s%N) - s) / 1000000))
pread=${py#read=}
pread=${pread%% *}
pstats=${py##*stats=}

mb=$((($(stat -c %s "$dir/ref.csv") + $(stat -c %s "$dir/cur.csv")) / 1048576))
printf "drift %d rows x 10 columns x 2 files (%d MB CSV):\n" "$rows" "$mb"
printf "  sluice step drift      best of 3 %6d ms  peak RSS %d MB  (target < 3000 ms)\n" \
	"$best" $((rss / 1024))
printf "  numpy/scipy            total %10d ms  (np.loadtxt %s s, statistics %s s)\n" \
	"$pe" "$pread" "$pstats"
awk -v a="$pe" -v b="$best" 'BEGIN { printf "  ratio scipy/sluice     %.1fx\n", a / b }'
