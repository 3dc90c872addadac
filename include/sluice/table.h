/*
 * table.h — the tables of the commands that compare runs (runs, metrics,
 * params diff, diff): aligned columns for a terminal, GitHub-flavoured
 * Markdown for a pull-request comment, and the rules they share for
 * showing a number and for what counts as a change (docs/cli.md).
 *
 * Cells hold what steps wrote (metric keys, step names, params), so a
 * table never passes on a control character (a terminal escape, a newline
 * that would break a Markdown row): each is shown as '?'.  In Markdown,
 * every cell that is not a number is a code span, so what a step wrote is
 * never a link, a mention, an image or HTML in the comment.
 *
 * Pure functions over memory: tests/unit/test_table.c.
 */
#ifndef SLUICE_TABLE_H
#define SLUICE_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct table {
	size_t ncols, nrows, cap;
	char **head;          /* ncols */
	char **cells;         /* nrows * ncols, row after row; never NULL */
	unsigned char *right; /* per column: aligned right (numbers) */
} table;

/* A table with these column headings (copied).  table_release frees it. */
void table_init(table *t, const char *const *head, size_t ncols);
void table_release(table *t);
/* Align column col to the right in the text form (numbers). */
void table_align_right(table *t, size_t col);
/* Append a row of ncols cells (copied; NULL shows as "-"). */
void table_add_row(table *t, const char *const *cells);
const char *table_cell(const table *t, size_t row, size_t col);
/* A malloc'd copy of s (NULL: "-") with control characters as '?', for what is printed
 * outside a table. */
char *table_safe_text(const char *s);

/* Leave out columns from the right, never one of the first `keep`, until the
 * text form is at most `width` columns wide (0: no limit).  The headings of
 * the columns left out are appended to `left_out`, ", " between them, when
 * it is not NULL.  Returns how many were left out. */
struct strbuf;
size_t table_fit(table *t, size_t width, size_t keep, struct strbuf *left_out);

/* Columns two spaces apart, the heading first; no trailing blanks. */
void table_print_text(const table *t, FILE *out);
/* A GitHub-flavoured Markdown table, padded like `dvc metrics diff --md`. */
void table_print_markdown(const table *t, FILE *out);

/* How wide s shows on a terminal: its UTF-8 code points. */
size_t table_text_width(const char *s);

/* Two numbers are the same when both are NaN or they differ by at most 1e-9 of
 * the larger magnitude: a metric computed again in another order of additions
 * (0.1 + 0.2 against 0.3) has not changed. */
int table_same_number(double a, double b);
/* Six significant digits (%g); NaN, Infinity, -Infinity. */
void table_format_number(double v, char *buf, size_t size);
/* new - old with its sign ("+0.02", "-3"), "0" for the same number, "-" when
 * either is not finite. */
void table_format_change(double old, double new_, char *buf, size_t size);

/* A run's params_json (NULL: none) as one flat object, nested maps addressed
 * with dots ({"train": {"lr": 0.1}} gives "train.lr"); a new reference, {}
 * for text that is not a JSON object. */
struct json_t;
struct json_t *table_flat_params(const char *params_json);
/* A value as a cell: a string's text, anything else compact JSON, NULL "-". */
char *table_json_text(const struct json_t *v);
/* Equal values; numbers by table_same_number, so 0.3 and 0.1 + 0.2 are. */
int table_same_json(const struct json_t *a, const struct json_t *b);

#endif
