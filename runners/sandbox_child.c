/*
 * sandbox_child.c — the sandbox between clone and exec: pid 1 of the new
 * namespaces (sandbox_child_main, cloned by sandbox_helper.c) builds the
 * step's world from the prepared plan, then vforks the step (step_main),
 * which sets up its session, signals and seccomp filter and execs.
 *
 * THE RULE OF THIS FILE: everything in it runs in a child of a clone or a
 * vfork of a process that may have had threads and held locks, so it calls
 * only async-signal-safe functions (system calls, the mem and str family,
 * the sig*set family, fs_mkdir_p) and allocates nothing: no heap, no stdio,
 * no arena; buffers are on the stack, everything else comes from the plan.
 * The plan is only read (the vforked step shares pid 1's memory).  A
 * failure is reported as {stage, errno} on the report pipe by child_fail,
 * never printed.  `make lint-child` (run by `make test`) catches the calls
 * that break the rule most often; anything that needs more belongs in
 * local.c, before clone.
 *
 * sandbox_spawn_init, the clone itself, is not here: it runs in the parent
 * (the orchestrator or the helper), formats messages and writes the uid
 * maps, so it lives with the helper in sandbox_helper.c.
 */
#include "sandbox_int.h"

#include "sluice/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV  0x00000004
#define MOUNT_ATTR_IDMAP  0x00100000
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE   1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef SYS_open_tree
#define SYS_open_tree  428
#define SYS_move_mount 429
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self  446
#endif
/* Landlock ABI 6 (Linux 6.12): scopes; older headers lack them */
#define SB_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SB_LANDLOCK_SCOPE_SIGNAL               (1ULL << 1)
struct sb_landlock_ruleset_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};

/* pid 1's fds once they are in place (see sandbox_child_main) */
enum { FD_REPORT = 3, FD_OUTFILE = 4, FD_PARAMS = 5, FD_USER = 6, FD_IDMAP = 7, FD_FIRST_FREE };

static __attribute__((noreturn)) void child_fail(const struct plan *pl, int fd, int stage, int e)
{
	struct report rep = {REP_SETUP, stage, e, 0};
	if (write(fd, &rep, sizeof(rep)) < 0) {
		/* nobody to tell */
	}
	_exit(127);
}

#define STAGE(pl, fd, stage, call)                                                                 \
	do {                                                                                       \
		if ((pl)->fail_stage == (stage))                                                   \
			child_fail((pl), (fd), (stage), EPERM);                                    \
		if ((call) < 0)                                                                    \
			child_fail((pl), (fd), (stage), errno);                                    \
	} while (0)

static int touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Copy the open file in to a new file at path, with a stack buffer. */
static int copy_into(int in, const char *path, mode_t mode)
{
	int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		return -1;
	char buf[8192];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	int e = errno;
	close(out);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* pid 1, after the step: its $SLUICE_OUTPUT back to the host's file (a
 * regular file only, at most OUTPUT_MAX: the step may have swapped in a
 * FIFO or a symlink). */
static void copy_back(const char *path, int out)
{
	int in = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return;
	struct stat st;
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
		char buf[8192];
		ssize_t n;
		size_t total = 0;
		while (total < OUTPUT_MAX && (n = read(in, buf, sizeof(buf))) > 0) {
			if (write(out, buf, (size_t)n) != n)
				break;
			total += (size_t)n;
		}
	}
	close(in);
}

static int bind_ro(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return -1;
	return mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL);
}

static int tmpfs(const char *dst, const char *opts, unsigned long flags)
{
	return mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | flags, opts);
}

/* A host tree, read-only, nosuid and nodev all the way down (its own
 * submounts included: a user namespace may not bind a tree without them). */
static int bind_tree_ro(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	struct mount_attr a = {.attr_set =
				       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, dst, AT_RECURSIVE, &a, sizeof(a));
}

/* A mount point for m: a directory, or an empty file for a file's bind. */
static int make_point(const struct mnt_op *m)
{
	if (!m->file)
		return fs_mkdir_p(m->dst, 0755);
	if (fs_mkdir_parents(m->dst, 0755) < 0)
		return -1;
	/* read-only: an existing file in a read-only tree is a mount point already */
	int fd = open(m->dst, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int hide(const char *dst)
{
	if (fs_mkdir_p(dst, 0755) < 0)
		return -1;
	return tmpfs(dst, "mode=0755,size=64k,nr_inodes=256", 0);
}

/* The tree at src, seen through the idmap user namespace (FD_IDMAP), at dst. */
static int bind_idmapped(const char *src, const char *dst)
{
	if (mkdir(dst, 0700) < 0)
		return -1;
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -1;
	struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = FD_IDMAP};
	int rc = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof(a));
	if (rc == 0)
		rc = (int)syscall(SYS_move_mount, fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* The workspace: read-only below, the attempt's upper dir above, nosuid
 * and nodev.  For a root-owned workspace of a step that runs as another uid,
 * both layers are idmapped first (their files are the step's), and the two
 * idmapped mounts go again once the overlay holds them. */
static void mount_workspace(const struct plan *pl, int fd)
{
	STAGE(pl, fd, SB_OVERLAY, fs_mkdir_p(pl->root_ws, 0755));
	if (pl->fd_idmap >= 0) {
		STAGE(pl, fd, SB_IDMAP, bind_idmapped(pl->idmap_ws_src, pl->idmap_ws_dst));
		STAGE(pl, fd, SB_IDMAP, bind_idmapped(pl->idmap_att_src, pl->idmap_att_dst));
	}
	STAGE(pl, fd, SB_OVERLAY,
	      mount("overlay", pl->root_ws, "overlay", MS_NOSUID | MS_NODEV, pl->ovl_opts));
	if (pl->fd_idmap >= 0) {
		STAGE(pl, fd, SB_IDMAP, umount2(pl->idmap_ws_dst, MNT_DETACH));
		STAGE(pl, fd, SB_IDMAP, umount2(pl->idmap_att_dst, MNT_DETACH));
		STAGE(pl, fd, SB_IDMAP, rmdir(pl->idmap_ws_dst));
		STAGE(pl, fd, SB_IDMAP, rmdir(pl->idmap_att_dst));
	}
}

static void run_ops(const struct plan *pl, int fd, size_t from, size_t to)
{
	for (size_t k = from; k < to; k++) {
		const struct mnt_op *m = &pl->mnt[k];
		switch (m->kind) {
		case MNT_LINK:
			STAGE(pl, fd, m->stage, symlink(m->src, m->dst));
			break;
		case MNT_BIND:
			STAGE(pl, fd, m->stage, make_point(m));
			STAGE(pl, fd, m->stage, bind_tree_ro(m->src, m->dst));
			break;
		case MNT_HIDE:
			STAGE(pl, fd, m->stage, hide(m->dst));
			break;
		case MNT_OVERLAY:
			mount_workspace(pl, fd);
			break;
		}
	}
}

/* The mounts made writable for what was made below them, read-only now:
 * the new root's tmpfs and the tmpfs mounts that hide. */
static int seal(const struct plan *pl)
{
	const unsigned long ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
	for (size_t k = pl->nbase; k < pl->nmnt; k++)
		if (pl->mnt[k].kind == MNT_HIDE && mount(NULL, pl->mnt[k].dst, NULL, ro, NULL) < 0)
			return -1;
	return mount(NULL, pl->root, NULL, ro, NULL);
}

/* A stage that has nothing to do for this step still fails when asked to (tests). */
static void stage_point(const struct plan *pl, int fd, int stage)
{
	if (pl->fail_stage == stage)
		child_fail(pl, fd, stage, EPERM);
}

/* As root, the step is not root of the host: pid 1 joins the step's user
 * namespace (inside uid 0 is step_uid outside) once the mounts are made. */
static int become_step_user(void)
{
	if (setns(FD_USER, CLONE_NEWUSER) < 0)
		return -1;
	/* raw system calls: libc's set*id would signal threads of the
	 * process we were cloned from */
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, 0, 0, 0) < 0 ||
	    syscall(SYS_setresuid, 0, 0, 0) < 0)
		return -1;
	/* a change of uid clears both */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

/* Abstract Unix sockets and signals scoped to the step's own processes: no
 * step reaches another's (or the host's) through the shared network
 * namespace, a passed pidfd, or anything else.  No file system rules. */
static int landlock_scope(void)
{
	struct sb_landlock_ruleset_attr a = {
		0, 0, SB_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | SB_LANDLOCK_SCOPE_SIGNAL};
	int rs = (int)syscall(SYS_landlock_create_ruleset, &a, sizeof(a), 0);
	if (rs < 0)
		return -1;
	int rc = (int)syscall(SYS_landlock_restrict_self, rs, 0);
	int e = errno;
	close(rs);
	errno = e;
	return rc;
}

static int setup_dev(const struct plan *pl)
{
	/* not nodev: the nodes made here must open */
	if (mount("tmpfs", pl->root_dev, "tmpfs", MS_NOSUID | MS_NOEXEC, pl->dev_opts) < 0)
		return -1;
	for (size_t k = 0; k < pl->ndev; k++) {
		/* real root makes the nodes (cheaper than a mount each); a user
		 * namespace cannot, so it binds the host's */
		if (!pl->userns && pl->dev_rdev[k]) {
			/* chmod: the umask took bits off, and the step is not root */
			if (mknod(pl->dev_dst[k], S_IFCHR | 0666, pl->dev_rdev[k]) < 0 ||
			    chmod(pl->dev_dst[k], 0666) < 0)
				return -1;
			continue;
		}
		if (touch(pl->dev_dst[k], 0666) < 0 ||
		    mount(pl->dev_src[k], pl->dev_dst[k], NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	char path[PATH_MAX];
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
					       {"/proc/self/fd/0", "stdin"},
					       {"/proc/self/fd/1", "stdout"},
					       {"/proc/self/fd/2", "stderr"}};
	for (size_t k = 0; k < sizeof(links) / sizeof(links[0]); k++) {
		size_t n = strlen(pl->root_dev);
		memcpy(path, pl->root_dev, n);
		path[n] = '/';
		memcpy(path + n + 1, links[k][1], strlen(links[k][1]) + 1);
		if (symlink(links[k][0], path) < 0)
			return -1;
	}
	/* shm is a directory of the /dev tmpfs (nosuid, noexec): one mount less */
	return mkdir(pl->root_shm, 01777) < 0 ? -1 : chmod(pl->root_shm, 01777);
}

static int drop_caps(const struct plan *pl)
{
	for (int c = 0; c <= pl->cap_last; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

static const int fwd_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

static __attribute__((noreturn)) void step_main(const struct plan *pl)
{
	const int fd = 3;
	if (pl->fail_stage == SB_SETSID || setsid() < 0)
		child_fail(pl, fd, SB_SETSID, pl->fail_stage == SB_SETSID ? EPERM : errno);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (size_t k = 0; k < sizeof(fwd_signals) / sizeof(fwd_signals[0]); k++)
		sigaction(fwd_signals[k], &dfl, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
	sigaction(SIGPIPE, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the rlimit fallbacks bind the step, not pid 1 (a copy of sluice) */
	if (pl->rl_as) {
		struct rlimit as = {pl->rl_as, pl->rl_as};
		STAGE(pl, fd, SB_RLIMITS, setrlimit(RLIMIT_AS, &as));
	}
	if (pl->rl_nproc) {
		struct rlimit np = {pl->rl_nproc, pl->rl_nproc};
		STAGE(pl, fd, SB_RLIMITS, setrlimit(RLIMIT_NPROC, &np));
	}
	/* seccomp last: nothing after it but execve */
	STAGE(pl, fd, SB_SECCOMP, syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, pl->prog));
	if (pl->fail_stage == SB_EXEC)
		child_fail(pl, fd, SB_EXEC, EPERM);
	execve(pl->exec_path, pl->argv, pl->envp);
	child_fail(pl, fd, SB_EXEC, errno);
}

/* pid 1 once the step runs: forward signals, reap, report the step's exit
 * on the report pipe (fd 3), exit. */
static __attribute__((noreturn)) void pid1_wait(pid_t step, const sigset_t *set)
{
	/* signalled: sluice sent a signal (a timeout, a cancel), and the step's
	 * other processes have the grace period as the step had: once the step
	 * is reported, pid 1 stays until every process of the namespace is
	 * gone, or until sluice's SIGKILL ends it.  Otherwise pid 1 goes as
	 * soon as the step does, and the kernel kills what is left. */
	int signalled = 0, reported = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* every process of the namespace but pid 1, sessions of their own
			 * included */
			signalled = 1;
			if (kill(-1, sig) < 0)
				kill(step, sig);
			continue;
		}
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			if (w != step)
				continue;
			copy_back(OUTPUT_INSIDE, FD_OUTFILE);
			struct report rep = {REP_EXIT, 0, 0, status};
			if (write(3, &rep, sizeof(rep)) < 0) {
				/* the orchestrator will see our own exit */
			}
			reported = 1;
			if (!signalled)
				_exit(0);
		}
		if (reported && w < 0 && errno == ECHILD)
			_exit(0); /* nothing left: every process here descends from pid 1 */
	}
}
__attribute__((noreturn)) void sandbox_child_main(const struct plan *pl)
{
	int rfd = pl->fd_report;
	char go;
	/* a copy of sluice (or of the helper): /proc/1/cmdline, which the step
	 * may read, shows none of sluice's arguments (-p values) */
	sandbox_argv_set(pl->argv_start, pl->argv_len, "sluice-init");
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (pl->fd_go >= 0) {
		ssize_t n;
		do
			n = read(pl->fd_go, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(127); /* the orchestrator gave up on us */
	} else {
		/* nothing to wait for; but if sluice died before PDEATHSIG was
		 * set, the report pipe has no reader any more */
		struct pollfd pfd = {rfd, 0, 0};
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR))
			_exit(127);
	}
	if (pl->fail_stage == SB_WAIT_GO)
		child_fail(pl, rfd, SB_WAIT_GO, EPERM);
	/* the step may not open pid 1's fds (/proc/1/fd: the report pipe, the
	 * host's output file) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* the network: the shared empty namespace, unless cloned with one or allowed */
	if (pl->setns_net)
		STAGE(pl, rfd, SB_NETNS, setns(pl->fd_net, CLONE_NEWNET));
	/* the cgroup namespace is rooted at the step's cgroup, joined by now */
	STAGE(pl, rfd, SB_NETNS, unshare(CLONE_NEWCGROUP));
	/* fds: 0 /dev/null, 1-2 the log, 3 the report pipe, 4 and 5 the host's
	 * output and params files, 6 and 7 the user namespaces (pid 1's only),
	 * nothing else; first out of the way, so that no dup2 lands on an fd
	 * still to be moved */
	enum { NSRC = 7 };
	int hi[NSRC], src[NSRC] = {pl->fd_null,   pl->fd_out,  pl->fd_report, pl->fd_outfile,
				   pl->fd_params, pl->fd_user, pl->fd_idmap};
	static const int dst[NSRC] = {0, 1, FD_REPORT, FD_OUTFILE, FD_PARAMS, FD_USER, FD_IDMAP};
	for (int k = 0; k < NSRC; k++) {
		hi[k] = src[k] < 0 ? -1 : fcntl(src[k], F_DUPFD_CLOEXEC, 100);
		if (src[k] >= 0 && hi[k] < 0)
			child_fail(pl, rfd, SB_FDS, errno);
	}
	STAGE(pl, rfd, SB_FDS, dup2(hi[0], 0));
	STAGE(pl, rfd, SB_FDS, dup2(hi[1], 1));
	STAGE(pl, rfd, SB_FDS, dup2(hi[1], 2));
	STAGE(pl, rfd, SB_FDS, dup3(hi[2], FD_REPORT, O_CLOEXEC));
	rfd = FD_REPORT;
	for (int k = 3; k < NSRC; k++)
		if (hi[k] >= 0)
			STAGE(pl, rfd, SB_FDS, dup3(hi[k], dst[k], O_CLOEXEC));
	STAGE(pl, rfd, SB_FDS, syscall(SYS_close_range, FD_FIRST_FREE, ~0U, 0));

	/* the new root: an empty tmpfs with the allow list bound read-only */
	STAGE(pl, rfd, SB_MOUNT_PRIVATE, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	STAGE(pl, rfd, SB_BIND_ROOT, tmpfs(pl->root, pl->root_opts, 0));
	run_ops(pl, rfd, 0, pl->nbase);
	STAGE(pl, rfd, SB_BIND_ROOT, mkdir(pl->root_tmp, 0755));
	STAGE(pl, rfd, SB_BIND_ROOT, mkdir(pl->root_dev, 0755));
	STAGE(pl, rfd, SB_BIND_ROOT, mkdir(pl->root_proc, 0755));
	/* a fresh /tmp (HOME is in it) */
	STAGE(pl, rfd, SB_TMP, tmpfs(pl->root_tmp, pl->tmp_opts, 0));
	STAGE(pl, rfd, SB_TMP, mkdir(pl->root_home_in_tmp, 0700));
	STAGE(pl, rfd, SB_TMP, mkdir(pl->root_sluice, 0755));
	/* copies, not binds: two mounts fewer; pid 1 copies the output back */
	STAGE(pl, rfd, SB_TMP, touch(pl->out_dst, 0644));
	STAGE(pl, rfd, SB_TMP, copy_into(FD_PARAMS, pl->params_dst, 0444));
	close(FD_PARAMS);
	if (pl->fd_user >= 0) {
		/* the step's own, as the uid it will run as */
		STAGE(pl, rfd, SB_TMP, chown(pl->root_home_in_tmp, pl->step_uid, pl->step_gid));
		STAGE(pl, rfd, SB_TMP, chown(pl->out_dst, pl->step_uid, pl->step_gid));
	}
	STAGE(pl, rfd, SB_DEV, setup_dev(pl));
	STAGE(pl, rfd, SB_PROC,
	      mount("proc", pl->root_proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	/* uid 0 without a user namespace could write sysctls: read-only */
	for (int k = 0; k < 2; k++)
		if (pl->proc_ro[k] && bind_ro(pl->proc_ro[k], pl->proc_ro[k]) < 0 &&
		    errno != ENOENT)
			child_fail(pl, rfd, SB_PROC, errno);
	/* read: paths, the workspace, what hides sluice's state and home, the program */
	static const int later[] = {SB_READ,    SB_HIDE_HOME,  SB_IDMAP,
				    SB_OVERLAY, SB_HIDE_STATE, SB_PROGRAM};
	for (size_t k = 0; k < sizeof(later) / sizeof(later[0]); k++)
		stage_point(pl, rfd, later[k]);
	run_ops(pl, rfd, pl->nbase, pl->nmnt);
	if (pl->fd_idmap >= 0)
		close(FD_IDMAP);
	STAGE(pl, rfd, SB_READONLY_ROOT, seal(pl));
	STAGE(pl, rfd, SB_PIVOT_ROOT, chdir(pl->root));
	STAGE(pl, rfd, SB_PIVOT_ROOT, syscall(SYS_pivot_root, ".", "."));
	STAGE(pl, rfd, SB_PIVOT_ROOT, umount2(".", MNT_DETACH));
	STAGE(pl, rfd, SB_HOSTNAME, sethostname("sluice", 6));
	STAGE(pl, rfd, SB_CHDIR, chdir(pl->ws));
	stage_point(pl, rfd, SB_USER);
	if (pl->fd_user >= 0) {
		STAGE(pl, rfd, SB_USER, become_step_user());
		close(FD_USER);
		/* sluice may have died while PDEATHSIG was off */
		struct pollfd pfd = {rfd, 0, 0};
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLERR))
			_exit(127);
	}

	/* limits and privileges, for pid 1 and everything below it */
	struct rlimit core = {0, 0};
	STAGE(pl, rfd, SB_RLIMITS, setrlimit(RLIMIT_CORE, &core));
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max > 65536) {
		nofile.rlim_max = 65536;
		if (nofile.rlim_cur > nofile.rlim_max)
			nofile.rlim_cur = nofile.rlim_max;
		STAGE(pl, rfd, SB_RLIMITS, setrlimit(RLIMIT_NOFILE, &nofile));
	}
	STAGE(pl, rfd, SB_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	STAGE(pl, rfd, SB_DROP_CAPS, drop_caps(pl));
	stage_point(pl, rfd, SB_LANDLOCK);
	if (pl->landlock)
		STAGE(pl, rfd, SB_LANDLOCK, landlock_scope());

	/* pid 1: signals arrive through sigwaitinfo only */
	sigset_t set;
	sigemptyset(&set);
	for (size_t k = 0; k < sizeof(fwd_signals) / sizeof(fwd_signals[0]); k++)
		sigaddset(&set, fwd_signals[k]);
	sigaddset(&set, SIGCHLD);
	STAGE(pl, rfd, SB_SIGNALS, sigprocmask(SIG_SETMASK, &set, NULL));
	if (pl->fail_stage == SB_SPAWN)
		child_fail(pl, rfd, SB_SPAWN, EPERM);
	pid_t step = vfork();
	if (step == 0)
		step_main(pl);
	if (step < 0)
		child_fail(pl, rfd, SB_SPAWN, errno);
	/* the log pipe belongs to the step now: its EOF means the step is done */
	close(0);
	close(1);
	close(2);
	pid1_wait(step, &set);
}
