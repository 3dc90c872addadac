/*
 * Unit tests for the validate-data built-in (steps/validate_data.c), run
 * through its entry point on files in a scratch directory: Great
 * Expectations' semantics (mostly, unexpected_percent without nulls, unique
 * counting every duplicate, regex as a search, vacuous success), the
 * expectations file's errors with their positions, the profile's numbers
 * (numpy's quantiles, pandas' std), and the step's outputs and exit kinds.
 */
#include "sluice/builtin.h"
#include "testutil.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
	tu_mkdtemp(dir, sizeof(dir), "sluice-test-vd");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}

static char *path_of(const char *name)
{
	return tu_path(dir, name);
}

static void write_file(const char *name, const char *text)
{
	tu_write(path_of(name), text);
}

/* Run the step with key=value pairs (NULL-terminated); relative paths are in dir. */
static int run_step(sl_error **err, ...)
{
	const char *keys[16], *vals[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, err);
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		keys[n] = k;
		vals[n] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	char *log = NULL;
	size_t loglen = 0;
	FILE *lf = open_memstream(&log, &loglen);
	builtin_args a = {
		.name = "validate-data",
		.keys = keys,
		.vals = vals,
		.n = n,
		.cwd = dir,
		.output_file = path_of("outputs"),
		.log = lf,
	};
	int rc = builtin_validate_data_run(&a, err);
	fclose(lf);
	free(log);
	return rc;
}

static json_t *load_json(const char *name)
{
	json_error_t je;
	json_t *j = json_load_file(path_of(name), 0, &je);
	ck_assert_msg(j != NULL, "%s: %s", name, je.text);
	return j;
}

/* The result for expectation type and column (NULL for the table); n-th match. */
static json_t *result(json_t *report, const char *type, const char *column)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(report, "results"), i, r)
	{
		const char *t = json_string_value(json_object_get(r, "expectation_type"));
		const char *c = json_string_value(json_object_get(r, "column"));
		if (strcmp(t, type) == 0 &&
		    ((!c && !column) || (c && column && !strcmp(c, column))))
			return r;
	}
	ck_abort_msg("no result %s(%s)", type, column ? column : "");
	return NULL;
}

static int success_of(json_t *r)
{
	return json_is_true(json_object_get(r, "success"));
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static char *read_text(const char *name)
{
	static char buf[4096];
	const char *text = tu_read(path_of(name), buf, sizeof(buf));
	return strdup(text ? text : "");
}

START_TEST(all_pass)
{
	write_file("d.csv", "id,age,plan,email\n1,30,basic,a@x.com\n2,41,pro,b@y.org\n"
			    "3,,pro,c@x.com\n");
	write_file("e.yaml",
		   "columns: {id: int, age: int, plan: string}\n"
		   "row_count: {min: 1, max: 10}\n"
		   "expect:\n"
		   "  id: {not_null: true, unique: true, between: {min: 1, max: 3}}\n"
		   "  age: {between: {min: 0, max: 120}, mean_between: {min: 30, max: 40},\n"
		   "        null_rate_max: 0.5}\n"
		   "  plan: {in_set: [basic, pro]}\n"
		   "  email: {regex: '@x\\.com$', null_rate_max: 0, regex: x}\n");
	/* (a duplicate key is an error: fix it and run again) */
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, "e.yaml:8:48: duplicate key 'regex'"), "%s", err->msg);
	sl_error_release(&err);
	write_file("e.yaml",
		   "columns: {id: int, age: int, plan: string}\n"
		   "row_count: {min: 1, max: 10}\n"
		   "expect:\n"
		   "  id: {not_null: true, unique: true, between: {min: 1, max: 3}}\n"
		   "  age: {between: {min: 0, max: 120}, mean_between: {min: 35, max: 36},\n"
		   "        null_rate_max: 0.5}\n"
		   "  plan: {in_set: [basic, pro]}\n"
		   "  email: {regex: {pattern: '@x\\.com$', mostly: 0.6}}\n");
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), 0);
	ck_assert_ptr_null(err);
	json_t *rep = load_json("validate-data.json");
	ck_assert(json_is_true(json_object_get(rep, "success")));
	json_t *st = json_object_get(rep, "statistics");
	ck_assert_int_eq(num(st, "evaluated_expectations"), 15);
	ck_assert_int_eq(num(st, "successful_expectations"), 15);
	ck_assert_int_eq(num(st, "unsuccessful_expectations"), 0);
	ck_assert_double_eq(num(st, "success_percent"), 100);
	json_t *r = result(rep, "expect_column_mean_to_be_between", "age");
	ck_assert_double_eq_tol(num(r, "observed_value"), 35.5, 1e-12);
	json_t *kw = json_object_get(r, "kwargs");
	ck_assert_str_eq(json_string_value(json_object_get(kw, "column")), "age");
	ck_assert_int_eq(json_integer_value(json_object_get(kw, "min_value")), 35);
	r = result(rep, "expect_column_values_to_match_regex", "email");
	ck_assert_double_eq_tol(num(r, "observed_value"), 2.0 / 3, 1e-12);
	ck_assert_int_eq(num(r, "unexpected_count"), 1);
	ck_assert_double_eq(
		json_real_value(json_object_get(json_object_get(r, "kwargs"), "mostly")), 0.6);
	json_decref(rep);
	char *out = read_text("outputs");
	ck_assert_str_eq(out, "success=true\nfailed=0\n");
	free(out);
	/* the default profile sits next to the default report */
	json_t *prof = load_json("validate-data.profile.json");
	ck_assert_int_eq(num(prof, "rows"), 3);
	json_decref(prof);
}
END_TEST

START_TEST(ge_mostly_and_percent)
{
	/* 100 rows: 2 nulls, 3 values out of [1, 95] among the 98 others */
	char buf[2048] = "x\n";
	for (int i = 1; i <= 100; i++) {
		if (i == 10 || i == 20)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "\"\"\n"); /* null */
		else
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%d\n",
				 i <= 97 ? i : i + 1000);
	}
	write_file("d.csv", buf);
	write_file("e.yaml", "expect:\n"
			     "  x:\n"
			     "    between: {min: 1, max: 95, mostly: 0.95}\n"
			     "    not_null: {mostly: 0.98}\n"
			     "    null_rate_max: 0.01\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", "report",
				  "out/r.json", NULL),
			 -1);
	ck_assert_int_eq(err->kind, SL_ERR_RUNTIME);
	ck_assert_str_eq(err->msg, "2 of 3 expectations failed: "
				   "expect_column_values_to_be_between(x), "
				   "expect_column_null_rate_to_be_at_most(x)");
	sl_error_release(&err);
	json_t *rep = load_json("out/r.json");
	ck_assert(json_is_false(json_object_get(rep, "success")));
	json_t *r = result(rep, "expect_column_values_to_be_between", "x");
	/* 96, 97 and the three +1000 values are outside [1, 95]: 5 of 98 */
	ck_assert_int_eq(num(r, "unexpected_count"), 5);
	ck_assert_int_eq(num(r, "element_count"), 100);
	ck_assert_int_eq(num(r, "missing_count"), 2);
	ck_assert_double_eq_tol(num(r, "unexpected_percent"), 100.0 * 5 / 98, 1e-9);
	ck_assert_double_eq_tol(num(r, "unexpected_percent_total"), 5.0, 1e-9);
	ck_assert(!success_of(r)); /* 93/98 = 0.949 < 0.95 */
	json_t *list = json_object_get(r, "partial_unexpected_list");
	ck_assert_int_eq(json_array_size(list), 5);
	ck_assert_int_eq(json_integer_value(json_array_get(list, 0)), 96);
	ck_assert_int_eq(json_integer_value(json_array_get(list, 2)), 1098);
	json_t *idx = json_object_get(r, "partial_unexpected_index_list");
	ck_assert_int_eq(json_integer_value(json_array_get(idx, 0)), 95);
	/* not_null: nulls over all rows; 98/100 >= 0.98 */
	r = result(rep, "expect_column_values_to_not_be_null", "x");
	ck_assert(success_of(r));
	ck_assert_int_eq(num(r, "unexpected_count"), 2);
	ck_assert_double_eq_tol(num(r, "unexpected_percent"), 2.0, 1e-12);
	ck_assert(json_is_null(json_array_get(json_object_get(r, "partial_unexpected_list"), 0)));
	r = result(rep, "expect_column_null_rate_to_be_at_most", "x");
	ck_assert(!success_of(r));
	ck_assert_double_eq_tol(num(r, "observed_value"), 0.02, 1e-12);
	json_decref(rep);
	char *out = read_text("outputs");
	ck_assert_str_eq(out, "success=false\nfailed=2\n");
	free(out);
	/* the profile follows the report's name */
	json_t *prof = load_json("out/r.profile.json");
	json_decref(prof);

	/* at exactly the threshold, mostly passes: 93/98 with mostly 93/98 */
	write_file("e.yaml",
		   "expect: {x: {between: {min: 1, max: 95, mostly: 0.9489795918367347}}}\n");
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), 0);
}
END_TEST

START_TEST(ge_unique_and_numeric_set)
{
	write_file("d.csv", "u,n,t\na,1,1\nb,2.0,2.0\na,3,3\nc,1e0,1e0\na,,\nd,2,2\n");
	write_file("e.yaml", "columns: {n: float}\n"
			     "expect:\n"
			     "  u: {unique: true}\n"
			     "  n: {in_set: [1, 2], unique: {mostly: 0.3}}\n"
			     "  t: {in_set: [1, 2, 3, 1e0], unique: true}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_str_eq(err->msg, "3 of 7 expectations failed: "
				   "expect_column_values_to_be_unique(u), "
				   "expect_column_values_to_be_in_set(n), "
				   "expect_column_values_to_be_unique(n)");
	sl_error_release(&err);
	json_t *rep = load_json("validate-data.json");
	/* every occurrence of a duplicated value is unexpected (pandas keep=False) */
	json_t *r = result(rep, "expect_column_values_to_be_unique", "u");
	ck_assert_int_eq(num(r, "unexpected_count"), 3);
	ck_assert_double_eq_tol(num(r, "unexpected_percent"), 50.0, 1e-12);
	json_t *idx = json_object_get(r, "partial_unexpected_index_list");
	ck_assert_int_eq(json_array_size(idx), 3);
	ck_assert_int_eq(json_integer_value(json_array_get(idx, 0)), 0);
	ck_assert_int_eq(json_integer_value(json_array_get(idx, 1)), 2);
	ck_assert_int_eq(json_integer_value(json_array_get(idx, 2)), 4);
	ck_assert_str_eq(
		json_string_value(json_array_get(json_object_get(r, "partial_unexpected_list"), 0)),
		"a");
	/* numbers compare as numbers in a numeric column: 2.0 == 2, 1e0 == 1 */
	r = result(rep, "expect_column_values_to_be_in_set", "n");
	ck_assert_int_eq(num(r, "unexpected_count"), 1);
	ck_assert_int_eq(json_integer_value(
				 json_array_get(json_object_get(r, "partial_unexpected_list"), 0)),
			 3);
	/* declared float: 1 and 1e0, 2.0 and 2 repeat; 3 does not: 4 of 5, and 1/5 < 0.3 */
	r = result(rep, "expect_column_values_to_be_unique", "n");
	ck_assert_int_eq(num(r, "unexpected_count"), 4);
	ck_assert_double_eq_tol(num(r, "observed_value"), 0.2, 1e-12);
	/* not declared: distinct values are compared as text (in_set still
	 * compares numbers as numbers) */
	r = result(rep, "expect_column_values_to_be_unique", "t");
	ck_assert(success_of(r));
	ck_assert_int_eq(num(r, "unexpected_count"), 0);
	r = result(rep, "expect_column_values_to_be_in_set", "t");
	ck_assert(success_of(r));
	json_decref(rep);
}
END_TEST

START_TEST(ge_unique_mostly_passes)
{
	write_file("d.csv", "n\n1\n2.0\n3\n1e0\n2\n");
	write_file("e.yaml", "columns: {n: float}\nexpect: {n: {unique: {mostly: 0.2}}}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), 0);
	json_t *rep = load_json("validate-data.json");
	json_t *r = result(rep, "expect_column_values_to_be_unique", "n");
	ck_assert_int_eq(num(r, "unexpected_count"), 4);
	ck_assert_double_eq_tol(num(r, "observed_value"), 0.2, 1e-12);
	json_decref(rep);
}
END_TEST

START_TEST(ge_text_set_regex_and_vacuous)
{
	write_file("d.csv", "s,r,empty\n1,abc123,\n2.0,xyz,\nx,123,\n,a1,\n");
	write_file("e.yaml",
		   "columns: {s: string}\n"
		   "expect:\n"
		   "  s: {in_set: [1, 2]}\n"
		   "  r: {regex: '[0-9]+'}\n"
		   "  empty: {between: {min: 0, max: 1}, unique: true, in_set: [a],\n"
		   "          regex: x, not_null: {mostly: 0}, mean_between: {min: 0}}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_msg(strstr(err->msg, "3 of 10 expectations failed"), "%s", err->msg);
	sl_error_release(&err);
	json_t *rep = load_json("validate-data.json");
	/* a string column compares text: "2.0" is not "2" */
	json_t *r = result(rep, "expect_column_values_to_be_in_set", "s");
	ck_assert_int_eq(num(r, "unexpected_count"), 2);
	json_t *vs = json_object_get(json_object_get(r, "kwargs"), "value_set");
	ck_assert_int_eq(json_integer_value(json_array_get(vs, 0)), 1);
	/* regex is a search: xyz is the only miss */
	r = result(rep, "expect_column_values_to_match_regex", "r");
	ck_assert_int_eq(num(r, "unexpected_count"), 1);
	ck_assert_str_eq(
		json_string_value(json_array_get(json_object_get(r, "partial_unexpected_list"), 0)),
		"xyz");
	/* a column with no values: per-value expectations pass vacuously,
	 * unexpected_percent is null; the mean does not exist and fails */
	const char *vac[] = {
		"expect_column_values_to_be_between", "expect_column_values_to_be_unique",
		"expect_column_values_to_be_in_set", "expect_column_values_to_match_regex"};
	for (size_t i = 0; i < 4; i++) {
		r = result(rep, vac[i], "empty");
		ck_assert_msg(success_of(r), "%s", vac[i]);
		ck_assert(json_is_null(json_object_get(r, "unexpected_percent")));
		ck_assert(json_is_null(json_object_get(r, "observed_value")));
	}
	r = result(rep, "expect_column_mean_to_be_between", "empty");
	ck_assert(!success_of(r));
	ck_assert(json_is_null(json_object_get(r, "observed_value")));
	r = result(rep, "expect_column_values_to_not_be_null", "empty");
	ck_assert(success_of(r));
	ck_assert_int_eq(num(r, "unexpected_count"), 4);
	json_decref(rep);
}
END_TEST

START_TEST(types_rows_missing_columns)
{
	write_file("d.csv", "i,f,b,s,n\n1,1.5,true,x,1\n-2,3,False,y,2\n1.0,nan,yes,z,3\n"
			    "99999999999999999999,-inf,TRUE,w,4\n");
	write_file("e.yaml", "columns:\n"
			     "  - n: string\n"
			     "  - i: int\n"
			     "  - f: float\n"
			     "  - b: bool\n"
			     "  - s: string\n"
			     "  - agee\n"
			     "row_count: {min: 5}\n"
			     "expect:\n"
			     "  sx: {not_null: true}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_str_eq(err->msg, "5 of 13 expectations failed: "
				   "expect_column_values_to_be_of_type(i), "
				   "expect_column_values_to_be_of_type(b), "
				   "expect_column_to_exist(agee), "
				   "expect_table_row_count_to_be_between, "
				   "expect_column_values_to_not_be_null(sx)");
	sl_error_release(&err);
	json_t *rep = load_json("validate-data.json");
	json_t *r = result(rep, "expect_column_values_to_be_of_type", "i");
	/* 1.0 is not an int; neither is a number beyond 64 bits */
	ck_assert_int_eq(num(r, "unexpected_count"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(r, "observed_value")), "float");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "kwargs"), "type_")),
			 "int");
	r = result(rep, "expect_column_values_to_be_of_type", "f");
	ck_assert(success_of(r)); /* nan and -inf are floats */
	/* the observed type is what the values fit, whatever was declared */
	r = result(rep, "expect_column_values_to_be_of_type", "n");
	ck_assert(success_of(r));
	ck_assert_str_eq(json_string_value(json_object_get(r, "observed_value")), "int");
	r = result(rep, "expect_column_values_to_be_of_type", "b");
	ck_assert_int_eq(num(r, "unexpected_count"), 1);
	r = result(rep, "expect_table_row_count_to_be_between", NULL);
	ck_assert_int_eq(num(r, "observed_value"), 4);
	ck_assert(json_is_null(json_object_get(json_object_get(r, "kwargs"), "max_value")));
	r = result(rep, "expect_column_to_exist", "agee");
	ck_assert(!success_of(r));
	r = result(rep, "expect_column_values_to_not_be_null", "sx");
	json_t *x = json_object_get(r, "exception_info");
	ck_assert_str_eq(json_string_value(json_object_get(x, "exception_message")),
			 "column 'sx' is not in the data (did you mean 's'?)");
	json_decref(rep);
}
END_TEST

/* The expectations file is checked before the data is read. */
static void expect_usage(const char *yaml, const char *want)
{
	write_file("e.yaml", yaml);
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, want), "want '%s' in:\n%s", want, err->msg);
	sl_error_release(&err);
}

START_TEST(expectation_errors)
{
	write_file("d.csv", "age\n1\n");
	expect_usage("expect:\n  age: {betwen: {min: 0}}\n",
		     "e.yaml:2:9: unknown key 'betwen' (did you mean 'between'?)");
	expect_usage("colums: [age]\n",
		     "e.yaml:1:1: unknown key 'colums' (did you mean 'columns'?)");
	expect_usage("expect:\n  age:\n    between: {min: 0, mostley: 0.9}\n",
		     "e.yaml:3:23: unknown key 'mostley' (did you mean 'mostly'?)");
	expect_usage("expect:\n  age: {frobnicate: 1}\n", "unknown key 'frobnicate' in a "
							  "column's expectations (expected one of: "
							  "not_null, unique");
	/* every error is reported, sorted by position */
	expect_usage("row_count: {min: x}\nexpect:\n  age: {between: {min: 5, max: 1}}\n",
		     "e.yaml:1:18: min must be a number, not a string\n"
		     "e.yaml:3:18: between: min (5) is greater than max (1)");
	expect_usage("expect:\n  age: {between: {mostly: 2, min: 1}}\n",
		     "e.yaml:2:27: mostly must be between 0 and 1, not 2");
	expect_usage("expect:\n  age: {between: {mostly: 0.5}}\n",
		     "between needs min, max or both");
	expect_usage("expect:\n  age: {mean_between: {min: 1, mostly: 0.5}}\n",
		     "e.yaml:2:32: 'mostly' does not apply to mean_between");
	expect_usage("expect:\n  age: {regex: '(unclosed'}\n",
		     "e.yaml:2:16: bad regular expression");
	expect_usage("columns: {age: integer}\n",
		     "e.yaml:1:16: unknown type 'integer' for column 'age' (did you mean 'int'?)");
	expect_usage("columns: {age: [int]}\n", "the type of column 'age' must be int, float");
	expect_usage("expect:\n  age: {not_null: yes}\n", "not_null must be true or false");
	expect_usage("expect:\n  age: {null_rate_max: 1.5}\n",
		     "null_rate_max must be between 0 and 1");
	expect_usage("expect:\n  age: {in_set: [a, [b]]}\n",
		     "e.yaml:2:21: an in_set value must be");
	expect_usage("columns: [age, age]\n", "column 'age' is listed twice");
	expect_usage("- a\n- b\n", "e.yaml:1:1: an expectations file must be a map, not a list");
	expect_usage("", "e.yaml:1:1: the expectations file is empty");
	expect_usage("expect: {a: 1\n", "e.yaml:");
	/* files */
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "nope.yaml", NULL), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, "nope.yaml: No such file"), "%s", err->msg);
	sl_error_release(&err);
	write_file("e.yaml", "columns: [age]\n");
	ck_assert_int_eq(run_step(&err, "data", "nope.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, "nope.csv: No such file"), "%s", err->msg);
	sl_error_release(&err);
	ck_assert_int_eq(
		run_step(&err, "data", "d.csv", "expectations", "e.yaml", "format", "xml", NULL),
		-1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	sl_error_release(&err);
}
END_TEST

START_TEST(bad_data_is_usage)
{
	write_file("d.csv", "a,b\n1,2\n\"x\ny\",3\n4\n");
	write_file("e.yaml", "columns: [a]\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", NULL), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_msg(strstr(err->msg, "d.csv:5: row has 1 field, the header has 2"), "%s",
		      err->msg);
	sl_error_release(&err);
	/* no report for data that could not be read */
	ck_assert_int_ne(access(path_of("validate-data.json"), F_OK), 0);
	char *out = read_text("outputs");
	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(profile_numbers)
{
	/* x = 1..10 (numpy: quantiles 1.09 3.25 5.5 7.75 9.91, pandas std 3.0276503540974917) */
	write_file("d.csv", "x,c,m\n3,b,1\n1,a,x\n2,b,2\n10,c,3\n4,b,\n5,a,4\n6,b,5\n7,,6\n8,b,7\n"
			    "9,a,8\n");
	write_file("e.yaml", "columns: [x]\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.csv", "expectations", "e.yaml", "profile",
				  "p/prof.json", NULL),
			 0);
	json_t *p = load_json("p/prof.json");
	ck_assert_int_eq(num(p, "rows"), 10);
	json_t *x = json_object_get(json_object_get(p, "columns"), "x");
	ck_assert_str_eq(json_string_value(json_object_get(x, "type")), "int");
	ck_assert_int_eq(num(x, "count"), 10);
	ck_assert_int_eq(num(x, "nulls"), 0);
	ck_assert_int_eq(num(x, "distinct"), 10);
	ck_assert(json_is_true(json_object_get(x, "distinct_exact")));
	ck_assert_double_eq(num(x, "min"), 1);
	ck_assert_double_eq(num(x, "max"), 10);
	ck_assert_double_eq_tol(num(x, "mean"), 5.5, 1e-12);
	ck_assert_double_eq_tol(num(x, "std"), 3.0276503540974917, 1e-12);
	ck_assert_double_eq_tol(num(x, "p01"), 1.09, 1e-12);
	ck_assert_double_eq_tol(num(x, "p25"), 3.25, 1e-12);
	ck_assert_double_eq_tol(num(x, "p50"), 5.5, 1e-12);
	ck_assert_double_eq_tol(num(x, "p75"), 7.75, 1e-12);
	ck_assert_double_eq_tol(num(x, "p99"), 9.91, 1e-12);
	ck_assert(json_is_true(json_object_get(x, "quantiles_exact")));
	json_t *c = json_object_get(json_object_get(p, "columns"), "c");
	ck_assert_str_eq(json_string_value(json_object_get(c, "type")), "string");
	ck_assert_int_eq(num(c, "nulls"), 1);
	ck_assert_double_eq_tol(num(c, "null_rate"), 0.1, 1e-12);
	json_t *top = json_object_get(c, "top");
	ck_assert_int_eq(json_array_size(top), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "value")), "b");
	ck_assert_int_eq(num(json_array_get(top, 0), "count"), 5);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 1), "value")), "a");
	ck_assert(json_object_get(c, "mean") == NULL);
	/* one text value makes a column text: no numeric statistics */
	json_t *m = json_object_get(json_object_get(p, "columns"), "m");
	ck_assert_str_eq(json_string_value(json_object_get(m, "type")), "string");
	ck_assert(json_object_get(m, "p50") == NULL);
	ck_assert_int_eq(num(m, "min_length"), 1);
	json_decref(p);
}
END_TEST

START_TEST(profile_large)
{
	/* 1.5 M rows: past the exact limits (quantiles from a sample of at most
	 * 2^20 values, distinct values from HyperLogLog past 10,000) */
	FILE *f = fopen(path_of("big.csv"), "w");
	fputs("v,k,t\n", f);
	uint64_t s = 42;
	for (int i = 0; i < 1500000; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		double u = (double)(s >> 11) / 9007199254740992.0;
		fprintf(f, "%.6f,%d,%s\n", u, i % 200000, (i % 3) ? "a" : "b");
	}
	fclose(f);
	write_file("e.yaml", "expect: {k: {unique: {mostly: 0}}}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "big.csv", "expectations", "e.yaml", NULL), 0);
	json_t *p = load_json("validate-data.profile.json");
	json_t *v = json_object_get(json_object_get(p, "columns"), "v");
	ck_assert(json_is_false(json_object_get(v, "quantiles_exact")));
	/* uniform on [0, 1): quantiles near q (sample error well under 1%) */
	ck_assert_double_eq_tol(num(v, "p01"), 0.01, 0.002);
	ck_assert_double_eq_tol(num(v, "p50"), 0.5, 0.005);
	ck_assert_double_eq_tol(num(v, "p99"), 0.99, 0.002);
	ck_assert_double_eq_tol(num(v, "mean"), 0.5, 0.002);
	ck_assert_double_eq_tol(num(v, "std"), sqrt(1.0 / 12), 0.002);
	ck_assert(json_is_false(json_object_get(v, "distinct_exact")));
	/* 1.5 M draws from 10^6 six-decimal values: 10^6 (1 - e^-1.5) distinct */
	double d = num(v, "distinct"), want = 1e6 * (1 - exp(-1.5));
	ck_assert_msg(fabs(d - want) / want < 0.03, "distinct estimate %g, want about %g", d, want);
	/* a column with `unique` counts exactly */
	json_t *k = json_object_get(json_object_get(p, "columns"), "k");
	ck_assert(json_is_true(json_object_get(k, "distinct_exact")));
	ck_assert_int_eq(num(k, "distinct"), 200000);
	json_t *t = json_object_get(json_object_get(p, "columns"), "t");
	ck_assert_int_eq(num(json_array_get(json_object_get(t, "top"), 0), "count"), 1000000);
	json_decref(p);
	json_t *rep = load_json("validate-data.json");
	json_t *r = result(rep, "expect_column_values_to_be_unique", "k");
	ck_assert_int_eq(num(r, "unexpected_count"), 1500000);
	ck_assert_int_eq(json_array_size(json_object_get(r, "partial_unexpected_list")), 20);
	json_decref(rep);
}
END_TEST

START_TEST(jsonl_and_null_values)
{
	write_file("d.jsonl", "{\"id\": 1, \"plan\": \"pro\", \"tags\": [1, 2], \"ok\": true}\n"
			      "{\"id\": 2, \"plan\": \"NA\", \"ok\": false, \"extra\": 1}\n"
			      "{\"id\": 3.5, \"plan\": null, \"tags\": {\"a\": null}}\n");
	write_file("e.yaml", "columns: {id: float, plan: string, tags: string, ok: bool}\n"
			     "null_values: [NA]\n"
			     "expect:\n"
			     "  plan: {null_rate_max: 0.5, in_set: [pro]}\n"
			     "  tags: {regex: '^[[{]'}\n"
			     "  id: {between: {min: 1, max: 3.5, strict_max: true}}\n");
	sl_error *err = NULL;
	ck_assert_int_eq(run_step(&err, "data", "d.jsonl", "expectations", "e.yaml", NULL), -1);
	ck_assert_str_eq(err->msg, "2 of 12 expectations failed: "
				   "expect_column_null_rate_to_be_at_most(plan), "
				   "expect_column_values_to_be_between(id)");
	sl_error_release(&err);
	json_t *rep = load_json("validate-data.json");
	json_t *r = result(rep, "expect_column_null_rate_to_be_at_most", "plan");
	ck_assert_double_eq_tol(num(r, "observed_value"), 2.0 / 3, 1e-12);
	r = result(rep, "expect_column_values_to_be_between", "id");
	ck_assert_double_eq(
		json_real_value(json_array_get(json_object_get(r, "partial_unexpected_list"), 0)),
		3.5);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "meta"), "format")),
			 "jsonl");
	json_decref(rep);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("validate_data");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, all_pass);
	tcase_add_test(tc, ge_mostly_and_percent);
	tcase_add_test(tc, ge_unique_and_numeric_set);
	tcase_add_test(tc, ge_unique_mostly_passes);
	tcase_add_test(tc, ge_text_set_regex_and_vacuous);
	tcase_add_test(tc, types_rows_missing_columns);
	tcase_add_test(tc, expectation_errors);
	tcase_add_test(tc, bad_data_is_usage);
	tcase_add_test(tc, profile_numbers);
	tcase_add_test(tc, profile_large);
	tcase_add_test(tc, jsonl_and_null_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
