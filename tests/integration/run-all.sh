#!/usr/bin/env bash
# Runs every tests/integration/t*.sh with $SLUICE pointing at the binary under
# test.  Each script runs in its own scratch directory ($T) and exits 0 (pass),
# 77 (skip, with a reason on stderr: a missing kernel feature skips loudly) or
# anything else (fail).  Prints "N passed, N failed, N skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SLUICE:?set SLUICE to the sluice binary}"
export SLUICE TESTS_DIR="$here/.." PATH="$(dirname "$SLUICE"):$PATH"
pass=0 fail=0 skip=0 failed=()
filter=${1:-}
for t in "$here"/t*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$filter" ] && [[ $name != *$filter* ]] && continue
	T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it.XXXXXX")
	start=$(date +%s%N)
	( cd "$T" && T="$T" timeout 600 bash "$t" ) >"$T.log" 2>&1
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $name (${ms} ms)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -1 "$T.log")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc)"; sed 's/^/    /' "$T.log" | tail -40 ;;
	esac
	rm -rf "$T" "$T.log"
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail = 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
