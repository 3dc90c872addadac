/*
 * local.c — the local runner: every step in its own namespaces, a read-only
 * world, the workspace as an overlay, seccomp, no capabilities, enforced
 * limits (docs/sandbox.md).
 * `sandbox: none` steps (and the registry built-ins) go to the plain runner.
 *
 * This file is the runner (start, signal, finish, free) and the probe; the
 * rest of the sandbox is one file per side of the clone (sandbox_int.h):
 *
 *   local.c, sandbox_helper.c           sandbox_child.c
 *   orchestrator (local_start) or the   pid 1 in the new namespaces
 *   helper (sandbox_spawn_init)         (sandbox_child_main)
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
 *   local_finish: wait4, read the report
 *   pipe ({stage, errno} or the exit
 *   status), cgroup peak/OOM, promote
 *   declared outputs from the upper dir
 *   (success only; sandbox_promote.c),
 *   log undeclared writes, remove upper
 *   dir and cgroups
 *
 * Any setup failure travels back as {stage, errno} on the close-on-exec
 * report pipe and becomes the reason `sandbox: STAGE: strerror`.
 */
#include "sandbox_int.h"

#include "sluice/runner.h"
#include "sluice/sandbox.h"

#include "sluice/arena.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the stages, by name ------------------------------------------------------------- */

static const char *const stage_names[SB_NSTAGES] = {
	"prepare",     "cgroup",  "pipe",       "clone",      "userns",        "uid-map",
	"cgroup-join", "go",      "wait-go",    "namespaces", "fds",           "mount-private",
	"bind-root",   "tmp",     "dev",        "proc",       "read",          "hide-home",
	"idmap",       "overlay", "hide-state", "program",    "readonly-root", "pivot-root",
	"hostname",    "chdir",   "user",       "rlimits",    "no-new-privs",  "drop-caps",
	"landlock",    "signals", "spawn",      "setsid",     "seccomp",       "exec"};

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

/* The runner: made once by runner_local_new, freed by local_free. */
struct local {
	runner base;
	runner *plain;
	sandbox_probe pr;
	struct sock_fprog prog;
	int netns_fd; /* an empty network namespace, or -1 */
	int null_fd;
	int fail_stage; /* SLUICE_SANDBOX_FAIL, or -1 */
	char *hide_home;
	struct sandbox_userns uc; /* the user namespaces of in-process clones */
	uintptr_t argv_start;     /* sluice's argv strings (pid 1 hides them) */
	size_t argv_len;
	int no_landlock; /* SLUICE_SANDBOX_NO_LANDLOCK: the fallback, for tests */
	char landlock_what[48];
	unsigned seq;
	unsigned warned;              /* bit per warning already printed on stderr */
	struct sandbox_helper helper; /* clones pid 1s (sandbox_helper.c) */
};

/* One sandboxed attempt: made by local_start (its strings in mem, the plan
 * among them), p->priv until local_finish frees it. */
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
	const char *isolation; /* step_exit.isolation */
};

/* ---- preparing and starting ------------------------------------------------------- */

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

/* A tmpfs's size: sandbox.tmpfs, else the memory limit, else 1 GiB. */
static uint64_t tmpfs_size(const sandbox_config *sb)
{
	return sb->tmpfs ? sb->tmpfs : sb->memory ? sb->memory : (uint64_t)1 << 30;
}

static int local_start(runner *r, const step_launch *l, step_proc *p, sl_error **err)
{
	struct local *lr = (struct local *)r;
	if (!l->sandbox || !l->sandbox->enabled || !l->attempt_dir) {
		return lr->plain->ops->start(lr->plain, l, p, err); /* p->owner: the plain runner */
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
	sl_error *werr = NULL; /* a planning error that says it all */

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
	    (mkdir(lp->work, 0700) < 0 && errno != EEXIST) ||
	    /* the overlay's top directory is the upper dir: the workspace owner's */
	    (lr->pr.root && chown(lp->upper, wst.st_uid, wst.st_gid) < 0)) {
		e = errno;
		snprintf(why, sizeof(why), "mkdir in %s", l->attempt_dir);
		goto fail;
	}
	pl->root = root;
	pl->ws = ws;
	pl->root_ws = arena_printf(a, "%s%s", root, ws);
	pl->userns = !lr->pr.root;
	/* as root, the step runs as the workspace's owner, or as nobody when that
	 * is root: then both layers of the overlay are idmapped so that root's
	 * files in the workspace are the step's, and what it writes is root's */
	int idmap = 0;
	if (lr->pr.root) {
		idmap = wst.st_uid == 0;
		pl->step_uid = idmap ? SB_NOBODY : (unsigned)wst.st_uid;
		pl->step_gid = idmap ? SB_NOBODY : (unsigned)wst.st_gid;
	}
	if (idmap) {
		pl->idmap_ws_src = ws;
		pl->idmap_att_src = l->attempt_dir;
		pl->idmap_ws_dst = arena_printf(a, "%s/.sluice-lower", root);
		pl->idmap_att_dst = arena_printf(a, "%s/.sluice-attempt", root);
		pl->ovl_opts = arena_printf(a, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work",
					    pl->idmap_ws_dst, pl->idmap_att_dst, pl->idmap_att_dst);
	} else {
		pl->ovl_opts = arena_printf(a, "lowerdir=%s,upperdir=%s,workdir=%s%s", ws,
					    lp->upper, lp->work, pl->userns ? ",userxattr" : "");
	}
	unsigned long long tsize = (unsigned long long)tmpfs_size(sb);
	pl->root_opts = "mode=0755,size=1m,nr_inodes=4096";
	pl->tmp_opts = arena_printf(a, "mode=1777,size=%llu", tsize);
	pl->dev_opts = arena_printf(a, "mode=0755,size=%llu", tsize);
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
	if (sandbox_world_plan(l, lr->hide_home, a, pl, root, ws, state_dir, &werr) < 0)
		goto fail;
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
	lp->outfile_fd = open(out_host, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (lp->outfile_fd < 0 || fchmod(lp->outfile_fd, 0600) < 0) {
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
	/* steps apart: Landlock scopes where the kernel has them (then the
	 * steps may share one empty network namespace), else one each */
	pl->landlock = lr->pr.landlock >= 6 && !lr->no_landlock;
	pl->setns_net = !sb->network && lr->netns_fd >= 0 && pl->landlock;
	lp->isolation = pl->landlock  ? lr->landlock_what
			: sb->network ? "none: network: true without landlock scopes"
				      : "network namespace per step";
	pl->argv_start = lr->argv_start;
	pl->argv_len = lr->argv_len;
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
	if (lr->helper.sock < 0 ||
	    sandbox_helper_spawn(&lr->helper, pl, &pid, &stage, &e, why, sizeof(why)) < 0)
		pid = sandbox_spawn_copy(pl, &lr->uc, &pidfd, &stage, &e, why, sizeof(why));
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
	p->owner = r;
	p->priv = lp;
	p->reaped = 0;
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
	if (werr) {
		if (err)
			*err = werr;
		else
			sl_error_release(&werr);
		return -1;
	}
	if (why[0])
		return sl_error_errno(err, e, "sandbox: %s: %s", sandbox_stage_name(stage), why);
	return sl_error_errno(err, e, "sandbox: %s", sandbox_stage_name(stage));
}

/* p was handed to the plain runner (`sandbox: none`), not sandboxed here. */
static int is_plain(runner *r, const step_proc *p)
{
	struct local *lr = (struct local *)r;
	if (p->owner != r && p->owner != lr->plain)
		SL_BUG("pid %d was not started by the local runner", (int)p->pid);
	return p->owner == lr->plain;
}

static int local_signal(runner *r, step_proc *p, int sig)
{
	struct local *lr = (struct local *)r;
	if (is_plain(r, p))
		return lr->plain->ops->signal(lr->plain, p, sig);
	/* after finish, signals go nowhere: the namespace died with its pid 1,
	 * and its pid may be someone else's now */
	if (p->reaped)
		return 0;
	struct lproc *lp = p->priv;
	/* pid 1 forwards to the step's process group; SIGKILL ends the namespace */
	if (lp->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, lp->pidfd, sig, NULL, 0);
	return kill(p->pid, sig);
}

/* ---- after the exit ------------------------------------------------------------------ */

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

static int local_finish(runner *r, step_proc *p, step_exit *ex, sl_error **err)
{
	struct local *lr = (struct local *)r;
	if (is_plain(r, p))
		return lr->plain->ops->finish(lr->plain, p, ex, err);
	if (p->reaped)
		return sl_error_make(err, "pid %d was reaped already", (int)p->pid);
	struct lproc *lp = p->priv;
	int status;
	struct rusage ru;
	pid_t w = wait4(p->pid, &status, WNOHANG, &ru);
	if (w == 0)
		return 0;
	if (w < 0)
		return sl_error_errno(err, errno, "wait for pid %d", (int)p->pid);
	memset(ex, 0, sizeof(*ex));
	snprintf(ex->isolation, sizeof(ex->isolation), "%s", lp->isolation);
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
		else if (setup.stage == SB_IDMAP && setup.err != EPERM)
			snprintf(ex->reason, sizeof(ex->reason),
				 "sandbox: idmap: %s (the file system of the workspace or of the "
				 "state dir cannot idmap it to uid %u; run sluice as the "
				 "workspace's owner)",
				 strerror(setup.err), lp->pl.step_uid);
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
	size_t nundeclared = sandbox_list_undeclared(lp->upper, lp->outputs, lp->noutputs, &sb);
	if (nundeclared) {
		snprintf(line, sizeof(line), "sandbox: %zu undeclared write%s dropped: %s%s\n",
			 nundeclared, nundeclared == 1 ? "" : "s", strbuf_str(&sb),
			 nundeclared > 20 ? ", ..." : "");
		log_line(lp, line);
	}
	strbuf_release(&sb);
	int ok = ex->exited && ex->code == 0 && !ex->reason[0];
	if (ok) {
		for (size_t k = 0; k < lp->ndeclared; k++) {
			if (!sandbox_output_written(lp->upper, lp->outputs[k])) {
				snprintf(ex->reason, sizeof(ex->reason), "missing output %s",
					 lp->outputs[k]);
				ok = 0;
				break;
			}
		}
	}
	/* every output is checked before any moves: one refused (a FIFO, a
	 * symlink out, a parent that is a symlink) fails the step with nothing
	 * of it in the workspace */
	for (size_t k = 0; ok && k < lp->noutputs; k++) {
		char why[sizeof(ex->reason) - 16];
		if (sandbox_promote_check(lp->upper, lp->ws, lp->outputs[k], why, sizeof(why)) <
		    0) {
			snprintf(ex->reason, sizeof(ex->reason), "sandbox: %s", why);
			ok = 0;
		}
	}
	if (ok) {
		for (size_t k = 0; k < lp->noutputs; k++) {
			/* an absent metrics file (1) is the executor's to report */
			char why[sizeof(ex->reason) - 16];
			if (sandbox_promote(lp->upper, lp->ws, lp->outputs[k], why, sizeof(why)) <
			    0) {
				snprintf(ex->reason, sizeof(ex->reason), "sandbox: %s", why);
				ok = 0;
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
	 * costs more than the rest of finish on a VM's disk. */
	if (nundeclared || !ok)
		fs_rm_rf(lp->upper);
	if (lp->pidfd >= 0)
		close(lp->pidfd);
	lp->pidfd = -1;
	p->pidfd = -1;
	lproc_free(lp);
	p->priv = NULL;
	p->reaped = 1;
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
	sandbox_userns_release(&lr->uc);
	sandbox_helper_stop(&lr->helper);
	free(lr);
}

static const runner_ops local_ops = {"local", local_start, local_signal, local_finish, local_free};

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

/* The kernel's Landlock ABI version, 0 without Landlock. */
static int probe_landlock(void)
{
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* ..._CREATE_RULESET_VERSION */);
	return v > 0 ? (int)v : 0;
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
	sandbox_cgroups_sweep(&pr->cg);
	/* one empty network namespace, entered per step (root only: an
	 * unprivileged step's user namespace could not enter it) */
	if (pr->root && !getenv("SLUICE_SANDBOX_NO_SHARED_NET"))
		lr->netns_fd = make_empty_netns();
	pr->shared_net = lr->netns_fd >= 0;
	pr->landlock = probe_landlock();
	lr->no_landlock = getenv("SLUICE_SANDBOX_NO_LANDLOCK") != NULL;
	snprintf(lr->landlock_what, sizeof(lr->landlock_what), "landlock scopes (ABI %d)",
		 pr->landlock);
	sandbox_userns_init(&lr->uc);
	sandbox_argv_area(&lr->argv_start, &lr->argv_len);
	lr->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	lr->helper.argv_start = lr->argv_start;
	lr->helper.argv_len = lr->argv_len;
	sandbox_helper_start(&lr->helper, lr->null_fd, lr->netns_fd);
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
