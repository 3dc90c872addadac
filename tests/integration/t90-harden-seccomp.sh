#!/usr/bin/env bash
# seccomp at least as strict as Docker's default profile (issue 11, item 9),
# as root and as an unprivileged user: a step that tries io_uring, a
# personality Docker refuses (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC), AF_ALG
# and AF_VSOCK sockets (also with high bits in the family), NUMA policy,
# another process's fds and memory advice (pidfd_getfd, process_madvise,
# kcmp), sysfs, and a syscall newer than the filter's libseccomp gets EPERM
# (ENOSYS for clone3 and for the newer syscall), while the personality
# values Docker allows still work.  Each attack is first shown to work on
# the host, outside the sandbox, where the kernel has the call.
set -eu
. "$TESTS_DIR/integration/lib.sh"
command -v cc >/dev/null || skip "no C compiler (cc) to build the probe"
[ "$(uname -m)" = x86_64 ] || skip "the probe uses x86_64 syscall numbers"

# one syscall per line: "NAME: ok" or "NAME: ERRNO"
cat > probe.c <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void say(const char *name, long r)
{
	printf("%s: %s\n", name, r < 0 ? strerrorname_np(errno) : "ok");
}
#define TRY(name, ...) (errno = 0, say(name, syscall(__VA_ARGS__)))

int main(void)
{
	char buf[4096] = {0};
	TRY("getpid", SYS_getpid);
	TRY("io_uring_setup", 425, 1, buf);
	TRY("io_uring_enter", 426, -1, 0, 0, 0, NULL, 0);
	TRY("io_uring_register", 427, -1, 0, NULL, 0);
	TRY("personality(query)", SYS_personality, 0xffffffffUL);
	TRY("personality(PER_LINUX32)", SYS_personality, 0x0008UL);
	TRY("personality(UNAME26)", SYS_personality, 0x20000UL);
	TRY("personality(PER_LINUX32|UNAME26)", SYS_personality, 0x20008UL);
	TRY("personality(PER_LINUX)", SYS_personality, 0x0UL);
	TRY("personality(ADDR_NO_RANDOMIZE)", SYS_personality, 0x0040000UL);
	TRY("personality(READ_IMPLIES_EXEC)", SYS_personality, 0x0400000UL);
	TRY("personality(PER_LINUX32|1)", SYS_personality, 0x0009UL);
	TRY("personality(0xfffffffe)", SYS_personality, 0xfffffffeUL);
	TRY("personality(high|ADDR_NO_RANDOMIZE)", SYS_personality, 0x100040000UL);
	syscall(SYS_personality, 0x0UL);
	TRY("socket(AF_UNIX)", SYS_socket, 1, 1, 0);
	TRY("socket(AF_ALG)", SYS_socket, 38, 5, 0);
	TRY("socket(AF_VSOCK)", SYS_socket, 40, 1, 0);
	TRY("socket(high|AF_VSOCK)", SYS_socket, 0x100000028UL, 1, 0);
	TRY("unshare(CLONE_NEWUSER)", SYS_unshare, CLONE_NEWUSER);
	TRY("clone3", 435, buf, 88);
	TRY("get_mempolicy", SYS_get_mempolicy, NULL, NULL, 0, NULL, 0);
	TRY("set_mempolicy", SYS_set_mempolicy, 0, NULL, 0);
	TRY("move_pages", SYS_move_pages, 0, 0, NULL, NULL, NULL, 0);
	int self = (int)syscall(434 /* pidfd_open */, getpid(), 0);
	TRY("pidfd_getfd", 438, self, 1, 0);
	TRY("kcmp", SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 1, 1);
	TRY("process_madvise", 440, self, NULL, 0, 0, 0);
	TRY("sysfs", SYS_sysfs, 3);
	TRY("syslog", SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0);
	TRY("userfaultfd", SYS_userfaultfd, 0);
	TRY("name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, ".", buf, buf + 64, 0);
	TRY("open_by_handle_at", SYS_open_by_handle_at, AT_FDCWD, buf, 0);
	TRY("keyctl", SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0);
	TRY("bpf", SYS_bpf, 0, buf, 0);
	TRY("perf_event_open", SYS_perf_event_open, buf, 0, -1, -1, 0);
	TRY("fanotify_init", SYS_fanotify_init, 0, 0);
	TRY("mount_setattr", 442, -1, "", 0, NULL, 0);
	TRY("quotactl_fd", 443, -1, 0, 0, NULL);
	TRY("vhangup", SYS_vhangup);
	TRY("sethostname", SYS_sethostname, "x", 1);
	/* Linux 6.8, newer than the libseccomp the filter may be built with */
	TRY("lsm_list_modules", 461, buf, buf + 256, 0);
	return 0;
}
C
cc -O1 -o probe probe.c || fail "the probe does not build"

# what the sandbox must answer; everything not listed is EPERM
expected() {
	case "$1" in
	getpid | "personality(query)" | "personality(PER_LINUX32)" | "personality(UNAME26)" | \
		"personality(PER_LINUX32|UNAME26)" | "personality(PER_LINUX)" | "socket(AF_UNIX)")
		echo ok ;;
	clone3 | lsm_list_modules) echo ENOSYS ;;
	*) echo EPERM ;;
	esac
}

# check LOG (a step's log: a time stamp, then the probe's line) against expected()
check_probe() {
	local log=$1 who=$2 n=0 name got
	while IFS= read -r line; do
		case "$line" in *": "*) ;; *) continue ;; esac
		name=${line%%: *} got=${line#*: }
		grep -q "^$name: " host.txt || continue
		expect_eq "$got" "$(expected "$name")" "$who: $name"
		n=$((n + 1))
	done < <(sed -E 's/^[0-9]{4}-[0-9T:.-]+Z //' <<<"$log")
	[ "$n" = "$(grep -c ': ' host.txt)" ] || fail "$who: the probe said $n of $(grep -c ': ' host.txt) lines:
$log"
}

# the attacks, outside the sandbox: these calls work on the host
./probe > host.txt
cat host.txt >&2
reachable=0
for name in io_uring_setup "personality(ADDR_NO_RANDOMIZE)" "personality(READ_IMPLIES_EXEC)" \
	"socket(AF_VSOCK)" "socket(high|AF_VSOCK)" get_mempolicy set_mempolicy move_pages \
	pidfd_getfd kcmp process_madvise sysfs lsm_list_modules; do
	case "$(grep "^$name: " host.txt)" in
	*": ok" | *": E2BIG") reachable=$((reachable + 1)) ;;
	*) echo "note: $name does not work on this host even unsandboxed: $(grep "^$name: " host.txt)" >&2 ;;
	esac
done
[ "$reachable" -ge 5 ] || fail "only $reachable of the attacks work on the host; the test shows nothing"

mkdir ws && cp probe host.txt ws/ && cd ws
cat > pipeline.yaml <<'YAML'
name: seccomp
steps:
  probe: {run: ./probe}
YAML
run_sluice 0 run pipeline.yaml --ci
run_sluice 0 logs 1 probe
check_probe "$OUT" root

# the same as an unprivileged user
cd "$T"
unpriv_user
trap unpriv_cleanup EXIT
cp probe host.txt ws/pipeline.yaml "$BOX/ws/"
chown -R "$U:" "$BOX/ws"
cd "$BOX/ws"
set +e
as_user env HOME="$BOX/home" PATH=/usr/bin:/bin "$BOX/sluice" run pipeline.yaml --ci > "$T/u.out" 2>&1
rc=$?
set -e
[ $rc = 0 ] || fail "as $U: run exited $rc: $(cat "$T/u.out")"
log=$(as_user env HOME="$BOX/home" "$BOX/sluice" logs 1 probe)
check_probe "$log" "$U"
