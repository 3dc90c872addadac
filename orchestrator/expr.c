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

#include <jansson.h>

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

/* The value of c as a digit of any radix up to 16, or 99. */
static int digit_value(int c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
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

/* Length of the unsigned number at s[0..n) as JavaScript's Number() (and so GitHub)
 * reads it: 0x<hex>+, 0o<octal>+, 0b<binary>+, or digits with an optional fraction
 * ("5", ".5", "5.", "5.5") and exponent.  0 when s does not start with one.  *radix
 * tells which. */
static size_t scan_number(const char *s, size_t n, int *radix)
{
	*radix = 10;
	if (n >= 2 && s[0] == '0') {
		int c = s[1] | 0x20;
		int r = c == 'x' ? 16 : c == 'o' ? 8 : c == 'b' ? 2 : 0;
		if (r) {
			size_t i = 2;
			while (i < n && digit_value((unsigned char)s[i]) < r)
				i++;
			*radix = r;
			return i > 2 ? i : 0;
		}
	}
	size_t i = 0, digits = 0;
	while (i < n && is_digit((unsigned char)s[i]))
		i++, digits++;
	if (i < n && s[i] == '.') {
		size_t j = i + 1;
		while (j < n && is_digit((unsigned char)s[j]))
			j++, digits++;
		if (digits)
			i = j;
	}
	if (!digits)
		return 0;
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
static double number_value(const char *s, size_t n, int radix)
{
	if (radix != 10) {
		double v = 0;
		for (size_t i = 2; i < n; i++)
			v = v * radix + digit_value((unsigned char)s[i]);
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

/* s without the whitespace around it: [*from, *to). */
static void trim_span(const char *s, size_t *from, size_t *to)
{
	size_t n = strlen(s), i = 0;
	while (n > 0 && (is_space((unsigned char)s[n - 1]) || s[n - 1] == '\v' || s[n - 1] == '\f'))
		n--;
	while (i < n && (is_space((unsigned char)s[i]) || s[i] == '\v' || s[i] == '\f'))
		i++;
	*from = i;
	*to = n;
}

/* A string as a number for sluice's arithmetic: apart from surrounding whitespace, an
 * optional sign and a number as written in expressions ("0.93\n", "-3", "0x10"), and
 * finite.  "", "inf", "nan" and "1e999" are not numbers. */
static int string_number(const char *s, double *out)
{
	size_t i, n;
	trim_span(s, &i, &n);
	int neg = 0;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	int radix;
	size_t k = scan_number(s + i, n - i, &radix);
	if (k == 0 || i + k != n)
		return 0;
	double v = number_value(s + i, k, radix);
	if (!isfinite(v))
		return 0;
	*out = neg ? -v : v;
	return 1;
}

/* A string as GitHub converts it to a number for a comparison (JavaScript's Number()):
 * whitespace around it ignored, "" is 0, a sign only before a decimal number or
 * Infinity, anything else NaN. */
static double js_number(const char *s)
{
	size_t i, n;
	trim_span(s, &i, &n);
	if (i == n)
		return 0;
	int neg = 0, sign = 0;
	if (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-';
		sign = 1;
		i++;
	}
	double v;
	int radix;
	size_t k = scan_number(s + i, n - i, &radix);
	if (n - i == 8 && !memcmp(s + i, "Infinity", 8))
		v = INFINITY;
	else if (k && i + k == n && !(sign && radix != 10))
		v = number_value(s + i, k, radix);
	else
		return NAN;
	return neg ? -v : v;
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
	T_COMMA,
	T_START, /* not a token: "nothing read yet", for "expected an operand" messages */
};

static const char *const tok_spelling[] = {
	[T_DOT] = ".", [T_LBRACK] = "[", [T_RBRACK] = "]", [T_LPAREN] = "(", [T_RPAREN] = ")",
	[T_NOT] = "!", [T_PLUS] = "+",   [T_MINUS] = "-",  [T_STAR] = "*",   [T_SLASH] = "/",
	[T_EQ] = "==", [T_NE] = "!=",    [T_LT] = "<",     [T_LE] = "<=",    [T_GT] = ">",
	[T_GE] = ">=", [T_AND] = "&&",   [T_OR] = "||",    [T_COMMA] = ",",
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
	int radix;
	size_t k = scan_number(s + i, p->len - i, &radix);
	size_t e = i + k;
	if (k == 0 || (e < p->len && (is_ident_char((unsigned char)s[e]) || s[e] == '.'))) {
		/* show the whole run the user probably meant as one number */
		while (e < p->len && (is_ident_char((unsigned char)s[e]) || s[e] == '.'))
			e++;
		int shown = e - i > 32 ? 32 : (int)(e - i);
		const char *more = e - i > 32 ? "..." : "";
		return perr(p, i, "malformed number '%.*s%s'", shown, s + i, more);
	}
	double v = number_value(s + i, k, radix);
	if (!isfinite(v))
		return perr(p, i, "number is too large");
	p->tok.kind = T_NUM;
	p->tok.len = k;
	p->tok.num = v;
	p->pos = e;
	return 0;
}

/* A token after which '.' dereferences: the end of a name, call, group or index. */
static int ends_operand(enum tok_kind k)
{
	return k == T_IDENT || k == T_RPAREN || k == T_RBRACK || k == T_TRUE || k == T_FALSE ||
	       k == T_NULL;
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
		else if (p->prev != T_DOT && t->len == 3 && !memcmp(s + i, "NaN", 3))
			t->kind = T_NUM, t->num = NAN;
		else if (p->prev != T_DOT && t->len == 8 && !memcmp(s + i, "Infinity", 8))
			t->kind = T_NUM, t->num = INFINITY;
		p->pos = e;
		return 0;
	}
	/* ".5" is a number where no name or group stands before the '.' */
	if (is_digit(c) || (c == '.' && is_digit(c2) && !ends_operand(p->prev)))
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
	case ',':
		t->kind = T_COMMA;
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
	N_POS,   /* kids[0] */
	N_ARITH, /* kids[0] ops[0] kids[1] ops[1] ... with ops + - or * /, left to right */
	N_CMP,   /* the same with == != or < <= > >=, left to right as GitHub evaluates */
	N_AND,   /* kids[0] && kids[1] && ... */
	N_OR,    /* kids[0] || kids[1] || ... */
	N_CALL,  /* fn(kids[0], ...) */
	N_INDEX, /* kids[0][kids[1]] (also kids[0].name, kids[1] a string literal) */
};

/* The functions, GitHub's; names are case-insensitive. */
enum func {
	F_CONTAINS,
	F_STARTSWITH,
	F_ENDSWITH,
	F_FORMAT,
	F_JOIN,
	F_TOJSON,
	F_FROMJSON,
	F_SUCCESS,
	F_FAILURE,
	F_ALWAYS,
	F_CANCELLED,
	F_COUNT
};

static const struct {
	const char *name;
	int min, max;
} funcs[F_COUNT] = {
	[F_CONTAINS] = {"contains", 2, 2},   [F_STARTSWITH] = {"startsWith", 2, 2},
	[F_ENDSWITH] = {"endsWith", 2, 2},   [F_FORMAT] = {"format", 1, 255},
	[F_JOIN] = {"join", 1, 2},           [F_TOJSON] = {"toJSON", 1, 1},
	[F_FROMJSON] = {"fromJSON", 1, 1},   [F_SUCCESS] = {"success", 0, 0},
	[F_FAILURE] = {"failure", 0, 0},     [F_ALWAYS] = {"always", 0, 0},
	[F_CANCELLED] = {"cancelled", 0, 0},
};

static int is_status_func(enum func f)
{
	return f >= F_SUCCESS;
}

struct expr {
	enum node_kind kind;
	size_t off;         /* name: its first character; N_NOT, N_NEG, N_CALL: the operator */
	expr_value lit;     /* N_LIT */
	const char **parts; /* N_NAME */
	size_t nparts;
	int dash;       /* N_NAME: an identifier part contains '-' */
	enum func func; /* N_CALL */
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

static int enter(struct parser *p, size_t off)
{
	if (++p->depth > EXPR_MAX_DEPTH)
		return perr(p, off, "expression nested too deeply (more than %d levels)",
			    EXPR_MAX_DEPTH);
	return 0;
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

/* The function named s[0..n) (any case), or F_COUNT. */
static enum func find_func(const char *s, size_t n)
{
	for (int f = 0; f < F_COUNT; f++) {
		const char *name = funcs[f].name;
		size_t k = 0;
		while (k < n && name[k] && ascii_lower((unsigned char)s[k]) == ascii_lower(name[k]))
			k++;
		if (k == n && !name[k])
			return (enum func)f;
	}
	return F_COUNT;
}

/* call := IDENT '(' [ expr ( ',' expr )* ] ')', entered on the '('; the name was
 * at name_off (relative), name_len long. */
static expr *parse_call(struct parser *p, size_t name_off, size_t name_len)
{
	enum func f = find_func(p->src + name_off, name_len);
	int shown = name_len > 32 ? 32 : (int)name_len;
	if (f == F_COUNT) {
		perr(p, name_off,
		     "unknown function '%.*s' (functions: contains, startsWith, endsWith, format, "
		     "join, toJSON, fromJSON, success, failure, always, cancelled)",
		     shown, p->src + name_off);
		return NULL;
	}
	expr *e = new_node(p, N_CALL, name_off);
	e->func = f;
	size_t open = p->tok.off;
	if (enter(p, open) < 0 || advance(p) < 0)
		return NULL;
	struct chain c = {0};
	if (p->tok.kind != T_RPAREN) {
		for (;;) {
			expr *arg = parse_expr(p);
			if (!arg)
				return NULL;
			chain_push(p->a, &c, arg, T_COMMA, 0);
			if (c.n > (size_t)funcs[f].max) {
				perr(p, arg->off - p->base, "%s() takes at most %d argument%s",
				     funcs[f].name, funcs[f].max, funcs[f].max == 1 ? "" : "s");
				return NULL;
			}
			if (p->tok.kind != T_COMMA)
				break;
			if (advance(p) < 0)
				return NULL;
		}
	}
	if (p->tok.kind != T_RPAREN) {
		char fb[64];
		if (p->tok.kind == T_END)
			perr(p, open, "'(' of %s() is not closed", funcs[f].name);
		else
			perr(p, p->tok.off, "expected ',' or ')' in the call of %s()%s",
			     funcs[f].name, found(p, fb, sizeof(fb)));
		return NULL;
	}
	if (c.n < (size_t)funcs[f].min) {
		if (funcs[f].min == funcs[f].max)
			perr(p, name_off, "%s() takes %d argument%s, got %zu", funcs[f].name,
			     funcs[f].min, funcs[f].min == 1 ? "" : "s", c.n);
		else
			perr(p, name_off, "%s() takes at least %d argument%s, got %zu",
			     funcs[f].name, funcs[f].min, funcs[f].min == 1 ? "" : "s", c.n);
		return NULL;
	}
	p->depth--;
	e->kids = c.kids;
	e->nkids = c.n;
	return advance(p) < 0 ? NULL : e;
}

/* name := IDENT ( '.' IDENT | '[' 'string' ']' )*, entered on the IDENT.  After '.',
 * true, false and null are names like any other (params.null).  A '[' with anything
 * but a string in it ends the name: it indexes the name's value (parse_postfix). */
static expr *parse_name(struct parser *p)
{
	expr *e = new_node(p, N_NAME, p->tok.off);
	size_t cap = 0;
	char f[64];
	size_t first_off = p->tok.off, first_len = p->tok.len;
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
			char *id = arena_strndup(p->a, p->src + p->tok.off, p->tok.len);
			if (strchr(id, '-'))
				e->dash = 1;
			/* the context (params, steps, ...) is case-insensitive, as in GitHub */
			for (char *q = id; e->nparts == 0 && *q; q++)
				*q = (char)ascii_lower((unsigned char)*q);
			part = id;
		}
		if (e->nparts == cap) {
			cap = cap ? cap * 2 : 4;
			e->parts = arena_grow(p->a, e->parts, sizeof(*e->parts), e->nparts, cap);
		}
		e->parts[e->nparts++] = part;
		if (advance(p) < 0)
			return NULL;
		if (e->nparts == 1 && p->tok.kind == T_LPAREN)
			return parse_call(p, first_off, first_len);
		if (p->tok.kind == T_DOT) {
			if (advance(p) < 0)
				return NULL;
			if (!is_name_token(p->tok.kind)) {
				const char *fd = found(p, f, sizeof(f));
				perr(p, p->tok.off, "expected a name after '.'%s", fd);
				return NULL;
			}
		} else if (p->tok.kind == T_LBRACK && p->pos < p->len) {
			/* one token of lookahead: a string literal followed by ']' is a part */
			size_t save_pos = p->pos;
			struct token save = p->tok;
			enum tok_kind save_prev = p->prev;
			if (advance(p) < 0)
				return NULL;
			int part_next = p->tok.kind == T_STR;
			if (part_next) {
				size_t q = p->pos;
				while (q < p->len && is_space((unsigned char)p->src[q]))
					q++;
				part_next = q < p->len && p->src[q] == ']';
			}
			if (!part_next) {
				p->pos = save_pos;
				p->tok = save;
				p->prev = save_prev;
				return e;
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

/* postfix := primary ( '.' IDENT | '[' expr ']' )*: members of an array or object
 * value (fromJSON(x).a, params.list[0]).  Each level counts towards the depth. */
static expr *parse_postfix(struct parser *p, expr *e)
{
	int levels = 0;
	char f[64];
	while (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK) {
		enum tok_kind k = p->tok.kind;
		size_t at = p->tok.off;
		if (enter(p, at) < 0 || advance(p) < 0)
			return NULL;
		levels++;
		expr *idx;
		if (k == T_DOT) {
			if (!is_name_token(p->tok.kind)) {
				perr(p, p->tok.off, "expected a name after '.'%s",
				     found(p, f, sizeof(f)));
				return NULL;
			}
			idx = new_node(p, N_LIT, p->tok.off);
			idx->lit.type = EXPR_STR;
			idx->lit.str = arena_strndup(p->a, p->src + p->tok.off, p->tok.len);
			if (advance(p) < 0)
				return NULL;
		} else {
			idx = parse_expr(p);
			if (!idx)
				return NULL;
			if (p->tok.kind != T_RBRACK) {
				perr(p, p->tok.off, "expected ']'%s", found(p, f, sizeof(f)));
				return NULL;
			}
			if (advance(p) < 0)
				return NULL;
		}
		expr *n = new_node(p, N_INDEX, at);
		n->kids = arena_alloc(p->a, 2 * sizeof(*n->kids));
		n->kids[0] = e;
		n->kids[1] = idx;
		n->nkids = 2;
		e = n;
	}
	p->depth -= levels;
	return e;
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
		e = parse_name(p);
		return e ? parse_postfix(p, e) : NULL;
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
		if (advance(p) < 0)
			return NULL;
		return parse_postfix(p, e);
	}
	default:
		return operand_error(p);
	}
}

static expr *parse_unary(struct parser *p)
{
	enum tok_kind k = p->tok.kind;
	if (k != T_NOT && k != T_MINUS && k != T_PLUS)
		return parse_primary(p);
	size_t off = p->tok.off;
	if (enter(p, off) < 0 || advance(p) < 0)
		return NULL;
	expr *operand = parse_unary(p);
	if (!operand)
		return NULL;
	p->depth--;
	expr *e = new_node(p, k == T_NOT ? N_NOT : k == T_MINUS ? N_NEG : N_POS, off);
	e->kids = arena_alloc(p->a, sizeof(*e->kids));
	e->kids[0] = operand;
	e->nkids = 1;
	return e;
}

typedef expr *(*parse_fn)(struct parser *p);
typedef int (*op_fn)(enum tok_kind k);

/* One left-associative precedence level: next ( OP next )*.  A lone operand is
 * returned as it is; a run becomes one n-ary node. */
static expr *parse_run(struct parser *p, parse_fn next, enum node_kind kind, op_fn is_op)
{
	expr *first = next(p);
	if (!first)
		return NULL;
	if (!is_op(p->tok.kind))
		return first;
	struct chain c = {0};
	chain_push(p->a, &c, first, T_END, 0);
	while (is_op(p->tok.kind)) {
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

static int is_mul_op(enum tok_kind k)
{
	return k == T_STAR || k == T_SLASH;
}

static int is_add_op(enum tok_kind k)
{
	return k == T_PLUS || k == T_MINUS;
}

static int is_rel_op(enum tok_kind k)
{
	return k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

static int is_eq_op(enum tok_kind k)
{
	return k == T_EQ || k == T_NE;
}

static int is_and_op(enum tok_kind k)
{
	return k == T_AND;
}

static int is_or_op(enum tok_kind k)
{
	return k == T_OR;
}

static expr *parse_mul(struct parser *p)
{
	return parse_run(p, parse_unary, N_ARITH, is_mul_op);
}

static expr *parse_add(struct parser *p)
{
	return parse_run(p, parse_mul, N_ARITH, is_add_op);
}

/* GitHub: < <= > >= bind tighter than == !=, and each level runs left to right, so
 * `3 < 2 < 1` is `(3 < 2) < 1`, i.e. `false < 1`: true. */
static expr *parse_rel(struct parser *p)
{
	return parse_run(p, parse_add, N_CMP, is_rel_op);
}

static expr *parse_eq(struct parser *p)
{
	return parse_run(p, parse_rel, N_CMP, is_eq_op);
}

static expr *parse_and(struct parser *p)
{
	return parse_run(p, parse_eq, N_AND, is_and_op);
}

static expr *parse_expr(struct parser *p)
{
	return parse_run(p, parse_and, N_OR, is_or_op);
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
	case EXPR_ARRAY:
		return "an array";
	case EXPR_OBJECT:
		return "an object";
	}
	return "an invalid value";
}

static int is_primitive(const expr_value *v)
{
	return v->type <= EXPR_STR;
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
	case EXPR_ARRAY:
	case EXPR_OBJECT:
		return v->str ? v->str : "";
	default:
		return "";
	}
}

/* ---- strings, compared as GitHub does: ignoring ASCII case ---------------------- */

static int ci_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = ascii_upper((unsigned char)*a), y = ascii_upper((unsigned char)*b);
		if (x != y || !x)
			return (x > y) - (x < y);
	}
}

static int ci_prefix(const char *s, const char *pre, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_upper((unsigned char)s[i]) != ascii_upper((unsigned char)pre[i]))
			return 0;
	return 1;
}

static int ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle), h = strlen(hay);
	for (size_t i = 0; i + n <= h; i++)
		if (ci_prefix(hay + i, needle, n))
			return 1;
	return 0;
}

/* ---- JSON: arrays and objects are kept as text and read with jansson --------------- */

static void json_quote(strbuf *sb, const char *s, size_t n)
{
	strbuf_addch(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			strbuf_addstr(sb, "\\n");
		else if (c == '\t')
			strbuf_addstr(sb, "\\t");
		else if (c == '\r')
			strbuf_addstr(sb, "\\r");
		else if (c < 0x20)
			strbuf_addf(sb, "\\u%04x", c);
		else
			strbuf_addch(sb, (char)c);
	}
	strbuf_addch(sb, '"');
}

static void json_indent(strbuf *sb, int pretty, int level)
{
	if (!pretty)
		return;
	strbuf_addch(sb, '\n');
	for (int i = 0; i < level; i++)
		strbuf_addstr(sb, "  ");
}

/* j as JSON text: compact, or pretty (two spaces a level, as GitHub's toJSON). */
static void json_write(strbuf *sb, const json_t *j, int pretty, int level)
{
	char nb[NUMBUF];
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		int first = 1;
		strbuf_addch(sb, '{');
		json_object_foreach((json_t *)j, key, v)
		{
			strbuf_addstr(sb, first ? "" : ",");
			json_indent(sb, pretty, level + 1);
			json_quote(sb, key, strlen(key));
			strbuf_addstr(sb, pretty ? ": " : ":");
			json_write(sb, v, pretty, level + 1);
			first = 0;
		}
		if (!first)
			json_indent(sb, pretty, level);
		strbuf_addch(sb, '}');
		break;
	}
	case JSON_ARRAY:
		strbuf_addch(sb, '[');
		for (size_t i = 0; i < json_array_size(j); i++) {
			strbuf_addstr(sb, i ? "," : "");
			json_indent(sb, pretty, level + 1);
			json_write(sb, json_array_get(j, i), pretty, level + 1);
		}
		if (json_array_size(j))
			json_indent(sb, pretty, level);
		strbuf_addch(sb, ']');
		break;
	case JSON_STRING:
		json_quote(sb, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		strbuf_addstr(sb, format_number((double)json_integer_value(j), nb));
		break;
	case JSON_REAL:
		strbuf_addstr(sb, format_number(json_real_value(j), nb));
		break;
	case JSON_TRUE:
		strbuf_addstr(sb, "true");
		break;
	case JSON_FALSE:
		strbuf_addstr(sb, "false");
		break;
	default:
		strbuf_addstr(sb, "null");
		break;
	}
}

/* A JSON value as an expression value; strings and texts go into the arena. */
static expr_value value_from_json(arena *a, const json_t *j)
{
	expr_value v = {EXPR_NULL, 0, 0, NULL};
	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY: {
		strbuf sb = STRBUF_INIT;
		json_write(&sb, j, 0, 0);
		v.type = json_is_array(j) ? EXPR_ARRAY : EXPR_OBJECT;
		v.str = arena_strndup(a, strbuf_str(&sb), sb.len);
		strbuf_release(&sb);
		break;
	}
	case JSON_STRING:
		v.type = EXPR_STR;
		v.str = arena_strndup(a, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		v.type = EXPR_NUM;
		v.num = (double)json_integer_value(j);
		break;
	case JSON_REAL:
		v.type = EXPR_NUM;
		v.num = json_real_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v.type = EXPR_BOOL;
		v.b = json_is_true(j);
		break;
	default:
		break;
	}
	return v;
}

/* The JSON of an array or object value (decref it), or NULL after an error. */
static json_t *value_json(struct eval_ctx *c, const expr_value *v, size_t off)
{
	json_error_t je;
	json_t *j = json_loads(v->str ? v->str : "null", JSON_DECODE_ANY, &je);
	if (!j)
		fail(c->err, off, "%s is not valid JSON: %s", type_desc(v), je.text);
	return j;
}

/* ---- conversions and comparisons, as GitHub defines them ------------------------- */

/* A value as text for format(), join() and contains(): null is '', an array or
 * object its JSON. */
static const char *coerce_string(const expr_value *v, char buf[NUMBUF])
{
	return value_text(v, buf);
}

/* GitHub's conversion for mixed-type comparisons: null 0, bools 0 and 1, a string
 * as Number() reads it.  Arrays and objects are never converted (0 returned). */
static int to_number(const expr_value *v, double *d)
{
	switch (v->type) {
	case EXPR_NULL:
		*d = 0;
		return 1;
	case EXPR_BOOL:
		*d = v->b ? 1 : 0;
		return 1;
	case EXPR_NUM:
		*d = v->num;
		return 1;
	case EXPR_STR:
		*d = js_number(v->str);
		return 1;
	default:
		return 0;
	}
}

/* Bring l and r to one type where GitHub does: same types stay; otherwise a
 * number with a string, and null or a bool with anything, become numbers. */
static void coerce_pair(expr_value *l, expr_value *r)
{
	if (l->type == r->type)
		return;
	int lconv = l->type == EXPR_NULL || l->type == EXPR_BOOL ||
		    (l->type == EXPR_STR && r->type == EXPR_NUM);
	int rconv = r->type == EXPR_NULL || r->type == EXPR_BOOL ||
		    (r->type == EXPR_STR && l->type == EXPR_NUM);
	double d;
	if (lconv && to_number(l, &d))
		*l = (expr_value){EXPR_NUM, 0, d, NULL};
	if (rconv && to_number(r, &d))
		*r = (expr_value){EXPR_NUM, 0, d, NULL};
	/* a string and a bool: the bool is a number now, so the string becomes one too */
	if (l->type != r->type && (l->type == EXPR_NUM) != (r->type == EXPR_NUM)) {
		expr_value *s = l->type == EXPR_STR ? l : r->type == EXPR_STR ? r : NULL;
		if (s && to_number(s, &d))
			*s = (expr_value){EXPR_NUM, 0, d, NULL};
	}
}

/* -1, 0, 1 for an order, 2 for none (NaN, types that differ, arrays, objects);
 * eq_only: equality asked, where arrays and objects equal only themselves. */
static int loose_compare(expr_value l, expr_value r, int eq_only)
{
	coerce_pair(&l, &r);
	if (l.type != r.type)
		return 2;
	switch (l.type) {
	case EXPR_NULL:
		return 0;
	case EXPR_BOOL:
		return (l.b > r.b) - (l.b < r.b);
	case EXPR_NUM:
		if (isnan(l.num) || isnan(r.num))
			return 2;
		return (l.num > r.num) - (l.num < r.num);
	case EXPR_STR:
		return ci_cmp(l.str, r.str);
	default:
		return eq_only && l.str == r.str ? 0 : 2;
	}
}

static int loose_equal(const expr_value *l, const expr_value *r)
{
	return loose_compare(*l, *r, 1) == 0;
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

/* What the lookup gave, checked: a valid type, strings never NULL. */
static int checked_lookup(struct eval_ctx *c, const char *const *parts, size_t n, expr_value *v,
			  char *msg, size_t msgsize)
{
	int rc = -1;
	*v = (expr_value){EXPR_NULL, 0, 0, NULL};
	msg[0] = 0;
	if (c->lookup)
		rc = c->lookup(c->ctx, parts, n, v, msg, msgsize);
	msg[msgsize - 1] = 0;
	if (rc == 0 && (unsigned)v->type > EXPR_OBJECT) {
		rc = -1;
		snprintf(msg, msgsize, "lookup gave an invalid value");
	}
	if (rc == 0 && v->type >= EXPR_STR && !v->str)
		v->str = v->type == EXPR_STR ? "" : v->type == EXPR_ARRAY ? "[]" : "{}";
	if (rc == 0 && v->type == EXPR_BOOL)
		v->b = !!v->b;
	return rc;
}

/* The member parts[0..n) of an array or object value (GitHub's params.cfg.a when
 * the lookup knows params.cfg): 1 with *out set, 0 when v has no such member
 * path, -1 after an error. */
static int member_path(struct eval_ctx *c, const expr *e, expr_value v, const char *const *parts,
		       size_t n, expr_value *out)
{
	for (size_t k = 0; k < n; k++) {
		if (v.type != EXPR_ARRAY && v.type != EXPR_OBJECT)
			return 0;
		json_t *j = value_json(c, &v, e->off);
		if (!j)
			return -1;
		const json_t *m = json_is_object(j) ? json_object_get(j, parts[k]) : NULL;
		const char *key;
		json_t *mv;
		json_object_foreach(j, key, mv)
		{
			if (!m && ci_cmp(key, parts[k]) == 0)
				m = mv;
		}
		if (m)
			v = value_from_json(c->a, m);
		json_decref(j);
		if (!m)
			return 0;
	}
	*out = v;
	return 1;
}

static int eval_name(struct eval_ctx *c, const expr *e, expr_value *out)
{
	char msg[sizeof(((expr_error *)0)->msg)];
	expr_value v;
	int rc = checked_lookup(c, e->parts, e->nparts, &v, msg, sizeof(msg));
	/* not a name the lookup knows: perhaps a member of one that it does */
	for (size_t k = e->nparts - 1; rc != 0 && k >= 2; k--) {
		char m2[sizeof(msg)];
		expr_value base;
		if (checked_lookup(c, e->parts, k, &base, m2, sizeof(m2)) != 0)
			continue;
		int got = member_path(c, e, base, e->parts + k, e->nparts - k, &v);
		if (got < 0)
			return -1;
		if (got)
			rc = 0;
		break;
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

static int compare_op(enum tok_kind op, const expr_value *l, const expr_value *r)
{
	if (op == T_EQ || op == T_NE) {
		int eq = loose_equal(l, r);
		return op == T_EQ ? eq : !eq;
	}
	int cmp = loose_compare(*l, *r, 0);
	switch (op) {
	case T_LT:
		return cmp == -1;
	/* GitHub: a <= b is a == b || a < b, so an array is <= itself */
	case T_LE:
		return cmp == -1 || loose_equal(l, r);
	case T_GT:
		return cmp == 1;
	default:
		return cmp == 1 || loose_equal(l, r);
	}
}

/* A run of comparisons of one level, left to right: the bool of one is the left
 * operand of the next (GitHub's `3 < 2 < 1` is true). */
static int eval_cmp(struct eval_ctx *c, const expr *e, expr_value *out)
{
	expr_value acc;
	if (eval_node(c, e->kids[0], &acc) < 0)
		return -1;
	for (size_t i = 1; i < e->nkids; i++) {
		expr_value r;
		if (eval_node(c, e->kids[i], &r) < 0)
			return -1;
		acc = (expr_value){EXPR_BOOL, compare_op(e->ops[i - 1], &acc, &r), 0, NULL};
	}
	*out = acc;
	return 0;
}

/* obj[idx]: an array's element (a number index), an object's member (its key
 * ignoring case, as GitHub); null for anything else, as GitHub. */
static int eval_index(struct eval_ctx *c, const expr *e, expr_value *out)
{
	expr_value obj, idx;
	if (eval_node(c, e->kids[0], &obj) < 0 || eval_node(c, e->kids[1], &idx) < 0)
		return -1;
	*out = (expr_value){EXPR_NULL, 0, 0, NULL};
	if (obj.type != EXPR_ARRAY && obj.type != EXPR_OBJECT)
		return 0;
	json_t *j = value_json(c, &obj, e->off);
	if (!j)
		return -1;
	const json_t *m = NULL;
	char nb[NUMBUF];
	double d;
	if (json_is_array(j) && to_number(&idx, &d) && idx.type != EXPR_NULL && d >= 0 &&
	    d < (double)json_array_size(j))
		m = json_array_get(j, (size_t)d);
	if (json_is_object(j) && is_primitive(&idx)) {
		const char *want = coerce_string(&idx, nb), *key;
		json_t *v;
		m = json_object_get(j, want);
		json_object_foreach(j, key, v)
		{
			if (!m && ci_cmp(key, want) == 0)
				m = v;
		}
	}
	if (m)
		*out = value_from_json(c->a, m);
	json_decref(j);
	return 0;
}

/* format('{0} of {1}', a, b): {N} is argument N, {{ and }} are braces. */
static int eval_format(struct eval_ctx *c, const expr *e, const expr_value *args, size_t n,
		       expr_value *out)
{
	char nb[NUMBUF];
	const char *fs = coerce_string(&args[0], nb);
	fs = arena_strdup(c->a, fs); /* nb is reused below */
	strbuf sb = STRBUF_INIT;
	for (size_t i = 0; fs[i];) {
		if (fs[i] == '{' && fs[i + 1] == '{') {
			strbuf_addch(&sb, '{');
			i += 2;
		} else if (fs[i] == '}' && fs[i + 1] == '}') {
			strbuf_addch(&sb, '}');
			i += 2;
		} else if (fs[i] == '{') {
			size_t j = i + 1, k = 0;
			while (is_digit((unsigned char)fs[j]) && k < 1000)
				k = k * 10 + (size_t)(fs[j++] - '0');
			if (j == i + 1 || fs[j] != '}') {
				strbuf_release(&sb);
				return fail(c->err, e->off, "format: invalid format string '%.60s'",
					    fs);
			}
			if (k + 1 >= n) {
				strbuf_release(&sb);
				return fail(
					c->err, e->off,
					"format: '%.60s' refers to argument {%zu}, but only %zu "
					"follow%s",
					fs, k, n - 1, n - 1 == 1 ? "s" : "");
			}
			strbuf_addstr(&sb, coerce_string(&args[k + 1], nb));
			i = j + 1;
		} else if (fs[i] == '}') {
			strbuf_release(&sb);
			return fail(c->err, e->off,
				    "format: invalid format string '%.60s' (write '}}' for a '}')",
				    fs);
		} else {
			strbuf_addch(&sb, fs[i++]);
		}
	}
	*out = (expr_value){EXPR_STR, 0, 0, arena_strndup(c->a, strbuf_str(&sb), sb.len)};
	strbuf_release(&sb);
	return 0;
}

/* join(array, sep = ','): the elements as text; a primitive is its own text. */
static int eval_join(struct eval_ctx *c, const expr *e, const expr_value *args, size_t n,
		     expr_value *out)
{
	char nb[NUMBUF];
	*out = (expr_value){EXPR_STR, 0, 0, ""};
	if (is_primitive(&args[0])) {
		out->str = arena_strdup(c->a, coerce_string(&args[0], nb));
		return 0;
	}
	if (args[0].type != EXPR_ARRAY)
		return 0;
	const char *sep = n > 1 && is_primitive(&args[1]) ? coerce_string(&args[1], nb) : ",";
	sep = arena_strdup(c->a, sep);
	json_t *j = value_json(c, &args[0], e->off);
	if (!j)
		return -1;
	strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < json_array_size(j); i++) {
		expr_value v = value_from_json(c->a, json_array_get(j, i));
		strbuf_addstr(&sb, i ? sep : "");
		strbuf_addstr(&sb, coerce_string(&v, nb));
	}
	out->str = arena_strndup(c->a, strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	json_decref(j);
	return 0;
}

/* contains(search, item): a substring ignoring case, or an element of an array
 * that equals item loosely. */
static int eval_contains(struct eval_ctx *c, const expr *e, const expr_value *args, expr_value *out)
{
	char nb[NUMBUF], nb2[NUMBUF];
	*out = (expr_value){EXPR_BOOL, 0, 0, NULL};
	if (is_primitive(&args[0])) {
		if (is_primitive(&args[1]))
			out->b = ci_contains(coerce_string(&args[0], nb),
					     coerce_string(&args[1], nb2));
		return 0;
	}
	if (args[0].type != EXPR_ARRAY)
		return 0;
	json_t *j = value_json(c, &args[0], e->off);
	if (!j)
		return -1;
	for (size_t i = 0; i < json_array_size(j) && !out->b; i++) {
		expr_value v = value_from_json(c->a, json_array_get(j, i));
		out->b = loose_equal(&args[1], &v);
	}
	json_decref(j);
	return 0;
}

static int eval_tojson(struct eval_ctx *c, const expr *e, const expr_value *v, expr_value *out)
{
	strbuf sb = STRBUF_INIT;
	char nb[NUMBUF];
	if (v->type == EXPR_ARRAY || v->type == EXPR_OBJECT) {
		json_t *j = value_json(c, v, e->off);
		if (!j)
			return -1;
		json_write(&sb, j, 1, 0);
		json_decref(j);
	} else if (v->type == EXPR_STR) {
		json_quote(&sb, v->str, strlen(v->str));
	} else if (v->type == EXPR_NULL) {
		strbuf_addstr(&sb, "null");
	} else {
		strbuf_addstr(&sb, value_text(v, nb));
	}
	*out = (expr_value){EXPR_STR, 0, 0, arena_strndup(c->a, strbuf_str(&sb), sb.len)};
	strbuf_release(&sb);
	return 0;
}

static int eval_fromjson(struct eval_ctx *c, const expr *e, const expr_value *v, expr_value *out)
{
	char nb[NUMBUF];
	const char *s = coerce_string(v, nb);
	json_error_t je;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
	if (!j)
		return fail(c->err, e->off, "fromJSON: not valid JSON: %s (at character %d)",
			    je.text, je.position);
	*out = value_from_json(c->a, j);
	json_decref(j);
	return 0;
}

/* A status function: the lookup answers "success()", "failure()", ... */
static int eval_status(struct eval_ctx *c, const expr *e, expr_value *out)
{
	char part[32], msg[sizeof(((expr_error *)0)->msg)];
	snprintf(part, sizeof(part), "%s()", funcs[e->func].name);
	const char *parts[1] = {part};
	expr_value v;
	if (checked_lookup(c, parts, 1, &v, msg, sizeof(msg)) != 0)
		return fail(c->err, e->off, "%s",
			    msg[0] ? msg : "status functions are only known in when: during a run");
	*out = (expr_value){EXPR_BOOL, expr_truthy(&v), 0, NULL};
	return 0;
}

static int eval_call(struct eval_ctx *c, const expr *e, expr_value *out)
{
	if (is_status_func(e->func))
		return eval_status(c, e, out);
	expr_value *args = arena_alloc(c->a, (e->nkids + 1) * sizeof(*args));
	for (size_t i = 0; i < e->nkids; i++)
		if (eval_node(c, e->kids[i], &args[i]) < 0)
			return -1;
	char nb[NUMBUF], nb2[NUMBUF];
	switch (e->func) {
	case F_CONTAINS:
		return eval_contains(c, e, args, out);
	case F_STARTSWITH:
	case F_ENDSWITH: {
		*out = (expr_value){EXPR_BOOL, 0, 0, NULL};
		if (!is_primitive(&args[0]) || !is_primitive(&args[1]))
			return 0;
		const char *s = coerce_string(&args[0], nb), *t = coerce_string(&args[1], nb2);
		size_t ns = strlen(s), nt = strlen(t);
		out->b = nt <= ns && ci_prefix(e->func == F_STARTSWITH ? s : s + ns - nt, t, nt);
		return 0;
	}
	case F_FORMAT:
		return eval_format(c, e, args, e->nkids, out);
	case F_JOIN:
		return eval_join(c, e, args, e->nkids, out);
	case F_TOJSON:
		return eval_tojson(c, e, &args[0], out);
	case F_FROMJSON:
		return eval_fromjson(c, e, &args[0], out);
	default:
		return fail(c->err, e->off, "internal error: bad function");
	}
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
	case N_POS:
		if (eval_node(c, e->kids[0], &v) < 0)
			return -1;
		if (!as_number(&v, &d))
			return fail(c->err, e->off, "'%s' needs a number, got %s",
				    e->kind == N_NEG ? "-" : "+", type_desc(&v));
		*out = (expr_value){EXPR_NUM, 0, e->kind == N_NEG ? -d : d, NULL};
		return 0;
	case N_ARITH:
		return eval_arith(c, e, out);
	case N_CMP:
		return eval_cmp(c, e, out);
	case N_AND:
	case N_OR: {
		/* short-circuit: the operand that decides is the value, as in GitHub */
		int want = e->kind == N_OR;
		for (size_t i = 0; i < e->nkids; i++) {
			if (eval_node(c, e->kids[i], &v) < 0)
				return -1;
			if (expr_truthy(&v) == want || i + 1 == e->nkids) {
				*out = v;
				return 0;
			}
		}
		break;
	}
	case N_CALL:
		return eval_call(c, e, out);
	case N_INDEX:
		return eval_index(c, e, out);
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

unsigned expr_status_funcs(const expr *e, size_t *offset)
{
	unsigned found = 0;
	if (!e)
		return 0;
	if (e->kind == N_CALL && is_status_func(e->func)) {
		if (offset)
			*offset = e->off;
		return 1u << (e->func - F_SUCCESS);
	}
	for (size_t i = 0; i < e->nkids; i++) {
		size_t off;
		unsigned f = expr_status_funcs(e->kids[i], &off);
		if (f && !found && offset)
			*offset = off;
		found |= f;
	}
	return found;
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
	case EXPR_ARRAY:
	case EXPR_OBJECT:
		return 1;
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

unsigned template_status_funcs(const template *t, size_t *offset)
{
	unsigned found = 0;
	for (size_t k = 0; t && k < t->n; k++) {
		size_t off;
		unsigned f = expr_status_funcs(t->parts[k].e, &off);
		if (f && !found && offset)
			*offset = off;
		found |= f;
	}
	return found;
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
