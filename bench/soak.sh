#!/usr/bin/env bash
# Soak: many runs of one 50-step pipeline with what goes wrong in real life
# in between — kill -9 of sluice at a random moment (then `sluice resume`),
# a step that floods its output, changed inputs, `sluice gc` next to runs.
# At the end: nothing lost (every output of every succeeded step is in the
# cache), the store sound (integrity_check, foreign_key_check), sluice's
# peak RSS flat from the first runs to the last.  Not part of `make test`
# (it takes minutes); `make bench` runs it with SOAK_RUNS (default 1000).
set -eu
: "${SLUICE:?}"
runs=${SOAK_RUNS:-1000}
dir=$(mktemp -d /tmp/sluice-soak.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
/usr/bin/python3 - <<'PY'
import random
rng = random.Random(7)
lines = ["name: soak", "steps:"]
for i in range(50):
    deps = sorted(rng.sample(range(i), min(2, i))) if i else []
    ins = [f"out/s{d}.txt" for d in deps] + ["in/seed.txt"]
    if i == 17:  # a step that floods its log past max_log_size
        run = "sh -c 'yes soak | head -c 3000000; cat in/seed.txt > out/s17.txt'"
        extra = ["    max_log_size: 256K"]
    else:
        run = f"sh -c 'cat {' '.join(ins)} | md5sum > out/s{i}.txt'"
        extra = []
    lines += [f"  s{i}:", f"    run: {run}", f"    inputs: [{', '.join(ins)}]",
              f"    outputs: [out/s{i}.txt]"] + extra
open("pipeline.yaml", "w").write("\n".join(lines) + "\n")
PY
mkdir -p in out
echo 0 >in/seed.txt
rss() { awk '{print $1}' "$1" 2>/dev/null || echo 0; }
: >rss.txt
killed=0 resumed=0 gcs=0 changed=0
RANDOM=42
for i in $(seq 1 "$runs"); do
	r=$((RANDOM % 10))
	if [ $r -lt 3 ]; then # a changed input: everything downstream runs
		echo "$i" >in/seed.txt
		changed=$((changed + 1))
	fi
	if [ $r -eq 3 ] || [ $r -eq 4 ]; then # kill -9 at a random moment, then resume
		echo "$i" >in/seed.txt
		"$SLUICE" run pipeline.yaml --ci >/dev/null 2>run.err &
		pid=$!
		sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		killed=$((killed + 1))
		id=$(sed -n 's/^sluice: run \([0-9]*\) of.*/\1/p' run.err | head -1)
		if [ -n "$id" ] && "$SLUICE" status "$id" 2>/dev/null | grep -q interrupted; then
			/usr/bin/time -f %M -o t.rss "$SLUICE" resume "$id" --ci >/dev/null 2>res.err ||
				{ echo "soak: resume $id failed:"; cat res.err; exit 1; }
			resumed=$((resumed + 1))
			rss t.rss >>rss.txt
		fi
		continue
	fi
	/usr/bin/time -f %M -o t.rss "$SLUICE" run pipeline.yaml --ci >/dev/null 2>run.err ||
		{ echo "soak: run $i failed:"; cat run.err; exit 1; }
	rss t.rss >>rss.txt
	if [ $r -eq 5 ]; then
		"$SLUICE" gc >/dev/null 2>gc.err || { echo "soak: gc failed:"; cat gc.err; exit 1; }
		gcs=$((gcs + 1))
	fi
	if [ $((i % 100)) -eq 0 ]; then
		[ "$(sqlite3 .sluice/state.db 'pragma integrity_check')" = ok ] ||
			{ echo "soak: integrity_check failed after $i runs"; exit 1; }
	fi
done
# nothing lost: every file of every succeeded or cached step is in the cache
missing=0 total=0
while read -r hex; do
	total=$((total + 1))
	p=.sluice/cache/${hex:0:2}/${hex:2}
	[ -e "$p" ] || [ -e "$p.dir" ] || missing=$((missing + 1))
done < <(sqlite3 .sluice/state.db "select distinct f.sha256 from output_files f join steps s
	on s.run_id = f.run_id and s.name = f.step where s.status in ('succeeded', 'cached')")
integrity=$(sqlite3 .sluice/state.db 'pragma integrity_check')
fk=$(sqlite3 .sluice/state.db 'pragma foreign_key_check' | wc -l)
n=$(wc -l <rss.txt)
q=$((n / 10 > 0 ? n / 10 : 1))
first=$(head -n "$q" rss.txt | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
last=$(tail -n "$q" rss.txt | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf "runs %d (killed -9 %d, resumed %d, gc %d, inputs changed %d)\n" "$runs" $killed $resumed $gcs $changed
printf "outputs recorded %d, missing from the cache %d\n" $total $missing
printf "integrity_check %s, foreign_key_check rows %d\n" "$integrity" "$fk"
printf "peak RSS median: first tenth %d KB, last tenth %d KB (%s)\n" "$first" "$last" \
	"$(awk -v a="$last" -v b="$first" 'BEGIN{printf "%.2fx", a/b}')"
[ $missing -eq 0 ] && [ "$integrity" = ok ] && [ "$fk" -eq 0 ]
