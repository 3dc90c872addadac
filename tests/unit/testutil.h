/*
 * testutil.h — what the unit tests share: scratch directories and files.
 * Static functions, so each test binary takes what it uses.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/fsutil.h"
#include "sluice/pipeline.h"
#include "sluice/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A fresh directory /tmp/PREFIX.XXXXXX in buf. */
static inline void tu_mkdtemp(char *buf, size_t size, const char *prefix)
{
	umask(022);
	snprintf(buf, size, "/tmp/%s.XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline void tu_rm_rf(const char *dir)
{
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}

/* Write text to path (created or truncated). */
static inline void tu_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Write text to DIR/REL. */
static inline void tu_write_at(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	tu_write(path, text);
}

/* DIR/REL's text (at most 64 KiB) in a static buffer; NULL when it cannot be read. */
static inline const char *tu_read(const char *dir, const char *rel)
{
	static char buf[65536];
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* ---- the executor with a real store (test_executor, test_dag) --------------------- */

struct tu_run {
	pipeline *p;
	dag *d;
	store *st;
	int64_t id;
	exec_result res;
	int rc;
	char err[512];
};

/* Load yaml as WS/pipeline.yaml (with -p overrides "k=v", NULL-terminated),
 * record a run in WS/.sluice and execute it with the runner r and opt. */
static inline void tu_execute(struct tu_run *run, const char *ws, const char *yaml,
			  const char *const *params, runner *r, exec_options opt)
{
	memset(run, 0, sizeof(*run));
	char path[512];
	snprintf(path, sizeof(path), "%s/pipeline.yaml", ws);
	tu_write(path, yaml);
	param_override ov[8];
	size_t nov = 0;
	char kv[8][128];
	for (size_t k = 0; params && params[k] && nov < 8; k++) {
		snprintf(kv[nov], sizeof(kv[nov]), "%s", params[k]);
		char *eq = strchr(kv[nov], '=');
		*eq = 0;
		ov[nov] = (param_override){kv[nov], eq + 1};
		nov++;
	}
	diag_list diags = DIAG_LIST_INIT;
	int rc = pipeline_load_text(path, ws, yaml, strlen(yaml), ov, nov, &run->p, &diags);
	if (rc == 0)
		rc = dag_build(run->p, &run->d, &diags);
	if (rc < 0)
		diag_print(&diags, stderr);
	ck_assert_int_eq(rc, 0);
	diag_release(&diags);
	sl_error *err = NULL;
	char state[512];
	snprintf(state, sizeof(state), "%s/.sluice", ws);
	ck_assert_int_eq(store_open(state, &run->st, &err), 0);
	char *pj = pipeline_params_json(run->p, 0);
	run_new rn = {run->p->name, path, ws, run->p->text, pj, "manual", opt.parent_run};
	ck_assert_int_eq(store_begin_run(run->st, &rn, 1, &run->id, &err), 0);
	free(pj);
	if (!opt.trigger)
		opt.trigger = "manual";
	run->rc = executor_run(run->p, run->d, run->st, r, run->id, &opt, &run->res, &err);
	if (err) {
		snprintf(run->err, sizeof(run->err), "%s", err->msg);
		sl_error_release(&err);
	}
	ck_assert_int_eq(store_finish_run(run->st, run->id, run->res.status, run->res.exit_code,
					  &err),
			 0);
}

static inline void tu_run_done(struct tu_run *run)
{
	exec_result_release(&run->res);
	store_close(run->st);
	dag_free(run->d);
	pipeline_free(run->p);
}

static inline const exec_step_result *tu_step(const struct tu_run *run, const char *name)
{
	for (size_t k = 0; k < run->res.nsteps; k++)
		if (!strcmp(run->res.steps[k].name, name))
			return &run->res.steps[k];
	ck_abort_msg("no step %s in the result", name);
	return NULL;
}

#endif
