/*
 * runner.h — how a step process is started, watched and stopped.
 *
 * The executor talks to a runner through this interface only (ninja's
 * CommandRunner), so scheduling is tested without namespaces and the local
 * sandbox and Slurm plug in behind the same calls.  A runner knows nothing
 * of the store.
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

typedef struct step_launch {
	const char *name;  /* for messages */
	char *const *argv; /* argv[0] is an absolute path */
	char *const *envp;
	const char *cwd; /* the workspace */
	int out_fd;      /* stdout and stderr of the step (write end of the log pipe) */
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

typedef struct step_proc {
	pid_t pid;  /* the step's process group leader; in the sandbox, its pid 1 */
	int pidfd;  /* readable when it exits; -1 when the kernel has no pidfd_open */
	void *priv; /* the runner's own state for this process */
	int reaped; /* set by reap: from then on the pid may name another process */
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
} step_exit;

typedef struct runner runner;
typedef struct runner_ops {
	const char *name;
	/* Start the step; on success p->pid and p->pidfd are set. */
	int (*start)(runner *r, const step_launch *l, step_proc *p, sl_error **err);
	/* Send sig to the step's whole process group. */
	int (*signal)(runner *r, step_proc *p, int sig);
	/* Reap a process that exited (pidfd readable or SIGCHLD seen); 1 when
	 * reaped, 0 when still running.  The local runner also promotes the
	 * declared outputs (on success) before it returns 1. */
	int (*finish)(runner *r, step_proc *p, step_exit *ex, sl_error **err);
	void (*free)(runner *r);
} runner_ops;

struct runner {
	const runner_ops *ops;
};

/* Plain child processes (posix_spawn, own process group, no isolation):
 * `sandbox: none` and the executor's tests. */
runner *runner_plain_new(void);

/* The local sandbox (runners/local.c, docs/sandbox.md): probes the machine
 * once (user namespaces, seccomp, cgroup mode, overlayfs) and compiles the
 * seccomp filter; steps whose sandbox is off run as plain processes.
 * Never fails: what the machine cannot do becomes a step's `sandbox: ...`
 * reason or a warning.  SLUICE_SANDBOX_FAIL=STAGE injects a setup failure. */
runner *runner_local_new(void);

#endif
