/*
 * runner_fake.h — a runner without processes, for the executor's unit tests
 * (ninja's FakeCommandRunner): each attempt "runs" for a scripted time and
 * ends with a scripted status, writes its scripted log, $SLUICE_OUTPUT lines,
 * metrics and declared outputs, and answers SIGTERM and SIGKILL as scripted.
 * Its "pidfd" is a timerfd that fires when the attempt ends, so the executor's
 * real event loop drives it: a test of timeouts, retries and cancellation
 * takes milliseconds and never sleeps.
 */
#ifndef SLUICE_RUNNER_FAKE_H
#define SLUICE_RUNNER_FAKE_H

#include "sluice/runner.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fake_behavior {
	int64_t run_ms;      /* how long the attempt runs by itself */
	int exit_code;       /* its exit status when it ends by itself */
	int signal;          /* > 0: it ends killed by this signal instead */
	int ignore_term;     /* SIGTERM does not end it; SIGKILL always does */
	const char *log;     /* written to its log when it starts */
	const char *outputs; /* key=value lines for $SLUICE_OUTPUT, written when it ends */
	const char *metrics; /* the metrics file's text, written when it ends */
	const char *content; /* what each declared output holds; NULL: "output of NAME\n" */
	int no_outputs;      /* leave the declared outputs unwritten */
	const char *reason;  /* the runner's own reason, as the sandbox gives one */
	int oom;             /* with reason: the memory limit struck */
	int fail_start;      /* start() fails ("fake: cannot start NAME") */
	int raise_at_start;  /* raise this signal in sluice when it starts (SIGINT: Ctrl-C) */
	/* once a SIGTERM ended it, the rest of its process group stays this long
	 * (or until SIGKILL): finish closes the "pidfd" and returns 0 meanwhile,
	 * as the plain runner does while a group has its grace period */
	int64_t linger_ms;
} fake_behavior;

/* What happened to one attempt, in the order the attempts started. */
typedef struct fake_event {
	const char *name;             /* the step instance */
	int attempt;                  /* from $SLUICE_ATTEMPT */
	int64_t started_ms, ended_ms; /* CLOCK_MONOTONIC; ended 0 while running */
	int running;                  /* attempts running when this one started, itself included */
	int terms, kills;             /* SIGTERM and SIGKILL received before it ended */
	int ended_by;                 /* the signal that ended it, 0 when it ended by itself */
	int lingered;                 /* linger_ms: 1 the group ended by itself, 2 by SIGKILL */
} fake_event;

runner *runner_fake_new(void);
/* Queue the behaviour of the next attempt of step instance name; an attempt
 * past the queue repeats the last behaviour; a step never scripted ends at
 * once with exit 0.  b is copied (its strings must outlive the runner). */
void runner_fake_script(runner *r, const char *name, const fake_behavior *b);
size_t runner_fake_nevents(const runner *r);
const fake_event *runner_fake_event(const runner *r, size_t k);
/* The first event of name's attempt (1-based), or NULL. */
const fake_event *runner_fake_find(const runner *r, const char *name, int attempt);
/* The most attempts that were running at once. */
int runner_fake_max_running(const runner *r);

#endif
