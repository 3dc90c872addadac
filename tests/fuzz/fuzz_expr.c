/*
 * fuzz_expr.c — libFuzzer harness for the expression language and templates.
 *
 * The input is used twice: as a NUL-terminated template (template_parse, then walk,
 * render and typed eval), and as the raw bytes of one expression (expr_parse with a
 * non-zero base, so embedded NULs and offset arithmetic are exercised).  Names resolve
 * through a lookup that answers numbers, strings, numeric strings, null, bools, NaN,
 * infinities, and errors with and without a message.
 *
 * Besides "no crash, no leak, no UB", it checks the module's promises and traps when
 * one is broken: every error has a message and an offset inside the source; every
 * visited name has parts; a printed number reads back as the same double.
 */
#include "sluice/expr.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 7

struct fctx {
	size_t lo, hi; /* offsets must fall in [lo, hi] */
	int visits;
};

static const char long_text[] =
	"a rather long value that is concatenated many times to make the arena grow, "
	"with '}}' and '${{' in it to confuse anything that rescans text";

static int lookup(void *ctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		  size_t msgsize)
{
	(void)ctx;
	if (n == 0 || !parts[0])
		__builtin_trap();
	const char *p = parts[n - 1];
	memset(out, 0, sizeof(*out));
	if (!strcmp(p, "n")) {
		out->type = EXPR_NUM;
		out->num = 3;
	} else if (!strcmp(p, "f")) {
		out->type = EXPR_NUM;
		out->num = 0.1;
	} else if (!strcmp(p, "nan")) {
		out->type = EXPR_NUM;
		out->num = NAN;
	} else if (!strcmp(p, "inf")) {
		out->type = EXPR_NUM;
		out->num = -INFINITY;
	} else if (!strcmp(p, "s")) {
		out->type = EXPR_STR;
		out->str = "str";
	} else if (!strcmp(p, "ns")) {
		out->type = EXPR_STR;
		out->str = " 4.2e1\n";
	} else if (!strcmp(p, "big")) {
		out->type = EXPR_STR;
		out->str = long_text;
	} else if (!strcmp(p, "z")) {
		out->type = EXPR_NULL;
	} else if (!strcmp(p, "b")) {
		out->type = EXPR_BOOL;
		out->b = 7; /* any non-zero is true */
	} else if (!strcmp(p, "e")) {
		/* a message as long as the buffer, to test truncation */
		memset(msg, 'm', msgsize - 1);
		msg[msgsize - 1] = 0;
		return -1;
	} else if (n > 2) {
		out->type = EXPR_STR;
		out->str = parts[1]; /* lives in the AST's arena */
	} else {
		return -1; /* no message: the module makes one */
	}
	return 0;
}

static int visit(void *ctx, const char *const *parts, size_t n, size_t offset)
{
	struct fctx *f = ctx;
	if (n == 0 || offset < f->lo || offset > f->hi)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if (!parts[i])
			__builtin_trap();
	return ++f->visits == 50 ? 1 : 0; /* stopping early must work too */
}

static void check_error(const expr_error *err, size_t lo, size_t hi)
{
	if (!err->msg[0] || err->offset < lo || err->offset > hi)
		__builtin_trap();
	if (!memchr(err->msg, 0, sizeof(err->msg)))
		__builtin_trap();
}

static void check_value(arena *a, const expr_value *v)
{
	const char *s = expr_to_string(a, v);
	if (!s)
		__builtin_trap();
	(void)expr_truthy(v);
	if (v->type == EXPR_NUM && isfinite(v->num) && strtod(s, NULL) != v->num)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena a = ARENA_INIT;
	expr_error err;
	expr_value v;

	/* the input as a template */
	char *src = arena_strndup(&a, (const char *)data, size);
	size_t len = strlen(src);
	struct fctx f = {0, len, 0};
	template *t;
	memset(&err, 0, sizeof(err));
	if (template_parse(&a, src, &t, &err) == 0) {
		const char *out;
		template_walk_refs(t, visit, &f);
		(void)template_is_literal(t);
		if (template_render(t, &a, lookup, NULL, &out, &err) == 0) {
			if (!out)
				__builtin_trap();
		} else {
			check_error(&err, 0, len);
		}
		if (template_eval(t, &a, lookup, NULL, &v, &err) == 0)
			check_value(&a, &v);
		else
			check_error(&err, 0, len);
		const expr *single = template_single_expr(t);
		if (single && template_is_literal(t))
			__builtin_trap();
	} else {
		check_error(&err, 0, len);
	}

	/* the raw bytes as one expression */
	expr *e;
	memset(&err, 0, sizeof(err));
	struct fctx g = {BASE, BASE + size, 0};
	if (expr_parse(&a, (const char *)data, size, BASE, &e, &err) == 0) {
		expr_walk_refs(e, visit, &g);
		if (expr_eval(e, &a, lookup, NULL, &v, &err) == 0)
			check_value(&a, &v);
		else
			check_error(&err, BASE, BASE + size);
	} else {
		check_error(&err, BASE, BASE + size);
	}

	arena_release(&a);
	return 0;
}
