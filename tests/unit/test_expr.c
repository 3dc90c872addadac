/*
 * test_expr.c — unit tests for the expression language and templates (orchestrator/expr.c).
 *
 * Every test parses and evaluates against a small fixed table of names (see lookup()),
 * and checks values, exact error messages and exact error offsets.  Each test runs in
 * its own arena, released by the fixture, so ASan's leak checker sees a clean exit.
 */
#include "sluice/expr.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static arena A;

static void setup(void)
{
	arena_release(&A);
}

static void teardown(void)
{
	arena_release(&A);
}

/* ---- the names the tests can see -------------------------------------------- */

struct names {
	int calls; /* lookups made, to see short-circuiting */
};

struct entry {
	const char *name;
	expr_value v;
};

static const struct entry table[] = {
	{"params.n", {EXPR_NUM, 0, 300, NULL}},
	{"params.lr", {EXPR_NUM, 0, 0.1, NULL}},
	{"params.data", {EXPR_STR, 0, 0, "data/churn.csv"}},
	{"params.s", {EXPR_STR, 0, 0, "abc"}},
	{"params.acc", {EXPR_STR, 0, 0, "0.93\n"}},
	{"params.zero", {EXPR_NUM, 0, 0, NULL}},
	{"params.empty", {EXPR_STR, 0, 0, ""}},
	{"params.t", {EXPR_BOOL, 1, 0, NULL}},
	{"params.nil", {EXPR_NULL, 0, 0, NULL}},
	{"params.true", {EXPR_STR, 0, 0, "kw"}},
	{"steps.my-step.outputs.x", {EXPR_STR, 0, 0, "7"}},
	{"steps.train[lr=0.1].status", {EXPR_STR, 0, 0, "success"}},
	{"a-b", {EXPR_NUM, 0, 5, NULL}},
	{"a", {EXPR_NUM, 0, 10, NULL}},
	{"params.lrs", {EXPR_ARRAY, 0, 0, "[0.1,0.03]"}},
	{"params.words", {EXPR_ARRAY, 0, 0, "[\"Hello\",\"world\",2,true,null]"}},
	{"params.obj", {EXPR_OBJECT, 0, 0, "{\"Name\":\"mona\",\"n\":2,\"l\":[1]}"}},
	{"params.tag", {EXPR_STR, 0, 0, ""}},
	{"params.nan", {EXPR_NUM, 0, NAN, NULL}},
	{"success()", {EXPR_BOOL, 0, 0, NULL}},
	{"failure()", {EXPR_BOOL, 1, 0, NULL}},
	{"always()", {EXPR_BOOL, 1, 0, NULL}},
	{"cancelled()", {EXPR_BOOL, 0, 0, NULL}},
	{"b", {EXPR_NUM, 0, 3, NULL}},
};

static int lookup(void *ctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		  size_t msgsize)
{
	struct names *nm = ctx;
	char key[256] = "";
	nm->calls++;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(key, ".", sizeof(key) - strlen(key) - 1);
		strncat(key, parts[i], sizeof(key) - strlen(key) - 1);
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (!strcmp(table[i].name, key)) {
			*out = table[i].v;
			return 0;
		}
	}
	/* params.* failures explain themselves; anything else gets the default message */
	if (n == 2 && !strcmp(parts[0], "params"))
		snprintf(msg, msgsize, "unknown param '%s'", parts[1]);
	return -1;
}

static int bad_lookup(void *ctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		      size_t msgsize)
{
	out->type = (expr_type)42;
	return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static expr_value eval_ok(const char *src)
{
	struct names nm = {0};
	expr *e = NULL;
	expr_error err = {0};
	expr_value v = {0};
	int rc = expr_parse(&A, src, strlen(src), 0, &e, &err);
	ck_assert_msg(rc == 0, "parse of \"%s\" failed at %zu: %s", src, err.offset, err.msg);
	rc = expr_eval(e, &A, lookup, &nm, &v, &err);
	ck_assert_msg(rc == 0, "eval of \"%s\" failed at %zu: %s", src, err.offset, err.msg);
	return v;
}

static void num_is(const char *src, double want)
{
	expr_value v = eval_ok(src);
	ck_assert_msg(v.type == EXPR_NUM, "\"%s\": type %d, want a number", src, v.type);
	ck_assert_msg(v.num == want, "\"%s\" = %.17g, want %.17g", src, v.num, want);
}

static void str_is(const char *src, const char *want)
{
	expr_value v = eval_ok(src);
	ck_assert_msg(v.type == EXPR_STR, "\"%s\": type %d, want a string", src, v.type);
	if (want)
		ck_assert_msg(!strcmp(v.str, want), "\"%s\" = '%s', want '%s'", src, v.str, want);
}

static void bool_is(const char *src, int want)
{
	expr_value v = eval_ok(src);
	ck_assert_msg(v.type == EXPR_BOOL, "\"%s\": type %d, want a bool", src, v.type);
	ck_assert_msg(v.b == want, "\"%s\" = %d, want %d", src, v.b, want);
}

static void parse_err(const char *src, size_t base, size_t off, const char *msg)
{
	expr *e = NULL;
	expr_error err = {0};
	int rc = expr_parse(&A, src, strlen(src), base, &e, &err);
	ck_assert_msg(rc == -1, "\"%s\" parsed, want error '%s'", src, msg);
	ck_assert_msg(e == NULL, "\"%s\": *out set on error", src);
	ck_assert_msg(!strcmp(err.msg, msg), "\"%s\": error '%s', want '%s'", src, err.msg, msg);
	ck_assert_msg(err.offset == off, "\"%s\": error at %zu, want %zu", src, err.offset, off);
}

static void eval_err(const char *src, size_t off, const char *msg)
{
	struct names nm = {0};
	expr *e = NULL;
	expr_error err = {0};
	expr_value v;
	int rc = expr_parse(&A, src, strlen(src), 0, &e, &err);
	ck_assert_msg(rc == 0, "parse of \"%s\" failed: %s", src, err.msg);
	rc = expr_eval(e, &A, lookup, &nm, &v, &err);
	ck_assert_msg(rc == -1, "\"%s\" evaluated, want error '%s'", src, msg);
	ck_assert_msg(!strcmp(err.msg, msg), "\"%s\": error '%s', want '%s'", src, err.msg, msg);
	ck_assert_msg(err.offset == off, "\"%s\": error at %zu, want %zu", src, err.offset, off);
}

static const char *num_text(double d)
{
	expr_value v = {EXPR_NUM, 0, d, NULL};
	return expr_to_string(&A, &v);
}

/* ---- precedence and associativity --------------------------------------------- */

START_TEST(test_precedence)
{
	num_is("1 + 2 * 3", 7);
	num_is("(1 + 2) * 3", 9);
	num_is("2 * 3 + 4 * 5", 26);
	num_is("10 - 4 - 3", 3);   /* left-assoc */
	num_is("100 / 10 / 5", 2); /* left-assoc */
	num_is("2 * 3 / 4", 1.5);
	num_is("1 - 2 + 3", 2);
	num_is("-2 * 3", -6);
	num_is("-(2 + 3)", -5);
	num_is("- -4", 4);
	num_is("2 * -3", -6);
	num_is("1-2", -1);                    /* digits start no identifier: subtraction */
	bool_is("1 + 2 == 3", 1);             /* comparison binds looser than + */
	bool_is("true || false && false", 1); /* && binds tighter than || */
	bool_is("(true || false) && false", 0);
	bool_is("!false && false", 0); /* ! binds tightest */
	bool_is("!1 == false", 1);
	bool_is("1 == 1 && 2 == 2", 1);
	bool_is("1 < 2 || x", 1);
	bool_is("!!'x'", 1);
	num_is("((((7))))", 7);
}
END_TEST

START_TEST(test_operators)
{
	bool_is("2 == 2", 1);
	bool_is("2 == 3", 0);
	bool_is("2 != 3", 1);
	bool_is("2 != 2", 0);
	bool_is("2 < 3", 1);
	bool_is("3 < 3", 0);
	bool_is("3 <= 3", 1);
	bool_is("4 <= 3", 0);
	bool_is("4 > 3", 1);
	bool_is("3 > 3", 0);
	bool_is("3 >= 3", 1);
	bool_is("2 >= 3", 0);
	bool_is("true && true", 1);
	bool_is("true && false", 0);
	bool_is("false || true", 1);
	bool_is("false || false", 0);
	bool_is("!true", 0);
	bool_is("!null", 1);
	num_is("7 + 8", 15);
	num_is("7 - 8", -1);
	num_is("7 * 8", 56);
	num_is("7 / 8", 0.875);
	num_is("-7", -7);
	num_is("1.5e3", 1500);
	num_is("2E-2", 0.02);
	num_is("0x1F", 31);
	num_is("0XfF", 255);
	num_is("007", 7);
	str_is("'it''s'", "it's");
	str_is("''", "");
	str_is("'a}}b'", "a}}b");
	eval_ok("null");
	ck_assert_int_eq(eval_ok("null").type, EXPR_NULL);
	/* && and || yield the operand that decided, as in GitHub */
	str_is("1 && 'x'", "x");
	str_is("0 || ''", "");
	/* a long run of one level is one node: no deep recursion, linear concatenation */
	char big[6000];
	size_t k = 0;
	big[k++] = '1';
	while (k + 4 < sizeof(big)) {
		memcpy(big + k, " + 1", 4);
		k += 4;
	}
	big[k] = 0;
	num_is(big, (double)((k - 1) / 4 + 1));

	/* many strings cost space in proportion to the input, not its square */
	static char many[EXPR_MAX_LEN + 1];
	k = 0;
	while (k + 5 < EXPR_MAX_LEN) {
		memcpy(many + k, "'x'+", 4);
		k += 4;
	}
	memcpy(many + k, "'x'", 4);
	arena_release(&A);
	str_is(many, NULL);
	ck_assert_msg(A.total < (4u << 20), "arena grew to %zu bytes", A.total);
}
END_TEST

/* ---- coercions ------------------------------------------------------------------ */

START_TEST(test_coercions)
{
	/* + concatenates when either side is a string */
	str_is("'1' + 2", "12");
	str_is("1 + '2'", "12");
	str_is("'a' + 'b'", "ab");
	str_is("'x' + true", "xtrue");
	str_is("'x' + null", "x");
	str_is("'x' + 0.1", "x0.1");
	str_is("1 + 2 + 'a'", "3a"); /* left to right */
	str_is("'a' + 1 + 2", "a12");
	num_is("'5' + 1 - 2", 49); /* '51' - 2 */
	str_is("params.data + '.bak'", "data/churn.csv.bak");
	/* - * / take numeric strings */
	num_is("'3' * 2", 6);
	num_is("' 4 ' - 1", 3);
	num_is("'0x10' / 2", 8);
	num_is("'-2.5' * 2", -5);
	num_is("params.acc * 100", 93);
	num_is("-'3'", -3);
	/* == and != */
	bool_is("3 == '3'", 1);
	bool_is("'3.0' == 3", 1);
	bool_is("params.acc == 0.93", 1);
	bool_is("'3' == '3.0'", 0); /* two strings compare exactly */
	bool_is("'abc' == 'abc'", 1);
	bool_is("'abc' == 'ABC'", 1); /* GitHub ignores case */
	bool_is("true == 'true'", 0); /* 1 == NaN */
	bool_is("1 == true", 1);
	bool_is("null == null", 1);
	bool_is("null == false", 1);
	bool_is("null == ''", 1);
	bool_is("'x' != 1", 1);
	bool_is("true == true", 1);
	/* < <= > >= */
	bool_is("'abc' < 'abd'", 1);
	bool_is("'10' < '9'", 1); /* two strings: lexical */
	bool_is("10 < '9'", 0);   /* a number and a numeric string: numeric */
	bool_is("params.acc >= 0.9", 1);
	bool_is("'b' >= 'a'", 1);
	bool_is("'c' > 'a'", 1); /* strcmp may answer 2: must still be "greater" */
	bool_is("'c' >= 'a'", 1);
	bool_is("'a' < 'z'", 1);
	bool_is("'z' <= 'a'", 0);
}
END_TEST

/* ---- GitHub's documented cases ----------------------------------------------------- */

/* One case: the expression, the type of its value and the value as text. */
struct gh_case {
	const char *src;
	expr_type type;
	const char *text;
};

static void check_cases(const struct gh_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		expr_value v = eval_ok(cases[i].src);
		const char *got = expr_to_string(&A, &v);
		ck_assert_msg(v.type == cases[i].type && !strcmp(got, cases[i].text),
			      "\"%s\" = (type %d) '%s', want (type %d) '%s'", cases[i].src, v.type,
			      got, cases[i].type, cases[i].text);
	}
}

#define B        EXPR_BOOL
#define N        EXPR_NUM
#define S        EXPR_STR
#define CASES(t) check_cases(t, sizeof(t) / sizeof(t[0]))

START_TEST(test_github_literals)
{
	static const struct gh_case t[] = {
		{"711", N, "711"},
		{"-9.2", N, "-9.2"},
		{"0xff", N, "255"},
		{"-2.99e-2", N, "-0.0299"},
		{".5", N, "0.5"},
		{"5.", N, "5"},
		{"1e3", N, "1000"},
		{"0o10", N, "8"},
		{"0b101", N, "5"},
		{"+5", N, "5"},
		{"NaN", N, "NaN"},
		{"Infinity", N, "Infinity"},
		{"-Infinity", N, "-Infinity"},
		{"'It''s open source!'", S, "It's open source!"},
		{"null", EXPR_NULL, ""},
		{"false", B, "false"},
	};
	CASES(t);
	/* NaN and Infinity after a '.' are names (params.NaN); the lookup does not know it */
	eval_err("params.NaN", 0, "unknown param 'NaN'");
}
END_TEST

START_TEST(test_github_equality)
{
	/* "GitHub performs loose equality comparisons": types that differ become numbers */
	static const struct gh_case t[] = {
		{"true == 1", B, "true"},
		{"false == 0", B, "true"},
		{"'' == 0", B, "true"},
		{"null == false", B, "true"},
		{"null == 0", B, "true"},
		{"'1' == true", B, "true"},
		{"' 2 ' == 2", B, "true"},
		{"'0x10' == 16", B, "true"},
		{"'abc' == 0", B, "false"},
		{"NaN == NaN", B, "false"},
		{"NaN != NaN", B, "true"},
		{"'NaN' == NaN", B, "false"},
		{"'Infinity' == Infinity", B, "true"},
		{"'abc' == 'ABC'", B, "true"},
		{"'abc' != 'ABd'", B, "true"},
		{"null == null", B, "true"},
		{"null == ''", B, "true"},
		{"'true' == true", B, "false"},
		{"2 == true", B, "false"},
		{"params.lrs == params.lrs", B, "true"}, /* the same instance */
		{"fromJSON('[]') == fromJSON('[]')", B, "false"},
		{"params.lrs == 0", B, "false"},
		{"params.obj == null", B, "false"},
	};
	CASES(t);
}
END_TEST

START_TEST(test_github_relational)
{
	static const struct gh_case t[] = {
		{"1 < 2", B, "true"},
		{"1.001 < 1.002", B, "true"},
		{"'abc' < 'def'", B, "true"},
		{"'b' < 'a'", B, "false"},
		{"'a' < 'B'", B, "true"}, /* case ignored: 'A' < 'B' */
		{"'_' > 'a'", B, "true"}, /* compared as upper case: '_' > 'A' */
		{"false < true", B, "true"},
		{"true > false", B, "true"},
		{"false < 0", B, "false"},
		{"false <= 0", B, "true"},
		{"null < 1", B, "true"},
		{"'2' > 1", B, "true"},
		{"'a' < 1", B, "false"},
		{"'a' >= 1", B, "false"}, /* NaN */
		{"NaN < 1", B, "false"},
		{"NaN >= NaN", B, "false"},
		{"params.nan > 0", B, "false"},
		{"params.nan <= 0", B, "false"},
		{"params.lrs < params.lrs", B, "false"},
		{"params.lrs <= params.lrs", B, "true"},
		{"Infinity > 1e308", B, "true"},
	};
	CASES(t);
}
END_TEST

START_TEST(test_github_logical)
{
	static const struct gh_case t[] = {
		{"params.tag || 'latest'", S, "latest"},
		{"'v1' || 'latest'", S, "v1"},
		{"1 && 2", N, "2"},
		{"0 && 2", N, "0"},
		{"null || 0", N, "0"},
		{"'' && 'x'", S, ""},
		{"!0", B, "true"},
		{"!'x'", B, "false"},
		{"!params.lrs", B, "false"},
		{"!NaN", B, "true"},
		{"true && params.lrs", EXPR_ARRAY, "[0.1,0.03]"},
	};
	CASES(t);
}
END_TEST

START_TEST(test_github_precedence)
{
	/* GitHub's operators_precedence cases: each level left to right */
	static const struct gh_case t[] = {
		{"!2 < 3", B, "true"},
		{"!(2 < 3)", B, "false"},
		{"3 < 2 < 1", B, "true"},
		{"3 < (2 < 1)", B, "false"},
		{"3 < 2 <= 1", B, "true"},
		{"0 > 0 < 1", B, "true"},
		{"2 > 2 > 0", B, "false"},
		{"2 > (2 > 0)", B, "true"},
		{"2 <= 3 == true", B, "true"},
		{"2 <= (3 == true)", B, "false"},
		{"2 == 2 == 1", B, "true"},
		{"2 == (2 == 1)", B, "false"},
		{"2 == 2 != 0", B, "true"},
		{"1 == 1 && 2", N, "2"},
		{"1 == (1 && 2)", B, "false"},
		{"'a' == 'a' && 'b'", S, "b"},
		{"false && 0 || null", EXPR_NULL, ""},
		{"1 || 2 && 3", N, "1"},
		{"(1 || 2) && 3", N, "3"},
		{"1 + 2 < 4", B, "true"}, /* sluice's + binds tighter */
	};
	CASES(t);
}
END_TEST

START_TEST(test_github_contexts)
{
	/* context names and function names ignore case */
	num_is("Params.n", 300);
	num_is("PARAMS.n", 300);
	str_is("STEPS.my-step.outputs.x", "7");
	bool_is("ContainS('abc', 'B')", 1);
	/* members of arrays and objects */
	static const struct gh_case t[] = {
		{"params.lrs[0]", N, "0.1"},
		{"params.lrs[1]", N, "0.03"},
		{"params.lrs[2]", EXPR_NULL, ""},
		{"params.lrs[-1]", EXPR_NULL, ""},
		{"params.obj.name", S, "mona"},
		{"params.obj['N']", N, "2"},
		{"params.obj.l[0]", N, "1"},
		{"fromJSON('{}').missing", EXPR_NULL, ""},
		{"fromJSON('{\"a\":{\"b\":[5]}}').a.b[0]", N, "5"},
		{"(params.lrs)[0]", N, "0.1"},
		{"params.n[0]", EXPR_NULL, ""},
	};
	CASES(t);
	/* a name stays a name: one that is not there is an error, never null */
	eval_err("params.obj.missing", 0, "unknown name 'params.obj.missing'");
}
END_TEST

START_TEST(test_github_functions)
{
	static const struct gh_case t[] = {
		/* contains: a substring ignoring case, or an element of an array */
		{"contains('Hello world', 'llo')", B, "true"},
		{"contains('Hello world', 'LLO')", B, "true"},
		{"contains('Hello', 'x')", B, "false"},
		{"contains(params.words, 'hello')", B, "true"},
		{"contains(params.words, '2')", B, "true"}, /* loose: '2' == 2 */
		{"contains(params.words, 'wor')", B, "false"},
		{"contains(params.words, null)", B, "true"},
		{"contains(fromJSON('[\"push\", \"pull_request\"]'), 'push')", B, "true"},
		{"contains(123, 2)", B, "true"},
		{"contains('abc', params.lrs)", B, "false"},
		{"contains(params.obj, 'mona')", B, "false"},
		/* startsWith, endsWith */
		{"startsWith('Hello world', 'He')", B, "true"},
		{"startsWith('Hello world', 'HE')", B, "true"},
		{"startsWith('Hello', 'Hello world')", B, "false"},
		{"endsWith('Hello world', 'ld')", B, "true"},
		{"endsWith('Hello world', 'LD')", B, "true"},
		{"endsWith('Hello world', 'x')", B, "false"},
		{"startsWith(12, 1)", B, "true"},
		{"endsWith(params.lrs, ']')", B, "false"},
		/* format */
		{"format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", S,
		 "Hello Mona the Octocat"},
		{"format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", S,
		 "{Hello Mona the Octocat!}"},
		{"format('{0}{0}', 1)", S, "11"},
		{"format('no args')", S, "no args"},
		{"format('{0}', null)", S, ""},
		{"format('{0}', true)", S, "true"},
		{"format('{1}', 'a', 'b')", S, "b"},
		/* join */
		{"join(params.words, ', ')", S, "Hello, world, 2, true, "},
		{"join(params.lrs)", S, "0.1,0.03"},
		{"join('abc', '-')", S, "abc"},
		{"join(params.obj)", S, ""},
		{"join(fromJSON('[]'))", S, ""},
		/* toJSON, fromJSON */
		{"toJSON(params.lrs)", S, "[\n  0.1,\n  0.03\n]"},
		{"toJSON(params.obj)", S,
		 "{\n  \"Name\": \"mona\",\n  \"n\": 2,\n  \"l\": [\n    1\n  ]\n}"},
		{"toJSON('a\"b')", S, "\"a\\\"b\""},
		{"toJSON(1.5)", S, "1.5"},
		{"toJSON(null)", S, "null"},
		{"toJSON(fromJSON('[]'))", S, "[]"},
		{"fromJSON('1.5') + 1", N, "2.5"},
		{"fromJSON('true')", B, "true"},
		{"fromJSON('null')", EXPR_NULL, ""},
		{"fromJSON('\"x\"')", S, "x"},
		{"fromJSON(' [1, 2] ')", EXPR_ARRAY, "[1,2]"},
		{"fromJSON('{\"a\": 1}')", EXPR_OBJECT, "{\"a\":1}"},
		{"fromJSON('2') > 10", B, "false"},
		/* status functions: what the lookup says */
		{"failure()", B, "true"},
		{"success()", B, "false"},
		{"always() && !cancelled()", B, "true"},
		{"FAILURE()", B, "true"},
	};
	CASES(t);
}
END_TEST

START_TEST(test_github_errors)
{
	parse_err("foo(1)", 0, 0,
		  "unknown function 'foo' (functions: contains, startsWith, endsWith, format, "
		  "join, toJSON, fromJSON, success, failure, always, cancelled)");
	parse_err("contains('a')", 0, 0, "contains() takes 2 arguments, got 1");
	parse_err("contains('a', 'b', 'c')", 0, 19, "contains() takes at most 2 arguments");
	parse_err("format()", 0, 0, "format() takes at least 1 argument, got 0");
	parse_err("success(1)", 0, 8, "success() takes at most 0 arguments");
	parse_err("join(1, 2", 3, 7, "'(' of join() is not closed");
	parse_err("join(1 2)", 0, 7, "expected ',' or ')' in the call of join(), found '2'");
	parse_err("params.x(1)", 0, 8,
		  "expected an operator or the end of the expression, found '('");
	parse_err("a,b", 0, 1, "expected an operator or the end of the expression, found ','");
	parse_err("fromJSON('[1]').", 0, 16, "expected a name after '.'");
	parse_err("0o8", 0, 0, "malformed number '0o8'");
	parse_err("1.5.", 0, 0, "malformed number '1.5.'");
	eval_err("format('{0} {1}', 'a')", 0,
		 "format: '{0} {1}' refers to argument {1}, but only 1 follows");
	eval_err("format('{x}', 1)", 0, "format: invalid format string '{x}'");
	eval_err("1 + format('a}', 1)", 4,
		 "format: invalid format string 'a}' (write '}}' for a '}')");
	eval_err("fromJSON('[1,')", 0,
		 "fromJSON: not valid JSON: ']' expected near end of file (at character 3)");
	eval_err("params.lrs * 2", 11, "'*' needs numbers, got an array");
}
END_TEST

#undef B
#undef N
#undef S

START_TEST(test_truthiness)
{
	const expr_value falsy[] = {
		{EXPR_BOOL, 0, 0, NULL},   {EXPR_NULL, 0, 0, NULL},  {EXPR_NUM, 0, 0, NULL},
		{EXPR_NUM, 0, -0.0, NULL}, {EXPR_NUM, 0, NAN, NULL}, {EXPR_STR, 0, 0, ""},
	};
	const expr_value truthy[] = {
		{EXPR_BOOL, 1, 0, NULL}, {EXPR_NUM, 0, -1, NULL},   {EXPR_NUM, 0, 0.5, NULL},
		{EXPR_STR, 0, 0, "0"},   {EXPR_STR, 0, 0, "false"}, {EXPR_NUM, 0, INFINITY, NULL},
	};
	for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++)
		ck_assert_msg(!expr_truthy(&falsy[i]), "falsy value %zu is truthy", i);
	for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++)
		ck_assert_msg(expr_truthy(&truthy[i]), "truthy value %zu is falsy", i);
	bool_is("!''", 1);
	bool_is("!'0'", 0);
	bool_is("!0", 1);
	bool_is("!params.nil", 1);
	bool_is("!params.empty", 1);
	bool_is("!params.zero", 1);
	bool_is("!params.t", 0);
}
END_TEST

START_TEST(test_short_circuit)
{
	struct names nm = {0};
	expr *e;
	expr_error err = {0};
	expr_value v;
	const char *src = "false && params.nope";
	ck_assert_int_eq(expr_parse(&A, src, strlen(src), 0, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.type, EXPR_BOOL);
	ck_assert_int_eq(v.b, 0);
	ck_assert_int_eq(nm.calls, 0);

	src = "params.t || params.nope || 1 / 0";
	ck_assert_int_eq(expr_parse(&A, src, strlen(src), 0, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.b, 1);
	ck_assert_int_eq(nm.calls, 1);

	/* the right side is evaluated when it decides */
	eval_err("true && params.nope", 8, "unknown param 'nope'");
	eval_err("false || 1 / 0", 11, "division by zero");
	ck_assert_int_eq(eval_ok("params.nil && x").type, EXPR_NULL);
}
END_TEST

/* ---- names -------------------------------------------------------------------- */

START_TEST(test_lookups)
{
	num_is("params.n", 300);
	num_is("params . n", 300);
	num_is("params.n - 1", 299);
	num_is("params.n -1", 299);
	num_is("params.n- 1", 299);
	str_is("steps.my-step.outputs.x", "7");
	num_is("steps.my-step.outputs.x * 2", 14);
	str_is("steps['train[lr=0.1]'].status", "success");
	str_is("steps['train[lr=0.1]']['status']", "success");
	num_is("a-b", 5);   /* one name */
	num_is("a - b", 7); /* subtraction */
	num_is("a -b", 7);
	str_is("params.true", "kw"); /* keywords may follow '.' */
	ck_assert_int_eq(eval_ok("params.nil").type, EXPR_NULL);
	/* without a lookup every name is unknown */
	expr *e;
	expr_error err = {0};
	expr_value v;
	ck_assert_int_eq(expr_parse(&A, "x", 1, 0, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, &A, NULL, NULL, &v, &err), -1);
	ck_assert_str_eq(err.msg, "unknown name 'x'");
	/* a lookup that answers garbage is an error, not undefined behaviour */
	ck_assert_int_eq(expr_parse(&A, "1 + bad", 7, 0, &e, &err), 0);
	ck_assert_int_eq(expr_eval(e, &A, bad_lookup, NULL, &v, &err), -1);
	ck_assert_uint_eq(err.offset, 4);
	ck_assert_str_eq(err.msg, "lookup gave an invalid value");
	ck_assert_int_eq(expr_eval(NULL, &A, lookup, NULL, &v, &err), -1);
}
END_TEST

struct refs {
	int n;
	char names[8][64];
	size_t offs[8];
	int stop_at; /* return 5 at this visit (1-based), 0: never */
};

static int collect(void *ctx, const char *const *parts, size_t n, size_t offset)
{
	struct refs *r = ctx;
	char *s = r->names[r->n];
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, "|");
		strcat(s, parts[i]);
	}
	r->offs[r->n++] = offset;
	return r->n == r->stop_at ? 5 : 0;
}

START_TEST(test_walk_refs)
{
	struct refs r = {0};
	expr *e;
	expr_error err = {0};
	const char *src = "params.a && (steps['x y'].outputs.z || !env.HOME) == 'a'";
	ck_assert_int_eq(expr_parse(&A, src, strlen(src), 100, &e, &err), 0);
	ck_assert_int_eq(expr_walk_refs(e, collect, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_str_eq(r.names[0], "params|a");
	ck_assert_str_eq(r.names[1], "steps|x y|outputs|z");
	ck_assert_str_eq(r.names[2], "env|HOME");
	ck_assert_uint_eq(r.offs[0], 100);
	ck_assert_uint_eq(r.offs[1], 113);
	ck_assert_uint_eq(r.offs[2], 140);

	struct refs r2 = {.stop_at = 2};
	ck_assert_int_eq(expr_walk_refs(e, collect, &r2), 5);
	ck_assert_int_eq(r2.n, 2);
}
END_TEST

/* ---- errors --------------------------------------------------------------------- */

START_TEST(test_parse_errors)
{
	parse_err("1 &&", 0, 4, "expected an operand after '&&'");
	parse_err("1 && )", 0, 5, "expected an operand after '&&', found ')'");
	parse_err("1 +", 10, 13, "expected an operand after '+'");
	parse_err("!", 0, 1, "expected an operand after '!'");
	parse_err("()", 0, 1, "expected an operand after '(', found ')'");
	parse_err("1 == ", 0, 5, "expected an operand after '=='");
	parse_err("* 2", 0, 0, "expected an operand, found '*'");
	parse_err("", 0, 0, "empty expression");
	parse_err("   ", 7, 10, "empty expression");
	parse_err("'abc", 0, 0, "unterminated string (strings use single quotes)");
	parse_err("1 + 'it''s", 4, 8, "unterminated string (strings use single quotes)");
	parse_err("\"abc\"", 0, 0, "'\"' is not allowed: strings use single quotes");
	parse_err("a == \"x\"", 3, 8, "'\"' is not allowed: strings use single quotes");
	parse_err("a = 1", 0, 2, "'=' is not an operator: use '==' to compare");
	parse_err("a & b", 0, 2, "'&' is not an operator: use '&&'");
	parse_err("a | b", 0, 2, "'|' is not an operator: use '||'");
	parse_err("(1 + 2", 0, 0, "'(' is not closed");
	parse_err("(1 2)", 0, 3, "expected ')', found '2'");
	parse_err("1 + 2)", 0, 5, "unexpected ')' without a matching '('");
	parse_err("1 2", 0, 2, "expected an operator or the end of the expression, found '2'");
	parse_err("a 'x'", 0, 2,
		  "expected an operator or the end of the expression, found a string");
	parse_err("a.", 0, 2, "expected a name after '.'");
	parse_err("a.1", 0, 2, "expected a name after '.', found '1'");
	parse_err("a[1", 0, 3, "expected ']'");
	parse_err("a['x'", 0, 5, "expected ']'");
	parse_err("a['x')", 0, 5, "expected ']', found ')'");
	parse_err("a['']", 0, 2, "empty name in '[ ]'");
	parse_err("3abc", 0, 0, "malformed number '3abc'");
	parse_err("1.2.3", 0, 0, "malformed number '1.2.3'");
	parse_err("0x", 0, 0, "malformed number '0x'");
	parse_err("1e", 0, 0, "malformed number '1e'");
	parse_err("1e999", 0, 0, "number is too large");
	parse_err("1 # 2", 0, 2, "unexpected character '#'");
	parse_err("a\x01", 0, 1, "unexpected byte 0x01");
	parse_err("\xc3\xa9", 0, 0, "unexpected non-ASCII character (names are ASCII)");
	parse_err("a ${{ b }}", 0, 2, "'${{' cannot appear inside an expression");
	parse_err("}}", 0, 0, "unexpected character '}'");
	parse_err("$x", 0, 0, "unexpected character '$'");
	/* the lexer is lazy: the first problem in reading order wins */
	parse_err("1 2 \"x\"", 0, 2,
		  "expected an operator or the end of the expression, found '2'");
	/* an embedded NUL is a byte like any other, not the end */
	expr *e;
	expr_error err = {0};
	ck_assert_int_eq(expr_parse(&A, "1 +\0 2", 6, 0, &e, &err), -1);
	ck_assert_uint_eq(err.offset, 3);
	ck_assert_str_eq(err.msg, "unexpected byte 0x00");
	ck_assert_int_eq(expr_parse(&A, "'a\0b'", 5, 1, &e, &err), -1);
	ck_assert_uint_eq(err.offset, 3);
	ck_assert_str_eq(err.msg, "a NUL byte is not allowed inside a string");
}
END_TEST

START_TEST(test_eval_errors)
{
	eval_err("params.nope", 0, "unknown param 'nope'");
	eval_err("1 + steps.x.outputs.y", 4, "unknown name 'steps.x.outputs.y'");
	eval_err("steps['a b'].status", 0, "unknown name 'steps['a b'].status'");
	eval_err("params.n-1 > 3", 0,
		 "unknown param 'n-1' (a '-' inside a name is part of it: write 'a - b' to "
		 "subtract)");
	eval_err("1 + true", 2, "'+' needs numbers or strings, got a bool");
	eval_err("null + 1", 5, "'+' needs numbers or strings, got null");
	eval_err("'abc' * 2", 6, "'*' needs numbers, got a non-numeric string");
	eval_err("2 - true", 2, "'-' needs numbers, got a bool");
	eval_err("1 + 2 / ''", 6, "'/' needs numbers, got a non-numeric string");
	eval_err("1 / 0", 2, "division by zero");
	eval_err("1 / (2 - 2)", 2, "division by zero");
	eval_err("1e308 * 10", 6, "result of '*' is out of range");
	eval_err("-'x'", 0, "'-' needs a number, got a non-numeric string");
	eval_err("- null", 0, "'-' needs a number, got null");
	/* errors inside a run of + point at the operator that failed */
	eval_err("'a' + 'b' - 1", 10, "'-' needs numbers, got a non-numeric string");
}
END_TEST

START_TEST(test_depth_and_length)
{
	char buf[EXPR_MAX_LEN + 64];
	size_t d = EXPR_MAX_DEPTH;
	/* exactly the limit parses */
	memset(buf, '(', d);
	buf[d] = '1';
	memset(buf + d + 1, ')', d);
	buf[2 * d + 1] = 0;
	num_is(buf, 1);
	/* one more does not, and the error is at the paren that went too deep */
	memset(buf, '(', d + 1);
	buf[d + 1] = '1';
	memset(buf + d + 2, ')', d + 1);
	buf[2 * d + 3] = 0;
	parse_err(buf, 0, d, "expression nested too deeply (more than 64 levels)");
	/* unary chains count too */
	memset(buf, '!', 1000);
	strcpy(buf + 1000, "x");
	parse_err(buf, 0, d, "expression nested too deeply (more than 64 levels)");
	memset(buf, '-', 64);
	strcpy(buf + 64, "1");
	num_is(buf, 1);
	/* deep parens of any size stay an error, never a stack overflow */
	memset(buf, '(', EXPR_MAX_LEN);
	buf[EXPR_MAX_LEN] = 0;
	parse_err(buf, 0, d, "expression nested too deeply (more than 64 levels)");
	/* length */
	memset(buf, ' ', EXPR_MAX_LEN + 1);
	buf[0] = '1';
	buf[EXPR_MAX_LEN + 1] = 0;
	parse_err(buf, 5, 5, "expression is too long (more than 16384 bytes)");
	buf[EXPR_MAX_LEN] = 0;
	num_is(buf, 1);
}
END_TEST

/* ---- numbers as text ------------------------------------------------------------ */

START_TEST(test_number_format)
{
	ck_assert_str_eq(num_text(3), "3");
	ck_assert_str_eq(num_text(0.1), "0.1");
	ck_assert_str_eq(num_text(1e21), "1e+21");
	ck_assert_str_eq(num_text(-0.5), "-0.5");
	ck_assert_str_eq(num_text(1e20), "100000000000000000000");
	ck_assert_str_eq(num_text(-0.0), "0");
	ck_assert_str_eq(num_text(-42), "-42");
	ck_assert_str_eq(num_text(123456789012.0), "123456789012");
	ck_assert_str_eq(num_text(1.0 / 3), "0.3333333333333333");
	ck_assert_str_eq(num_text(0.1 + 0.2), "0.30000000000000004");
	ck_assert_str_eq(num_text(1.5e-7), "1.5e-07");
	ck_assert_str_eq(num_text(NAN), "NaN");
	ck_assert_str_eq(num_text(-INFINITY), "-Infinity");
	str_is("'' + 0.1 * 3", "0.30000000000000004");
	str_is("'' + 3.0", "3");
	str_is("'' + 1e21", "1e+21");
	str_is("'' + -0.5", "-0.5");

	expr_value t = {EXPR_BOOL, 1, 0, NULL}, n = {EXPR_NULL, 0, 0, NULL};
	expr_value s = {EXPR_STR, 0, 0, "hi"};
	ck_assert_str_eq(expr_to_string(&A, &t), "true");
	ck_assert_str_eq(expr_to_string(&A, &n), "");
	ck_assert_str_eq(expr_to_string(&A, &s), "hi");
	/* every printed number reads back as itself */
	const double samples[] = {0.1,    2.5e-300,           1.7976931348623157e308,
				  5e-324, 9007199254740993.0, -123.456,
				  1e-5,   6.02214076e23};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const char *txt = num_text(samples[i]);
		ck_assert_msg(strtod(txt, NULL) == samples[i], "%s does not read back", txt);
	}
}
END_TEST

/* ---- templates ------------------------------------------------------------------ */

static const char *render_ok(const char *src)
{
	struct names nm = {0};
	template *t = NULL;
	expr_error err = {0};
	const char *out = NULL;
	ck_assert_msg(template_parse(&A, src, &t, &err) == 0, "template \"%s\": %s", src, err.msg);
	ck_assert_msg(template_render(t, &A, lookup, &nm, &out, &err) == 0, "render \"%s\": %s",
		      src, err.msg);
	return out;
}

static void template_err(const char *src, size_t off, const char *msg)
{
	template *t = NULL;
	expr_error err = {0};
	int rc = template_parse(&A, src, &t, &err);
	ck_assert_msg(rc == -1, "template \"%s\" parsed, want '%s'", src, msg);
	ck_assert_msg(!strcmp(err.msg, msg), "\"%s\": error '%s', want '%s'", src, err.msg, msg);
	ck_assert_msg(err.offset == off, "\"%s\": error at %zu, want %zu", src, err.offset, off);
}

START_TEST(test_templates)
{
	ck_assert_str_eq(render_ok("python3 train.py --n ${{ params.n }} --lr ${{ params.lr }}"),
			 "python3 train.py --n 300 --lr 0.1");
	ck_assert_str_eq(render_ok("${{ 'a}}b' }}"), "a}}b");
	ck_assert_str_eq(render_ok("x${{ 'it''s }}' }}y"), "xit's }}y");
	ck_assert_str_eq(render_ok("${{1}}${{2}}"), "12");
	ck_assert_str_eq(render_ok("plain text"), "plain text");
	ck_assert_str_eq(render_ok(""), "");
	ck_assert_str_eq(render_ok("$ { {} } ${"), "$ { {} } ${");
	ck_assert_str_eq(render_ok("a ${{ null }} b ${{ params.t }}"), "a  b true");
	ck_assert_str_eq(render_ok("${{ 1 }}}"), "1}");

	template *t;
	expr_error err = {0};
	struct names nm = {0};
	expr_value v;
	ck_assert_int_eq(template_parse(&A, "plain", &t, &err), 0);
	ck_assert(template_is_literal(t));
	ck_assert_ptr_null(template_single_expr(t));
	ck_assert_int_eq(template_eval(t, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.type, EXPR_STR);
	ck_assert_str_eq(v.str, "plain");

	/* one expression with spaces around keeps its type */
	ck_assert_int_eq(template_parse(&A, "  ${{ params.n }}\n", &t, &err), 0);
	ck_assert(!template_is_literal(t));
	ck_assert_ptr_nonnull(template_single_expr(t));
	ck_assert_int_eq(template_eval(t, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.type, EXPR_NUM);
	ck_assert(v.num == 300);
	ck_assert_int_eq(template_parse(&A, "${{ params.n > 3 }}", &t, &err), 0);
	ck_assert_int_eq(template_eval(t, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.type, EXPR_BOOL);

	/* anything more is rendered to a string */
	ck_assert_int_eq(template_parse(&A, "n=${{ params.n }}", &t, &err), 0);
	ck_assert_ptr_null(template_single_expr(t));
	ck_assert_int_eq(template_eval(t, &A, lookup, &nm, &v, &err), 0);
	ck_assert_int_eq(v.type, EXPR_STR);
	ck_assert_str_eq(v.str, "n=300");
	ck_assert_int_eq(template_parse(&A, "${{ 1 }} ${{ 2 }}", &t, &err), 0);
	ck_assert_ptr_null(template_single_expr(t));

	/* evaluation errors point into the whole string */
	ck_assert_int_eq(template_parse(&A, "ab ${{ params.nope }}", &t, &err), 0);
	const char *out;
	ck_assert_int_eq(template_render(t, &A, lookup, &nm, &out, &err), -1);
	ck_assert_uint_eq(err.offset, 7);
	ck_assert_str_eq(err.msg, "unknown param 'nope'");
	ck_assert_int_eq(template_eval(t, &A, lookup, &nm, &v, &err), -1);
	ck_assert_uint_eq(err.offset, 7);
}
END_TEST

START_TEST(test_template_errors)
{
	template_err("ab ${{ 1", 3, "'${{' is not closed by '}}'");
	template_err("${{ 1 }} ${{ 'x }}", 9,
		     "'${{' is not closed by '}}' (a string inside it is not terminated)");
	template_err("x ${{ }}", 2, "empty expression in '${{ }}'");
	template_err("x ${{ 1 + }}", 10, "expected an operand after '+'");
	template_err("run ${{ \"x\" }}", 8, "'\"' is not allowed: strings use single quotes");
	template_err("${{ a }} and ${{ b c }}", 19,
		     "expected an operator or the end of the expression, found 'c'");
	template_err("${{ \"}}\" }}", 4, "'\"' is not allowed: strings use single quotes");

	struct refs r = {0};
	template *t;
	expr_error err = {0};
	ck_assert_int_eq(
		template_parse(&A, "${{ params.a }} ${{ steps['x'].y && env.HOME }}", &t, &err), 0);
	ck_assert_int_eq(template_walk_refs(t, collect, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_uint_eq(r.offs[0], 4);
	ck_assert_uint_eq(r.offs[1], 20);
	ck_assert_uint_eq(r.offs[2], 36);
	ck_assert_str_eq(r.names[1], "steps|x|y");
	struct refs r2 = {.stop_at = 1};
	ck_assert_int_eq(template_walk_refs(t, collect, &r2), 5);
	ck_assert_int_eq(r2.n, 1);
}
END_TEST

static Suite *expr_suite(void)
{
	Suite *s = suite_create("expr");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_operators);
	tcase_add_test(tc, test_coercions);
	tcase_add_test(tc, test_truthiness);
	tcase_add_test(tc, test_short_circuit);
	tcase_add_test(tc, test_lookups);
	tcase_add_test(tc, test_walk_refs);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_eval_errors);
	tcase_add_test(tc, test_depth_and_length);
	tcase_add_test(tc, test_number_format);
	tcase_add_test(tc, test_templates);
	tcase_add_test(tc, test_template_errors);
	tcase_add_test(tc, test_github_literals);
	tcase_add_test(tc, test_github_equality);
	tcase_add_test(tc, test_github_relational);
	tcase_add_test(tc, test_github_logical);
	tcase_add_test(tc, test_github_precedence);
	tcase_add_test(tc, test_github_contexts);
	tcase_add_test(tc, test_github_functions);
	tcase_add_test(tc, test_github_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(expr_suite());
}
