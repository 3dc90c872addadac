/*
 * runexpr.c — expressions at run time (docs/pipeline-reference.md,
 * "Expressions"): what only a run knows, on top of what the plan knows
 * (params, env, matrix: dag_plan_lookup): run.id, run.trigger,
 * run.pipeline, secrets.NAME from sluice's environment, and of an upstream
 * step its status, its $SLUICE_OUTPUT lines (steps.X.outputs.KEY) and its
 * metrics (steps.X.metrics.a.b).  An unknown name is an error naming it,
 * never an empty string.
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

static int rt_lookup(void *vctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		     size_t msgsize)
{
	struct rt_ctx *c = vctx;
	struct exec *x = c->x;
	const dag_node *self = &x->d->nodes[c->step];
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
	if (!expr_truthy(&v)) {
		snprintf(es->reason, sizeof(es->reason), "when: %s is false", step->when.s);
		return 0;
	}
	return 1;
}
