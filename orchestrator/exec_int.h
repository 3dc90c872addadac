/*
 * exec_int.h — what the executor's files share (private to orchestrator/).
 *
 * The executor is split by concern; each file is one of them:
 *
 *   executor.c   the event loop and the step state machine: which step
 *                starts, finishes, waits, fails, is cancelled (the life
 *                cycle is drawn in include/sluice/executor.h)
 *   attempt.c    one attempt of one step: its directory, log pipe, launch
 *                through the runner, and what its exit means (the reason
 *                and the retry cause)
 *   stepcmd.c    the step's argv and environment, its program on PATH
 *   runexpr.c    expressions at run time: steps.X.outputs, metrics, status,
 *                run.id, secrets; rendering templates, evaluating `when`
 *   steplog.c    the log (steplog.h: bounded, stamped apart, secrets
 *                masked, a built-in's last "sluice: ..." line) and reading
 *                the log pipe a bounded amount per turn
 *   stepout.c    $SLUICE_OUTPUT and the metrics file into the node and the store
 *   reuse.c      the cache: keys, reuse of an earlier result, restore, why,
 *                and recording a succeeded step's files
 *   resume.c     taking over an interrupted run: leftovers killed, finished
 *                steps adopted
 *   resources.c  (include/sluice/resources.h) slots, cpus and memory
 *   status.c     (include/sluice/status.h) the live line and the plain lines
 *
 * One thread: nothing here is locked.  Strings of a run live in exec.mem and
 * are freed with it; a node's `why` and `command` point into it.
 */
#ifndef SLUICE_EXEC_INT_H
#define SLUICE_EXEC_INT_H

#include "sluice/executor.h"
#include "sluice/hash.h"
#include "sluice/minheap.h"
#include "sluice/resources.h"
#include "sluice/status.h"
#include "sluice/steplog.h"
#include "sluice/stepkey.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"

#include <stdint.h>

/* A step's state; the names are the store's and the CLI's. */
enum step_state {
	ST_PENDING,
	ST_WAITING, /* backoff before a retry */
	ST_RUNNING,
	ST_SUCCEEDED,
	ST_FAILED,
	ST_UPSTREAM_FAILED,
	ST_SKIPPED,
	ST_CACHED,
	ST_CANCELLED,
	ST_REJECTED,
	ST_NSTATES
};

extern const char *const step_state_names[ST_NSTATES];

/* Finished: nothing more happens to the step in this run. */
static inline int step_state_done(enum step_state s)
{
	return s >= ST_SUCCEEDED;
}

/* Satisfies a dependency: the dependents may start. */
static inline int step_state_ok(enum step_state s)
{
	return s == ST_SUCCEEDED || s == ST_CACHED || s == ST_SKIPPED;
}

/* The state of a name from the store; ST_PENDING for an unknown one. */
enum step_state step_state_from_name(const char *s);

/* What the executor knows of one step instance during a run; parallel to
 * dag.nodes (the same index), which holds what the plan knows. */
struct exec_step {
	enum step_state state;
	int attempt;
	int ndeps_left;
	int selected; /* --only / --from */
	step_proc proc;
	int log_rd;  /* read end of the log pipe, or -1 */
	steplog log; /* the attempt's log (steplog.h) */
	/* timers, CLOCK_MONOTONIC ms (0: none); wake_at_ms is the earliest of
	 * those that apply to the state, kept by exec_set_wake */
	int64_t started_ms, deadline_ms, kill_at_ms, retry_at_ms, wake_at_ms;
	double started_wall, finished_wall;
	int timed_out, cancelling;
	int exit_code;
	char reason[256];
	char *command;     /* resolved, for the store: no step value, no secret in it */
	char **vals;       /* "SLUICE_VAL_n=..." the command refers to (runexpr_render_shell) */
	char *output_path; /* $SLUICE_OUTPUT of the current attempt */
	char *log_rel;     /* the attempt's log, relative to the state dir */
	/* what later expressions may read */
	size_t nout, nmet;
	char **out_keys, **out_vals, **met_keys;
	double *met_vals;
	long aidx; /* index in exec.active, or -1 */
	/* the cache */
	char **argv;  /* built when the step is keyed, used by its attempts */
	step_key key; /* valid when keyed */
	int keyed;
	int forced;    /* rerun --step: this step or one upstream of it */
	int would_run; /* plan: it runs (or may, after an upstream that runs) */
	int64_t cached_from;
	const char *why; /* why it runs, or where its result comes from (arena), or NULL */
	char (*out_hex)[SHA256_HEX_LEN + 1]; /* hashes of outputs + metrics once recorded */
};

/* One run (or one plan) of a DAG. */
struct exec {
	const pipeline *p;
	const dag *d;
	store *store; /* NULL for a plan without state */
	runner *r;
	int64_t run_id;
	const exec_options *opt;
	struct exec_step *s; /* parallel to d->nodes */
	size_t *pos;         /* node → topological position */
	minheap ready;       /* topological positions of nodes whose deps are done */
	size_t *active;      /* nodes running or waiting for a retry */
	size_t nactive;
	int ep, sfd;
	resource_pool pool;
	int cancelled, failed_any, fail_fast_tripped;
	size_t done;
	char *self_exe;
	char *run_dir; /* state/runs/RUN */
	char *params_path;
	char *params_text; /* what params_path holds */
	strmap planned;    /* plan: output path → hash a cached step would restore */
	strmap progs;      /* program name → its path on the steps' PATH */
	arena mem;
	status_printer status;
	/* the secrets' values, masked wherever the run writes text down (redact.h) */
	struct redactor *redact;
};

/* What step i takes from the machine while it runs (resources.h). */
static inline resource_need exec_need(const struct exec *x, size_t i)
{
	const resources *res = &x->d->nodes[i].step->res;
	return (resource_need){res->cpus, res->memory};
}

/* ---- executor.c: the state machine ------------------------------------------------ */

/* Move step i to state s, count it done when it finishes, record it. */
void exec_set_state(struct exec *x, size_t i, enum step_state s);
/* Step i finished: make its dependents ready, or upstream_failed. */
void exec_settle(struct exec *x, size_t i);
/* Step i fails now with es->reason (before or instead of an attempt). */
void exec_fail_now(struct exec *x, size_t i);
/* Recompute es->wake_at_ms from its timers and state. */
void exec_set_wake(struct exec *x, size_t i);
/* A line about step i on the progress stream. */
void exec_say(struct exec *x, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error dropped on purpose that the user should see (a store write that failed). */
void exec_warn(struct exec *x, sl_error **err);
/* es->why = the formatted text, in the arena. */
void exec_set_why(struct exec *x, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write step i's row (not in a plan). */
void exec_record(struct exec *x, size_t i);
/* Watch fd for step i: its log pipe (is_log) or its pidfd. */
int exec_watch(struct exec *x, int fd, int is_log, size_t i);
void exec_unwatch(struct exec *x, int fd);

/* ---- attempt.c: one attempt -------------------------------------------------------- */

/* Start the next attempt of step i: running, or failed with its reason. */
void attempt_start(struct exec *x, size_t i);
/* The runner finished step i's attempt: set es->reason and return the
 * retry cause it counts as (RETRY_ON_*), 0 when it succeeded (outputs and
 * metrics collected, files in the cache).  Drains and closes the log, gives
 * the resources back, records the attempt. */
unsigned attempt_finish(struct exec *x, size_t i, const step_exit *ex);

/* ---- stepcmd.c: argv and environment ------------------------------------------------- */

/* The argv of step i (sets es->command); NULL with es->reason set. */
char **stepcmd_argv(struct exec *x, size_t i);
/* Its environment with the attempt's scratch dir ("" when keying); NULL + reason. */
char **stepcmd_env(struct exec *x, size_t i, const char *attempt_dir);

/* ---- runexpr.c: expressions at run time -------------------------------------------- */

/* Render text for step i; NULL with es->reason "WHAT: message". */
const char *runexpr_render(struct exec *x, size_t i, const char *text, const char *what);
/* Render a `run:` command: expressions on steps.* or secrets.* become
 * references to environment variables ("${SLUICE_VAL_1}", "${SLUICE_SECRET_1}",
 * quoted where the text leaves them bare) whose "NAME=value" lines go to
 * *vars (NULL-terminated, *nvars of them, from the arena); the rest as
 * runexpr_render.  NULL with es->reason. */
const char *runexpr_render_shell(struct exec *x, size_t i, const char *text, char ***vars,
				 size_t *nvars);
/* The status functions step i's `when` calls (EXPR_STATUS_*). */
unsigned runexpr_when_status(struct exec *x, size_t i);
/* Evaluate step i's `when`: 1 true, 0 false, -1 with es->reason. */
int runexpr_when(struct exec *x, size_t i);

/* ---- steplog.c: the attempt's log ------------------------------------------------------ */

/* Read step i's log pipe into its log: a bounded amount per turn; final (the
 * step ended): what is left, bounded too, then close the pipe. */
void exec_log_drain(struct exec *x, size_t i, int final);

/* ---- stepout.c: outputs and metrics ------------------------------------------------------ */

/* Read $SLUICE_OUTPUT and the metrics file of step i into es and the store.
 * 0, or -1 with es->reason. */
int stepout_collect(struct exec *x, size_t i);

/* ---- reuse.c: the cache --------------------------------------------------------------- */

/* The files step i leaves for later: its outputs and its metrics file. */
const char **reuse_kept_files(struct exec *x, size_t i, size_t *n);
/* Build the argv and environment once and compute the cache key; -1 + reason. */
int reuse_key(struct exec *x, size_t i);
/* 1 when step i is taken from the cache (or the rerun's parent), 0 when it runs. */
int reuse_lookup(struct exec *x, size_t i);
/* Hash and store step i's outputs in the cache, then record them; -1 + reason. */
int reuse_record_files(struct exec *x, size_t i);
/* Put the files (run, name) recorded back where they differ (write), or note their
 * hashes for the plan (!write); -1 with es->why. */
int reuse_restore(struct exec *x, size_t i, int64_t run, const char *name, int write);
/* Fill step i's outputs and metrics from a recorded step (write: copy them to this run). */
void reuse_adopt_values(struct exec *x, size_t i, int64_t run, const char *name, int write);
/* Outputs restored from the cache by hard link get their own inode before a step runs. */
void reuse_unshare_outputs(struct exec *x, size_t i);
/* The no-op index of a run that needed nothing (noop.h). */
void reuse_write_noop_index(struct exec *x);

/* ---- resume.c ----------------------------------------------------------------------------- */

/* Take over run_id: kill its leftovers, keep what finished. */
int resume_adopt(struct exec *x, sl_error **err);

#endif
