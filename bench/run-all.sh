#!/usr/bin/env bash
# Runs every bench/bench_*.sh; each prints its own table of numbers and
# ratios against make, ninja, snakemake, bwrap, openssl, scipy or the sqlite3 shell
# (bench_runs.sh: the experiment table over 10,000 runs) run side by side.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SLUICE:?set SLUICE to the sluice binary}"
export SLUICE BENCH_DIR="$here"
for b in "$here"/bench_*.sh; do
	[ -e "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || echo "(benchmark $(basename "$b") failed: exit $?)"
done
