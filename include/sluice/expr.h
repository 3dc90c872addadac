/*
 * expr.h — the `${{ ... }}` expression language (docs/pipeline-reference.md).
 *
 * The language is GitHub Actions' ("Evaluate expressions in workflows and
 * actions"), plus sluice's arithmetic.  Grammar, lowest to highest precedence:
 *     expr    := or
 *     or      := and ( '||' and )*
 *     and     := eq ( '&&' eq )*
 *     eq      := rel ( ('==' | '!=') rel )*           left to right, as GitHub:
 *     rel     := add ( ('<' | '<=' | '>' | '>=') add )*    3 < 2 < 1 is (3 < 2) < 1
 *     add     := mul ( ('+' | '-') mul )*             sluice's extension
 *     mul     := unary ( ('*' | '/') unary )*         sluice's extension
 *     unary   := ('!' | '-' | '+') unary | postfix
 *     postfix := primary ( '.' IDENT | '[' expr ']' )*
 *     primary := NUMBER | 'string' | true | false | null | name | call | '(' expr ')'
 *     call    := IDENT '(' [ expr ( ',' expr )* ] ')'
 *     name    := IDENT ( '.' IDENT | '[' 'string' ']' )*      e.g. steps.train.outputs.acc
 * Numbers as JavaScript's Number() reads them: 1, .5, 5., 1e3, 0xff, 0o10, 0b11,
 * NaN, Infinity; a sign is the unary operator (-9.2, -Infinity).
 * Identifiers are [A-Za-z_][A-Za-z0-9_-]*.  Strings use single quotes, '' is a
 * quote inside.  Because '-' belongs to identifiers (steps.my-step.outputs.x),
 * `a-b` is one name; subtraction is written `a - b`.  (A '-' joins an identifier
 * only when a letter, digit or '_' follows it, so `a- b` subtracts too.)  A part
 * that is not an identifier goes in brackets: steps['train[lr=0.1]'].status.
 * The first part of a name (the context: params, steps, ...) and function
 * names are case-insensitive; the context reaches the lookup in lower case.
 * A name is resolved through a caller-supplied lookup: the module knows
 * nothing of params or steps.
 *
 * Values: null, bool, number (double), string, array, object (the last two
 * as their JSON text).  Semantics (GitHub's):
 *  - `==` / `!=` are loose: values of different types are converted to
 *    numbers (null 0, false 0, true 1, a string as Number() reads it: '' is 0,
 *    'abc' NaN; an array or object is never converted) and NaN equals
 *    nothing; strings compare ignoring (ASCII) case.
 *  - `< <= > >=` convert the same way; NaN or types that stay different
 *    make them false (never an error); strings compare ignoring case.
 *  - `!` and conditions use truthiness: false, null, 0, NaN and '' are false.
 *  - `&&`/`||` short-circuit and yield the operand that decided:
 *    `params.tag || 'latest'`.
 *  - `+` adds numbers; when either side is a string it concatenates.
 *    `- * /` need numbers (a string that parses fully as a number counts).
 *  - functions: contains, startsWith, endsWith, format, join, toJSON,
 *    fromJSON, and the status functions success(), failure(), always(),
 *    cancelled(), which the lookup answers: it is called with the one part
 *    "success()" (etc.) and gives a bool.
 * Errors never yield an empty string: an unknown name or a type mismatch is
 * an error that carries the byte offset in the source where it happened.
 */
#ifndef SLUICE_EXPR_H
#define SLUICE_EXPR_H

#include "sluice/arena.h"

#include <stddef.h>

/* EXPR_ARRAY and EXPR_OBJECT hold their JSON text in str (compact, as from fromJSON). */
typedef enum { EXPR_NULL, EXPR_BOOL, EXPR_NUM, EXPR_STR, EXPR_ARRAY, EXPR_OBJECT } expr_type;

typedef struct expr_value {
	expr_type type;
	int b;
	double num;
	const char
		*str; /* EXPR_STR, _ARRAY, _OBJECT: NUL-terminated, in an arena or the lookup's */
} expr_value;

/* An error inside an expression: where (byte offset into the source string
 * given to expr_parse / template_parse) and what. */
typedef struct expr_error {
	size_t offset;
	char msg[256];
} expr_error;

typedef struct expr expr; /* an AST node; lives in the arena it was parsed into */

/* Limits that keep any input cheap: the length of one expression in bytes, and how
 * deeply parentheses and unary operators may nest ("expression nested too deeply"). */
#define EXPR_MAX_LEN   16384
#define EXPR_MAX_DEPTH 64

/* Parse the text of one expression (what stands between "${{" and "}}").
 * base is added to every offset recorded, so offsets point into the
 * enclosing string.  Returns 0, or -1 with *err filled. */
int expr_parse(arena *a, const char *src, size_t len, size_t base, expr **out, expr_error *err);

/* Resolve a dotted name.  parts[0..n) are its identifiers ("steps", "train",
 * "outputs", "acc").  Return 0 and fill *out (strings must stay valid until the
 * evaluation is done), or -1 with msg filled (e.g. "unknown param 'lr'"). */
typedef int (*expr_lookup_fn)(void *ctx, const char *const *parts, size_t n, expr_value *out,
			      char *msg, size_t msgsize);

/* Evaluate; strings made during evaluation go into arena a. */
int expr_eval(const expr *e, arena *a, expr_lookup_fn lookup, void *ctx, expr_value *out,
	      expr_error *err);

/* Visit every name the expression refers to, with the offset of its first
 * character.  Used by `validate` to check names that are known before a run.
 * The visitor returns 0 to go on, non-zero to stop (which is returned). */
typedef int (*expr_ref_fn)(void *ctx, const char *const *parts, size_t n, size_t offset);
int expr_walk_refs(const expr *e, expr_ref_fn visit, void *ctx);

/* The status functions an expression calls (a `when:` that calls failure(),
 * always() or cancelled() is evaluated after an upstream failed), and the
 * offset of the first such call in *offset (may be NULL). */
enum {
	EXPR_STATUS_SUCCESS = 1,
	EXPR_STATUS_FAILURE = 2,
	EXPR_STATUS_ALWAYS = 4,
	EXPR_STATUS_CANCELLED = 8,
};
unsigned expr_status_funcs(const expr *e, size_t *offset);

/* Truthiness as described above. */
int expr_truthy(const expr_value *v);
/* The value as text: numbers in the shortest form that reads back the same
 * (3, 0.1, 1e+21, NaN, Infinity), true/false, "" for null, an array or object
 * as its JSON text.  Result lives in arena a. */
const char *expr_to_string(arena *a, const expr_value *v);

/* ---- templates: strings with zero or more ${{ }} parts ------------------ */

typedef struct template template;

/* Parse a string such as "python3 train.py --n ${{ params.n }}".  A "${{"
 * without a closing "}}" is an error at the offset of "${{". */
int template_parse(arena *a, const char *src, template **out, expr_error *err);
/* The offset of the "}}" that closes the expression starting at src[from]
 * (a '}}' inside a single-quoted string does not close it), or 0 when there
 * is none; *open_string tells whether a string was still open at the end. */
size_t template_find_close(const char *src, size_t len, size_t from, int *open_string);
/* 1 when the string has no ${{ }} at all. */
int template_is_literal(const template *t);
/* When the template is exactly one "${{ e }}" (spaces around allowed), the
 * expression, else NULL: such a value keeps its type (a `when:` condition). */
const expr *template_single_expr(const template *t);
/* Render to text in arena a. */
int template_render(const template *t, arena *a, expr_lookup_fn lookup, void *ctx, const char **out,
		    expr_error *err);
/* Evaluate to a typed value: a single expression keeps its type, anything
 * else is rendered to a string. */
int template_eval(const template *t, arena *a, expr_lookup_fn lookup, void *ctx, expr_value *out,
		  expr_error *err);
int template_walk_refs(const template *t, expr_ref_fn visit, void *ctx);
unsigned template_status_funcs(const template *t, size_t *offset);

#endif
