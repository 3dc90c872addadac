/*
 * steplog.h — the log of one attempt of a step (docs/running.md, "Logs").
 *
 * Two files in the attempt's directory:
 *
 *   log        what the step wrote on stdout and stderr, interleaved, byte
 *              for byte, with secrets' values and their encodings masked
 *              as "***" (redact.h).  At most max_log_size
 *              bytes: past that the first half is kept, then one marker
 *              line saying how many bytes were cut, then the last part
 *              (between a quarter and a half of the limit).
 *   log.times  when the bytes arrived: lines "OFFSET MS", meaning the lines
 *              that start at byte OFFSET of log or later (up to the next
 *              entry) arrived at MS, milliseconds since the epoch.  One
 *              entry per 100 ms at most, so a step that prints a million
 *              lines costs no byte per line; `sluice logs` puts the stamps
 *              back in front of the lines.
 *
 * The writer's memory is bounded whatever the step writes: a line without
 * a newline is kept up to 64 KiB, then written on, and the cut-off tail
 * lives in two files that take turns.  Nothing here blocks or allocates in
 * proportion to the output.
 */
#ifndef SLUICE_STEPLOG_H
#define SLUICE_STEPLOG_H

#include "sluice/error.h"
#include "sluice/strbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STEPLOG_LINE_MAX (64 << 10)

struct steplog_stamp {
	uint64_t offset; /* in the segment it belongs to */
	int64_t ms;
};

typedef struct steplog {
	int fd, times_fd; /* log and log.times; -1 when closed */
	char *dir;
	uint64_t max;      /* max_log_size */
	uint64_t received; /* bytes the step wrote */
	uint64_t head;     /* bytes in log so far */
	strbuf pending;    /* a line still without its newline */
	int at_line_start; /* pending begins a line */
	int64_t last_stamp_ms;
	/* past max/2: the tail, in two segment files taking turns */
	int cutting;
	int seg_fd[2];
	uint64_t seg_len[2];
	int seg_cur; /* the one written now; the other holds the older bytes */
	struct steplog_stamp *seg_stamps[2];
	size_t seg_nstamps[2];
	struct redactor *redact; /* the secrets' values and encodings (redact.h) */
	int write_errno;         /* the first write that failed, or 0 */
	char last_msg[200];      /* the last line that began "sluice: ", without it */
} steplog;

#define STEPLOG_INIT                                                                               \
	{                                                                                          \
		.fd = -1, .times_fd = -1, .seg_fd = { -1, -1 }                                     \
	}

/* Create DIR/log and DIR/log.times (truncating old ones, mode 0600).  secrets:
 * NULL-terminated values to mask, with their lines and encodings (redact.h:
 * shorter than REDACT_MIN bytes are not masked, they would mask half the log);
 * copied.  max: max_log_size, at least 4096. */
int steplog_open(steplog *l, const char *dir, uint64_t max, const char *const *secrets,
		 sl_error **err);
/* What the step wrote next: any bytes, any length. */
void steplog_write(steplog *l, const char *buf, size_t n);
/* Write what is pending, put the kept tail after the marker, close both
 * files.  Returns the bytes cut (0 when the log kept everything). */
uint64_t steplog_close(steplog *l);
/* Frees what steplog_open allocated (after close, or instead of it). */
void steplog_release(steplog *l);

/* Reading a log back with its stamps ("2026-12-04T20:01:12.345Z line"),
 * also while it grows (`sluice logs -f`). */
typedef struct steplog_reader {
	FILE *log, *times;
	uint64_t offset; /* bytes of log read */
	strbuf line;     /* a line not complete yet */
	struct steplog_stamp cur, next;
	int have_next, no_times;
} steplog_reader;

int steplog_reader_open(steplog_reader *r, const char *log_path, sl_error **err);
/* Print every complete line that is there now; final: the last partial
 * line too.  Returns the bytes printed. */
size_t steplog_reader_pump(steplog_reader *r, FILE *out, int final);
void steplog_reader_close(steplog_reader *r);

#endif
