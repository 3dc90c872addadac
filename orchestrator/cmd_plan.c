/*
 * cmd_plan.c — `sluice plan FILE [-p k=v] [--only STEP | --from STEP] [--force]`:
 * what a run would do, in which order, without running anything: each step
 * instance with its wave (steps of one wave may run side by side), what it
 * waits for, whether it would run, be taken from the cache or be skipped,
 * and why (docs/cli.md).  Reads the state store when there is one;
 * never creates it.
 */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/pipeline.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"
#include "sluice/strict.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cmd_plan(const cli_args *a)
{
	sl_error *err = NULL;
	const char *only = cli_value(a, "only"), *from = cli_value(a, "from");
	if (only && from) {
		sl_error_usage(&err, "plan: --only and --from cannot be combined");
		return cli_fail(&err);
	}
	enum sandbox_mode mode; /* plan refuses what run --sandbox strict would */
	if (strict_mode_parse(cli_value(a, "sandbox"), getenv("SLUICE_SANDBOX"), &mode, &err) < 0)
		return cli_fail(&err);
	pipeline *p;
	dag *d;
	store *st = NULL;
	plan_entry *e = NULL;
	size_t *wave = NULL;
	int code = cli_load_dag(a, &p, &d);
	if (code)
		return code;
	if (strict_refuse(p, mode, stderr)) {
		code = EXIT_USAGE;
		goto out;
	}
	const char *want = only ? only : from;
	if (want && dag_find(d, want) < 0 && !pipeline_find_step(p, want)) {
		sl_error_usage(&err, "plan: %s %s: no such step", only ? "--only" : "--from", want);
		code = cli_fail(&err);
		goto out;
	}
	/* the store only when it exists: planning never creates state */
	char *dir = store_locate(p->dir, cli_value(a, "state"));
	struct stat sb;
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && store_open(dir, &st, &err) < 0) {
		free(dir);
		code = cli_fail(&err);
		goto out;
	}
	free(dir);
	exec_options opt = {
		.only = only, .from = from, .force = cli_flag(a, "force"), .trigger = "manual"};
	if (executor_plan(p, d, st, &opt, &e, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	/* wave = 1 + the deepest wave among what it waits for */
	wave = calloc(d->n + 1, sizeof(size_t));
	size_t nwaves = 0, nrun = 0, ncached = 0;
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		for (size_t j = 0; j < d->nodes[i].ndeps; j++)
			if (wave[d->nodes[i].deps[j]] + 1 > wave[i])
				wave[i] = wave[d->nodes[i].deps[j]] + 1;
		if (wave[i] + 1 > nwaves)
			nwaves = wave[i] + 1;
		nrun += !strcmp(e[k].action, "run");
		ncached += !strcmp(e[k].action, "cached");
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
				"{s:s, s:I, s:o, s:s, s:o, s:s, s:s, s:o, s:o}", "name", n->name,
				"wave", (json_int_t)wave[i], "needs", deps, "command",
				n->step->run.s ? n->step->run.s : n->step->uses.s, "when",
				n->step->when.s ? json_string(n->step->when.s) : json_null(),
				"action", e[k].action, "why", e[k].why, "cached_from",
				e[k].cached_from ? json_integer(e[k].cached_from) : json_null(),
				"cache_key",
				e[k].cache_key[0] ? json_string(e[k].cache_key) : json_null());
			json_array_append_new(arr, o);
		}
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		printf("%s: %zu steps in %zu waves: %zu to run, %zu cached, %zu skipped\n", p->name,
		       d->n, nwaves, nrun, ncached, d->n - nrun - ncached);
		for (size_t k = 0; k < d->n; k++) {
			size_t i = d->order[k];
			const dag_node *n = &d->nodes[i];
			strbuf deps = STRBUF_INIT;
			for (size_t j = 0; j < n->ndeps; j++)
				strbuf_addf(&deps, "%s%s", j ? ", " : "",
					    d->nodes[n->deps[j]].name);
			printf("%4zu. [wave %zu] %-6s %s", k + 1, wave[i] + 1, e[k].action,
			       n->name);
			if (deps.len)
				printf("  (after %s)", strbuf_str(&deps));
			if (e[k].why && e[k].why[0])
				printf("\n          %s", e[k].why);
			if (n->step->when.s && strcmp(e[k].action, "cached"))
				printf("\n          when %s", n->step->when.s);
			printf("\n");
			strbuf_release(&deps);
		}
		if (!nrun)
			printf("Nothing to run: every step would be taken from the cache or "
			       "skipped.\n");
	}
out:
	plan_entries_free(e, d->n);
	free(wave);
	store_close(st);
	dag_free(d);
	pipeline_free(p);
	return code;
}
