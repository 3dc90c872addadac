# Helpers for the benchmarks; source it: . "$(dirname "$0")/lib.sh"

now_us() { echo "${EPOCHREALTIME/./}"; }
# sample N CMD...: run CMD N times (output discarded); sets best_us and med_us.
sample() {
	local n=$1 i s t=()
	shift
	for ((i = 0; i < n; i++)); do
		s=$(now_us)
		"$@" >/dev/null 2>&1 || { echo "(failed: $* in $PWD)" >&2; return 1; }
		t+=($(($(now_us) - s)))
	done
	mapfile -t t < <(printf '%s\n' "${t[@]}" | sort -n)
	best_us=${t[0]} med_us=${t[n / 2]}
}
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
