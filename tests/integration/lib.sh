# Helpers for integration tests; source it: . "$TESTS_DIR/integration/lib.sh"
# Every helper prints what it expected and what it got before failing.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*" >&2; exit 77; }

# run_sluice EXPECTED_EXIT ARGS...: runs sluice, keeps stdout in $OUT and stderr in $ERR
run_sluice() {
	local want=$1; shift
	set +e
	"$SLUICE" "$@" >"$T/.out" 2>"$T/.err"
	local rc=$?
	set -e
	OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
	if [ "$rc" != "$want" ]; then
		echo "sluice $* exited $rc, expected $want" >&2
		echo "--- stdout"; cat "$T/.out"; echo "--- stderr"; cat "$T/.err"
		exit 1
	fi
}

# expect_contains HAYSTACK NEEDLE [WHAT]
expect_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "${3:-output} does not contain '$2'; it was:
$1" ;;
	esac
}

expect_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-output} contains '$2'; it was:
$1" ;;
	esac
}

expect_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}

expect_file() { [ -e "$1" ] || fail "missing file $1"; }
expect_no_file() { [ ! -e "$1" ] || fail "file $1 should not exist"; }

# alive PID: the process exists and is not a zombie (pid 1 may not reap here)
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
