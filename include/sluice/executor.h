/*
 * executor.h — runs a planned DAG: one thread, one event loop (epoll over
 * pidfds, log pipes, a signalfd and timers); docs/running.md for what a
 * user sees, docs/architecture.md for the files (orchestrator/exec_int.h
 * lists them).
 *
 * The step life cycle, drawn once; each arrow names the function that
 * makes it (executor.c unless named otherwise):
 *
 *   pending --not selected (--only/--from)---------> skipped         consider
 *   pending --`when` false-------------------------> skipped         consider
 *   pending --same cache key, outputs in cache-----> cached          consider, reuse_lookup
 *   pending --a dependency failed------------------> upstream_failed propagate_failure
 *   pending --cannot start (template, too big)-----> failed          exec_fail_now
 *   pending --deps done, a slot, cpus, memory------> running         attempt_start (attempt.c)
 *   running --exit 0, outputs present, recorded----> succeeded       attempt_ended
 *   running --error/timeout/signal, retries left---> waiting         attempt_ended
 *   waiting --backoff elapsed, it fits-------------> running         schedule, attempt_start
 *   running --no retries left----------------------> failed          attempt_ended
 *   running --SIGINT/SIGTERM, --fail-fast----------> cancelled       cancel_all, attempt_ended
 *   pending, waiting --SIGINT/SIGTERM, --fail-fast-> cancelled       cancel_all
 *
 * What the run changes in the store is written in one transaction per turn
 * of the event loop (store_batch_*), committed before the loop waits, and
 * flushed before slow hashing or copying: a killed orchestrator loses at
 * most the turn in progress and leaves a consistent record that `sluice
 * resume` continues.  A succeeded step always has its outputs in the cache
 * and its files recorded: it is marked succeeded only after both.
 */
#ifndef SLUICE_EXECUTOR_H
#define SLUICE_EXECUTOR_H

#include "sluice/dag.h"
#include "sluice/error.h"
#include "sluice/pipeline.h"
#include "sluice/runner.h"
#include "sluice/store.h"

#include <stdint.h>
#include <stdio.h>

typedef struct exec_options {
	int jobs;         /* parallel steps; 0 = number of cores */
	double cpus;      /* the machine's cpus for resources.cpus; 0 = this machine's */
	uint64_t memory;  /* its memory for resources.memory, bytes; 0 = this machine's */
	int fail_fast;    /* stop independent branches after a failure */
	int live;         /* 1: one redrawn status line (TTY); 0: a line per change */
	const char *only; /* run just this step (instance or step name) */
	const char *from; /* run this step and everything downstream */
	const char *trigger;
	FILE *out; /* progress (stderr); NULL: no progress, and warnings go to stderr */
	/* the cache (docs/caching.md) */
	int force;              /* --force: nothing is taken from the cache */
	const char *force_step; /* rerun --step: this step and its downstream run again */
	int64_t parent_run;     /* rerun: the parent's results are preferred */
	int resume;             /* continue run_id: finished steps keep their results */
	int dry_run;            /* executor_plan: decide, run and record nothing */
	const char *noop_key;   /* when set and the run needed nothing, the no-op index is
				 * written under this key (see noop.h) */
} exec_options;

/* The outcome of one step, for the CLI's JSON, JUnit and summaries. */
typedef struct exec_step_result {
	const char *name;
	const char *status;
	char reason[256];
	int attempts;
	int exit_code; /* -1 when none */
	double duration_s;
} exec_step_result;

typedef struct exec_result {
	const char *status;      /* succeeded | failed | rejected | cancelled */
	int exit_code;           /* docs/cli.md */
	exec_step_result *steps; /* in topological order; freed by exec_result_release */
	size_t nsteps;
	size_t nallowed; /* failed steps that continue_on_error let pass */
} exec_result;

/* Run the steps of run_id (recorded by store_begin_run, or adopted for
 * opt->resume) through r.  0 when the run went its course, whatever its
 * steps did: res says how it ended (res->exit_code is the CLI's).  -1 with
 * err when the run could not be carried out (the event loop, the store);
 * res is filled even then, and is released with exec_result_release. */
int executor_run(const pipeline *p, const dag *d, store *st, runner *r, int64_t run_id,
		 const exec_options *opt, exec_result *res, sl_error **err);
void exec_result_release(exec_result *res);

/* What `sluice plan` shows: per step instance, in topological order, whether
 * it would run, be cached or be skipped, and why.  st may be NULL (no state:
 * every step runs, "no earlier run"). */
typedef struct plan_entry {
	const char *name;
	const char *action; /* run | cached | skip */
	char *why;          /* malloc'd; freed by plan_entries_free */
	int64_t cached_from;
	char cache_key[65]; /* "" when not known (after an upstream that runs) */
} plan_entry;

int executor_plan(const pipeline *p, const dag *d, store *st, const exec_options *opt,
		  plan_entry **out, sl_error **err);
void plan_entries_free(plan_entry *e, size_t n);

#endif
