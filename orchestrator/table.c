/*
 * table.c — text and Markdown tables for the commands that compare runs
 * (table.h).  A table owns copies of its cells, made safe on the way in
 * (control characters as '?'), so printing never has to think about what a
 * step wrote; Markdown adds only its own quoting on the way out.
 */
#include "sluice/table.h"

#include "sluice/arena.h"
#include "sluice/strbuf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COL_GAP 2

/* A copy with every C0 control character and DEL as '?'. */
char *table_safe_text(const char *s)
{
	char *c = xstrdup(s ? s : "-");
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

void table_init(table *t, const char *const *head, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->head = xcalloc(ncols ? ncols : 1, sizeof(char *));
	t->right = xcalloc(ncols ? ncols : 1, 1);
	for (size_t i = 0; i < ncols; i++)
		t->head[i] = table_safe_text(head[i]);
}

void table_release(table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->head[i]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->head);
	free(t->cells);
	free(t->right);
	memset(t, 0, sizeof(*t));
}

void table_align_right(table *t, size_t col)
{
	if (col < t->ncols)
		t->right[col] = 1;
}

void table_add_row(table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = xrealloc(t->cells, t->cap * (t->ncols ? t->ncols : 1) * sizeof(char *));
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = table_safe_text(cells[i]);
	t->nrows++;
}

const char *table_cell(const table *t, size_t row, size_t col)
{
	return row < t->nrows && col < t->ncols ? t->cells[row * t->ncols + col] : NULL;
}

size_t table_text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static size_t column_width(const table *t, size_t col)
{
	size_t w = table_text_width(t->head[col]);
	for (size_t r = 0; r < t->nrows; r++) {
		size_t x = table_text_width(t->cells[r * t->ncols + col]);
		if (x > w)
			w = x;
	}
	return w;
}

static void drop_last_column(table *t)
{
	size_t n = t->ncols, last = n - 1;
	free(t->head[last]);
	for (size_t r = 0; r < t->nrows; r++) {
		free(t->cells[r * n + last]);
		/* rows shift left by one cell per row before them */
		memmove(&t->cells[r * (n - 1)], &t->cells[r * n], (n - 1) * sizeof(char *));
	}
	t->ncols--;
}

size_t table_fit(table *t, size_t width, size_t keep, strbuf *left_out)
{
	if (width == 0)
		return 0;
	size_t total = 0;
	size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(size_t));
	for (size_t i = 0; i < t->ncols; i++) {
		w[i] = column_width(t, i);
		total += w[i] + (i ? COL_GAP : 0);
	}
	size_t dropped = 0;
	char **names = xcalloc(t->ncols ? t->ncols : 1, sizeof(char *));
	while (total > width && t->ncols > keep && t->ncols > 0) {
		size_t last = t->ncols - 1;
		total -= w[last] + (last ? COL_GAP : 0);
		names[dropped++] = xstrdup(t->head[last]);
		drop_last_column(t);
	}
	/* named left to right, as they would have shown */
	for (size_t i = dropped; i-- > 0;) {
		if (left_out) {
			if (left_out->len)
				strbuf_addstr(left_out, ", ");
			strbuf_addstr(left_out, names[i]);
		}
		free(names[i]);
	}
	free(names);
	free(w);
	return dropped;
}

static void put_spaces(FILE *out, size_t n)
{
	static const char spaces[] = "                                ";
	for (; n > sizeof(spaces) - 1; n -= sizeof(spaces) - 1)
		fwrite(spaces, 1, sizeof(spaces) - 1, out);
	fwrite(spaces, 1, n, out);
}

static void put_padded(FILE *out, const char *s, size_t width, int right, int last)
{
	size_t pad = width - table_text_width(s);
	if (right)
		put_spaces(out, pad);
	fputs(s, out);
	if (!right && !last)
		put_spaces(out, pad);
}

static void print_text_row(const table *t, const size_t *w, char *const *cells, FILE *out)
{
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			put_spaces(out, COL_GAP);
		put_padded(out, cells[i], w[i], t->right[i], i + 1 == t->ncols);
	}
	fputc('\n', out);
}

void table_print_text(const table *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(size_t));
	for (size_t i = 0; i < t->ncols; i++)
		w[i] = column_width(t, i);
	print_text_row(t, w, t->head, out);
	for (size_t r = 0; r < t->nrows; r++)
		print_text_row(t, w, &t->cells[r * t->ncols], out);
	free(w);
}

/* Numbers as this module writes them, and "-": nothing in them Markdown reads. */
static int is_plain_number(const char *s)
{
	if (!strcmp(s, "-") || !strcmp(s, "NaN") || !strcmp(s, "Infinity") ||
	    !strcmp(s, "-Infinity"))
		return 1;
	int digit = 0;
	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digit = 1;
		else if (!strchr(".eE+-", *p))
			return 0;
	}
	return digit;
}

/* A code span with a fence longer than any run of backticks inside, so nothing in s
 * is Markdown; '|' escaped, as GFM tables require even inside code spans (the table
 * splits its rows into cells before it reads any inline Markdown). */
static char *markdown_cell(const char *s)
{
	if (is_plain_number(s))
		return xstrdup(s);
	size_t run = 0, longest = 0;
	for (const char *p = s; *p; p++) {
		run = *p == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i <= longest; i++)
		strbuf_addch(&sb, '`');
	/* a space keeps a backtick at either end from joining the fence */
	int pad = longest > 0 || *s == ' ';
	if (pad)
		strbuf_addch(&sb, ' ');
	for (const char *p = s; *p; p++) {
		/* the table reads \\ as one escaped character before it reads \|: a run of
		 * backslashes before a '|' is doubled, so the '|' stays escaped */
		if (*p == '\\' && p[strspn(p, "\\")] == '|')
			strbuf_addch(&sb, '\\');
		if (*p == '|')
			strbuf_addch(&sb, '\\');
		strbuf_addch(&sb, *p);
	}
	if (pad)
		strbuf_addch(&sb, ' ');
	for (size_t i = 0; i <= longest; i++)
		strbuf_addch(&sb, '`');
	return strbuf_detach(&sb);
}

static void print_markdown_row(const table *t, const size_t *w, char *const *cells, FILE *out)
{
	for (size_t i = 0; i < t->ncols; i++) {
		fputs("| ", out);
		put_padded(out, cells[i], w[i], 0, 0);
		fputc(' ', out);
	}
	fputs("|\n", out);
}

void table_print_markdown(const table *t, FILE *out)
{
	size_t n = t->ncols, cells = t->nrows * n;
	char **md = xcalloc(cells ? cells : 1, sizeof(char *));
	size_t *w = xcalloc(n ? n : 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		w[i] = table_text_width(t->head[i]);
	for (size_t k = 0; k < cells; k++) {
		md[k] = markdown_cell(t->cells[k]);
		size_t x = table_text_width(md[k]);
		if (x > w[k % n])
			w[k % n] = x;
	}
	/* headings are ours (run numbers, column names), never a step's */
	print_markdown_row(t, w, t->head, out);
	for (size_t i = 0; i < n; i++) {
		fputc('|', out);
		for (size_t k = 0; k < w[i] + 2; k++)
			fputc('-', out);
	}
	fputs("|\n", out);
	for (size_t r = 0; r < t->nrows; r++)
		print_markdown_row(t, w, &md[r * n], out);
	for (size_t k = 0; k < cells; k++)
		free(md[k]);
	free(md);
	free(w);
}

int table_same_number(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (a == b)
		return 1;
	if (!isfinite(a) || !isfinite(b))
		return 0;
	return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

void table_format_number(double v, char *buf, size_t size)
{
	if (isnan(v))
		snprintf(buf, size, "NaN");
	else if (isinf(v))
		snprintf(buf, size, "%sInfinity", v < 0 ? "-" : "");
	else
		snprintf(buf, size, "%.6g", v == 0 ? 0.0 : v); /* never "-0" */
}

void table_format_change(double old, double new_, char *buf, size_t size)
{
	if (!isfinite(old) || !isfinite(new_))
		snprintf(buf, size, "-");
	else if (table_same_number(old, new_))
		snprintf(buf, size, "0");
	else
		snprintf(buf, size, "%+.6g", new_ - old);
}

static void flatten_into(json_t *flat, const char *prefix, json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		strbuf name = STRBUF_INIT;
		if (*prefix)
			strbuf_addf(&name, "%s.", prefix);
		strbuf_addstr(&name, key);
		if (json_is_object(v) && json_object_size(v) > 0)
			flatten_into(flat, strbuf_str(&name), v);
		else
			json_object_set(flat, strbuf_str(&name), v);
		strbuf_release(&name);
	}
}

json_t *table_flat_params(const char *params_json)
{
	json_t *flat = json_object();
	json_t *doc = params_json ? json_loads(params_json, 0, NULL) : NULL;
	if (json_is_object(doc))
		flatten_into(flat, "", doc);
	json_decref(doc);
	return flat;
}

char *table_json_text(const json_t *v)
{
	if (!v)
		return xstrdup("-");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
	return s ? s : xstrdup("?");
}

int table_same_json(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return !a && !b;
	if (json_is_number(a) && json_is_number(b))
		return table_same_number(json_number_value(a), json_number_value(b));
	return json_equal((json_t *)a, (json_t *)b);
}
