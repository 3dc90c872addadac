/*
 * cmd_run.c — the commands that execute: `sluice run FILE`, `sluice rerun
 * RUN` and `sluice resume RUN` (docs/caching.md and docs/cli.md).  They share
 * one path: record (or take over) a run, execute it, finish it, and report
 * it (progress on stderr; with --json one document on stdout; --junit FILE;
 * a Markdown summary to $GITHUB_STEP_SUMMARY when set).
 *
 * Every run holds the state directory's lock shared (statelock.h) from before
 * it records its run until it exits, so `gc` never deletes what it needs; the
 * no-op fast path writes no cache objects and needs none, so it does not.
 * What can be checked before a run is recorded is (--junit, -j): a bad option
 * never leaves a run behind.  A run that filled the disk uses the store's
 * reserve to record its end, and one that could record nothing is discarded.
 *
 * `run` first asks the no-op index (noop.h) whether anything can have
 * changed since the last complete run of the same file and params; when
 * nothing can, it records a run of cached steps without parsing the YAML.
 *
 * `--sandbox strict` (or $SLUICE_SANDBOX) is checked on the loaded pipeline
 * before anything is recorded (strict.h); a strict `run` skips the no-op
 * path, which does not parse the file, so that a file is refused whether or
 * not its steps happen to be cached.
 */
#include "sluice/cli.h"
#include "sluice/clock.h"
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/fsutil.h"
#include "sluice/noop.h"
#include "sluice/pipeline.h"
#include "sluice/report.h"
#include "sluice/runner.h"
#include "sluice/statelock.h"
#include "sluice/store.h"
#include "sluice/strict.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_jobs(const cli_args *a, int *jobs, sl_error **err)
{
	const char *j = cli_value(a, "jobs");
	*jobs = 0;
	if (!j)
		return 0;
	char *end;
	long v = strtol(j, &end, 10);
	if (*end || v < 1 || v > 4096)
		return sl_error_usage(err,
				      "%s: -j takes a number of parallel steps (1-4096), got '%s'",
				      a->cmd->name, j);
	*jobs = (int)v;
	return 0;
}

/* --junit FILE must be writable before anything runs: a report that cannot be
 * written after an hour's run is found too late. */
static int check_junit(const cli_args *a, sl_error **err)
{
	const char *junit = cli_value(a, "junit");
	if (!junit)
		return 0;
	struct stat sb;
	if (lstat(junit, &sb) == 0) {
		/* it is written without following a symlink (a step may have made one) */
		if (!S_ISREG(sb.st_mode))
			return sl_error_usage(err, "%s: --junit %s: %s, not a regular file",
					      a->cmd->name, junit, fs_kind_name(sb.st_mode));
		if (access(junit, W_OK) < 0)
			return sl_error_usage(err, "%s: --junit %s: cannot write it: %s",
					      a->cmd->name, junit, strerror(errno));
		return 0;
	}
	if (errno != ENOENT)
		return sl_error_usage(err, "%s: --junit %s: %s", a->cmd->name, junit,
				      strerror(errno));
	char *dir = xstrdup(junit);
	char *slash = strrchr(dir, '/');
	const char *d = !slash ? "." : slash == dir ? "/" : (*slash = 0, dir);
	const char *why = NULL;
	if (stat(d, &sb) < 0)
		why = strerror(errno);
	else if (!S_ISDIR(sb.st_mode))
		why = "not a directory";
	else if (access(d, W_OK | X_OK) < 0)
		why = strerror(errno);
	int rc = 0;
	if (why)
		rc = sl_error_usage(err, "%s: --junit %s: cannot create it in %s: %s (nothing ran)",
				    a->cmd->name, junit, d, why);
	free(dir);
	return rc;
}

/* Hold the state directory's lock shared for the rest of the process (*lock),
 * waiting for a gc that holds it. */
static int lock_shared(store *st, statelock **lock, sl_error **err)
{
	int rc = statelock_take(store_dir(st), STATELOCK_SHARED, 0, lock, err);
	if (rc == 1) {
		int64_t pid = 0;
		statelock_holders(store_dir(st), &pid, 1);
		fprintf(stderr, "sluice: waiting for 'sluice gc' (pid %lld) to finish with %s\n",
			(long long)pid, store_dir(st));
		rc = statelock_take(store_dir(st), STATELOCK_SHARED, -1, lock, err);
	}
	return rc;
}

/* Record how a run ended; when the disk is full, free the store's reserve and try
 * once more, so that the run is not left behind as interrupted. */
static int finish_run(store *st, int64_t run_id, const char *status, int code, sl_error **err)
{
	sl_error *e = NULL;
	int rc = store_finish_run(st, run_id, status, code, &e);
	if (rc < 0 && e->errnum == ENOSPC && store_release_reserve(st)) {
		sl_error_release(&e);
		rc = store_finish_run(st, run_id, status, code, &e);
	}
	if (rc < 0 && err)
		*err = e;
	else
		sl_error_release(&e);
	return rc;
}

/* A run whose executor failed before it recorded a step (the disk filled at its
 * start) is removed, with its runs/RUN/ directory: it is no history.  1 when it was. */
static int discard_empty_run(store *st, int64_t run_id)
{
	sl_error *e = NULL;
	int gone = store_discard_run(st, run_id, &e);
	if (gone < 0 && e->errnum == ENOSPC && store_release_reserve(st)) {
		sl_error_release(&e);
		gone = store_discard_run(st, run_id, &e);
	}
	sl_error_release(&e);
	if (gone == 1) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/runs/%lld/pipeline.yaml", store_dir(st),
			 (long long)run_id);
		unlink(path);
		snprintf(path, sizeof(path), "%s/runs/%lld", store_dir(st), (long long)run_id);
		rmdir(path);
	}
	return gone == 1;
}

/* --sandbox, else $SLUICE_SANDBOX. */
static int parse_sandbox_mode(const cli_args *a, enum sandbox_mode *mode, sl_error **err)
{
	return strict_mode_parse(cli_value(a, "sandbox"), getenv("SLUICE_SANDBOX"), mode, err);
}

static int is_ci(const cli_args *a)
{
	return cli_flag(a, "ci") || getenv("CI") != NULL;
}

/* runs/RUN/pipeline.yaml: the file as it was run (docs/state.md). */
static void write_snapshot(store *st, int64_t run_id, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/runs/%lld", store_dir(st), (long long)run_id);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/runs/%lld/pipeline.yaml", store_dir(st),
		 (long long)run_id);
	/* resume keeps the first one; 0600 as everything in the state directory */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f) {
		fputs(text, f);
		fclose(f);
	} else if (fd >= 0) {
		close(fd);
	}
}

/* Record a new run of p, loaded from path, with its params (run and rerun). */
static int begin_run(store *st, const pipeline *p, const char *path, const char *trigger,
		     int64_t parent, int64_t *run_id, sl_error **err)
{
	char *pj = pipeline_params_json(p, 0);
	run_new rn = {p->name, path, p->dir, p->text, pj, trigger, parent};
	int rc = store_begin_run(st, &rn, p->concurrency == CONCURRENCY_FORBID, run_id, err);
	free(pj);
	return rc;
}

/* --json, --junit and the GitHub summary of a finished run; returns code, or the
 * usage code when a report cannot be written. */
static int report(const cli_args *a, store *st, int64_t run_id, int code)
{
	sl_error *err = NULL;
	if (cli_flag(a, "json") && report_print_run_json(st, run_id, stdout, &err) < 0)
		code = cli_fail(&err);
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
	return code;
}

/* Execute a recorded run with runner r, finish it, report it. */
static int execute(const cli_args *a, const pipeline *p, const dag *d, store *st, runner *r,
		   int64_t run_id, exec_options *opt)
{
	sl_error *err = NULL;
	int jobs;
	if (parse_jobs(a, &jobs, &err) < 0) {
		int code = cli_fail(&err);
		finish_run(st, run_id, "failed", code, NULL);
		return code;
	}
	write_snapshot(st, run_id, p->text);
	opt->jobs = jobs;
	opt->fail_fast = cli_flag(a, "fail-fast");
	opt->live = !cli_flag(a, "ci") && isatty(2) && !getenv("CI");
	opt->out = stderr;
	exec_result res = {0};
	int code;
	if (executor_run(p, d, st, r, run_id, opt, &res, &err) < 0) {
		code = err && err->kind == SL_ERR_USAGE ? EXIT_USAGE : EXIT_STEP_FAILED;
		fprintf(stderr, "sluice: %s\n", err->msg);
		int full = err->errnum == ENOSPC;
		sl_error_release(&err);
		if (full && !opt->resume && discard_empty_run(st, run_id))
			fprintf(stderr, "sluice: run %lld recorded nothing and was discarded\n",
				(long long)run_id);
		else
			finish_run(st, run_id, "failed", code, NULL);
		exec_result_release(&res);
		return code;
	}
	code = res.exit_code;
	if (finish_run(st, run_id, res.status, code, &err) < 0)
		code = cli_fail(&err);
	size_t ran = 0, cached = 0, ok = 0;
	for (size_t i = 0; i < res.nsteps; i++) {
		ran += !strcmp(res.steps[i].status, "succeeded");
		cached += !strcmp(res.steps[i].status, "cached");
	}
	ok = ran + cached;
	char allowed[96] = "";
	if (res.nallowed)
		snprintf(allowed, sizeof(allowed), "; %zu failed, allowed by continue_on_error",
			 res.nallowed);
	fprintf(stderr, "sluice: run %lld %s (%zu of %zu steps ok: %zu ran, %zu cached%s)\n",
		(long long)run_id, res.status, ok, res.nsteps, ran, cached, allowed);
	exec_result_release(&res);
	return report(a, st, run_id, code);
}

/* ---- run ------------------------------------------------------------------------------ */

/* The no-op key: the file, -p and --params-file in their order (a later
 * file overrides an earlier one).  The params files' contents are not in it:
 * the index records their stat with the run's other files (reuse.c). */
static void run_noop_key(const cli_args *a, const char *abs, const char *text, size_t len, int ci,
			 char *hex)
{
	size_t np, nf;
	const char *const *ps = cli_values(a, "param", &np);
	const char *const *fs = cli_values(a, "params-file", &nf);
	const char **all = xcalloc(np + nf + 1, sizeof(char *));
	char **made = xcalloc(nf + 1, sizeof(char *));
	for (size_t i = 0; i < np; i++)
		all[i] = ps[i];
	/* no param name holds a space: these never equal a -p */
	for (size_t i = 0; i < nf; i++)
		if (asprintf(&made[i], "params-file %zu %s", i, fs[i]) < 0)
			abort();
		else
			all[np + i] = made[i];
	noop_key(abs, text, len, all, np + nf, ci ? "ci" : "manual", hex);
	for (size_t i = 0; i < nf; i++)
		free(made[i]);
	free(made);
	free(all);
}

/* The no-op fast path: 1 when the run was recorded as all cached (*code set), 0 when
 * the full path must decide, -1 with *code on an error. */
static int run_noop(const cli_args *a, const char *noop_key, int *code)
{
	sl_error *err = NULL;
	char *abs = realpath(a->pos[0], NULL);
	if (!abs)
		return 0;
	char *dir = xstrdup(abs);
	*strrchr(dir, '/') = 0;
	char *state = store_locate(dir, cli_value(a, "state"));
	free(dir);
	free(abs);
	struct stat sb;
	store *st = NULL;
	int64_t from = 0, run_id = 0;
	void *blob = NULL;
	size_t len = 0, nfiles = 0;
	run_info prev = {0};
	int rc = 0;
	/* no state yet: nothing to compare with, and a new store is made by the full path */
	if (stat(state, &sb) < 0 || store_open(state, &st, &err) < 0)
		goto out;
	if (store_noop_get(st, noop_key, &from, &blob, &len, &err) != 1)
		goto out;
	int64_t t0 = clock_mono_ms();
	int same = noop_check(blob, len, &nfiles);
	int64_t ms = clock_mono_ms() - t0;
	if (!same || store_get_run(st, from, &prev, &err) < 0)
		goto out;
	run_new rn = {prev.pipeline,
		      a->pos[0],
		      prev.workspace,
		      NULL,
		      prev.params_json,
		      is_ci(a) ? "ci" : "manual",
		      0};
	if (store_record_noop_run(st, &rn, from, &run_id, &err) < 0) {
		*code = cli_fail(&err);
		rc = -1;
		goto out;
	}
	fprintf(stderr,
		"sluice: run %lld of %s: nothing to do, every step is as in run %lld (%zu files "
		"unchanged, checked in %lld ms)\n",
		(long long)run_id, prev.pipeline, (long long)from, nfiles, (long long)ms);
	*code = report(a, st, run_id, EXIT_OK);
	rc = 1;
out:
	sl_error_release(&err);
	run_info_release(&prev);
	free(blob);
	free(state);
	store_close(st);
	return rc;
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
	int jobs;
	enum sandbox_mode mode;
	if (parse_jobs(a, &jobs, &err) < 0 || check_junit(a, &err) < 0 ||
	    parse_sandbox_mode(a, &mode, &err) < 0)
		return cli_fail(&err);
	const char *only = cli_value(a, "only"), *from = cli_value(a, "from");
	if (only && from) {
		sl_error_usage(&err, "run: --only and --from cannot be combined");
		return cli_fail(&err);
	}
	int ci = is_ci(a);
	/* the no-op index applies to whole runs (a forced one records it, not reads it) */
	char noop_key_hex[65] = "";
	int whole = !only && !from;
	if (whole) {
		/* no error here: the full path below says what is wrong with the file */
		sl_error *ferr = NULL;
		int fd = fs_open_regular(a->pos[0], &ferr);
		sl_error_release(&ferr);
		struct stat sb;
		char *abs = realpath(a->pos[0], NULL);
		if (fd >= 0 && abs && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    sb.st_size < (1 << 30)) {
			char *text = xmalloc((size_t)sb.st_size + 1);
			ssize_t got = read(fd, text, (size_t)sb.st_size);
			if (got == sb.st_size)
				run_noop_key(a, abs, text, (size_t)got, ci, noop_key_hex);
			free(text);
		}
		if (fd >= 0)
			close(fd);
		free(abs);
		int code;
		if (noop_key_hex[0] && !cli_flag(a, "force") && mode == SANDBOX_MODE_DEFAULT &&
		    run_noop(a, noop_key_hex, &code) != 0)
			return code;
	}
	pipeline *p;
	dag *d;
	store *st = NULL;
	statelock *lock = NULL;
	/* the sandbox first, while sluice is small: it probes the machine once and
	 * forks the helper that clones every step's pid 1 (runners/local.c) */
	runner *r = runner_local_new();
	int code = cli_load_dag(a, &p, &d);
	if (code) {
		r->ops->free(r);
		return code;
	}
	if (strict_refuse(p, mode, stderr)) {
		code = EXIT_USAGE;
		goto out;
	}
	const char *want = only ? only : from;
	if (want && dag_find(d, want) < 0 && !pipeline_find_step(p, want)) {
		sl_error_usage(&err, "run: %s %s: no such step in %s", only ? "--only" : "--from",
			       want, a->pos[0]);
		code = cli_fail(&err);
		goto out;
	}
	/* the lock after the helper's fork: no child of sluice may hold it */
	if (cli_open_store(a, p->dir, &st, &err) < 0 || lock_shared(st, &lock, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	const char *trigger = ci ? "ci" : "manual";
	int64_t run_id;
	if (begin_run(st, p, a->pos[0], trigger, 0, &run_id, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	fprintf(stderr, "sluice: run %lld of %s (%zu steps)\n", (long long)run_id, p->name, d->n);
	exec_options opt = {
		.only = only,
		.from = from,
		.trigger = trigger,
		.force = cli_flag(a, "force"),
		.noop_key = whole && noop_key_hex[0] ? noop_key_hex : NULL,
	};
	code = execute(a, p, d, st, r, run_id, &opt);
out:
	r->ops->free(r);
	store_close(st);
	statelock_release(lock);
	dag_free(d);
	pipeline_free(p);
	return code;
}

/* ---- rerun and resume ----------------------------------------------------------------- */

/* The pipeline of a recorded run: its snapshot, or with current the file as it is now
 * (both with the run's params, which take the place of its params files: a
 * params.yaml edited or gone since does not change what is reproduced).  0, or
 * the exit code after printing the errors. */
static int load_recorded(const run_info *run, int current, pipeline **p, dag **d)
{
	pipeline_load_opts o = {.recorded = run->params_json ? run->params_json : "{}"};
	diag_list diags = DIAG_LIST_INIT;
	int rc;
	char *file = NULL;
	if (current) {
		const char *base = strrchr(run->path, '/');
		if (run->path[0] == '/')
			file = xstrdup(run->path);
		else if (asprintf(&file, "%s/%s", run->workspace, base ? base + 1 : run->path) < 0)
			abort();
		rc = pipeline_load_with(file, &o, p, &diags);
	} else {
		const char *text = run->snapshot ? run->snapshot : "";
		rc = pipeline_load_text_with(run->path, run->workspace, text, strlen(text), &o, p,
					     &diags);
	}
	if (rc == 0)
		dag_build(*p, d, &diags);
	int code = 0;
	if (diag_count(&diags)) {
		diag_print(&diags, stderr);
		fprintf(stderr, "%s: %zu error%s; nothing ran\n", file ? file : run->path,
			diag_count(&diags), diag_count(&diags) == 1 ? "" : "s");
		dag_free(*d);
		pipeline_free(*p);
		*p = NULL;
		*d = NULL;
		code = EXIT_USAGE;
	}
	diag_release(&diags);
	free(file);
	return code;
}

/* What rerun and resume start with: the run named by the first argument. */
struct recorded {
	int64_t id;
	store *st;
	run_info run;
	pipeline *p;
	dag *d;
	runner *r;
	statelock *lock;
	enum sandbox_mode mode;
};

static int open_recorded(const cli_args *a, struct recorded *r)
{
	sl_error *err = NULL;
	int jobs;
	memset(r, 0, sizeof(*r));
	/* bad options are usage errors before anything is recorded */
	if (parse_jobs(a, &jobs, &err) < 0 || check_junit(a, &err) < 0 ||
	    parse_sandbox_mode(a, &r->mode, &err) < 0)
		return cli_fail(&err);
	r->r = runner_local_new(); /* while sluice is small, as in cmd_run */
	if (cli_open_runs_writable(a, &r->id, 1, &r->st, &err) < 0 ||
	    lock_shared(r->st, &r->lock, &err) < 0 ||
	    store_get_run(r->st, r->id, &r->run, &err) < 0)
		return cli_fail(&err);
	return 0;
}

static void close_recorded(struct recorded *r)
{
	run_info_release(&r->run);
	store_close(r->st);
	statelock_release(r->lock);
	dag_free(r->d);
	pipeline_free(r->p);
	if (r->r)
		r->r->ops->free(r->r);
}

int cmd_rerun(const cli_args *a)
{
	sl_error *err = NULL;
	struct recorded r;
	int code = open_recorded(a, &r);
	if (code || (code = load_recorded(&r.run, cli_flag(a, "current"), &r.p, &r.d)) != 0)
		goto out;
	if (strict_refuse(r.p, r.mode, stderr)) {
		code = EXIT_USAGE;
		goto out;
	}
	int64_t parent = r.id;
	store *st = r.st;
	pipeline *p = r.p;
	dag *d = r.d;
	const char *step = cli_value(a, "step");
	if (step && dag_find(d, step) < 0 && !pipeline_find_step(p, step)) {
		sl_error_usage(&err,
			       "rerun: --step %s: run %lld has no such step (see 'sluice "
			       "status %lld')",
			       step, (long long)parent, (long long)parent);
		code = cli_fail(&err);
		goto out;
	}
	int64_t run_id;
	if (begin_run(st, p, r.run.path, "rerun", parent, &run_id, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	fprintf(stderr, "sluice: run %lld of %s: rerun of run %lld%s (%zu steps)\n",
		(long long)run_id, p->name, (long long)parent,
		cli_flag(a, "current") ? " with the current file" : "", d->n);
	exec_options opt = {.trigger = "rerun", .parent_run = parent, .force_step = step};
	code = execute(a, p, d, st, r.r, run_id, &opt);
out:
	close_recorded(&r);
	return code;
}

int cmd_resume(const cli_args *a)
{
	sl_error *err = NULL;
	struct recorded r;
	int code = open_recorded(a, &r);
	if (code)
		goto out;
	int64_t id = r.id;
	const run_info run = r.run;
	if (strcmp(run.status, "interrupted") && strcmp(run.status, "cancelled")) {
		if (!strcmp(run.status, "running"))
			sl_error_usage(&err, "resume: run %lld is still running (pid %lld)",
				       (long long)id, (long long)run.pid);
		else
			sl_error_usage(&err,
				       "resume: run %lld %s; only an interrupted or cancelled run "
				       "can be resumed (to run it again: 'sluice rerun %lld')",
				       (long long)id, run.status, (long long)id);
		code = cli_fail(&err);
		goto out;
	}
	if ((code = load_recorded(&run, 0, &r.p, &r.d)) != 0)
		goto out;
	if (strict_refuse(r.p, r.mode, stderr)) {
		code = EXIT_USAGE; /* the run stays interrupted: nothing was taken over */
		goto out;
	}
	store *st = r.st;
	pipeline *p = r.p;
	dag *d = r.d;
	if (store_adopt_run(st, id, p->concurrency == CONCURRENCY_FORBID, &err) < 0) {
		sl_error_wrap(&err, "resume %lld", (long long)id);
		code = cli_fail(&err);
		goto out;
	}
	fprintf(stderr, "sluice: resuming run %lld of %s (%s %.0f s ago)\n", (long long)id, p->name,
		run.status, clock_wall() - (run.finished > 0 ? run.finished : run.started));
	exec_options opt = {.trigger = run.trigger, .resume = 1};
	code = execute(a, p, d, st, r.r, id, &opt);
out:
	close_recorded(&r);
	return code;
}
