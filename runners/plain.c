/*
 * plain.c — the plain runner: a step as a plain process in a new process
 * group, stdin from /dev/null, stdout and stderr into the log pipe, and
 * every process it makes tracked so that all of them end with the step
 * (docs/running.md, "How a step ends").
 *
 * Tracking: where a cgroup can be made (sandbox_tracker_probe: cgroup v2
 * below sluice's own, else the v1 freezer), each step gets one, and the
 * child joins it before it execs, so nothing of the step ever runs
 * outside it; a process that leaves the group (setsid) stays in the
 * cgroup.  Elsewhere the step's processes are found by descent: its
 * process group, what descends from its leader, and the orphans sluice
 * (the child subreaper) adopted that carry the step's SLUICE_RUN_ID,
 * SLUICE_WORKSPACE, SLUICE_STEP and SLUICE_ATTEMPT, with what descends
 * from them (a /proc walk).
 *
 * Starting: vfork, then in the child only async-signal-safe calls on what
 * start prepared (git run-command.c's child_err): join the cgroup, own
 * process group, fds, cwd, signal dispositions, execve; a failure is
 * {stage, errno} on a close-on-exec pipe, end of file means the exec
 * succeeded.  vfork (as posix_spawn uses underneath) costs the same from a
 * large parent as from a small one, unlike fork (docs/benchmarks.md);
 * joining from the child, rather than clone3's CLONE_INTO_CGROUP, keeps
 * that (CLONE_VM needs a stack of its own, which only assembly can hand
 * clone3) and is as atomic for the step: the parent is suspended until the
 * exec, and the step's first instruction runs inside the cgroup.
 *
 * Ending (finish): the leader reaped, the step is done when nothing of it
 * is left.  Without a SIGTERM from sluice, that is at once: what the leader
 * left is killed.  After a SIGTERM (a timeout, a cancel) the rest has the
 * grace period as the leader had: finish returns 0 until the process group
 * and the cgroup (or the descent) are empty, or until the SIGKILL at the
 * end of the grace period; once the leader is reaped the pidfd is closed
 * and the caller polls (runner.h).
 */
#include "sluice/runner.h"
#include "sluice/sandbox.h"

#include "sluice/arena.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The runner: made by runner_plain_new, freed by plain_free. */
struct plain {
	runner base;
	sandbox_tracker tr; /* probed at the first start */
	int probed;
	int null_fd;
	unsigned seq;
	int warned;
};

/* The step's identity in its environment, for descent (4 strings, or none). */
#define NIDENT 4
static const char *const ident_names[NIDENT] = {
	"SLUICE_RUN_ID=", "SLUICE_WORKSPACE=", "SLUICE_STEP=", "SLUICE_ATTEMPT="};

/* One started step: made by plain_start, p->priv until finish returns 1. */
struct pproc {
	sandbox_track cg; /* its cgroup; kind SB_TRACK_DESCENT: none */
	pid_t pgid;
	int leader_gone; /* the leader is reaped: status and ru hold its end */
	int status;
	struct rusage ru;
	int signalled; /* sluice sent a signal other than SIGKILL: a grace period runs */
	int killed;    /* sluice sent SIGKILL */
	char *ident[NIDENT];
};

/* ---- between vfork and exec ------------------------------------------------------------- */

enum { CH_CGROUP, CH_PGROUP, CH_FDS, CH_CHDIR, CH_EXEC, CH_NSTAGES };
static const char *const child_stages[CH_NSTAGES] = {"cgroup", "process group", "fds", "chdir",
						     "exec"};

/* Everything the child reads, prepared by plain_start. */
struct child_plan {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int null_fd, out_fd, cg_procs, report_fd;
};

struct child_report {
	int stage, err;
};

static __attribute__((noreturn)) void child_fail(const struct child_plan *cp, int stage, int e)
{
	struct child_report rep = {stage, e};
	if (write(cp->report_fd, &rep, sizeof(rep)) < 0) {
		/* nobody to tell */
	}
	_exit(127);
}

static int to_fd(int from, int to)
{
	/* dup2 onto itself keeps close-on-exec: clear it */
	return from == to ? fcntl(to, F_SETFD, 0) : dup2(from, to);
}

/* The vforked child: shares sluice's memory, so it only reads cp and makes
 * system calls; all signals are blocked until just before the exec. */
static __attribute__((noreturn)) void plain_child(const struct child_plan *cp)
{
	/* first: nothing of the step runs outside its cgroup */
	if (cp->cg_procs >= 0 && write(cp->cg_procs, "0", 1) < 0)
		child_fail(cp, CH_CGROUP, errno);
	if (setpgid(0, 0) < 0)
		child_fail(cp, CH_PGROUP, errno);
	if (to_fd(cp->null_fd, 0) < 0 || to_fd(cp->out_fd, 1) < 0 || to_fd(cp->out_fd, 2) < 0)
		child_fail(cp, CH_FDS, errno);
	if (chdir(cp->cwd) < 0)
		child_fail(cp, CH_CHDIR, errno);
	/* no handler of sluice's may run here; and the orchestrator blocks or
	 * ignores these, the step gets them fresh */
	static const int fresh[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
				    SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction cur;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) < 0)
			continue;
		int reset = cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN;
		for (size_t k = 0; k < sizeof(fresh) / sizeof(fresh[0]); k++)
			reset |= fresh[k] == sig;
		if (reset)
			sigaction(sig, &dfl, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(cp->argv[0], cp->argv, cp->envp);
	child_fail(cp, CH_EXEC, errno);
}

/* vfork in a frame of its own: the child never returns into plain_start. */
static pid_t spawn_child(const struct child_plan *cp)
{
	pid_t pid = vfork();
	if (pid == 0)
		plain_child(cp);
	return pid;
}

/* ---- descent: a step's processes without a cgroup ------------------------------------------ */

struct pinfo {
	pid_t pid, ppid, pgrp;
	int zombie;
};

/* Every process: pid, parent, process group (from /proc/PID/stat).  The caller frees. */
static size_t proc_table(struct pinfo **out)
{
	size_t n = 0, cap = 256;
	struct pinfo *t = xmalloc(cap * sizeof(*t));
	DIR *d = opendir("/proc");
	for (struct dirent *e; d && (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		/* "pid (comm) state ppid pgrp ...": comm may hold spaces and parens */
		char *rp = strrchr(buf, ')');
		char state;
		int ppid, pgrp;
		if (!rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
			continue;
		if (n == cap) {
			cap *= 2;
			t = xrealloc(t, cap * sizeof(*t));
		}
		t[n++] = (struct pinfo){(pid_t)pid, (pid_t)ppid, (pid_t)pgrp, state == 'Z'};
	}
	if (d)
		closedir(d);
	*out = t;
	return n;
}

/* Does pid's environment carry all of the step's identity? */
static int has_ident(pid_t pid, char *const *ident, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	int found = 0;
	for (char *v = buf; v < buf + n; v += strlen(v) + 1)
		for (int k = 0; k < NIDENT; k++)
			found += !strcmp(v, ident[k]);
	return found == NIDENT;
}

/* The step's live processes outside its process group (which the caller
 * signals as one); the group's members count in *in_group.  The caller
 * frees the array. */
static size_t descent_members(const struct pproc *pp, pid_t leader, pid_t **out, size_t *in_group)
{
	struct pinfo *t;
	size_t n = proc_table(&t);
	char *mark = xcalloc(n + 1, 1);
	pid_t self = getpid();
	size_t envsz = 1 << 16;
	char *env = pp->ident[0] ? xmalloc(envsz) : NULL;
	for (size_t k = 0; k < n; k++)
		mark[k] = t[k].pgrp == pp->pgid || t[k].pid == leader ||
			  (env && t[k].ppid == self && has_ident(t[k].pid, pp->ident, env, envsz));
	/* and what descends from them: until a pass adds nothing */
	for (int more = 1; more;) {
		more = 0;
		for (size_t k = 0; k < n; k++) {
			if (mark[k])
				continue;
			for (size_t j = 0; j < n; j++)
				if (mark[j] && t[j].pid == t[k].ppid) {
					mark[k] = more = 1;
					break;
				}
		}
	}
	pid_t *pids = xmalloc((n + 1) * sizeof(pid_t));
	size_t m = 0;
	*in_group = 0;
	for (size_t k = 0; k < n; k++) {
		if (!mark[k] || t[k].zombie || t[k].pid == self)
			continue;
		if (t[k].pgrp == pp->pgid)
			(*in_group)++;
		else
			pids[m++] = t[k].pid;
	}
	free(env);
	free(mark);
	free(t);
	*out = pids;
	return m;
}

/* Send sig to the step's processes outside its group; how many there were
 * (the group's members included). */
static size_t descent_signal(const struct pproc *pp, pid_t leader, int sig)
{
	size_t total = 0;
	/* SIGKILL: again while new ones show up (a fork between walk and kill) */
	for (int pass = 0; pass < (sig == SIGKILL ? 10 : 1); pass++) {
		pid_t *pids;
		size_t in_group, m = descent_members(pp, leader, &pids, &in_group);
		for (size_t k = 0; k < m; k++)
			kill(pids[k], sig);
		free(pids);
		if (pass == 0)
			total = m + in_group;
		if (!m)
			break;
	}
	return total;
}

/* ---- the runner ---------------------------------------------------------------------- */

static void pproc_free(struct pproc *pp)
{
	sandbox_track_destroy(&pp->cg);
	for (int k = 0; k < NIDENT; k++)
		free(pp->ident[k]);
	free(pp);
}

static void warn_descent(struct plain *pl, int log_fd, const char *why)
{
	char msg[800];
	snprintf(msg, sizeof(msg),
		 "processes of `sandbox: none` steps are tracked by descent, not by a cgroup "
		 "(%s): one that leaves the step's process group and clears its environment "
		 "may outlive the step",
		 why);
	char line[900];
	int n = snprintf(line, sizeof(line), "sluice: warning: %s\n", msg);
	if (write(log_fd, line, (size_t)n) < 0) {
		/* the log is best effort */
	}
	if (!pl->warned) {
		pl->warned = 1;
		fprintf(stderr, "sluice: warning: %s\n", msg);
	}
}

static int plain_start(runner *r, const step_launch *l, step_proc *p, sl_error **err)
{
	struct plain *pl = (struct plain *)r;
	if (!pl->probed) {
		sandbox_tracker_probe(&pl->tr, getenv("SLUICE_PROC_TRACK"));
		pl->probed = 1;
		sandbox_track_sweep(&pl->tr);
	}
	if (pl->null_fd < 0)
		return sl_error_errno(err, errno, "start %s: /dev/null", l->name);
	struct pproc *pp = xcalloc(1, sizeof(*pp));
	pp->cg.procs = -1;
	pp->cg.kind = SB_TRACK_DESCENT;
	if (pl->tr.kind != SB_TRACK_DESCENT) {
		char name[64];
		snprintf(name, sizeof(name), "sluice-%d-p%u", (int)getpid(), ++pl->seq);
		sl_error *cerr = NULL;
		if (sandbox_track_create(&pl->tr, &pp->cg, name, &cerr) < 0) {
			warn_descent(pl, l->out_fd, cerr->msg);
			sl_error_release(&cerr);
		}
	} else {
		warn_descent(pl, l->out_fd, pl->tr.why);
	}
	int nident = 0;
	for (int k = 0; k < NIDENT; k++)
		for (char *const *e = l->envp; e && *e && !pp->ident[k]; e++)
			if (!strncmp(*e, ident_names[k], strlen(ident_names[k]))) {
				pp->ident[k] = xstrdup(*e);
				nident++;
			}
	if (nident < NIDENT) /* not a step of a run: no identity to find it by */
		for (int k = 0; k < NIDENT; k++) {
			free(pp->ident[k]);
			pp->ident[k] = NULL;
		}
	int rep[2];
	if (pipe2(rep, O_CLOEXEC) < 0) {
		int e = errno;
		pproc_free(pp);
		return sl_error_errno(err, e, "start %s: pipe", l->name);
	}
	struct child_plan cp = {.argv = l->argv,
				.envp = l->envp,
				.cwd = l->cwd,
				.null_fd = pl->null_fd,
				.out_fd = l->out_fd,
				.cg_procs = pp->cg.procs,
				.report_fd = rep[1]};
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = spawn_child(&cp);
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(rep[1]);
	if (pp->cg.procs >= 0) /* the child has joined (or failed to) */
		close(pp->cg.procs);
	pp->cg.procs = -1;
	struct child_report cr = {0, 0};
	ssize_t n = 0;
	if (pid > 0)
		do
			n = read(rep[0], &cr, sizeof(cr));
		while (n < 0 && errno == EINTR);
	close(rep[0]);
	if (pid < 0 || n == (ssize_t)sizeof(cr)) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		pproc_free(pp);
		if (pid < 0)
			return sl_error_errno(err, e, "start %s: vfork", l->name);
		if (cr.stage == CH_EXEC)
			return sl_error_errno(err, cr.err, "start %s: %s", l->name, l->argv[0]);
		if (cr.stage == CH_CHDIR)
			return sl_error_errno(err, cr.err, "start %s: chdir %s", l->name, l->cwd);
		return sl_error_errno(
			err, cr.err, "start %s: %s", l->name,
			cr.stage >= 0 && cr.stage < CH_NSTAGES ? child_stages[cr.stage] : "setup");
	}
	pp->pgid = pid;
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd >= 0)
		fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
	p->owner = r;
	p->priv = pp;
	p->reaped = 0;
	return 0;
}

/* Send sig to every process of the step: its process group at once, then
 * those that left it (the cgroup's, or by descent). */
static void signal_all(struct pproc *pp, const step_proc *p, int sig)
{
	if (kill(-pp->pgid, sig) < 0 && errno == ESRCH && !pp->leader_gone)
		kill(p->pid, sig); /* the leader left its group */
	if (pp->cg.dir)
		sandbox_track_signal(&pp->cg, sig, pp->pgid);
	else
		descent_signal(pp, pp->leader_gone ? 0 : p->pid, sig);
}

/* Nothing of the step is left (zombies count until reaped: sluice reaps orphans). */
static int all_gone(struct pproc *pp)
{
	if (kill(-pp->pgid, 0) == 0 || errno != ESRCH)
		return 0;
	if (pp->cg.dir)
		return sandbox_track_empty(&pp->cg);
	pid_t *pids;
	size_t in_group, m = descent_members(pp, 0, &pids, &in_group);
	free(pids);
	return m + in_group == 0;
}

static int plain_signal(runner *r, step_proc *p, int sig)
{
	(void)r;
	/* after finish the pid may belong to another process, and what was left
	 * of the step was killed */
	if (p->reaped)
		return 0;
	struct pproc *pp = p->priv;
	if (sig == SIGKILL)
		pp->killed = 1;
	else
		pp->signalled = 1;
	signal_all(pp, p, sig);
	return 0;
}

static int plain_finish(runner *r, step_proc *p, step_exit *ex, sl_error **err)
{
	(void)r;
	if (p->reaped)
		return sl_error_make(err, "pid %d was reaped already", (int)p->pid);
	struct pproc *pp = p->priv;
	if (!pp->leader_gone) {
		int status;
		struct rusage ru;
		pid_t w = wait4(p->pid, &status, WNOHANG, &ru);
		if (w == 0)
			return 0;
		if (w < 0)
			return sl_error_errno(err, errno, "wait for pid %d", (int)p->pid);
		pp->leader_gone = 1;
		pp->status = status;
		pp->ru = ru;
		/* a gone process's pidfd stays readable: from here the caller polls */
		if (p->pidfd >= 0)
			close(p->pidfd);
		p->pidfd = -1;
	}
	/* after a SIGTERM the rest of the step has the grace period too; the
	 * process group keeps its id reserved while it has members */
	if (pp->signalled && !pp->killed && !all_gone(pp))
		return 0;
	/* leftovers go with the step (docs/running.md) */
	signal_all(pp, p, SIGKILL);
	memset(ex, 0, sizeof(*ex));
	ex->peak_memory = -1;
	if (WIFEXITED(pp->status)) {
		ex->exited = 1;
		ex->code = WEXITSTATUS(pp->status);
	} else if (WIFSIGNALED(pp->status)) {
		ex->signal = WTERMSIG(pp->status);
	}
	ex->max_rss_kb = pp->ru.ru_maxrss;
	pproc_free(pp);
	p->priv = NULL;
	p->reaped = 1;
	return 1;
}

static void plain_free(runner *r)
{
	struct plain *pl = (struct plain *)r;
	sandbox_tracker_release(&pl->tr);
	if (pl->null_fd >= 0)
		close(pl->null_fd);
	free(pl);
}

static const runner_ops plain_ops = {"plain", plain_start, plain_signal, plain_finish, plain_free};

runner *runner_plain_new(void)
{
	struct plain *pl = xcalloc(1, sizeof(*pl));
	pl->base.ops = &plain_ops;
	pl->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return &pl->base;
}
