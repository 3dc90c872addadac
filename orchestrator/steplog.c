/*
 * steplog.c — a step's log: runs/RUN/STEP/ATTEMPT/log, stdout and stderr
 * interleaved as the step wrote them, each line stamped with the UTC time
 * it arrived (`2026-12-04T20:01:12.345Z `) and secrets' values masked.  A
 * line a built-in prints as `sluice: ...` is kept as its reason for a
 * failure.  A partial line waits for its newline (or the end of the step).
 */
#include "exec_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "2026-12-04T20:01:12.345Z " for now, in buf (at least 32 bytes). */
static void stamp_now(char *buf, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t sl = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + sl, size - sl, ".%03ldZ ", ts.tv_nsec / 1000000);
}

/* Mask every secret's value in line (values shorter than 4 bytes would mask
 * half the log and are left alone). */
static void redact(const pipeline *p, strbuf *line)
{
	for (size_t s = 0; s < p->secrets.n; s++) {
		const char *v = getenv(p->secrets.v[s].s);
		if (!v || strlen(v) < 4)
			continue;
		char *hit;
		while ((hit = strstr(line->buf, v)))
			memset(hit, '*', strlen(v));
	}
}

void steplog_write(struct exec *x, size_t i, const char *buf, size_t n, int flush)
{
	struct exec_step *es = &x->s[i];
	strbuf_add(&es->line, buf, n);
	for (;;) {
		char *nl = memchr(es->line.buf, '\n', es->line.len);
		if (!nl && !(flush && es->line.len))
			break;
		size_t len = nl ? (size_t)(nl - es->line.buf) : es->line.len;
		if (len > 8 && strncmp(es->line.buf, "sluice: ", 8) == 0)
			snprintf(es->last_msg, sizeof(es->last_msg), "%.*s", (int)(len - 8),
				 es->line.buf + 8);
		char stamp[64];
		stamp_now(stamp, sizeof(stamp));
		strbuf out = STRBUF_INIT;
		strbuf_addstr(&out, stamp);
		strbuf_add(&out, es->line.buf, len);
		strbuf_addch(&out, '\n');
		redact(x->p, &out);
		if (write(es->log_fd, out.buf, out.len) < 0) {
			/* a full disk must not stop the run; the reason says why later */
		}
		strbuf_release(&out);
		size_t consumed = nl ? len + 1 : len;
		memmove(es->line.buf, es->line.buf + consumed, es->line.len - consumed);
		es->line.len -= consumed;
		es->line.buf[es->line.len] = 0;
	}
}

void steplog_drain(struct exec *x, size_t i, int final)
{
	struct exec_step *es = &x->s[i];
	if (es->log_rd < 0)
		return;
	char buf[65536];
	for (;;) {
		ssize_t r = read(es->log_rd, buf, sizeof(buf));
		if (r > 0) {
			steplog_write(x, i, buf, (size_t)r, 0);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || final || (r < 0 && errno != EAGAIN)) {
			steplog_write(x, i, "", 0, 1);
			exec_unwatch(x, es->log_rd);
			close(es->log_rd);
			es->log_rd = -1;
		}
		break;
	}
}
