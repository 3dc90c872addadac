#!/usr/bin/env bash
# Full runs of generated no-op DAGs (`touch out/N`): make -j2, ninja -j2 and
# sluice run -j2 side by side on the same DAG, plus sluice's peak memory.
# Target: sluice's wall time at most 1.2x the faster of make and ninja.
# BENCH_SIZES overrides the sizes (default "1000 10000").
set -eu
: "${SLUICE:?}"
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/sluice-bench-run.XXXXXX)
trap 'rm -rf "$dir"' EXIT
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
command -v ninja >/dev/null || echo "(ninja missing: apt-get install ninja-build)"
printf "%-8s %6s %10s %10s %10s %8s %9s\n" shape steps make_ms ninja_ms sluice_ms ratio rss_MB
for n in ${BENCH_SIZES:-1000 10000}; do
	for shape in layered fanout; do
		d=$dir/$shape-$n
		/usr/bin/python3 "$here/gen_dag.py" $shape $n "$d" --sandbox >/dev/null
		(cd "$d" && rm -rf out && mkdir out && s=$(date +%s%N) && make -s -j2 >/dev/null && ms $s) >"$d/make.ms"
		if command -v ninja >/dev/null; then
			(cd "$d" && rm -rf out .ninja_log .ninja_deps && mkdir out && s=$(date +%s%N) && ninja -j2 >/dev/null && ms $s) >"$d/ninja.ms"
		else
			echo 0 >"$d/ninja.ms"
		fi
		(cd "$d" && rm -rf out .sluice && mkdir out && s=$(date +%s%N) &&
			/usr/bin/time -f %M -o "$d/rss" "$SLUICE" run pipeline.yaml -j2 --ci >/dev/null 2>&1 && ms $s) >"$d/sluice.ms"
		m=$(cat "$d/make.ms"); nj=$(cat "$d/ninja.ms"); s=$(cat "$d/sluice.ms")
		best=$m; [ "$nj" -gt 0 ] && [ "$nj" -lt "$best" ] && best=$nj
		printf "%-8s %6d %10d %10d %10d %7s %9d\n" $shape $n $m $nj $s \
			"$(awk -v a=$s -v b=$best 'BEGIN{printf "%.2fx", a/b}')" $(( $(cat "$d/rss") / 1024 ))
	done
done
echo "ratio = sluice / faster of make and ninja (target <= 1.2x)"
