/*
 * sandbox_seccomp.c — the step's seccomp filter, compiled once per
 * orchestrator with libseccomp and exported as BPF, so a child only loads it
 * (one prctl, about 0.1 ms cheaper per step than building it in the child;
 * docs/benchmarks.md).
 *
 * At least as strict as Docker's default profile (moby
 * profiles/seccomp/default.json, for a container without added
 * capabilities; docs/sandbox.md has the syscall-by-syscall comparison).
 * Docker's profile is an allow list; ours names what it denies, because a
 * deny list reads as a statement of what a step may not do, and the three
 * rules below close what a deny list alone would leave open:
 *
 *   - every syscall Docker does not allow without a capability is denied
 *     here (EPERM, as Docker says; ENOSYS for clone3, whose flags the filter
 *     cannot read, so libc falls back to clone);
 *   - arguments Docker restricts are restricted the same way or tighter:
 *     clone with any namespace flag, personality outside the five values
 *     Docker allows, socket for AF_ALG and AF_VSOCK;
 *   - a syscall newer than this libseccomp (numbered above the last one it
 *     knows on the native architecture) says ENOSYS, as runc answers for
 *     syscalls newer than its profile: the deny list cannot name what it
 *     does not know, and a kernel newer than the library has such calls.
 *
 * Only the native architecture is in the filter: a 32-bit syscall (int
 * 0x80, x32) kills the process.
 */
#include "sluice/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_SANITIZED 1
#endif
#endif

/* Syscalls denied outright (EPERM); names unknown to this libseccomp or arch
 * are skipped (the guard for unknown syscalls covers the newer ones). */
static const char *const denied[] = {
	/* the mount family, old and new API (Docker: CAP_SYS_ADMIN / CAP_SYS_CHROOT) */
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "open_tree_attr", "mount_setattr", "chroot",
	/* namespaces (Docker: CAP_SYS_ADMIN) */
	"unshare", "setns",
	/* keyrings: not namespaced (Docker: never) */
	"keyctl", "add_key", "request_key",
	/* kernel instrumentation and other processes' memory (Docker allows ptrace and
	 * process_vm_* from kernel 4.8, the rest needs CAP_SYS_PTRACE, CAP_BPF, ...) */
	"bpf", "perf_event_open", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"pidfd_getfd", "process_madvise", "lookup_dcookie", "fanotify_init", "syslog",
	"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules",
	/* io_uring runs syscalls the filter never sees (Docker: never) */
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* the machine itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff", "acct",
	"quotactl", "quotactl_fd", "iopl", "ioperm", "vhangup", "sethostname", "setdomainname",
	"nfsservctl", "uselib", "ustat", "sysfs", "_sysctl",
	/* unimplemented on Linux, listed so that no kernel ever gives them meaning */
	"afs_syscall", "getpmsg", "putpmsg", "security", "tuxcall", "vserver",
	/* NUMA memory policy of this and other processes (Docker: CAP_SYS_NICE) */
	"mbind", "set_mempolicy", "get_mempolicy", "set_mempolicy_home_node", "migrate_pages",
	"move_pages",
	/* clocks (Docker allows adjtimex and clock_adjtime to read; no step needs them) */
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
	/* file handles bypass path permissions; userfaultfd helps exploits */
	"open_by_handle_at", "name_to_handle_at", "userfaultfd", NULL};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, both, and
 * 0xffffffff (query).  Everything else (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...)
 * is EPERM.  Sorted. */
static const uint32_t personality_allowed[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* Address families Docker refuses to socket(2): the kernel crypto API and vsock. */
static const uint32_t socket_denied[] = {38 /* AF_ALG */, 40 /* AF_VSOCK */};

/* What the guard in front of libseccomp's program leaves to it: x32 calls carry this
 * bit in their number on x86_64, and libseccomp's program kills them. */
#define X32_SYSCALL_BIT 0x40000000u

static int deny_names(scmp_filter_ctx ctx)
{
	for (const char *const *n = denied; *n; n++) {
#ifdef SLUICE_SANITIZED
		/* a sanitizer build's built-in steps run sluice itself in the
		 * sandbox, and LeakSanitizer stops the world with ptrace at exit */
		if (!strcmp(*n, "ptrace"))
			continue;
#endif
		int nr = seccomp_syscall_resolve_name(*n);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue; /* not on this architecture */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* EPERM for every value of the low 32 bits of the first argument in [lo, hi],
 * as aligned blocks: one masked comparison each (libseccomp takes one
 * comparison per argument in a rule, and a deny list cannot say "all but
 * these"); the masks have no high bits, so those are ignored, as the kernel
 * ignores them for an int argument. */
static int deny_arg0_range(scmp_filter_ctx ctx, int nr, uint64_t lo, uint64_t hi)
{
	while (lo <= hi) {
		uint64_t size = 1;
		while (size < (1ull << 32) && lo % (size * 2) == 0 && lo + size * 2 - 1 <= hi)
			size *= 2;
		uint64_t mask = 0xffffffffull & ~(size - 1);
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
					  SCMP_A0_64(SCMP_CMP_MASKED_EQ, mask, lo));
		if (rc < 0)
			return rc;
		lo += size;
	}
	return 0;
}

/* The kernel reads personality's argument as an unsigned int, so the low 32
 * bits decide; every value between the allowed ones is denied. */
static int limit_personality(scmp_filter_ctx ctx)
{
	int nr = seccomp_syscall_resolve_name("personality");
	if (nr < 0)
		return 0;
	uint64_t next = 0;
	size_t n = sizeof(personality_allowed) / sizeof(personality_allowed[0]);
	for (size_t k = 0; k < n; k++) {
		if (personality_allowed[k] > next) {
			int rc = deny_arg0_range(ctx, nr, next, personality_allowed[k] - 1ull);
			if (rc < 0)
				return rc;
		}
		next = personality_allowed[k] + 1ull;
	}
	return next <= 0xffffffffull ? deny_arg0_range(ctx, nr, next, 0xffffffffull) : 0;
}

/* socket's family is an int: the kernel drops the high 32 bits of the register,
 * so the rule compares only the low ones (an EQ would compare all 64, and
 * 0x100000000 | AF_VSOCK would slip past it). */
static int limit_socket(scmp_filter_ctx ctx)
{
	int nr = seccomp_syscall_resolve_name("socket");
	if (nr < 0)
		return 0; /* socketcall architectures: not in this filter */
	for (size_t k = 0; k < sizeof(socket_denied) / sizeof(socket_denied[0]); k++) {
		int rc = seccomp_rule_add(
			ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
			SCMP_A0_64(SCMP_CMP_MASKED_EQ, 0xffffffffull, socket_denied[k]));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* clone with any namespace flag (one rule per flag: libseccomp has no "masked
 * not equal"); clone3 hides its flags in memory the filter cannot read, so it
 * says ENOSYS and libc falls back to clone. */
static int limit_clone(scmp_filter_ctx ctx)
{
	static const unsigned long ns_flags[] = {CLONE_NEWNS,     CLONE_NEWUTS, CLONE_NEWIPC,
						 CLONE_NEWUSER,   CLONE_NEWPID, CLONE_NEWNET,
						 CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */};
	for (size_t k = 0; k < sizeof(ns_flags) / sizeof(ns_flags[0]); k++) {
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					  SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[k], ns_flags[k]));
		if (rc < 0)
			return rc;
	}
	int nr3 = seccomp_syscall_resolve_name("clone3");
	return nr3 >= 0 ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr3, 0) : 0;
}

static int build_rules(scmp_filter_ctx ctx, sl_error **err)
{
	int rc;
	if ((rc = deny_names(ctx)) < 0)
		return sl_error_errno(err, -rc, "seccomp rule");
	if ((rc = limit_personality(ctx)) < 0)
		return sl_error_errno(err, -rc, "seccomp rule for personality");
	if ((rc = limit_socket(ctx)) < 0)
		return sl_error_errno(err, -rc, "seccomp rule for socket");
	if ((rc = limit_clone(ctx)) < 0)
		return sl_error_errno(err, -rc, "seccomp rule for clone");
	return 0;
}

/* The lowest syscall number above every one this libseccomp knows on the
 * native architecture, or 0 where none is known below 1024 (architectures
 * whose numbers start higher, such as MIPS: no guard there). */
static uint32_t first_unknown_syscall(void)
{
	for (int nr = 1023; nr >= 0; nr--) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name) {
			free(name);
			return (uint32_t)nr + 1;
		}
	}
	return 0;
}

/* The guard that runs before libseccomp's program: on the native architecture,
 * a syscall numbered at or above first (and not an x32 call) is ENOSYS.
 * Anything else falls through to the program that follows it. */
#define GUARD_LEN 6

static void write_guard(struct sock_filter *g, uint32_t arch, uint32_t first)
{
	const struct sock_filter guard[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, first, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	_Static_assert(sizeof(guard) == GUARD_LEN * sizeof(guard[0]), "GUARD_LEN");
	memcpy(g, guard, sizeof(guard));
}

/* libseccomp's program as BPF, read through a pipe (it writes to a file
 * descriptor) into a malloc'd *out, after GUARD_LEN instructions of room for the
 * guard; *n is the program's length without that room. */
static int export_program(scmp_filter_ctx ctx, struct sock_filter **out, size_t *n, sl_error **err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return sl_error_errno(err, errno, "pipe");
	/* a program the kernel takes (BPF_MAXINSNS, 32 KiB) fits in a pipe */
	int rc = seccomp_export_bpf(ctx, p[1]);
	close(p[1]);
	if (rc < 0) {
		close(p[0]);
		return sl_error_errno(err, -rc, "seccomp_export_bpf");
	}
	size_t room = GUARD_LEN * sizeof(struct sock_filter);
	size_t cap = 16384, len = room;
	char *buf = malloc(cap);
	while (buf) {
		if (len == cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger)
				free(buf);
			buf = bigger;
			continue;
		}
		ssize_t r = read(p[0], buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	size_t bytes = buf ? len - room : 0;
	if (!buf || bytes == 0 || bytes % sizeof(struct sock_filter)) {
		free(buf);
		return sl_error_make(err, "seccomp_export_bpf: %zu bytes", bytes);
	}
	*out = (struct sock_filter *)buf;
	*n = bytes / sizeof(struct sock_filter);
	return 0;
}

int sandbox_seccomp_compile(struct sock_fprog *prog, sl_error **err)
{
	memset(prog, 0, sizeof(*prog));
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return sl_error_make(err, "seccomp_init failed");
	/* 32-bit and x32 calls: the process dies */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
		seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL);
	/* the child sets no_new_privs itself before loading */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 5)
	/* a binary tree of syscall numbers: every allowed call would otherwise walk
	 * the whole deny list; older libseccomp builds the list, which still works */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
#endif
	struct sock_filter *f = NULL;
	size_t n = 0;
	if (build_rules(ctx, err) < 0 || export_program(ctx, &f, &n, err) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	uint32_t first = first_unknown_syscall();
	size_t total = n;
	if (first) {
		write_guard(f, seccomp_arch_native(), first);
		total += GUARD_LEN;
	} else {
		memmove(f, f + GUARD_LEN, n * sizeof(*f));
	}
	if (total > BPF_MAXINSNS) {
		free(f);
		return sl_error_make(err,
				     "seccomp filter: %zu instructions, more than the kernel's %d",
				     total, BPF_MAXINSNS);
	}
	prog->filter = f;
	prog->len = (unsigned short)total;
	return 0;
}
