/*
 * redact.c — see include/sluice/redact.h.
 *
 * The needles are plain byte strings searched with memmem, one after the
 * other, over the whole buffer; what they find is a list of spans, sorted
 * and merged, and each merged span becomes one mask.  A run has a handful
 * of secrets and each gives a dozen needles or so, so this is cheap next
 * to writing the bytes down; a redactor without needles costs nothing.
 */
#include "sluice/redact.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct redactor {
	char **needle;
	size_t *len;
	size_t n, cap;
	size_t max_len;
};

redactor *redact_new(void)
{
	return xcalloc(1, sizeof(redactor));
}

void redact_free(redactor *r)
{
	if (!r)
		return;
	for (size_t k = 0; k < r->n; k++) {
		explicit_bzero(r->needle[k], r->len[k]);
		free(r->needle[k]);
	}
	free(r->needle);
	free(r->len);
	free(r);
}

int redact_active(const redactor *r)
{
	return r && r->n;
}

size_t redact_max_len(const redactor *r)
{
	return r ? r->max_len : 0;
}

/* ---- the needles --------------------------------------------------------------------- */

static void add_needle(redactor *r, const char *s, size_t len)
{
	if (len < REDACT_MIN)
		return;
	for (size_t k = 0; k < r->n; k++)
		if (r->len[k] == len && !memcmp(r->needle[k], s, len))
			return;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->needle = xrealloc(r->needle, r->cap * sizeof(char *));
		r->len = xrealloc(r->len, r->cap * sizeof(size_t));
	}
	char *copy = xmalloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = 0;
	r->needle[r->n] = copy;
	r->len[r->n++] = len;
	if (len > r->max_len)
		r->max_len = len;
}

static void add_wiped(redactor *r, strbuf *sb)
{
	add_needle(r, sb->buf, sb->len);
	if (sb->buf)
		explicit_bzero(sb->buf, sb->len);
	strbuf_reset(sb);
}

/* The base64 characters that depend on v alone when a bytes of other text
 * precede it in its group of three (whatever follows it).  Character j of
 * the encoding holds bits 6j..6j+5: it is v's alone when its first bit is
 * in v (6j >= 8a) and so is its last (6j + 5 < 8(a + n)). */
static void add_base64(redactor *r, const char *v, size_t n, size_t a)
{
	if (n == 0 || n > INT_MAX / 2)
		return;
	size_t zn = a + n;
	unsigned char *z = xcalloc(zn, 1);
	memcpy(z + a, v, n);
	size_t elen = 4 * ((zn + 2) / 3);
	char *enc = xmalloc(elen + 1);
	EVP_EncodeBlock((unsigned char *)enc, z, (int)zn);
	size_t lo = (8 * a + 5) / 6;
	size_t bits = 8 * zn;
	if (bits >= 6 && (bits - 6) / 6 >= lo) {
		size_t hi = (bits - 6) / 6; /* inclusive */
		add_needle(r, enc + lo, hi - lo + 1);
		/* where the value ends the text: its last character and the padding too */
		add_needle(r, enc + lo, elen - lo);
		/* the same in the URL-safe alphabet (RFC 4648 section 5) */
		for (size_t j = lo; j < elen; j++)
			enc[j] = enc[j] == '+' ? '-' : enc[j] == '/' ? '_' : enc[j];
		add_needle(r, enc + lo, hi - lo + 1);
		add_needle(r, enc + lo, elen - lo);
	}
	explicit_bzero(z, zn);
	explicit_bzero(enc, elen);
	free(z);
	free(enc);
}

/* The code point of the UTF-8 sequence at s (n bytes left) and its length;
 * 0 for a sequence that is not valid. */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n || s[0] >= 0xf8)
		return 0;
	unsigned c = s[0] & (0x7f >> len);
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[k] & 0x3f);
	}
	*cp = c;
	return len;
}

enum { JSON_UPPER = 1, JSON_ASCII = 2, JSON_SLASH = 4 };

/* v as it stands between the quotes of a JSON string; 0 when it cannot be
 * written so (JSON_ASCII and v is not UTF-8). */
static int json_escape(const char *v, size_t n, int how, strbuf *out)
{
	const char *hex = how & JSON_UPPER ? "%04X" : "%04x";
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[k];
		const char *esc = c == '"'                         ? "\\\""
				  : c == '\\'                      ? "\\\\"
				  : c == '\n'                      ? "\\n"
				  : c == '\r'                      ? "\\r"
				  : c == '\t'                      ? "\\t"
				  : c == '\b'                      ? "\\b"
				  : c == '\f'                      ? "\\f"
				  : c == '/' && (how & JSON_SLASH) ? "\\/"
								   : NULL;
		if (esc) {
			strbuf_addstr(out, esc);
		} else if (c < 0x20) {
			strbuf_addstr(out, "\\u");
			strbuf_addf(out, hex, c);
		} else if (c >= 0x80 && (how & JSON_ASCII)) {
			unsigned cp;
			size_t len = utf8_decode((const unsigned char *)v + k, n - k, &cp);
			if (!len)
				return 0;
			k += len - 1;
			if (cp >= 0x10000) { /* a surrogate pair */
				cp -= 0x10000;
				strbuf_addstr(out, "\\u");
				strbuf_addf(out, hex, 0xd800 + (cp >> 10));
				cp = 0xdc00 + (cp & 0x3ff);
			}
			strbuf_addstr(out, "\\u");
			strbuf_addf(out, hex, cp);
		} else {
			strbuf_addch(out, (char)c);
		}
	}
	return 1;
}

/* Percent-encoding of everything but the unreserved characters and keep;
 * plus: a space is '+' (HTML forms, Python's quote_plus, Go's QueryEscape). */
static void url_escape(const char *v, size_t n, const char *keep, int plus, strbuf *out)
{
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[k];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c && strchr("-._~", c)) || (c && strchr(keep, c)))
			strbuf_addch(out, (char)c);
		else if (c == ' ' && plus)
			strbuf_addch(out, '+');
		else
			strbuf_addf(out, "%%%02X", c);
	}
}

static void xml_escape(const char *v, size_t n, strbuf *out)
{
	for (size_t k = 0; k < n; k++) {
		char c = v[k];
		const char *esc = c == '&'    ? "&amp;"
				  : c == '<'  ? "&lt;"
				  : c == '>'  ? "&gt;"
				  : c == '"'  ? "&quot;"
				  : c == '\'' ? "&apos;"
					      : NULL;
		if (esc)
			strbuf_addstr(out, esc);
		else
			strbuf_addch(out, c);
	}
}

/* One value (the whole secret or one of its lines) and its encodings. */
static void add_value(redactor *r, const char *v, size_t n)
{
	if (n < REDACT_MIN)
		return;
	add_needle(r, v, n);
	for (size_t a = 0; a < 3; a++)
		add_base64(r, v, n, a);
	strbuf sb = STRBUF_INIT;
	static const int json_ways[] = {0, JSON_UPPER, JSON_ASCII, JSON_ASCII | JSON_UPPER,
					JSON_SLASH};
	for (size_t k = 0; k < sizeof(json_ways) / sizeof(json_ways[0]); k++) {
		if (!json_escape(v, n, json_ways[k], &sb)) { /* not UTF-8: no such form */
			if (sb.buf)
				explicit_bzero(sb.buf, sb.len);
			strbuf_reset(&sb);
		}
		add_wiped(r, &sb);
	}
	static const char *const url_keep[] = {"", "/", "!'()*"};
	for (size_t k = 0; k < 3; k++) {
		url_escape(v, n, url_keep[k], 0, &sb);
		add_wiped(r, &sb);
	}
	url_escape(v, n, "", 1, &sb);
	add_wiped(r, &sb);
	xml_escape(v, n, &sb);
	add_wiped(r, &sb);
	/* a command line's \" (CommandLineArgumentEscape) */
	for (size_t k = 0; k < n; k++) {
		if (v[k] == '"')
			strbuf_addch(&sb, '\\');
		strbuf_addch(&sb, v[k]);
	}
	add_wiped(r, &sb);
	strbuf_release(&sb);
}

int redact_add(redactor *r, const char *value)
{
	size_t n = strlen(value);
	/* a trailing newline is how the value was written down, not part of it */
	while (n && (value[n - 1] == '\n' || value[n - 1] == '\r'))
		n--;
	if (n < REDACT_MIN)
		return 1;
	add_value(r, value, n);
	if (!memchr(value, '\n', n))
		return 0;
	/* a log is written line by line: each line of the value is a needle too */
	for (const char *p = value, *end = value + n; p <= end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t len = (size_t)(eol - p);
		if (len && p[len - 1] == '\r')
			len--;
		add_value(r, p, len);
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

/* ---- masking ---------------------------------------------------------------------------- */

struct span {
	size_t a, b; /* [a, b) */
};

static int cmp_span(const void *x, const void *y)
{
	const struct span *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a ? 1 : (p->b > q->b) - (p->b < q->b);
}

/* Every match in buf that begins before upto, sorted and merged (matches
 * that overlap or touch are one); *n of them, malloc'd (NULL when none). */
static struct span *find_spans(const redactor *r, const char *buf, size_t n, size_t upto,
			       size_t *nspans)
{
	struct span *s = NULL;
	size_t ns = 0, cap = 0;
	for (size_t k = 0; k < r->n; k++) {
		size_t len = r->len[k];
		for (const char *p = buf, *end = buf + n;
		     (size_t)(end - p) >= len &&
		     (p = memmem(p, (size_t)(end - p), r->needle[k], len)) &&
		     (size_t)(p - buf) < upto;
		     p++) {
			if (ns == cap)
				s = xrealloc(s, (cap = cap ? 2 * cap : 8) * sizeof(*s));
			s[ns++] = (struct span){(size_t)(p - buf), (size_t)(p - buf) + len};
		}
	}
	if (ns > 1)
		qsort(s, ns, sizeof(*s), cmp_span);
	size_t m = 0;
	for (size_t k = 0; k < ns; k++) {
		if (m && s[k].a <= s[m - 1].b) {
			if (s[k].b > s[m - 1].b)
				s[m - 1].b = s[k].b;
		} else {
			s[m++] = s[k];
		}
	}
	*nspans = m;
	return s;
}

size_t redact_apply_upto(const redactor *r, char *buf, size_t n, size_t upto, size_t *used)
{
	if (upto > n)
		upto = n;
	*used = upto;
	if (!redact_active(r) || !n)
		return upto;
	size_t ns;
	struct span *s = find_spans(r, buf, n, upto, &ns);
	if (!ns)
		return upto;
	if (s[ns - 1].b > *used)
		*used = s[ns - 1].b;
	/* every span is longer than the mask: the text only moves left */
	size_t w = 0, rd = 0;
	for (size_t k = 0; k < ns; k++) {
		memmove(buf + w, buf + rd, s[k].a - rd);
		w += s[k].a - rd;
		memcpy(buf + w, REDACT_MASK, sizeof(REDACT_MASK) - 1);
		w += sizeof(REDACT_MASK) - 1;
		rd = s[k].b;
	}
	memmove(buf + w, buf + rd, *used - rd);
	w += *used - rd;
	free(s);
	return w;
}

size_t redact_apply(const redactor *r, char *buf, size_t n)
{
	size_t used;
	return redact_apply_upto(r, buf, n, n, &used);
}

void redact_str(const redactor *r, char *s)
{
	if (!s || !redact_active(r))
		return;
	size_t n = redact_apply(r, s, strlen(s));
	s[n] = 0;
}

char *redact_dup(const redactor *r, const char *s)
{
	if (!s)
		return NULL;
	char *d = xstrdup(s);
	redact_str(r, d);
	return d;
}

/* ---- files ------------------------------------------------------------------------------ */

/* All of fd into out (a file sluice keeps for a step is small: $SLUICE_OUTPUT is capped). */
static int read_all(int fd, strbuf *out)
{
	char buf[65536];
	for (;;) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			return 0;
		strbuf_add(out, buf, (size_t)got);
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int redact_file(const redactor *r, const char *path, sl_error **err)
{
	sl_autoclose int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return sl_error_errno(err, errno, "mask secrets in %s", path);
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return sl_error_errno(err, errno, "mask secrets in %s", path);
	if (!S_ISREG(sb.st_mode))
		return sl_error_make(err, "mask secrets in %s: not a regular file", path);
	if ((sb.st_mode & 077) && sb.st_uid == geteuid())
		fchmod(fd, 0600); /* what a step wrote there is no one else's to read */
	if (!redact_active(r))
		return 0;
	strbuf text = STRBUF_INIT;
	if (read_all(fd, &text) < 0) {
		int e = errno;
		strbuf_release(&text);
		return sl_error_errno(err, e, "mask secrets in %s: read", path);
	}
	size_t n = text.len ? redact_apply(r, text.buf, text.len) : 0;
	if (n == text.len) { /* nothing masked: a mask always shortens the text */
		strbuf_release(&text);
		return 0;
	}
	sl_autofree char *tmp = NULL;
	if (asprintf(&tmp, "%s.masked-XXXXXX", path) < 0)
		abort();
	int out = mkostemp(tmp, O_CLOEXEC);
	int rc = 0;
	if (out < 0) {
		rc = sl_error_errno(err, errno, "mask secrets in %s: create %s", path, tmp);
	} else {
		if (write_all(out, text.buf, n) < 0 || fchmod(out, 0600) < 0)
			rc = sl_error_errno(err, errno, "mask secrets in %s: write %s", path, tmp);
		if (close(out) < 0 && rc == 0)
			rc = sl_error_errno(err, errno, "mask secrets in %s: write %s", path, tmp);
		if (rc == 0 && rename(tmp, path) < 0)
			rc = sl_error_errno(err, errno, "mask secrets in %s: rename", path);
		if (rc < 0)
			unlink(tmp);
	}
	explicit_bzero(text.buf, text.len);
	strbuf_release(&text);
	return rc;
}
