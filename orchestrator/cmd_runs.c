/*
 * cmd_runs.c — `sluice runs`: the experiment table (as `dvc exp show`), newest
 * first: per run its id, pipeline, status, trigger and start, then a column per metric
 * of the listed runs, then a column per param whose value is not the same in
 * all of them (docs/cli.md, "The experiment table").
 *
 * Two queries whatever the number of runs (the runs, then all their metrics
 * in one range), so 10,000 runs list in milliseconds (bench/bench_runs.sh).
 */
#include "sluice/cli.h"
#include "sluice/cleanup.h"
#include "sluice/report.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/table.h"
#include "sluice/util.h"

#include "sluice/arena.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LIMIT 20

/* One metric column: a (step, key) some listed run recorded. */
struct mcol {
	const char *step, *key; /* borrowed from the run_metric rows */
	int position;
	char *heading; /* key, or step.key when two steps record the key */
};

/* The listed runs with what the table shows of them. */
struct exp {
	run_info *runs;
	size_t n;
	json_t **params; /* per run: table_flat_params */
	run_metric *met; /* all the runs' metrics, newest run first */
	size_t nmet;
	size_t *met_at, *met_end; /* per run: its rows in met */
	strmap position;    /* step name → its position + 1 in the newest run of its pipeline */
	step_record *steps; /* those runs' steps (the map's keys) */
	size_t nsteps;
	struct mcol *mcols;
	size_t nmcols;
	char **pcols; /* the params that differ, sorted */
	size_t npcols;
};

static void exp_release(struct exp *e)
{
	for (size_t i = 0; e->params && i < e->n; i++)
		json_decref(e->params[i]);
	free(e->params);
	for (size_t i = 0; i < e->nmcols; i++)
		free(e->mcols[i].heading);
	free(e->mcols);
	for (size_t i = 0; i < e->npcols; i++)
		free(e->pcols[i]);
	free(e->pcols);
	free(e->met_at);
	free(e->met_end);
	strmap_release(&e->position);
	step_record_free_array(e->steps, e->nsteps);
	run_metric_free_array(e->met, e->nmet);
	run_info_free_array(e->runs, e->n);
	memset(e, 0, sizeof(*e));
}

/* The value of column c for run i, or NULL when it recorded none. */
static const run_metric *metric_of(const struct exp *e, size_t i, const struct mcol *c)
{
	for (size_t k = e->met_at[i]; k < e->met_end[i]; k++)
		if (!strcmp(e->met[k].step, c->step) && !strcmp(e->met[k].key, c->key))
			return &e->met[k];
	return NULL;
}

static int mcol_order(const void *pa, const void *pb)
{
	const struct mcol *a = pa, *b = pb;
	if (a->position != b->position)
		return a->position < b->position ? -1 : 1;
	int c = strcmp(a->step, b->step);
	return c ? c : strcmp(a->key, b->key);
}

/* Where each run's metric rows are: both lists come newest run first. */
static void index_metrics(struct exp *e)
{
	e->met_at = xcalloc(e->n + 1, sizeof(size_t));
	e->met_end = xcalloc(e->n + 1, sizeof(size_t));
	size_t k = 0;
	for (size_t i = 0; i < e->n; i++) {
		while (k < e->nmet && e->met[k].run_id > e->runs[i].id)
			k++;
		e->met_at[i] = k;
		while (k < e->nmet && e->met[k].run_id == e->runs[i].id)
			k++;
		e->met_end[i] = k;
	}
}

/* Metric columns follow the steps' order in the newest run of each listed pipeline. */
static int step_positions(store *st, struct exp *e, sl_error **err)
{
	strmap seen = STRMAP_INIT;
	int rc = 0;
	for (size_t i = 0; i < e->n && rc == 0; i++) {
		if (strmap_has(&seen, e->runs[i].pipeline))
			continue;
		strmap_put(&seen, e->runs[i].pipeline, NULL);
		step_record *steps;
		size_t n;
		if (store_get_steps(st, e->runs[i].id, &steps, &n, err) < 0) {
			rc = -1;
			break;
		}
		e->steps = xrealloc(e->steps, (e->nsteps + n + 1) * sizeof(step_record));
		if (n)
			memcpy(&e->steps[e->nsteps], steps, n * sizeof(step_record));
		free(steps);
		for (size_t k = e->nsteps; k < e->nsteps + n; k++)
			if (!strmap_has(&e->position, e->steps[k].name))
				strmap_put(&e->position, e->steps[k].name,
					   (void *)(uintptr_t)(e->steps[k].position + 1));
		e->nsteps += n;
	}
	strmap_release(&seen);
	return rc;
}

static void metric_columns(struct exp *e)
{
	strmap seen = STRMAP_INIT, keys = STRMAP_INIT; /* step+key → column + 1; key → count */
	strbuf id = STRBUF_INIT;
	char **ids = xcalloc(e->nmet + 1, sizeof(char *));
	e->mcols = xcalloc(e->nmet + 1, sizeof(struct mcol));
	for (size_t k = 0; k < e->nmet; k++) {
		const run_metric *m = &e->met[k];
		strbuf_reset(&id);
		strbuf_addf(&id, "%zu:%s%s", strlen(m->step), m->step, m->key);
		size_t at = (size_t)(uintptr_t)strmap_get(&seen, strbuf_str(&id));
		if (at)
			continue;
		ids[e->nmcols] = xstrdup(strbuf_str(&id));
		/* a step the newest runs do not have goes after theirs */
		uintptr_t pos = (uintptr_t)strmap_get(&e->position, m->step);
		int position = pos ? (int)pos - 1 : INT_MAX;
		e->mcols[e->nmcols] = (struct mcol){m->step, m->key, position, NULL};
		e->nmcols++;
		strmap_put(&seen, ids[e->nmcols - 1], (void *)(uintptr_t)e->nmcols);
		strmap_put(&keys, m->key, (void *)((uintptr_t)strmap_get(&keys, m->key) + 1));
	}
	qsort(e->mcols, e->nmcols, sizeof(struct mcol), mcol_order);
	for (size_t c = 0; c < e->nmcols; c++) {
		struct mcol *mc = &e->mcols[c];
		int shared = (uintptr_t)strmap_get(&keys, mc->key) > 1;
		strbuf_reset(&id);
		if (shared)
			strbuf_addf(&id, "%s.", mc->step);
		strbuf_addstr(&id, mc->key);
		mc->heading = xstrdup(strbuf_str(&id));
	}
	for (size_t c = 0; c < e->nmcols; c++)
		free(ids[c]);
	free(ids);
	strbuf_release(&id);
	strmap_release(&seen);
	strmap_release(&keys);
}

static int str_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The params not the same in every listed run (all of them when one run is listed:
 * nothing to compare it with, and its params are what it was). */
static void param_columns(struct exp *e)
{
	strmap seen = STRMAP_INIT;
	size_t cap = 0;
	for (size_t i = 0; i < e->n; i++) {
		const char *key;
		json_t *v;
		json_object_foreach(e->params[i], key, v)
		{
			if (strmap_has(&seen, key))
				continue;
			strmap_put(&seen, key, NULL);
			int differs = e->n == 1;
			for (size_t j = 0; j < e->n && !differs; j++)
				differs = !table_same_json(v, json_object_get(e->params[j], key));
			if (!differs)
				continue;
			if (e->npcols == cap) {
				cap = cap ? 2 * cap : 8;
				e->pcols = xrealloc(e->pcols, cap * sizeof(char *));
			}
			e->pcols[e->npcols++] = xstrdup(key);
		}
	}
	strmap_release(&seen);
	if (e->npcols)
		qsort(e->pcols, e->npcols, sizeof(char *), str_order);
}

/* The params columns: only the table has them. */
static void load_params(struct exp *e)
{
	e->params = xcalloc(e->n + 1, sizeof(json_t *));
	for (size_t i = 0; i < e->n; i++)
		e->params[i] = table_flat_params(e->runs[i].params_json);
	param_columns(e);
}

static int load_exp(store *st, const char *pipeline, size_t limit, struct exp *e, sl_error **err)
{
	memset(e, 0, sizeof(*e));
	if (store_list_runs(st, pipeline, limit, &e->runs, &e->n, err) < 0)
		return -1;
	if (e->n && store_list_run_metrics(st, pipeline, e->runs[e->n - 1].id, e->runs[0].id,
					   &e->met, &e->nmet, err) < 0)
		return -1;
	if (step_positions(st, e, err) < 0)
		return -1;
	index_metrics(e);
	metric_columns(e);
	return 0;
}

/* ---- --sort -------------------------------------------------------------------------- */

struct sort_ctx {
	const struct exp *e;
	const struct mcol *col;
	int ascending;
};

static double sort_value(const struct sort_ctx *c, size_t i)
{
	const run_metric *m = metric_of(c->e, i, c->col);
	return m ? m->num : NAN;
}

/* qsort_r is a GNU extension; the order is stable through the index as the last key. */
static int by_metric(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *c = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	double x = sort_value(c, a), y = sort_value(c, b);
	/* runs without the metric (or NaN) go last whichever the direction */
	if (isnan(x) != isnan(y))
		return isnan(x) ? 1 : -1;
	if (!isnan(x) && x != y)
		return (x < y) == c->ascending ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* The column `spec` names: a heading, step.key, or a key only one step records;
 * a ":asc" or ":desc" suffix sets the direction (descending by default). */
static int find_sort_column(const struct exp *e, const char *spec, struct sort_ctx *out,
			    sl_error **err)
{
	sl_autofree char *name = xstrdup(spec);
	out->ascending = 0;
	for (int pass = 0; pass < 2; pass++) {
		const struct mcol *hit = NULL;
		size_t hits = 0;
		for (size_t c = 0; c < e->nmcols; c++) {
			const struct mcol *mc = &e->mcols[c];
			char full[512];
			snprintf(full, sizeof(full), "%s.%s", mc->step, mc->key);
			if (!strcmp(name, mc->heading) || !strcmp(name, full)) {
				out->col = mc;
				return 0;
			}
			if (!strcmp(name, mc->key)) {
				hit = mc;
				hits++;
			}
		}
		if (hits == 1) {
			out->col = hit;
			return 0;
		}
		if (hits > 1)
			return sl_error_usage(
				err,
				"--sort %s: steps %s and others record '%s'; name one "
				"as STEP.%s",
				spec, hit->step, name, name);
		char *colon = strrchr(name, ':');
		if (pass || !colon || (strcmp(colon, ":asc") && strcmp(colon, ":desc")))
			break;
		out->ascending = !strcmp(colon, ":asc");
		*colon = 0;
	}
	const char **names = xcalloc(e->nmcols + 1, sizeof(char *));
	for (size_t c = 0; c < e->nmcols; c++)
		names[c] = e->mcols[c].heading;
	const char *s = did_you_mean(name, names, e->nmcols);
	int r = s ? sl_error_usage(err,
				   "--sort: no listed run has a metric '%s' (did you mean %s?)",
				   name, s)
		  : sl_error_usage(err, "--sort: no listed run has a metric '%s'%s", name,
				   e->nmcols ? "" : " (they have no metrics)");
	free(names);
	return r;
}

/* ---- output -------------------------------------------------------------------------- */

static void local_time(double t, char *buf, size_t size)
{
	time_t s = (time_t)t;
	struct tm tm;
	if (t <= 0 || !localtime_r(&s, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, size, "-");
}

/* $COLUMNS, else the terminal's width when stdout is one, else no limit (0). */
static size_t output_width(void)
{
	const char *c = getenv("COLUMNS");
	char *end;
	long v = c && *c ? strtol(c, &end, 10) : 0;
	if (c && *c && !*end && v > 0)
		return (size_t)v;
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	return 0;
}

static void print_table(const struct exp *e, const size_t *order, FILE *out)
{
	size_t fixed = 5;
	size_t ncols = fixed + e->nmcols + e->npcols;
	const char **head = xcalloc(ncols, sizeof(char *));
	size_t h = 0;
	head[h++] = "RUN";
	/* the order of the listing before the experiment table, which scripts grep */
	head[h++] = "PIPELINE";
	head[h++] = "STATUS";
	head[h++] = "TRIGGER";
	head[h++] = "STARTED";
	for (size_t c = 0; c < e->nmcols; c++)
		head[h++] = e->mcols[c].heading;
	strmap metric_heads = STRMAP_INIT;
	for (size_t c = 0; c < e->nmcols; c++)
		strmap_put(&metric_heads, e->mcols[c].heading, NULL);
	char **pheads = xcalloc(e->npcols + 1, sizeof(char *));
	for (size_t c = 0; c < e->npcols; c++) {
		/* a param and a metric of one name: the param says so */
		strbuf name = STRBUF_INIT;
		if (strmap_has(&metric_heads, e->pcols[c]))
			strbuf_addstr(&name, "params.");
		strbuf_addstr(&name, e->pcols[c]);
		pheads[c] = strbuf_detach(&name);
		head[h++] = pheads[c];
	}
	table t;
	table_init(&t, head, ncols);
	for (size_t c = 0; c < e->nmcols; c++)
		table_align_right(&t, fixed + c);
	char **cells = xcalloc(ncols, sizeof(char *));
	for (size_t r = 0; r < e->n; r++) {
		size_t i = order[r];
		const run_info *ri = &e->runs[i];
		char id[32], started[64];
		snprintf(id, sizeof(id), "%lld", (long long)ri->id);
		local_time(ri->started, started, sizeof(started));
		size_t k = 0;
		cells[k++] = xstrdup(id);
		cells[k++] = xstrdup(ri->pipeline);
		cells[k++] = xstrdup(ri->status);
		cells[k++] = xstrdup(ri->trigger);
		cells[k++] = xstrdup(started);
		for (size_t c = 0; c < e->nmcols; c++) {
			const run_metric *m = metric_of(e, i, &e->mcols[c]);
			char num[64] = "-";
			if (m)
				table_format_number(m->num, num, sizeof(num));
			cells[k++] = xstrdup(num);
		}
		for (size_t c = 0; c < e->npcols; c++)
			cells[k++] = table_json_text(json_object_get(e->params[i], e->pcols[c]));
		table_add_row(&t, (const char *const *)cells);
		for (size_t c = 0; c < ncols; c++)
			free(cells[c]);
	}
	strbuf left = STRBUF_INIT;
	table_fit(&t, output_width(), fixed, &left);
	table_print_text(&t, out);
	if (left.len)
		fprintf(stderr, "(columns left out for the width: %s; --json has them all)\n",
			strbuf_str(&left));
	strbuf_release(&left);
	table_release(&t);
	free(cells);
	for (size_t c = 0; c < e->npcols; c++)
		free(pheads[c]);
	free(pheads);
	strmap_release(&metric_heads);
	free(head);
}

/* ---- --json, written directly: jansson's tree and dump of 10,000 runs took
 * 100 ms, five times the queries; the params are dumped by jansson, one line each. */

static void json_string_to(strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			strbuf_addf(sb, "\\u%04x", *p);
		else
			strbuf_addch(sb, (char)*p);
	}
	strbuf_addch(sb, '"');
}

/* The fewest digits that read back the same (as jansson and Python write a float,
 * with ".0" when integral); NaN and the infinities, which JSON lacks, as the strings
 * of report_metric_json. */
static void json_number_to(strbuf *sb, double v)
{
	if (!isfinite(v)) {
		strbuf_addstr(sb, isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char buf[40];
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	strbuf_addstr(sb, buf);
	if (!strpbrk(buf, ".e"))
		strbuf_addstr(sb, ".0");
}

static void json_params_to(strbuf *sb, const char *params_json)
{
	json_t *p = params_json ? json_loads(params_json, 0, NULL) : NULL;
	char *text = json_is_object(p)
			     ? json_dumps(p, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
			     : NULL;
	strbuf_addstr(sb, text ? text : "{}");
	free(text);
	json_decref(p);
}

static void json_metrics_to(strbuf *sb, const struct exp *e, size_t i)
{
	strbuf_addch(sb, '{');
	const char *step = NULL;
	for (size_t k = e->met_at[i]; k < e->met_end[i]; k++) {
		const run_metric *m = &e->met[k];
		if (!step || strcmp(step, m->step)) {
			strbuf_addstr(sb, step ? "}, " : "");
			json_string_to(sb, m->step);
			strbuf_addstr(sb, ": {");
			step = m->step;
		} else {
			strbuf_addstr(sb, ", ");
		}
		json_string_to(sb, m->key);
		strbuf_addstr(sb, ": ");
		json_number_to(sb, m->num);
	}
	strbuf_addstr(sb, step ? "}}" : "}");
}

static void json_run_to(strbuf *sb, const struct exp *e, size_t i)
{
	const run_info *r = &e->runs[i];
	char t[64];
	strbuf_addf(sb, "  {\n    \"run_id\": %lld,\n    \"pipeline\": ", (long long)r->id);
	json_string_to(sb, r->pipeline);
	strbuf_addstr(sb, ",\n    \"status\": ");
	json_string_to(sb, r->status);
	strbuf_addstr(sb, ",\n    \"trigger\": ");
	json_string_to(sb, r->trigger);
	if (r->parent_id)
		strbuf_addf(sb, ",\n    \"parent_id\": %lld", (long long)r->parent_id);
	else
		strbuf_addstr(sb, ",\n    \"parent_id\": null");
	if (r->exit_code >= 0)
		strbuf_addf(sb, ",\n    \"exit_code\": %d", r->exit_code);
	else
		strbuf_addstr(sb, ",\n    \"exit_code\": null");
	report_iso_time(r->started, t, sizeof(t));
	strbuf_addf(sb, ",\n    \"started\": \"%s\"", t);
	report_iso_time(r->finished, t, sizeof(t));
	if (r->finished > 0)
		strbuf_addf(sb, ",\n    \"finished\": \"%s\"", t);
	else
		strbuf_addstr(sb, ",\n    \"finished\": null");
	strbuf_addstr(sb, ",\n    \"params\": ");
	json_params_to(sb, r->params_json);
	strbuf_addstr(sb, ",\n    \"metrics\": ");
	json_metrics_to(sb, e, i);
	strbuf_addstr(sb, "\n  }");
}

static void print_json(const struct exp *e, const size_t *order, FILE *out)
{
	strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, e->n ? "[\n" : "[");
	for (size_t r = 0; r < e->n; r++) {
		json_run_to(&sb, e, order[r]);
		strbuf_addstr(&sb, r + 1 < e->n ? ",\n" : "\n");
	}
	strbuf_addstr(&sb, "]\n");
	fwrite(sb.buf, 1, sb.len, out);
	strbuf_release(&sb);
}

static int parse_limit(const char *s, int json, size_t *limit, sl_error **err)
{
	/* a script reading --json wants every run; a person, the newest screenful */
	*limit = json ? 0 : DEFAULT_LIMIT;
	if (!s)
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v < 0)
		return sl_error_usage(err, "--limit takes a number of runs (0: all), got '%s'", s);
	*limit = (size_t)v;
	return 0;
}

int cmd_runs(const cli_args *a)
{
	sl_error *err = NULL;
	store *st = NULL;
	size_t limit;
	int json = cli_flag(a, "json");
	if (parse_limit(cli_value(a, "limit"), json, &limit, &err) < 0)
		return cli_fail(&err);
	if (cli_open_existing_store(a, &st, &err) < 0)
		return cli_fail(&err);
	const char *pipeline = cli_value(a, "pipeline");
	struct exp e;
	int code = EXIT_OK;
	size_t *order = NULL;
	if (load_exp(st, pipeline, limit, &e, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	order = xcalloc(e.n + 1, sizeof(size_t));
	for (size_t i = 0; i < e.n; i++)
		order[i] = i;
	const char *sort = cli_value(a, "sort");
	if (sort) {
		struct sort_ctx c = {.e = &e};
		if (find_sort_column(&e, sort, &c, &err) < 0) {
			code = cli_fail(&err);
			goto out;
		}
		qsort_r(order, e.n, sizeof(size_t), by_metric, &c);
	}
	if (json) {
		print_json(&e, order, stdout);
		goto out;
	}
	if (e.n == 0) {
		fprintf(stderr, "no runs%s%s recorded\n", pipeline ? " of pipeline " : "",
			pipeline ? pipeline : "");
		goto out;
	}
	load_params(&e);
	print_table(&e, order, stdout);
	int64_t total = 0;
	if (limit && e.n == limit && store_count_runs(st, pipeline, &total, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	if (total > (int64_t)e.n)
		fprintf(stderr, "(the newest %zu of %lld runs; --limit 0 lists all)\n", e.n,
			(long long)total);
out:
	free(order);
	exp_release(&e);
	store_close(st);
	return code;
}
