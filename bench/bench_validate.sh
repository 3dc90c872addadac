#!/usr/bin/env bash
# Validating a generated 10,000-step pipeline: wall time and peak memory of
# `sluice validate`, next to libyaml-only parsing cost (python3-yaml's C
# loader when available) for scale.  Target: < 150 ms and < 100 MB.
set -eu
: "${SLUICE:?}"
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/sluice-bench-validate.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for shape in layered fanout; do
	/usr/bin/python3 "$here/gen_dag.py" $shape 10000 "$dir/$shape" >/dev/null
	"$SLUICE" validate -q "$dir/$shape/pipeline.yaml"
	best=999999
	for _ in 1 2 3 4 5; do
		s=$(date +%s%N)
		"$SLUICE" validate -q "$dir/$shape/pipeline.yaml"
		e=$(( ($(date +%s%N) - s) / 1000 ))
		[ $e -lt $best ] && best=$e
	done
	rss=$(/usr/bin/time -f %M "$SLUICE" validate -q "$dir/$shape/pipeline.yaml" 2>&1 >/dev/null | tail -1)
	size=$(stat -c %s "$dir/$shape/pipeline.yaml")
	pbest=999999
	for _ in 1 2 3 4 5; do
		s=$(date +%s%N)
		"$SLUICE" plan "$dir/$shape/pipeline.yaml" >/dev/null
		e=$(( ($(date +%s%N) - s) / 1000 ))
		[ $e -lt $pbest ] && pbest=$e
	done
	printf "plan     %-8s 10000 steps: best of 5 %d.%01d ms (target 100 ms)\n" $shape \
		$((pbest / 1000)) $((pbest % 1000 / 100))
	printf "validate %-8s 10000 steps (%d KB file): best of 5 %d.%01d ms, peak RSS %d MB (targets 150 ms, 100 MB)\n" \
		$shape $((size / 1024)) $((best / 1000)) $((best % 1000 / 100)) $((rss / 1024))
done
