/*
 * runner.h — how a step process is started, watched and stopped.
 *
 * The executor talks to a runner through this interface only (ninja's
 * CommandRunner), so scheduling is tested without namespaces and the local
 * sandbox and Slurm plug in behind the same calls.  A runner knows nothing
 * of the store.
 *
 * The protocol (git's run-command.h): fill a step_launch, zero a step_proc,
 * then
 *
 *     start(r, &l, &p, &err)     0: p.pid and p.pidfd are set, the step runs;
 *                                -1: nothing runs, nothing is left open, p is
 *                                untouched (do not signal or finish it)
 *     signal(r, &p, sig)         any number of times while it runs
 *     finish(r, &p, &ex, &err)   when p.pidfd is readable (or on SIGCHLD
 *                                without a pidfd): 0 still running, call
 *                                again later; 1 done, ex filled, everything
 *                                the runner held for p released
 *
 * A step is done when its leader exited and nothing of it is left, or, after
 * a signal other than SIGKILL (a timeout's or a cancel's SIGTERM), when the
 * SIGKILL at the end of the grace period came: the other processes of the
 * step have the grace period too.  Meanwhile finish returns 0 with the
 * leader reaped and p.pidfd closed and set to -1 (it would stay readable):
 * the caller polls, calling finish again every so often.  Without such a
 * signal, what the leader left is killed when it exits.
 *
 * and a step_proc may be started again (a retry) once finish returned 1.
 *
 * File descriptors:
 *   - l.out_fd is the caller's.  The runner dups what it keeps (the step's
 *     stdout and stderr; the local runner keeps one more for its own lines
 *     in the log, closed by finish), so the caller closes out_fd right after
 *     start, and the log pipe's read end sees end of file only when the step
 *     and everything it left are gone and finish has returned 1.
 *   - p.pidfd is the runner's: the caller may poll it, never closes it.
 *     finish closes it when it returns 1, or when it returns 0 with the
 *     leader gone and the rest of the step in its grace period, and sets
 *     p.pidfd to -1 (an epoll registration goes with it).  -1 from start:
 *     the kernel has no pidfd_open; wait for SIGCHLD instead.  The caller
 *     looks at p.pidfd after every finish: -1 means poll.
 *   - every fd a runner opens is close-on-exec: no step inherits another's.
 *
 * Failures:
 *   - plain runner: a failed execve fails start ("start NAME: PATH:
 *     strerror"), as do a failed chdir and joining the step's cgroup.
 *   - local sandbox: a failure in the parent's stages (prepare .. go, see
 *     sandbox.h) fails start ("sandbox: STAGE: strerror"); a failure in
 *     the child's stages, execve included, is an exit: start succeeds,
 *     finish returns 1 with exit code 127 and ex.reason "sandbox: STAGE:
 *     strerror" ("sandbox: exec PATH: strerror" for execve).
 *
 * Once finish returned 1 the pid may name another process: p.reaped is set
 * (by every runner, the one "already reaped" mark), signal returns 0 and
 * sends nothing, and finish is an error.
 *
 * Everything a child needs (argv, envp, paths) is prepared by the caller
 * before start(): between fork and exec a child allocates nothing.
 */
#ifndef SLUICE_RUNNER_H
#define SLUICE_RUNNER_H

#include "sluice/error.h"
#include "sluice/pipeline.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct runner runner;

/* What to start; read during start only, nothing of it is kept. */
typedef struct step_launch {
	const char *name;  /* for messages */
	char *const *argv; /* argv[0] is an absolute path */
	char *const *envp;
	const char *cwd; /* the workspace */
	int out_fd; /* stdout and stderr of the step (write end of the log pipe); the caller's */
	/* NULL or !enabled: a plain process (`sandbox: none`, registry built-ins) */
	const sandbox_config *sandbox;
	/* For the sandbox; the plain runner ignores them. */
	const char *attempt_dir;    /* private to this attempt: upper/, work/, root/ go here */
	const char *const *outputs; /* declared outputs, workspace-relative: promoted on success */
	size_t noutputs;
	const char *metrics;        /* workspace-relative metrics file, or NULL: promoted too */
	const char *state_dir;      /* sluice's state directory: hidden from the step */
	const char *const *devices; /* extra device nodes (/dev/nvidia0, ...), NULL-terminated */
} step_launch;

/* A started step; the caller's memory, the runner's fields (the caller reads
 * pid and pidfd, writes nothing). */
typedef struct step_proc {
	pid_t pid; /* the step's process group leader; in the sandbox, its pid 1 */
	int pidfd; /* readable when it exits; -1 without pidfd_open, and after finish */
	/* The runner that started it, whose signal and finish apply: the local
	 * runner hands `sandbox: none` steps to the plain one. */
	runner *owner;
	void *priv; /* the owner's own state for this process; NULL after finish */
	int reaped; /* set by finish: from then on the pid may name another process */
} step_proc;

typedef struct step_exit {
	int exited; /* 1: exit code valid; 0: killed by signal */
	int code;   /* exit status */
	int signal; /* terminating signal */
	int64_t max_rss_kb;
	int64_t peak_memory; /* bytes, from the step's memory cgroup; -1 unknown */
	int oom;             /* the OOM killer struck inside the step's memory limit */
	/* When set, the reason the attempt failed, over the exit status:
	 * "sandbox: STAGE: strerror", "memory limit 64M exceeded",
	 * "missing output PATH".  Empty when the exit status says it all. */
	char reason[256];
	/* How the sandbox kept this step from the other steps (docs/sandbox.md,
	 * "Security layers"): "landlock scopes (ABI 6)", "network namespace per
	 * step", or, for a `network: true` step on a kernel without Landlock
	 * scopes, "none: network: true without landlock scopes".  Empty outside
	 * the sandbox. */
	char isolation[48];
} step_exit;

typedef struct runner_ops {
	const char *name;
	/* Start the step (see the protocol above).  l->out_fd stays the
	 * caller's; on success p->pid, p->pidfd, p->owner are set and p->reaped
	 * is 0. */
	int (*start)(runner *r, const step_launch *l, step_proc *p, sl_error **err);
	/* Send sig to every process of the step: the plain runner to its
	 * process group and to those that left it (found by the step's cgroup,
	 * or by descent: docs/running.md), the sandbox to its pid 1 (which
	 * forwards it to every process of the namespace; SIGKILL ends the
	 * namespace).  0, or -1 with errno; 0 and nothing sent once finish
	 * returned 1. */
	int (*signal)(runner *r, step_proc *p, int sig);
	/* Reap a step that exited and finish its attempt: 0 while it still
	 * runs (its leader, or after a SIGTERM the rest of it: see above); 1
	 * when done, with ex filled (the leader's exit status).  Finishing is:
	 * the exit status and rusage (wait4); then, in the plain runner,
	 * SIGKILL to what is left of the step and its cgroup removed, and in
	 * the sandbox (whose pid 1 waits for the namespace to empty after a
	 * forwarded signal), the report pipe, the
	 * cgroup's peak memory and OOM verdict, the log lines about undeclared
	 * writes, the declared outputs promoted into the workspace when the
	 * step succeeded (a missing one is ex->reason), and the upper dir and
	 * cgroups removed.  Then it closes p->pidfd and everything it held for
	 * p, and frees p->priv.  -1: waiting failed, p is as it was. */
	int (*finish)(runner *r, step_proc *p, step_exit *ex, sl_error **err);
	/* Free the runner (the local runner: its helper process too), once
	 * every step it started is finished. */
	void (*free)(runner *r);
} runner_ops;

struct runner {
	const runner_ops *ops;
};

/* Plain child processes (vfork, own process group, own cgroup where one
 * can be made, no isolation): `sandbox: none` and the registry built-ins.
 * SLUICE_PROC_TRACK=cgroup2|freezer|descent picks how their processes are
 * tracked (tests); the default is the first that works. */
runner *runner_plain_new(void);

/* The local sandbox (runners/local.c, docs/sandbox.md): probes the machine
 * once (user namespaces, seccomp, cgroup mode, overlayfs) and compiles the
 * seccomp filter; steps whose sandbox is off run as plain processes.
 * Never fails: what the machine cannot do becomes a step's `sandbox: ...`
 * reason or a warning.  SLUICE_SANDBOX_FAIL=STAGE injects a setup failure. */
runner *runner_local_new(void);

#endif
