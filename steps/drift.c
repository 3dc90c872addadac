/*
 * drift.c — the `drift` built-in (docs/steps/drift.md): compare a
 * current dataset with a reference, column by column, and decide whether
 * the dataset drifted, as Evidently's defaults do, with scipy's numbers.
 *
 *   read  both files at once (the current one in a second thread), streaming
 *         with dataset.h; per selected column keep the finite numbers as
 *         doubles and, while they may be needed, the category counts
 *   type  a column is numeric when every non-missing value on both sides is
 *         a number and the two sides together have more than 5 distinct
 *         values (Evidently's rule); `categorical` / `numeric` override
 *   test  numeric: PSI, KS (stats_ks_2samp), Wasserstein / max(std_ref, 0.001);
 *         categorical: PSI, chi-square p-value, Jensen-Shannon distance.
 *         Method by reference size: <= small_sample rows (1000) ks / chisquare
 *         (drift when p < threshold), above wasserstein / jensenshannon
 *         (drift when distance > threshold)
 *   share dataset drift when drifted columns / columns >= threshold_share
 *   write the JSON report (jansson), `drifted=` and `drift_share=` step
 *         outputs, a Markdown table in the log; fail only with fail_on_drift
 *
 * Invariants:
 * - Missing values (no field, an empty field, JSON null, or one of pandas'
 *   default NA strings such as "NA", "NaN", "null") are dropped per column.
 * - A column's values never exist as strings past their row: numbers are
 *   doubles; category strings are kept once each in a per-side map.  A side
 *   stops counting strings once a column has more than CAT_CAP distinct
 *   values that are all numbers (categories of all-number columns are keyed
 *   by value, from the sorted doubles); should such a column later turn out
 *   to hold text, that side is read a second time to count its strings.
 * - Categories of a text column are the exact strings ("1" and "1.0"
 *   differ); of an all-number column, the numeric values.
 * - Errors in the inputs (unreadable, malformed, a missing column, text in a
 *   column declared numeric) are usage errors naming the file and line.
 */
#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/dataset.h"
#include "sluice/fsutil.h"
#include "sluice/stats.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAT_CAP              1024  /* distinct strings kept for an all-number column */
#define PSI_EPS              1e-4  /* proportion used for an empty bin or category */
#define WASSERSTEIN_STD_MIN  0.001 /* Evidently's floor for the reference std */
#define NUMERIC_MIN_DISTINCT 6     /* "more than 5 distinct values" */

enum { REF = 0, CUR = 1 };
enum col_kind { KIND_AUTO, KIND_NUMERIC, KIND_CATEGORICAL };

/* One category and its count on one side. */
struct cat {
	const char *key;
	uint64_t n;
};

/* One selected column as seen in one file. */
struct colside {
	long index; /* column index in this file */
	double *v;  /* finite numbers, in file order, then sorted */
	size_t n, cap;
	uint64_t present;   /* non-missing values */
	int all_numeric;    /* every non-missing value so far parsed as a number */
	uint64_t text_line; /* first value that is not a number: line and text */
	char *text;
	int counting;      /* category strings are being counted */
	int dropped;       /* counting stopped at CAT_CAP: strings must be recounted */
	strmap cats;       /* key -> struct cat * */
	struct cat **list; /* in order of first appearance */
	size_t ncats, capcats;
};

/* One input file and what was read from it. */
struct side {
	const char *label; /* "reference" / "current" */
	const char *path;  /* as given */
	char *full;        /* resolved against the working directory */
	enum dataset_format fmt;
	dataset_reader *rd;
	uint64_t rows;
	struct colside *cols; /* ncols, parallel to drift.cols */
	size_t ncols;
	int recount; /* read again, counting strings of the columns in need */
	arena keys;  /* category strings */
	sl_error *err;
};

struct options {
	const char *report;
	double threshold_share, ks_threshold, chi2_threshold, wasserstein_threshold;
	double js_threshold, psi_threshold;
	int fail_on_drift;
	uint64_t small_sample; /* reference rows at or below which ks/chisquare are used */
	int small_forced;      /* -1: by rows; 0: never (small_sample=false); 1: always */
	enum dataset_format fmt;
};

/* The result for one column. */
struct colres {
	const char *name;
	enum col_kind kind;
	const char *method;
	int drifted;
	double psi, ks_stat, ks_p, wass_norm; /* numeric */
	double chi2, chi2_p, js;              /* categorical */
	const char *note;                     /* why statistics are missing, or NULL */
};

/* ---- options ------------------------------------------------------------- */

static int parse_double_opt(const builtin_args *a, const char *key, double def, double lo,
			    double hi, double *out, sl_error **err)
{
	const char *s = builtin_arg(a, key);
	*out = def;
	if (!s)
		return 0;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
		return sl_error_usage(err, "%s: expected a number between %g and %g, got '%s'", key,
				      lo, hi, s);
	*out = v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", "1"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int parse_options(const builtin_args *a, struct options *o, sl_error **err)
{
	o->report = builtin_arg(a, "report");
	if (!o->report)
		o->report = "drift.json";
	if (!*o->report)
		return sl_error_usage(err, "report: expected a file name");
	if (parse_double_opt(a, "threshold_share", 0.5, 0, 1, &o->threshold_share, err) < 0 ||
	    parse_double_opt(a, "ks_threshold", 0.05, 0, 1, &o->ks_threshold, err) < 0 ||
	    parse_double_opt(a, "chi2_threshold", 0.05, 0, 1, &o->chi2_threshold, err) < 0 ||
	    parse_double_opt(a, "wasserstein_threshold", 0.1, 0, HUGE_VAL,
			     &o->wasserstein_threshold, err) < 0 ||
	    parse_double_opt(a, "js_threshold", 0.1, 0, 1, &o->js_threshold, err) < 0 ||
	    parse_double_opt(a, "psi_threshold", 0.2, 0, HUGE_VAL, &o->psi_threshold, err) < 0)
		return -1;
	const char *s = builtin_arg(a, "fail_on_drift");
	o->fail_on_drift = 0;
	if (s && parse_bool(s, &o->fail_on_drift) < 0)
		return sl_error_usage(err, "fail_on_drift: expected true or false, got '%s'", s);
	o->small_sample = 1000;
	o->small_forced = -1;
	s = builtin_arg(a, "small_sample");
	if (s) {
		int b;
		char *end;
		if (parse_bool(s, &b) == 0 && strcmp(s, "0") != 0 && strcmp(s, "1") != 0) {
			o->small_forced = b; /* always / never the small-sample tests */
		} else {
			errno = 0;
			unsigned long long v = strtoull(s, &end, 10);
			if (end == s || *end || errno || s[0] == '-')
				return sl_error_usage(err,
						      "small_sample: expected a row count or "
						      "true/false, got '%s'",
						      s);
			o->small_sample = v;
		}
	}
	o->fmt = DATASET_AUTO;
	s = builtin_arg(a, "format");
	if (s && dataset_format_parse(s, &o->fmt) < 0)
		return sl_error_usage(err, "format: expected csv, jsonl or auto, got '%s'", s);
	return 0;
}

/* A list option: JSON text ["a", "b"] (a YAML list) or "a, b".  Names live in *ar. */
static int parse_name_list(const builtin_args *a, const char *key, arena *ar, const char ***out,
			   size_t *n, sl_error **err)
{
	const char *s = builtin_arg(a, key);
	*out = NULL;
	*n = 0;
	if (!s)
		return 0;
	while (*s == ' ')
		s++;
	if (*s == '[') {
		json_error_t je;
		json_t *j = json_loads(s, 0, &je);
		if (!j || !json_is_array(j)) {
			json_decref(j);
			return sl_error_usage(err, "%s: expected a list of column names, got '%s'",
					      key, s);
		}
		size_t len = json_array_size(j);
		*out = arena_alloc(ar, (len + 1) * sizeof(char *));
		for (size_t i = 0; i < len; i++) {
			json_t *e = json_array_get(j, i);
			if (!json_is_string(e)) {
				json_decref(j);
				return sl_error_usage(err, "%s: item %zu is not a column name", key,
						      i + 1);
			}
			(*out)[(*n)++] = arena_strdup(ar, json_string_value(e));
		}
		json_decref(j);
		return 0;
	}
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	*out = arena_alloc(ar, (cap + 1) * sizeof(char *));
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *b = p, *e = end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b)
			(*out)[(*n)++] = arena_strndup(ar, b, (size_t)(e - b));
		else if (comma || *n == 0)
			return sl_error_usage(err, "%s: empty column name in '%s'", key, s);
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

static int in_list(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* ---- values ------------------------------------------------------------ */

/* "1.#IND" and "1.#QNAN" (t points at the "1"). */
static int is_one_hash_na(const char *t)
{
	return t[0] == '1' && t[1] == '.' && t[2] == '#' &&
	       (strcmp(t + 3, "IND") == 0 || strcmp(t + 3, "QNAN") == 0);
}

/* pandas.read_csv's default NA strings (plus the empty string).  Called for
 * every value: numbers are turned away after a character or two. */
static int is_missing(const char *s)
{
	static const char *const na_n[] = {"N/A",  "NA",  "NULL", "NaN",
					   "None", "n/a", "nan",  "null"};
	if (!s || !s[0])
		return 1;
	switch (s[0]) {
	case '-':
		if (s[1] == 'N' || s[1] == 'n')
			return strcmp(s + 1, "NaN") == 0 || strcmp(s + 1, "nan") == 0;
		return is_one_hash_na(s + 1);
	case '1':
		return is_one_hash_na(s);
	case '#':
		return strcmp(s, "#N/A") == 0 || strcmp(s, "#N/A N/A") == 0 ||
		       strcmp(s, "#NA") == 0;
	case '<':
		return strcmp(s, "<NA>") == 0;
	case 'N':
	case 'n':
		for (size_t i = 0; i < sizeof(na_n) / sizeof(na_n[0]); i++)
			if (strcmp(s, na_n[i]) == 0)
				return 1;
		return 0;
	default:
		return 0;
	}
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A decimal number (sign, digits, optional fraction, optional exponent,
 * blanks around it) as a finite double, correctly rounded: Clinger's fast
 * path when the digits and the power of ten are exact doubles, strtod
 * otherwise.  No hex, no inf/nan.  Returns 0, or -1 when s is not a number. */
static int parse_number(const char *s, double *out)
{
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *start = p;
	int neg = 0;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	uint64_t m = 0;
	int exp10 = 0, digits = 0, inexact = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (m < 100000000000000000ULL)
			m = m * 10 + (uint64_t)(*p - '0');
		else {
			exp10++;
			inexact = 1;
		}
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (m < 100000000000000000ULL) {
				m = m * 10 + (uint64_t)(*p - '0');
				exp10--;
			} else {
				inexact = 1;
			}
		}
	}
	if (digits == 0)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		int eneg = 0, e = 0, edigits = 0;
		if (*p == '+' || *p == '-') {
			eneg = *p == '-';
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++, edigits++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (edigits == 0)
			return -1;
		exp10 += eneg ? -e : e;
	}
	const char *end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return -1;
	if (!inexact && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
		double d = (double)m;
		d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	char *e;
	double d = strtod(start, &e);
	if (e != end || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

/* ---- reading one side ------------------------------------------------- */

static void count_string(struct side *sd, struct colside *c, const char *s)
{
	struct cat *k = strmap_get(&c->cats, s);
	if (k) {
		k->n++;
		return;
	}
	k = arena_alloc(&sd->keys, sizeof(*k));
	k->key = arena_strdup(&sd->keys, s);
	k->n = 1;
	strmap_put(&c->cats, k->key, k);
	if (c->ncats == c->capcats) {
		c->capcats = c->capcats ? 2 * c->capcats : 16;
		c->list = xrealloc(c->list, c->capcats * sizeof(*c->list));
	}
	c->list[c->ncats++] = k;
}

static void stop_counting(struct colside *c)
{
	strmap_release(&c->cats);
	free(c->list);
	c->list = NULL;
	c->ncats = c->capcats = 0;
	c->counting = 0;
	c->dropped = 1;
}

static void add_value(struct side *sd, struct colside *c, const char *s)
{
	double d;
	c->present++;
	if (c->all_numeric && parse_number(s, &d) == 0) {
		if (c->n == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 1024;
			c->v = xrealloc(c->v, c->cap * sizeof(double));
		}
		c->v[c->n++] = d;
		if (c->counting) {
			count_string(sd, c, s);
			if (c->ncats > CAT_CAP)
				stop_counting(c);
		}
		return;
	}
	if (c->all_numeric) {
		/* The first text: this column is not numeric; its numbers are no longer needed. */
		c->all_numeric = 0;
		c->text_line = dataset_line(sd->rd);
		c->text = xstrdup(s);
		free(c->v);
		c->v = NULL;
		c->n = c->cap = 0;
	}
	if (c->counting)
		count_string(sd, c, s);
}

/* Read sd->rd to its end.  With sd->recount set, only count the strings of
 * the columns whose counting was dropped. */
static int read_side(struct side *sd, sl_error **err)
{
	const char *const *fields;
	int r;
	while ((r = dataset_next(sd->rd, &fields, err)) > 0) {
		if (!sd->recount)
			sd->rows++;
		for (size_t i = 0; i < sd->ncols; i++) {
			struct colside *c = &sd->cols[i];
			const char *s = fields[c->index];
			if (sd->recount) {
				if (c->counting && !is_missing(s))
					count_string(sd, c, s);
				continue;
			}
			if (is_missing(s))
				continue;
			add_value(sd, c, s);
		}
	}
	if (r < 0) {
		/* Bad data is the user's to fix: a usage error, naming file and line. */
		if (*err && (*err)->errnum == 0)
			(*err)->kind = SL_ERR_USAGE;
		return sl_error_wrap(err, "%s", sd->label);
	}
	if (!sd->recount)
		for (size_t i = 0; i < sd->ncols; i++)
			if (sd->cols[i].all_numeric)
				stats_sort(sd->cols[i].v, sd->cols[i].n);
	return 0;
}

static void *read_side_thread(void *p)
{
	struct side *sd = p;
	read_side(sd, &sd->err);
	return NULL;
}

/* path resolved against cwd; kept as given when it is relative to the
 * process's own directory already, so that messages show what the user wrote. */
static char *resolve(const char *cwd, const char *path)
{
	struct stat a, b;
	if (path[0] == '/' || !cwd ||
	    (stat(cwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
	     a.st_ino == b.st_ino))
		return xstrdup(path);
	size_t n = strlen(cwd) + strlen(path) + 2;
	char *s = xmalloc(n);
	snprintf(s, n, "%s/%s", cwd, path);
	return s;
}

static int open_side(struct side *sd, sl_error **err)
{
	if (dataset_open(sd->full, sd->fmt, &sd->rd, err) < 0) {
		if (*err)
			(*err)->kind = SL_ERR_USAGE; /* a missing or unreadable input */
		return sl_error_wrap(err, "%s", sd->label);
	}
	return 0;
}

static void side_release(struct side *sd)
{
	if (sd->rd)
		dataset_close(sd->rd);
	sd->rd = NULL;
	for (size_t i = 0; i < sd->ncols; i++) {
		struct colside *c = &sd->cols[i];
		free(c->v);
		free(c->text);
		free(c->list);
		strmap_release(&c->cats);
	}
	free(sd->cols);
	sd->cols = NULL;
	free(sd->full);
	sd->full = NULL;
	arena_release(&sd->keys);
	sl_error_release(&sd->err);
}

/* ---- per-column statistics --------------------------------------------- */

/* Number of distinct values in the union of two sorted arrays, counting at most `stop`. */
static size_t union_distinct(const double *a, size_t na, const double *b, size_t nb, size_t stop)
{
	size_t i = 0, j = 0, d = 0;
	while ((i < na || j < nb) && d < stop) {
		double x = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
		while (i < na && a[i] == x)
			i++;
		while (j < nb && b[j] == x)
			j++;
		d++;
	}
	return d;
}

/* Category counts of two sorted numeric samples: one entry per distinct value. */
static size_t value_counts(const double *a, size_t na, const double *b, size_t nb, uint64_t **ra,
			   uint64_t **rb)
{
	size_t k = union_distinct(a, na, b, nb, SIZE_MAX);
	*ra = xcalloc(k + 1, sizeof(uint64_t));
	*rb = xcalloc(k + 1, sizeof(uint64_t));
	size_t i = 0, j = 0, c = 0;
	while (i < na || j < nb) {
		double x = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j];
		while (i < na && a[i] == x) {
			i++;
			(*ra)[c]++;
		}
		while (j < nb && b[j] == x) {
			j++;
			(*rb)[c]++;
		}
		c++;
	}
	return k;
}

/* Category counts of two string maps over the union, reference order first. */
static size_t string_counts(const struct colside *r, const struct colside *c, uint64_t **ra,
			    uint64_t **rb)
{
	size_t cap = r->ncats + c->ncats + 1, k = 0;
	*ra = xcalloc(cap, sizeof(uint64_t));
	*rb = xcalloc(cap, sizeof(uint64_t));
	for (size_t i = 0; i < r->ncats; i++) {
		const struct cat *o = strmap_get(&c->cats, r->list[i]->key);
		(*ra)[k] = r->list[i]->n;
		(*rb)[k] = o ? o->n : 0;
		k++;
	}
	for (size_t i = 0; i < c->ncats; i++) {
		if (strmap_has(&r->cats, c->list[i]->key))
			continue;
		(*ra)[k] = 0;
		(*rb)[k] = c->list[i]->n;
		k++;
	}
	return k;
}

static void numeric_stats(const struct colside *r, const struct colside *c, int small,
			  const struct options *o, struct colres *res)
{
	res->kind = KIND_NUMERIC;
	res->method = small ? "ks" : "wasserstein";
	res->psi = res->ks_stat = res->ks_p = res->wass_norm = NAN;
	if (r->n == 0 || c->n == 0) {
		res->drifted = r->n != c->n; /* values on one side only */
		res->note = r->n == 0 && c->n == 0 ? "no values on either side"
			    : r->n == 0            ? "no values in the reference"
						   : "no values in the current data";
		return;
	}
	stats_ks ks;
	stats_ks_2samp(r->v, r->n, c->v, c->n, &ks);
	res->ks_stat = ks.statistic;
	res->ks_p = ks.pvalue;
	double sd = stats_pstd(r->v, r->n);
	res->wass_norm = stats_wasserstein(r->v, r->n, c->v, c->n) / fmax(sd, WASSERSTEIN_STD_MIN);
	res->psi = stats_psi_numeric(r->v, r->n, c->v, c->n, PSI_EPS);
	res->drifted =
		small ? res->ks_p < o->ks_threshold : res->wass_norm > o->wasserstein_threshold;
}

static void categorical_stats(const uint64_t *ra, const uint64_t *rb, size_t k, uint64_t nr,
			      uint64_t nc, int small, const struct options *o, struct colres *res)
{
	res->kind = KIND_CATEGORICAL;
	res->method = small ? "chisquare" : "jensenshannon";
	res->psi = res->chi2 = res->chi2_p = res->js = NAN;
	if (nr == 0 || nc == 0) {
		res->drifted = nr != nc;
		res->note = nr == 0 && nc == 0 ? "no values on either side"
			    : nr == 0          ? "no values in the reference"
					       : "no values in the current data";
		return;
	}
	res->psi = stats_psi_counts(ra, rb, k, PSI_EPS);
	res->chi2_p = stats_chisquare_pvalue(ra, rb, k, &res->chi2);
	res->js = stats_jensenshannon(ra, rb, k);
	/* NaN (one category on both sides: no degrees of freedom) is no evidence of drift. */
	res->drifted = small ? res->chi2_p < o->chi2_threshold : res->js > o->js_threshold;
}

/* ---- output -------------------------------------------------------------- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int write_report(const char *full, const char *shown, const struct colres *res, size_t n,
			int drifted, double share, double threshold_share, sl_error **err)
{
	json_t *root = json_object();
	json_object_set_new(root, "drifted", json_boolean(drifted));
	json_object_set_new(root, "drift_share", json_real(share));
	json_object_set_new(root, "threshold_share", json_real(threshold_share));
	json_t *cols = json_object();
	for (size_t i = 0; i < n; i++) {
		const struct colres *r = &res[i];
		json_t *c = json_object();
		int numeric = r->kind == KIND_NUMERIC;
		json_object_set_new(c, "kind", json_string(numeric ? "numeric" : "categorical"));
		json_object_set_new(c, "method", json_string(r->method));
		json_object_set_new(c, "drifted", json_boolean(r->drifted));
		json_object_set_new(c, "psi", jnum(r->psi));
		if (numeric) {
			json_object_set_new(c, "ks_statistic", jnum(r->ks_stat));
			json_object_set_new(c, "ks_pvalue", jnum(r->ks_p));
			json_object_set_new(c, "wasserstein_norm", jnum(r->wass_norm));
		} else {
			json_object_set_new(c, "chi2_pvalue", jnum(r->chi2_p));
			json_object_set_new(c, "js_distance", jnum(r->js));
		}
		json_object_set_new(cols, r->name, c);
	}
	json_object_set_new(root, "columns", cols);

	/* Write a temporary file next to the report and rename it: never half a report. */
	strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%s.tmp.%ld", full, (long)getpid());
	int rc = 0;
	if (fs_mkdir_parents(full, 0777) < 0) {
		rc = sl_error_errno(err, errno, "report %s: creating its directory", shown);
		goto out;
	}
	if (json_dump_file(root, strbuf_str(&tmp), JSON_INDENT(2) | JSON_REAL_PRECISION(17)) < 0) {
		rc = sl_error_errno(err, errno, "report %s: cannot write", shown);
		unlink(strbuf_str(&tmp));
		goto out;
	}
	if (rename(strbuf_str(&tmp), full) < 0) {
		rc = sl_error_errno(err, errno, "report %s", shown);
		unlink(strbuf_str(&tmp));
	}
out:
	strbuf_release(&tmp);
	json_decref(root);
	return rc;
}

/* Shortest %g form that reads back as the same double. */
static void fmt_exact(char *buf, size_t size, double v)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static int write_outputs(const char *path, int drifted, double share, sl_error **err)
{
	char num[40];
	fmt_exact(num, sizeof(num), share);
	FILE *f = fopen(path, "a");
	if (!f)
		return sl_error_errno(err, errno, "step outputs %s", path);
	fprintf(f, "drifted=%s\ndrift_share=%s\n", drifted ? "true" : "false", num);
	if (fclose(f) != 0)
		return sl_error_errno(err, errno, "step outputs %s", path);
	return 0;
}

static void fmt_cell(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "—");
	else
		snprintf(buf, size, "%.4g", v);
}

static void write_summary(FILE *log, const struct side *sides, const struct colres *res, size_t n,
			  const struct options *o, const strbuf *verdict)
{
	if (!log)
		return;
	fprintf(log, "## Drift: %s vs %s\n\n", sides[CUR].path, sides[REF].path);
	fprintf(log, "Reference: %llu rows, current: %llu rows; ",
		(unsigned long long)sides[REF].rows, (unsigned long long)sides[CUR].rows);
	if (o->small_forced >= 0)
		fprintf(log, "the %s methods, as small_sample=%s asks.\n\n",
			o->small_forced ? "small-sample" : "large-sample",
			o->small_forced ? "true" : "false");
	else
		fprintf(log, "methods for a reference of %s %llu rows.\n\n",
			sides[REF].rows <= o->small_sample ? "at most" : "more than",
			(unsigned long long)o->small_sample);
	fprintf(log,
		"| column | kind | method | statistic | p-value / distance | PSI | drifted |\n");
	fprintf(log, "|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct colres *r = &res[i];
		char st[32], pv[64], ps[48], num[32];
		const char *m = r->method;
		double crit, thr;
		const char *rel = "<";
		if (strcmp(m, "ks") == 0) {
			fmt_cell(st, sizeof(st), r->ks_stat);
			crit = r->ks_p;
			thr = o->ks_threshold;
		} else if (strcmp(m, "chisquare") == 0) {
			fmt_cell(st, sizeof(st), r->chi2);
			crit = r->chi2_p;
			thr = o->chi2_threshold;
		} else if (strcmp(m, "wasserstein") == 0) {
			snprintf(st, sizeof(st), "—");
			crit = r->wass_norm;
			thr = o->wasserstein_threshold;
			rel = ">";
		} else {
			snprintf(st, sizeof(st), "—");
			crit = r->js;
			thr = o->js_threshold;
			rel = ">";
		}
		fmt_cell(num, sizeof(num), crit);
		if (isnan(crit))
			snprintf(pv, sizeof(pv), "%s", num);
		else
			snprintf(pv, sizeof(pv), "%s (drift if %s %g)", num, rel, thr);
		fmt_cell(num, sizeof(num), r->psi);
		snprintf(ps, sizeof(ps), "%s%s", num, r->psi > o->psi_threshold ? " major" : "");
		fprintf(log, "| %s | %s | %s | %s | %s | %s | %s%s%s |\n", r->name,
			r->kind == KIND_NUMERIC ? "numeric" : "categorical", m, st, pv, ps,
			r->drifted ? "**yes**" : "no", r->note ? ": " : "", r->note ? r->note : "");
	}
	fprintf(log, "\n%s\n", strbuf_str(verdict));
}

/* ---- the step ------------------------------------------------------------- */

/* Pick the columns: `columns` or every reference column; check overrides. */
static int select_columns(const builtin_args *a, struct side *sides, arena *ar, const char ***names,
			  enum col_kind **kinds, size_t *n, sl_error **err)
{
	const char **sel, **cat, **num;
	size_t nsel, ncat, nnum;
	if (parse_name_list(a, "columns", ar, &sel, &nsel, err) < 0 ||
	    parse_name_list(a, "categorical", ar, &cat, &ncat, err) < 0 ||
	    parse_name_list(a, "numeric", ar, &num, &nnum, err) < 0)
		return -1;
	dataset_reader *ref = sides[REF].rd, *cur = sides[CUR].rd;
	size_t nref = dataset_ncols(ref);
	const char **refnames = arena_alloc(ar, (nref + 1) * sizeof(char *));
	/* Copies: a side may be closed and opened again (recount). */
	for (size_t i = 0; i < nref; i++)
		refnames[i] = arena_strdup(ar, dataset_colname(ref, i));
	if (!sel) {
		sel = refnames;
		nsel = nref;
	}
	if (nsel == 0)
		return sl_error_usage(err, "no columns to compare");
	for (size_t i = 0; i < nsel; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(sel[i], sel[j]) == 0)
				return sel == refnames
					       ? sl_error_usage(err,
								"reference %s: column '%s' appears "
								"twice in the header",
								sides[REF].path, sel[i])
					       : sl_error_usage(err,
								"columns: '%s' is listed twice",
								sel[i]);
		for (int s = REF; s <= CUR; s++) {
			dataset_reader *rd = s == REF ? ref : cur;
			if (dataset_colindex(rd, sel[i]) >= 0)
				continue;
			size_t nc = dataset_ncols(rd);
			const char **cn = arena_alloc(ar, (nc + 1) * sizeof(char *));
			for (size_t k = 0; k < nc; k++)
				cn[k] = dataset_colname(rd, k);
			const char *dym = did_you_mean(sel[i], cn, nc);
			if (dym)
				return sl_error_usage(err,
						      "column '%s' is not in %s %s (did you mean "
						      "'%s'?)",
						      sel[i], sides[s].label, sides[s].path, dym);
			return sl_error_usage(err, "column '%s' is not in %s %s", sel[i],
					      sides[s].label, sides[s].path);
		}
	}
	for (size_t i = 0; i < ncat + nnum; i++) {
		const char *c = i < ncat ? cat[i] : num[i - ncat];
		const char *key = i < ncat ? "categorical" : "numeric";
		if (!in_list(sel, nsel, c)) {
			const char *dym = did_you_mean(c, sel, nsel);
			if (dym)
				return sl_error_usage(err,
						      "%s: '%s' is not a compared column (did "
						      "you mean '%s'?)",
						      key, c, dym);
			return sl_error_usage(err, "%s: '%s' is not a compared column", key, c);
		}
		if (i < ncat && in_list(num, nnum, c))
			return sl_error_usage(err, "column '%s' is both categorical and numeric",
					      c);
	}
	*kinds = arena_alloc(ar, nsel * sizeof(enum col_kind));
	for (size_t i = 0; i < nsel; i++)
		(*kinds)[i] = in_list(cat, ncat, sel[i])   ? KIND_CATEGORICAL
			      : in_list(num, nnum, sel[i]) ? KIND_NUMERIC
							   : KIND_AUTO;
	*names = sel;
	*n = nsel;
	return 0;
}

static void init_colsides(struct side *sd, const char *const *names, size_t n)
{
	sd->ncols = n;
	sd->cols = xcalloc(n, sizeof(*sd->cols));
	for (size_t i = 0; i < n; i++) {
		struct colside *c = &sd->cols[i];
		c->index = dataset_colindex(sd->rd, names[i]);
		c->all_numeric = 1;
		c->counting = 1;
	}
}

/* Read both sides, the current one in a second thread. */
static int read_both(struct side *sides, sl_error **err)
{
	pthread_t th;
	int threaded = pthread_create(&th, NULL, read_side_thread, &sides[CUR]) == 0;
	int rc = read_side(&sides[REF], err);
	if (threaded)
		pthread_join(th, NULL);
	else
		read_side(&sides[CUR], &sides[CUR].err);
	if (rc < 0) {
		return -1;
	}
	if (sides[CUR].err) {
		*err = sides[CUR].err;
		sides[CUR].err = NULL;
		return -1;
	}
	return 0;
}

/* Count again the strings of the text columns whose counting a side dropped. */
static int recount(struct side *sides, const enum col_kind *kinds, sl_error **err)
{
	for (int s = REF; s <= CUR; s++) {
		struct side *sd = &sides[s];
		int need = 0;
		for (size_t i = 0; i < sd->ncols; i++) {
			struct colside *c = &sd->cols[i];
			int text =
				!sides[REF].cols[i].all_numeric || !sides[CUR].cols[i].all_numeric;
			if (kinds[i] == KIND_NUMERIC)
				text = 0;
			c->counting = text && c->dropped;
			if (c->counting) {
				c->cats = (strmap)STRMAP_INIT;
				need = 1;
			}
		}
		if (!need)
			continue;
		dataset_close(sd->rd);
		sd->rd = NULL;
		if (open_side(sd, err) < 0)
			return -1;
		sd->recount = 1;
		if (read_side(sd, err) < 0)
			return -1;
	}
	return 0;
}

int builtin_drift_run(const builtin_args *args, sl_error **err)
{
	struct options o;
	struct side sides[2];
	arena ar = ARENA_INIT;
	struct colres *res = NULL;
	strbuf verdict = STRBUF_INIT, drifted_names = STRBUF_INIT;
	const char **names = NULL;
	enum col_kind *kinds = NULL;
	size_t ncols = 0;
	int rc = -1;

	memset(sides, 0, sizeof(sides));
	if (parse_options(args, &o, err) < 0)
		goto out;
	const char *labels[2] = {"reference", "current"};
	for (int s = REF; s <= CUR; s++) {
		sides[s].label = labels[s];
		sides[s].path = builtin_arg(args, labels[s]);
		if (!sides[s].path || !*sides[s].path) {
			sl_error_usage(err, "missing argument %s", labels[s]);
			goto out;
		}
		sides[s].full = resolve(args->cwd, sides[s].path);
		sides[s].fmt = o.fmt;
		if (open_side(&sides[s], err) < 0)
			goto out;
	}
	if (select_columns(args, sides, &ar, &names, &kinds, &ncols, err) < 0)
		goto out;
	for (int s = REF; s <= CUR; s++)
		init_colsides(&sides[s], names, ncols);
	if (read_both(sides, err) < 0)
		goto out;

	/* Text in a column declared numeric is an error in the data. */
	for (size_t i = 0; i < ncols; i++) {
		if (kinds[i] != KIND_NUMERIC)
			continue;
		for (int s = REF; s <= CUR; s++) {
			const struct colside *c = &sides[s].cols[i];
			if (!c->all_numeric) {
				sl_error_usage(
					err,
					"%s: %s:%llu: column '%s' is declared numeric but has '%s'",
					sides[s].label, sides[s].full,
					(unsigned long long)c->text_line, names[i], c->text);
				goto out;
			}
		}
	}
	if (recount(sides, kinds, err) < 0)
		goto out;

	int small = o.small_forced >= 0 ? o.small_forced : sides[REF].rows <= o.small_sample;
	res = xcalloc(ncols, sizeof(*res));
	size_t ndrift = 0;
	for (size_t i = 0; i < ncols; i++) {
		const struct colside *r = &sides[REF].cols[i], *c = &sides[CUR].cols[i];
		struct colres *cr = &res[i];
		cr->name = names[i];
		int numbers = r->all_numeric && c->all_numeric;
		int numeric = kinds[i] == KIND_NUMERIC ||
			      (kinds[i] == KIND_AUTO && numbers &&
			       union_distinct(r->v, r->n, c->v, c->n, NUMERIC_MIN_DISTINCT) >=
				       NUMERIC_MIN_DISTINCT);
		if (numeric) {
			numeric_stats(r, c, small, &o, cr);
		} else {
			uint64_t *ra, *rb;
			size_t k = numbers ? value_counts(r->v, r->n, c->v, c->n, &ra, &rb)
					   : string_counts(r, c, &ra, &rb);
			categorical_stats(ra, rb, k, r->present, c->present, small, &o, cr);
			free(ra);
			free(rb);
		}
		if (cr->drifted) {
			ndrift++;
			strbuf_addf(&drifted_names, "%s%s", drifted_names.len ? ", " : "",
				    names[i]);
		}
	}
	double share = (double)ndrift / (double)ncols;
	int drifted = share >= o.threshold_share;
	strbuf_addf(&verdict, "%s: %zu of %zu columns drifted (share %g %s %g)%s%s",
		    drifted ? "dataset drift" : "no dataset drift", ndrift, ncols, share,
		    drifted ? ">=" : "<", o.threshold_share, ndrift ? ": " : "",
		    strbuf_str(&drifted_names));

	char *report_full = resolve(args->cwd, o.report);
	int wr = write_report(report_full, o.report, res, ncols, drifted, share, o.threshold_share,
			      err);
	free(report_full);
	if (wr < 0)
		goto out;
	if (args->output_file && write_outputs(args->output_file, drifted, share, err) < 0)
		goto out;
	write_summary(args->log, sides, res, ncols, &o, &verdict);
	if (drifted && o.fail_on_drift) {
		sl_error_make(err, "%s", strbuf_str(&verdict));
		goto out;
	}
	rc = 0;
out:
	for (int s = REF; s <= CUR; s++)
		side_release(&sides[s]);
	free(res);
	strbuf_release(&verdict);
	strbuf_release(&drifted_names);
	arena_release(&ar);
	return rc;
}
