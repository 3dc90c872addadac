/* Unit tests: parsing what a step hands on ($SLUICE_OUTPUT lines, metrics JSON). */
#include "sluice/stepout.h"
#include "sluice/strbuf.h"

#include "testutil.h"

#include <check.h>
#include <math.h>
#include <string.h>

START_TEST(outputs_last_line_wins)
{
	arena a = ARENA_INIT;
	char **k, **v;
	size_t n;
	const char text[] = "mode=fast\r\nempty=\n=novalue\njunk line\nmode=slow\nurl=a=b\n"
			    "cut=abc\0def\nlast=no newline";
	stepout_parse_outputs(text, sizeof(text) - 1, &a, &k, &v, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(k[0], "mode");
	ck_assert_str_eq(v[0], "slow"); /* the last line, in the first one's place */
	ck_assert_str_eq(k[1], "empty");
	ck_assert_str_eq(v[1], "");
	ck_assert_str_eq(k[2], "url");
	ck_assert_str_eq(v[2], "a=b");
	ck_assert_str_eq(k[3], "cut");
	ck_assert_str_eq(v[3], "abc"); /* a NUL ends the line's text */
	ck_assert_str_eq(k[4], "last");
	ck_assert_str_eq(v[4], "no newline");
	stepout_parse_outputs("", 0, &a, &k, &v, &n);
	ck_assert_uint_eq(n, 0);
	arena_release(&a);
}
END_TEST

START_TEST(outputs_many_keys)
{
	arena a = ARENA_INIT;
	strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 20000; i++)
		strbuf_addf(&sb, "k%d=%d\n", i % 5000, i);
	char **k, **v;
	size_t n;
	stepout_parse_outputs(sb.buf, sb.len, &a, &k, &v, &n);
	ck_assert_uint_eq(n, 5000);
	ck_assert_str_eq(k[4999], "k4999");
	ck_assert_str_eq(v[4999], "19999");
	strbuf_release(&sb);
	arena_release(&a);
}
END_TEST

static double metric(char **k, double *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k[i], name))
			return v[i];
	ck_abort_msg("no metric %s", name);
	return 0;
}

START_TEST(metrics_flattened)
{
	arena a = ARENA_INIT;
	char **k;
	double *v;
	size_t n;
	char why[200];
	const char *text =
		"{\"auc\": 0.91, \"n\": 3, \"ok\": true, \"bad\": false, \"name\": \"x\", "
		"\"list\": [1, 2], \"none\": null, \"eval\": {\"loss\": 0.5, \"per\": "
		"{\"a\": 1}}}";
	ck_assert_int_eq(
		stepout_parse_metrics(text, strlen(text), &a, &k, &v, &n, why, sizeof(why)), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_double_eq(metric(k, v, n, "auc"), 0.91);
	ck_assert_double_eq(metric(k, v, n, "ok"), 1);
	ck_assert_double_eq(metric(k, v, n, "bad"), 0);
	ck_assert_double_eq(metric(k, v, n, "eval.loss"), 0.5);
	ck_assert_double_eq(metric(k, v, n, "eval.per.a"), 1);
	/* not an object: no metrics, no error; not JSON: the parser's message */
	ck_assert_int_eq(stepout_parse_metrics("[1]", 3, &a, &k, &v, &n, why, sizeof(why)), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(stepout_parse_metrics("{nope", 5, &a, &k, &v, &n, why, sizeof(why)), -1);
	ck_assert_msg(strlen(why) > 0, "no reason");
	arena_release(&a);
}
END_TEST

START_TEST(metrics_nan_and_infinity)
{
	/* what Python's json.dump({"auc": float("nan"), ...}) writes */
	arena a = ARENA_INIT;
	char **k;
	double *v;
	size_t n;
	char why[200];
	const char *text = "{\"auc\": NaN, \"loss\": Infinity, \"gain\": -Infinity, "
			   "\"note\": \"NaN and Infinity\", \"esc\": \"a\\\"NaN\", \"ok\": 1, "
			   "\"per\": {\"x\": NaN}, \"list\": [NaN]}";
	ck_assert_int_eq(
		stepout_parse_metrics(text, strlen(text), &a, &k, &v, &n, why, sizeof(why)), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert(isnan(metric(k, v, n, "auc")));
	ck_assert(isinf(metric(k, v, n, "loss")) && metric(k, v, n, "loss") > 0);
	ck_assert(isinf(metric(k, v, n, "gain")) && metric(k, v, n, "gain") < 0);
	ck_assert(isnan(metric(k, v, n, "per.x")));
	ck_assert_double_eq(metric(k, v, n, "ok"), 1);
	/* the words inside strings are left alone, and other bare words still fail */
	const char *bad = "{\"a\": nan}";
	ck_assert_int_eq(stepout_parse_metrics(bad, strlen(bad), &a, &k, &v, &n, why, sizeof(why)),
			 -1);
	const char *bad2 = "{\"a\": NaNa}";
	ck_assert_int_eq(
		stepout_parse_metrics(bad2, strlen(bad2), &a, &k, &v, &n, why, sizeof(why)), -1);
	arena_release(&a);
}
END_TEST

START_TEST(metrics_deep_and_wide)
{
	arena a = ARENA_INIT;
	strbuf sb = STRBUF_INIT;
	/* 200 levels deep, each with a number, and one level 100 objects wide */
	for (int i = 0; i < 200; i++)
		strbuf_addstr(&sb, "{\"a\": 1, \"b\": ");
	strbuf_addstr(&sb, "{");
	for (int i = 0; i < 100; i++)
		strbuf_addf(&sb, "%s\"w%d\": {\"x\": %d}", i ? ", " : "", i, i);
	strbuf_addstr(&sb, "}");
	for (int i = 0; i < 200; i++)
		strbuf_addch(&sb, '}');
	char **k;
	double *v;
	size_t n;
	char why[200];
	ck_assert_int_eq(stepout_parse_metrics(sb.buf, sb.len, &a, &k, &v, &n, why, sizeof(why)),
			 0);
	ck_assert_uint_eq(n, 300);
	strbuf_release(&sb);
	arena_release(&a);
}
END_TEST

START_TEST(metrics_keys_that_collide)
{
	arena a = ARENA_INIT;
	char **k;
	double *v;
	size_t n;
	char why[200];
	const char *text = "{\"x\": 1, \"a.b\": 3, \"a\": {\"b\": 4}}";
	ck_assert_int_eq(
		stepout_parse_metrics(text, strlen(text), &a, &k, &v, &n, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "two metrics flatten to 'a.b': [\"a.b\"] and [\"a\"][\"b\"]");
	ck_assert_uint_eq(n, 0);
	arena_release(&a);
}
END_TEST

START_TEST(metrics_200000_keys)
{
	arena a = ARENA_INIT;
	strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '{');
	for (int i = 0; i < 200000; i++)
		strbuf_addf(&sb, "%s\"k%d\": {\"v\": %d}", i ? ", " : "", i, i);
	strbuf_addch(&sb, '}');
	char **k;
	double *v;
	size_t n;
	char why[200];
	ck_assert_int_eq(stepout_parse_metrics(sb.buf, sb.len, &a, &k, &v, &n, why, sizeof(why)),
			 0);
	ck_assert_uint_eq(n, 200000);
	/* linear: the arena holds a few hundred bytes per key, not a copy per key */
	ck_assert_uint_lt(a.total, 200000 * 400);
	strbuf_release(&sb);
	arena_release(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stepout");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, outputs_last_line_wins);
	tcase_add_test(tc, outputs_many_keys);
	tcase_add_test(tc, metrics_flattened);
	tcase_add_test(tc, metrics_nan_and_infinity);
	tcase_add_test(tc, metrics_deep_and_wide);
	tcase_add_test(tc, metrics_keys_that_collide);
	tcase_add_test(tc, metrics_200000_keys);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
