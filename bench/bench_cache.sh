#!/usr/bin/env bash
# The caching work's speed targets (docs/caching.md and docs/benchmarks.md), each next to
# a baseline measured in the same invocation:
# 1. No-op rerun of the generated 10,000-step DAG (every step cached: the
#    no-op fast path) next to ninja's and make's no-op builds of the same DAG.
#    Targets: < 150 ms and at most 2.5x ninja.  For information: `sluice plan`
#    on the cached DAG (the per-step path) and a run with one input changed
#    (the full path with all other steps cached).  The pipeline differs from
#    the Makefile and build.ninja only in that step s1 also reads in.txt.
# 2. SHA-256 of a 1 GiB file with sluice's own hash_file_sha256
#    (bench/hashbench.c) next to `openssl dgst -sha256` and `sha256sum`, all
#    from the page cache.  Target: >= 90% of openssl's throughput.
# 3. Re-checking that unchanged file through the stat cache (filehash_path
#    with a store that has it), 1000 calls.  Target: < 1 ms per call.
# BENCH_CACHE_STEPS (10000), BENCH_CACHE_SHAPES ("layered"; "layered fanout"
# for both, "" for none), BENCH_HASH_MB (1024), HASHBENCH (default: bench/hashbench
# next to $SLUICE, built by `make bench`).
set -eu
: "${SLUICE:?}"
here=$(cd "$(dirname "$0")" && pwd)
case $SLUICE in /*) ;; *) SLUICE=$PWD/$SLUICE ;; esac
hashbench=${HASHBENCH:-$(dirname "$SLUICE")/bench/hashbench}
case $hashbench in /*) ;; *) hashbench=$PWD/$hashbench ;; esac
steps=${BENCH_CACHE_STEPS:-10000}
mb=${BENCH_HASH_MB:-1024}
dir=$(mktemp -d /tmp/sluice-bench-cache.XXXXXX)
trap 'rm -rf "$dir"' EXIT

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "PASS" : "MISS") }'; }

# ---- 1. no-op rerun against ninja and make --------------------------------------
command -v ninja >/dev/null || echo "(ninja missing: apt-get install ninja-build)"
for shape in ${BENCH_CACHE_SHAPES-layered}; do
	d=$dir/$shape
	/usr/bin/python3 "$here/gen_dag.py" "$shape" "$steps" "$d/sluice" --sandbox >/dev/null
	# One step also reads in.txt, for the run with one input changed.
	/usr/bin/python3 - "$d/sluice/pipeline.yaml" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
blk = "  s1:\n    run: touch out/1\n    outputs: [out/1]\n"
i = t.index(blk) + len(blk)
if t.startswith("    inputs: [", i):
    i += len("    inputs: [")
    t = t[:i] + "in.txt, " + t[i:]
else:
    t = t[:i] + "    inputs: [in.txt]\n" + t[i:]
open(p, "w").write(t)
PY
	echo "one" >"$d/sluice/in.txt"
	cp -r "$d/sluice" "$d/other"

	cd "$d/sluice"
	s=$(now_us)
	"$SLUICE" run pipeline.yaml -j2 --ci >/dev/null 2>"$d/first.err" ||
		{ echo "bench_cache: the first sluice run failed:"; tail -5 "$d/first.err"; exit 1; }
	first_us=$(($(now_us) - s))
	"$SLUICE" run pipeline.yaml -j2 --ci >/dev/null 2>"$d/noop.err"
	grep -q 'nothing to do' "$d/noop.err" ||
		echo "(sluice did not take the no-op fast path: $(tail -1 "$d/noop.err"))"
	sample 5 "$SLUICE" run pipeline.yaml -j2 --ci
	s_best=$best_us s_med=$med_us
	sample 3 "$SLUICE" plan pipeline.yaml
	plan_best=$best_us
	echo "two" >in.txt
	s=$(now_us)
	"$SLUICE" run pipeline.yaml -j2 --ci >/dev/null 2>"$d/changed.err"
	changed_us=$(($(now_us) - s))
	changed_summary=$(grep -o '[0-9]* ran, [0-9]* cached' "$d/changed.err" || tail -1 "$d/changed.err")

	cd "$d/other"
	nj_first_us=0 nj_best=0 nj_med=0
	if command -v ninja >/dev/null; then
		s=$(now_us)
		ninja -j2 >/dev/null
		nj_first_us=$(($(now_us) - s))
		sample 5 ninja -j2
		nj_best=$best_us nj_med=$med_us
	else
		make -s -j2 >/dev/null
	fi
	make -q || echo "(make does not see the ninja-built tree as up to date)"
	sample 5 make -s -j2
	mk_best=$best_us mk_med=$med_us
	cd "$dir"

	echo "no-op rerun of the $shape $steps-step DAG (5 runs each):"
	printf "  %-34s %10s %10s\n" "" best median
	printf "  %-34s %10s %10s   target < 150 ms: %s\n" "sluice run (no-op fast path)" \
		"$(ms "$s_best")" "$(ms "$s_med")" "$(verdict $((s_med < 150000)))"
	if [ "$nj_best" -gt 0 ]; then
		printf "  %-34s %10s %10s\n" "ninja -j2" "$(ms "$nj_best")" "$(ms "$nj_med")"
	fi
	printf "  %-34s %10s %10s\n" "make -s -j2" "$(ms "$mk_best")" "$(ms "$mk_med")"
	if [ "$nj_best" -gt 0 ]; then
		printf "  %-34s %10s %10s   target <= 2.5x: %s\n" "sluice / ninja" \
			"$(ratio "$s_best" "$nj_best")" "$(ratio "$s_med" "$nj_med")" \
			"$(verdict "$(awk -v a="$s_med" -v b="$nj_med" 'BEGIN { print (a <= 2.5 * b) }')")"
	fi
	printf "  %-34s %10s %10s\n" "sluice / make" "$(ratio "$s_best" "$mk_best")" \
		"$(ratio "$s_med" "$mk_med")"
	printf "  %-34s %10s   (best of 3; per-step path, no target)\n" "sluice plan, all cached" \
		"$(ms "$plan_best")"
	printf "  %-34s %10s   (%s; no target)\n" "sluice run, one input changed" "$(ms "$changed_us")" \
		"$changed_summary"
	printf "  %-34s %10s   ninja %s (setup)\n" "first full run: sluice" "$(ms "$first_us")" \
		"$(ms "$nj_first_us")"
done

# ---- 2. and 3. hashing a 1 GiB file ---------------------------------------------
if [ ! -x "$hashbench" ]; then
	echo "(hashing skipped: $hashbench missing; \`make bench\` builds it)"
	exit 0
fi
f=$dir/data.bin
head -c "${mb}M" /dev/urandom >"$f"
cat "$f" >/dev/null # page cache, for every contender
bytes=$(stat -c %s "$f")
out=$("$hashbench" sha256 "$f" 3)
hb_best=$(echo "$out" | sed -n 's/.*best_s=\([0-9.]*\).*/\1/p')
hb_med=$(echo "$out" | sed -n 's/.*median_s=\([0-9.]*\).*/\1/p')
hb_hex=$(echo "$out" | sed -n 's/.*sha256=\([0-9a-f]*\).*/\1/p')
sample 3 openssl dgst -sha256 "$f"
os_best=$best_us os_med=$med_us
os_hex=$(openssl dgst -sha256 -r "$f" | cut -d' ' -f1)
sample 1 sha256sum "$f"
ss_best=$best_us
ss_hex=$(sha256sum "$f" | cut -d' ' -f1)
[ "$hb_hex" = "$os_hex" ] && [ "$hb_hex" = "$ss_hex" ] ||
	echo "(hashes differ: sluice $hb_hex, openssl $os_hex, sha256sum $ss_hex)"
mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
echo "SHA-256 of a $mb MiB file from the page cache:"
printf "  %-34s %10s %10s\n" "" best median
printf "  %-34s %10s %10s\n" "sluice hash_file_sha256 (3 runs)" "$(mbs "$hb_best")" "$(mbs "$hb_med")"
printf "  %-34s %10s %10s\n" "openssl dgst -sha256 (3 runs)" \
	"$(mbs "$(awk -v u="$os_best" 'BEGIN { print u / 1e6 }')")" \
	"$(mbs "$(awk -v u="$os_med" 'BEGIN { print u / 1e6 }')")"
printf "  %-34s %10s\n" "sha256sum (1 run)" "$(mbs "$(awk -v u="$ss_best" 'BEGIN { print u / 1e6 }')")"
# OpenSSL's hashing alone, no file reading: the ceiling for everyone above.
speed=$(openssl speed -seconds 2 -bytes 1048576 -evp sha256 2>/dev/null |
	awk '/^sha256/ { sub("k", "", $2); print $2 * 1000 }')
[ -n "$speed" ] && printf "  %-34s %10s   (in memory, no I/O; for reference)\n" \
	"openssl speed -evp sha256, 1 MiB" "$(awk -v b="$speed" 'BEGIN { printf "%.0f MB/s", b / 1e6 }')"
printf "  %-34s %10s %10s   target >= 90%%: %s\n" "sluice / openssl throughput" \
	"$(awk -v a="$hb_best" -v u="$os_best" 'BEGIN { printf "%.0f%%", 100 * u / 1e6 / a }')" \
	"$(awk -v a="$hb_med" -v u="$os_med" 'BEGIN { printf "%.0f%%", 100 * u / 1e6 / a }')" \
	"$(verdict "$(awk -v a="$hb_med" -v u="$os_med" 'BEGIN { print (u / 1e6 / a >= 0.9) }')")"

out=$("$hashbench" statcache "$f" "$dir/state" 1000)
first_s=$(echo "$out" | sed -n 's/.*first_s=\([0-9.]*\).*/\1/p')
per_s=$(echo "$out" | sed -n 's/.*per_call_s=\([0-9.]*\).*/\1/p')
echo "re-checking the unchanged $mb MiB file through the stat cache (filehash_path):"
printf "  %-34s %10s\n" "first call (hashes, saves)" "$(awk -v s="$first_s" 'BEGIN { printf "%.1f ms", s * 1000 }')"
printf "  %-34s %10s   target < 1 ms: %s\n" "per call, mean of 1000" \
	"$(awk -v s="$per_s" 'BEGIN { printf "%.1f us", s * 1e6 }')" \
	"$(verdict "$(awk -v s="$per_s" 'BEGIN { print (s < 0.001) }')")"
