/*
 * steplog.c — a step's log (include/sluice/steplog.h), and the executor's
 * side of it: reading the log pipe a bounded amount per turn of the loop,
 * so that a step that floods its output cannot keep the loop from its
 * timeouts, exits and signals.
 */
#include "sluice/steplog.h"

#include "exec_int.h"

#include "sluice/arena.h"
#include "sluice/clock.h"
#include "sluice/redact.h"
#include "sluice/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A new entry in log.times at most this often. */
#define STAMP_EVERY_MS 100
/* Stamps kept in memory per tail segment; past that the tail's stamps get coarser. */
#define SEG_STAMPS_MAX 4096

static void note_errno(steplog *l)
{
	if (!l->write_errno)
		l->write_errno = errno;
}

static void write_all(steplog *l, int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* a full disk must not stop the run: the attempt says so */
			note_errno(l);
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
}

static int open_in(const char *dir, const char *name, int flags)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* what a step printed may hold what no one else should read */
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

int steplog_open(steplog *l, const char *dir, uint64_t max, const char *const *secrets,
		 sl_error **err)
{
	*l = (steplog){.fd = -1, .times_fd = -1, .seg_fd = {-1, -1}, .at_line_start = 1};
	l->max = max < 4096 ? 4096 : max;
	l->dir = xstrdup(dir);
	l->redact = redact_new();
	for (size_t k = 0; secrets && secrets[k]; k++)
		redact_add(l->redact, secrets[k]);
	l->fd = open_in(dir, "log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
	if (l->fd >= 0)
		l->times_fd = open_in(dir, "log.times", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
	if (l->fd < 0 || l->times_fd < 0) {
		int e = errno;
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		return sl_error_errno(err, e, "open log %s/log", dir);
	}
	return 0;
}

static void stamp(steplog *l, int64_t now)
{
	if (l->last_stamp_ms && now - l->last_stamp_ms < STAMP_EVERY_MS)
		return;
	l->last_stamp_ms = now;
	if (!l->cutting) {
		char line[64];
		int n = snprintf(line, sizeof(line), "%llu %lld\n", (unsigned long long)l->head,
				 (long long)now);
		write_all(l, l->times_fd, line, (size_t)n);
		return;
	}
	int s = l->seg_cur;
	if (l->seg_nstamps[s] == SEG_STAMPS_MAX)
		return;
	if (!l->seg_stamps[s])
		l->seg_stamps[s] = xmalloc(SEG_STAMPS_MAX * sizeof(struct steplog_stamp));
	l->seg_stamps[s][l->seg_nstamps[s]++] = (struct steplog_stamp){l->seg_len[s], now};
}

/* The tail's next segment: the older one is emptied and written again. */
static void next_segment(steplog *l)
{
	l->seg_cur ^= 1;
	int s = l->seg_cur;
	if (l->seg_fd[s] < 0) {
		char name[32];
		snprintf(name, sizeof(name), "log.tail%d", s);
		l->seg_fd[s] = open_in(l->dir, name, O_RDWR | O_CREAT | O_TRUNC);
		if (l->seg_fd[s] < 0)
			note_errno(l);
	} else if (ftruncate(l->seg_fd[s], 0) < 0 || lseek(l->seg_fd[s], 0, SEEK_SET) < 0) {
		note_errno(l);
	}
	l->seg_len[s] = 0;
	l->seg_nstamps[s] = 0;
	l->last_stamp_ms = 0; /* the segment's first bytes get a stamp */
}

/* Bytes that are final (redacted, whole lines or a cut long line) go to the
 * head of the log, or to the tail once the head is full. */
static void emit(steplog *l, const char *buf, size_t n, int64_t now)
{
	while (n) {
		stamp(l, now);
		if (!l->cutting) {
			uint64_t room = l->max / 2 - l->head;
			size_t k = n < room ? n : (size_t)room;
			write_all(l, l->fd, buf, k);
			l->head += k;
			buf += k;
			n -= k;
			if (l->head == l->max / 2 && n) {
				l->cutting = 1;
				l->seg_cur = 1;
				next_segment(l);
			}
			continue;
		}
		int s = l->seg_cur;
		uint64_t room = l->max / 4 - l->seg_len[s];
		size_t k = n < room ? n : (size_t)room;
		if (l->seg_fd[s] >= 0)
			write_all(l, l->seg_fd[s], buf, k);
		l->seg_len[s] += k;
		buf += k;
		n -= k;
		if (l->seg_len[s] == l->max / 4 && n)
			next_segment(l);
	}
}

static void look_for_message(steplog *l, const char *line, size_t len)
{
	if (len > 8 && !memcmp(line, "sluice: ", 8))
		snprintf(l->last_msg, sizeof(l->last_msg), "%.*s", (int)(len - 8), line + 8);
}

void steplog_write(steplog *l, const char *buf, size_t n)
{
	if (l->fd < 0 || !n)
		return;
	l->received += n;
	int64_t now = (int64_t)(clock_wall() * 1000);
	strbuf_add(&l->pending, buf, n);
	char *p = l->pending.buf, *end = p + l->pending.len;
	/* whole lines, masked at once: a needle never ends in a newline (redact.h),
	 * so the masked block still ends in one */
	char *last_nl = memrchr(p, '\n', (size_t)(end - p));
	if (last_nl) {
		size_t block = (size_t)(last_nl + 1 - p);
		size_t masked = redact_apply(l->redact, p, block);
		memmove(p + masked, p + block, (size_t)(end - p) - block);
		end -= block - masked;
		last_nl = p + masked - 1;
		for (char *nl; p <= last_nl && (nl = memchr(p, '\n', (size_t)(last_nl + 1 - p)));) {
			size_t len = (size_t)(nl - p);
			if (l->at_line_start)
				look_for_message(l, p, len);
			emit(l, p, len + 1, now);
			l->at_line_start = 1;
			p = nl + 1;
		}
	}
	/* a long line without its newline: written on, all but what could be the
	 * start of a secret cut in two (that stays pending, unmasked, to be masked
	 * with what follows it) */
	size_t rest = (size_t)(end - p);
	if (rest > STEPLOG_LINE_MAX) {
		size_t keep = redact_max_len(l->redact) ? redact_max_len(l->redact) - 1 : 0;
		size_t used;
		size_t masked = redact_apply_upto(l->redact, p, rest, rest - keep, &used);
		if (l->at_line_start)
			look_for_message(l, p, masked);
		emit(l, p, masked, now);
		p += used;
		l->at_line_start = 0;
	}
	size_t left = (size_t)(end - p);
	memmove(l->pending.buf, p, left);
	l->pending.len = left;
	l->pending.buf[left] = 0;
}

/* Copy n bytes of the segment file fd (from its start) to the log. */
static void copy_segment(steplog *l, int fd, uint64_t n)
{
	char buf[65536];
	if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return;
	while (n) {
		ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		write_all(l, l->fd, buf, (size_t)r);
		n -= (uint64_t)r;
	}
}

uint64_t steplog_close(steplog *l)
{
	if (l->fd < 0)
		return 0;
	int64_t now = (int64_t)(clock_wall() * 1000);
	if (l->pending.len) {
		l->pending.len = redact_apply(l->redact, l->pending.buf, l->pending.len);
		if (l->at_line_start)
			look_for_message(l, l->pending.buf, l->pending.len);
		emit(l, l->pending.buf, l->pending.len, now);
		strbuf_reset(&l->pending);
	}
	uint64_t cut = 0;
	if (l->cutting) {
		int newer = l->seg_cur, older = newer ^ 1;
		uint64_t kept = l->head + l->seg_len[0] + l->seg_len[1];
		cut = l->received - kept;
		char marker[256], sz[32];
		format_size(l->max, sz, sizeof(sz));
		int n = snprintf(marker, sizeof(marker),
				 "\n[sluice: %llu bytes cut here: the log keeps its first and its "
				 "last bytes, max_log_size %s]\n",
				 (unsigned long long)cut, sz);
		char line[64];
		int m = snprintf(line, sizeof(line), "%llu %lld\n", (unsigned long long)l->head,
				 (long long)now);
		write_all(l, l->times_fd, line, (size_t)m);
		write_all(l, l->fd, marker, (size_t)n);
		l->head += (uint64_t)n;
		for (int k = 0; k < 2; k++) {
			int s = k == 0 ? older : newer;
			for (size_t j = 0; j < l->seg_nstamps[s]; j++) {
				m = snprintf(
					line, sizeof(line), "%llu %lld\n",
					(unsigned long long)(l->head + l->seg_stamps[s][j].offset),
					(long long)l->seg_stamps[s][j].ms);
				write_all(l, l->times_fd, line, (size_t)m);
			}
			copy_segment(l, l->seg_fd[s], l->seg_len[s]);
			l->head += l->seg_len[s];
		}
		for (int s = 0; s < 2; s++) {
			char name[32];
			snprintf(name, sizeof(name), "log.tail%d", s);
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", l->dir, name);
			unlink(path);
		}
	}
	close(l->fd);
	close(l->times_fd);
	for (int s = 0; s < 2; s++)
		if (l->seg_fd[s] >= 0)
			close(l->seg_fd[s]);
	l->fd = l->times_fd = l->seg_fd[0] = l->seg_fd[1] = -1;
	return cut;
}

void steplog_release(steplog *l)
{
	if (l->fd >= 0)
		steplog_close(l);
	redact_free(l->redact);
	l->redact = NULL;
	free(l->dir);
	free(l->seg_stamps[0]);
	free(l->seg_stamps[1]);
	strbuf_release(&l->pending);
	l->dir = NULL;
	l->seg_stamps[0] = l->seg_stamps[1] = NULL;
}

/* ---- reading it back ------------------------------------------------------------------- */

static int read_stamp(steplog_reader *r, struct steplog_stamp *st)
{
	unsigned long long off;
	long long ms;
	long pos = ftell(r->times);
	if (fscanf(r->times, "%llu %lld\n", &off, &ms) != 2) {
		/* not there yet (the writer is mid-line) or the end: try again later */
		clearerr(r->times);
		fseek(r->times, pos, SEEK_SET);
		return 0;
	}
	*st = (struct steplog_stamp){off, ms};
	return 1;
}

int steplog_reader_open(steplog_reader *r, const char *log_path, sl_error **err)
{
	*r = (steplog_reader){0};
	r->log = fopen(log_path, "re");
	if (!r->log)
		return sl_error_errno(err, errno, "open %s", log_path);
	char tpath[4096];
	snprintf(tpath, sizeof(tpath), "%s.times", log_path);
	r->times = fopen(tpath, "re");
	r->no_times = !r->times; /* a log from before log.times: printed as it is */
	if (r->times && read_stamp(r, &r->cur))
		r->have_next = read_stamp(r, &r->next);
	return 0;
}

static void print_line(steplog_reader *r, FILE *out, uint64_t start)
{
	if (!r->no_times) {
		while (!r->have_next && (r->have_next = read_stamp(r, &r->next)))
			;
		while (r->have_next && r->next.offset <= start) {
			r->cur = r->next;
			r->have_next = read_stamp(r, &r->next);
		}
		if (r->cur.ms) {
			time_t sec = (time_t)(r->cur.ms / 1000);
			struct tm tm;
			gmtime_r(&sec, &tm);
			char buf[40];
			size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
			fprintf(out, "%.*s.%03dZ ", (int)n, buf, (int)(r->cur.ms % 1000));
		}
	}
	fwrite(r->line.buf, 1, r->line.len, out);
}

size_t steplog_reader_pump(steplog_reader *r, FILE *out, int final)
{
	char buf[65536];
	size_t total = 0, got;
	clearerr(r->log);
	while ((got = fread(buf, 1, sizeof(buf), r->log)) > 0) {
		for (size_t k = 0; k < got;) {
			char *nl = memchr(buf + k, '\n', got - k);
			size_t len = nl ? (size_t)(nl - (buf + k)) + 1 : got - k;
			uint64_t start = r->offset - r->line.len;
			strbuf_add(&r->line, buf + k, len);
			r->offset += len;
			k += len;
			if (nl) {
				print_line(r, out, start);
				total += r->line.len;
				strbuf_reset(&r->line);
			}
		}
	}
	if (final && r->line.len) {
		print_line(r, out, r->offset - r->line.len);
		fputc('\n', out);
		total += r->line.len;
		strbuf_reset(&r->line);
	}
	return total;
}

void steplog_reader_close(steplog_reader *r)
{
	if (r->log)
		fclose(r->log);
	if (r->times)
		fclose(r->times);
	strbuf_release(&r->line);
}

/* ---- the executor's side ------------------------------------------------------------------ */

/* How much of one step's output a turn of the loop reads: enough that a
 * chatty step is not slowed, little enough that a flood cannot hold the
 * loop away from the other steps, the timers and the signals. */
#define DRAIN_PER_TURN (256 << 10)
/* After the step ended: what is still in the pipe, but no more than this
 * (a process that escaped the step could write on forever). */
#define DRAIN_FINAL (16 << 20)

void exec_log_drain(struct exec *x, size_t i, int final)
{
	struct exec_step *es = &x->s[i];
	if (es->log_rd < 0)
		return;
	char buf[65536];
	size_t budget = final ? DRAIN_FINAL : DRAIN_PER_TURN, done = 0;
	for (;;) {
		ssize_t r = read(es->log_rd, buf, sizeof(buf));
		if (r > 0) {
			steplog_write(&es->log, buf, (size_t)r);
			done += (size_t)r;
			if (done < budget)
				continue;
			if (!final)
				break; /* the rest next turn: epoll says it is still readable */
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || final || (r < 0 && errno != EAGAIN)) {
			exec_unwatch(x, es->log_rd);
			close(es->log_rd);
			es->log_rd = -1;
		}
		break;
	}
}
