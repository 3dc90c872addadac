/* Unit tests: the tables of runs, metrics, params diff and diff (table.h): text and
 * Markdown layout, what a step's text cannot do to either, the 1e-9 rule. */
#include "sluice/strbuf.h"
#include "sluice/report.h"
#include "sluice/table.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What fn printed of t, malloc'd. */
static char *printed(const table *t, void (*fn)(const table *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	fn(t, f);
	fclose(f);
	return buf;
}

START_TEST(text_layout)
{
	table t;
	table_init(&t, (const char *const[]){"Step", "Metric", "run 3"}, 3);
	table_align_right(&t, 2);
	table_add_row(&t, (const char *const[]){"train", "loss", "0.25"});
	table_add_row(&t, (const char *const[]){"evaluate", "auc", NULL});
	char *out = printed(&t, table_print_text);
	ck_assert_str_eq(out, "Step      Metric  run 3\n"
			      "train     loss     0.25\n"
			      "evaluate  auc         -\n");
	free(out);
	ck_assert_str_eq(table_cell(&t, 1, 2), "-");
	ck_assert_ptr_null(table_cell(&t, 2, 0));
	table_release(&t);
}
END_TEST

START_TEST(markdown_layout)
{
	table t;
	table_init(&t, (const char *const[]){"Step", "Metric", "run 1", "run 2", "Change"}, 5);
	table_add_row(&t, (const char *const[]){"evaluate", "auc", "0.9", "0.93", "+0.03"});
	char *out = printed(&t, table_print_markdown);
	ck_assert_str_eq(out, "| Step       | Metric | run 1 | run 2 | Change |\n"
			      "|------------|--------|-------|-------|--------|\n"
			      "| `evaluate` | `auc`  | 0.9   | 0.93  | +0.03  |\n");
	free(out);
	table_release(&t);
}
END_TEST

/* A metric key is whatever a step wrote in its JSON: it must not break a row, draw on
 * the terminal, or become a link, a mention or HTML in a pull-request comment. */
START_TEST(hostile_cells)
{
	table t;
	table_init(&t, (const char *const[]){"Metric", "value"}, 2);
	table_add_row(&t, (const char *const[]){"a|b\n| x | y |", "1"});
	table_add_row(&t, (const char *const[]){"\x1b]0;owned\x07\x1b[2J", "2"});
	table_add_row(&t, (const char *const[]){"@org/team <img src=x> [x](http://e)", "3"});
	table_add_row(&t, (const char *const[]){"``tick`", "nan(__x__)"});
	table_add_row(&t, (const char *const[]){"x\\| <b> \\\\|", "4"});
	char *text = printed(&t, table_print_text);
	ck_assert_ptr_null(strchr(text, '\x1b'));
	ck_assert_ptr_null(strchr(text, '\x07'));
	ck_assert_ptr_nonnull(strstr(text, "a|b?| x | y |"));
	free(text);
	char *md = printed(&t, table_print_markdown);
	/* seven lines: heading, rule, five rows; no newline from a cell */
	int lines = 0;
	for (const char *p = md; *p; p++)
		lines += *p == '\n';
	ck_assert_int_eq(lines, 7);
	ck_assert_ptr_nonnull(strstr(md, "| `a\\|b?\\| x \\| y \\|` "));
	ck_assert_ptr_nonnull(strstr(md, "| `@org/team <img src=x> [x](http://e)` "));
	/* a fence longer than the longest run of backticks inside, spaced */
	ck_assert_ptr_nonnull(strstr(md, "| ``` ``tick` ``` "));
	/* only what this module writes as a number stays outside a code span */
	ck_assert_ptr_nonnull(strstr(md, "| `nan(__x__)` "));
	ck_assert_ptr_nonnull(strstr(md, "| 1 "));
	/* \\| would be an escaped backslash and then a cell's end: \\\| keeps the pipe */
	ck_assert_ptr_nonnull(strstr(md, "| `x\\\\\\| <b> \\\\\\\\\\|` "));
	free(md);
	table_release(&t);
}
END_TEST

START_TEST(fit_to_width)
{
	table t;
	table_init(&t, (const char *const[]){"RUN", "STATUS", "auc", "loss", "lr"}, 5);
	table_add_row(&t, (const char *const[]){"1", "succeeded", "0.9", "0.25", "0.1"});
	strbuf left = STRBUF_INIT;
	ck_assert_uint_eq(table_fit(&t, 0, 2, &left), 0);
	/* RUN  STATUS     auc  loss  lr: 3+2+9+2+3+2+4+2+3 = 30 */
	ck_assert_uint_eq(table_fit(&t, 30, 2, &left), 0);
	ck_assert_uint_eq(table_fit(&t, 22, 2, &left), 2);
	ck_assert_str_eq(strbuf_str(&left), "loss, lr");
	ck_assert_uint_eq(t.ncols, 3);
	ck_assert_str_eq(table_cell(&t, 0, 2), "0.9");
	/* never the kept columns, however narrow */
	ck_assert_uint_eq(table_fit(&t, 1, 2, NULL), 1);
	ck_assert_uint_eq(t.ncols, 2);
	char *out = printed(&t, table_print_text);
	ck_assert_str_eq(out, "RUN  STATUS\n1    succeeded\n");
	free(out);
	strbuf_release(&left);
	table_release(&t);
	ck_assert_uint_eq(table_text_width("évaluer"), 7);
}
END_TEST

START_TEST(numbers)
{
	/* the case from the issue: 0.1 + 0.2 against 0.3 was "+1.11022e-16" */
	volatile double a = 0.1, b = 0.2;
	ck_assert(a + b != 0.3);
	ck_assert(table_same_number(0.3, a + b));
	ck_assert(table_same_number(1e12, 1e12 + 1e2));
	ck_assert(!table_same_number(1e12, 1e12 + 1e4));
	ck_assert(!table_same_number(0.3, 0.3000001));
	ck_assert(!table_same_number(0, 1e-17));
	ck_assert(table_same_number(NAN, NAN));
	ck_assert(!table_same_number(NAN, 1));
	ck_assert(table_same_number(INFINITY, INFINITY));
	ck_assert(!table_same_number(INFINITY, -INFINITY));
	ck_assert(!table_same_number(INFINITY, 1e308));
	char buf[64];
	table_format_number(0.912345678, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.912346");
	table_format_number(NAN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NaN");
	table_format_number(-INFINITY, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-Infinity");
	table_format_number(-0.0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	table_format_change(0.3, a + b, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	table_format_change(0.9, 0.93, buf, sizeof(buf));
	ck_assert_str_eq(buf, "+0.03");
	table_format_change(6, 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-3");
	table_format_change(NAN, 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-");
}
END_TEST

START_TEST(params)
{
	json_t *p = table_flat_params("{\"train\": {\"lr\": 0.1, \"opt\": {\"name\": \"adam\"}},"
				      " \"n\": 3, \"tags\": [1, 2], \"empty\": {}}");
	ck_assert_uint_eq(json_object_size(p), 5);
	ck_assert(json_real_value(json_object_get(p, "train.lr")) == 0.1);
	char *s = table_json_text(json_object_get(p, "train.opt.name"));
	ck_assert_str_eq(s, "adam");
	free(s);
	s = table_json_text(json_object_get(p, "tags"));
	ck_assert_str_eq(s, "[1,2]");
	free(s);
	s = table_json_text(json_object_get(p, "empty"));
	ck_assert_str_eq(s, "{}");
	free(s);
	s = table_json_text(NULL);
	ck_assert_str_eq(s, "-");
	free(s);
	json_decref(p);
	p = table_flat_params("not json");
	ck_assert_uint_eq(json_object_size(p), 0);
	json_decref(p);
	p = table_flat_params(NULL);
	ck_assert_uint_eq(json_object_size(p), 0);
	json_decref(p);
	json_t *x = json_real(0.30000000000000004), *y = json_real(0.3), *i = json_integer(3),
	       *r = json_real(3.0), *str = json_string("3");
	ck_assert(table_same_json(x, y));
	ck_assert(table_same_json(i, r));
	ck_assert(!table_same_json(i, str));
	ck_assert(!table_same_json(i, NULL));
	ck_assert(table_same_json(NULL, NULL));
	json_t *m = report_metric_json(NAN);
	ck_assert_str_eq(json_string_value(m), "NaN");
	json_decref(m);
	m = report_metric_json(-INFINITY);
	ck_assert_str_eq(json_string_value(m), "-Infinity");
	json_decref(m);
	m = report_metric_json(0.25);
	ck_assert(json_real_value(m) == 0.25);
	json_decref(m);
	json_decref(x);
	json_decref(y);
	json_decref(i);
	json_decref(r);
	json_decref(str);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("table");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, text_layout);
	tcase_add_test(tc, markdown_layout);
	tcase_add_test(tc, hostile_cells);
	tcase_add_test(tc, fit_to_width);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, params);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
