/* cmd_diff.c — `sluice diff [RUN_A RUN_B] [--all] [--json]`: what changed
 * between two runs: params, step statuses, metrics and output hashes.  Only
 * the rows that changed unless --all; numbers within 1e-9 (relative) of each
 * other are the same (table_same_number), so a metric summed in another
 * order is not a change. */
#include "sluice/cli.h"
#include "sluice/report.h"
#include "sluice/store.h"
#include "sluice/table.h"

#include "sluice/arena.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct side {
	run_info run;
	json_t *params; /* flattened */
	step_record *steps;
	size_t nsteps;
	kv_record *met;
	size_t nmet;
	file_record *files;
	size_t nfiles;
};

static int load_side(store *st, int64_t id, struct side *s, sl_error **err)
{
	if (store_get_run(st, id, &s->run, err) < 0 ||
	    store_get_steps(st, id, &s->steps, &s->nsteps, err) < 0 ||
	    store_get_metrics(st, id, NULL, &s->met, &s->nmet, err) < 0 ||
	    store_get_files(st, id, NULL, &s->files, &s->nfiles, err) < 0)
		return -1;
	s->params = table_flat_params(s->run.params_json);
	return 0;
}

static void free_side(struct side *s)
{
	run_info_release(&s->run);
	json_decref(s->params);
	step_record_free_array(s->steps, s->nsteps);
	kv_record_free_array(s->met, s->nmet);
	file_record_free_array(s->files, s->nfiles);
}

static const kv_record *find_metric(const struct side *s, const char *step, const char *key)
{
	for (size_t i = 0; i < s->nmet; i++)
		if (!strcmp(s->met[i].step, step) && !strcmp(s->met[i].key, key))
			return &s->met[i];
	return NULL;
}

static const file_record *find_file(const struct side *s, const char *path)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].path, path))
			return &s->files[i];
	return NULL;
}

static const step_record *find_step(const struct side *s, const char *name)
{
	for (size_t i = 0; i < s->nsteps; i++)
		if (!strcmp(s->steps[i].name, name))
			return &s->steps[i];
	return NULL;
}

/* One row of a section, both sides as text ("-": absent) and as JSON. */
struct row {
	char *name, *a, *b, *change; /* change: metrics only, else NULL */
	json_t *ja, *jb, *jchange;   /* owned */
	int changed;
};

struct section {
	const char *title, *json_name;
	struct row *rows;
	size_t n, cap;
};

static void add_row(struct section *sec, struct row r)
{
	if (sec->n == sec->cap) {
		sec->cap = sec->cap ? 2 * sec->cap : 16;
		sec->rows = xrealloc(sec->rows, sec->cap * sizeof(struct row));
	}
	sec->rows[sec->n++] = r;
}

static void release_section(struct section *sec)
{
	for (size_t i = 0; i < sec->n; i++) {
		struct row *r = &sec->rows[i];
		free(r->name);
		free(r->a);
		free(r->b);
		free(r->change);
		json_decref(r->ja);
		json_decref(r->jb);
		json_decref(r->jchange);
	}
	free(sec->rows);
}

static json_t *copy_or_null(json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

static void param_rows(const struct side *A, const struct side *B, struct section *sec)
{
	const char *key;
	json_t *v;
	json_object_foreach(A->params, key, v)
	{
		json_t *o = json_object_get(B->params, key);
		add_row(sec, (struct row){xstrdup(key), table_json_text(v), table_json_text(o),
					  NULL, copy_or_null(v), copy_or_null(o), NULL,
					  !table_same_json(v, o)});
	}
	json_object_foreach(B->params, key, v)
	{
		if (!json_object_get(A->params, key))
			add_row(sec, (struct row){xstrdup(key), xstrdup("-"), table_json_text(v),
						  NULL, json_null(), copy_or_null(v), NULL, 1});
	}
}

static json_t *status_json(const step_record *s)
{
	return s ? json_string(s->status) : json_null();
}

/* Succeeded and cached are one outcome: with params per step, a step that
 * one run ran and the next took from the cache did not change. */
static int same_outcome(const char *a, const char *b)
{
	int ok_a = !strcmp(a, "succeeded") || !strcmp(a, "cached");
	int ok_b = !strcmp(b, "succeeded") || !strcmp(b, "cached");
	return !strcmp(a, b) || (ok_a && ok_b);
}

static void step_rows(const struct side *A, const struct side *B, struct section *sec)
{
	for (size_t i = 0; i < A->nsteps; i++) {
		const step_record *a = &A->steps[i], *b = find_step(B, a->name);
		add_row(sec, (struct row){xstrdup(a->name), xstrdup(a->status),
					  xstrdup(b ? b->status : "-"), NULL, status_json(a),
					  status_json(b), NULL,
					  !b || !same_outcome(a->status, b->status)});
	}
	for (size_t i = 0; i < B->nsteps; i++)
		if (!find_step(A, B->steps[i].name))
			add_row(sec, (struct row){xstrdup(B->steps[i].name), xstrdup("-"),
						  xstrdup(B->steps[i].status), NULL, json_null(),
						  status_json(&B->steps[i]), NULL, 1});
}

static struct row metric_row(const kv_record *a, const kv_record *b)
{
	const kv_record *any = a ? a : b;
	struct row r = {0};
	size_t len = strlen(any->step) + strlen(any->key) + 2;
	r.name = xmalloc(len);
	snprintf(r.name, len, "%s.%s", any->step, any->key);
	char x[64] = "-", y[64] = "-", ch[64] = "-";
	if (a)
		table_format_number(a->num, x, sizeof(x));
	if (b)
		table_format_number(b->num, y, sizeof(y));
	r.changed = !a || !b || !table_same_number(a->num, b->num);
	if (a && b)
		table_format_change(a->num, b->num, ch, sizeof(ch));
	r.a = xstrdup(x);
	r.b = xstrdup(y);
	r.change = xstrdup(ch);
	r.ja = a ? report_metric_json(a->num) : json_null();
	r.jb = b ? report_metric_json(b->num) : json_null();
	double d = a && b ? (r.changed ? b->num - a->num : 0) : NAN;
	r.jchange = isfinite(d) ? json_real(d) : json_null();
	return r;
}

static void metric_rows(const struct side *A, const struct side *B, struct section *sec)
{
	for (size_t i = 0; i < A->nmet; i++)
		add_row(sec, metric_row(&A->met[i], find_metric(B, A->met[i].step, A->met[i].key)));
	for (size_t i = 0; i < B->nmet; i++)
		if (!find_metric(A, B->met[i].step, B->met[i].key))
			add_row(sec, metric_row(NULL, &B->met[i]));
}

static json_t *hash_json(const file_record *f)
{
	return f && f->sha256 ? json_string(f->sha256) : json_null();
}

static void output_rows(const struct side *A, const struct side *B, struct section *sec)
{
	for (size_t i = 0; i < A->nfiles; i++) {
		const file_record *a = &A->files[i], *b = find_file(B, a->path);
		const char *ha = a->sha256 ? a->sha256 : "-";
		const char *hb = b && b->sha256 ? b->sha256 : "-";
		add_row(sec, (struct row){xstrdup(a->path), xstrdup(ha), xstrdup(hb), NULL,
					  hash_json(a), hash_json(b), NULL, !b || strcmp(ha, hb)});
	}
	for (size_t i = 0; i < B->nfiles; i++)
		if (!find_file(A, B->files[i].path))
			add_row(sec,
				(struct row){xstrdup(B->files[i].path), xstrdup("-"),
					     xstrdup(B->files[i].sha256 ? B->files[i].sha256 : "-"),
					     NULL, json_null(), hash_json(&B->files[i]), NULL, 1});
}

enum { SEC_PARAMS, SEC_STEPS, SEC_METRICS, SEC_OUTPUTS, SEC__COUNT };

static void print_text(const struct side *A, const struct side *B, struct section *secs, int all)
{
	char *pa = table_safe_text(A->run.pipeline), *pb = table_safe_text(B->run.pipeline);
	printf("%-40s run %-20lld run %-20lld\n", "", (long long)A->run.id, (long long)B->run.id);
	printf("%-40s %-24s %-24s\n", "pipeline", pa, pb);
	printf("%-40s %-24s %-24s\n", "status", A->run.status, B->run.status);
	free(pa);
	free(pb);
	size_t shown = 0;
	for (int k = 0; k < SEC__COUNT; k++) {
		const struct section *sec = &secs[k];
		int title = 0;
		for (size_t i = 0; i < sec->n; i++) {
			const struct row *r = &sec->rows[i];
			if (!all && !r->changed)
				continue;
			if (!title++)
				printf("\n%s\n", sec->title);
			shown++;
			char *name = table_safe_text(r->name), *x = table_safe_text(r->a),
			     *y = table_safe_text(r->b);
			/* hashes: the first 12 hex digits tell them apart */
			int w = k == SEC_OUTPUTS ? 12 : -1; /* -1: the whole text */
			printf("%s %-38s %-24.*s %-24.*s", r->changed ? "*" : " ", name, w, x, w,
			       y);
			free(x);
			free(y);
			if (r->change && r->changed && strcmp(r->change, "-"))
				printf(" (%s)", r->change);
			putchar('\n');
			free(name);
		}
	}
	if (!shown)
		printf("\nno params, statuses, metrics or outputs changed\n");
}

static void print_json(const struct side *A, const struct side *B, struct section *secs, int all)
{
	json_t *doc = json_object();
	const struct side *sides[2] = {A, B};
	const char *names[2] = {"old", "new"};
	for (int s = 0; s < 2; s++)
		json_object_set_new(doc, names[s],
				    json_pack("{s:I, s:s, s:s}", "run_id",
					      (json_int_t)sides[s]->run.id, "pipeline",
					      sides[s]->run.pipeline, "status",
					      sides[s]->run.status));
	for (int k = 0; k < SEC__COUNT; k++) {
		const struct section *sec = &secs[k];
		json_t *arr = json_array();
		for (size_t i = 0; i < sec->n; i++) {
			const struct row *r = &sec->rows[i];
			if (!all && !r->changed)
				continue;
			json_t *o = json_pack("{s:s, s:O, s:O}", k == SEC_OUTPUTS ? "path" : "name",
					      r->name, "old", r->ja, "new", r->jb);
			if (r->jchange)
				json_object_set(o, "change", r->jchange);
			json_object_set_new(o, "changed", json_boolean(r->changed));
			json_array_append_new(arr, o);
		}
		json_object_set_new(doc, sec->json_name, arr);
	}
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	json_decref(doc);
}

int cmd_diff(const cli_args *a)
{
	sl_error *err = NULL;
	int64_t ids[2] = {0, 0};
	store *st = NULL;
	if (cli_open_run_pair(a, 0, ids, &st, &err) < 0)
		return cli_fail(&err);
	struct side A = {0}, B = {0};
	struct section secs[SEC__COUNT] = {
		[SEC_PARAMS] = {"params", "params", NULL, 0, 0},
		[SEC_STEPS] = {"steps", "steps", NULL, 0, 0},
		[SEC_METRICS] = {"metrics", "metrics", NULL, 0, 0},
		[SEC_OUTPUTS] = {"outputs (sha256)", "outputs", NULL, 0, 0},
	};
	int code = EXIT_OK;
	if (load_side(st, ids[0], &A, &err) < 0 || load_side(st, ids[1], &B, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	param_rows(&A, &B, &secs[SEC_PARAMS]);
	step_rows(&A, &B, &secs[SEC_STEPS]);
	metric_rows(&A, &B, &secs[SEC_METRICS]);
	output_rows(&A, &B, &secs[SEC_OUTPUTS]);
	if (cli_flag(a, "json"))
		print_json(&A, &B, secs, cli_flag(a, "all"));
	else
		print_text(&A, &B, secs, cli_flag(a, "all"));
out:
	for (int k = 0; k < SEC__COUNT; k++)
		release_section(&secs[k]);
	free_side(&A);
	free_side(&B);
	store_close(st);
	return code;
}
