/*
 * testutil.h — what the unit tests share: a scratch directory, paths in it,
 * writing and reading small files, opening a store, running a suite, and
 * running a pipeline through the executor with a real store.
 *
 * Static functions in a header, so each tests/unit/test_NAME.c still builds
 * from its one file (the Makefile's rule).  A helper that cannot do its job
 * fails the running test (ck_assert) instead of returning an error; the
 * scratch directory is removed with fsutil.h's fs_rm_rf.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/fsutil.h"
#include "sluice/pipeline.h"
#include "sluice/store.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Make a fresh directory $TMPDIR/NAME.XXXXXX (/tmp without TMPDIR) into buf. */
static inline char *tu_mkdtemp(char *buf, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	ck_assert_msg(n > 0 && (size_t)n < size, "scratch directory name too long");
	ck_assert_ptr_nonnull(mkdtemp(buf));
	return buf;
}

/* DIR/REL in one of eight static buffers: good until the eighth call after. */
static inline char *tu_path(const char *dir, const char *rel)
{
	static char buf[8][PATH_MAX];
	static int k;
	k = (k + 1) % 8;
	int n = snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	ck_assert_msg(n > 0 && (size_t)n < sizeof(buf[k]), "path too long: %s/%s", dir, rel);
	return buf[k];
}

/* Create or truncate path with text. */
static inline void tu_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* The first size - 1 bytes of path in buf, NUL-terminated; NULL when it cannot be opened. */
static inline char *tu_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* store_open that must succeed. */
static inline store *tu_store_open(const char *dir)
{
	store *st = NULL;
	sl_error *err = NULL;
	int rc = store_open(dir, &st, &err);
	ck_assert_msg(rc == 0, "store_open: %s", err ? err->msg : "?");
	ck_assert_ptr_nonnull(st);
	return st;
}

/* Run every test of s (and free it); the exit status for main. */
static inline int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
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
	ck_assert_int_eq(
		store_finish_run(run->st, run->id, run->res.status, run->res.exit_code, &err), 0);
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
