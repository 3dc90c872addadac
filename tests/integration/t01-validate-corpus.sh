#!/usr/bin/env bash
# Every broken pipeline in tests/cases/invalid must fail validation with exit 2
# and print each "# expect: LINE:COL: fragment" line of its header; every
# pipeline in tests/cases/valid must pass.
set -eu
. "$TESTS_DIR/integration/lib.sh"
cases=$TESTS_DIR/cases
n=0
for f in "$cases"/invalid/*.yaml; do
	n=$((n + 1))
	rel=${f#"$cases"/}
	set +e
	"$SLUICE" validate "$f" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ $rc = 2 ] || fail "$rel: exit $rc, expected 2; stderr: $(cat "$T/err")"
	grep -q '^# expect: ' "$f" || fail "$rel has no '# expect:' line"
	while IFS= read -r line; do
		want=${line#\# expect: }
		# "LINE:COL: fragment": a line at exactly that position holds the fragment
		if [[ $want =~ ^([0-9]+:[0-9]+):\ (.*)$ ]]; then
			grep -F -- "$f:${BASH_REMATCH[1]}: " "$T/err" | grep -qF -- "${BASH_REMATCH[2]}" ||
				fail "$rel: expected '$want' in:
$(cat "$T/err")"
		else
			grep -qF -- "$want" "$T/err" || fail "$rel: expected '$want' in:
$(cat "$T/err")"
		fi
	done < <(grep '^# expect: ' "$f")
done
[ $n -ge 30 ] || fail "only $n broken pipelines in the corpus"
for f in "$cases"/valid/*.yaml; do
	"$SLUICE" validate "$f" >"$T/out" 2>"$T/err" || fail "${f#"$cases"/} should be valid:
$(cat "$T/err")"
done
echo "$n broken and $(ls "$cases"/valid/*.yaml | wc -l) good pipelines checked"
