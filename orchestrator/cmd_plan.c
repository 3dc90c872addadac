/*
 * cmd_plan.c — `sluice plan FILE [-p k=v] [--only STEP | --from STEP]`: what a
 * run would do, in which order, without running anything: each step
 * instance with its wave (steps of one wave may run side by side), what it
 * waits for, its command, its `when` and whether it is selected.
 *
 * Until the content-addressed cache lands every selected step runs; the
 * cache will add "cached" and the reason a step runs again.
 */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"
#include "sluice/strbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void select_from(const dag *d, const char *only, const char *from, char *sel)
{
	const char *want = only ? only : from;
	for (size_t i = 0; i < d->n; i++)
		sel[i] = !want || !strcmp(d->nodes[i].name, want) ||
			 !strcmp(d->nodes[i].step->name, want);
	if (from)
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->order[k];
			if (sel[i])
				for (size_t r = 0; r < d->nodes[i].nrdeps; r++)
					sel[d->nodes[i].rdeps[r]] = 1;
		}
}

int cmd_plan(const cli_args *a)
{
	sl_error *err = NULL;
	const char *only = cli_value(a, "only"), *from = cli_value(a, "from");
	if (only && from) {
		sl_error_usage(&err, "plan: --only and --from cannot be combined");
		return cli_fail(&err);
	}
	pipeline *p;
	dag *d;
	int code = cli_load_dag(a, &p, &d);
	if (code)
		return code;
	char *sel = calloc(d->n + 1, 1);
	size_t *wave = calloc(d->n + 1, sizeof(size_t));
	select_from(d, only, from, sel);
	size_t found = 0;
	for (size_t i = 0; i < d->n; i++)
		found += sel[i];
	if (!found) {
		sl_error_usage(&err, "plan: %s %s: no such step", only ? "--only" : "--from",
			       only ? only : from);
		code = cli_fail(&err);
		free(sel);
		free(wave);
		goto out;
	}
	/* wave = 1 + the deepest wave among what it waits for */
	size_t nwaves = 0;
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		for (size_t j = 0; j < d->nodes[i].ndeps; j++)
			if (wave[d->nodes[i].deps[j]] + 1 > wave[i])
				wave[i] = wave[d->nodes[i].deps[j]] + 1;
		if (wave[i] + 1 > nwaves)
			nwaves = wave[i] + 1;
	}
	if (cli_flag(a, "json")) {
		json_t *arr = json_array();
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->order[k];
			const dag_node *n = &d->nodes[i];
			json_t *deps = json_array();
			for (size_t j = 0; j < n->ndeps; j++)
				json_array_append_new(deps, json_string(d->nodes[n->deps[j]].name));
			json_t *o = json_pack(
				"{s:s, s:I, s:o, s:s, s:o, s:s, s:s}", "name", n->name, "wave",
				(json_int_t)wave[i], "needs", deps, "command",
				n->step->run.s ? n->step->run.s : n->step->uses.s, "when",
				n->step->when.s ? json_string(n->step->when.s) : json_null(),
				"action", sel[i] ? "run" : "skip", "why",
				sel[i] ? "no cache in this version: every selected step runs"
				       : (only ? "not selected (--only)"
					       : "not selected (--from)"));
			json_array_append_new(arr, o);
		}
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		printf("%s: %zu steps in %zu waves (steps of one wave may run side by side)\n",
		       p->name, d->n, nwaves);
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->order[k];
			const dag_node *n = &d->nodes[i];
			strbuf deps = STRBUF_INIT;
			for (size_t j = 0; j < n->ndeps; j++)
				strbuf_addf(&deps, "%s%s", j ? ", " : "",
					    d->nodes[n->deps[j]].name);
			printf("%4zu. [wave %zu] %-5s %s", k + 1, wave[i] + 1,
			       sel[i] ? "run" : "skip", n->name);
			if (deps.len)
				printf("  (after %s)", strbuf_str(&deps));
			if (n->step->when.s)
				printf("  when %s", n->step->when.s);
			printf("\n");
			strbuf_release(&deps);
		}
		printf("Every selected step runs: this version has no cache yet.\n");
	}
	free(sel);
	free(wave);
out:
	dag_free(d);
	pipeline_free(p);
	return code;
}
