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

# unpriv_user: an unprivileged user made for this test, and a box for it:
# $BOX (mode 755, below /var/tmp) with $BOX/sluice (a world-readable copy of
# the binary), $BOX/ws (a workspace the user owns) and $BOX/home.  Sets U and
# U_UID; `as_user CMD...` runs CMD as U with a clean environment (pass
# HOME=... PATH=... through env).  Skips (exit 77) when not root or when the
# kernel refuses user namespaces to unprivileged users.  Call
# unpriv_cleanup from the test's EXIT trap: it kills U's processes and
# removes the user and the box.
unpriv_user() {
	[ "$(id -u)" = 0 ] || skip "needs root to create the test user"
	command -v useradd >/dev/null && command -v setpriv >/dev/null ||
		skip "useradd or setpriv missing"
	U=sluice-t$$
	useradd --system --no-create-home --shell /usr/sbin/nologin "$U" || fail "useradd $U"
	U_MADE=1
	U_UID=$(id -u "$U")
	if ! as_user unshare -U true 2>/dev/null; then
		unpriv_cleanup
		skip "the kernel refuses user namespaces to unprivileged users"
	fi
	BOX=$(mktemp -d /var/tmp/sluice-unpriv.XXXXXX)
	chmod 755 "$BOX"
	cp "$SLUICE" "$BOX/sluice"
	chmod 755 "$BOX/sluice"
	mkdir -p "$BOX/ws" "$BOX/home"
	chown -R "$U:" "$BOX/ws" "$BOX/home"
	chmod 700 "$BOX/home"
}
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups --reset-env "$@"; }
unpriv_cleanup() {
	[ -n "${U_MADE:-}" ] || return 0
	pkill -KILL -u "$U_UID" 2>/dev/null || true
	userdel "$U" 2>/dev/null || true
	[ -n "${BOX:-}" ] && rm -rf "$BOX"
	U_MADE=
}

# sluice_as DIR ARGS...: sluice in DIR as $WHO (root, or the unpriv_user U
# with its copy $BOX/sluice; DIR is chowned to U first), under a timeout of
# ${SL_TIMEOUT:-60} s (killed 5 s later), with the variables of ${SL_ENV:-}
# (NAME=VALUE words) in its environment.  Sets $RC, $OUT (stdout), $ERR
# (stderr); a run that hit the timeout fails the test.
sluice_as() {
	local dir=$1 t=${SL_TIMEOUT:-60}
	shift
	[ "$WHO" = root ] || chown -R "$U:" "$dir"
	set +e
	if [ "$WHO" = root ]; then
		# shellcheck disable=SC2086
		(cd "$dir" && env ${SL_ENV:-} timeout -k 5 "$t" "$SLUICE" "$@") >"$T/sl.out" 2>"$T/sl.err"
	else
		# shellcheck disable=SC2086
		as_user env HOME="$BOX/home" PATH=/usr/bin:/bin ${SL_ENV:-} \
			sh -c 'cd "$0" && exec timeout -k 5 "$@"' "$dir" "$t" "$BOX/sluice" "$@" \
			>"$T/sl.out" 2>"$T/sl.err"
	fi
	RC=$?
	set -e
	OUT=$(cat "$T/sl.out")
	ERR=$(cat "$T/sl.err")
	[ "$RC" != 124 ] && [ "$RC" != 137 ] || fail "sluice $* hung (as $WHO): $ERR"
}

# json_step_field STEP KEY: one field of a step in $OUT (run --json)
json_step_field() {
	/usr/bin/python3 -c 'import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])["steps"]}
print(s[sys.argv[2]].get(sys.argv[3]) or "")' "$OUT" "$1" "$2"
}

# new_cgroups BEFORE: the sluice-* cgroups that exist now and were not in
# BEFORE (a list from sluice_cgroups).  Cgroups that went away meanwhile do
# not count: any sluice that starts sandboxed steps removes the empty ones
# of orchestrators killed with -9.
sluice_cgroups() { find /sys/fs/cgroup -maxdepth 5 -name "sluice-*" -type d 2>/dev/null | sort; }
new_cgroups() { comm -13 <(echo "$1") <(sluice_cgroups); }
