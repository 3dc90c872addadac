/* cmd_diff.c — `sluice diff RUN_A RUN_B`: params, step statuses, metrics and
 * output hashes of two runs side by side; only what differs is marked. */
#include "sluice/cli.h"
#include "sluice/store.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct side {
	run_info run;
	json_t *params;
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
	s->params = json_loads(s->run.params_json ? s->run.params_json : "{}", 0, NULL);
	if (!s->params)
		s->params = json_object();
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

static char *json_text(json_t *v)
{
	if (!v)
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
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

int cmd_diff(const cli_args *a)
{
	sl_error *err = NULL;
	int64_t ids[2] = {0, 0};
	store *st = NULL;
	if (cli_open_runs(a, ids, 2, &st, &err) < 0)
		return cli_fail(&err);
	const int64_t ida = ids[0], idb = ids[1];
	struct side A = {0}, B = {0};
	int code = EXIT_OK;
	if (load_side(st, ida, &A, &err) < 0 || load_side(st, idb, &B, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	printf("%-40s run %-20lld run %-20lld\n", "", (long long)ida, (long long)idb);
	printf("%-40s %-24s %-24s\n", "pipeline", A.run.pipeline, B.run.pipeline);
	printf("%-40s %-24s %-24s\n", "status", A.run.status, B.run.status);
	printf("\nparams\n");
	const char *key;
	json_t *v;
	json_object_foreach(A.params, key, v)
	{
		char *x = json_text(v), *y = json_text(json_object_get(B.params, key));
		printf("%s %-38s %-24s %-24s\n", strcmp(x, y) ? "*" : " ", key, x, y);
		free(x);
		free(y);
	}
	json_object_foreach(B.params, key, v)
	{
		if (json_object_get(A.params, key))
			continue;
		char *y = json_text(v);
		printf("* %-38s %-24s %-24s\n", key, "-", y);
		free(y);
	}
	printf("\nsteps\n");
	for (size_t i = 0; i < A.nsteps; i++) {
		const step_record *o = find_step(&B, A.steps[i].name);
		const char *sb = o ? o->status : "-";
		printf("%s %-38s %-24s %-24s\n", strcmp(A.steps[i].status, sb) ? "*" : " ",
		       A.steps[i].name, A.steps[i].status, sb);
	}
	for (size_t i = 0; i < B.nsteps; i++)
		if (!find_step(&A, B.steps[i].name))
			printf("* %-38s %-24s %-24s\n", B.steps[i].name, "-", B.steps[i].status);
	printf("\nmetrics\n");
	for (size_t i = 0; i < A.nmet; i++) {
		char name[256];
		snprintf(name, sizeof(name), "%s.%s", A.met[i].step, A.met[i].key);
		const kv_record *o = find_metric(&B, A.met[i].step, A.met[i].key);
		if (o) {
			double d = o->num - A.met[i].num;
			printf("%s %-38s %-24.6g %-14.6g (%+.6g)\n", d != 0 ? "*" : " ", name,
			       A.met[i].num, o->num, d);
		} else {
			printf("* %-38s %-24.6g %-24s\n", name, A.met[i].num, "-");
		}
	}
	for (size_t i = 0; i < B.nmet; i++) {
		if (find_metric(&A, B.met[i].step, B.met[i].key))
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%s.%s", B.met[i].step, B.met[i].key);
		printf("* %-38s %-24s %-24.6g\n", name, "-", B.met[i].num);
	}
	printf("\noutputs (sha256)\n");
	for (size_t i = 0; i < A.nfiles; i++) {
		const file_record *o = find_file(&B, A.files[i].path);
		const char *ha = A.files[i].sha256 ? A.files[i].sha256 : "-";
		const char *hb = o && o->sha256 ? o->sha256 : "-";
		printf("%s %-38s %-24.12s %-24.12s\n", strcmp(ha, hb) ? "*" : " ", A.files[i].path,
		       ha, hb);
	}
	for (size_t i = 0; i < B.nfiles; i++)
		if (!find_file(&A, B.files[i].path))
			printf("* %-38s %-24s %-24.12s\n", B.files[i].path, "-",
			       B.files[i].sha256 ? B.files[i].sha256 : "-");
out:
	free_side(&A);
	free_side(&B);
	store_close(st);
	return code;
}
