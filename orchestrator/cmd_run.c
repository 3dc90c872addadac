/*
 * cmd_run.c — `sluice run FILE`: load, plan, record a run, execute it, and
 * report it (progress on stderr; with --json one document on stdout;
 * --junit FILE; a Markdown summary to $GITHUB_STEP_SUMMARY when set).
 */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/pipeline.h"
#include "sluice/report.h"
#include "sluice/runner.h"
#include "sluice/store.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *params_json(const pipeline *p)
{
	json_t *o = json_object();
	for (size_t i = 0; i < p->nparams; i++) {
		const pparam *pp = &p->params[i];
		json_t *v;
		if (pp->value.type == EXPR_NUM)
			v = pp->value.num == floor(pp->value.num) && fabs(pp->value.num) < 9e15
				    ? json_integer((json_int_t)pp->value.num)
				    : json_real(pp->value.num);
		else if (pp->value.type == EXPR_BOOL)
			v = json_boolean(pp->value.b);
		else
			v = json_string(pp->value.str);
		json_object_set_new(o, pp->name, v);
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	json_decref(o);
	return s;
}

int cmd_run(const cli_args *a)
{
	sl_error *err = NULL;
	const char *runner_name = cli_value(a, "runner");
	if (runner_name && strcmp(runner_name, "local") != 0) {
		if (strcmp(runner_name, "slurm") == 0)
			sl_error_usage(&err, "run: the slurm runner is not in this version yet");
		else
			sl_error_usage(&err, "run: unknown runner '%s' (local or slurm)",
				       runner_name);
		return cli_fail(&err);
	}
	int jobs = 0;
	const char *j = cli_value(a, "jobs");
	if (j) {
		char *end;
		long v = strtol(j, &end, 10);
		if (*end || v < 1 || v > 4096) {
			sl_error_usage(
				&err, "run: -j takes a number of parallel steps (1-4096), got '%s'",
				j);
			return cli_fail(&err);
		}
		jobs = (int)v;
	}
	if (cli_value(a, "only") && cli_value(a, "from")) {
		sl_error_usage(&err, "run: --only and --from cannot be combined");
		return cli_fail(&err);
	}
	pipeline *p;
	dag *d;
	store *st = NULL;
	runner *r = NULL;
	exec_result res = {0};
	/* the sandbox first, while sluice is small: it probes the machine once and
	 * forks the helper that clones every step's pid 1 (runners/local.c) */
	r = runner_local_new();
	int code = cli_load_dag(a, &p, &d);
	if (code) {
		r->ops->free(r);
		return code;
	}
	const char *want = cli_value(a, "only") ? cli_value(a, "only") : cli_value(a, "from");
	if (want && dag_find(d, want) < 0 && !pipeline_find_step(p, want)) {
		sl_error_usage(&err, "run: %s %s: no such step in %s",
			       cli_value(a, "only") ? "--only" : "--from", want, a->pos[0]);
		code = cli_fail(&err);
		goto out;
	}
	if (cli_open_store(a, p->dir, &st, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	int ci = cli_flag(a, "ci") || getenv("CI") != NULL;
	char *pj = params_json(p);
	run_new rn = {p->name, a->pos[0], p->dir, p->text, pj, ci ? "ci" : "manual", 0};
	int64_t run_id;
	int rc = store_begin_run(st, &rn, p->concurrency == CONCURRENCY_FORBID, &run_id, &err);
	free(pj);
	if (rc < 0) {
		code = cli_fail(&err);
		goto out;
	}
	fprintf(stderr, "sluice: run %lld of %s (%zu steps)\n", (long long)run_id, p->name, d->n);
	exec_options opt = {
		.jobs = jobs,
		.fail_fast = cli_flag(a, "fail-fast"),
		.live = !cli_flag(a, "ci") && isatty(2) && !getenv("CI"),
		.only = cli_value(a, "only"),
		.from = cli_value(a, "from"),
		.trigger = rn.trigger,
		.out = stderr,
	};
	if (executor_run(p, d, st, r, run_id, &opt, &res, &err) < 0) {
		code = err && err->kind == SL_ERR_USAGE ? EXIT_USAGE : EXIT_STEP_FAILED;
		fprintf(stderr, "sluice: %s\n", err->msg);
		sl_error_release(&err);
		store_finish_run(st, run_id, "failed", code, NULL);
		goto out;
	}
	code = res.exit_code;
	if (store_finish_run(st, run_id, res.status, code, &err) < 0)
		code = cli_fail(&err);
	size_t ok = 0;
	for (size_t i = 0; i < res.nsteps; i++)
		ok += !strcmp(res.steps[i].status, "succeeded") ||
		      !strcmp(res.steps[i].status, "cached");
	fprintf(stderr, "sluice: run %lld %s (%zu of %zu steps ok)\n", (long long)run_id,
		res.status, ok, res.nsteps);
	if (cli_flag(a, "json")) {
		json_t *doc = report_run_json(st, run_id, &err);
		if (!doc) {
			code = cli_fail(&err);
		} else {
			json_dumpf(doc, stdout,
				   JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
			fputc('\n', stdout);
			json_decref(doc);
		}
	}
	const char *junit = cli_value(a, "junit");
	if (junit && report_junit(st, run_id, junit, &err) < 0)
		code = cli_fail(&err);
	const char *summary = getenv("GITHUB_STEP_SUMMARY");
	if (summary && *summary) {
		FILE *f = fopen(summary, "ae");
		if (f) {
			report_markdown(st, run_id, f, NULL);
			fclose(f);
		}
	}
out:
	exec_result_release(&res);
	if (r)
		r->ops->free(r);
	store_close(st);
	dag_free(d);
	pipeline_free(p);
	return code;
}
