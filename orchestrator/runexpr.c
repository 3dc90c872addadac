/*
 * runexpr.c — expressions at run time (docs/pipeline-reference.md,
 * "Expressions"): what only a run knows, on top of what the plan knows
 * (params, env, matrix: dag_plan_lookup): run.id, run.trigger,
 * run.pipeline, secrets.NAME from sluice's environment, and of an upstream
 * step its status, its $SLUICE_OUTPUT lines (steps.X.outputs.KEY) and its
 * metrics (steps.X.metrics.a.b).  An unknown name is an error naming it,
 * never an empty string.
 *
 * In a `run:` command, what a step produced and what a secret holds never
 * becomes shell text (runexpr_render_shell): such an expression is replaced
 * by a reference to an environment variable that holds its value, so the
 * shell reads it as data.  What the pipeline's author wrote (params, matrix
 * values, env, run.*) is pasted as written, as before.
 */
#include "exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rt_ctx {
	struct exec *x;
	size_t step;
	int depth;
};

/* 1 when a step that step i depends on, directly or not, is in a state of
 * which `want` (1 << state) has the bit. */
static int upstream_in(struct exec *x, size_t i, unsigned want, unsigned char *mark)
{
	const dag_node *node = &x->d->nodes[i];
	for (size_t k = 0; k < node->ndeps; k++) {
		size_t j = node->deps[k];
		if (mark[j])
			continue;
		mark[j] = 1;
		/* a failure continue_on_error lets pass counts as a success, as in GitHub */
		int allowed = x->s[j].state == ST_FAILED && x->d->nodes[j].step->continue_on_error;
		if (((want >> x->s[j].state) & 1u && !allowed) || upstream_in(x, j, want, mark))
			return 1;
	}
	return 0;
}

/* success(), failure(), always(), cancelled() for step i, as GitHub defines
 * them for jobs: failure() when a step upstream failed (or its gate
 * rejected), success() when none failed and the run is not cancelled. */
static int status_value(struct exec *x, size_t i, const char *fn)
{
	if (!strcmp(fn, "always()"))
		return 1;
	if (!strcmp(fn, "cancelled()"))
		return x->cancelled != 0;
	unsigned bad = 1u << ST_FAILED | 1u << ST_REJECTED;
	if (!strcmp(fn, "success()"))
		bad |= 1u << ST_UPSTREAM_FAILED | 1u << ST_CANCELLED;
	unsigned char *mark = xcalloc(x->d->n + 1, 1);
	int any = upstream_in(x, i, bad, mark);
	free(mark);
	if (!strcmp(fn, "failure()"))
		return any;
	return !any && !x->cancelled;
}

static int rt_lookup(void *vctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		     size_t msgsize)
{
	struct rt_ctx *c = vctx;
	struct exec *x = c->x;
	const dag_node *self = &x->d->nodes[c->step];
	if (n == 1 && strchr(parts[0], '(')) {
		*out = (expr_value){.type = EXPR_BOOL, .b = status_value(x, c->step, parts[0])};
		return 0;
	}
	if (strcmp(parts[0], "run") == 0 && n == 2) {
		if (strcmp(parts[1], "id") == 0) {
			*out = (expr_value){.type = EXPR_NUM, .num = (double)x->run_id};
			return 0;
		}
		if (strcmp(parts[1], "trigger") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = x->opt->trigger};
			return 0;
		}
		if (strcmp(parts[1], "pipeline") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = x->p->name};
			return 0;
		}
	}
	if (strcmp(parts[0], "secrets") == 0 && n == 2) {
		const char *v = getenv(parts[1]);
		if (!v) {
			snprintf(msg, msgsize, "secret %s is not set in sluice's environment",
				 parts[1]);
			return -1;
		}
		*out = (expr_value){.type = EXPR_STR, .str = v};
		return 0;
	}
	if (strcmp(parts[0], "steps") == 0 && n >= 3) {
		long j = dag_find(x->d, parts[1]);
		if (j < 0) {
			snprintf(msg, msgsize,
				 "steps.%s: a matrix step's values are reached "
				 "through one instance: steps['%s[...]']",
				 parts[1], parts[1]);
			return -1;
		}
		struct exec_step *o = &x->s[j];
		if (strcmp(parts[2], "status") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = step_state_names[o->state]};
			return 0;
		}
		if (n >= 4 && strcmp(parts[2], "outputs") == 0) {
			for (size_t k = 0; k < o->nout; k++)
				if (strcmp(o->out_keys[k], parts[3]) == 0) {
					*out = (expr_value){.type = EXPR_STR,
							    .str = o->out_vals[k]};
					return 0;
				}
			snprintf(msg, msgsize,
				 "step %s has no output '%s' (it appends key=value "
				 "lines to $SLUICE_OUTPUT)",
				 parts[1], parts[3]);
			return -1;
		}
		if (n >= 4 && strcmp(parts[2], "metrics") == 0) {
			strbuf key = STRBUF_INIT;
			for (size_t k = 3; k < n; k++)
				strbuf_addf(&key, "%s%s", k > 3 ? "." : "", parts[k]);
			for (size_t k = 0; k < o->nmet; k++)
				if (strcmp(o->met_keys[k], strbuf_str(&key)) == 0) {
					*out = (expr_value){.type = EXPR_NUM,
							    .num = o->met_vals[k]};
					strbuf_release(&key);
					return 0;
				}
			snprintf(msg, msgsize, "step %s has no metric '%s'", parts[1],
				 strbuf_str(&key));
			strbuf_release(&key);
			return -1;
		}
	}
	dag_lookup_ctx pc = {x->p, self, &x->mem, c->depth};
	return dag_plan_lookup(&pc, parts, n, out, msg, msgsize);
}

const char *runexpr_render(struct exec *x, size_t i, const char *text, const char *what)
{
	template *t;
	expr_error e;
	const char *s;
	if (!strchr(text, '$'))
		return text;
	struct rt_ctx c = {x, i, 0};
	if (template_parse(&x->mem, text, &t, &e) < 0 ||
	    template_render(t, &x->mem, rt_lookup, &c, &s, &e) < 0) {
		snprintf(x->s[i].reason, sizeof(x->s[i].reason), "%s: %.200s", what, e.msg);
		return NULL;
	}
	return s;
}

unsigned runexpr_when_status(struct exec *x, size_t i)
{
	const pstep *step = x->d->nodes[i].step;
	template *t;
	expr_error e;
	if (!step->when.s || !strchr(step->when.s, '('))
		return 0;
	if (template_parse(&x->mem, step->when.s, &t, &e) < 0)
		return 0; /* reported where it is evaluated */
	return template_status_funcs(t, NULL);
}

int runexpr_when(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const pstep *step = x->d->nodes[i].step;
	if (!step->when.s)
		return 1;
	template *t;
	expr_error e;
	expr_value v;
	struct rt_ctx c = {x, i, 0};
	if (template_parse(&x->mem, step->when.s, &t, &e) < 0 ||
	    template_eval(t, &x->mem, rt_lookup, &c, &v, &e) < 0) {
		snprintf(es->reason, sizeof(es->reason), "when: %.200s", e.msg);
		return -1;
	}
	/* as in GitHub, a condition without a status function means success() && it */
	if (!template_status_funcs(t, NULL) && !status_value(x, i, "success()")) {
		snprintf(es->reason, sizeof(es->reason), "when: success() is false");
		return 0;
	}
	if (!expr_truthy(&v)) {
		snprintf(es->reason, sizeof(es->reason), "when: %s is false", step->when.s);
		return 0;
	}
	return 1;
}

/* ---- run: values as environment variables ---------------------------------------------- */

/* Where the shell stands at a point of the author's text: outside quotes,
 * inside '...' or inside "...". */
enum shq { SHQ_NONE, SHQ_SINGLE, SHQ_DOUBLE };

struct shell_lex {
	enum shq q;
	int escaped; /* the last character was a backslash that escapes the next */
};

/* Follow the shell's quoting over text as it will stand in the command.
 * Enough of sh's lexer to know which quotes an expression stands in;
 * heredocs and $( ) are not followed, which can only make sluice add
 * quotes where the shell would not need them. */
static void lex_feed(struct shell_lex *l, const char *s, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		char c = s[k];
		if (l->escaped) {
			l->escaped = 0;
			continue;
		}
		switch (l->q) {
		case SHQ_NONE:
			if (c == '\\')
				l->escaped = 1;
			else if (c == '\'')
				l->q = SHQ_SINGLE;
			else if (c == '"')
				l->q = SHQ_DOUBLE;
			break;
		case SHQ_SINGLE:
			if (c == '\'')
				l->q = SHQ_NONE;
			break;
		case SHQ_DOUBLE:
			if (c == '\\')
				l->escaped = 1;
			else if (c == '"')
				l->q = SHQ_NONE;
			break;
		}
	}
}

/* What an expression refers to: a step's values, a secret. */
struct produced {
	int steps, secrets;
};

static int note_ref(void *ctx, const char *const *parts, size_t n, size_t offset)
{
	struct produced *p = ctx;
	p->steps |= n && !strcmp(parts[0], "steps");
	p->secrets |= n && !strcmp(parts[0], "secrets");
	return 0;
}

/* The variable for one expression: the same text shares one. */
static const char *value_var(struct exec *x, strmap *seen, const char *text, int secret,
			     const char *value, int *nval, int *nsecret, char ***vars,
			     size_t *nvars)
{
	const char *name = strmap_get(seen, text);
	if (name)
		return name;
	name = secret ? arena_printf(&x->mem, "SLUICE_SECRET_%d", ++*nsecret)
		      : arena_printf(&x->mem, "SLUICE_VAL_%d", ++*nval);
	strmap_put(seen, arena_strdup(&x->mem, text), (void *)name);
	*vars = arena_grow(&x->mem, *vars, sizeof(char *), *nvars, *nvars + 2);
	(*vars)[(*nvars)++] = arena_printf(&x->mem, "%s=%s", name, value);
	(*vars)[*nvars] = NULL;
	return name;
}

const char *runexpr_render_shell(struct exec *x, size_t i, const char *text, char ***vars,
				 size_t *nvars)
{
	*vars = NULL;
	*nvars = 0;
	if (!strchr(text, '$'))
		return text;
	/* the whole text first: its errors are those of any template */
	template *whole;
	expr_error e;
	if (template_parse(&x->mem, text, &whole, &e) < 0) {
		snprintf(x->s[i].reason, sizeof(x->s[i].reason), "run: %.200s", e.msg);
		return NULL;
	}
	struct produced any = {0, 0};
	template_walk_refs(whole, note_ref, &any);
	if (!any.steps && !any.secrets)
		return runexpr_render(x, i, text, "run");
	strbuf out = STRBUF_INIT;
	struct shell_lex lex = {SHQ_NONE, 0};
	strmap seen = STRMAP_INIT;
	int nval = 0, nsecret = 0;
	size_t len = strlen(text), lit = 0, at = 0;
	while (at + 2 < len) {
		if (text[at] != '$' || text[at + 1] != '{' || text[at + 2] != '{') {
			at++;
			continue;
		}
		int open_string;
		size_t close = template_find_close(text, len, at + 3, &open_string);
		strbuf_add(&out, text + lit, at - lit);
		lex_feed(&lex, text + lit, at - lit);
		char *one = arena_strndup(&x->mem, text + at, close + 2 - at);
		template *t;
		struct rt_ctx c = {x, i, 0};
		const char *v;
		if (template_parse(&x->mem, one, &t, &e) < 0 ||
		    template_render(t, &x->mem, rt_lookup, &c, &v, &e) < 0) {
			snprintf(x->s[i].reason, sizeof(x->s[i].reason), "run: %.200s", e.msg);
			strbuf_release(&out);
			strmap_release(&seen);
			return NULL;
		}
		struct produced p = {0, 0};
		template_walk_refs(t, note_ref, &p);
		if (!p.steps && !p.secrets) {
			/* the author's own values: shell text, as written */
			strbuf_addstr(&out, v);
			lex_feed(&lex, v, strlen(v));
		} else {
			const char *name = value_var(x, &seen, one, p.secrets, v, &nval, &nsecret,
						     vars, nvars);
			/* quoted where the author's text leaves it bare, so that neither
			 * field splitting nor globbing touches the value; inside '...' the
			 * shell does not expand it (docs/pipeline-reference.md) */
			if (lex.q == SHQ_NONE && !lex.escaped)
				strbuf_addf(&out, "\"${%s}\"", name);
			else
				strbuf_addf(&out, "${%s}", name);
			lex.escaped = 0;
		}
		at = lit = close + 2;
	}
	strbuf_add(&out, text + lit, len - lit);
	const char *cmd = arena_strndup(&x->mem, strbuf_str(&out), out.len);
	strbuf_release(&out);
	strmap_release(&seen);
	return cmd;
}
