/*
 * cmd_metrics.c — `sluice metrics [RUN [RUN_B]] [--diff] [--json | --md]`: a
 * run's metrics, or how they changed between two runs (as `dvc metrics
 * diff`); `--md` is the table to post in a pull request.  Without a run it
 * answers the question after every experiment: did the latest run do better
 * than the last one that succeeded?
 */
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

/* One metric row: the same step and key in the old and the new run (NULL: absent). */
struct metric_row {
	const kv_record *old, *new_;
};

static const kv_record *find_kv(const kv_record *r, size_t n, const kv_record *like)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].step, like->step) && !strcmp(r[i].key, like->key))
			return &r[i];
	return NULL;
}

/* The new run's metrics in its order, then those only the old run has. */
static struct metric_row *metric_rows(const kv_record *a, size_t na, const kv_record *b, size_t nb,
				      size_t *n)
{
	struct metric_row *rows = xcalloc(na + nb + 1, sizeof(*rows));
	*n = 0;
	for (size_t i = 0; i < nb; i++)
		rows[(*n)++] = (struct metric_row){find_kv(a, na, &b[i]), &b[i]};
	for (size_t i = 0; i < na; i++)
		if (!find_kv(b, nb, &a[i]))
			rows[(*n)++] = (struct metric_row){&a[i], NULL};
	return rows;
}

static void cell_number(const kv_record *r, char *buf, size_t size)
{
	if (r)
		table_format_number(r->num, buf, size);
	else
		snprintf(buf, size, "-");
}

/* A change: null when it is not a finite number (a side missing, NaN, Infinity). */
static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* The rows as a table: Step, Metric, the old run (when diffing), the new run, Change. */
static void print_rows(const struct metric_row *rows, size_t n, int64_t old_id, int64_t new_id,
		       int md)
{
	char ho[32], hn[32];
	snprintf(ho, sizeof(ho), "run %lld", (long long)old_id);
	snprintf(hn, sizeof(hn), "run %lld", (long long)new_id);
	int diff = old_id != 0;
	const char *head_diff[] = {"Step", "Metric", ho, hn, "Change"};
	const char *head_one[] = {"Step", "Metric", hn};
	table t;
	if (diff)
		table_init(&t, head_diff, 5);
	else
		table_init(&t, head_one, 3);
	for (size_t c = 2; c < t.ncols; c++)
		table_align_right(&t, c);
	for (size_t i = 0; i < n; i++) {
		const kv_record *any = rows[i].new_ ? rows[i].new_ : rows[i].old;
		char x[64], y[64], ch[64] = "-";
		cell_number(rows[i].old, x, sizeof(x));
		cell_number(rows[i].new_, y, sizeof(y));
		if (rows[i].old && rows[i].new_)
			table_format_change(rows[i].old->num, rows[i].new_->num, ch, sizeof(ch));
		if (diff)
			table_add_row(&t, (const char *const[]){any->step, any->key, x, y, ch});
		else
			table_add_row(&t, (const char *const[]){any->step, any->key, y});
	}
	if (md)
		table_print_markdown(&t, stdout);
	else
		table_print_text(&t, stdout);
	table_release(&t);
}

static void print_rows_json(const struct metric_row *rows, size_t n, int64_t old_id, int64_t new_id)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const kv_record *o = rows[i].old, *w = rows[i].new_, *any = w ? w : o;
		json_t *row = json_pack("{s:s, s:s}", "step", any->step, "metric", any->key);
		if (old_id)
			json_object_set_new(row, "old",
					    o ? report_metric_json(o->num) : json_null());
		json_object_set_new(row, "new", w ? report_metric_json(w->num) : json_null());
		if (old_id) {
			int same = o && w && table_same_number(o->num, w->num);
			double d = o && w && !same ? w->num - o->num : same ? 0 : NAN;
			json_object_set_new(row, "change", number_or_null(d));
			json_object_set_new(row, "changed", json_boolean(!same));
		}
		json_array_append_new(arr, row);
	}
	json_t *doc = json_object();
	if (old_id)
		json_object_set_new(doc, "old", json_pack("{s:I}", "run_id", (json_int_t)old_id));
	json_object_set_new(doc, "new", json_pack("{s:I}", "run_id", (json_int_t)new_id));
	json_object_set_new(doc, "metrics", arr);
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	json_decref(doc);
}

/* Which runs: ids[0] the old one (0: none, show one run), ids[1] the new one. */
static int pick_runs(const cli_args *a, store *st, int64_t ids[2], sl_error **err)
{
	ids[0] = ids[1] = 0;
	if (a->npos == 2)
		return cli_run_id(a->pos[0], &ids[0], err) < 0 ||
				       cli_resolve_run(st, &ids[0], err) < 0 ||
				       cli_run_id(a->pos[1], &ids[1], err) < 0
			       ? -1
			       : cli_resolve_run(st, &ids[1], err);
	if (a->npos == 1) {
		if (cli_run_id(a->pos[0], &ids[1], err) < 0 ||
		    cli_resolve_run(st, &ids[1], err) < 0)
			return -1;
	} else {
		run_info *latest = NULL;
		size_t n = 0;
		if (store_list_runs(st, NULL, 1, &latest, &n, err) < 0)
			return -1;
		if (n)
			ids[1] = latest[0].id;
		run_info_free_array(latest, n);
		if (!n)
			return sl_error_usage(err, "no runs recorded yet (run a pipeline first)");
	}
	if (a->npos == 1 && !cli_flag(a, "diff"))
		return 0;
	run_info r;
	if (store_get_run(st, ids[1], &r, err) < 0)
		return -1;
	int found = store_previous_succeeded(st, r.pipeline, ids[1], &ids[0], err);
	if (found == 0)
		fprintf(stderr,
			"sluice: no succeeded run of %s before run %lld to compare with; its "
			"metrics alone\n",
			r.pipeline, (long long)ids[1]);
	run_info_release(&r);
	return found < 0 ? -1 : 0;
}

int cmd_metrics(const cli_args *a)
{
	sl_error *err = NULL;
	if (cli_flag(a, "json") && cli_flag(a, "md")) {
		sl_error_usage(&err, "metrics: --json or --md, not both");
		return cli_fail(&err);
	}
	store *st = NULL;
	int64_t ids[2];
	/* a bad run id is reported before a missing state directory, as elsewhere */
	for (size_t i = 0; i < a->npos; i++)
		if (cli_run_id(a->pos[i], &ids[0], &err) < 0)
			return cli_fail(&err);
	if (cli_open_existing_store(a, &st, &err) < 0)
		return cli_fail(&err);
	kv_record *ma = NULL, *mb = NULL;
	size_t na = 0, nb = 0;
	run_info check = {0};
	int code = EXIT_OK;
	if (pick_runs(a, st, ids, &err) < 0 ||
	    (ids[0] && store_get_run(st, ids[0], &check, &err) < 0) ||
	    (ids[0] && store_get_metrics(st, ids[0], NULL, &ma, &na, &err) < 0)) {
		code = cli_fail(&err);
		goto out;
	}
	run_info_release(&check);
	if (store_get_run(st, ids[1], &check, &err) < 0 ||
	    store_get_metrics(st, ids[1], NULL, &mb, &nb, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	size_t n;
	struct metric_row *rows = metric_rows(ma, na, mb, nb, &n);
	if (n == 0)
		fprintf(stderr, "sluice: no metrics recorded in run %lld%s\n", (long long)ids[1],
			ids[0] ? " nor in the run compared with" : "");
	if (cli_flag(a, "json"))
		print_rows_json(rows, n, ids[0], ids[1]);
	else if (n)
		print_rows(rows, n, ids[0], ids[1], cli_flag(a, "md"));
	free(rows);
out:
	run_info_release(&check);
	kv_record_free_array(ma, na);
	kv_record_free_array(mb, nb);
	store_close(st);
	return code;
}
