/*
 * cmd_params.c — `sluice params diff [RUN_A RUN_B]`: the params that changed
 * between two runs (as `dvc params diff`), nested ones named with dots; and
 * how the comparing commands pick their two runs when none are named.
 */
#include "sluice/cli.h"
#include "sluice/store.h"
#include "sluice/table.h"

#include "sluice/arena.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The latest run's pipeline's two newest runs, older first. */
static int latest_pair(store *st, int64_t ids[2], sl_error **err)
{
	run_info *latest = NULL, *two = NULL;
	size_t n = 0, m = 0;
	if (store_list_runs(st, NULL, 1, &latest, &n, err) < 0)
		return -1;
	int rc = 0;
	if (n == 0) {
		rc = sl_error_usage(err, "no runs recorded yet (run a pipeline first)");
		goto out;
	}
	if (store_list_runs(st, latest[0].pipeline, 2, &two, &m, err) < 0) {
		rc = -1;
		goto out;
	}
	if (m < 2) {
		rc = sl_error_usage(err,
				    "pipeline %s has only run %lld: nothing to compare it with "
				    "(name two runs)",
				    latest[0].pipeline, (long long)latest[0].id);
		goto out;
	}
	ids[0] = two[1].id;
	ids[1] = two[0].id;
out:
	run_info_free_array(latest, n);
	run_info_free_array(two, m);
	return rc;
}

int cli_open_run_pair(const cli_args *a, size_t from, int64_t ids[2], store **st, sl_error **err)
{
	size_t given = a->npos > from ? a->npos - from : 0;
	*st = NULL;
	if (given == 1)
		return sl_error_usage(err, "%s: name two runs, or none for the latest two",
				      a->cmd->name);
	for (size_t i = 0; i < given; i++)
		if (cli_run_id(a->pos[from + i], &ids[i], err) < 0)
			return -1;
	if (cli_open_existing_store(a, st, err) < 0)
		return -1;
	for (size_t i = 0; i < given; i++)
		if (cli_resolve_run(*st, &ids[i], err) < 0) {
			store_close(*st);
			*st = NULL;
			return -1;
		}
	if (given == 0 && latest_pair(*st, ids, err) < 0) {
		store_close(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

/* One param of the two runs: its flattened name and both values (NULL: absent). */
struct param_row {
	const char *name;
	json_t *old, *new_;
	int changed;
};

static int row_order(const void *a, const void *b)
{
	return strcmp(((const struct param_row *)a)->name, ((const struct param_row *)b)->name);
}

/* Every name of either run, sorted; the rows borrow from the two objects. */
static struct param_row *param_rows(json_t *pa, json_t *pb, size_t *n)
{
	struct param_row *rows =
		xcalloc(json_object_size(pa) + json_object_size(pb) + 1, sizeof(*rows));
	*n = 0;
	const char *key;
	json_t *v;
	json_object_foreach(pa, key, v)
	{
		json_t *o = json_object_get(pb, key);
		rows[(*n)++] = (struct param_row){key, v, o, !table_same_json(v, o)};
	}
	json_object_foreach(pb, key, v)
	{
		if (!json_object_get(pa, key))
			rows[(*n)++] = (struct param_row){key, NULL, v, 1};
	}
	qsort(rows, *n, sizeof(*rows), row_order);
	return rows;
}

static void print_params_json(const int64_t ids[2], const struct param_row *rows, size_t n, int all)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (!all && !rows[i].changed)
			continue;
		json_t *o = json_pack("{s:s}", "name", rows[i].name);
		if (rows[i].old)
			json_object_set(o, "old", rows[i].old);
		if (rows[i].new_)
			json_object_set(o, "new", rows[i].new_);
		json_object_set_new(o, "changed", json_boolean(rows[i].changed));
		json_array_append_new(arr, o);
	}
	json_t *doc = json_pack("{s:{s:I}, s:{s:I}, s:o}", "old", "run_id", (json_int_t)ids[0],
				"new", "run_id", (json_int_t)ids[1], "params", arr);
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	json_decref(doc);
}

static void print_params_table(const int64_t ids[2], const struct param_row *rows, size_t n,
			       int all, int md)
{
	char ha[32], hb[32];
	snprintf(ha, sizeof(ha), "run %lld", (long long)ids[0]);
	snprintf(hb, sizeof(hb), "run %lld", (long long)ids[1]);
	const char *head[] = {"Param", ha, hb};
	table t;
	table_init(&t, head, 3);
	for (size_t i = 0; i < n; i++) {
		if (!all && !rows[i].changed)
			continue;
		char *x = table_json_text(rows[i].old), *y = table_json_text(rows[i].new_);
		table_add_row(&t, (const char *const[]){rows[i].name, x, y});
		free(x);
		free(y);
	}
	if (t.nrows == 0)
		fprintf(stderr, "no param changed from run %lld to run %lld\n", (long long)ids[0],
			(long long)ids[1]);
	else if (md)
		table_print_markdown(&t, stdout);
	else
		table_print_text(&t, stdout);
	table_release(&t);
}

int cmd_params(const cli_args *a)
{
	sl_error *err = NULL;
	if (strcmp(a->pos[0], "diff") != 0) {
		sl_error_usage(&err, "params: unknown subcommand '%s' (usage: sluice params %s)",
			       a->pos[0], a->cmd->usage);
		return cli_fail(&err);
	}
	if (cli_flag(a, "json") && cli_flag(a, "md")) {
		sl_error_usage(&err, "params diff: --json or --md, not both");
		return cli_fail(&err);
	}
	int64_t ids[2];
	store *st = NULL;
	if (cli_open_run_pair(a, 1, ids, &st, &err) < 0)
		return cli_fail(&err);
	run_info ra = {0}, rb = {0};
	int code = EXIT_OK;
	if (store_get_run(st, ids[0], &ra, &err) < 0 || store_get_run(st, ids[1], &rb, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	json_t *pa = table_flat_params(ra.params_json), *pb = table_flat_params(rb.params_json);
	size_t n;
	struct param_row *rows = param_rows(pa, pb, &n);
	int all = cli_flag(a, "all");
	if (cli_flag(a, "json"))
		print_params_json(ids, rows, n, all);
	else
		print_params_table(ids, rows, n, all, cli_flag(a, "md"));
	free(rows);
	json_decref(pa);
	json_decref(pb);
out:
	run_info_release(&ra);
	run_info_release(&rb);
	store_close(st);
	return code;
}
