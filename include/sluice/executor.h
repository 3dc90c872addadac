/*
 * executor.h — runs a planned DAG: one thread, one event loop (epoll over
 * pidfds, log pipes, a signalfd and deadlines), design.md sections 4 and 10.
 *
 * The step life cycle (each arrow names the function that makes it):
 *
 *   pending --when false--------------------------> skipped      (consider)
 *   pending --a dependency failed-----------------> upstream_failed (propagate)
 *   pending --deps done, slots + cpus free--------> running      (start_attempt)
 *   running --exit 0, outputs present-------------> succeeded    (finish_attempt)
 *   running --error/timeout/signal, retries left--> waiting      (finish_attempt)
 *   waiting --backoff elapsed---------------------> running      (start_attempt)
 *   running --no retries left---------------------> failed       (finish_attempt)
 *   any unfinished --SIGINT/SIGTERM---------------> cancelled    (cancel_all)
 *
 * Every transition is written to the store in its own transaction before
 * the loop goes on, so a killed orchestrator leaves a consistent record.
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
	int fail_fast;    /* stop independent branches after a failure */
	int live;         /* 1: one redrawn status line (TTY); 0: a line per change */
	const char *only; /* run just this step (instance or step name) */
	const char *from; /* run this step and everything downstream */
	const char *trigger;
	FILE *out; /* progress (stderr) */
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
	int exit_code;           /* design.md section 7 */
	exec_step_result *steps; /* in topological order; freed by exec_result_release */
	size_t nsteps;
} exec_result;

int executor_run(const pipeline *p, const dag *d, store *st, runner *r, int64_t run_id,
		 const exec_options *opt, exec_result *res, sl_error **err);
void exec_result_release(exec_result *res);

#endif
