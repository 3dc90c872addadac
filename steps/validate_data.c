/*
 * validate_data.c — the `validate-data` built-in: check a CSV or JSON Lines
 * file against an expectations file, write a report in Great Expectations'
 * shape and a per-column profile.  User documentation:
 * docs/steps/validate-data.md.
 *
 * One pass over the data, read in batches of rows and worked on column by
 * column.  Each value goes through see_value(), which updates the column's
 * profile (counts, moments, a quantile sample, a table of distinct values)
 * and runs the column's per-value expectations; the results of in_set and
 * regex are memoised in the distinct-value table, so they cost one check per
 * distinct value.  Aggregate expectations (row count, mean, null rate) are
 * decided at the end from the profile.
 *
 * Values compare as numbers ("1" == "1.0") for in_set unless the column is
 * declared string or bool, and for unique/distinct/top only in a column
 * declared int or float; elsewhere as text.  A column not declared numeric
 * that has shown a non-number stops parsing numbers (unless an expectation
 * needs them): its type can no longer be numeric.
 *
 * Semantics follow Great Expectations (ColumnMapExpectation._validate,
 * _format_map_output): per-value expectations look only at non-null values
 * (not_null looks at all rows); success is vacuous when no value is looked
 * at, else (looked_at - unexpected) / looked_at >= mostly; unexpected_percent
 * is over the values looked at.  `unique` counts every occurrence of a value
 * that occurs more than once (pandas duplicated(keep=False)).  `regex` is a
 * search (POSIX ERE), as GE's str.contains.
 *
 * Memory: bounded per column except for what a statistic needs —
 *   - quantiles: the numeric values, exact up to SAMPLE_CAP of them, then a
 *     stratified random sample of SAMPLE_CAP/2 to SAMPLE_CAP values: one
 *     value drawn at random from each run of `stride` consecutive values;
 *     when the sample fills, adjacent pairs are merged by keeping one of the
 *     two at random and the stride doubles.  Unlike a reservoir, it writes
 *     the sample sequentially (a reservoir writes at random all over 8 MB
 *     per column), and it is still uniform within each stratum;
 *   - distinct values: exact up to DISTINCT_CAP, then a HyperLogLog estimate
 *     (2^HLL_P registers); `unique` needs every value and keeps them all;
 *   - top categories: exact counts while a column has at most DISTINCT_CAP
 *     distinct values; past that, only the first DISTINCT_CAP values keep
 *     being counted, and not even those once most lookups miss (a column of
 *     ids or e-mails has no top categories worth a cache miss per row).
 *
 * Exit: usage errors (bad expectations file, bad data, missing file) are
 * SL_ERR_USAGE (exit 2); failed expectations are an SL_ERR_RUNTIME error
 * whose message names them (exit 1), after the report has been written.
 */
#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/clock.h"
#include "sluice/dataset.h"
#include "sluice/diag.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/util.h"
#include "sluice/yamldoc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PARTIAL_MAX            20    /* GE's partial_unexpected_count */
#define DISTINCT_CAP           10000 /* exact distinct counting up to this many values */
#define SAMPLE_CAP             ((size_t)1 << 20) /* exact quantiles up to this many values */
#define SAMPLE_MAP_AT          ((size_t)1 << 16) /* a sample this large moves to its own mapping */
#define HLL_P                  14
#define TOP_MAX                20
#define EXPECTATIONS_MAX_BYTES ((size_t)16 << 20)
#define BATCH_ROWS             256 /* rows read at once, then worked on column by column */

/* ---- kinds and names --------------------------------------------------------- */

enum ctype { CT_ANY, CT_INT, CT_FLOAT, CT_STRING, CT_BOOL };
static const char *const type_names[] = {"any", "int", "float", "string", "bool"};

enum ekind {
	E_EXIST,
	E_TYPE,
	E_ROWS,
	E_NOT_NULL,
	E_UNIQUE,
	E_BETWEEN,
	E_IN_SET,
	E_REGEX,
	E_MEAN,
	E_NULL_RATE,
};

static const char *const ge_names[] = {
	"expect_column_to_exist",
	"expect_column_values_to_be_of_type",
	"expect_table_row_count_to_be_between",
	"expect_column_values_to_not_be_null",
	"expect_column_values_to_be_unique",
	"expect_column_values_to_be_between",
	"expect_column_values_to_be_in_set",
	"expect_column_values_to_match_regex",
	"expect_column_mean_to_be_between",
	"expect_column_null_rate_to_be_at_most",
};

/* Per-value expectations: the ones `mostly` applies to. */
static int is_map_kind(enum ekind k)
{
	return k == E_TYPE || k == E_NOT_NULL || k == E_UNIQUE || k == E_BETWEEN || k == E_IN_SET ||
	       k == E_REGEX;
}

/* ---- hashing ------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline uint64_t load64(const char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t load32(const char *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return w;
}

/* The last up-to-8 bytes of s[0, n) as one word, without reading outside
 * it: overlapping loads when n >= 4 (as wyhash does). */
static inline uint64_t tail64(const char *s, size_t n)
{
	if (n >= 8)
		return load64(s + n - 8);
	if (n >= 4)
		return load32(s) | (load32(s + n - 4) << 32);
	if (n == 0)
		return 0;
	/* first, middle, last: all the bytes when n <= 3 (n itself is compared
	 * or hashed by the callers) */
	const unsigned char *u = (const unsigned char *)s;
	return (uint64_t)u[0] << 16 | (uint64_t)u[n >> 1] << 8 | u[n - 1];
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	while (n > 8) {
		h = (h ^ load64(s)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		s += 8;
		n -= 8;
	}
	return mix64(h ^ tail64(s, n));
}

static uint64_t hash_double(double d)
{
	uint64_t bits;
	if (d == 0)
		d = 0; /* -0.0 and 0.0 are the same value */
	memcpy(&bits, &d, 8);
	return mix64(bits ^ 0x5bd1e9955bd1e995ull);
}

/* ---- a string pool: strings that live as long as the run ---------------------- */

struct pool_chunk {
	struct pool_chunk *next;
	size_t used, size;
	char data[];
};

struct pool {
	struct pool_chunk *head;
};

static const char *pool_dup(struct pool *p, const char *s, size_t n)
{
	struct pool_chunk *c = p->head;
	if (!c || c->size - c->used < n + 1) {
		/* chunks double from 4 KiB to 1 MiB: small runs stay small */
		size_t size = c ? c->size * 2 : 4096;
		if (size > ((size_t)1 << 20))
			size = (size_t)1 << 20;
		if (size < n + 1)
			size = n + 1;
		c = xmalloc(sizeof(*c) + size);
		c->next = p->head;
		c->used = 0;
		c->size = size;
		p->head = c;
	}
	char *d = c->data + c->used;
	memcpy(d, s, n);
	d[n] = '\0';
	c->used += n + 1;
	return d;
}

static void pool_release(struct pool *p)
{
	while (p->head) {
		struct pool_chunk *n = p->head->next;
		free(p->head);
		p->head = n;
	}
}

/* ---- a table of values: a string, or a number when the column is numeric ------ */

struct vkey {
	uint64_t hash;
	const char *str;
	size_t len;
	double num;
	int isnum;
};

/*
 * Entries are appended densely (ents[0, n), in order of first appearance);
 * an open-addressing index maps a hash to an entry.  An index slot holds
 * the hash's upper 32 bits and the entry number + 1 (0: free), so a probe
 * that does not match never touches an entry, and a table of 10,000 values
 * takes 128 KB of index and 400 KB of entries.
 */
struct ventry {
	uint64_t hash;
	union {
		const char *str; /* in the pool */
		double num;
	} v;
	uint64_t count;
	uint64_t first_row;
	uint32_t len;
	uint8_t isnum;
	/* memo of per-value checks (in_set, regex) of a text value: bit i for the
	 * column's i-th memoised expectation, known and result */
	uint8_t memo_known, memo_ok;
};

struct vtab {
	uint64_t *index;
	size_t icap;
	struct ventry *ents;
	size_t n, ecap;
};

#define TAG_MASK 0xFFFFFFFF00000000ull

static inline int bytes_eq(const char *a, const char *b, size_t n)
{
	/* short keys: cheaper than a call to memcmp */
	for (; n > 8; a += 8, b += 8, n -= 8)
		if (load64(a) != load64(b))
			return 0;
	return tail64(a, n) == tail64(b, n);
}

static inline int vkey_eq(const struct ventry *e, const struct vkey *k)
{
	if (e->hash != k->hash || e->isnum != k->isnum)
		return 0;
	if (k->isnum)
		return e->v.num == k->num || (isnan(e->v.num) && isnan(k->num));
	return e->len == k->len && bytes_eq(e->v.str, k->str, k->len);
}

static void vtab_grow(struct vtab *t)
{
	size_t cap = t->icap ? t->icap * 2 : 32;
	uint64_t *ix = xcalloc(cap, sizeof(*ix));
	for (size_t i = 0; i < t->n; i++) {
		uint64_t h = t->ents[i].hash;
		size_t j = h & (cap - 1);
		while (ix[j])
			j = (j + 1) & (cap - 1);
		ix[j] = (h & TAG_MASK) | (uint64_t)(i + 1);
	}
	free(t->index);
	t->index = ix;
	t->icap = cap;
}

/* The entry for k, or NULL; *slot is where it would go. */
static inline struct ventry *vtab_find(const struct vtab *t, const struct vkey *k, size_t *slot)
{
	uint64_t tag = k->hash & TAG_MASK;
	size_t mask = t->icap - 1, j = k->hash & mask;
	for (;;) {
		uint64_t s = t->index[j];
		if (!s)
			break;
		if ((s & TAG_MASK) == tag) {
			struct ventry *e = &t->ents[(s & ~TAG_MASK) - 1];
			if (vkey_eq(e, k))
				return e;
		}
		j = (j + 1) & mask;
	}
	*slot = j;
	return NULL;
}

static __attribute__((noinline)) struct ventry *vtab_insert(struct vtab *t, const struct vkey *k,
							    struct pool *pool, size_t slot)
{
	if (!t->icap || (t->n + 1) * 10 > t->icap * 7) {
		vtab_grow(t);
		vtab_find(t, k, &slot); /* absent: only the slot moves */
	}
	if (t->n == t->ecap) {
		t->ecap = t->ecap ? t->ecap * 2 : 16;
		t->ents = xrealloc(t->ents, t->ecap * sizeof(*t->ents));
	}
	struct ventry *e = &t->ents[t->n];
	memset(e, 0, sizeof(*e));
	e->hash = k->hash;
	e->isnum = (uint8_t)k->isnum;
	if (k->isnum)
		e->v.num = k->num;
	else
		e->v.str = pool_dup(pool, k->str, k->len);
	e->len = (uint32_t)k->len;
	t->index[slot] = (k->hash & TAG_MASK) | (uint64_t)(t->n + 1);
	t->n++;
	return e;
}

/* The entry for k; when absent, a new one (count 0) if pool is given, else
 * NULL.  Adding may move the entries: earlier pointers become invalid. */
static inline struct ventry *vtab_get(struct vtab *t, const struct vkey *k, struct pool *pool)
{
	size_t slot = 0;
	if (t->icap) {
		struct ventry *e = vtab_find(t, k, &slot);
		if (e)
			return e;
	}
	return pool ? vtab_insert(t, k, pool, slot) : NULL;
}

/* Count one occurrence of k (added when new) at row. */
static struct ventry *vtab_add(struct vtab *t, const struct vkey *k, struct pool *pool,
			       uint64_t row)
{
	struct ventry *e = vtab_get(t, k, pool);
	if (e->count == 0)
		e->first_row = row;
	e->count++;
	return e;
}

static void vtab_release(struct vtab *t)
{
	free(t->index);
	free(t->ents);
	memset(t, 0, sizeof(*t));
}

/* ---- HyperLogLog ------------------------------------------------------------------ */

static void hll_add(uint8_t *reg, uint64_t h)
{
	size_t idx = (size_t)(h >> (64 - HLL_P));
	uint64_t w = (h << HLL_P) | ((uint64_t)1 << (HLL_P - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(w) + 1);
	uint8_t old = reg[idx];
	reg[idx] = rank > old ? rank : old; /* branch-free: the branch is a coin toss */
}

static double hll_estimate(const uint8_t *reg)
{
	const double m = (double)(1u << HLL_P);
	double sum = 0;
	size_t zeros = 0;
	for (size_t i = 0; i < (1u << HLL_P); i++) {
		sum += ldexp(1.0, -reg[i]);
		zeros += reg[i] == 0;
	}
	double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / (double)zeros);
	return e;
}

/* ---- numbers -------------------------------------------------------------------- */

enum { NUM_NONE = 0, NUM_INT = 1, NUM_FLOAT = 2 };

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Parse a decimal number: [+-]digits[.digits][(e|E)[+-]digits], or inf,
 * infinity, nan (any case), with spaces around allowed (pandas reads " 5" as
 * 5).  NUM_INT for an integer that fits in 64 bits, NUM_FLOAT for any other
 * number, NUM_NONE for anything else.  Correctly rounded: exact fast path
 * (Clinger) when the digits fit in 2^53 and the power of ten is exact, else
 * strtod.
 */
static int parse_num_slow(const char *s, double *out);

/*
 * The fast path of parse_num() for the common case: [-+]digits[.digits] with
 * at most 19 digits in all, no spaces, no exponent (len = strlen(s)).  Falls
 * back to the general parser for everything else.
 */
static inline int parse_num(const char *s, size_t len, double *out)
{
	const char *p = s, *e = s + len;
	unsigned char c0 = (unsigned char)*p;
	if (len == 0 || len > 20 || !((unsigned)(c0 - '0') < 10 || c0 == '-' || c0 == '+'))
		goto slow;
	int neg = c0 == '-';
	p += c0 == '-' || c0 == '+';
	const char *digits = p;
	uint64_t m = 0;
	unsigned d;
	while (p < e && (d = (unsigned)(*p - '0')) < 10) {
		m = m * 10 + d;
		p++;
	}
	size_t nint = (size_t)(p - digits);
	if (p == e) {
		if (nint == 0 || nint > 18)
			goto slow;
		*out = neg ? -(double)m : (double)m;
		return NUM_INT;
	}
	if (*p != '.')
		goto slow;
	p++;
	const char *frac = p;
	while (p < e && (d = (unsigned)(*p - '0')) < 10) {
		m = m * 10 + d;
		p++;
	}
	size_t nfrac = (size_t)(p - frac);
	if (p != e || nint + nfrac == 0 || nint + nfrac > 15)
		goto slow;
	/* exact: m < 10^15 < 2^53 and 10^nfrac is exact; one correctly rounded division */
	double v = (double)m / pow10_tab[nfrac];
	*out = neg ? -v : v;
	return NUM_FLOAT;
slow:
	return parse_num_slow(s, out);
}

static int parse_num_slow(const char *s, double *out)
{
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	/* most text fails here, on its first byte */
	unsigned char c0 = (unsigned char)*p;
	if (!((unsigned)(c0 - '0') < 10 || c0 == '-' || c0 == '+' || c0 == '.' ||
	      (c0 | 0x20) == 'i' || (c0 | 0x20) == 'n'))
		return NUM_NONE;
	int neg = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	uint64_t m = 0;
	int nd = 0, digits = 0, lost = 0, is_int = 1;
	long e10 = 0;
	while ((unsigned)(*p - '0') < 10) {
		if (nd < 19) {
			m = m * 10 + (uint64_t)(*p - '0');
			nd += m != 0;
		} else {
			e10++;
			lost |= *p != '0';
		}
		p++;
		digits++;
	}
	if (*p == '.') {
		is_int = 0;
		p++;
		while ((unsigned)(*p - '0') < 10) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				nd += m != 0;
				e10--;
			} else {
				lost |= *p != '0';
			}
			p++;
			digits++;
		}
	}
	if (!digits) {
		const char *w = p;
		size_t n = 0;
		while (((w[n] | 0x20) >= 'a' && (w[n] | 0x20) <= 'z'))
			n++;
		const char *t = w + n;
		while (*t == ' ' || *t == '\t')
			t++;
		if (*t)
			return NUM_NONE;
		if ((n == 3 && strncasecmp(w, "inf", 3) == 0) ||
		    (n == 8 && strncasecmp(w, "infinity", 8) == 0))
			*out = neg ? -INFINITY : INFINITY;
		else if (n == 3 && strncasecmp(w, "nan", 3) == 0)
			*out = NAN;
		else
			return NUM_NONE;
		return NUM_FLOAT;
	}
	if (*p == 'e' || *p == 'E') {
		is_int = 0;
		p++;
		int eneg = 0;
		if (*p == '-' || *p == '+')
			eneg = *p++ == '-';
		if ((unsigned)(*p - '0') >= 10)
			return NUM_NONE;
		long x = 0;
		while ((unsigned)(*p - '0') < 10) {
			if (x < 100000)
				x = x * 10 + (*p - '0');
			p++;
		}
		e10 += eneg ? -x : x;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return NUM_NONE;
	if (is_int && !lost && e10 == 0 && m <= (uint64_t)INT64_MAX + (uint64_t)neg) {
		*out = neg ? -(double)m : (double)m;
		return NUM_INT;
	}
	if (!lost && m <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
		double d = (double)m;
		d = e10 < 0 ? d / pow10_tab[-e10] : d * pow10_tab[e10];
		*out = neg ? -d : d;
	} else {
		*out = strtod(s, NULL);
	}
	return NUM_FLOAT;
}

static int is_bool_text(const char *s, size_t len)
{
	if (len == 4)
		return (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' && (s[2] | 0x20) == 'u' &&
		       (s[3] | 0x20) == 'e';
	if (len == 5)
		return (s[0] | 0x20) == 'f' && (s[1] | 0x20) == 'a' && (s[2] | 0x20) == 'l' &&
		       (s[3] | 0x20) == 's' && (s[4] | 0x20) == 'e';
	return 0;
}

/* ---- quantiles: numpy.quantile(method='linear') on an unsorted array -------------- */

static void dswap(double *a, double *b)
{
	double t = *a;
	*a = *b;
	*b = t;
}

static int dcmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a > b) - (a < b);
}

/* Put the k-th smallest of a[lo, hi) at a[k], smaller ones before, larger
 * after (Wirth's selection with a median-of-three pivot; a range that takes
 * too many rounds is sorted instead, so the worst case is O(n log n)). */
static void select_k(double *a, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t k)
{
	ptrdiff_t l = lo, m = hi - 1;
	int rounds = 0;
	while (l < m) {
		if (++rounds > 64) {
			qsort(a + l, (size_t)(m - l + 1), sizeof(double), dcmp);
			return;
		}
		double x = a[k], y = a[l], z = a[m];
		/* median of three values of the range: the scans below stop on it */
		if ((y <= x && x <= z) || (z <= x && x <= y))
			;
		else if ((x <= y && y <= z) || (z <= y && y <= x))
			x = y;
		else
			x = z;
		ptrdiff_t i = l, j = m;
		do {
			while (a[i] < x)
				i++;
			while (x < a[j])
				j--;
			if (i <= j) {
				dswap(&a[i], &a[j]);
				i++;
				j--;
			}
		} while (i <= j);
		if (j < k)
			l = i;
		if (k < i)
			m = j;
	}
}

/* Select every index of ks (sorted, distinct, within [lo, hi)). */
static void multiselect(double *a, ptrdiff_t lo, ptrdiff_t hi, const ptrdiff_t *ks, size_t nk)
{
	if (nk == 0 || hi - lo <= 1)
		return;
	size_t mid = nk / 2;
	ptrdiff_t k = ks[mid];
	select_k(a, lo, hi, k);
	multiselect(a, lo, k, ks, mid);
	multiselect(a, k + 1, hi, ks + mid + 1, nk - mid - 1);
}

static const double quantile_qs[] = {0.01, 0.25, 0.5, 0.75, 0.99};
static const char *const quantile_names[] = {"p01", "p25", "p50", "p75", "p99"};
#define NQ (sizeof(quantile_qs) / sizeof(quantile_qs[0]))

/* Linear-interpolation quantiles of a[0, n) (reordered), as numpy computes them. */
static void quantiles(double *a, size_t n, double out[NQ])
{
	ptrdiff_t ks[2 * NQ];
	size_t nk = 0;
	for (size_t i = 0; i < NQ; i++) {
		double h = (double)(n - 1) * quantile_qs[i];
		ptrdiff_t lo = (ptrdiff_t)floor(h);
		for (ptrdiff_t k = lo; k <= lo + 1 && k < (ptrdiff_t)n; k++)
			if (nk == 0 || ks[nk - 1] < k)
				ks[nk++] = k;
	}
	multiselect(a, 0, (ptrdiff_t)n, ks, nk);
	for (size_t i = 0; i < NQ; i++) {
		double h = (double)(n - 1) * quantile_qs[i];
		double fl = floor(h);
		size_t lo = (size_t)fl;
		double t = h - fl;
		double x = a[lo], y = lo + 1 < n ? a[lo + 1] : a[lo];
		/* numpy's _lerp: a + (b-a)*t, or b - (b-a)*(1-t) when t >= 0.5 */
		double d = y - x;
		out[i] = t >= 0.5 ? y - d * (1 - t) : x + d * t;
		if (t == 0)
			out[i] = x;
	}
}

/* ---- the expectations --------------------------------------------------------------- */

struct col;

struct exp {
	enum ekind kind;
	const char *column; /* NULL for table expectations */
	struct col *col;    /* the data column, NULL when missing */
	const char *missing_msg;
	json_t *kwargs;
	double mostly;
	int has_min, has_max, strict_min, strict_max;
	double min, max;
	enum ctype type;
	struct vtab set;
	int set_has_num;
	regex_t re;
	int re_ok;
	int memo; /* bit index in ventry.memo_*, or -1 */
	/* results */
	uint64_t unexpected;
	size_t npartial;
	char *partial[PARTIAL_MAX]; /* NULL: a null value */
	uint64_t partial_row[PARTIAL_MAX];
	int success;
};

struct decl {
	const char *name;
	enum ctype type;
};

struct suite {
	const char *file; /* for messages */
	arena a;
	struct pool pool;
	struct exp **exps;
	size_t n, cap;
	struct decl *decls;
	size_t ndecl, decl_cap;
	const char **nulls; /* extra null tokens */
	size_t *null_lens;
	size_t nnulls;
	diag_list diags;
};

static struct exp *add_exp(struct suite *s, enum ekind kind, const char *column)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->exps = xrealloc(s->exps, s->cap * sizeof(*s->exps));
	}
	struct exp *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->column = column;
	e->mostly = 1.0;
	e->kwargs = json_object();
	if (column)
		json_object_set_new(e->kwargs, "column", json_string(column));
	s->exps[s->n++] = e;
	return e;
}

static void free_exp(struct exp *e)
{
	json_decref(e->kwargs);
	vtab_release(&e->set);
	if (e->re_ok)
		regfree(&e->re);
	for (size_t i = 0; i < e->npartial; i++)
		free(e->partial[i]);
	free(e);
}

static void suite_release(struct suite *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_exp(s->exps[i]);
	free(s->exps);
	free(s->decls);
	free(s->nulls);
	free(s->null_lens);
	diag_release(&s->diags);
	pool_release(&s->pool);
	arena_release(&s->a);
}

/* ---- reading the expectations file ------------------------------------------------------ */

#define DIAG(s, n, ...)                                                                            \
	diag_add(&(s)->diags, (s)->file, (n) ? (n)->line : 0, (n) ? (n)->col : 0, __VA_ARGS__)

static const char *const top_keys[] = {"columns", "row_count", "expect", "null_values", NULL};
static const char *const range_keys[] = {"min", "max", NULL};
static const char *const exp_keys[] = {"not_null", "unique",       "between",       "in_set",
				       "regex",    "mean_between", "null_rate_max", NULL};
static const char *const between_keys[] = {"min",        "max",    "strict_min",
					   "strict_max", "mostly", NULL};
static const char *const mean_keys[] = {"min", "max", "strict_min", "strict_max", NULL};
static const char *const mostly_keys[] = {"mostly", NULL};
static const char *const set_keys[] = {"values", "mostly", NULL};
static const char *const regex_keys[] = {"pattern", "mostly", NULL};

static size_t count_keys(const char *const *keys)
{
	size_t n = 0;
	while (keys[n])
		n++;
	return n;
}

static int in_keys(const char *k, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return 1;
	return 0;
}

/* Every key of map must be one of keys; "did you mean" for the others.  0 or -1. */
static int check_keys(struct suite *s, const ynode *map, const char *const *keys, const char *where)
{
	int bad = 0;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i];
		if (in_keys(k, keys))
			continue;
		bad = 1;
		const char *sugg = did_you_mean(k, keys, count_keys(keys));
		if (sugg) {
			diag_add(&s->diags, s->file, map->key_line[i], map->key_col[i],
				 "unknown key '%s' (did you mean '%s'?)", k, sugg);
		} else {
			strbuf sb = STRBUF_INIT;
			for (size_t j = 0; keys[j]; j++)
				strbuf_addf(&sb, "%s%s", j ? ", " : "", keys[j]);
			diag_add(&s->diags, s->file, map->key_line[i], map->key_col[i],
				 "unknown key '%s' in %s (expected one of: %s)", k, where,
				 strbuf_str(&sb));
			strbuf_release(&sb);
		}
	}
	return bad ? -1 : 0;
}

static int want_map(struct suite *s, const ynode *n, const char *what)
{
	if (n && n->kind == YNODE_MAP)
		return 0;
	DIAG(s, n, "%s must be a map, not %s", what, ynode_kind_name(n));
	return -1;
}

/* A number; the JSON form keeps integers integral (for kwargs). */
static int get_number(struct suite *s, const ynode *n, const char *what, double *out, json_t **js)
{
	if (ynode_number(n, out) < 0 || isnan(*out)) {
		DIAG(s, n, "%s must be a number, not %s", what, ynode_kind_name(n));
		return -1;
	}
	if (js) {
		const char *t = n->str + (n->str[0] == '-' || n->str[0] == '+');
		int integral = *t && strspn(t, "0123456789") == strlen(t);
		if (isinf(*out))
			*js = json_null();
		else if (integral && fabs(*out) < 9e15)
			*js = json_integer((json_int_t)*out);
		else
			*js = json_real(*out);
	}
	return 0;
}

static int get_bool(struct suite *s, const ynode *n, const char *what, int *out)
{
	if (ynode_bool(n, out) < 0) {
		DIAG(s, n, "%s must be true or false, not %s", what, ynode_kind_name(n));
		return -1;
	}
	return 0;
}

static int get_mostly(struct suite *s, const ynode *map, struct exp *e)
{
	const ynode *n = ynode_get(map, "mostly");
	if (!n)
		return 0;
	double m;
	json_t *js = NULL;
	if (get_number(s, n, "mostly", &m, &js) < 0)
		return -1;
	if (m < 0 || m > 1) {
		json_decref(js);
		DIAG(s, n, "mostly must be between 0 and 1, not %s", n->str);
		return -1;
	}
	e->mostly = m;
	json_object_set_new(e->kwargs, "mostly", js);
	return 0;
}

static int parse_type(struct suite *s, const ynode *n, const char *column, enum ctype *out)
{
	static const char *const names[] = {"int", "float", "string", "bool"};
	if (n && n->kind == YNODE_SCALAR && !ynode_is_null(n)) {
		for (size_t i = 0; i < 4; i++) {
			if (strcmp(n->str, names[i]) == 0) {
				*out = (enum ctype)(i + 1);
				return 0;
			}
		}
		/* names users bring from pandas, numpy and GE */
		static const char *const synonyms[][2] = {
			{"integer", "int"},  {"int64", "int"},    {"int32", "int"},
			{"double", "float"}, {"number", "float"}, {"float64", "float"},
			{"str", "string"},   {"text", "string"},  {"object", "string"},
			{"boolean", "bool"},
		};
		const char *sugg = did_you_mean(n->str, names, 4);
		for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
			if (strcasecmp(n->str, synonyms[i][0]) == 0)
				sugg = synonyms[i][1];
		if (sugg) {
			DIAG(s, n, "unknown type '%s' for column '%s' (did you mean '%s'?)", n->str,
			     column, sugg);
			return -1;
		}
	}
	DIAG(s, n, "the type of column '%s' must be int, float, string or bool, not %s", column,
	     n && n->kind == YNODE_SCALAR && !ynode_is_null(n) ? n->str : ynode_kind_name(n));
	return -1;
}

static void declare(struct suite *s, const ynode *at, const char *name, enum ctype type)
{
	for (size_t i = 0; i < s->ndecl; i++) {
		if (strcmp(s->decls[i].name, name) == 0) {
			DIAG(s, at, "column '%s' is listed twice", name);
			return;
		}
	}
	if (s->ndecl == s->decl_cap) {
		s->decl_cap = s->decl_cap ? s->decl_cap * 2 : 16;
		s->decls = xrealloc(s->decls, s->decl_cap * sizeof(*s->decls));
	}
	s->decls[s->ndecl++] = (struct decl){name, type};
	add_exp(s, E_EXIST, name);
	if (type != CT_ANY) {
		struct exp *e = add_exp(s, E_TYPE, name);
		e->type = type;
		json_object_set_new(e->kwargs, "type_", json_string(type_names[type]));
	}
}

/* columns: {name: type, ...} | [name, {name: type}, ...] */
static void parse_columns(struct suite *s, const ynode *n)
{
	if (n->kind == YNODE_MAP) {
		for (size_t i = 0; i < n->n; i++) {
			enum ctype t;
			if (parse_type(s, n->items[i], n->keys[i], &t) == 0)
				declare(s, n->items[i], n->keys[i], t);
		}
		return;
	}
	if (n->kind != YNODE_SEQ) {
		DIAG(s, n, "columns must be a map of name: type or a list of names, not %s",
		     ynode_kind_name(n));
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const ynode *it = n->items[i];
		if (it->kind == YNODE_SCALAR && !ynode_is_null(it)) {
			declare(s, it, it->str, CT_ANY);
		} else if (it->kind == YNODE_MAP && it->n == 1) {
			enum ctype t;
			if (parse_type(s, it->items[0], it->keys[0], &t) == 0)
				declare(s, it, it->keys[0], t);
		} else {
			DIAG(s, it, "a columns entry must be a name or name: type, not %s",
			     ynode_kind_name(it));
		}
	}
}

/* min/max/strict_min/strict_max of a range into e and its kwargs. */
static int parse_range(struct suite *s, const ynode *map, struct exp *e, const char *what)
{
	int bad = 0;
	json_t *jmin = NULL, *jmax = NULL;
	const ynode *n = ynode_get(map, "min");
	if (n) {
		if (get_number(s, n, "min", &e->min, &jmin) < 0)
			bad = 1;
		else
			e->has_min = !isinf(e->min) || e->min > 0;
	}
	n = ynode_get(map, "max");
	if (n) {
		if (get_number(s, n, "max", &e->max, &jmax) < 0)
			bad = 1;
		else
			e->has_max = !isinf(e->max) || e->max < 0;
	}
	json_object_set_new(e->kwargs, "min_value", jmin ? jmin : json_null());
	json_object_set_new(e->kwargs, "max_value", jmax ? jmax : json_null());
	if (bad)
		return -1;
	if (!ynode_get(map, "min") && !ynode_get(map, "max")) {
		DIAG(s, map, "%s needs min, max or both", what);
		return -1;
	}
	if (e->has_min && e->has_max && e->min > e->max) {
		DIAG(s, map, "%s: min (%g) is greater than max (%g)", what, e->min, e->max);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "strict_max" : "strict_min";
		n = ynode_get(map, key);
		if (!n)
			continue;
		int b;
		if (get_bool(s, n, key, &b) < 0)
			return -1;
		*(i ? &e->strict_max : &e->strict_min) = b;
		json_object_set_new(e->kwargs, key, json_boolean(b));
	}
	return 0;
}

/* not_null: true | {mostly: x};  unique likewise. */
static void parse_flag_exp(struct suite *s, const ynode *n, const char *column, enum ekind kind,
			   const char *what)
{
	if (n->kind == YNODE_MAP) {
		if (check_keys(s, n, mostly_keys, what) < 0)
			return;
		struct exp *e = add_exp(s, kind, column);
		get_mostly(s, n, e);
		return;
	}
	int b;
	if (get_bool(s, n, what, &b) < 0)
		return;
	if (b)
		add_exp(s, kind, column);
}

static void set_add(struct exp *e, struct suite *s, const ynode *v, json_t *list)
{
	struct vkey k = {.str = v->str, .len = v->len};
	k.hash = hash_bytes(v->str, v->len);
	vtab_add(&e->set, &k, &s->pool, 0);
	double d;
	int bv;
	if (ynode_number(v, &d) == 0 && !isnan(d)) {
		struct vkey kn = {.isnum = 1, .num = d == 0 ? 0 : d, .hash = hash_double(d)};
		vtab_add(&e->set, &kn, &s->pool, 0);
		e->set_has_num = 1;
		json_t *js = NULL;
		get_number(s, v, "value", &d, &js);
		json_array_append_new(list, js);
	} else if (ynode_bool(v, &bv) == 0) {
		json_array_append_new(list, json_boolean(bv));
	} else {
		json_array_append_new(list, json_stringn(v->str, v->len));
	}
}

static void parse_in_set(struct suite *s, const ynode *n, const char *column)
{
	const ynode *vals = n;
	if (n->kind == YNODE_MAP) {
		if (check_keys(s, n, set_keys, "in_set") < 0)
			return;
		vals = ynode_get(n, "values");
		if (!vals) {
			DIAG(s, n, "in_set needs values: [...]");
			return;
		}
	}
	if (vals->kind != YNODE_SEQ) {
		DIAG(s, vals, "in_set must be a list of values, not %s", ynode_kind_name(vals));
		return;
	}
	struct exp *e = add_exp(s, E_IN_SET, column);
	json_t *list = json_array();
	for (size_t i = 0; i < vals->n; i++) {
		const ynode *v = vals->items[i];
		if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
			DIAG(s, v,
			     "an in_set value must be a plain value, not %s (nulls are not "
			     "checked by in_set; use not_null)",
			     ynode_kind_name(v));
			continue;
		}
		set_add(e, s, v, list);
	}
	json_object_set_new(e->kwargs, "value_set", list);
	if (n->kind == YNODE_MAP)
		get_mostly(s, n, e);
}

static void parse_regex(struct suite *s, const ynode *n, const char *column)
{
	const ynode *pat = n;
	if (n->kind == YNODE_MAP) {
		if (check_keys(s, n, regex_keys, "regex") < 0)
			return;
		pat = ynode_get(n, "pattern");
		if (!pat) {
			DIAG(s, n, "regex needs pattern: ...");
			return;
		}
	}
	if (pat->kind != YNODE_SCALAR || ynode_is_null(pat)) {
		DIAG(s, pat, "regex must be a pattern (a string), not %s", ynode_kind_name(pat));
		return;
	}
	struct exp *e = add_exp(s, E_REGEX, column);
	json_object_set_new(e->kwargs, "regex", json_string(pat->str));
	int rc = regcomp(&e->re, pat->str, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[256];
		regerror(rc, &e->re, msg, sizeof(msg));
		DIAG(s, pat, "bad regular expression '%s': %s", pat->str, msg);
		return;
	}
	e->re_ok = 1;
	if (n->kind == YNODE_MAP)
		get_mostly(s, n, e);
}

static void parse_column_exps(struct suite *s, const char *column, const ynode *m)
{
	if (want_map(s, m, "the expectations of a column") < 0)
		return;
	check_keys(s, m, exp_keys, "a column's expectations");
	for (size_t i = 0; i < m->n; i++) {
		const char *k = m->keys[i];
		const ynode *n = m->items[i];
		if (strcmp(k, "not_null") == 0) {
			parse_flag_exp(s, n, column, E_NOT_NULL, "not_null");
		} else if (strcmp(k, "unique") == 0) {
			parse_flag_exp(s, n, column, E_UNIQUE, "unique");
		} else if (strcmp(k, "between") == 0) {
			if (want_map(s, n, "between") < 0 ||
			    check_keys(s, n, between_keys, "between") < 0)
				continue;
			struct exp *e = add_exp(s, E_BETWEEN, column);
			if (parse_range(s, n, e, "between") == 0)
				get_mostly(s, n, e);
		} else if (strcmp(k, "in_set") == 0) {
			parse_in_set(s, n, column);
		} else if (strcmp(k, "regex") == 0) {
			parse_regex(s, n, column);
		} else if (strcmp(k, "mean_between") == 0) {
			if (want_map(s, n, "mean_between") < 0)
				continue;
			const ynode *mo = ynode_get(n, "mostly");
			if (mo) {
				for (size_t j = 0; j < n->n; j++)
					if (n->items[j] == mo)
						diag_add(&s->diags, s->file, n->key_line[j],
							 n->key_col[j],
							 "'mostly' does not apply to mean_between: "
							 "it checks one number, not each value");
				continue;
			}
			if (check_keys(s, n, mean_keys, "mean_between") < 0)
				continue;
			struct exp *e = add_exp(s, E_MEAN, column);
			parse_range(s, n, e, "mean_between");
		} else if (strcmp(k, "null_rate_max") == 0) {
			double x;
			json_t *js = NULL;
			if (get_number(s, n, "null_rate_max", &x, &js) < 0)
				continue;
			if (x < 0 || x > 1) {
				json_decref(js);
				DIAG(s, n, "null_rate_max must be between 0 and 1, not %s", n->str);
				continue;
			}
			struct exp *e = add_exp(s, E_NULL_RATE, column);
			e->max = x;
			e->has_max = 1;
			json_object_set_new(e->kwargs, "max_value", js);
		}
	}
}

static void parse_suite(struct suite *s, const ynode *root)
{
	if (want_map(s, root, "an expectations file") < 0)
		return;
	check_keys(s, root, top_keys, "the expectations file");
	const ynode *n = ynode_get(root, "columns");
	if (n)
		parse_columns(s, n);
	n = ynode_get(root, "row_count");
	if (n && want_map(s, n, "row_count") == 0 &&
	    check_keys(s, n, range_keys, "row_count") == 0) {
		struct exp *e = add_exp(s, E_ROWS, NULL);
		parse_range(s, n, e, "row_count");
	}
	n = ynode_get(root, "null_values");
	if (n) {
		if (n->kind != YNODE_SEQ) {
			DIAG(s, n, "null_values must be a list of strings, not %s",
			     ynode_kind_name(n));
		} else {
			s->nulls = xcalloc(n->n + 1, sizeof(char *));
			s->null_lens = xcalloc(n->n + 1, sizeof(size_t));
			for (size_t i = 0; i < n->n; i++) {
				const ynode *v = n->items[i];
				if (v->kind != YNODE_SCALAR) {
					DIAG(s, v, "a null_values entry must be a string, not %s",
					     ynode_kind_name(v));
					continue;
				}
				s->null_lens[s->nnulls] = v->len;
				s->nulls[s->nnulls++] = v->str;
			}
		}
	}
	n = ynode_get(root, "expect");
	if (n && want_map(s, n, "expect") == 0)
		for (size_t i = 0; i < n->n; i++)
			parse_column_exps(s, n->keys[i], n->items[i]);
}

/* All diagnostics, sorted, one per line, as one usage error. */
static int diags_to_error(diag_list *d, sl_error **err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return sl_error_errno(err, errno, "open_memstream");
	diag_print(d, f);
	fclose(f);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	sl_error_usage(err, "%s", text);
	free(text);
	return -1;
}

static int load_suite(const char *path, const char *shown, struct suite *s, sl_error **err)
{
	s->file = shown;
	int fd = fs_open_regular(path, err);
	if (fd < 0)
		return sl_error_wrap(err, "expectations file");
	strbuf text = STRBUF_INIT;
	char block[65536];
	ssize_t n;
	while ((n = read(fd, block, sizeof(block))) > 0 && text.len <= EXPECTATIONS_MAX_BYTES)
		strbuf_add(&text, block, (size_t)n);
	int e = errno;
	close(fd);
	if (n < 0) {
		strbuf_release(&text);
		sl_error_errno(err, e, "expectations file %s", shown);
		if (err && *err)
			(*err)->kind = SL_ERR_USAGE;
		return -1;
	}
	if (text.len > EXPECTATIONS_MAX_BYTES) {
		strbuf_release(&text);
		return sl_error_usage(err, "%s: an expectations file may be at most %zu MiB", shown,
				      EXPECTATIONS_MAX_BYTES >> 20);
	}
	ynode *root = NULL;
	if (yamldoc_parse(&s->a, shown, strbuf_str(&text), text.len, YAMLDOC_MAX_EXPANDED, &root,
			  &s->diags) == 0) {
		if (!root)
			diag_add(&s->diags, shown, 1, 1,
				 "the expectations file is empty (expected a map with columns, "
				 "row_count and expect)");
		else
			parse_suite(s, root);
	}
	strbuf_release(&text);
	if (diag_count(&s->diags))
		return diags_to_error(&s->diags, err);
	return 0;
}

/* ---- one column's state while reading ---------------------------------------------- */

struct col {
	const char *name;
	enum ctype declared;
	/* distinct values (unique, distinct, top) are compared as numbers in a
	 * column declared int or float ("1" == "1.0"), as text elsewhere */
	int numeric_keys;
	int numeric_match; /* in_set compares numbers as numbers (not declared text) */
	/* values still go through parse_num: a column that is not declared text
	 * and has not shown a non-number yet, or one with numeric expectations */
	int need_parse;
	int numeric_exps;
	uint64_t nulls, nonnull;
	uint64_t n_num, n_int, n_bool; /* non-null values that parse as each */
	size_t minlen, maxlen;
	/* moments of the numeric values (NaN left out), shifted by the first */
	uint64_t n_stat;
	double shift, sum, sumsq, min, max;
	/* quantile sample (see the top of the file) */
	double *sample; /* see sample_grow() */
	size_t nsample, sample_cap;
	int sample_mapped;
	uint64_t stride, in_block, pick;
	int sample_off; /* dropped: the column is not numeric */
	uint64_t rng;
	/* distinct values */
	struct vtab tab;
	int uncapped, overflow;
	int counting;                       /* top counts still kept after overflow */
	uint64_t late_lookups, late_misses; /* after overflow */
	uint8_t *hll;
	/* the expectations on this column */
	struct exp **exps;
	size_t nexps;
	struct exp *unique;
	int has_null_exp;
	int nmemo; /* expectations with a memo bit */
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
	return mix64(x);
}

/*
 * Room for more sample values.  Small samples live in malloc'd memory that
 * doubles; past SAMPLE_MAP_AT values the sample moves to one mapping of
 * SAMPLE_CAP doubles, touched as it fills, with transparent huge pages when
 * the kernel offers them (madvise mode): on a virtual machine a 4 KiB page
 * fault can cost tens of microseconds, and 8 MB per column is 2048 of them.
 */
static void sample_grow(struct col *c)
{
	size_t cap = c->sample_cap ? c->sample_cap * 2 : 256;
	if (cap < SAMPLE_MAP_AT) {
		c->sample = xrealloc(c->sample, cap * sizeof(double));
		c->sample_cap = cap;
		return;
	}
	size_t bytes = SAMPLE_CAP * sizeof(double);
	double *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		p = xmalloc(bytes);
	} else {
		(void)madvise(p, bytes, MADV_HUGEPAGE);
		c->sample_mapped = 1;
	}
	memcpy(p, c->sample, c->nsample * sizeof(double));
	free(c->sample);
	c->sample = p;
	c->sample_cap = SAMPLE_CAP;
}

static void sample_free(struct col *c)
{
	if (c->sample_mapped)
		munmap(c->sample, SAMPLE_CAP * sizeof(double));
	else
		free(c->sample);
	c->sample = NULL;
	c->sample_mapped = 0;
	c->nsample = c->sample_cap = 0;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

static void sample_add(struct col *c, double d)
{
	if (c->sample_off)
		return;
	if (c->in_block == c->pick) {
		if (c->nsample == c->sample_cap)
			sample_grow(c);
		c->sample[c->nsample++] = d;
	}
	if (++c->in_block < c->stride)
		return;
	/* a stratum is complete */
	c->in_block = 0;
	if (c->nsample == SAMPLE_CAP) {
		for (size_t i = 0; i < SAMPLE_CAP / 2; i++)
			c->sample[i] = c->sample[2 * i + (rng_next(&c->rng) & 1)];
		c->nsample = SAMPLE_CAP / 2;
		c->stride *= 2;
	}
	c->pick = c->stride > 1 ? rng_below(&c->rng, c->stride) : 0;
}

static void record(struct exp *e, const char *s, uint64_t row)
{
	e->unexpected++;
	if (e->npartial < PARTIAL_MAX) {
		e->partial[e->npartial] = s ? xstrdup(s) : NULL;
		e->partial_row[e->npartial] = row;
		e->npartial++;
	}
}

static void overflow(struct col *c)
{
	c->overflow = 1;
	c->counting = 1;
	c->hll = xcalloc(1, (size_t)1 << HLL_P);
	for (size_t i = 0; i < c->tab.n; i++)
		hll_add(c->hll, c->tab.ents[i].hash);
}

/* Is the value in e's set?  key is the value's distinct-table key, whose
 * hash is reused when it is the string's. */
static int set_has(struct exp *e, const struct vkey *key, const char *s, size_t len, int kind,
		   double d, int numeric)
{
	if (numeric && kind && e->set_has_num && !isnan(d)) {
		struct vkey k = {.isnum = 1, .num = d == 0 ? 0 : d, .hash = hash_double(d)};
		if (vtab_get(&e->set, &k, NULL))
			return 1;
	}
	if (!key->isnum)
		return vtab_get(&e->set, key, NULL) != NULL;
	struct vkey k = {.str = s, .len = len, .hash = hash_bytes(s, len)};
	return vtab_get(&e->set, &k, NULL) != NULL;
}

struct run {
	struct suite *s;
	struct pool pool; /* distinct values */
	struct col *cols;
	size_t ncols;
	uint64_t rows;
};

static int is_null_token(const struct suite *s, const char *v, size_t len)
{
	for (size_t i = 0; i < s->nnulls; i++)
		if (s->null_lens[i] == len && memcmp(s->nulls[i], v, len) == 0)
			return 1;
	return 0;
}

/* The hot path: one value of one column. */
static void see_value(struct run *v, struct col *c, const char *s, size_t len, uint64_t row)
{
	if (!s || (v->s->nnulls && is_null_token(v->s, s, len))) {
		c->nulls++;
		if (c->has_null_exp)
			for (size_t i = 0; i < c->nexps; i++)
				if (c->exps[i]->kind == E_NOT_NULL)
					record(c->exps[i], NULL, row);
		return;
	}
	if (c->nonnull == 0 || len < c->minlen)
		c->minlen = len;
	if (len > c->maxlen)
		c->maxlen = len;
	c->nonnull++;
	double d = 0;
	int kind = c->need_parse ? parse_num(s, len, &d) : NUM_NONE;
	if (kind) {
		c->n_num++;
		c->n_int += kind == NUM_INT;
		if (!isnan(d)) {
			if (c->n_stat == 0) {
				c->shift = isfinite(d) ? d : 0;
				c->min = c->max = d;
			}
			c->n_stat++;
			double x = d - c->shift;
			c->sum += x;
			c->sumsq += x * x;
			if (d < c->min)
				c->min = d;
			if (d > c->max)
				c->max = d;
			sample_add(c, d);
		}
	} else if (c->need_parse && !c->numeric_keys) {
		/* not a numeric column after all: no quantiles to keep, and no
		 * numbers to parse unless an expectation wants them */
		c->sample_off = 1;
		sample_free(c);
		c->need_parse = c->numeric_exps;
	}
	if ((c->declared == CT_BOOL || c->n_bool + 1 == c->nonnull) && is_bool_text(s, len))
		c->n_bool++;

	struct vkey k;
	if (c->numeric_keys && kind) {
		k = (struct vkey){.isnum = 1, .num = d == 0 ? 0 : d, .hash = hash_double(d)};
	} else {
		k = (struct vkey){.str = s, .len = len, .hash = hash_bytes(s, len)};
	}
	struct ventry *ent = NULL;
	if (!c->overflow) {
		ent = vtab_add(&c->tab, &k, &v->pool, row);
		if (c->unique && ent->count >= 2) {
			if (ent->count == 2)
				record(c->unique, s, ent->first_row);
			record(c->unique, s, row);
		}
		if (!c->uncapped && c->tab.n > DISTINCT_CAP) {
			overflow(c);
			ent = NULL; /* the table may have moved */
		}
	} else {
		hll_add(c->hll, k.hash);
		if (!k.isnum && c->counting) {
			ent = vtab_get(&c->tab, &k, NULL);
			if (ent)
				ent->count++;
			else
				c->late_misses++;
			/* mostly new values: high cardinality, stop counting */
			if (++c->late_lookups == 65536)
				c->counting = c->late_misses * 2 < c->late_lookups;
		}
	}
	if (k.isnum)
		ent = NULL; /* memos are for text: "1" and "1.0" share a numeric entry */

	for (size_t i = 0; i < c->nexps; i++) {
		struct exp *e = c->exps[i];
		if (ent && e->memo >= 0) {
			uint8_t bit = (uint8_t)(1u << e->memo);
			if (!(ent->memo_known & bit)) {
				int ok = e->kind == E_REGEX ? regexec(&e->re, s, 0, NULL, 0) == 0
							    : set_has(e, &k, s, len, kind, d,
								      c->numeric_match);
				ent->memo_known |= bit;
				ent->memo_ok |= ok ? bit : 0;
			}
			if (!(ent->memo_ok & bit))
				record(e, s, row);
			continue;
		}
		switch (e->kind) {
		case E_TYPE:
			if ((e->type == CT_INT && kind != NUM_INT) ||
			    (e->type == CT_FLOAT && kind == NUM_NONE) ||
			    (e->type == CT_BOOL && !is_bool_text(s, len)))
				record(e, s, row);
			break;
		case E_BETWEEN:
			if (!kind || isnan(d) ||
			    (e->has_min && (e->strict_min ? d <= e->min : d < e->min)) ||
			    (e->has_max && (e->strict_max ? d >= e->max : d > e->max)))
				record(e, s, row);
			break;
		case E_IN_SET:
			if (!set_has(e, &k, s, len, kind, d, c->numeric_match))
				record(e, s, row);
			break;
		case E_REGEX:
			if (regexec(&e->re, s, 0, NULL, 0) != 0)
				record(e, s, row);
			break;
		default:
			break;
		}
	}
}

/* ---- results ------------------------------------------------------------------------- */

/* The type a column's values fit: declared, else the narrowest that all fit. */
static enum ctype col_type(const struct col *c)
{
	if (c->declared != CT_ANY)
		return c->declared;
	if (c->nonnull == 0)
		return CT_ANY;
	if (c->n_int == c->nonnull)
		return CT_INT;
	if (c->n_num == c->nonnull)
		return CT_FLOAT;
	if (c->n_bool == c->nonnull)
		return CT_BOOL;
	return CT_STRING;
}

static int is_numeric(const struct col *c)
{
	enum ctype t = col_type(c);
	return t == CT_INT || t == CT_FLOAT;
}

static double col_mean(const struct col *c)
{
	return c->n_stat ? c->shift + c->sum / (double)c->n_stat : NAN;
}

/* Sample standard deviation (ddof = 1), as pandas' describe(). */
static double col_std(const struct col *c)
{
	if (c->n_stat < 2)
		return NAN;
	double n = (double)c->n_stat;
	double var = (c->sumsq - c->sum * c->sum / n) / (n - 1);
	return sqrt(var < 0 ? 0 : var);
}

static json_t *jnum(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

/* A value as the report shows it: a number in a numeric column, else text. */
static json_t *jvalue(const struct col *c, const char *s)
{
	if (!s)
		return json_null();
	double d;
	int kind = parse_num(s, strlen(s), &d);
	if (c && is_numeric(c) && kind && isfinite(d)) {
		if (kind == NUM_INT && fabs(d) < 9e15)
			return json_integer((json_int_t)d);
		return json_real(d);
	}
	return json_string(s);
}

static int mostly_ok(uint64_t looked_at, uint64_t unexpected, double mostly)
{
	if (looked_at == 0)
		return 1; /* vacuously true, as GE */
	double ratio = ((double)looked_at - (double)unexpected) / (double)looked_at;
	return ratio >= mostly;
}

static int in_range(const struct exp *e, double x)
{
	if (isnan(x))
		return 0;
	if (e->has_min && (e->strict_min ? x <= e->min : x < e->min))
		return 0;
	if (e->has_max && (e->strict_max ? x >= e->max : x > e->max))
		return 0;
	return 1;
}

/* Decide e and describe it in GE's result shape. */
static json_t *result_of(struct exp *e, uint64_t rows)
{
	json_t *r = json_object();
	json_object_set_new(r, "expectation_type", json_string(ge_names[e->kind]));
	json_object_set_new(r, "column", e->column ? json_string(e->column) : json_null());
	json_object_set_new(r, "kwargs", json_incref(e->kwargs));
	const struct col *c = e->col;
	json_t *observed = json_null();
	int map = is_map_kind(e->kind);
	uint64_t looked_at = 0;
	if (e->column && !c) {
		e->success = 0;
		if (e->kind == E_EXIST)
			observed = json_false();
	} else {
		switch (e->kind) {
		case E_EXIST:
			e->success = 1;
			observed = json_true();
			break;
		case E_ROWS:
			e->success = in_range(e, (double)rows);
			observed = json_integer((json_int_t)rows);
			break;
		case E_MEAN: {
			double m = col_mean(c);
			e->success = in_range(e, m);
			observed = jnum(m);
			break;
		}
		case E_NULL_RATE:
			if (rows) {
				double rate = (double)c->nulls / (double)rows;
				e->success = rate <= e->max;
				observed = json_real(rate);
			} else {
				e->success = 1;
			}
			break;
		default:
			looked_at = e->kind == E_NOT_NULL ? rows : c->nonnull;
			e->success = rows == 0 || mostly_ok(looked_at, e->unexpected, e->mostly);
			if (e->kind == E_TYPE) {
				enum ctype t = CT_ANY;
				if (c->nonnull) {
					struct col tmp = *c;
					tmp.declared = CT_ANY;
					t = col_type(&tmp);
				}
				observed = t == CT_ANY ? json_null() : json_string(type_names[t]);
			} else if (looked_at) {
				observed = json_real(((double)looked_at - (double)e->unexpected) /
						     (double)looked_at);
			}
			break;
		}
	}
	json_object_set_new(r, "success", json_boolean(e->success));
	json_object_set_new(r, "observed_value", observed);
	if (map && c) {
		json_object_set_new(r, "element_count", json_integer((json_int_t)rows));
		json_object_set_new(
			r, "missing_count",
			json_integer((json_int_t)(e->kind == E_NOT_NULL ? 0 : c->nulls)));
		json_object_set_new(r, "unexpected_count", json_integer((json_int_t)e->unexpected));
		json_object_set_new(
			r, "unexpected_percent",
			looked_at ? json_real(100.0 * (double)e->unexpected / (double)looked_at)
				  : json_null());
		json_object_set_new(r, "unexpected_percent_total",
				    rows ? json_real(100.0 * (double)e->unexpected / (double)rows)
					 : json_null());
		json_t *list = json_array(), *idx = json_array();
		for (size_t i = 0; i < e->npartial; i++) {
			json_array_append_new(list, jvalue(c, e->partial[i]));
			json_array_append_new(idx, json_integer((json_int_t)e->partial_row[i]));
		}
		json_object_set_new(r, "partial_unexpected_list", list);
		json_object_set_new(r, "partial_unexpected_index_list", idx);
	} else {
		json_object_set_new(r, "unexpected_count", json_null());
		json_object_set_new(r, "unexpected_percent", json_null());
		json_object_set_new(r, "partial_unexpected_list", json_null());
	}
	if (e->column && !c) {
		json_t *x = json_object();
		json_object_set_new(x, "raised_exception", json_true());
		json_object_set_new(x, "exception_message", json_string(e->missing_msg));
		json_object_set_new(r, "exception_info", x);
	}
	return r;
}

static int entry_cmp(const void *pa, const void *pb)
{
	const struct ventry *a = *(const struct ventry *const *)pa;
	const struct ventry *b = *(const struct ventry *const *)pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->isnum != b->isnum)
		return a->isnum ? -1 : 1;
	if (a->isnum)
		return (a->v.num > b->v.num) - (a->v.num < b->v.num);
	return strcmp(a->v.str, b->v.str);
}

static json_t *top_values(const struct col *c)
{
	const struct ventry **all = xcalloc(c->tab.n + 1, sizeof(*all));
	size_t n = 0;
	for (size_t i = 0; i < c->tab.n; i++)
		all[n++] = &c->tab.ents[i];
	qsort(all, n, sizeof(*all), entry_cmp);
	json_t *top = json_array();
	for (size_t i = 0; i < n && i < TOP_MAX; i++) {
		json_t *item = json_object();
		const struct ventry *e = all[i];
		if (e->isnum) {
			double d = e->v.num;
			if (d == floor(d) && fabs(d) < 9e15)
				json_object_set_new(item, "value", json_integer((json_int_t)d));
			else
				json_object_set_new(item, "value", jnum(d));
		} else {
			json_object_set_new(item, "value", jvalue(c, e->v.str));
		}
		json_object_set_new(item, "count", json_integer((json_int_t)e->count));
		json_array_append_new(top, item);
	}
	free(all);
	return top;
}

static json_t *profile_of(struct run *v, const char *data_shown, const char *fmt)
{
	json_t *p = json_object();
	json_object_set_new(p, "data", json_string(data_shown));
	json_object_set_new(p, "format", json_string(fmt));
	json_object_set_new(p, "rows", json_integer((json_int_t)v->rows));
	json_t *cols = json_object();
	for (size_t i = 0; i < v->ncols; i++) {
		struct col *c = &v->cols[i];
		json_t *o = json_object();
		enum ctype t = col_type(c);
		json_object_set_new(o, "type",
				    t == CT_ANY ? json_null() : json_string(type_names[t]));
		json_object_set_new(o, "count", json_integer((json_int_t)c->nonnull));
		json_object_set_new(o, "nulls", json_integer((json_int_t)c->nulls));
		json_object_set_new(o, "null_rate",
				    v->rows ? json_real((double)c->nulls / (double)v->rows)
					    : json_null());
		int exact = !c->overflow;
		uint64_t distinct = exact ? c->tab.n : (uint64_t)llround(hll_estimate(c->hll));
		json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
		json_object_set_new(o, "distinct_exact", json_boolean(exact));
		if (is_numeric(c)) {
			json_object_set_new(o, "min", c->n_stat ? jnum(c->min) : json_null());
			json_object_set_new(o, "max", c->n_stat ? jnum(c->max) : json_null());
			json_object_set_new(o, "mean", jnum(col_mean(c)));
			json_object_set_new(o, "std", jnum(col_std(c)));
			double q[NQ];
			if (c->nsample) {
				quantiles(c->sample, c->nsample, q);
			}
			for (size_t k = 0; k < NQ; k++)
				json_object_set_new(o, quantile_names[k],
						    c->nsample ? jnum(q[k]) : json_null());
			json_object_set_new(o, "quantiles_exact", json_boolean(c->stride == 1));
			if (exact && distinct <= TOP_MAX)
				json_object_set_new(o, "top", top_values(c));
		} else {
			json_object_set_new(o, "min_length",
					    c->nonnull ? json_integer((json_int_t)c->minlen)
						       : json_null());
			json_object_set_new(o, "max_length",
					    c->nonnull ? json_integer((json_int_t)c->maxlen)
						       : json_null());
			json_object_set_new(o, "top", top_values(c));
			json_object_set_new(o, "top_exact", json_boolean(exact));
		}
		json_object_set_new(cols, c->name, o);
	}
	json_object_set_new(p, "columns", cols);
	return p;
}

/* ---- files ------------------------------------------------------------------------------ */

static char *resolve(const builtin_args *a, const char *path)
{
	if (path[0] == '/' || !a->cwd || !a->cwd[0])
		return xstrdup(path);
	char here[4096];
	if (getcwd(here, sizeof(here)) && strcmp(here, a->cwd) == 0)
		return xstrdup(path); /* keep the name as given, for messages */
	char *s = NULL;
	if (asprintf(&s, "%s/%s", a->cwd, path) < 0)
		return xstrdup(path);
	return s;
}

/* Write j to path through a temporary file and a rename: never half a report. */
static int write_json(json_t *j, const char *path, sl_error **err)
{
	/* a directory that cannot be made shows up as the fopen error below */
	(void)fs_mkdir_parents(path, 0777);
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return sl_error_make(err, "out of memory");
	FILE *f = fopen(tmp, "we");
	if (!f) {
		sl_error_errno(err, errno, "write %s", path);
		free(tmp);
		return -1;
	}
	int bad = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) < 0;
	bad |= fputc('\n', f) == EOF;
	bad |= fflush(f) != 0;
	int e = errno;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) < 0) {
		e = bad ? e : errno;
		unlink(tmp);
		free(tmp);
		return sl_error_errno(err, e ? e : EIO, "write %s", path);
	}
	free(tmp);
	return 0;
}

static char *default_profile(const char *report)
{
	size_t n = strlen(report);
	char *s = NULL;
	if (n > 5 && strcmp(report + n - 5, ".json") == 0) {
		if (asprintf(&s, "%.*s.profile.json", (int)(n - 5), report) < 0)
			s = NULL;
	} else if (asprintf(&s, "%s.profile.json", report) < 0) {
		s = NULL;
	}
	return s ? s : xstrdup("profile.json");
}

/* ---- the step --------------------------------------------------------------------------- */

/* Tie expectations to the data's columns; columns get their declared types. */
static void bind(struct run *v, dataset_reader *r)
{
	struct suite *s = v->s;
	v->ncols = dataset_ncols(r);
	v->cols = xcalloc(v->ncols + 1, sizeof(*v->cols));
	for (size_t i = 0; i < v->ncols; i++) {
		struct col *c = &v->cols[i];
		c->name = dataset_colname(r, i);
		c->rng = 0x2545F4914F6CDD1Dull ^ i;
		c->stride = 1;
	}
	for (size_t i = 0; i < s->ndecl; i++) {
		long k = dataset_colindex(r, s->decls[i].name);
		if (k >= 0)
			v->cols[k].declared = s->decls[i].type;
	}
	const char **names = xcalloc(v->ncols + 1, sizeof(char *));
	for (size_t i = 0; i < v->ncols; i++)
		names[i] = v->cols[i].name;
	for (size_t i = 0; i < s->n; i++) {
		struct exp *e = s->exps[i];
		if (!e->column)
			continue;
		long k = dataset_colindex(r, e->column);
		if (k < 0) {
			const char *sugg = did_you_mean(e->column, names, v->ncols);
			e->missing_msg =
				sugg ? arena_printf(&s->a,
						    "column '%s' is not in the data (did you "
						    "mean '%s'?)",
						    e->column, sugg)
				     : arena_printf(&s->a, "column '%s' is not in the data",
						    e->column);
			continue;
		}
		struct col *c = &v->cols[k];
		e->col = c;
		if (e->kind == E_UNIQUE) {
			c->unique = c->unique ? c->unique : e;
			c->uncapped = 1;
		}
		if (e->kind == E_NOT_NULL)
			c->has_null_exp = 1;
		if (e->kind == E_BETWEEN || e->kind == E_MEAN ||
		    (e->kind == E_IN_SET && e->set_has_num))
			c->numeric_exps = 1;
		e->memo = -1;
		if ((e->kind == E_IN_SET || e->kind == E_REGEX) && c->nmemo < 8)
			e->memo = c->nmemo++;
		if (e->kind == E_TYPE || e->kind == E_BETWEEN || e->kind == E_IN_SET ||
		    e->kind == E_REGEX || e->kind == E_NOT_NULL) {
			c->exps = xrealloc(c->exps, (c->nexps + 1) * sizeof(*c->exps));
			c->exps[c->nexps++] = e;
		}
	}
	for (size_t i = 0; i < v->ncols; i++) {
		struct col *c = &v->cols[i];
		c->numeric_keys = c->declared == CT_INT || c->declared == CT_FLOAT;
		c->numeric_match = c->declared != CT_STRING && c->declared != CT_BOOL;
		c->sample_off = !c->numeric_match; /* no quantiles for a text column */
		c->need_parse = 1;                 /* until the first non-number, see see_value() */
	}
	free(names);
}

static void finish_uniques(struct run *v)
{
	struct suite *s = v->s;
	for (size_t i = 0; i < s->n; i++) {
		struct exp *e = s->exps[i];
		if (e->kind != E_UNIQUE || !e->col || e->col->unique == e)
			continue;
		struct exp *first = e->col->unique;
		e->unexpected = first->unexpected;
		for (size_t k = 0; k < first->npartial; k++) {
			e->partial[k] = first->partial[k] ? xstrdup(first->partial[k]) : NULL;
			e->partial_row[k] = first->partial_row[k];
		}
		e->npartial = first->npartial;
	}
}

static void run_release(struct run *v)
{
	for (size_t i = 0; i < v->ncols; i++) {
		struct col *c = &v->cols[i];
		sample_free(c);
		vtab_release(&c->tab);
		free(c->hll);
		free(c->exps);
	}
	free(v->cols);
	pool_release(&v->pool);
}

static void append_outputs(const builtin_args *args, int ok, size_t failed)
{
	if (!args->output_file)
		return;
	FILE *f = fopen(args->output_file, "ae");
	if (!f) {
		if (args->log)
			fprintf(args->log, "validate-data: cannot write outputs to %s: %s\n",
				args->output_file, strerror(errno));
		return;
	}
	fprintf(f, "success=%s\nfailed=%zu\n", ok ? "true" : "false", failed);
	fclose(f);
}

static void log_summary(const builtin_args *args, struct run *v, const char *data_shown,
			const char *fmt, uint64_t bytes, double secs, size_t nfailed,
			const char *report, const char *profile)
{
	FILE *log = args->log;
	if (!log)
		return;
	double mb = (double)bytes / 1e6;
	fprintf(log,
		"validate-data: %s (%s): %llu rows, %zu columns, %.1f MB in %.2f s (%.0f MB/s)\n",
		data_shown, fmt, (unsigned long long)v->rows, v->ncols, mb, secs,
		secs > 0 ? mb / secs : 0.0);
	struct suite *s = v->s;
	for (size_t i = 0; i < s->n; i++) {
		struct exp *e = s->exps[i];
		if (e->success)
			continue;
		fprintf(log, "  FAILED %s", ge_names[e->kind]);
		if (e->column)
			fprintf(log, "(%s)", e->column);
		if (e->column && !e->col)
			fprintf(log, ": %s", e->missing_msg);
		else if (is_map_kind(e->kind))
			fprintf(log, ": %llu unexpected", (unsigned long long)e->unexpected);
		for (size_t k = 0; k < e->npartial && k < 3; k++)
			fprintf(log, "%s%s%s%s", k ? ", " : ", e.g. ", e->partial[k] ? "'" : "",
				e->partial[k] ? e->partial[k] : "null", e->partial[k] ? "'" : "");
		fputc('\n', log);
	}
	fprintf(log, "validate-data: %zu of %zu expectations met; report %s, profile %s\n",
		s->n - nfailed, s->n, report, profile);
}

int builtin_validate_data_run(const builtin_args *args, sl_error **err)
{
	const char *data_arg = builtin_arg(args, "data");
	const char *exp_arg = builtin_arg(args, "expectations");
	const char *report_arg = builtin_arg(args, "report");
	const char *profile_arg = builtin_arg(args, "profile");
	const char *fmt_arg = builtin_arg(args, "format");
	if (!data_arg || !*data_arg || !exp_arg || !*exp_arg)
		return sl_error_usage(err, "validate-data needs data=FILE and expectations=FILE");
	if (!report_arg || !*report_arg)
		report_arg = "validate-data.json";
	enum dataset_format fmt = DATASET_AUTO;
	if (fmt_arg && dataset_format_parse(fmt_arg, &fmt) < 0)
		return sl_error_usage(err, "format must be csv, jsonl or auto, not '%s'", fmt_arg);

	int rc = -1;
	struct suite s = {0};
	struct run v = {0};
	dataset_reader *r = NULL;
	json_t *report = NULL, *profile = NULL;
	char *exp_path = resolve(args, exp_arg);
	char *data_path = resolve(args, data_arg);
	char *report_path = resolve(args, report_arg);
	char *profile_given =
		profile_arg && *profile_arg ? xstrdup(profile_arg) : default_profile(report_arg);
	char *profile_path = resolve(args, profile_given);

	if (load_suite(exp_path, exp_arg, &s, err) < 0)
		goto out;
	int64_t t0 = clock_mono_ms();
	if (dataset_open(data_path, fmt, &r, err) < 0)
		goto out;
	const char *fmt_name = dataset_format_of(r) == DATASET_JSONL ? "jsonl" : "csv";
	v.s = &s;
	bind(&v, r);
	/* Column by column over batches of rows: one column's tables, sketch and
	 * sample stay in cache while it is worked on. */
	const char *const *fields;
	const size_t *lens;
	long got;
	while ((got = dataset_next_batch(r, BATCH_ROWS, &fields, &lens, err)) > 0) {
		size_t n = (size_t)got, nc = v.ncols;
		for (size_t i = 0; i < nc; i++)
			for (size_t k = 0; k < n; k++)
				see_value(&v, &v.cols[i], fields[k * nc + i], lens[k * nc + i],
					  v.rows + k);
		v.rows += n;
	}
	if (got < 0)
		goto out;
	uint64_t bytes = dataset_offset(r);
	double secs = (double)(clock_mono_ms() - t0) / 1e3;
	finish_uniques(&v);

	/* the report */
	report = json_object();
	json_t *results = json_array();
	size_t nfailed = 0;
	strbuf why = STRBUF_INIT;
	for (size_t i = 0; i < s.n; i++) {
		json_array_append_new(results, result_of(s.exps[i], v.rows));
		if (!s.exps[i]->success) {
			if (nfailed < 10) {
				strbuf_addf(&why, "%s%s", nfailed ? ", " : "",
					    ge_names[s.exps[i]->kind]);
				if (s.exps[i]->column)
					strbuf_addf(&why, "(%s)", s.exps[i]->column);
			}
			nfailed++;
		}
	}
	if (nfailed > 10)
		strbuf_addf(&why, " and %zu more", nfailed - 10);
	json_object_set_new(report, "success", json_boolean(nfailed == 0));
	json_t *stats = json_object();
	json_object_set_new(stats, "evaluated_expectations", json_integer((json_int_t)s.n));
	json_object_set_new(stats, "successful_expectations",
			    json_integer((json_int_t)(s.n - nfailed)));
	json_object_set_new(stats, "unsuccessful_expectations", json_integer((json_int_t)nfailed));
	json_object_set_new(stats, "success_percent",
			    s.n ? json_real(100.0 * (double)(s.n - nfailed) / (double)s.n)
				: json_null());
	json_object_set_new(report, "statistics", stats);
	json_object_set_new(report, "results", results);
	json_t *meta = json_object();
	json_object_set_new(meta, "data", json_string(data_arg));
	json_object_set_new(meta, "expectations", json_string(exp_arg));
	json_object_set_new(meta, "format", json_string(fmt_name));
	json_object_set_new(meta, "rows", json_integer((json_int_t)v.rows));
	json_object_set_new(meta, "columns", json_integer((json_int_t)v.ncols));
	json_object_set_new(report, "meta", meta);
	profile = profile_of(&v, data_arg, fmt_name);

	if (write_json(report, report_path, err) < 0 ||
	    write_json(profile, profile_path, err) < 0) {
		strbuf_release(&why);
		goto out;
	}
	log_summary(args, &v, data_arg, fmt_name, bytes, secs, nfailed, report_arg, profile_given);
	append_outputs(args, nfailed == 0, nfailed);
	if (nfailed) {
		sl_error_make(err, "%zu of %zu expectations failed: %s", nfailed, s.n,
			      strbuf_str(&why));
		strbuf_release(&why);
		goto out;
	}
	strbuf_release(&why);
	rc = 0;
out:
	json_decref(report);
	json_decref(profile);
	dataset_close(r);
	run_release(&v);
	suite_release(&s);
	free(exp_path);
	free(data_path);
	free(report_path);
	free(profile_given);
	free(profile_path);
	return rc;
}
