/*
 * yamldoc.c — libyaml events → a tree of ynodes in an arena.
 *
 * Invariants: an anchor is registered only when its node is complete, so an
 * alias can never point at its own ancestor (no cycles); every node's
 * `expanded` counts its subtree with aliases expanded, and the parse stops
 * as soon as any open collection would exceed the bound.
 */
#include "sluice/yamldoc.h"

#include "sluice/strmap.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	ynode *node;
	/* map under construction: a pending key waiting for its value */
	const char *key;
	int key_line, key_col;
	int have_key;
	const char *anchor;
	size_t cap;
	strmap *keys; /* key → index+1, made once a map is large enough to need it */
};

struct builder {
	arena *a;
	const char *file;
	diag_list *diags;
	uint64_t max_expanded;
	struct frame *stack;
	size_t depth, stack_cap;
	strmap anchors;
	ynode *root;
	int failed;
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static ynode *new_node(struct builder *b, ynode_kind kind, yaml_mark_t m)
{
	ynode *n = arena_alloc(b->a, sizeof(*n));
	n->kind = kind;
	n->line = (int)m.line + 1;
	n->col = (int)m.column + 1;
	n->expanded = 1;
	return n;
}

static void push_item(struct builder *b, struct frame *f, ynode *child)
{
	ynode *p = f->node;
	if (p->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		p->items = arena_grow(b->a, p->items, sizeof(ynode *), p->n, cap);
		if (p->kind == YNODE_MAP) {
			p->keys = arena_grow(b->a, p->keys, sizeof(char *), p->n, cap);
			p->key_line = arena_grow(b->a, p->key_line, sizeof(int), p->n, cap);
			p->key_col = arena_grow(b->a, p->key_col, sizeof(int), p->n, cap);
		}
		f->cap = cap;
	}
	if (p->kind == YNODE_MAP) {
		p->keys[p->n] = f->key;
		p->key_line[p->n] = f->key_line;
		p->key_col[p->n] = f->key_col;
	}
	p->items[p->n++] = child;
	p->expanded = sat_add(p->expanded, child->expanded);
}

/* Attach a finished node to its parent (or make it the root). */
static void attach(struct builder *b, ynode *n)
{
	if (b->depth == 0) {
		b->root = n;
		return;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (f->node->kind == YNODE_SEQ) {
		push_item(b, f, n);
	} else if (!f->have_key) {
		if (n->kind != YNODE_SCALAR) {
			diag_add(b->diags, b->file, n->line, n->col,
				 "a map key must be a plain value, not %s", ynode_kind_name(n));
			b->failed = 1;
			return;
		}
		/* duplicate keys: a scan for small maps, a hash index for large
		 * ones (`steps:` may hold ten thousand keys) */
		long dup = -1;
		if (!f->keys && f->node->n >= 16) {
			f->keys = xcalloc(1, sizeof(strmap));
			for (size_t i = 0; i < f->node->n; i++)
				strmap_put(f->keys, f->node->keys[i], (void *)(i + 1));
		}
		if (f->keys) {
			void *v = strmap_get(f->keys, n->str);
			dup = v ? (long)((size_t)v - 1) : -1;
		} else {
			for (size_t i = 0; i < f->node->n && dup < 0; i++)
				if (strcmp(f->node->keys[i], n->str) == 0)
					dup = (long)i;
		}
		if (dup >= 0) {
			diag_add(b->diags, b->file, n->line, n->col,
				 "duplicate key '%s' (first at line %d, column %d)", n->str,
				 f->node->key_line[dup], f->node->key_col[dup]);
			b->failed = 1;
		} else if (f->keys) {
			strmap_put(f->keys, n->str, (void *)(f->node->n + 1));
		}
		f->key = n->str;
		f->key_line = n->line;
		f->key_col = n->col;
		f->have_key = 1;
	} else {
		push_item(b, f, n);
		f->have_key = 0;
	}
	/* The document will hold at least what the open collections hold now. */
	uint64_t total = 0;
	for (size_t i = 0; i < b->depth; i++)
		total = sat_add(total, b->stack[i].node->expanded);
	if (total > b->max_expanded) {
		if (!b->failed)
			diag_add(b->diags, b->file, n->line, n->col,
				 "document too large once aliases are expanded (more than %llu "
				 "nodes): is it a \"billion laughs\" file?",
				 (unsigned long long)b->max_expanded);
		b->failed = 2;
	}
}

static void register_anchor(struct builder *b, const char *anchor, ynode *n)
{
	if (anchor)
		strmap_put(&b->anchors, anchor, n);
}

static void push_frame(struct builder *b, ynode *n, const char *anchor)
{
	if (b->depth == b->stack_cap) {
		b->stack_cap = b->stack_cap ? b->stack_cap * 2 : 16;
		b->stack = xrealloc(b->stack, b->stack_cap * sizeof(*b->stack));
	}
	b->stack[b->depth++] = (struct frame){.node = n, .anchor = anchor};
}

static enum yscalar_style style_of(yaml_scalar_style_t s)
{
	switch (s) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		return YSTYLE_SINGLE;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return YSTYLE_DOUBLE;
	case YAML_LITERAL_SCALAR_STYLE:
		return YSTYLE_LITERAL;
	case YAML_FOLDED_SCALAR_STYLE:
		return YSTYLE_FOLDED;
	default:
		return YSTYLE_PLAIN;
	}
}

#define MAX_DEPTH 256

int yamldoc_parse(arena *a, const char *file, const char *text, size_t len, uint64_t max_expanded,
		  ynode **root, diag_list *diags)
{
	struct builder b = {.a = a, .file = file, .diags = diags, .max_expanded = max_expanded};
	yaml_parser_t parser;
	yaml_event_t ev;
	*root = NULL;
	if (!yaml_parser_initialize(&parser)) {
		diag_add(diags, file, 0, 0, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int docs = 0, done = 0;
	while (!done && b.failed != 2) {
		if (!yaml_parser_parse(&parser, &ev)) {
			/* the context mark (where the key or block began) is where the
			 * reader should look; the problem mark is often the next line */
			yaml_mark_t m = parser.context ? parser.context_mark : parser.problem_mark;
			if (parser.context)
				diag_add(diags, file, (int)m.line + 1, (int)m.column + 1, "%s %s",
					 parser.problem ? parser.problem : "YAML error",
					 parser.context);
			else
				diag_add(diags, file, (int)m.line + 1, (int)m.column + 1, "%s",
					 parser.problem ? parser.problem : "YAML error");
			b.failed = 2;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				diag_add(diags, file, (int)ev.start_mark.line + 1,
					 (int)ev.start_mark.column + 1,
					 "a pipeline file holds one YAML document; found a second");
				b.failed = 2;
			}
			break;
		case YAML_SCALAR_EVENT: {
			ynode *n = new_node(&b, YNODE_SCALAR, ev.start_mark);
			n->str = arena_strndup(a, (const char *)ev.data.scalar.value,
					       ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			if (strlen(n->str) != n->len) {
				diag_add(diags, file, n->line, n->col, "NUL byte in a value");
				b.failed = 1;
			}
			n->style = style_of(ev.data.scalar.style);
			attach(&b, n);
			register_anchor(&b, arena_strdup(a, (const char *)ev.data.scalar.anchor),
					n);
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			if (b.depth >= MAX_DEPTH) {
				diag_add(diags, file, (int)ev.start_mark.line + 1,
					 (int)ev.start_mark.column + 1,
					 "nested more than %d levels deep", MAX_DEPTH);
				b.failed = 2;
				break;
			}
			int is_map = ev.type == YAML_MAPPING_START_EVENT;
			ynode *n = new_node(&b, is_map ? YNODE_MAP : YNODE_SEQ, ev.start_mark);
			const yaml_char_t *anc = is_map ? ev.data.mapping_start.anchor
							: ev.data.sequence_start.anchor;
			push_frame(&b, n, arena_strdup(a, (const char *)anc));
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct frame f = b.stack[--b.depth];
			if (f.keys) {
				strmap_release(f.keys);
				free(f.keys);
			}
			attach(&b, f.node);
			register_anchor(&b, f.anchor, f.node);
			break;
		}
		case YAML_ALIAS_EVENT: {
			const char *name = (const char *)ev.data.alias.anchor;
			ynode *n = strmap_get(&b.anchors, name);
			if (!n) {
				diag_add(diags, file, (int)ev.start_mark.line + 1,
					 (int)ev.start_mark.column + 1,
					 "alias *%s refers to no complete anchor &%s before it",
					 name, name);
				b.failed = 2;
				break;
			}
			attach(&b, n);
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	strmap_release(&b.anchors);
	for (size_t i = 0; i < b.depth; i++) /* frames left open by an error */
		if (b.stack[i].keys) {
			strmap_release(b.stack[i].keys);
			free(b.stack[i].keys);
		}
	free(b.stack);
	if (b.failed)
		return -1;
	*root = b.root;
	return 0;
}

int ynode_is_null(const ynode *n)
{
	if (!n)
		return 1;
	if (n->kind != YNODE_SCALAR || n->style != YSTYLE_PLAIN)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int ynode_bool(const ynode *n, int *out)
{
	if (!n || n->kind != YNODE_SCALAR || n->style != YSTYLE_PLAIN)
		return -1;
	const char *s = n->str;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
		*out = 0;
		return 0;
	}
	return -1;
}

int ynode_number(const ynode *n, double *out)
{
	if (!n || n->kind != YNODE_SCALAR || n->style != YSTYLE_PLAIN || n->len == 0)
		return -1;
	const char *s = n->str;
	char *end;
	errno = 0;
	double v;
	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf"))
		v = INFINITY;
	else if (!strcmp(s, "-.inf"))
		v = -INFINITY;
	else if (!strcmp(s, ".nan"))
		v = NAN;
	else {
		/* strtod accepts "inf", "nan" and hex floats; YAML's core schema does not */
		const char *p = s + (*s == '-' || *s == '+');
		if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')))
			return -1;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			v = (double)strtoll(s, &end, 16);
		else
			v = strtod(s, &end);
		if (*end || errno == ERANGE)
			return -1;
	}
	*out = v;
	return 0;
}

const char *ynode_kind_name(const ynode *n)
{
	double d;
	int bv;
	if (!n || ynode_is_null(n))
		return "null";
	switch (n->kind) {
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a map";
	default:
		if (ynode_bool(n, &bv) == 0)
			return "a boolean";
		if (ynode_number(n, &d) == 0)
			return "a number";
		return "a string";
	}
}

const ynode *ynode_get(const ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}
