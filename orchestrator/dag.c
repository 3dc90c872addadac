/*
 * dag.c — matrix expansion, path resolution, edges, cycle detection and a
 * stable topological order (see include/sluice/dag.h).
 *
 * Cost is linear in steps + edges: outputs are indexed in a hash map (and
 * every parent directory of an output in a second one, so an input naming a
 * directory finds its producers without a scan), and the order comes from
 * Kahn's algorithm with a min-heap on file position.
 */
#include "sluice/dag.h"

#include "sluice/builtin.h"
#include "sluice/minheap.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A growable array of size_t in malloc'd memory (moved to the arena at the end). */
struct idxvec {
	size_t *v;
	size_t n, cap;
};

static void idx_push(struct idxvec *x, size_t i)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 4;
		x->v = xrealloc(x->v, x->cap * sizeof(size_t));
	}
	x->v[x->n++] = i;
}

struct builder {
	dag *d;
	const pipeline *p;
	diag_list *diags;
	strmap by_name;        /* node name → index+1 */
	strmap producers;      /* output path → index+1 */
	strmap dir_producers;  /* parent dir of an output → struct idxvec* */
	struct idxvec *deps;   /* per node */
	size_t *first_of_step; /* step index → first node index */
	size_t *count_of_step;
};

static void err_at(struct builder *b, spos at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_at(struct builder *b, spos at, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_add(b->diags, b->p->path, at.line, at.col, "%s", buf);
}

expr_value dag_matrix_value(const dag_node *node, size_t axis)
{
	expr_value v = {.type = node->mtypes[axis], .str = node->mvals[axis]};
	if (v.type == EXPR_NUM)
		v.num = strtod(node->mvals[axis], NULL);
	else if (v.type == EXPR_BOOL)
		v.b = node->mvals[axis][0] == 't' || node->mvals[axis][0] == 'T';
	return v;
}

int dag_plan_lookup(void *vctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		    size_t msgsize)
{
	dag_lookup_ctx *c = vctx;
	if (strcmp(parts[0], "params") == 0 && n >= 2) {
		const pparam *pp = pipeline_find_param_parts(c->p, parts + 1, n - 1);
		if (pp) {
			*out = pp->value;
			return 0;
		}
		snprintf(msg, msgsize, "unknown param '%s'", parts[1]);
		return -1;
	}
	if (strcmp(parts[0], "matrix") == 0 && n == 2 && c->node) {
		for (size_t i = 0; i < c->node->nm; i++)
			if (strcmp(c->node->step->matrix[i].key, parts[1]) == 0) {
				*out = dag_matrix_value(c->node, i);
				return 0;
			}
		snprintf(msg, msgsize, "unknown matrix key '%s'", parts[1]);
		return -1;
	}
	if (strcmp(parts[0], "env") == 0 && n == 2) {
		const penv *env = c->node ? c->node->step->env : c->p->env;
		size_t ne = c->node ? c->node->step->nenv : c->p->nenv;
		for (size_t i = 0; i < ne; i++) {
			if (strcmp(env[i].name, parts[1]) != 0)
				continue;
			if (c->depth > 0) {
				snprintf(msg, msgsize, "env.%s: env values cannot refer to env",
					 parts[1]);
				return -1;
			}
			template *t;
			expr_error e;
			if (template_parse(c->a, env[i].value, &t, &e) < 0) {
				snprintf(msg, msgsize, "env.%s: %s", parts[1], e.msg);
				return -1;
			}
			dag_lookup_ctx inner = *c;
			inner.depth++;
			const char *s;
			if (template_render(t, c->a, dag_plan_lookup, &inner, &s, &e) < 0) {
				snprintf(msg, msgsize, "env.%s: %s", parts[1], e.msg);
				return -1;
			}
			*out = (expr_value){.type = EXPR_STR, .str = s};
			return 0;
		}
		snprintf(msg, msgsize, "unknown env '%s'", parts[1]);
		return -1;
	}
	snprintf(msg, msgsize, "%s.* is not known before the run", parts[0]);
	return -1;
}

/* Resolve a path template for node and normalise it; NULL after reporting. */
static const char *resolve_path(struct builder *b, dag_node *node, const pstr *t, const char *field)
{
	arena *a = &b->d->mem;
	template *tp;
	expr_error e;
	const char *s = t->s;
	dag_lookup_ctx ctx = {b->p, node, a, 0};
	if (strchr(s, '$') && (template_parse(a, t->s, &tp, &e) < 0 ||
			       template_render(tp, a, dag_plan_lookup, &ctx, &s, &e) < 0)) {
		spos at = pipeline_template_pos(b->p, t, e.offset);
		err_at(b, at, "%s: %s", field, e.msg);
		return NULL;
	}
	char *norm = arena_strdup(a, s);
	const char *why;
	if (path_normalize_relative(norm, &why) < 0) {
		err_at(b, t->pos, "%s '%s': %s", field, s, why);
		return NULL;
	}
	return norm;
}

static void resolve_paths(struct builder *b, dag_node *node)
{
	const pstep *st = node->step;
	arena *a = &b->d->mem;
	const builtin_step *bi = st->uses.s ? builtin_find(st->uses.s) : NULL;
	size_t extra = 0;
	if (bi && st->with)
		for (const char *const *k = bi->input_keys; *k; k++)
			extra += ynode_get(st->with, *k) != NULL;
	node->inputs = arena_alloc(a, sizeof(char *) * (st->inputs.n + extra + 1));
	for (size_t i = 0; i < st->inputs.n; i++) {
		const char *s = resolve_path(b, node, &st->inputs.v[i], "input");
		if (s)
			node->inputs[node->ninputs++] = s;
	}
	if (bi && st->with) {
		for (const char *const *k = bi->input_keys; *k; k++) {
			const ynode *v = ynode_get(st->with, *k);
			if (!v || v->kind != YNODE_SCALAR)
				continue;
			pstr t = {v->str, {v->line, v->col}, v};
			char field[64];
			snprintf(field, sizeof(field), "with.%s", *k);
			const char *s = resolve_path(b, node, &t, field);
			if (s)
				node->inputs[node->ninputs++] = s;
		}
	}
	node->outputs = arena_alloc(a, sizeof(char *) * (st->outputs.n + 1));
	for (size_t i = 0; i < st->outputs.n; i++) {
		const char *s = resolve_path(b, node, &st->outputs.v[i], "output");
		if (!s)
			continue;
		for (size_t k = 0; k < node->ninputs; k++)
			if (strcmp(node->inputs[k], s) == 0)
				err_at(b, st->outputs.v[i].pos,
				       "'%s' is both an input and an output of step %s", s,
				       node->name);
		node->outputs[node->noutputs++] = s;
	}
	if (st->metrics.s)
		node->metrics = resolve_path(b, node, &st->metrics, "metrics");
}

/* Expand a step into its instances (one when it has no matrix). */
static void expand_step(struct builder *b, size_t si)
{
	const pstep *st = &b->p->steps[si];
	dag *d = b->d;
	size_t combos = 1;
	for (size_t i = 0; i < st->nmatrix; i++)
		combos *= st->matrix[i].n ? st->matrix[i].n : 1;
	b->first_of_step[si] = d->n;
	b->count_of_step[si] = combos;
	size_t idx[PIPELINE_MAX_MATRIX_AXES] = {0};
	for (size_t c = 0; c < combos; c++) {
		dag_node *node = &d->nodes[d->n];
		node->step = st;
		node->nm = st->nmatrix;
		if (st->nmatrix) {
			node->mvals = arena_alloc(&d->mem, sizeof(char *) * st->nmatrix);
			node->mtypes = arena_alloc(&d->mem, sizeof(expr_type) * st->nmatrix);
			strbuf sb = STRBUF_INIT;
			strbuf_addf(&sb, "%s[", st->name);
			for (size_t i = 0; i < st->nmatrix; i++) {
				node->mvals[i] = st->matrix[i].values[idx[i]];
				node->mtypes[i] = st->matrix[i].types[idx[i]];
				strbuf_addf(&sb, "%s%s=%s", i ? "," : "", st->matrix[i].key,
					    node->mvals[i]);
			}
			strbuf_addch(&sb, ']');
			node->name = arena_strdup(&d->mem, strbuf_str(&sb));
			strbuf_release(&sb);
			/* odometer: the last axis varies fastest */
			for (size_t i = st->nmatrix; i-- > 0;) {
				if (++idx[i] < st->matrix[i].n)
					break;
				idx[i] = 0;
			}
		} else {
			node->name = st->name;
		}
		strmap_put(&b->by_name, node->name, (void *)(d->n + 1));
		d->n++;
	}
}

static void add_dep(struct builder *b, size_t node, size_t dep)
{
	struct idxvec *x = &b->deps[node];
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i] == dep)
			return;
	idx_push(x, dep);
}

/* An output inside another (`data` and `data/x.csv`) is refused: promotion
 * and restore of the outer one would walk through, or replace, the inner
 * one (docs/sandbox.md, outputs).  o was just indexed; its parents and the
 * outputs below it are looked up among those indexed before it. */
static void nested_output(struct builder *b, size_t i, const char *o)
{
	dag *d = b->d;
	const dag_node *node = &d->nodes[i];
	spos at = node->step->outputs.n ? node->step->outputs.v[0].pos : node->step->pos;
	for (size_t j = 0; j < node->step->outputs.n; j++)
		if (strcmp(node->step->outputs.v[j].s, o) == 0)
			at = node->step->outputs.v[j].pos;
	char *dir = arena_strdup(&d->mem, o);
	char *slash;
	while ((slash = strrchr(dir, '/'))) {
		*slash = 0;
		void *outer = strmap_get(&b->producers, dir);
		if (outer) {
			err_at(b, at,
			       "output '%s' of step %s is inside output '%s' of step %s "
			       "(outputs may not nest; declare one of them)",
			       o, node->name, dir, d->nodes[(size_t)outer - 1].name);
			return;
		}
	}
	struct idxvec *below = strmap_get(&b->dir_producers, o);
	if (below && below->n)
		err_at(b, at,
		       "output '%s' of step %s holds an output of step %s "
		       "(outputs may not nest; declare one of them)",
		       o, node->name, d->nodes[below->v[0]].name);
}

static void index_outputs(struct builder *b)
{
	dag *d = b->d;
	for (size_t i = 0; i < d->n; i++) {
		dag_node *node = &d->nodes[i];
		for (size_t k = 0; k < node->noutputs; k++) {
			const char *o = node->outputs[k];
			void *prev = strmap_get(&b->producers, o);
			if (prev) {
				const dag_node *other = &d->nodes[(size_t)prev - 1];
				spos at = node->step->outputs.n ? node->step->outputs.v[0].pos
								: node->step->pos;
				for (size_t j = 0; j < node->step->outputs.n; j++)
					if (strstr(node->step->outputs.v[j].s, "${{") ||
					    strcmp(node->step->outputs.v[j].s, o) == 0)
						at = node->step->outputs.v[j].pos;
				if (other == node)
					err_at(b, at, "step %s lists output '%s' twice", node->name,
					       o);
				else
					err_at(b, at,
					       "output '%s' of step %s is also an output of step "
					       "%s "
					       "(two steps may not write one file%s)",
					       o, node->name, other->name,
					       node->step == other->step
						       ? "; use matrix values in the path"
						       : "");
				continue;
			}
			strmap_put(&b->producers, o, (void *)(i + 1));
			nested_output(b, i, o);
			/* every parent directory: "a/b/c" → "a/b", "a" */
			char *dir = arena_strdup(&d->mem, o);
			char *slash;
			while ((slash = strrchr(dir, '/'))) {
				*slash = 0;
				struct idxvec *x = strmap_get(&b->dir_producers, dir);
				if (!x) {
					x = arena_alloc(&d->mem, sizeof(*x));
					strmap_put(&b->dir_producers, arena_strdup(&d->mem, dir),
						   x);
				}
				if (!x->n || x->v[x->n - 1] != i) {
					/* in the arena: these outlive the builder's frees */
					if (x->n == x->cap) {
						size_t cap = x->cap ? x->cap * 2 : 4;
						x->v = arena_grow(&d->mem, x->v, sizeof(size_t),
								  x->n, cap);
						x->cap = cap;
					}
					x->v[x->n++] = i;
				}
			}
		}
	}
}

static void link_needs(struct builder *b)
{
	dag *d = b->d;
	const pipeline *p = b->p;
	for (size_t si = 0; si < p->nsteps; si++) {
		const pstep *st = &p->steps[si];
		for (size_t k = 0; k < st->needs.n; k++) {
			const pstr *need = &st->needs.v[k];
			const pstep *target = pipeline_find_step(p, need->s);
			void *inst = strmap_get(&b->by_name, need->s);
			if (!target && !inst) {
				const char *s = DID_YOU_MEAN_IN(need->s, p->steps, p->nsteps, name);
				if (s)
					err_at(b, need->pos,
					       "step %s needs '%s', which is not a step (did you "
					       "mean "
					       "'%s'?)",
					       st->name, need->s, s);
				else
					err_at(b, need->pos,
					       "step %s needs '%s', which is not a step", st->name,
					       need->s);
				continue;
			}
			if (target == st) {
				err_at(b, need->pos, "step %s needs itself", st->name);
				continue;
			}
			size_t first, count;
			if (target) {
				size_t ti = (size_t)(target - p->steps);
				first = b->first_of_step[ti];
				count = b->count_of_step[ti];
			} else {
				first = (size_t)inst - 1;
				count = 1;
			}
			for (size_t n = 0; n < b->count_of_step[si]; n++)
				for (size_t t = 0; t < count; t++)
					add_dep(b, b->first_of_step[si] + n, first + t);
		}
	}
	(void)d;
}

static void link_files(struct builder *b)
{
	dag *d = b->d;
	for (size_t i = 0; i < d->n; i++) {
		dag_node *node = &d->nodes[i];
		for (size_t k = 0; k < node->ninputs; k++) {
			const char *in = node->inputs[k];
			void *prod = strmap_get(&b->producers, in);
			if (prod && (size_t)prod - 1 != i)
				add_dep(b, i, (size_t)prod - 1);
			struct idxvec *x = strmap_get(&b->dir_producers, in);
			for (size_t j = 0; x && j < x->n; j++)
				if (x->v[j] != i)
					add_dep(b, i, x->v[j]);
			/* an input inside another step's output directory */
			char *dir = arena_strdup(&d->mem, in);
			char *slash;
			while ((slash = strrchr(dir, '/'))) {
				*slash = 0;
				void *dp = strmap_get(&b->producers, dir);
				if (dp && (size_t)dp - 1 != i)
					add_dep(b, i, (size_t)dp - 1);
			}
		}
	}
}

/* ---- order and cycles ----------------------------------------------------- */

/* Report one cycle among the nodes left with unmet dependencies. */
static void report_cycle(struct builder *b, const size_t *indeg)
{
	dag *d = b->d;
	size_t start = 0;
	while (start < d->n && indeg[start] == 0)
		start++;
	/* walk dependencies that are themselves stuck until a node repeats */
	size_t *seen_at = xcalloc(d->n, sizeof(size_t));
	size_t *path = xcalloc(d->n + 1, sizeof(size_t));
	size_t len = 0, cur = start;
	while (!seen_at[cur]) {
		seen_at[cur] = ++len;
		path[len - 1] = cur;
		dag_node *node = &d->nodes[cur];
		size_t next = cur;
		for (size_t k = 0; k < node->ndeps; k++)
			if (indeg[node->deps[k]]) {
				next = node->deps[k];
				break;
			}
		if (next == cur)
			break; /* cannot happen: a stuck node has a stuck dependency */
		cur = next;
	}
	/* path[seen_at[cur]-1 .. len) is the cycle, in "depends on" direction;
	 * print it in execution direction: a -> b means b needs a */
	size_t from = seen_at[cur] - 1, clen = len - from;
	/* start the loop at the node that comes first in the file */
	size_t start_k = 0;
	for (size_t k = 1; k < clen; k++)
		if (path[from + k] < path[from + start_k])
			start_k = k;
	strbuf sb = STRBUF_INIT;
	for (size_t k = 0; k <= clen; k++) {
		/* walk against the "depends on" direction */
		size_t idx = from + (start_k + clen - k % clen) % clen;
		strbuf_addf(&sb, "%s%s", k ? " -> " : "", d->nodes[path[idx]].name);
	}
	const dag_node *first = &d->nodes[path[from + start_k]];
	err_at(b, first->step->pos, "dependency cycle: %s", strbuf_str(&sb));
	strbuf_release(&sb);
	free(seen_at);
	free(path);
}

static int topo_order(struct builder *b)
{
	dag *d = b->d;
	size_t *indeg = xcalloc(d->n + 1, sizeof(size_t));
	minheap heap = {xmalloc((d->n + 1) * sizeof(size_t)), 0};
	size_t done = 0;
	for (size_t i = 0; i < d->n; i++) {
		indeg[i] = d->nodes[i].ndeps;
		if (!indeg[i])
			minheap_push(&heap, i);
	}
	d->order = arena_alloc(&d->mem, sizeof(size_t) * (d->n + 1));
	while (heap.n) {
		size_t i = minheap_pop(&heap);
		d->order[done++] = i;
		for (size_t k = 0; k < d->nodes[i].nrdeps; k++) {
			size_t r = d->nodes[i].rdeps[k];
			if (--indeg[r] == 0)
				minheap_push(&heap, r);
		}
	}
	int ok = done == d->n;
	if (!ok)
		report_cycle(b, indeg);
	free(indeg);
	free(heap.v);
	return ok ? 0 : -1;
}

/* ---- steps.X references must point upstream -------------------------------- */

struct upstream_check {
	struct builder *b;
	size_t node;
	const pstr *t;
	unsigned char *mark;
};

static int is_ancestor(const dag *d, size_t node, size_t anc, unsigned char *mark)
{
	/* iterative DFS over deps; mark is zeroed by the caller */
	size_t *stack = xmalloc(sizeof(size_t) * (d->n + 1));
	size_t sp = 0;
	int found = 0;
	stack[sp++] = node;
	while (sp && !found) {
		size_t x = stack[--sp];
		for (size_t k = 0; k < d->nodes[x].ndeps; k++) {
			size_t y = d->nodes[x].deps[k];
			if (y == anc) {
				found = 1;
				break;
			}
			if (!mark[y]) {
				mark[y] = 1;
				stack[sp++] = y;
			}
		}
	}
	free(stack);
	return found;
}

static int check_upstream_ref(void *vctx, const char *const *parts, size_t n, size_t offset)
{
	struct upstream_check *c = vctx;
	if (strcmp(parts[0], "steps") != 0 || n < 2)
		return 0;
	dag *d = c->b->d;
	const pstep *target = pipeline_find_step(c->b->p, parts[1]);
	size_t first, count;
	if (target) {
		size_t ti = (size_t)(target - c->b->p->steps);
		first = c->b->first_of_step[ti];
		count = c->b->count_of_step[ti];
	} else {
		void *inst = strmap_get(&c->b->by_name, parts[1]);
		if (!inst)
			return 0; /* unknown names were reported by the loader */
		first = (size_t)inst - 1;
		count = 1;
	}
	for (size_t t = 0; t < count; t++) {
		memset(c->mark, 0, d->n);
		if (!is_ancestor(d, c->node, first + t, c->mark)) {
			spos at = pipeline_template_pos(c->b->p, c->t, offset);
			err_at(c->b, at,
			       "step %s uses steps.%s, but %s does not run before it (add '%s' to "
			       "needs)",
			       d->nodes[c->node].name, parts[1], parts[1], parts[1]);
			return 1;
		}
	}
	return 0;
}

static void check_template_upstream(struct builder *b, size_t node, const pstr *t,
				    unsigned char *mark)
{
	if (!t->s || !strstr(t->s, "steps"))
		return;
	template *tp;
	expr_error e;
	if (template_parse(&b->d->mem, t->s, &tp, &e) < 0)
		return;
	struct upstream_check c = {b, node, t, mark};
	template_walk_refs(tp, check_upstream_ref, &c);
}

static void check_with_upstream(struct builder *b, size_t node, const ynode *n, unsigned char *mark)
{
	if (n->kind == YNODE_SCALAR) {
		pstr t = {n->str, {n->line, n->col}, n};
		check_template_upstream(b, node, &t, mark);
		return;
	}
	for (size_t i = 0; i < n->n; i++)
		check_with_upstream(b, node, n->items[i], mark);
}

static void check_upstream(struct builder *b)
{
	dag *d = b->d;
	unsigned char *mark = xcalloc(d->n + 1, 1);
	for (size_t i = 0; i < d->n; i++) {
		/* matrix instances share templates: check the first of each step */
		if (i && d->nodes[i - 1].step == d->nodes[i].step)
			continue;
		const pstep *st = d->nodes[i].step;
		check_template_upstream(b, i, &st->run, mark);
		check_template_upstream(b, i, &st->when, mark);
		for (size_t k = 0; k < st->nenv; k++) {
			pstr t = {st->env[k].value, st->env[k].pos, NULL};
			check_template_upstream(b, i, &t, mark);
		}
		if (st->with)
			check_with_upstream(b, i, st->with, mark);
	}
	free(mark);
}

/* ---- entry points ------------------------------------------------------------ */

int dag_build(const pipeline *p, dag **out, diag_list *diags)
{
	dag *d = xcalloc(1, sizeof(*d));
	d->p = p;
	struct builder b = {.d = d, .p = p, .diags = diags};
	size_t before = diag_count(diags);
	size_t total = 0;
	for (size_t si = 0; si < p->nsteps; si++) {
		size_t c = 1;
		for (size_t i = 0; i < p->steps[si].nmatrix; i++)
			c *= p->steps[si].matrix[i].n ? p->steps[si].matrix[i].n : 1;
		total += c;
	}
	d->nodes = arena_alloc(&d->mem, sizeof(dag_node) * (total + 1));
	b.first_of_step = xcalloc(p->nsteps + 1, sizeof(size_t));
	b.count_of_step = xcalloc(p->nsteps + 1, sizeof(size_t));
	for (size_t si = 0; si < p->nsteps; si++)
		expand_step(&b, si);
	for (size_t i = 0; i < d->n; i++)
		resolve_paths(&b, &d->nodes[i]);
	b.deps = xcalloc(d->n + 1, sizeof(struct idxvec));
	index_outputs(&b);
	link_needs(&b);
	link_files(&b);
	/* move edges into the arena, both directions */
	size_t *rcount = xcalloc(d->n + 1, sizeof(size_t));
	for (size_t i = 0; i < d->n; i++) {
		dag_node *node = &d->nodes[i];
		node->ndeps = b.deps[i].n;
		node->deps = arena_memdup(&d->mem, b.deps[i].v, sizeof(size_t) * b.deps[i].n);
		for (size_t k = 0; k < node->ndeps; k++)
			rcount[node->deps[k]]++;
	}
	for (size_t i = 0; i < d->n; i++)
		d->nodes[i].rdeps = arena_alloc(&d->mem, sizeof(size_t) * (rcount[i] + 1));
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; k < d->nodes[i].ndeps; k++) {
			dag_node *dep = &d->nodes[d->nodes[i].deps[k]];
			dep->rdeps[dep->nrdeps++] = i;
		}
	free(rcount);
	if (topo_order(&b) == 0)
		check_upstream(&b);
	for (size_t i = 0; i < d->n; i++)
		free(b.deps[i].v);
	free(b.deps);
	free(b.first_of_step);
	free(b.count_of_step);
	strmap_release(&b.by_name);
	strmap_release(&b.producers);
	strmap_release(&b.dir_producers);
	if (diag_count(diags) > before) {
		dag_free(d);
		*out = NULL;
		return -1;
	}
	*out = d;
	return 0;
}

void dag_free(dag *d)
{
	if (!d)
		return;
	arena_release(&d->mem);
	free(d);
}

long dag_find(const dag *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->nodes[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* ---- drawing -------------------------------------------------------------------- */

static void dot_quote(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

int dag_write_dot(const dag *d, FILE *out)
{
	fprintf(out, "digraph ");
	dot_quote(out, d->p->name);
	fprintf(out, " {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
	for (size_t k = 0; k < d->n; k++) {
		const dag_node *node = &d->nodes[d->order[k]];
		fprintf(out, "  ");
		dot_quote(out, node->name);
		if (node->step->uses.s) {
			fprintf(out, " [label=");
			char label[512];
			snprintf(label, sizeof(label), "%s\\n(%s)", node->name, node->step->uses.s);
			fputc('"', out);
			for (const char *s = label; *s; s++) {
				if (*s == '"')
					fputc('\\', out);
				fputc(*s, out);
			}
			fputc('"', out);
			fprintf(out, "]");
		}
		fprintf(out, ";\n");
	}
	for (size_t k = 0; k < d->n; k++) {
		const dag_node *node = &d->nodes[d->order[k]];
		for (size_t j = 0; j < node->ndeps; j++) {
			fprintf(out, "  ");
			dot_quote(out, d->nodes[node->deps[j]].name);
			fprintf(out, " -> ");
			dot_quote(out, node->name);
			fprintf(out, ";\n");
		}
	}
	fprintf(out, "}\n");
	return ferror(out) ? -1 : 0;
}

int dag_write_mermaid(const dag *d, FILE *out)
{
	/* mermaid ids must be plain: use n<index> and put the name in the label */
	fprintf(out, "flowchart LR\n");
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		const dag_node *node = &d->nodes[i];
		fprintf(out, "  n%zu[\"", i);
		for (const char *s = node->name; *s; s++) {
			if (*s == '"')
				fputs("#quot;", out);
			else
				fputc(*s, out);
		}
		if (node->step->uses.s)
			fprintf(out, "<br/>(%s)", node->step->uses.s);
		fprintf(out, "\"]\n");
	}
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		for (size_t j = 0; j < d->nodes[i].ndeps; j++)
			fprintf(out, "  n%zu --> n%zu\n", d->nodes[i].deps[j], i);
	}
	return ferror(out) ? -1 : 0;
}
