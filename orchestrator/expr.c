/*
 * expr.c — the `${{ ... }}` expression language (see include/sluice/expr.h for the
 * grammar and the value semantics): a lexer that produces one token at a time, a
 * recursive-descent parser that builds an AST in the caller's arena, an evaluator,
 * and templates (text with zero or more `${{ }}` parts).
 *
 * Invariants:
 *  - No globals, no hidden state.  The AST, decoded strings and results live in the
 *    arena passed in.  The only malloc is the strbuf that collects a concatenation or
 *    a rendered template; it is released before the function returns, on every path.
 *  - Every error carries a byte offset into the source (plus `base`): the token for
 *    syntax errors, the name for lookup failures, the operator for type errors.  Offsets
 *    stored in the AST already include `base`.  The error is filled once, where it
 *    happens, and the -1 travels up unchanged.
 *  - Bounded work on any input: an expression is at most EXPR_MAX_LEN bytes, and at
 *    most EXPR_MAX_DEPTH parentheses and unary operators nest.  Runs of one precedence
 *    level (`a + b - c`, `a && b && c`) are single n-ary nodes and are evaluated by a
 *    loop, so the AST's height, and with it the recursion of the parser, evaluator and
 *    walker, stays below a small multiple of EXPR_MAX_DEPTH.
 *  - Lexing is lazy (one token of lookahead), so the first error in reading order is
 *    the one reported, whether it is a bad character or a bad token sequence.
 *  - Numbers are scanned by our own rules, then converted with strtod on exactly the
 *    accepted bytes and printed with snprintf; both assume the "C" LC_NUMERIC locale,
 *    which sluice never changes.
 *
 * Names and '-': as in GitHub Actions, '-' may appear inside an identifier, so
 * `steps.my-step.outputs.x` is one name.  Consequently `a-b` and `n-1` are names, and
 * subtraction needs a space before the operand: `a - b`, `n - 1` (also `a- b`, because an
 * identifier never ends with '-': a '-' joins it only when a letter, digit or '_'
 * follows).  A lookup failure of a name holding such a '-' says so in the error.  A part
 * that is not an identifier (a matrix instance such as `train[lr=0.1]`, a name starting
 * with a digit) is written in brackets: `steps['train[lr=0.1]'].outputs.x`.
 *
 * Errors never turn into empty strings; null, which only a lookup or the `null` literal
 * produces, renders as "".
 */
#include "sluice/expr.h"

#include "sluice/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors -------------------------------------------------------------------- */

static int vfail(expr_error *err, size_t off, const char *fmt, va_list ap)
{
	if (err) {
		err->offset = off;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return -1;
}

static int fail(expr_error *err, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(expr_error *err, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, off, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- character classes and numbers ------------------------------------------- */

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
	return is_ident_start(c) || is_digit(c);
}

/* The end of the identifier that starts at s[i]; see the note on '-' at the top. */
static size_t ident_end(const char *s, size_t i, size_t n)
{
	i++;
	while (i < n) {
		if (is_ident_char((unsigned char)s[i]))
			i++;
		else if (s[i] == '-' && i + 1 < n && is_ident_char((unsigned char)s[i + 1]))
			i++;
		else
			break;
	}
	return i;
}

/* Length of the number at s[0..n): 0x<hex>+, or <digits>+ ('.' <digits>+)?
 * ([eE] [+-]? <digits>+)?.  0 when s does not start with one.  *hex tells which. */
static size_t scan_number(const char *s, size_t n, int *hex)
{
	size_t i = 0;
	*hex = 0;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		i = 2;
		while (i < n && is_hex((unsigned char)s[i]))
			i++;
		*hex = 1;
		return i > 2 ? i : 0;
	}
	while (i < n && is_digit((unsigned char)s[i]))
		i++;
	if (i == 0)
		return 0;
	if (i + 1 < n && s[i] == '.' && is_digit((unsigned char)s[i + 1])) {
		i++;
		while (i < n && is_digit((unsigned char)s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < n && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < n && is_digit((unsigned char)s[j])) {
			while (j < n && is_digit((unsigned char)s[j]))
				j++;
			i = j;
		}
		/* else: "1e" — the 'e' is left over and the caller calls it malformed */
	}
	return i;
}

/* The value of a span that scan_number accepted.  strtod needs a terminator and the
 * span is not one, so it is copied: to the stack when short, else to a strbuf (a span
 * can be as long as EXPR_MAX_LEN, e.g. a literal with thousands of digits). */
static double number_value(const char *s, size_t n, int hex)
{
	if (hex) {
		double v = 0;
		for (size_t i = 2; i < n; i++) {
			int c = (unsigned char)s[i];
			int d = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
			v = v * 16 + d;
		}
		return v;
	}
	char buf[64];
	if (n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = 0;
		return strtod(buf, NULL);
	}
	strbuf sb = STRBUF_INIT;
	strbuf_add(&sb, s, n);
	double v = strtod(sb.buf, NULL);
	strbuf_release(&sb);
	return v;
}

/* A string counts as a number when, apart from surrounding whitespace, it is an
 * optional sign and a number as written in expressions ("0.93\n", "-3", "0x10"), and
 * the value is finite.  "", "inf", "nan" and "1e999" are not numbers. */
static int string_number(const char *s, double *out)
{
	size_t n = strlen(s), i = 0;
	while (n > 0 && is_space((unsigned char)s[n - 1]))
		n--;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	int neg = 0;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	int hex;
	size_t k = scan_number(s + i, n - i, &hex);
	if (k == 0 || i + k != n)
		return 0;
	double v = number_value(s + i, k, hex);
	if (!isfinite(v))
		return 0;
	*out = neg ? -v : v;
	return 1;
}

/* The shortest text that reads back as the same double.  Integers below 1e21 print
 * as integers ("3", "100000000000000000000"), anything else as the first of %.1g ..
 * %.17g that round-trips ("0.1", "1e+21", "-0.5").  -0 prints as "0"; NaN and the
 * infinities (only a lookup can supply them) as "NaN", "Infinity", "-Infinity". */
#define NUMBUF 40
static const char *format_number(double v, char buf[NUMBUF])
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	if (v == 0)
		return "0";
	if (v == floor(v) && fabs(v) < 1e21) {
		snprintf(buf, NUMBUF, "%.0f", v);
		return buf;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, NUMBUF, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return buf;
	}
	return buf; /* %.17g always reads back; not reached */
}

/* ---- tokens ------------------------------------------------------------------ */

enum tok_kind {
	T_END,
	T_NUM,
	T_STR,
	T_IDENT,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_DOT,
	T_LBRACK,
	T_RBRACK,
	T_LPAREN,
	T_RPAREN,
	T_NOT,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AND,
	T_OR,
	T_START, /* not a token: "nothing read yet", for "expected an operand" messages */
};

static const char *const tok_spelling[] = {
	[T_DOT] = ".", [T_LBRACK] = "[", [T_RBRACK] = "]", [T_LPAREN] = "(", [T_RPAREN] = ")",
	[T_NOT] = "!", [T_PLUS] = "+",   [T_MINUS] = "-",  [T_STAR] = "*",   [T_SLASH] = "/",
	[T_EQ] = "==", [T_NE] = "!=",    [T_LT] = "<",     [T_LE] = "<=",    [T_GT] = ">",
	[T_GE] = ">=", [T_AND] = "&&",   [T_OR] = "||",
};

static const char *spell(enum tok_kind k)
{
	if ((size_t)k < sizeof(tok_spelling) / sizeof(tok_spelling[0]) && tok_spelling[k])
		return tok_spelling[k];
	return "?";
}

struct token {
	enum tok_kind kind;
	size_t off, len; /* span in the source, relative to its start */
	double num;      /* T_NUM */
	const char *str; /* T_STR: the decoded string, in the arena */
};

struct parser {
	arena *a;
	const char *src;
	size_t len, pos, base;
	struct token tok;   /* the current token */
	enum tok_kind prev; /* the kind of the token before it, or T_START */
	int depth;          /* open parentheses and unary operators */
	expr_error *err;
};

static int perr(struct parser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error at an offset relative to the source being parsed. */
static int perr(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(p->err, p->base + off, fmt, ap);
	va_end(ap);
	return -1;
}

/* ", found 'x'" (or ", found a string") for messages; "" at the end of the input.
 * Long tokens are cut, so a message always fits. */
static const char *found(const struct parser *p, char *buf, size_t size)
{
	const struct token *t = &p->tok;
	if (t->kind == T_END)
		return "";
	if (t->kind == T_STR) {
		snprintf(buf, size, ", found a string");
		return buf;
	}
	int n = t->len > 24 ? 24 : (int)t->len;
	snprintf(buf, size, ", found '%.*s%s'", n, p->src + t->off, t->len > 24 ? "..." : "");
	return buf;
}

/* A single-quoted string starting at s[i]; '' stands for one quote.  The end is found
 * first so the decoded copy takes exactly its size (allocating "the rest of the input"
 * per string would make many strings cost quadratic space). */
static int lex_string(struct parser *p, size_t i)
{
	const char *s = p->src;
	size_t n = p->len, j = i + 1, quotes = 0;
	for (;;) {
		if (j >= n)
			return perr(p, i, "unterminated string (strings use single quotes)");
		if (s[j] == 0)
			return perr(p, j, "a NUL byte is not allowed inside a string");
		if (s[j] == '\'') {
			if (j + 1 < n && s[j + 1] == '\'') {
				quotes++;
				j += 2;
				continue;
			}
			break;
		}
		j++;
	}
	/* s[i] and s[j] are the quotes; each '' decodes to one byte */
	char *out = arena_alloc(p->a, j - i - quotes);
	size_t k = 0;
	for (size_t q = i + 1; q < j; q++) {
		out[k++] = s[q];
		if (s[q] == '\'')
			q++;
	}
	out[k] = 0;
	p->tok.kind = T_STR;
	p->tok.len = j + 1 - i;
	p->tok.str = out;
	p->pos = j + 1;
	return 0;
}

static int lex_number(struct parser *p, size_t i)
{
	const char *s = p->src;
	int hex;
	size_t k = scan_number(s + i, p->len - i, &hex);
	size_t e = i + k;
	if (k == 0 || (e < p->len && (is_ident_char((unsigned char)s[e]) || s[e] == '.'))) {
		/* show the whole run the user probably meant as one number */
		while (e < p->len && (is_ident_char((unsigned char)s[e]) || s[e] == '.'))
			e++;
		int shown = e - i > 32 ? 32 : (int)(e - i);
		const char *more = e - i > 32 ? "..." : "";
		return perr(p, i, "malformed number '%.*s%s'", shown, s + i, more);
	}
	double v = number_value(s + i, k, hex);
	if (!isfinite(v))
		return perr(p, i, "number is too large");
	p->tok.kind = T_NUM;
	p->tok.len = k;
	p->tok.num = v;
	p->pos = e;
	return 0;
}

/* Read the next token into p->tok. */
static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t n = p->len, i = p->pos;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	struct token *t = &p->tok;
	t->off = i;
	t->len = 1;
	t->str = NULL;
	t->num = 0;
	if (i >= n) {
		t->kind = T_END;
		t->len = 0;
		p->pos = i;
		return 0;
	}
	int c = (unsigned char)s[i];
	int c2 = i + 1 < n ? (unsigned char)s[i + 1] : 0;
	if (is_ident_start(c)) {
		size_t e = ident_end(s, i, n);
		t->len = e - i;
		t->kind = T_IDENT;
		if (t->len == 4 && !memcmp(s + i, "true", 4))
			t->kind = T_TRUE;
		else if (t->len == 5 && !memcmp(s + i, "false", 5))
			t->kind = T_FALSE;
		else if (t->len == 4 && !memcmp(s + i, "null", 4))
			t->kind = T_NULL;
		p->pos = e;
		return 0;
	}
	if (is_digit(c))
		return lex_number(p, i);
	switch (c) {
	case '\'':
		return lex_string(p, i);
	case '"':
		return perr(p, i, "'\"' is not allowed: strings use single quotes");
	case '.':
		t->kind = T_DOT;
		break;
	case '[':
		t->kind = T_LBRACK;
		break;
	case ']':
		t->kind = T_RBRACK;
		break;
	case '(':
		t->kind = T_LPAREN;
		break;
	case ')':
		t->kind = T_RPAREN;
		break;
	case '+':
		t->kind = T_PLUS;
		break;
	case '-':
		t->kind = T_MINUS;
		break;
	case '*':
		t->kind = T_STAR;
		break;
	case '/':
		t->kind = T_SLASH;
		break;
	case '!':
		t->kind = c2 == '=' ? T_NE : T_NOT;
		break;
	case '<':
		t->kind = c2 == '=' ? T_LE : T_LT;
		break;
	case '>':
		t->kind = c2 == '=' ? T_GE : T_GT;
		break;
	case '=':
		if (c2 != '=')
			return perr(p, i, "'=' is not an operator: use '==' to compare");
		t->kind = T_EQ;
		break;
	case '&':
		if (c2 != '&')
			return perr(p, i, "'&' is not an operator: use '&&'");
		t->kind = T_AND;
		break;
	case '|':
		if (c2 != '|')
			return perr(p, i, "'|' is not an operator: use '||'");
		t->kind = T_OR;
		break;
	case '$':
		if (c2 == '{')
			return perr(p, i, "'${{' cannot appear inside an expression");
		return perr(p, i, "unexpected character '$'");
	default:
		if (c >= 0x21 && c < 0x7f)
			return perr(p, i, "unexpected character '%c'", c);
		if (c >= 0x80)
			return perr(p, i, "unexpected non-ASCII character (names are ASCII)");
		return perr(p, i, "unexpected byte 0x%02x", (unsigned)c);
	}
	if (t->kind == T_NE || t->kind == T_LE || t->kind == T_GE || t->kind == T_EQ ||
	    t->kind == T_AND || t->kind == T_OR)
		t->len = 2;
	p->pos = i + t->len;
	return 0;
}

static int advance(struct parser *p)
{
	p->prev = p->tok.kind;
	return lex(p);
}

/* ---- the AST ----------------------------------------------------------------- */

enum node_kind {
	N_LIT,   /* lit */
	N_NAME,  /* parts[0..nparts) */
	N_NOT,   /* kids[0] */
	N_NEG,   /* kids[0] */
	N_ARITH, /* kids[0] ops[0] kids[1] ops[1] ... with ops + - or * /, left to right */
	N_CMP,   /* kids[0] ops[0] kids[1] */
	N_AND,   /* kids[0] && kids[1] && ... */
	N_OR,    /* kids[0] || kids[1] || ... */
};

struct expr {
	enum node_kind kind;
	size_t off;         /* name: its first character; N_NOT, N_NEG: the operator */
	expr_value lit;     /* N_LIT */
	const char **parts; /* N_NAME */
	size_t nparts;
	int dash; /* N_NAME: an identifier part contains '-' */
	struct expr **kids;
	size_t nkids;
	enum tok_kind *ops; /* N_ARITH, N_CMP: ops[i] stands between kids[i] and kids[i+1] */
	size_t *op_offs;    /* and is at this offset (base included) */
};

static expr *new_node(struct parser *p, enum node_kind kind, size_t off)
{
	expr *e = arena_alloc(p->a, sizeof(*e));
	e->kind = kind;
	e->off = p->base + off;
	return e;
}

/* A run of one precedence level being collected. */
struct chain {
	expr **kids;
	enum tok_kind *ops;
	size_t *offs;
	size_t n, cap;
};

static void chain_push(arena *a, struct chain *c, expr *kid, enum tok_kind op, size_t off)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		c->kids = arena_grow(a, c->kids, sizeof(*c->kids), c->n, cap);
		c->ops = arena_grow(a, c->ops, sizeof(*c->ops), c->n, cap);
		c->offs = arena_grow(a, c->offs, sizeof(*c->offs), c->n, cap);
		c->cap = cap;
	}
	c->kids[c->n] = kid;
	/* ops[i] is the operator after kids[i]: the one read before kid i+1 */
	if (c->n > 0) {
		c->ops[c->n - 1] = op;
		c->offs[c->n - 1] = off;
	}
	c->n++;
}

static expr *parse_expr(struct parser *p);

static expr *operand_error(struct parser *p)
{
	char f[64];
	const char *fd = found(p, f, sizeof(f));
	if (p->prev == T_START) {
		if (p->tok.kind == T_END)
			perr(p, p->tok.off, "empty expression");
		else
			perr(p, p->tok.off, "expected an operand%s", fd);
	} else {
		perr(p, p->tok.off, "expected an operand after '%s'%s", spell(p->prev), fd);
	}
	return NULL;
}

static int is_name_token(enum tok_kind k)
{
	return k == T_IDENT || k == T_TRUE || k == T_FALSE || k == T_NULL;
}

/* name := IDENT ( '.' IDENT | '[' 'string' ']' )*, entered on the IDENT.  After '.',
 * true, false and null are names like any other (params.null). */
static expr *parse_name(struct parser *p)
{
	expr *e = new_node(p, N_NAME, p->tok.off);
	size_t cap = 0;
	char f[64];
	for (;;) {
		/* the current token is the next part: an identifier, or a string after '[' */
		const char *part;
		if (p->tok.kind == T_STR) {
			part = p->tok.str;
			if (advance(p) < 0)
				return NULL;
			if (p->tok.kind != T_RBRACK) {
				perr(p, p->tok.off, "expected ']'%s", found(p, f, sizeof(f)));
				return NULL;
			}
		} else {
			part = arena_strndup(p->a, p->src + p->tok.off, p->tok.len);
			if (strchr(part, '-'))
				e->dash = 1;
		}
		if (e->nparts == cap) {
			cap = cap ? cap * 2 : 4;
			e->parts = arena_grow(p->a, e->parts, sizeof(*e->parts), e->nparts, cap);
		}
		e->parts[e->nparts++] = part;
		if (advance(p) < 0)
			return NULL;
		if (p->tok.kind == T_DOT) {
			if (advance(p) < 0)
				return NULL;
			if (!is_name_token(p->tok.kind)) {
				const char *fd = found(p, f, sizeof(f));
				perr(p, p->tok.off, "expected a name after '.'%s", fd);
				return NULL;
			}
		} else if (p->tok.kind == T_LBRACK) {
			if (advance(p) < 0)
				return NULL;
			if (p->tok.kind != T_STR) {
				perr(p, p->tok.off,
				     "expected a quoted name after '[', "
				     "e.g. steps['train[lr=0.1]']");
				return NULL;
			}
			if (!p->tok.str[0]) {
				perr(p, p->tok.off, "empty name in '[ ]'");
				return NULL;
			}
		} else {
			return e;
		}
	}
}

static int enter(struct parser *p, size_t off)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return perr(p, off, "expression nested too deeply (more than %d levels)",
			    EXPR_MAX_DEPTH);
	return 0;
}

static expr *parse_primary(struct parser *p)
{
	struct token *t = &p->tok;
	expr *e;
	switch (t->kind) {
	case T_NUM:
	case T_STR:
	case T_TRUE:
	case T_FALSE:
	case T_NULL:
		e = new_node(p, N_LIT, t->off);
		if (t->kind == T_NUM) {
			e->lit.type = EXPR_NUM;
			e->lit.num = t->num;
		} else if (t->kind == T_STR) {
			e->lit.type = EXPR_STR;
			e->lit.str = t->str;
		} else if (t->kind == T_NULL) {
			e->lit.type = EXPR_NULL;
		} else {
			e->lit.type = EXPR_BOOL;
			e->lit.b = t->kind == T_TRUE;
		}
		return advance(p) < 0 ? NULL : e;
	case T_IDENT:
		return parse_name(p);
	case T_LPAREN: {
		size_t open = t->off;
		if (enter(p, open) < 0 || advance(p) < 0)
			return NULL;
		e = parse_expr(p);
		if (!e)
			return NULL;
		if (t->kind != T_RPAREN) {
			char f[64];
			if (t->kind == T_END)
				perr(p, open, "'(' is not closed");
			else
				perr(p, t->off, "expected ')'%s", found(p, f, sizeof(f)));
			return NULL;
		}
		p->depth--;
		return advance(p) < 0 ? NULL : e;
	}
	default:
		return operand_error(p);
	}
}

static expr *parse_unary(struct parser *p)
{
	enum tok_kind k = p->tok.kind;
	if (k != T_NOT && k != T_MINUS)
		return parse_primary(p);
	size_t off = p->tok.off;
	if (enter(p, off) < 0 || advance(p) < 0)
		return NULL;
	expr *operand = parse_unary(p);
	if (!operand)
		return NULL;
	p->depth--;
	expr *e = new_node(p, k == T_NOT ? N_NOT : N_NEG, off);
	e->kids = arena_alloc(p->a, sizeof(*e->kids));
	e->kids[0] = operand;
	e->nkids = 1;
	return e;
}

typedef expr *(*parse_fn)(struct parser *p);

/* One left-associative precedence level: next ( (op1 | op2) next )*.  A lone operand is
 * returned as it is; a run becomes one n-ary node. */
static expr *parse_run(struct parser *p, parse_fn next, enum node_kind kind, enum tok_kind op1,
		       enum tok_kind op2)
{
	expr *first = next(p);
	if (!first)
		return NULL;
	if (p->tok.kind != op1 && p->tok.kind != op2)
		return first;
	struct chain c = {0};
	chain_push(p->a, &c, first, T_END, 0);
	while (p->tok.kind == op1 || p->tok.kind == op2) {
		enum tok_kind op = p->tok.kind;
		size_t off = p->base + p->tok.off;
		if (advance(p) < 0)
			return NULL;
		expr *k = next(p);
		if (!k)
			return NULL;
		chain_push(p->a, &c, k, op, off);
	}
	expr *e = arena_alloc(p->a, sizeof(*e));
	e->kind = kind;
	e->off = first->off;
	e->kids = c.kids;
	e->nkids = c.n;
	e->ops = c.ops;
	e->op_offs = c.offs;
	return e;
}

static expr *parse_mul(struct parser *p)
{
	return parse_run(p, parse_unary, N_ARITH, T_STAR, T_SLASH);
}

static expr *parse_add(struct parser *p)
{
	return parse_run(p, parse_mul, N_ARITH, T_PLUS, T_MINUS);
}

static int is_cmp(enum tok_kind k)
{
	return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

/* cmp := add ( CMPOP add )? — comparisons do not chain (see the grammar in expr.h):
 * `a < b < c` would quietly compare a bool with c, so it is an error with a hint. */
static expr *parse_cmp(struct parser *p)
{
	expr *l = parse_add(p);
	if (!l)
		return NULL;
	if (!is_cmp(p->tok.kind))
		return l;
	enum tok_kind op = p->tok.kind;
	size_t off = p->base + p->tok.off;
	if (advance(p) < 0)
		return NULL;
	expr *r = parse_add(p);
	if (!r)
		return NULL;
	if (is_cmp(p->tok.kind)) {
		perr(p, p->tok.off, "comparisons do not chain: add parentheses, e.g. (a %s b) %s c",
		     spell(op), spell(p->tok.kind));
		return NULL;
	}
	expr *e = arena_alloc(p->a, sizeof(*e));
	e->kind = N_CMP;
	e->off = l->off;
	e->kids = arena_alloc(p->a, 2 * sizeof(*e->kids));
	e->kids[0] = l;
	e->kids[1] = r;
	e->nkids = 2;
	e->ops = arena_alloc(p->a, sizeof(*e->ops));
	e->ops[0] = op;
	e->op_offs = arena_alloc(p->a, sizeof(*e->op_offs));
	e->op_offs[0] = off;
	return e;
}

static expr *parse_and(struct parser *p)
{
	return parse_run(p, parse_cmp, N_AND, T_AND, T_AND);
}

static expr *parse_expr(struct parser *p)
{
	return parse_run(p, parse_and, N_OR, T_OR, T_OR);
}

int expr_parse(arena *a, const char *src, size_t len, size_t base, expr **out, expr_error *err)
{
	struct parser p = {.a = a, .src = src ? src : "", .len = src ? len : 0, .base = base};
	p.err = err;
	p.prev = T_START;
	*out = NULL;
	if (p.len > EXPR_MAX_LEN)
		return perr(&p, 0, "expression is too long (more than %d bytes)", EXPR_MAX_LEN);
	if (lex(&p) < 0)
		return -1;
	expr *e = parse_expr(&p);
	if (!e)
		return -1;
	if (p.tok.kind != T_END) {
		char f[64];
		if (p.tok.kind == T_RPAREN)
			return perr(&p, p.tok.off, "unexpected ')' without a matching '('");
		return perr(&p, p.tok.off, "expected an operator or the end of the expression%s",
			    found(&p, f, sizeof(f)));
	}
	*out = e;
	return 0;
}

/* ---- evaluation ---------------------------------------------------------------- */

struct eval_ctx {
	arena *a;
	expr_lookup_fn lookup;
	void *ctx;
	expr_error *err;
};

static const char *type_desc(const expr_value *v)
{
	double d;
	switch (v->type) {
	case EXPR_NULL:
		return "null";
	case EXPR_BOOL:
		return "a bool";
	case EXPR_NUM:
		return "a number";
	case EXPR_STR:
		return string_number(v->str, &d) ? "a numeric string" : "a non-numeric string";
	}
	return "an invalid value";
}

static int as_number(const expr_value *v, double *d)
{
	if (v->type == EXPR_NUM) {
		*d = v->num;
		return 1;
	}
	return v->type == EXPR_STR && string_number(v->str, d);
}

/* The text of a value without allocating: a literal, v->str, or buf. */
static const char *value_text(const expr_value *v, char buf[NUMBUF])
{
	switch (v->type) {
	case EXPR_BOOL:
		return v->b ? "true" : "false";
	case EXPR_NUM:
		return format_number(v->num, buf);
	case EXPR_STR:
		return v->str ? v->str : "";
	default:
		return "";
	}
}

/* "steps.train['a b'].x" for messages, cut to fit in buf. */
static void name_text(const expr *e, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < e->nparts && n + 1 < size; i++) {
		const char *s = e->parts[i];
		int plain = is_ident_start((unsigned char)s[0]);
		for (const char *q = s; *q && plain; q++)
			if (!is_ident_char((unsigned char)*q) && *q != '-')
				plain = 0;
		const char *pre = plain ? (i ? "." : "") : "['";
		const char *post = plain ? "" : "']";
		const char *pieces[3] = {pre, s, post};
		for (int k = 0; k < 3; k++)
			for (const char *q = pieces[k]; *q && n + 1 < size; q++)
				buf[n++] = (unsigned char)*q < 0x20 ? '?' : *q;
	}
	if (n + 1 >= size && size > 4) {
		memcpy(buf + size - 4, "...", 3);
		n = size - 1;
	}
	buf[n] = 0;
}

static int eval_node(struct eval_ctx *c, const expr *e, expr_value *out);

static int eval_name(struct eval_ctx *c, const expr *e, expr_value *out)
{
	char msg[sizeof(((expr_error *)0)->msg)];
	msg[0] = 0;
	expr_value v = {EXPR_NULL, 0, 0, NULL};
	int rc = -1;
	if (c->lookup)
		rc = c->lookup(c->ctx, e->parts, e->nparts, &v, msg, sizeof(msg));
	msg[sizeof(msg) - 1] = 0;
	if (rc == 0 && (unsigned)v.type > EXPR_STR) {
		rc = -1;
		snprintf(msg, sizeof(msg), "lookup gave an invalid value");
	}
	if (rc != 0) {
		char name[128];
		const char *hint = "";
		if (e->dash)
			hint = " (a '-' inside a name is part of it: write 'a - b' to subtract)";
		if (msg[0])
			return fail(c->err, e->off, "%s%s", msg, hint);
		name_text(e, name, sizeof(name));
		return fail(c->err, e->off, "unknown name '%s'%s", name, hint);
	}
	if (v.type == EXPR_STR && !v.str)
		v.str = "";
	if (v.type == EXPR_BOOL)
		v.b = !!v.b;
	*out = v;
	return 0;
}

/* x op y for + - * / on numbers; errors for division by zero and for a finite pair
 * whose result is not finite. */
static int arith(struct eval_ctx *c, enum tok_kind op, size_t off, double x, double y, double *r)
{
	switch (op) {
	case T_PLUS:
		*r = x + y;
		break;
	case T_MINUS:
		*r = x - y;
		break;
	case T_STAR:
		*r = x * y;
		break;
	default:
		if (y == 0)
			return fail(c->err, off, "division by zero");
		*r = x / y;
		break;
	}
	if (!isfinite(*r) && isfinite(x) && isfinite(y))
		return fail(c->err, off, "result of '%s' is out of range", spell(op));
	return 0;
}

/* A run of + - or * /, left to right.  Concatenations collect in a strbuf, so a long
 * run of '+' on strings costs linear, not quadratic, arena space. */
static int eval_arith(struct eval_ctx *c, const expr *e, expr_value *out)
{
	expr_value acc;
	strbuf sb = STRBUF_INIT;
	int in_sb = 0; /* the accumulated value is the string in sb, not acc */
	char nb[NUMBUF];
	if (eval_node(c, e->kids[0], &acc) < 0)
		return -1;
	for (size_t i = 1; i < e->nkids; i++) {
		enum tok_kind op = e->ops[i - 1];
		size_t off = e->op_offs[i - 1];
		expr_value r;
		if (eval_node(c, e->kids[i], &r) < 0)
			goto fail;
		if (op == T_PLUS && (in_sb || acc.type == EXPR_STR || r.type == EXPR_STR)) {
			if (!in_sb) {
				strbuf_reset(&sb);
				strbuf_addstr(&sb, value_text(&acc, nb));
				in_sb = 1;
			}
			strbuf_addstr(&sb, value_text(&r, nb));
			continue;
		}
		if (in_sb) {
			acc.type = EXPR_STR;
			acc.str = arena_strndup(c->a, strbuf_str(&sb), sb.len);
			in_sb = 0;
		}
		double x, y, res = 0;
		if (op == T_PLUS) {
			/* neither side is a string here */
			if (acc.type != EXPR_NUM || r.type != EXPR_NUM) {
				fail(c->err, off, "'+' needs numbers or strings, got %s",
				     type_desc(acc.type != EXPR_NUM ? &acc : &r));
				goto fail;
			}
		}
		if (!as_number(&acc, &x)) {
			fail(c->err, off, "'%s' needs numbers, got %s", spell(op), type_desc(&acc));
			goto fail;
		}
		if (!as_number(&r, &y)) {
			fail(c->err, off, "'%s' needs numbers, got %s", spell(op), type_desc(&r));
			goto fail;
		}
		if (arith(c, op, off, x, y, &res) < 0)
			goto fail;
		acc.type = EXPR_NUM;
		acc.num = res;
		acc.str = NULL;
	}
	if (in_sb) {
		acc.type = EXPR_STR;
		acc.str = arena_strndup(c->a, strbuf_str(&sb), sb.len);
	}
	strbuf_release(&sb);
	*out = acc;
	return 0;
fail:
	strbuf_release(&sb);
	return -1;
}

static int values_equal(const expr_value *l, const expr_value *r)
{
	double d;
	if (l->type == r->type) {
		switch (l->type) {
		case EXPR_NULL:
			return 1;
		case EXPR_BOOL:
			return !l->b == !r->b;
		case EXPR_NUM:
			return l->num == r->num;
		case EXPR_STR:
			return strcmp(l->str, r->str) == 0;
		}
		return 0;
	}
	if (l->type == EXPR_NUM && r->type == EXPR_STR)
		return string_number(r->str, &d) && d == l->num;
	if (l->type == EXPR_STR && r->type == EXPR_NUM)
		return string_number(l->str, &d) && d == r->num;
	return 0;
}

static int eval_cmp(struct eval_ctx *c, const expr *e, expr_value *out)
{
	expr_value l, r;
	enum tok_kind op = e->ops[0];
	size_t off = e->op_offs[0];
	if (eval_node(c, e->kids[0], &l) < 0 || eval_node(c, e->kids[1], &r) < 0)
		return -1;
	out->type = EXPR_BOOL;
	out->str = NULL;
	out->num = 0;
	if (op == T_EQ || op == T_NE) {
		int eq = values_equal(&l, &r);
		out->b = op == T_EQ ? eq : !eq;
		return 0;
	}
	int cmp; /* -1, 0, 1, or 2 for unordered (a NaN) */
	if (l.type == EXPR_STR && r.type == EXPR_STR) {
		int d = strcmp(l.str, r.str); /* any int: clamp, 2 is taken */
		cmp = (d > 0) - (d < 0);
	} else {
		double x, y;
		int numeric = (l.type == EXPR_NUM || r.type == EXPR_NUM) && as_number(&l, &x) &&
			      as_number(&r, &y);
		if (!numeric)
			return fail(c->err, off, "'%s' cannot compare %s with %s", spell(op),
				    type_desc(&l), type_desc(&r));
		cmp = x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
	}
	switch (op) {
	case T_LT:
		out->b = cmp < 0;
		break;
	case T_LE:
		out->b = cmp <= 0;
		break;
	case T_GT:
		out->b = cmp > 0 && cmp != 2;
		break;
	default:
		out->b = cmp >= 0 && cmp != 2;
		break;
	}
	return 0;
}

static int eval_node(struct eval_ctx *c, const expr *e, expr_value *out)
{
	expr_value v;
	double d;
	switch (e->kind) {
	case N_LIT:
		*out = e->lit;
		return 0;
	case N_NAME:
		return eval_name(c, e, out);
	case N_NOT:
		if (eval_node(c, e->kids[0], &v) < 0)
			return -1;
		*out = (expr_value){EXPR_BOOL, !expr_truthy(&v), 0, NULL};
		return 0;
	case N_NEG:
		if (eval_node(c, e->kids[0], &v) < 0)
			return -1;
		if (!as_number(&v, &d))
			return fail(c->err, e->off, "'-' needs a number, got %s", type_desc(&v));
		*out = (expr_value){EXPR_NUM, 0, -d, NULL};
		return 0;
	case N_ARITH:
		return eval_arith(c, e, out);
	case N_CMP:
		return eval_cmp(c, e, out);
	case N_AND:
	case N_OR: {
		/* short-circuit: the first operand that decides is the last one evaluated */
		int want = e->kind == N_OR;
		for (size_t i = 0; i < e->nkids; i++) {
			if (eval_node(c, e->kids[i], &v) < 0)
				return -1;
			if (expr_truthy(&v) == want) {
				*out = (expr_value){EXPR_BOOL, want, 0, NULL};
				return 0;
			}
		}
		*out = (expr_value){EXPR_BOOL, !want, 0, NULL};
		return 0;
	}
	}
	return fail(c->err, e->off, "internal error: bad expression node");
}

int expr_eval(const expr *e, arena *a, expr_lookup_fn lookup, void *ctx, expr_value *out,
	      expr_error *err)
{
	struct eval_ctx c = {a, lookup, ctx, err};
	if (!e)
		return fail(err, 0, "no expression");
	return eval_node(&c, e, out);
}

int expr_walk_refs(const expr *e, expr_ref_fn visit, void *ctx)
{
	if (!e)
		return 0;
	if (e->kind == N_NAME)
		return visit(ctx, e->parts, e->nparts, e->off);
	for (size_t i = 0; i < e->nkids; i++) {
		int rc = expr_walk_refs(e->kids[i], visit, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int expr_truthy(const expr_value *v)
{
	switch (v->type) {
	case EXPR_BOOL:
		return v->b != 0;
	case EXPR_NUM:
		return !(v->num == 0 || isnan(v->num));
	case EXPR_STR:
		return v->str && v->str[0];
	default:
		return 0;
	}
}

const char *expr_to_string(arena *a, const expr_value *v)
{
	char nb[NUMBUF];
	const char *s = value_text(v, nb);
	return arena_strdup(a, s ? s : "");
}

/* ---- templates ------------------------------------------------------------------ */

struct tpart {
	const char *text; /* a literal part (in the arena), or NULL */
	expr *e;          /* an expression part, or NULL */
};

struct template
{
	struct tpart *parts;
	size_t n;
	size_t nexpr;
	const expr *single; /* the whole string is one "${{ e }}" */
};

static int all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space((unsigned char)s[i]))
			return 0;
	return 1;
}

static void tpl_push(arena *a, template *t, size_t *cap, const char *text, expr *e)
{
	if (t->n == *cap) {
		t->parts = arena_grow(a, t->parts, sizeof(*t->parts), t->n, *cap ? *cap * 2 : 4);
		*cap = *cap ? *cap * 2 : 4;
	}
	t->parts[t->n].text = text;
	t->parts[t->n].e = e;
	t->n++;
}

/* see expr.h */
size_t template_find_close(const char *src, size_t len, size_t from, int *open_string)
{
	int in_str = 0;
	for (size_t j = from; j < len; j++) {
		if (in_str) {
			if (src[j] == '\'') {
				if (src[j + 1] == '\'')
					j++;
				else
					in_str = 0;
			}
		} else if (src[j] == '\'') {
			in_str = 1;
		} else if (src[j] == '}' && src[j + 1] == '}') {
			return j;
		}
	}
	*open_string = in_str;
	return 0;
}

int template_parse(arena *a, const char *src, template **out, expr_error *err)
{
	if (!src)
		src = "";
	size_t len = strlen(src), lit = 0, cap = 0, i = 0;
	template *t = arena_alloc(a, sizeof(*t));
	*out = NULL;
	while (i + 2 < len) {
		if (src[i] != '$' || src[i + 1] != '{' || src[i + 2] != '{') {
			i++;
			continue;
		}
		int open_string = 0;
		size_t close = template_find_close(src, len, i + 3, &open_string);
		if (!close)
			return fail(err, i, "'${{' is not closed by '}}'%s",
				    open_string ? " (a string inside it is not terminated)" : "");
		if (all_space(src + i + 3, close - i - 3))
			return fail(err, i, "empty expression in '${{ }}'");
		expr *e;
		if (expr_parse(a, src + i + 3, close - i - 3, i + 3, &e, err) < 0)
			return -1;
		if (i > lit)
			tpl_push(a, t, &cap, arena_strndup(a, src + lit, i - lit), NULL);
		tpl_push(a, t, &cap, NULL, e);
		t->nexpr++;
		i = close + 2;
		lit = i;
	}
	if (len > lit)
		tpl_push(a, t, &cap, arena_strndup(a, src + lit, len - lit), NULL);
	if (t->nexpr == 1) {
		int single = 1;
		const expr *e1 = NULL;
		for (size_t k = 0; k < t->n; k++) {
			if (t->parts[k].e)
				e1 = t->parts[k].e;
			else if (!all_space(t->parts[k].text, strlen(t->parts[k].text)))
				single = 0;
		}
		if (single)
			t->single = e1;
	}
	*out = t;
	return 0;
}

int template_is_literal(const template *t)
{
	return !t || t->nexpr == 0;
}

const expr *template_single_expr(const template *t)
{
	return t ? t->single : NULL;
}

int template_render(const template *t, arena *a, expr_lookup_fn lookup, void *ctx, const char **out,
		    expr_error *err)
{
	strbuf sb = STRBUF_INIT;
	char nb[NUMBUF];
	*out = NULL;
	for (size_t k = 0; t && k < t->n; k++) {
		if (t->parts[k].text) {
			strbuf_addstr(&sb, t->parts[k].text);
			continue;
		}
		expr_value v;
		if (expr_eval(t->parts[k].e, a, lookup, ctx, &v, err) < 0) {
			strbuf_release(&sb);
			return -1;
		}
		strbuf_addstr(&sb, value_text(&v, nb));
	}
	*out = arena_strndup(a, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	return 0;
}

int template_eval(const template *t, arena *a, expr_lookup_fn lookup, void *ctx, expr_value *out,
		  expr_error *err)
{
	if (t && t->single)
		return expr_eval(t->single, a, lookup, ctx, out, err);
	const char *s;
	if (template_render(t, a, lookup, ctx, &s, err) < 0)
		return -1;
	*out = (expr_value){EXPR_STR, 0, 0, s};
	return 0;
}

int template_walk_refs(const template *t, expr_ref_fn visit, void *ctx)
{
	for (size_t k = 0; t && k < t->n; k++) {
		if (!t->parts[k].e)
			continue;
		int rc = expr_walk_refs(t->parts[k].e, visit, ctx);
		if (rc)
			return rc;
	}
	return 0;
}
