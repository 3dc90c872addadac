/*
 * local.c — the local runner: every step in its own namespaces, a read-only
 * world, the workspace as an overlay, seccomp, no capabilities, enforced
 * limits (design.md section 9; docs/sandbox.md for the user's view).
 * `sandbox: none` steps (and the registry built-ins) go to the plain runner.
 *
 * The life of one sandboxed attempt:
 *
 *   orchestrator (local_start)          pid 1 in the new namespaces (init_main)
 *   ------------------------------      ---------------------------------------
 *   prepare: paths, env, cgroups,
 *   pipes — everything the child
 *   reads, so it allocates nothing
 *   clone3(NEWNS|NEWPID|NEWIPC|NEWUTS
 *          [|NEWUSER][|NEWNET])  ---->  wait for "go"
 *   uid/gid maps, join cgroups,
 *   write "go"                   ---->  setns(empty net), unshare(NEWCGROUP),
 *   return: the executor watches        fds 0-2 (+3 = report pipe), close the rest,
 *   the pidfd                           mounts (read-only root, overlay, tmpfs
 *                                       /tmp, home and state hidden, /dev, /proc),
 *                                       pivot_root, hostname, chdir, rlimits,
 *                                       no_new_privs, drop every capability,
 *                                       vfork ---> step: setsid, signals, seccomp,
 *                                                  execve
 *                                       reap; forward TERM/INT/HUP/...; when the
 *                                       step exits, report its status, exit
 *                                       (the kernel kills what is left)
 *   local_reap: wait4, read the report
 *   pipe ({stage, errno} or the exit
 *   status), cgroup peak/OOM, promote
 *   declared outputs from the upper dir
 *   (success only), log undeclared
 *   writes, remove upper dir and cgroups
 *
 * Any setup failure travels back as {stage, errno} on the close-on-exec
 * report pipe and becomes the reason `sandbox: STAGE: strerror`.
 */
#include "sluice/runner.h"
#include "sluice/sandbox.h"

#include "sluice/arena.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

static const char *const stage_names[SB_NSTAGES] = {
	"prepare",       "cgroup",    "pipe",          "clone",        "uid-map",
	"cgroup-join",   "go",        "wait-go",       "namespaces",   "fds",
	"mount-private", "bind-root", "readonly-root", "hide-home",    "overlay",
	"hide-state",    "tmp",       "dev",           "proc",         "pivot-root",
	"hostname",      "chdir",     "rlimits",       "no-new-privs", "drop-caps",
	"signals",       "spawn",     "setsid",        "seccomp",      "exec"};

const char *sandbox_stage_name(int stage)
{
	return stage >= 0 && stage < SB_NSTAGES ? stage_names[stage] : "unknown";
}

int sandbox_stage_parse(const char *s)
{
	if (!s || !*s)
		return -1;
	char *end;
	long n = strtol(s, &end, 10);
	if (!*end)
		return n >= 0 && n < SB_NSTAGES ? (int)n : -1;
	for (int k = 0; k < SB_NSTAGES; k++)
		if (!strcmp(stage_names[k], s))
			return k;
	return -1;
}

/* ---- the runner ------------------------------------------------------------------ */

struct local {
	runner base;
	runner *plain;
	sandbox_probe pr;
	struct sock_fprog prog;
	int netns_fd; /* an empty network namespace, or -1 */
	int null_fd;
	int fail_stage; /* SLUICE_SANDBOX_FAIL, or -1 */
	char *hide_home;
	unsigned seq;
	unsigned warned; /* bit per warning already printed on stderr */
	int helper_sock; /* to the helper that clones pid 1s, or -1 */
	pid_t helper_pid;
	char *helper_buf;
};

/* One record on the report pipe. */
struct report {
	int32_t kind; /* REP_SETUP or REP_EXIT */
	int32_t stage;
	int32_t err;
	int32_t status; /* wait status of the step */
};
enum { REP_SETUP = 1, REP_EXIT = 2 };

#define MAX_DEVS 32

/* Everything the child reads, built before clone. */
struct plan {
	int fail_stage;
	int userns, setns_net;
	int fd_out, fd_report, fd_go, fd_null, fd_net;
	int need_go;                  /* the parent has work between clone and go (maps, cgroups) */
	int fd_outfile, fd_params;    /* the host's $SLUICE_OUTPUT (write) and params file (read) */
	const char *root;             /* mount point of the new root: ATTEMPT/root */
	const char *root_ws;          /* ROOT/WORKSPACE */
	const char *ws;               /* the workspace, the same path inside */
	const char *ovl_opts;         /* lowerdir=...,upperdir=...,workdir=... */
	const char *root_home;        /* ROOT/HOME to hide, or NULL */
	const char *root_state;       /* ROOT/STATE to hide, or NULL */
	const char *root_tmp;         /* ROOT/tmp */
	const char *mk_home, *mk_tmp; /* the workspace's path to make in the home / tmp tmpfs */
	/* the program, when the fresh /tmp or home would hide it (sluice's own binary, for
	 * the built-in steps, in a build tree below /tmp or the home): bound read-only at
	 * the same path; NULL when it is visible anyway */
	const char *exe_src, *exe_dst, *exe_dir;
	int exe_in_home;
	const char *root_dev, *root_shm, *root_proc;
	const char *dev_src[MAX_DEVS], *dev_dst[MAX_DEVS];
	dev_t dev_rdev[MAX_DEVS]; /* the node's number when it is a character device, else 0 */
	size_t ndev;
	const char *root_sluice; /* ROOT/tmp/.sluice */
	const char *root_home_in_tmp;
	const char *out_dst, *params_dst; /* ROOT/tmp/.sluice/{output,params.json} */
	const char *proc_ro[2];           /* ROOT/proc/sys, ROOT/proc/sysrq-trigger (uid 0 only) */
	int cap_last;
	rlim_t rl_as, rl_nproc;
	const struct sock_fprog *prog;
	char *const *argv;
	char *const *envp;
	/* for the parent's side of the handshake */
	uint64_t clone_flags;
	int cg_procs[SB_NCTL]; /* open cgroup.procs files to join, or -1 */
	unsigned uid, gid;
};

struct lproc {
	arena mem;
	struct plan pl;
	sandbox_cgroup cg;
	int have_cg;
	int report_rd;
	int log_fd;                /* a dup of the log pipe, for the runner's own lines */
	int outfile_fd, params_fd; /* handed to pid 1, closed once it runs */
	int pidfd;
	const char *attempt_dir, *upper, *work, *ws;
	const char **outputs; /* declared outputs and the metrics file */
	size_t noutputs, ndeclared;
	uint64_t memory;
	int mem_enforced;
};

/* ---- the child: async-signal-safe only, no allocation ---------------------------- */

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

#define OUTPUT_INSIDE "/tmp/.sluice/output"
#define PARAMS_INSIDE "/tmp/.sluice/params.json"
#define OUTPUT_MAX    (16 << 20) /* $SLUICE_OUTPUT holds key=value lines */

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

/* The read-only root: a recursive bind of / made read-only as a whole. */
static int readonly_root(const char *root)
{
	struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, root, AT_RECURSIVE, &a, sizeof(a));
}

static int setup_dev(const struct plan *pl)
{
	/* not nodev: the nodes made here must open */
	if (mount("tmpfs", pl->root_dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		return -1;
	for (size_t k = 0; k < pl->ndev; k++) {
		/* real root makes the nodes (cheaper than a mount each); a user
		 * namespace cannot, so it binds the host's */
		if (!pl->userns && pl->dev_rdev[k]) {
			if (mknod(pl->dev_dst[k], S_IFCHR | 0666, pl->dev_rdev[k]) < 0)
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
	execve(pl->argv[0], pl->argv, pl->envp);
	child_fail(pl, fd, SB_EXEC, errno);
}

static __attribute__((noreturn)) void init_main(const struct plan *pl)
{
	int rfd = pl->fd_report;
	char go;
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
	 * output and params files (pid 1's only), nothing else; first out of the
	 * way, so that no dup2 lands on an fd still to be moved */
	int hi[5], src[5] = {pl->fd_null, pl->fd_out, pl->fd_report, pl->fd_outfile, pl->fd_params};
	for (int k = 0; k < 5; k++) {
		hi[k] = fcntl(src[k], F_DUPFD_CLOEXEC, 100);
		if (hi[k] < 0)
			child_fail(pl, rfd, SB_FDS, errno);
	}
	STAGE(pl, rfd, SB_FDS, dup2(hi[0], 0));
	STAGE(pl, rfd, SB_FDS, dup2(hi[1], 1));
	STAGE(pl, rfd, SB_FDS, dup2(hi[1], 2));
	STAGE(pl, rfd, SB_FDS, dup3(hi[2], 3, O_CLOEXEC));
	rfd = 3;
	STAGE(pl, rfd, SB_FDS, dup3(hi[3], 4, O_CLOEXEC));
	STAGE(pl, rfd, SB_FDS, dup3(hi[4], 5, O_CLOEXEC));
	STAGE(pl, rfd, SB_FDS, syscall(SYS_close_range, 6, ~0U, 0));

	/* the mount tree */
	STAGE(pl, rfd, SB_MOUNT_PRIVATE, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	STAGE(pl, rfd, SB_BIND_ROOT, mount("/", pl->root, NULL, MS_BIND | MS_REC, NULL));
	STAGE(pl, rfd, SB_READONLY_ROOT, readonly_root(pl->root));
	/* fresh tmpfs over the user's home (empty, read-only) and /tmp; the
	 * workspace's path is made in them when it lies below */
	if (pl->root_home && !pl->mk_home && !pl->exe_in_home) {
		STAGE(pl, rfd, SB_HIDE_HOME, tmpfs(pl->root_home, "mode=0755,size=4k", MS_RDONLY));
	} else if (pl->root_home) {
		/* the workspace or the program is below the home: make their paths, then
		 * read-only */
		STAGE(pl, rfd, SB_HIDE_HOME, tmpfs(pl->root_home, "mode=0755,size=64k", 0));
		if (pl->mk_home)
			STAGE(pl, rfd, SB_HIDE_HOME, fs_mkdir_p(pl->mk_home, 0755));
		if (pl->exe_in_home) {
			STAGE(pl, rfd, SB_HIDE_HOME, fs_mkdir_p(pl->exe_dir, 0755));
			STAGE(pl, rfd, SB_HIDE_HOME, touch(pl->exe_dst, 0755));
			STAGE(pl, rfd, SB_HIDE_HOME, bind_ro(pl->exe_src, pl->exe_dst));
		}
		STAGE(pl, rfd, SB_HIDE_HOME,
		      mount(NULL, pl->root_home, NULL,
			    MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=64k"));
	}
	STAGE(pl, rfd, SB_TMP, tmpfs(pl->root_tmp, "mode=1777", 0));
	if (pl->mk_tmp)
		STAGE(pl, rfd, SB_TMP, fs_mkdir_p(pl->mk_tmp, 0755));
	if (pl->exe_src && !pl->exe_in_home) {
		STAGE(pl, rfd, SB_TMP, fs_mkdir_p(pl->exe_dir, 0755));
		STAGE(pl, rfd, SB_TMP, touch(pl->exe_dst, 0755));
		STAGE(pl, rfd, SB_TMP, bind_ro(pl->exe_src, pl->exe_dst));
	}
	STAGE(pl, rfd, SB_TMP, mkdir(pl->root_home_in_tmp, 0700));
	STAGE(pl, rfd, SB_TMP, mkdir(pl->root_sluice, 0755));
	/* copies, not binds: two mounts fewer; pid 1 copies the output back */
	STAGE(pl, rfd, SB_TMP, touch(pl->out_dst, 0644));
	STAGE(pl, rfd, SB_TMP, copy_into(5, pl->params_dst, 0444));
	close(5);
	/* the workspace: read-only below, the attempt's upper dir above */
	STAGE(pl, rfd, SB_OVERLAY,
	      mount("overlay", pl->root_ws, "overlay", MS_NOSUID, pl->ovl_opts));
	if (pl->root_state)
		STAGE(pl, rfd, SB_HIDE_STATE,
		      tmpfs(pl->root_state, "mode=0755,size=4k", MS_RDONLY));
	STAGE(pl, rfd, SB_DEV, setup_dev(pl));
	STAGE(pl, rfd, SB_PROC,
	      mount("proc", pl->root_proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	/* uid 0 without a user namespace could write sysctls: read-only */
	for (int k = 0; k < 2; k++)
		if (pl->proc_ro[k] && bind_ro(pl->proc_ro[k], pl->proc_ro[k]) < 0 &&
		    errno != ENOENT)
			child_fail(pl, rfd, SB_PROC, errno);
	STAGE(pl, rfd, SB_PIVOT_ROOT, chdir(pl->root));
	STAGE(pl, rfd, SB_PIVOT_ROOT, syscall(SYS_pivot_root, ".", "."));
	STAGE(pl, rfd, SB_PIVOT_ROOT, umount2(".", MNT_DETACH));
	STAGE(pl, rfd, SB_HOSTNAME, sethostname("sluice", 6));
	STAGE(pl, rfd, SB_CHDIR, chdir(pl->ws));

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
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			if (kill(-step, sig) < 0)
				kill(step, sig);
			continue;
		}
		int status;
		pid_t w;
		while ((w = waitpid(-1, &status, WNOHANG)) > 0) {
			if (w != step)
				continue;
			copy_back(OUTPUT_INSIDE, 4);
			struct report rep = {REP_EXIT, 0, 0, status};
			if (write(rfd, &rep, sizeof(rep)) < 0) {
				/* the orchestrator will see our own exit */
			}
			_exit(0);
		}
	}
}

/* ---- pid 1: cloned here, or by the helper --------------------------------------------- */

/* Clone pid 1 for pl and do the parent's half of the handshake: uid/gid maps
 * (in a user namespace), join the cgroups, say go.  From the helper
 * (in_helper) pid 1 is cloned with CLONE_PARENT, so it is the orchestrator's
 * child all the same.  Returns the pid (> 0 also on a failure after clone:
 * the caller kills and reaps it); *stage is -1 on success, else the stage
 * that failed with *e and a note in why. */
static pid_t spawn_init(struct plan *pl, int in_helper, int *pidfd, int *stage, int *e, char *why,
			size_t whysz)
{
	int go[2] = {-1, -1};
	pid_t pid = -1;
	*stage = SB_PIPE;
	if (pl->need_go && pipe2(go, O_CLOEXEC) < 0) {
		*e = errno;
		return -1;
	}
	pl->fd_go = go[0];
	*stage = SB_CLONE;
	if (pl->fail_stage == SB_CLONE) {
		*e = EPERM;
		goto out;
	}
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = pl->clone_flags | (in_helper ? CLONE_PARENT : CLONE_PIDFD);
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = in_helper ? 0 : SIGCHLD; /* CLONE_PARENT takes the helper's */
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0 && errno == ENOSYS) {
		unsigned long f = (unsigned long)pl->clone_flags | (in_helper ? CLONE_PARENT : 0);
		pid = (pid_t)syscall(SYS_clone, f | SIGCHLD, 0, 0, 0, 0);
	}
	if (pid == 0)
		init_main(pl);
	if (pid < 0) {
		*e = errno;
		goto out;
	}
	close(go[0]);
	go[0] = -1;
	if (pl->userns) {
		*stage = SB_UIDMAP;
		if (pl->fail_stage == SB_UIDMAP) {
			*e = EPERM;
			goto out;
		}
		/* the user is itself inside; no setgroups, so one line each is allowed */
		char path[64], map[64];
		const char *files[3] = {"setgroups", "uid_map", "gid_map"};
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[k]);
			unsigned id = k == 1 ? pl->uid : pl->gid;
			if (k == 0)
				snprintf(map, sizeof(map), "deny");
			else
				snprintf(map, sizeof(map), "%u %u 1\n", id, id);
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, map, strlen(map)) < 0) {
				*e = errno;
				if (fd >= 0)
					close(fd);
				snprintf(why, whysz, "write %s", path);
				goto out;
			}
			close(fd);
		}
	}
	*stage = SB_CGROUP_JOIN;
	if (pl->fail_stage == SB_CGROUP_JOIN) {
		*e = EPERM;
		goto out;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int k = 0; k < SB_NCTL; k++) {
		if (pl->cg_procs[k] >= 0 && write(pl->cg_procs[k], buf, (size_t)n) < 0) {
			*e = errno;
			snprintf(why, whysz, "join the step's %s cgroup",
				 k == SB_CTL_MEMORY ? "memory"
				 : k == SB_CTL_PIDS ? "pids"
						    : "cpu");
			goto out;
		}
	}
	*stage = SB_GO;
	if (pl->fail_stage == SB_GO) {
		*e = EPERM;
		goto out;
	}
	if (go[1] >= 0 && write(go[1], "g", 1) != 1) {
		*e = errno;
		goto out;
	}
	*stage = -1;
out:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	return pid;
}

/*
 * The helper: a fork of sluice made when the runner is created, while
 * sluice is small, that clones every step's pid 1 (design.md section 11:
 * never fork from a large parent — a 256 MiB orchestrator would pay about
 * 10 ms per step to copy itself).  The plan travels over a SOCK_SEQPACKET
 * pair as one message: the struct with its strings packed behind it
 * (pointers become offsets), the log pipe, report pipe and cgroup.procs
 * files as SCM_RIGHTS.  The reply is {pid, stage, errno, note}.
 */
#define HELPER_MAX_MSG (192 * 1024)
#define HELPER_MAX_FDS (4 + SB_NCTL)

struct helper_reply {
	int32_t pid, stage, err;
	char why[200];
};

struct packer {
	char *buf;
	size_t len, cap;
	int overflow;
};

static uintptr_t pack_bytes(struct packer *pk, const void *data, size_t n, size_t align)
{
	size_t off = (pk->len + align - 1) & ~(align - 1);
	if (off + n > pk->cap) {
		pk->overflow = 1;
		return 0;
	}
	memset(pk->buf + pk->len, 0, off - pk->len);
	memcpy(pk->buf + off, data, n);
	pk->len = off + n;
	return off + 1; /* 0 stays NULL */
}

/* Every string field of a plan, for packing and unpacking alike. */
static const char **plan_field(struct plan *pl, size_t k)
{
	const char **fixed[] = {&pl->root,        &pl->root_ws,          &pl->ws,
				&pl->ovl_opts,    &pl->root_home,        &pl->root_state,
				&pl->root_tmp,    &pl->mk_home,          &pl->mk_tmp,
				&pl->root_dev,    &pl->root_shm,         &pl->root_proc,
				&pl->root_sluice, &pl->root_home_in_tmp, &pl->out_dst,
				&pl->params_dst,  &pl->proc_ro[0],       &pl->proc_ro[1],
				&pl->exe_src,     &pl->exe_dst,          &pl->exe_dir};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	if (k < nfixed)
		return fixed[k];
	k -= nfixed;
	if (k < MAX_DEVS)
		return &pl->dev_src[k];
	k -= MAX_DEVS;
	if (k < MAX_DEVS)
		return &pl->dev_dst[k];
	return NULL;
}

static uintptr_t pack_vec(struct packer *pk, char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	uintptr_t *offs = xcalloc(n + 1, sizeof(uintptr_t));
	for (size_t k = 0; k < n; k++)
		offs[k] = pack_bytes(pk, v[k], strlen(v[k]) + 1, 1);
	uintptr_t at = pack_bytes(pk, offs, (n + 1) * sizeof(uintptr_t), sizeof(uintptr_t));
	free(offs);
	return at;
}

/* pl into buf: the struct, then its strings; fds[] gets the fds to send and
 * the struct's fd fields their indexes.  Returns the length, or 0 when it
 * does not fit. */
static size_t plan_pack(const struct plan *pl, char *buf, size_t cap, int *fds, int *nfds)
{
	struct plan cp = *pl;
	struct packer pk = {buf + sizeof(cp), 0, cap - sizeof(cp), 0};
	const char **f;
	for (size_t k = 0; (f = plan_field(&cp, k)); k++)
		*f = *f ? (const char *)pack_bytes(&pk, *f, strlen(*f) + 1, 1) : NULL;
	cp.argv = (char *const *)pack_vec(&pk, pl->argv);
	cp.envp = (char *const *)pack_vec(&pk, pl->envp);
	*nfds = 0;
	fds[(*nfds)++] = pl->fd_out;
	cp.fd_out = 0;
	fds[(*nfds)++] = pl->fd_report;
	cp.fd_report = 1;
	fds[(*nfds)++] = pl->fd_outfile;
	cp.fd_outfile = 2;
	fds[(*nfds)++] = pl->fd_params;
	cp.fd_params = 3;
	for (int k = 0; k < SB_NCTL; k++) {
		cp.cg_procs[k] = -1;
		if (pl->cg_procs[k] >= 0) {
			cp.cg_procs[k] = *nfds;
			fds[(*nfds)++] = pl->cg_procs[k];
		}
	}
	if (pk.overflow)
		return 0;
	memcpy(buf, &cp, sizeof(cp));
	return sizeof(cp) + pk.len;
}

static void plan_unpack(struct plan *pl, const int *fds)
{
	char *base = (char *)(pl + 1) - 1; /* offsets count from 1 */
	const char **f;
	for (size_t k = 0; (f = plan_field(pl, k)); k++)
		if (*f)
			*f = base + (uintptr_t)*f;
	char *const **vecs[] = {&pl->argv, &pl->envp};
	for (int v = 0; v < 2; v++) {
		uintptr_t *offs = (uintptr_t *)(base + (uintptr_t)*vecs[v]);
		for (size_t k = 0; offs[k]; k++)
			offs[k] = (uintptr_t)(base + offs[k]);
		*vecs[v] = (char *const *)offs;
	}
	pl->fd_out = fds[pl->fd_out];
	pl->fd_report = fds[pl->fd_report];
	pl->fd_outfile = fds[pl->fd_outfile];
	pl->fd_params = fds[pl->fd_params];
	for (int k = 0; k < SB_NCTL; k++)
		if (pl->cg_procs[k] >= 0)
			pl->cg_procs[k] = fds[pl->cg_procs[k]];
}

static __attribute__((noreturn)) void helper_main(int sock, int null_fd, int net_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Ctrl-C is for sluice; pid 1 and the step reset their masks */
	sigset_t set;
	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* hold no one's terminal or pipe: sluice's stdout may be a reader's EOF */
	dup2(null_fd, 0);
	dup2(null_fd, 1);
	dup2(null_fd, 2);
	char *buf = aligned_alloc(64, HELPER_MAX_MSG);
	if (!buf)
		_exit(1);
	for (;;) {
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
		} ctl;
		struct iovec iov = {buf, HELPER_MAX_MSG};
		struct msghdr msg = {.msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = &ctl,
				     .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* sluice is done */
		int fds[HELPER_MAX_FDS], nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
			}
		struct helper_reply rep = {-1, SB_CLONE, EPROTO, ""};
		struct plan *pl = (struct plan *)buf;
		if ((size_t)n >= sizeof(*pl) && nfds >= 4) {
			plan_unpack(pl, fds);
			pl->fd_null = null_fd;
			pl->fd_net = net_fd;
			int stage, e = 0;
			rep.pid = spawn_init(pl, 1, NULL, &stage, &e, rep.why, sizeof(rep.why));
			rep.stage = stage;
			rep.err = e;
		}
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

/* Ask the helper for pid 1.  -1 when the helper cannot (gone, plan too big):
 * the caller clones in-process instead. */
static int helper_spawn(struct local *lr, struct plan *pl, pid_t *pid, int *stage, int *e,
			char *why, size_t whysz)
{
	int fds[HELPER_MAX_FDS], nfds;
	size_t len = plan_pack(pl, lr->helper_buf, HELPER_MAX_MSG, fds, &nfds);
	if (!len)
		return -1;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * HELPER_MAX_FDS)];
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {lr->helper_buf, len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = &ctl,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	struct helper_reply rep;
	ssize_t n;
	if (sendmsg(lr->helper_sock, &msg, MSG_NOSIGNAL) < 0)
		goto gone;
	do
		n = recv(lr->helper_sock, &rep, sizeof(rep), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep))
		goto gone;
	*pid = rep.pid;
	*stage = rep.stage;
	*e = rep.err;
	rep.why[sizeof(rep.why) - 1] = 0;
	snprintf(why, whysz, "%s", rep.why);
	return 0;
gone:
	/* no helper from now on; this and later steps clone in-process */
	close(lr->helper_sock);
	lr->helper_sock = -1;
	return -1;
}

static void helper_start(struct local *lr)
{
	int sv[2];
	lr->helper_sock = -1;
	if (getenv("SLUICE_SANDBOX_NO_HELPER") ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], lr->null_fd, lr->netns_fd);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	lr->helper_pid = pid;
	lr->helper_sock = sv[0];
	lr->helper_buf = aligned_alloc(64, HELPER_MAX_MSG);
	int sz = HELPER_MAX_MSG + 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* ---- preparing and starting ------------------------------------------------------- */

static int is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static void warn_once(struct local *lr, unsigned bit, int log_fd, const char *msg)
{
	/* every step's log says it; stderr once per run */
	if (log_fd >= 0) {
		char line[1200];
		int n = snprintf(line, sizeof(line), "sandbox: warning: %s\n", msg);
		if (write(log_fd, line, (size_t)n) < 0) {
			/* the log is best effort */
		}
	}
	if (!(lr->warned & bit)) {
		lr->warned |= bit;
		fprintf(stderr, "sluice: warning: %s\n", msg);
	}
}

static void lproc_free(struct lproc *lp)
{
	if (lp->have_cg)
		sandbox_cgroup_destroy(&lp->cg);
	if (lp->report_rd >= 0)
		close(lp->report_rd);
	if (lp->log_fd >= 0)
		close(lp->log_fd);
	if (lp->outfile_fd >= 0)
		close(lp->outfile_fd);
	if (lp->params_fd >= 0)
		close(lp->params_fd);
	arena_release(&lp->mem);
	free(lp);
}

static dev_t dev_rdev(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) ? st.st_rdev : 0;
}

static int bad_for_overlay(const char *p)
{
	return strpbrk(p, ",:\\") != NULL;
}

static int local_start(runner *r, const step_launch *l, step_proc *p, sl_error **err)
{
	struct local *lr = (struct local *)r;
	if (!l->sandbox || !l->sandbox->enabled || !l->attempt_dir) {
		int rc = lr->plain->ops->start(lr->plain, l, p, err);
		p->priv = NULL;
		return rc;
	}
	const sandbox_config *sb = l->sandbox;
	if (!lr->pr.root && !lr->pr.userns)
		return sl_error_make(err,
				     "sandbox: user namespaces: %s (set `sandbox: none` for this "
				     "step to run it unisolated)",
				     lr->pr.why_userns);
	if (!lr->pr.seccomp)
		return sl_error_make(err, "sandbox: seccomp: %s", lr->pr.why_seccomp);
	if (lr->fail_stage == SB_PREPARE)
		return sl_error_errno(err, EPERM, "sandbox: %s", sandbox_stage_name(SB_PREPARE));
	struct lproc *lp = xcalloc(1, sizeof(*lp));
	lp->report_rd = lp->log_fd = lp->pidfd = lp->outfile_fd = lp->params_fd = -1;
	arena *a = &lp->mem;
	struct plan *pl = &lp->pl;
	pl->fail_stage = lr->fail_stage;
	pl->fd_null = lr->null_fd;
	pl->fd_out = l->out_fd;
	pl->cap_last = lr->pr.cap_last;
	pl->prog = &lr->prog;
	pl->argv = l->argv;
	/* real paths: a symlink in them would resolve against the host's root
	 * while the mounts are made below the new one */
	const char *ws = l->cwd;
	char real[PATH_MAX];
	if (realpath(ws, real))
		ws = arena_strdup(a, real);
	const char *state_dir = l->state_dir;
	if (state_dir && realpath(state_dir, real))
		state_dir = arena_strdup(a, real);
	lp->ws = ws;
	lp->attempt_dir = l->attempt_dir;
	int rep[2] = {-1, -1}, pidfd = -1;
	pid_t pid = -1;
	int stage = SB_PREPARE;
	int e = 0;
	char why[512] = "";

	/* paths */
	const char *root = arena_printf(a, "%s/root", l->attempt_dir);
	lp->upper = arena_printf(a, "%s/upper", l->attempt_dir);
	lp->work = arena_printf(a, "%s/work", l->attempt_dir);
	struct stat wst;
	if (stat(ws, &wst) < 0) {
		e = errno;
		snprintf(why, sizeof(why), "workspace %s", ws);
		goto fail;
	}
	if (bad_for_overlay(ws) || bad_for_overlay(lp->upper)) {
		e = EINVAL;
		snprintf(why, sizeof(why), "overlay cannot take a path with ',', ':' or '\\' (%s)",
			 ws);
		goto fail;
	}
	if ((mkdir(root, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(lp->upper, wst.st_mode & 07777) < 0 && errno != EEXIST) ||
	    (mkdir(lp->work, 0700) < 0 && errno != EEXIST)) {
		e = errno;
		snprintf(why, sizeof(why), "mkdir in %s", l->attempt_dir);
		goto fail;
	}
	pl->root = root;
	pl->ws = ws;
	pl->root_ws = arena_printf(a, "%s%s", root, ws);
	pl->userns = !lr->pr.root;
	pl->ovl_opts = arena_printf(a, "lowerdir=%s,upperdir=%s,workdir=%s%s", ws, lp->upper,
				    lp->work, pl->userns ? ",userxattr" : "");
	pl->root_tmp = arena_printf(a, "%s/tmp", root);
	pl->root_home_in_tmp = arena_printf(a, "%s/tmp/home", root);
	pl->root_sluice = arena_printf(a, "%s/tmp/.sluice", root);
	pl->root_dev = arena_printf(a, "%s/dev", root);
	pl->root_shm = arena_printf(a, "%s/dev/shm", root);
	pl->root_proc = arena_printf(a, "%s/proc", root);
	if (lr->pr.root) {
		pl->proc_ro[0] = arena_printf(a, "%s/proc/sys", root);
		pl->proc_ro[1] = arena_printf(a, "%s/proc/sysrq-trigger", root);
	}
	const char *home = lr->hide_home;
	/* a home below /tmp is hidden by the fresh /tmp; one that is (or is in)
	 * the workspace is the workspace */
	if (home && (is_under(home, "/tmp") || is_under(home, ws)))
		home = NULL;
	if (home) {
		pl->root_home = arena_printf(a, "%s%s", root, home);
		if (is_under(ws, home))
			pl->mk_home = pl->root_ws;
	}
	if (is_under(ws, "/tmp"))
		pl->mk_tmp = pl->root_ws;
	const char *exe = l->argv[0];
	int exe_in_tmp = is_under(exe, "/tmp") && !is_under(exe, ws);
	pl->exe_in_home = home && is_under(exe, home) && !is_under(exe, ws);
	if (exe_in_tmp || pl->exe_in_home) {
		char *dst = arena_printf(a, "%s%s", root, exe);
		char *dir = arena_strdup(a, dst);
		*strrchr(dir, '/') = 0;
		pl->exe_src = exe;
		pl->exe_dst = dst;
		pl->exe_dir = dir;
	}
	if (state_dir) {
		const char *sd = state_dir;
		int hidden = is_under(sd, "/tmp") && !is_under(sd, ws);
		hidden |= home && is_under(sd, home) && !is_under(sd, ws);
		if (!hidden)
			pl->root_state = arena_printf(a, "%s%s", root, sd);
	}
	/* devices */
	static const char *const std_devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
	for (size_t k = 0; k < sizeof(std_devs) / sizeof(std_devs[0]); k++) {
		const char *src = arena_printf(a, "/dev/%s", std_devs[k]);
		if (access(src, F_OK) < 0)
			continue;
		pl->dev_src[pl->ndev] = src;
		pl->dev_rdev[pl->ndev] = dev_rdev(src);
		pl->dev_dst[pl->ndev++] = arena_printf(a, "%s%s", root, src);
	}
	for (const char *const *d = l->devices; d && *d && pl->ndev < MAX_DEVS; d++) {
		if (strncmp(*d, "/dev/", 5) != 0 || strchr(*d + 5, '/') || access(*d, F_OK) < 0)
			continue;
		pl->dev_src[pl->ndev] = *d;
		pl->dev_rdev[pl->ndev] = dev_rdev(*d);
		pl->dev_dst[pl->ndev++] = arena_printf(a, "%s%s", root, *d);
	}
	/* the environment: HOME and TMPDIR private, the output and params files at fixed paths */
	const char *out_host = env_get(l->envp, "SLUICE_OUTPUT");
	const char *params_host = env_get(l->envp, "SLUICE_PARAMS");
	if (!out_host || !params_host) {
		e = EINVAL;
		snprintf(why, sizeof(why), "SLUICE_OUTPUT and SLUICE_PARAMS must be set");
		goto fail;
	}
	lp->outfile_fd = open(out_host, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (lp->outfile_fd < 0) {
		e = errno;
		snprintf(why, sizeof(why), "create %s", out_host);
		goto fail;
	}
	lp->params_fd = open(params_host, O_RDONLY | O_CLOEXEC);
	if (lp->params_fd < 0) {
		e = errno;
		snprintf(why, sizeof(why), "open %s", params_host);
		goto fail;
	}
	pl->fd_outfile = lp->outfile_fd;
	pl->fd_params = lp->params_fd;
	pl->out_dst = arena_printf(a, "%s" OUTPUT_INSIDE, root);
	pl->params_dst = arena_printf(a, "%s" PARAMS_INSIDE, root);
	size_t nenv = 0;
	while (l->envp[nenv])
		nenv++;
	char **envp = arena_alloc(a, sizeof(char *) * (nenv + 1));
	for (size_t k = 0; k < nenv; k++) {
		const char *v = l->envp[k];
		if (!strncmp(v, "HOME=", 5))
			v = "HOME=/tmp/home";
		else if (!strncmp(v, "TMPDIR=", 7))
			v = "TMPDIR=/tmp";
		else if (!strncmp(v, "SLUICE_OUTPUT=", 14))
			v = "SLUICE_OUTPUT=" OUTPUT_INSIDE;
		else if (!strncmp(v, "SLUICE_PARAMS=", 14))
			v = "SLUICE_PARAMS=" PARAMS_INSIDE;
		envp[k] = (char *)v;
	}
	pl->envp = envp;
	/* outputs to promote: the declared ones, then the metrics file */
	lp->outputs = arena_alloc(a, sizeof(char *) * (l->noutputs + 2));
	for (size_t k = 0; k < l->noutputs; k++)
		lp->outputs[lp->noutputs++] = l->outputs[k];
	lp->ndeclared = lp->noutputs;
	if (l->metrics)
		lp->outputs[lp->noutputs++] = l->metrics;
	lp->log_fd = fcntl(l->out_fd, F_DUPFD_CLOEXEC, 3);

	/* limits: cgroups where they work, rlimits where they do not */
	lp->memory = sb->memory;
	stage = SB_CGROUP;
	if (sb->memory || sb->pids || sb->cpus > 0) {
		char name[64];
		snprintf(name, sizeof(name), "sluice-%d-%u", (int)getpid(), ++lr->seq);
		sl_error *cerr = NULL;
		if (lr->fail_stage == SB_CGROUP) {
			e = EPERM;
			goto fail;
		}
		if (sandbox_cgroup_create(&lr->pr.cg, &lp->cg, name, sb->memory, sb->pids, sb->cpus,
					  &cerr) < 0) {
			e = cerr->errnum;
			snprintf(why, sizeof(why), "%s", cerr->msg);
			sl_error_release(&cerr);
			goto fail;
		}
		lp->have_cg = 1;
		char msg[1024], sz[32];
		if (sb->memory && !lp->cg.dir[SB_CTL_MEMORY]) {
			format_size(sb->memory, sz, sizeof(sz));
			snprintf(msg, sizeof(msg),
				 "memory limit %s cannot be enforced through cgroups (%s); falling "
				 "back to RLIMIT_AS=%s (address space, not resident memory)",
				 sz, lr->pr.cg.why[SB_CTL_MEMORY], sz);
			warn_once(lr, 1, lp->log_fd, msg);
			pl->rl_as = sb->memory;
		}
		lp->mem_enforced = lp->cg.dir[SB_CTL_MEMORY] != NULL;
		if (sb->pids && !lp->cg.dir[SB_CTL_PIDS]) {
			snprintf(msg, sizeof(msg),
				 "pids limit %lld cannot be enforced through cgroups (%s); falling "
				 "back to RLIMIT_NPROC=%lld (counts all of the user's processes)",
				 (long long)sb->pids, lr->pr.cg.why[SB_CTL_PIDS],
				 (long long)sb->pids);
			warn_once(lr, 2, lp->log_fd, msg);
			pl->rl_nproc = (rlim_t)sb->pids;
		}
		if (sb->cpus > 0 && !lp->cg.dir[SB_CTL_CPU]) {
			snprintf(msg, sizeof(msg),
				 "cpus limit %g cannot be enforced (%s); the step is not throttled",
				 sb->cpus, lr->pr.cg.why[SB_CTL_CPU]);
			warn_once(lr, 4, lp->log_fd, msg);
		}
	}

	/* pipes */
	stage = SB_PIPE;
	if (lr->fail_stage == SB_PIPE) {
		e = EPERM;
		goto fail;
	}
	if (pipe2(rep, O_CLOEXEC) < 0) {
		e = errno;
		goto fail;
	}
	pl->fd_report = rep[1];
	pl->fd_net = lr->netns_fd;
	pl->setns_net = !sb->network && lr->netns_fd >= 0;
	pl->clone_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	if (pl->userns)
		pl->clone_flags |= CLONE_NEWUSER;
	if (!sb->network && !pl->setns_net)
		pl->clone_flags |= CLONE_NEWNET;
	pl->uid = (unsigned)getuid();
	pl->gid = (unsigned)getgid();
	for (int k = 0; k < SB_NCTL; k++)
		pl->cg_procs[k] = lp->have_cg ? lp->cg.procs[k] : -1;
	/* as root with no limits there is nothing to do between clone and go:
	 * pid 1 goes at once, one wake-up less */
	pl->need_go = pl->userns || lp->have_cg || lr->fail_stage == SB_UIDMAP ||
		      lr->fail_stage == SB_CGROUP_JOIN || lr->fail_stage == SB_GO ||
		      lr->fail_stage == SB_WAIT_GO;

	/* pid 1: from the small helper when there is one, else a copy of us */
	if (lr->helper_sock < 0 || helper_spawn(lr, pl, &pid, &stage, &e, why, sizeof(why)) < 0)
		pid = spawn_init(pl, 0, &pidfd, &stage, &e, why, sizeof(why));
	if (pid > 0 && pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pid < 0 || stage >= 0)
		goto fail;
	close(rep[1]);
	rep[1] = -1;
	close(lp->outfile_fd);
	close(lp->params_fd);
	lp->outfile_fd = lp->params_fd = -1;
	lp->pidfd = pidfd;
	lp->report_rd = rep[0];
	rep[0] = -1;
	if (pidfd >= 0)
		fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	p->pid = pid;
	p->pidfd = pidfd;
	p->priv = lp;
	return 0;

fail:
	for (int k = 0; k < 2; k++)
		if (rep[k] >= 0)
			close(rep[k]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	/* best effort: the attempt dir is removed with its run */
	fs_rm_rf(lp->upper);
	fs_rm_rf(lp->work);
	rmdir(root);
	lproc_free(lp);
	if (why[0])
		return sl_error_errno(err, e, "sandbox: %s: %s", sandbox_stage_name(stage), why);
	return sl_error_errno(err, e, "sandbox: %s", sandbox_stage_name(stage));
}

/* p->priv of a sandboxed step after its reap */
static char reaped;

static int local_signal(runner *r, step_proc *p, int sig)
{
	struct local *lr = (struct local *)r;
	if (!p->priv)
		return lr->plain->ops->signal(lr->plain, p, sig);
	if (p->priv == &reaped)
		return 0;
	struct lproc *lp = p->priv;
	/* pid 1 forwards to the step's process group; SIGKILL ends the namespace */
	if (lp->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, lp->pidfd, sig, NULL, 0);
	return kill(p->pid, sig);
}

/* ---- after the exit: promote declared outputs, list the rest ----------------------- */

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.sluice-tmp", dst);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) < 0)
		rc = -1;
	if (rc == 0)
		rc = rename(tmp, dst);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static char *join(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *p = xmalloc(la + ls + lb + 1);
	memcpy(p, a, la);
	memcpy(p + la, sep, ls);
	memcpy(p + la + ls, b, lb + 1);
	return p;
}

static int promote(const char *src, const char *dst);

/* Promote every entry of the directory src into dst; paths on the heap, so
 * that a deep tree costs no stack. */
static int promote_children(const char *src, const char *dst)
{
	DIR *dir = opendir(src);
	if (!dir)
		return -1;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *a = join(src, "/", de->d_name), *b = join(dst, "/", de->d_name);
		rc = promote(a, b);
		free(a);
		free(b);
	}
	closedir(dir);
	return rc;
}

/* Move src (in the upper dir) to dst (in the workspace).  A directory in the
 * upper dir is merged into an existing one (whiteouts delete), unless it is
 * opaque or new, then it replaces it. */
static int promote(const char *src, const char *dst)
{
	struct stat s, d;
	if (lstat(src, &s) < 0)
		return -1;
	if (is_whiteout(&s)) {
		fs_rm_rf(dst);
		unlink(src);
		return 0;
	}
	int dst_dir = lstat(dst, &d) == 0 && S_ISDIR(d.st_mode);
	if (S_ISDIR(s.st_mode) && dst_dir) {
		char opq[2] = "";
		int opaque = lgetxattr(src, "trusted.overlay.opaque", opq, 1) == 1 ||
			     lgetxattr(src, "user.overlay.opaque", opq, 1) == 1;
		if (!opaque) {
			return promote_children(src, dst);
		}
	}
	if (fs_mkdir_parents(dst, 0755) < 0)
		return -1;
	/* what cannot be removed makes the rename fail, with its errno */
	if (S_ISDIR(s.st_mode) || dst_dir)
		fs_rm_rf(dst);
	if (rename(src, dst) == 0)
		return 0;
	if (errno != EXDEV)
		return -1;
	/* the state dir is on another file system: copy */
	if (S_ISREG(s.st_mode))
		return copy_file(src, dst, s.st_mode);
	if (S_ISLNK(s.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		unlink(dst);
		return symlink(target, dst);
	}
	if (S_ISDIR(s.st_mode)) {
		if (mkdir(dst, s.st_mode & 07777) < 0 && errno != EEXIST)
			return -1;
		return promote_children(src, dst);
	}
	errno = EXDEV;
	return -1;
}

struct undeclared {
	struct lproc *lp;
	strbuf *sb;
	size_t n;
	size_t ulen;
};

static int declared(const struct lproc *lp, const char *rel)
{
	for (size_t k = 0; k < lp->noutputs; k++)
		if (is_under(rel, lp->outputs[k]))
			return 1;
	return 0;
}

static void list_undeclared(struct undeclared *u, const char *dir, const char *rel, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *path = join(dir, "/", de->d_name);
		char *r = join(rel, *rel ? "/" : "", de->d_name);
		struct stat st;
		int skip = declared(u->lp, r) || lstat(path, &st) < 0;
		/* deeper than any sane tree: the directory counts as one write */
		if (!skip && S_ISDIR(st.st_mode) && depth < 64) {
			size_t before = u->n;
			list_undeclared(u, path, r, depth + 1);
			/* a directory with nothing undeclared in it: a parent of outputs */
			int parent = 0;
			for (size_t k = 0; k < u->lp->noutputs; k++)
				parent |= is_under(u->lp->outputs[k], r);
			skip = u->n > before || parent;
		}
		if (!skip) {
			if (u->n < 20)
				strbuf_addf(u->sb, "%s%s%s", u->n ? ", " : "", r,
					    is_whiteout(&st) ? " (deleted)" : "");
			u->n++;
		}
		free(path);
		free(r);
	}
	closedir(d);
}

static void log_line(struct lproc *lp, const char *text)
{
	if (lp->log_fd < 0)
		return;
	/* the step is gone, so nothing else writes: do not block on a full pipe */
	fcntl(lp->log_fd, F_SETFL, O_NONBLOCK);
	if (write(lp->log_fd, text, strlen(text)) < 0) {
		/* best effort */
	}
}

static int local_reap(runner *r, step_proc *p, step_exit *ex, sl_error **err)
{
	struct local *lr = (struct local *)r;
	if (p->priv == &reaped)
		return sl_error_make(err, "pid %d was reaped already", (int)p->pid);
	if (!p->priv) {
		int rc = lr->plain->ops->reap(lr->plain, p, ex, err);
		if (rc == 1) {
			ex->peak_memory = -1;
			ex->oom = 0;
			ex->reason[0] = 0;
		}
		return rc;
	}
	struct lproc *lp = p->priv;
	int status;
	struct rusage ru;
	pid_t w = wait4(p->pid, &status, WNOHANG, &ru);
	if (w == 0)
		return 0;
	if (w < 0)
		return sl_error_errno(err, errno, "wait for pid %d", (int)p->pid);
	memset(ex, 0, sizeof(*ex));
	ex->max_rss_kb = ru.ru_maxrss;
	ex->peak_memory = -1;
	/* what pid 1 and the step said */
	struct report rep, setup = {0}, exit_rep = {0};
	ssize_t n;
	while ((n = read(lp->report_rd, &rep, sizeof(rep))) == (ssize_t)sizeof(rep)) {
		if (rep.kind == REP_SETUP && !setup.kind)
			setup = rep;
		else if (rep.kind == REP_EXIT)
			exit_rep = rep;
	}
	int st = exit_rep.kind ? exit_rep.status : status;
	if (WIFEXITED(st)) {
		ex->exited = 1;
		ex->code = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		ex->signal = WTERMSIG(st);
	}
	if (lp->have_cg) {
		sandbox_cgroup_stats(&lr->pr.cg, &lp->cg, &ex->peak_memory, &ex->oom);
		sandbox_cgroup_destroy(&lp->cg);
		lp->have_cg = 0;
	}
	if (setup.kind) {
		if (setup.stage == SB_EXEC)
			snprintf(ex->reason, sizeof(ex->reason), "sandbox: exec %s: %s",
				 lp->pl.argv[0], strerror(setup.err));
		else
			snprintf(ex->reason, sizeof(ex->reason), "sandbox: %s: %s",
				 sandbox_stage_name(setup.stage), strerror(setup.err));
	} else if (ex->oom && lp->memory) {
		char sz[32];
		format_size(lp->memory, sz, sizeof(sz));
		snprintf(ex->reason, sizeof(ex->reason), "memory limit %s exceeded", sz);
		if (ex->exited && ex->code == 0) {
			/* the OOM killer took a helper, the step carried on: still over */
		}
	}
	char line[1200];
	/* the step's writes: undeclared ones are listed, declared ones promoted on success */
	strbuf sb = STRBUF_INIT;
	struct undeclared u = {lp, &sb, 0, 0};
	list_undeclared(&u, lp->upper, "", 0);
	if (u.n) {
		snprintf(line, sizeof(line), "sandbox: %zu undeclared write%s dropped: %s%s\n", u.n,
			 u.n == 1 ? "" : "s", strbuf_str(&sb), u.n > 20 ? ", ..." : "");
		log_line(lp, line);
	}
	strbuf_release(&sb);
	int ok = ex->exited && ex->code == 0 && !ex->reason[0];
	if (ok) {
		for (size_t k = 0; k < lp->ndeclared; k++) {
			char *src = arena_printf(&lp->mem, "%s/%s", lp->upper, lp->outputs[k]);
			struct stat s;
			if (lstat(src, &s) < 0 || is_whiteout(&s)) {
				snprintf(ex->reason, sizeof(ex->reason), "missing output %s",
					 lp->outputs[k]);
				ok = 0;
				break;
			}
		}
	}
	if (ok) {
		for (size_t k = 0; k < lp->noutputs; k++) {
			char *src = arena_printf(&lp->mem, "%s/%s", lp->upper, lp->outputs[k]);
			char *dst = arena_printf(&lp->mem, "%s/%s", lp->ws, lp->outputs[k]);
			struct stat s;
			if (lstat(src, &s) < 0)
				continue; /* an absent metrics file: the executor says so */
			if (promote(src, dst) < 0) {
				snprintf(ex->reason, sizeof(ex->reason), "sandbox: promote %s: %s",
					 lp->outputs[k], strerror(errno));
				break;
			}
		}
	} else if (lp->ndeclared && !setup.kind) {
		snprintf(line, sizeof(line),
			 "sandbox: the step failed: its outputs are not moved to the workspace\n");
		log_line(lp, line);
	}
	/* Drop what is left in the upper dir: undeclared writes, or everything
	 * when the step failed.  Empty directories stay (upper/ with the parents
	 * of promoted outputs, work/, the root/ mount point): removing them
	 * costs more than the rest of the reap on a VM's disk. */
	if (u.n || !ok)
		fs_rm_rf(lp->upper);
	if (lp->pidfd >= 0)
		close(lp->pidfd);
	lp->pidfd = -1;
	p->pidfd = -1;
	lproc_free(lp);
	/* later signals (the executor's "leftovers" SIGKILL) go nowhere: the
	 * namespace died with its pid 1, and its pid may be someone else's now */
	p->priv = &reaped;
	return 1;
}

static void local_free(runner *r)
{
	struct local *lr = (struct local *)r;
	lr->plain->ops->free(lr->plain);
	free(lr->prog.filter);
	if (lr->netns_fd >= 0)
		close(lr->netns_fd);
	if (lr->null_fd >= 0)
		close(lr->null_fd);
	sandbox_cgroups_release(&lr->pr.cg);
	free(lr->hide_home);
	if (lr->helper_sock >= 0) {
		close(lr->helper_sock); /* the helper exits on EOF */
		waitpid(lr->helper_pid, NULL, 0);
	}
	free(lr->helper_buf);
	free(lr);
}

static const runner_ops local_ops = {"local", local_start, local_signal, local_reap, local_free};

/* ---- probing, once ------------------------------------------------------------------ */

static int probe_userns(char *why, size_t size)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_NEWUSER;
	ca.exit_signal = SIGCHLD;
	pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0 && errno == ENOSYS)
		pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		int e = errno;
		char knob[16] = "";
		int fd = open("/proc/sys/kernel/unprivileged_userns_clone", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, knob, sizeof(knob) - 1);
			knob[n > 0 ? n : 0] = 0;
			close(fd);
		}
		snprintf(why, size, "cannot create one: %s%s", strerror(e),
			 knob[0] == '0' ? " (kernel.unprivileged_userns_clone is 0)" : "");
		return 0;
	}
	waitpid(pid, NULL, 0);
	return 1;
}

static int make_empty_netns(void)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	int fd = -1;
	if (unshare(CLONE_NEWNET) == 0) {
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (setns(self, CLONE_NEWNET) < 0) {
			/* cannot go back: there is no safe way on */
			abort();
		}
	}
	close(self);
	return fd;
}

runner *runner_local_new(void)
{
	struct local *lr = xcalloc(1, sizeof(*lr));
	lr->base.ops = &local_ops;
	lr->plain = runner_plain_new();
	lr->netns_fd = -1;
	const char *inject = getenv("SLUICE_SANDBOX_FAIL");
	lr->fail_stage = sandbox_stage_parse(inject);
	if (inject && *inject && lr->fail_stage < 0)
		fprintf(stderr,
			"sluice: warning: SLUICE_SANDBOX_FAIL=%s names no sandbox stage "
			"(ignored; see docs/sandbox.md)\n",
			inject);
	sandbox_probe *pr = &lr->pr;
	pr->root = geteuid() == 0;
	pr->userns = pr->root ? 1 : probe_userns(pr->why_userns, sizeof(pr->why_userns));
	char buf[4096];
	int fd = open("/proc/filesystems", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		pr->overlay = strstr(buf, "\toverlay\n") != NULL;
		close(fd);
	}
	sl_error *err = NULL;
	if (sandbox_seccomp_compile(&lr->prog, &err) == 0) {
		pr->seccomp = 1;
	} else {
		snprintf(pr->why_seccomp, sizeof(pr->why_seccomp), "%s", err->msg);
		sl_error_release(&err);
	}
	pr->cap_last = CAP_LAST_CAP;
	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, 16);
		buf[n > 0 ? n : 0] = 0;
		if (n > 0)
			pr->cap_last = atoi(buf);
		close(fd);
	}
	sandbox_cgroups_probe(&pr->cg);
	/* one empty network namespace, entered per step (root only: an
	 * unprivileged step's user namespace could not enter it) */
	if (pr->root && !getenv("SLUICE_SANDBOX_NO_SHARED_NET"))
		lr->netns_fd = make_empty_netns();
	pr->shared_net = lr->netns_fd >= 0;
	lr->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	helper_start(lr);
	/* the user's home is hidden: $HOME, else the passwd entry */
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	if (home && home[0] == '/' && strcmp(home, "/") != 0) {
		char real[PATH_MAX];
		if (realpath(home, real))
			lr->hide_home = strdup(real);
	}
	return &lr->base;
}

const sandbox_probe *runner_local_probe(runner *r)
{
	return r->ops == &local_ops ? &((struct local *)r)->pr : NULL;
}
