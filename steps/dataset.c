/*
 * dataset.c — streaming CSV (RFC 4180) and JSON Lines reader; see
 * include/sluice/dataset.h for the contract.
 *
 * The input is read in blocks into one buffer, buf[pos, end), always followed
 * by a NUL sentinel at buf[end] so the scanning loops need no bounds check:
 * they stop on a table of interesting bytes that includes NUL, then tell the
 * sentinel (p == end) from a NUL in the data (an error).
 *
 * A CSV row is handled in two passes over the buffer:
 *   1. csv_scan() walks the row read-only and records each field as a span
 *      (offset, length, quoted, has doubled quotes), validating UTF-8 on the
 *      way.  When the row runs past the data in the buffer and the input is
 *      not at its end, it says so and the caller refills (moving the partial
 *      row to the front, growing the buffer when the row alone fills it) and
 *      scans the row again from its start.  The buffer only grows for a row
 *      longer than it, so rescans cost O(row) overall.
 *   2. csv_materialize() NUL-terminates each field in place (over its
 *      delimiter or closing quote) and collapses doubled quotes, which only
 *      shortens a field.  Nothing is copied and nothing is allocated per row.
 * Because pass 2 writes into the buffer, a row's fields stay valid only until
 * the next dataset_next(), which may move or overwrite the buffer.
 *
 * JSON Lines are parsed one line at a time with jansson; each value is
 * rendered as text into one reusable row buffer.
 *
 * Invariants: buf[end, end + PAD] are '\0' (the sentinel, then padding for
 * 16-byte loads); pos <= end < cap; the allocation is cap + PAD bytes; line is the physical line
 * number at pos; once an error has been returned, every later call returns it
 * again (the reader is poisoned).
 */
#include "sluice/dataset.h"

#include "sluice/arena.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define DEFAULT_CHUNK ((size_t)1 << 20)
#define MAX_ROW       ((size_t)64 << 20)
/* zero bytes after buf[end]: a 16-byte load from any p <= end stays inside */
#define PAD 16

struct span {
	size_t off, len;
	unsigned char quoted, esc;
};

struct dataset_reader {
	char *name; /* for messages */
	enum dataset_format fmt;
	int fd;                   /* -1 when reading memory */
	const unsigned char *mem; /* memory input */
	size_t mem_len, mem_pos;
	size_t chunk; /* most bytes per refill */
	char *buf;
	size_t cap, pos, end;
	int eof;       /* nothing more to read after buf[end] */
	uint64_t base; /* input offset of buf[0] */
	uint64_t line, row_line;
	int failed; /* a previous call returned an error */
	char *failed_msg;

	size_t ncols;
	char **names;
	strmap index; /* name -> column number + 1 */
	const char **fields;
	size_t *lens;
	struct span *spans;
	size_t nspans;
	const char **batch_fields; /* dataset_next_batch: batch_cap rows of ncols */
	size_t *batch_lens;
	size_t batch_cap;
	uint64_t batch_last_line;
	unsigned char ustop[256], qstop[256]; /* see init_tables() */

	/* JSON Lines */
	json_t *pending; /* the first object, read by open, returned by the first next */
	uint64_t pending_line;
	strbuf row;
	size_t *offs;
};

/* ---- bytes --------------------------------------------------------------- */

/* Fill the tables of bytes that stop the scan of an unquoted field (u) and
 * of a quoted one (q): everything the scanner must look at. */
static void init_tables(unsigned char *u, unsigned char *q)
{
	for (int c = 0; c < 256; c++) {
		u[c] = c >= 0x80 || c == 0 || c == ',' || c == '\n' || c == '\r';
		q[c] = c >= 0x80 || c == 0 || c == '"' || c == '\n';
	}
}

/*
 * Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when it is
 * invalid (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), -1 when it is cut by the end of the data at e.
 */
static int utf8_seq(const unsigned char *p, const unsigned char *e)
{
	unsigned c = p[0];
	int n;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if (p + i >= e)
			return -1;
		unsigned b = p[i];
		if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
			return 0;
	}
	return n;
}

/* ---- errors ---------------------------------------------------------------- */

static int fail(dataset_reader *r, sl_error **err, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record and return a data error "NAME:LINE: message"; the reader is poisoned. */
static int fail(dataset_reader *r, sl_error **err, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(r->failed_msg);
	r->failed_msg = NULL;
	if (asprintf(&r->failed_msg, "%s:%llu: %s", r->name, (unsigned long long)line,
		     msg ? msg : "out of memory") < 0)
		r->failed_msg = NULL;
	free(msg);
	r->failed = 1;
	return sl_error_usage(err, "%s", r->failed_msg ? r->failed_msg : r->name);
}

/* ---- input ----------------------------------------------------------------- */

/*
 * Make room and read more: move buf[pos, end) to the front, grow the buffer
 * when the data left fills it, read up to one chunk.  Returns 0 (eof may now
 * be set), or -1 on a read error or a row too long.
 */
static int refill(dataset_reader *r, sl_error **err)
{
	if (r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->base += r->pos;
		r->end -= r->pos;
		r->pos = 0;
	}
	if (r->end + 1 >= r->cap) {
		if (r->cap > MAX_ROW)
			return fail(r, err, r->line,
				    "a row longer than %zu MiB (is a quote left open?)",
				    MAX_ROW >> 20);
		r->cap *= 2;
		r->buf = xrealloc(r->buf, r->cap + PAD);
	}
	size_t room = r->cap - 1 - r->end;
	if (room > r->chunk)
		room = r->chunk;
	size_t got;
	if (r->fd < 0) {
		got = r->mem_len - r->mem_pos;
		if (got > room)
			got = room;
		memcpy(r->buf + r->end, r->mem + r->mem_pos, got);
		r->mem_pos += got;
	} else {
		ssize_t n;
		do
			n = read(r->fd, r->buf + r->end, room);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return sl_error_errno(err, errno, "read %s", r->name);
		got = (size_t)n;
	}
	if (got == 0)
		r->eof = 1;
	r->end += got;
	memset(r->buf + r->end, 0, PAD);
	return 0;
}

/* ---- CSV --------------------------------------------------------------------- */

/* The first byte at or after q that stops an unquoted field (a table entry). */
static inline const unsigned char *skip_plain(const unsigned char *q, const unsigned char *stop)
{
#ifdef __SSE2__
	const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n');
	const __m128i cr = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
	for (;;) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i m =
			_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
				     _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, zero)));
		unsigned bits = (unsigned)_mm_movemask_epi8(m) | (unsigned)_mm_movemask_epi8(v);
		if (bits)
			return q + __builtin_ctz(bits);
		q += 16;
	}
#else
	while (!stop[*q])
		q++;
	return q;
#endif
}

/* The same inside quotes: '"', LF (to count lines), NUL and non-ASCII stop. */
static inline const unsigned char *skip_quoted(const unsigned char *q, const unsigned char *stop)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), lf = _mm_set1_epi8('\n');
	const __m128i zero = _mm_setzero_si128();
	for (;;) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i m =
			_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, lf)),
				     _mm_cmpeq_epi8(v, zero));
		unsigned bits = (unsigned)_mm_movemask_epi8(m) | (unsigned)_mm_movemask_epi8(v);
		if (bits)
			return q + __builtin_ctz(bits);
		q += 16;
	}
#else
	while (!stop[*q])
		q++;
	return q;
#endif
}

enum { SCAN_MORE = 0, SCAN_ROW = 1, SCAN_ERR = -1 };

static struct span *next_span(dataset_reader *r, size_t nf)
{
	if (nf == r->nspans) {
		r->nspans = r->nspans ? r->nspans * 2 : 16;
		r->spans = xrealloc(r->spans, r->nspans * sizeof(*r->spans));
	}
	return &r->spans[nf];
}

/*
 * Scan the row at buf[pos] (read-only).  SCAN_ROW: spans[0..*nf) hold its
 * fields, *row_end is the offset after its terminator and *nl the newlines
 * inside quoted fields.  SCAN_MORE: the row continues past the data read.
 */
static int csv_scan(dataset_reader *r, size_t *nf, size_t *row_end, uint64_t *nl, sl_error **err)
{
	const unsigned char *us = r->ustop, *qs = r->qstop;
	const unsigned char *b = (const unsigned char *)r->buf;
	const unsigned char *e = b + r->end;
	const unsigned char *p = b + r->pos;
	size_t n = 0;
	uint64_t lines = 0;
	int eof = r->eof;
	for (;;) {
		struct span *sp = next_span(r, n++);
		const unsigned char *q;
		if (*p == '"') {
			uint64_t open_line = r->row_line + lines;
			q = p + 1;
			sp->quoted = 1;
			sp->esc = 0;
			sp->off = (size_t)(q - b);
			for (;;) {
				q = skip_quoted(q, qs);
				if (*q == '"') {
					if (q[1] == '"') {
						sp->esc = 1;
						q += 2;
						continue;
					}
					if (q + 1 == e && !eof)
						return SCAN_MORE;
					break;
				}
				if (*q == '\n') {
					lines++;
					q++;
					continue;
				}
				if (*q == '\0') {
					if (q != e)
						return fail(r, err, r->row_line + lines,
							    "NUL byte in a field");
					if (!eof)
						return SCAN_MORE;
					return fail(r, err, open_line,
						    "quoted field not closed before the end of the "
						    "file");
				}
				int len = utf8_seq(q, e);
				if (len < 0 && !eof)
					return SCAN_MORE;
				if (len <= 0)
					return fail(r, err, r->row_line + lines, "invalid UTF-8");
				q += len;
			}
			sp->len = (size_t)(q - b) - sp->off;
			q++; /* the closing quote */
			if (*q == ',') {
				p = q + 1;
				continue;
			}
			if (*q == '\n' || *q == '\r' || (*q == '\0' && q == e))
				goto row_end;
			return fail(r, err, r->row_line + lines,
				    "unexpected character after the closing quote of field %zu", n);
		}
		q = p;
		sp->quoted = 0;
		sp->esc = 0;
		sp->off = (size_t)(p - b);
		for (;;) {
			q = skip_plain(q, us);
			if (*q == ',' || *q == '\n' || *q == '\r')
				break;
			if (*q == '\0') {
				if (q != e)
					return fail(r, err, r->row_line + lines,
						    "NUL byte in a field");
				break;
			}
			int len = utf8_seq(q, e);
			if (len < 0 && !eof)
				return SCAN_MORE;
			if (len <= 0)
				return fail(r, err, r->row_line + lines, "invalid UTF-8");
			q += len;
		}
		sp->len = (size_t)(q - p);
		if (*q == ',') {
			p = q + 1;
			continue;
		}
	row_end:
		if (*q == '\0') { /* q == e */
			if (!eof)
				return SCAN_MORE;
			*row_end = (size_t)(q - b);
		} else if (*q == '\r') {
			if (q + 1 == e && !eof)
				return SCAN_MORE; /* is it CRLF? */
			*row_end = (size_t)(q - b) + 1 + (q[1] == '\n');
		} else {
			*row_end = (size_t)(q - b) + 1;
		}
		*nf = n;
		*nl = lines;
		return SCAN_ROW;
	}
}

/* Terminate the fields of a scanned row in place and point fields[] at them. */
static void csv_materialize(dataset_reader *r, size_t nf, const char **fields, size_t *lens)
{
	for (size_t i = 0; i < nf; i++) {
		const struct span *sp = &r->spans[i];
		char *s = r->buf + sp->off;
		size_t len = sp->len;
		if (sp->esc) {
			size_t w = 0;
			for (size_t k = 0; k < len; k++) {
				s[w++] = s[k];
				if (s[k] == '"')
					k++; /* the scan guarantees pairs */
			}
			len = w;
		}
		s[len] = '\0';
		fields[i] = len ? s : NULL;
		lens[i] = len;
	}
}

/* Returned when a row needs more input but the caller holds rows that a
 * refill would move (dataset_next_batch). */
#define NEED_REFILL 2

/* Skip blank lines at pos.  Returns 1 at a row, 0 at the end, -1 on error,
 * NEED_REFILL when it must read and may not. */
static int csv_skip_blank(dataset_reader *r, int may_refill, sl_error **err)
{
	for (;;) {
		if (r->pos == r->end) {
			if (r->eof)
				return 0;
			if (!may_refill)
				return NEED_REFILL;
			if (refill(r, err) < 0)
				return -1;
			continue;
		}
		char c = r->buf[r->pos];
		if (c != '\n' && c != '\r')
			return 1;
		if (c == '\r' && r->pos + 1 == r->end && !r->eof) {
			if (!may_refill)
				return NEED_REFILL;
			if (refill(r, err) < 0)
				return -1;
			continue;
		}
		r->pos += 1 + (c == '\r' && r->buf[r->pos + 1] == '\n');
		r->line++;
	}
}

/* Scan one CSV row into spans.  1, 0 at the end, -1, or NEED_REFILL (only
 * when !may_refill; nothing consumed but blank lines). */
static int csv_read_row(dataset_reader *r, size_t *nf, int may_refill, sl_error **err)
{
	int rc = csv_skip_blank(r, may_refill, err);
	if (rc != 1)
		return rc;
	uint64_t prev_line = r->row_line;
	r->row_line = r->line;
	for (;;) {
		size_t row_end = 0;
		uint64_t nl = 0;
		rc = csv_scan(r, nf, &row_end, &nl, err);
		if (rc == SCAN_ERR)
			return -1;
		if (rc == SCAN_ROW) {
			r->pos = row_end;
			r->line += nl + 1;
			return 1;
		}
		if (!may_refill) {
			r->row_line = prev_line;
			return NEED_REFILL;
		}
		if (refill(r, err) < 0)
			return -1;
	}
}

static void add_column(dataset_reader *r, const char *name)
{
	r->names = xrealloc(r->names, (r->ncols + 1) * sizeof(char *));
	r->names[r->ncols] = xstrdup(name);
	r->ncols++;
}

static int check_duplicate(dataset_reader *r, sl_error **err)
{
	const char *name = r->names[r->ncols - 1];
	if (strmap_get(&r->index, name))
		return fail(r, err, r->row_line, "column '%s' appears twice in the header", name);
	strmap_put(&r->index, name, (void *)(uintptr_t)r->ncols);
	return 0;
}

static int csv_header(dataset_reader *r, sl_error **err)
{
	/* A UTF-8 byte order mark may precede the header. */
	while (r->end - r->pos < 3 && !r->eof)
		if (refill(r, err) < 0)
			return -1;
	if (r->end - r->pos >= 3 && memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
		r->pos += 3;
	size_t nf;
	int rc = csv_read_row(r, &nf, 1, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return fail(r, err, 1, "no header row (the file is empty)");
	for (size_t i = 0; i < nf; i++) {
		const struct span *sp = &r->spans[i];
		char *s = r->buf + sp->off;
		/* copy out before terminating: names outlive the buffer */
		char *name = xmalloc(sp->len + 1);
		size_t w = 0;
		for (size_t k = 0; k < sp->len; k++) {
			name[w++] = s[k];
			if (sp->esc && s[k] == '"')
				k++;
		}
		name[w] = '\0';
		add_column(r, name);
		free(name);
		if (check_duplicate(r, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- JSON Lines ---------------------------------------------------------------- */

/* The next non-blank line: *line and *len point into the buffer (no newline, no
 * trailing CR).  1, 0 at the end, -1 on error. */
static int jsonl_line(dataset_reader *r, char **line, size_t *len, sl_error **err)
{
	for (;;) {
		char *s = r->buf + r->pos;
		char *nl = memchr(s, '\n', r->end - r->pos);
		if (!nl && !r->eof) {
			if (refill(r, err) < 0)
				return -1;
			continue;
		}
		if (!nl && r->pos == r->end)
			return 0;
		size_t n = nl ? (size_t)(nl - s) : r->end - r->pos;
		r->pos += n + (nl != NULL);
		r->row_line = r->line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == n)
			continue;
		*line = s;
		*len = n;
		return 1;
	}
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	default:
		return "an object";
	}
}

/* Parse the next object.  1 with *obj (a new reference), 0 at the end, -1. */
static int jsonl_object(dataset_reader *r, json_t **obj, sl_error **err)
{
	char *line;
	size_t len;
	int rc = jsonl_line(r, &line, &len, err);
	if (rc <= 0)
		return rc;
	json_error_t je;
	json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!v)
		return fail(r, err, r->row_line, "invalid JSON at column %d: %s", je.column,
			    je.text);
	if (!json_is_object(v)) {
		const char *k = json_kind(v);
		json_decref(v);
		return fail(r, err, r->row_line, "expected a JSON object, found %s", k);
	}
	*obj = v;
	return 1;
}

/* The shortest %g form that reads back as the same double. */
static void format_real(char *buf, size_t size, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Render obj's values for our columns into the row buffer. */
static void jsonl_fill(dataset_reader *r, json_t *obj)
{
	strbuf_reset(&r->row);
	for (size_t i = 0; i < r->ncols; i++) {
		json_t *v = json_object_get(obj, r->names[i]);
		r->offs[i] = r->row.len;
		char num[40];
		const char *text = NULL;
		size_t len = 0;
		char *dumped = NULL;
		switch (v ? json_typeof(v) : JSON_NULL) {
		case JSON_NULL:
			r->offs[i] = SIZE_MAX;
			continue;
		case JSON_STRING:
			text = json_string_value(v);
			len = json_string_length(v);
			break;
		case JSON_INTEGER:
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			text = num;
			len = strlen(num);
			break;
		case JSON_REAL:
			format_real(num, sizeof(num), json_real_value(v));
			text = num;
			len = strlen(num);
			break;
		case JSON_TRUE:
			text = "true";
			len = 4;
			break;
		case JSON_FALSE:
			text = "false";
			len = 5;
			break;
		default:
			dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			text = dumped ? dumped : "";
			len = strlen(text);
			break;
		}
		strbuf_add(&r->row, text, len);
		strbuf_addch(&r->row, '\0');
		free(dumped);
	}
	/* pointers only now: the buffer may have moved while it grew */
	for (size_t i = 0; i < r->ncols; i++) {
		if (r->offs[i] == SIZE_MAX) {
			r->fields[i] = NULL;
			r->lens[i] = 0;
		} else {
			r->fields[i] = r->row.buf + r->offs[i];
			r->lens[i] = strlen(r->fields[i]);
		}
	}
}

static int jsonl_header(dataset_reader *r, sl_error **err)
{
	json_t *obj = NULL;
	int rc = jsonl_object(r, &obj, err);
	if (rc <= 0)
		return rc; /* an empty file has no columns and no rows */
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val)
	{
		(void)val;
		add_column(r, key);
		strmap_put(&r->index, r->names[r->ncols - 1], (void *)(uintptr_t)r->ncols);
	}
	r->pending = obj;
	r->pending_line = r->row_line;
	return 0;
}

/* ---- the API ------------------------------------------------------------------- */

int dataset_format_parse(const char *s, enum dataset_format *fmt)
{
	if (strcmp(s, "csv") == 0)
		*fmt = DATASET_CSV;
	else if (strcmp(s, "jsonl") == 0)
		*fmt = DATASET_JSONL;
	else if (strcmp(s, "auto") == 0)
		*fmt = DATASET_AUTO;
	else
		return -1;
	return 0;
}

static enum dataset_format guess(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0 ||
		    strcasecmp(dot, ".json") == 0))
		return DATASET_JSONL;
	return DATASET_CSV;
}

/* size: the input's size when known (a small input gets a small buffer), else SIZE_MAX */
static dataset_reader *new_reader(const char *name, enum dataset_format fmt, size_t chunk,
				  size_t size)
{
	dataset_reader *r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	r->fmt = fmt == DATASET_AUTO ? guess(name) : fmt;
	r->fd = -1;
	r->chunk = chunk ? chunk : DEFAULT_CHUNK;
	r->cap = r->chunk < DEFAULT_CHUNK ? r->chunk : DEFAULT_CHUNK;
	if (size < r->cap)
		r->cap = size;
	r->cap += 1;
	if (r->cap < 64)
		r->cap = 64;
	r->buf = xcalloc(1, r->cap + PAD);
	r->line = 1;
	init_tables(r->ustop, r->qstop);
	return r;
}

static int start(dataset_reader *r, dataset_reader **out, sl_error **err)
{
	int rc = r->fmt == DATASET_JSONL ? jsonl_header(r, err) : csv_header(r, err);
	if (rc < 0) {
		dataset_close(r);
		return -1;
	}
	r->fields = xcalloc(r->ncols + 1, sizeof(char *));
	r->lens = xcalloc(r->ncols + 1, sizeof(size_t));
	r->offs = xcalloc(r->ncols + 1, sizeof(size_t));
	*out = r;
	return 0;
}

int dataset_open(const char *path, enum dataset_format fmt, dataset_reader **out, sl_error **err)
{
	*out = NULL;
	/* a regular file only, opened without blocking: a FIFO would wait forever;
	 * a missing or unreadable data file is the user's mistake: exit 2 */
	int fd = fs_open_regular(path, err);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return sl_error_errno(err, e, "stat %s", path);
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size_t size = S_ISREG(st.st_mode) && st.st_size >= 0 ? (size_t)st.st_size : SIZE_MAX;
	dataset_reader *r = new_reader(path, fmt, 0, size);
	r->fd = fd;
	return start(r, out, err);
}

int dataset_open_mem(const char *name, const void *data, size_t len, enum dataset_format fmt,
		     size_t chunk, dataset_reader **out, sl_error **err)
{
	*out = NULL;
	dataset_reader *r = new_reader(name, fmt, chunk, len);
	r->mem = data;
	r->mem_len = len;
	return start(r, out, err);
}

enum dataset_format dataset_format_of(const dataset_reader *r)
{
	return r->fmt;
}

size_t dataset_ncols(const dataset_reader *r)
{
	return r->ncols;
}

const char *dataset_colname(const dataset_reader *r, size_t i)
{
	return i < r->ncols ? r->names[i] : NULL;
}

long dataset_colindex(const dataset_reader *r, const char *name)
{
	void *v = strmap_get(&r->index, name);
	return v ? (long)(uintptr_t)v - 1 : -1;
}

int dataset_next(dataset_reader *r, const char *const **fields, sl_error **err)
{
	if (r->failed)
		return sl_error_usage(err, "%s", r->failed_msg ? r->failed_msg : r->name);
	if (r->fmt == DATASET_JSONL) {
		json_t *obj = r->pending;
		r->pending = NULL;
		if (obj) {
			r->row_line = r->pending_line;
		} else {
			int rc = jsonl_object(r, &obj, err);
			if (rc <= 0)
				return rc;
		}
		jsonl_fill(r, obj);
		json_decref(obj);
		*fields = r->fields;
		return 1;
	}
	size_t nf;
	int rc = csv_read_row(r, &nf, 1, err);
	if (rc <= 0)
		return rc;
	if (nf != r->ncols)
		return fail(r, err, r->row_line, "row has %zu field%s, the header has %zu", nf,
			    nf == 1 ? "" : "s", r->ncols);
	csv_materialize(r, nf, r->fields, r->lens);
	*fields = r->fields;
	return 1;
}

long dataset_next_batch(dataset_reader *r, size_t max, const char *const **fields,
			const size_t **lens, sl_error **err)
{
	if (max == 0)
		max = 1;
	if (r->fmt == DATASET_JSONL || r->ncols == 0) {
		/* one row at a time: its values live in one reused buffer */
		int rc = dataset_next(r, fields, err);
		*lens = r->lens;
		return rc;
	}
	if (max > r->batch_cap) {
		r->batch_fields = xrealloc(r->batch_fields, max * r->ncols * sizeof(char *));
		r->batch_lens = xrealloc(r->batch_lens, max * r->ncols * sizeof(size_t));
		r->batch_cap = max;
	}
	if (r->failed)
		return sl_error_usage(err, "%s", r->failed_msg ? r->failed_msg : r->name);
	size_t n = 0;
	while (n < max) {
		size_t nf;
		int rc = csv_read_row(r, &nf, n == 0, err);
		if (rc == 1 && nf != r->ncols) {
			fail(r, err, r->row_line, "row has %zu field%s, the header has %zu", nf,
			     nf == 1 ? "" : "s", r->ncols);
			rc = -1;
		}
		if (rc < 0 && n > 0) {
			/* hand out the good rows first; the reader is failed and the
			 * next call reports the error again */
			r->row_line = r->batch_last_line;
			sl_error_release(err);
			break;
		}
		if (rc < 0)
			return -1;
		if (rc != 1)
			break; /* the end, or rows held: refill on the next call */
		r->batch_last_line = r->row_line;
		csv_materialize(r, nf, r->batch_fields + n * r->ncols,
				r->batch_lens + n * r->ncols);
		n++;
	}
	*fields = r->batch_fields;
	*lens = r->batch_lens;
	return (long)n;
}

const size_t *dataset_lengths(const dataset_reader *r)
{
	return r->lens;
}

uint64_t dataset_line(const dataset_reader *r)
{
	return r->row_line;
}

uint64_t dataset_offset(const dataset_reader *r)
{
	return r->base + r->pos;
}

void dataset_close(dataset_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	for (size_t i = 0; i < r->ncols; i++)
		free(r->names[i]);
	free(r->names);
	strmap_release(&r->index);
	free(r->fields);
	free(r->lens);
	free(r->offs);
	free(r->spans);
	free(r->batch_fields);
	free(r->batch_lens);
	free(r->buf);
	free(r->name);
	free(r->failed_msg);
	json_decref(r->pending);
	strbuf_release(&r->row);
	free(r);
}
