/* cmd_show.c — `sluice show RUN STEP [--json]`: everything recorded about one
 * step of a run: command, status and reason, attempts, outputs with hashes
 * and sizes, metrics, step outputs, the runner and sandbox settings (from
 * the run's snapshot of the pipeline), env hash and cache key. */
#include "sluice/builtin.h"
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"
#include "sluice/report.h"
#include "sluice/store.h"
#include "sluice/util.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "default" (sandboxed), "none", or "builtin" (registry built-ins run outside) */
static const char *show_sandbox_mode(const pstep *st)
{
	const builtin_step *b = st->uses.s ? builtin_find(st->uses.s) : NULL;
	if (b && !(b->flags & BUILTIN_SANDBOXED))
		return "builtin";
	return st->sandbox.enabled ? "default" : "none";
}

static json_t *sandbox_json(const pstep *st)
{
	if (!st)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "runner", json_string(st->runner));
	json_object_set_new(o, "sandbox", json_string(show_sandbox_mode(st)));
	json_object_set_new(o, "network", json_boolean(st->sandbox.network));
	json_object_set_new(o, "memory", json_integer((json_int_t)st->sandbox.memory));
	json_object_set_new(o, "cpus", json_real(st->sandbox.cpus));
	json_object_set_new(o, "pids", json_integer(st->sandbox.pids));
	json_object_set_new(o, "timeout_s", json_real((double)st->timeout_ms / 1000.0));
	json_object_set_new(o, "retries", json_integer(st->retries.limit));
	/* the local runner sandboxes every step but `sandbox: none` and registry built-ins */
	json_object_set_new(o, "sandbox_enforced",
			    json_boolean(!strcmp(show_sandbox_mode(st), "default")));
	return o;
}

static json_t *files_json(const file_record *f, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:o, s:I}", "path", f[i].path, "sha256",
				       f[i].sha256 ? json_string(f[i].sha256) : json_null(), "size",
				       (json_int_t)f[i].size));
	return arr;
}

int cmd_show(const cli_args *a)
{
	sl_error *err = NULL;
	int64_t id = 0;
	store *st = NULL;
	if (cli_open_runs(a, &id, 1, &st, &err) < 0)
		return cli_fail(&err);
	const char *name = a->pos[1];
	run_info run = {0};
	step_record *steps = NULL;
	attempt_record *att = NULL;
	kv_record *met = NULL, *outs = NULL;
	file_record *files = NULL, *ins = NULL;
	size_t nsteps = 0, natt = 0, nmet = 0, nouts = 0, nfiles = 0, nins = 0;
	json_t *parts = NULL;
	pipeline *p = NULL;
	diag_list diags = DIAG_LIST_INIT;
	json_t *doc = NULL;
	int code = EXIT_OK;
	const step_record *s = NULL;
	if (store_get_run(st, id, &run, &err) < 0 ||
	    store_get_steps(st, id, &steps, &nsteps, &err) < 0)
		goto fail;
	for (size_t i = 0; i < nsteps; i++)
		if (!strcmp(steps[i].name, name))
			s = &steps[i];
	if (!s) {
		sl_error_usage(&err, "show: run %lld has no step '%s' (see 'sluice status %lld')",
			       (long long)id, name, (long long)id);
		goto fail;
	}
	if (store_get_attempts(st, id, name, &att, &natt, &err) < 0 ||
	    store_get_metrics(st, id, name, &met, &nmet, &err) < 0 ||
	    store_get_outputs(st, id, name, &outs, &nouts, &err) < 0 ||
	    store_get_files(st, id, name, &files, &nfiles, &err) < 0 ||
	    store_get_inputs(st, id, name, &ins, &nins, &err) < 0)
		goto fail;
	parts = s->env_json ? json_loads(s->env_json, 0, NULL) : NULL;
	/* the step's settings as they were when it ran */
	const pstep *ps = NULL;
	pipeline_load_opts lo = {.recorded = run.params_json ? run.params_json : "{}"};
	if (pipeline_load_text_with(run.path, run.workspace, run.snapshot, strlen(run.snapshot),
				    &lo, &p, &diags) == 0)
		ps = pipeline_find_step(p, s->step);
	doc = json_object();
	json_object_set_new(doc, "run_id", json_integer(id));
	json_object_set_new(doc, "step", json_string(s->name));
	json_object_set_new(doc, "status", json_string(s->status));
	json_object_set_new(doc, "reason", s->reason ? json_string(s->reason) : json_null());
	json_object_set_new(doc, "command", s->command ? json_string(s->command) : json_null());
	json_object_set_new(doc, "cache_key",
			    s->cache_key ? json_string(s->cache_key) : json_null());
	json_object_set_new(doc, "env_hash", s->env_hash ? json_string(s->env_hash) : json_null());
	json_object_set_new(doc, "cached_from",
			    s->cached_from ? json_integer(s->cached_from) : json_null());
	json_object_set_new(doc, "why", s->why ? json_string(s->why) : json_null());
	json_object_set_new(doc, "env_parts", parts ? json_incref(parts) : json_null());
	/* the params the step used: what its key and its $SLUICE_PARAMS held */
	json_t *used = json_object_get(parts, "params");
	json_object_set_new(doc, "params", used ? json_incref(used) : json_object());
	json_object_set_new(doc, "inputs", files_json(ins, nins));
	json_object_set_new(doc, "settings", sandbox_json(ps));
	json_t *ja = json_array();
	for (size_t i = 0; i < natt; i++) {
		char t0[64];
		report_iso_time(att[i].started, t0, sizeof(t0));
		json_array_append_new(
			ja, json_pack("{s:i, s:s, s:o, s:o, s:s, s:f, s:s, s:I}", "attempt",
				      att[i].attempt, "status", att[i].status ? att[i].status : "",
				      "reason",
				      att[i].reason ? json_string(att[i].reason) : json_null(),
				      "exit_code",
				      att[i].exit_code >= 0 ? json_integer(att[i].exit_code)
							    : json_null(),
				      "started", t0, "duration_s",
				      store_duration(att[i].started, att[i].finished), "log",
				      att[i].log_path ? att[i].log_path : "", "max_rss_kb",
				      (json_int_t)att[i].max_rss_kb));
		if (att[i].isolation)
			json_object_set_new(json_array_get(ja, json_array_size(ja) - 1),
					    "isolation", json_string(att[i].isolation));
	}
	json_object_set_new(doc, "attempts", ja);
	json_object_set_new(doc, "outputs", files_json(files, nfiles));
	json_t *jm = json_object();
	for (size_t i = 0; i < nmet; i++)
		json_object_set_new(jm, met[i].key, report_metric_json(met[i].num));
	json_object_set_new(doc, "metrics", jm);
	json_t *jo = json_object();
	for (size_t i = 0; i < nouts; i++)
		json_object_set_new(jo, outs[i].key, json_string(outs[i].value));
	json_object_set_new(doc, "step_outputs", jo);
	if (cli_flag(a, "json")) {
		json_dumpf(doc, stdout,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
		goto out;
	}
	printf("run %lld step %s: %s%s%s\n", (long long)id, s->name, s->status,
	       s->reason ? " — " : "", s->reason ? s->reason : "");
	printf("  command    %s\n", s->command ? s->command : "-");
	if (ps) {
		char mem[32] = "none", tmo[32] = "none";
		if (ps->sandbox.memory)
			format_size(ps->sandbox.memory, mem, sizeof(mem));
		if (ps->timeout_ms)
			format_duration_ms(ps->timeout_ms, tmo, sizeof(tmo));
		printf("  runner     %s\n"
		       "  sandbox    %s (network %s, memory %s), timeout %s, retries %d\n",
		       ps->runner, show_sandbox_mode(ps), ps->sandbox.network ? "on" : "off", mem,
		       tmo, ps->retries.limit);
	}
	if (s->why)
		printf("  why        %s\n", s->why);
	if (s->cached_from)
		printf("  cached from run %lld\n", (long long)s->cached_from);
	for (size_t i = 0; i < nins; i++)
		printf("  input      %s  sha256 %s  %lld bytes\n", ins[i].path,
		       ins[i].sha256 ? ins[i].sha256 : "(missing)", (long long)ins[i].size);
	printf("  cache key  %s\n", s->cache_key ? s->cache_key : "(none: the step was not keyed)");
	const char *pk;
	json_t *pval;
	json_object_foreach(json_object_get(parts, "params"), pk, pval)
	{
		char *t = json_dumps(pval, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		printf("  param      %s = %s\n", pk, t ? t : "?");
		free(t);
	}
	printf("  env hash   %s\n", s->env_hash ? s->env_hash : "(none)");
	if (parts) {
		/* the parts the env hash was made of, as `show` promises (docs/cli.md) */
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(parts, "env"), k, v)
			printf("    env      %s=%s\n", k,
			       json_string_value(v) ? json_string_value(v) : "");
		static const char *const keys[] = {"program", "sluice", "sandbox", "gpu"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *pv = json_object_get(parts, keys[i]);
			if (json_is_string(pv))
				printf("    %-8s %s\n", keys[i], json_string_value(pv));
		}
	}
	for (size_t i = 0; i < natt; i++)
		printf("  attempt %d  %s%s%s, %.1fs, max RSS %lld KB, log %s/%s\n", att[i].attempt,
		       att[i].status ? att[i].status : "", att[i].reason ? " — " : "",
		       att[i].reason ? att[i].reason : "",
		       store_duration(att[i].started, att[i].finished),
		       (long long)att[i].max_rss_kb, store_dir(st),
		       att[i].log_path ? att[i].log_path : "");
	/* how the last attempt was kept apart from the other steps (docs/sandbox.md) */
	if (natt && att[natt - 1].isolation)
		printf("  isolation  %s\n", att[natt - 1].isolation);
	for (size_t i = 0; i < nfiles; i++)
		printf("  output     %s  sha256 %s  %lld bytes\n", files[i].path,
		       files[i].sha256 ? files[i].sha256 : "-", (long long)files[i].size);
	for (size_t i = 0; i < nmet; i++)
		printf("  metric     %s = %s\n", met[i].key, met[i].value);
	for (size_t i = 0; i < nouts; i++)
		printf("  step output %s=%s\n", outs[i].key, outs[i].value);
	goto out;
fail:
	code = cli_fail(&err);
out:
	json_decref(doc);
	pipeline_free(p);
	diag_release(&diags);
	run_info_release(&run);
	step_record_free_array(steps, nsteps);
	attempt_record_free_array(att, natt);
	kv_record_free_array(met, nmet);
	kv_record_free_array(outs, nouts);
	file_record_free_array(files, nfiles);
	file_record_free_array(ins, nins);
	json_decref(parts);
	store_close(st);
	return code;
}
