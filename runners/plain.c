/*
 * plain.c — the plain runner: posix_spawn into a new process group, stdin
 * from /dev/null, stdout and stderr into the log pipe.  posix_spawn (vfork
 * underneath) costs the same from a large parent as from a small one,
 * unlike fork (docs/benchmarks.md).  finish reaps the leader and kills
 * what it left in its process group; after that the proc is never
 * signalled again (runner.h).
 */
#include "sluice/runner.h"

#include "sluice/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int plain_start(runner *r, const step_launch *l, step_proc *p, sl_error **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, l->out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, l->out_fd, 2);
	posix_spawn_file_actions_addchdir_np(&fa, l->cwd);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	/* the orchestrator blocks or catches these; the step gets them fresh */
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&dfl, sigs[i]);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
	pid_t pid;
	int rc = posix_spawn(&pid, l->argv[0], &fa, &at, l->argv, l->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0)
		return sl_error_errno(err, rc, "start %s: %s", l->name, l->argv[0]);
	p->pid = pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd >= 0)
		fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
	p->owner = r;
	p->priv = NULL;
	p->reaped = 0;
	return 0;
}

static int plain_signal(runner *r, step_proc *p, int sig)
{
	/* a reaped leader's pid may belong to another process by now, and what
	 * was left in its group was killed by finish */
	if (p->reaped)
		return 0;
	/* the group first (it outlives its leader while members are left); the
	 * leader alone if it left its group */
	if (kill(-p->pid, sig) < 0 && errno == ESRCH)
		return kill(p->pid, sig);
	return 0;
}

static int plain_finish(runner *r, step_proc *p, step_exit *ex, sl_error **err)
{
	if (p->reaped)
		return sl_error_make(err, "pid %d was reaped already", (int)p->pid);
	int status;
	struct rusage ru;
	pid_t w = wait4(p->pid, &status, WNOHANG, &ru);
	if (w == 0)
		return 0;
	if (w < 0)
		return sl_error_errno(err, errno, "wait for pid %d", (int)p->pid);
	p->reaped = 1;
	/* leftovers of the step's process group go with it (docs/running.md); the
	 * group keeps its id reserved while it has members */
	kill(-p->pid, SIGKILL);
	memset(ex, 0, sizeof(*ex));
	ex->peak_memory = -1;
	if (WIFEXITED(status)) {
		ex->exited = 1;
		ex->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		ex->signal = WTERMSIG(status);
	}
	ex->max_rss_kb = ru.ru_maxrss;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	return 1;
}

static void plain_free(runner *r)
{
	free(r);
}

static const runner_ops plain_ops = {"plain", plain_start, plain_signal, plain_finish, plain_free};

runner *runner_plain_new(void)
{
	runner *r = xcalloc(1, sizeof(*r));
	r->ops = &plain_ops;
	return r;
}
