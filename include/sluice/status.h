/*
 * status.h — what a run tells the person watching it (ninja's status.h):
 * on a terminal one live line redrawn in place, `[3/7] train 00:42 | eval
 * 00:03`, with a plain line above it for each change; elsewhere (CI, a
 * pipe, --ci) only the plain lines, `[3/7] train succeeded in 4.2s`.
 *
 * The printer knows nothing of the executor: it is handed counts, names
 * and start times.  A NULL stream makes every call a no-op but
 * status_warn, which then warns on stderr: no warning is lost.
 */
#ifndef SLUICE_STATUS_H
#define SLUICE_STATUS_H

#include "sluice/arena.h"
#include "sluice/error.h"
#include "sluice/strmap.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct status_printer {
	FILE *out; /* NULL: silent */
	int live;  /* 1: redraw one line in place */
	int drawn; /* the live line is on the screen */
	/* warnings said: each once (a full disk fails the same way every turn) */
	strmap said;
	arena mem;
} status_printer;

typedef struct status_running {
	const char *name;
	int64_t started_ms; /* CLOCK_MONOTONIC */
} status_running;

void status_init(status_printer *sp, FILE *out, int live);
void status_release(status_printer *sp);

/* "[done/total] NAME TEXT" on a line of its own. */
void status_step(status_printer *sp, size_t done, size_t total, const char *name, const char *text);
/* Any other line ("sluice: ..."), printf-style. */
void status_note(status_printer *sp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "sluice: warning: MSG" (on stderr when the stream is NULL), then the
 * error is released; a warning said before is not said again. */
void status_warn(status_printer *sp, sl_error **err);

/* Redraw the live line with up to four of the running steps (live only). */
void status_live(status_printer *sp, size_t done, size_t total, const status_running *run,
		 size_t nrun, int64_t now_ms);
/* Take the live line off the screen (before the run's last words). */
void status_clear(status_printer *sp);

#endif
