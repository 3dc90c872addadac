/*
 * Unit tests: the SQLite state store (orchestrator/store.c).  Every test works in its
 * own mkdtemp directory; liveness and concurrency are tested with real processes
 * (fork), and the database is checked behind the store's back with plain sqlite3.
 */
#include "sluice/store.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------- */

/* A fresh temporary directory; free with done_tmp. */
static char *make_tmp(void)
{
	char t[PATH_MAX];
	return strdup(tu_mkdtemp(t, sizeof(t), "sluice-store"));
}

static void done_tmp(char *t)
{
	fs_rm_rf(t);
	free(t);
}

static char *join(const char *a, const char *b)
{
	char *s = NULL;
	ck_assert_int_ge(asprintf(&s, "%s/%s", a, b), 0);
	return s;
}

static int64_t begin_ok(store *st, const char *name, const char *workspace, int forbid)
{
	run_new r = {.pipeline = name,
		     .path = "pipeline.yaml",
		     .workspace = workspace,
		     .snapshot = "name: x\n",
		     .params_json = "{}",
		     .trigger = "manual"};
	int64_t id = 0;
	sl_error *err = NULL;
	int rc = store_begin_run(st, &r, forbid, &id, &err);
	ck_assert_msg(rc == 0, "begin run: %s", err ? err->msg : "?");
	ck_assert_int_gt(id, 0);
	return id;
}

/* Plain sqlite3 behind the store's back. */
static sqlite3 *raw_open(const char *dir)
{
	char *path = join(dir, "state.db");
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	free(path);
	return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The first column of the first row as a malloc'd string ("" for NULL). */
static char *raw_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
		      sqlite3_errmsg(db));
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	const unsigned char *t = sqlite3_column_text(s, 0);
	char *v = strdup(t ? (const char *)t : "");
	sqlite3_finalize(s);
	return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
}

static step_record step_rec(const char *name, int position)
{
	step_record s = {0};
	s.name = (char *)name;
	s.step = (char *)name;
	s.position = position;
	s.status = "pending";
	s.exit_code = -1;
	s.command = "echo hi";
	return s;
}

static void put_step_ok(store *st, int64_t run, const char *name, int position)
{
	step_record s = step_rec(name, position);
	sl_error *err = NULL;
	int rc = store_put_step(st, run, &s, &err);
	ck_assert_msg(rc == 0, "put step: %s", err ? err->msg : "?");
}

static void read_all(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
}

static int child_status(pid_t pid)
{
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- opening, migrations, locating -------------------------------------------------------- */

START_TEST(open_creates_layout_and_migrates_once)
{
	char *tmp = make_tmp();
	char *dir = join(tmp, "a/b/.sluice");
	umask(022);
	store *st = tu_store_open(dir);
	ck_assert_str_eq(store_dir(st), dir);
	store_close(st);

	const char *subs[] = {"", "cache", "runs"};
	for (size_t i = 0; i < 3; i++) {
		char *p = join(dir, subs[i]);
		struct stat sb;
		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert(S_ISDIR(sb.st_mode));
		/* what steps printed and ran is in there: no one else's to read */
		ck_assert_int_eq(sb.st_mode & 0777, 0700);
		free(p);
	}

	/* Opening again applies nothing twice. */
	st = tu_store_open(dir);
	store_close(st);
	sqlite3 *db = raw_open(dir);
	ck_assert_int_eq(raw_int(db, "SELECT max(version) FROM schema_version"), 4);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM schema_version"), 4);
	char *mode = raw_text(db, "PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
				     " AND name IN ('runs', 'steps', 'attempts', 'metrics',"
				     " 'step_outputs', 'output_files', 'file_hashes')"),
			 7);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
				     " AND name = 'runs_pipeline'"),
			 1);

	/* A database from a newer sluice is refused, clearly. */
	raw_exec(db, "INSERT INTO schema_version VALUES (99, 0)");
	sqlite3_close(db);
	sl_error *err = NULL;
	st = (store *)1;
	ck_assert_int_eq(store_open(dir, &st, &err), -1);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err->msg, "schema version 99"));
	ck_assert_ptr_nonnull(strstr(err->msg, "newer sluice"));
	sl_error_release(&err);

	/* A state directory that is a file. */
	char *file = join(tmp, "plain");
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(store_open(file, &st, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err->msg, "not a directory"));
	sl_error_release(&err);

	free(file);
	free(dir);
	done_tmp(tmp);
}
END_TEST

START_TEST(locate_state_dir)
{
	char *tmp = make_tmp();
	char *real = realpath(tmp, NULL);
	char *deep = join(real, "ws/x/y");
	const char *mk[] = {"ws", "ws/.sluice", "ws/x", "ws/x/y"};
	for (size_t i = 0; i < 4; i++) {
		char *p = join(real, mk[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
		free(p);
	}

	unsetenv("SLUICE_STATE");
	char *got = store_locate(deep, NULL);
	char *want = join(real, "ws/.sluice");
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* No .sluice above: start/.sluice (unless the machine has one above /tmp). */
	char *other = join(real, "other");
	ck_assert_int_eq(mkdir(other, 0755), 0);
	got = store_locate(other, NULL);
	want = join(other, ".sluice");
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	setenv("SLUICE_STATE", "/env/state", 1);
	got = store_locate(deep, NULL);
	ck_assert_str_eq(got, "/env/state");
	free(got);
	got = store_locate(deep, "/flag/state");
	ck_assert_str_eq(got, "/flag/state");
	free(got);
	unsetenv("SLUICE_STATE");

	free(other);
	free(deep);
	free(real);
	done_tmp(tmp);
}
END_TEST

/* ---- runs ------------------------------------------------------------------------------- */

START_TEST(begin_get_finish_run)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t id = begin_ok(st, "churn", "/ws", 1);

	run_info r;
	ck_assert_int_eq(store_get_run(st, id, &r, &err), 0);
	ck_assert_int_eq(r.id, id);
	ck_assert_str_eq(r.pipeline, "churn");
	ck_assert_str_eq(r.path, "pipeline.yaml");
	ck_assert_str_eq(r.workspace, "/ws");
	ck_assert_str_eq(r.snapshot, "name: x\n");
	ck_assert_str_eq(r.params_json, "{}");
	ck_assert_str_eq(r.trigger, "manual");
	ck_assert_int_eq(r.parent_id, 0);
	ck_assert_str_eq(r.status, "running");
	ck_assert_int_eq(r.exit_code, -1);
	ck_assert(r.created > 1.6e9);
	ck_assert(r.started >= r.created);
	ck_assert(r.finished == 0);
	char host[256];
	gethostname(host, sizeof(host));
	ck_assert_str_eq(r.host, host);
	ck_assert_int_eq(r.pid, getpid());
	ck_assert_int_eq(r.pid_start, proc_start_time(getpid()));
	ck_assert_int_eq(store_run_alive(&r), 1);
	run_info_release(&r);
	ck_assert_ptr_null(r.pipeline);

	ck_assert_int_eq(store_finish_run(st, id, "failed", 1, &err), 0);
	ck_assert_int_eq(store_get_run(st, id, &r, &err), 0);
	ck_assert_str_eq(r.status, "failed");
	ck_assert_int_eq(r.exit_code, 1);
	ck_assert(r.finished >= r.started);
	run_info_release(&r);

	/* A rerun points at its parent; a parent that does not exist is refused. */
	run_new child = {.pipeline = "churn", .trigger = "rerun", .parent_id = id};
	int64_t id2 = 0;
	ck_assert_int_eq(store_begin_run(st, &child, 0, &id2, &err), 0);
	ck_assert_int_gt(id2, id);
	ck_assert_int_eq(store_get_run(st, id2, &r, &err), 0);
	ck_assert_int_eq(r.parent_id, id);
	ck_assert_str_eq(r.trigger, "rerun");
	ck_assert_ptr_null(r.workspace);
	run_info_release(&r);
	child.parent_id = 9999;
	ck_assert_int_eq(store_begin_run(st, &child, 0, &id2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "store: begin run: FOREIGN KEY constraint failed"));
	sl_error_release(&err);
	child.parent_id = 0;
	child.trigger = "whenever";
	ck_assert_int_eq(store_begin_run(st, &child, 0, &id2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "store: begin run: CHECK constraint failed"));
	sl_error_release(&err);

	/* Missing runs are usage errors; a non-final status is refused. */
	ck_assert_int_eq(store_get_run(st, 4242, &r, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_ptr_nonnull(strstr(err->msg, "no run 4242"));
	sl_error_release(&err);
	ck_assert_int_eq(store_finish_run(st, 4242, "succeeded", 0, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	sl_error_release(&err);
	ck_assert_int_eq(store_finish_run(st, id, "interrupted", 0, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "not one of"));
	sl_error_release(&err);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

START_TEST(list_runs_newest_first)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	const char *names[] = {"a", "b", "a", "b", "a"};
	int64_t ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = begin_ok(st, names[i], "/ws", 0);

	run_info *runs = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_list_runs(st, NULL, 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(runs[i].id, ids[4 - i]);
	ck_assert_ptr_null(runs[0].snapshot); /* listings leave it out */
	ck_assert_str_eq(runs[0].params_json, "{}");
	run_info_free_array(runs, n);

	ck_assert_int_eq(store_list_runs(st, "a", 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(runs[0].id, ids[4]);
	ck_assert_int_eq(runs[1].id, ids[2]);
	ck_assert_int_eq(runs[2].id, ids[0]);
	run_info_free_array(runs, n);

	ck_assert_int_eq(store_list_runs(st, "b", 1, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(runs[0].id, ids[3]);
	run_info_free_array(runs, n);

	ck_assert_int_eq(store_list_runs(st, NULL, 2, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(runs[1].id, ids[3]);
	run_info_free_array(runs, n);

	ck_assert_int_eq(store_list_runs(st, "nope", 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(runs);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

/* ---- liveness and concurrency ------------------------------------------------------------- */

START_TEST(proc_start_time_and_alive)
{
	int64_t me = proc_start_time(getpid());
	ck_assert_int_gt(me, 0);
	ck_assert_int_eq(proc_start_time(getpid()), me);
	ck_assert_int_eq(proc_start_time(0), -1);
	ck_assert_int_eq(proc_start_time(-5), -1);
	ck_assert_int_eq(proc_start_time(INT_MAX), -1);

	/* A name with spaces and ')' does not shift the fields. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	int hold[2];
	ck_assert_int_eq(pipe(hold), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		close(hold[1]);
		int64_t v[2];
		v[0] = proc_start_time(getpid());
		prctl(PR_SET_NAME, "a) 1 2 ) (x", 0, 0, 0);
		v[1] = proc_start_time(getpid());
		if (write(fds[1], v, sizeof(v)) != sizeof(v))
			_exit(1);
		char c;
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[1]);
	close(hold[0]);
	int64_t v[2];
	read_all(fds[0], v, sizeof(v));
	ck_assert_int_gt(v[0], 0);
	ck_assert_int_eq(v[1], v[0]);
	ck_assert_int_eq(proc_start_time(pid), v[0]);
	ck_assert_int_ge(v[0], me);
	close(hold[1]);
	ck_assert_int_eq(child_status(pid), 0);
	close(fds[0]);

	/* A zombie runs nothing: gone. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	int gone = 0;
	for (int i = 0; i < 400 && !gone; i++) {
		gone = proc_start_time(pid) == -1;
		if (!gone)
			usleep(5000);
	}
	ck_assert_int_eq(gone, 1);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	ck_assert_int_eq(access(path, F_OK), 0); /* still there, unreaped */
	ck_assert_int_eq(child_status(pid), 0);

	char host[256];
	gethostname(host, sizeof(host));
	run_info r = {0};
	ck_assert_int_eq(store_run_alive(NULL), 0);
	ck_assert_int_eq(store_run_alive(&r), 0);
	r.host = host;
	r.pid = getpid();
	r.pid_start = me;
	ck_assert_int_eq(store_run_alive(&r), 1);
	r.pid_start = me + 1; /* the pid was reused */
	ck_assert_int_eq(store_run_alive(&r), 0);
	r.pid_start = me;
	r.host = "some-other-host";
	ck_assert_int_eq(store_run_alive(&r), 0);
}
END_TEST

START_TEST(live_run_refuses_concurrent_start)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t first = begin_ok(st, "churn", "/ws", 1);

	int64_t id = 0;
	run_new r = {.pipeline = "churn", .workspace = "/ws", .trigger = "manual"};
	ck_assert_int_eq(store_begin_run(st, &r, 1, &id, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	char *want = NULL;
	ck_assert_int_ge(asprintf(&want,
				  "run %lld of churn is still running (pid %d); wait for it or "
				  "see 'sluice status %lld'",
				  (long long)first, (int)getpid(), (long long)first),
			 0);
	ck_assert_str_eq(err->msg, want);
	free(want);
	sl_error_release(&err);

	/* Another workspace, another pipeline, or concurrency allowed: no refusal. */
	begin_ok(st, "churn", "/elsewhere", 1);
	begin_ok(st, "other", "/ws", 1);
	int64_t parallel = begin_ok(st, "churn", "/ws", 0);

	/* Once the live ones are finished, a new start goes through. */
	ck_assert_int_eq(store_finish_run(st, first, "succeeded", 0, &err), 0);
	ck_assert_int_eq(store_begin_run(st, &r, 1, &id, &err), -1);
	sl_error_release(&err);
	ck_assert_int_eq(store_finish_run(st, parallel, "cancelled", 130, &err), 0);
	ck_assert_int_eq(store_begin_run(st, &r, 1, &id, &err), 0);
	ck_assert_int_gt(id, parallel);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

START_TEST(dead_orchestrator_is_interrupted)
{
	char *tmp = make_tmp();
	sl_error *err = NULL;

	/* A real orchestrator in another process starts a run and dies without finishing.
	 * Fork before this process opens the database: SQLite's per-process lock
	 * bookkeeping must not be inherited by a process that opens the same file. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		store *cst = NULL;
		run_new r = {.pipeline = "churn", .workspace = "/ws", .trigger = "schedule"};
		int64_t id = 0;
		if (store_open(tmp, &cst, NULL) < 0 || store_begin_run(cst, &r, 1, &id, NULL) < 0)
			_exit(1);
		if (write(fds[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		_exit(0); /* like kill -9: no finish, no close */
	}
	close(fds[1]);
	int64_t dead = 0;
	read_all(fds[0], &dead, sizeof(dead));
	close(fds[0]);
	ck_assert_int_eq(child_status(pid), 0);
	store *st = tu_store_open(tmp);

	run_info r;
	ck_assert_int_eq(store_get_run(st, dead, &r, &err), 0);
	ck_assert_str_eq(r.status, "interrupted");
	ck_assert_int_eq(r.pid, pid);
	ck_assert_int_eq(store_run_alive(&r), 0);
	run_info_release(&r);
	sqlite3 *db = raw_open(tmp);
	char sql[64];
	snprintf(sql, sizeof(sql), "SELECT status FROM runs WHERE id = %lld", (long long)dead);
	char *raw = raw_text(db, sql);
	ck_assert_str_eq(raw, "running"); /* derived, not stored */
	free(raw);

	run_info *runs = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_list_runs(st, "churn", 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(runs[0].status, "interrupted");
	run_info_free_array(runs, n);

	/* A dead orchestrator does not block a new run ... */
	int64_t next = begin_ok(st, "churn", "/ws", 1);
	ck_assert_int_gt(next, dead);
	ck_assert_int_eq(store_finish_run(st, next, "succeeded", 0, &err), 0);

	/* ... and resume takes the run over. */
	ck_assert_int_eq(store_adopt_run(st, dead, 0, &err), 0);
	ck_assert_int_eq(store_get_run(st, dead, &r, &err), 0);
	ck_assert_str_eq(r.status, "running");
	ck_assert_int_eq(r.pid, getpid());
	ck_assert_int_eq(store_run_alive(&r), 1);
	run_info_release(&r);
	ck_assert_int_eq(store_adopt_run(st, dead, 0, &err), 0); /* again, by itself: fine */
	ck_assert_int_eq(store_adopt_run(st, 777, 0, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	sl_error_release(&err);

	sqlite3_close(db);
	store_close(st);
	done_tmp(tmp);
}
END_TEST

START_TEST(live_orchestrator_in_other_process)
{
	char *tmp = make_tmp();
	sl_error *err = NULL;
	int fds[2], hold[2];
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(pipe(hold), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		close(hold[1]);
		store *cst = NULL;
		run_new r = {.pipeline = "churn", .workspace = "/ws", .trigger = "ci"};
		int64_t id = 0;
		if (store_open(tmp, &cst, NULL) < 0 || store_begin_run(cst, &r, 1, &id, NULL) < 0)
			_exit(1);
		if (write(fds[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		char c;
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[1]);
	close(hold[0]);
	int64_t live = 0;
	read_all(fds[0], &live, sizeof(live));
	close(fds[0]);
	store *st = tu_store_open(tmp); /* only now: see dead_orchestrator_is_interrupted */

	run_info r;
	ck_assert_int_eq(store_get_run(st, live, &r, &err), 0);
	ck_assert_str_eq(r.status, "running");
	run_info_release(&r);
	run_new rn = {.pipeline = "churn", .workspace = "/ws", .trigger = "manual"};
	int64_t id = 0;
	ck_assert_int_eq(store_begin_run(st, &rn, 1, &id, &err), -1);
	char pidstr[32];
	snprintf(pidstr, sizeof(pidstr), "(pid %d)", (int)pid);
	ck_assert_ptr_nonnull(strstr(err->msg, pidstr));
	sl_error_release(&err);
	ck_assert_int_eq(store_adopt_run(st, live, 0, &err), -1);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_ptr_nonnull(strstr(err->msg, "still running"));
	sl_error_release(&err);

	close(hold[1]); /* the other orchestrator goes away */
	ck_assert_int_eq(child_status(pid), 0);
	ck_assert_int_eq(store_begin_run(st, &rn, 1, &id, &err), 0);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

/* Several processes start the same pipeline at the same moment: exactly one wins. */
START_TEST(concurrent_starts_one_winner)
{
	enum { N = 4 };
	char *tmp = make_tmp();
	store_close(tu_store_open(tmp)); /* the schema exists before the race */
	int go[2], res[2], hold[2];
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(res), 0);
	ck_assert_int_eq(pipe(hold), 0);
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			close(res[0]);
			close(hold[1]);
			store *cst = NULL;
			if (store_open(tmp, &cst, NULL) < 0)
				_exit(1);
			char c;
			while (read(go[0], &c, 1) > 0)
				;
			run_new r = {.pipeline = "churn", .workspace = "/ws", .trigger = "manual"};
			int64_t id = 0;
			sl_error *e = NULL;
			int rc = store_begin_run(cst, &r, 1, &id, &e);
			c = rc == 0 ? 'W' : e && e->kind == SL_ERR_USAGE ? 'L' : 'E';
			if (write(res[1], &c, 1) != 1)
				_exit(1);
			while (read(hold[0], &c, 1) > 0) /* stay alive until all answered */
				;
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	close(hold[0]);
	close(go[1]);
	int won = 0, lost = 0;
	for (int i = 0; i < N; i++) {
		char c;
		read_all(res[0], &c, 1);
		won += c == 'W';
		lost += c == 'L';
	}
	ck_assert_int_eq(won, 1);
	ck_assert_int_eq(lost, N - 1);
	close(hold[1]);
	close(res[0]);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(child_status(pids[i]), 0);
	done_tmp(tmp);
}
END_TEST

/* ---- steps and attempts ------------------------------------------------------------------ */

START_TEST(steps_in_position_order)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t run = begin_ok(st, "churn", "/ws", 0);

	step_record in[3] = {step_rec("train[lr=0.1]", 2), step_rec("validate", 0),
			     step_rec("prepare", 1)};
	in[0].step = "train";
	ck_assert_int_eq(store_put_steps(st, run, in, 3, &err), 0);
	step_record *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_steps(st, run, &out, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[0].name, "validate");
	ck_assert_str_eq(out[1].name, "prepare");
	ck_assert_str_eq(out[2].name, "train[lr=0.1]");
	ck_assert_str_eq(out[2].step, "train");
	ck_assert_int_eq(out[2].position, 2);
	ck_assert_str_eq(out[2].status, "pending");
	ck_assert_ptr_null(out[2].reason);
	ck_assert_int_eq(out[2].exit_code, -1);
	ck_assert(out[2].started == 0 && out[2].finished == 0);
	ck_assert_int_eq(out[2].cached_from, 0);
	ck_assert_ptr_null(out[2].cache_key);
	ck_assert_str_eq(out[2].command, "echo hi");
	step_record_free_array(out, n);

	/* Updating one step keeps the others. */
	step_record up = step_rec("prepare", 1);
	up.status = "failed";
	up.reason = "exit 3";
	up.attempts = 2;
	up.exit_code = 3;
	up.started = 1700000000.25;
	up.finished = 1700000001.5;
	up.cache_key = "abc";
	up.env_hash = "def";
	ck_assert_int_eq(store_put_step(st, run, &up, &err), 0);
	ck_assert_int_eq(store_get_steps(st, run, &out, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[1].status, "failed");
	ck_assert_str_eq(out[1].reason, "exit 3");
	ck_assert_int_eq(out[1].attempts, 2);
	ck_assert_int_eq(out[1].exit_code, 3);
	ck_assert(out[1].started == 1700000000.25);
	ck_assert(out[1].finished == 1700000001.5);
	ck_assert_str_eq(out[1].cache_key, "abc");
	ck_assert_str_eq(out[1].env_hash, "def");
	step_record_free_array(out, n);

	/* A batch with one bad record writes nothing. */
	int64_t run2 = begin_ok(st, "churn", "/ws", 0);
	step_record bad[2] = {step_rec("ok", 0), step_rec("bad", 1)};
	bad[1].status = "exploded";
	ck_assert_int_eq(store_put_steps(st, run2, bad, 2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "store: put step bad of run"));
	ck_assert_ptr_nonnull(strstr(err->msg, "CHECK constraint failed"));
	sl_error_release(&err);
	ck_assert_int_eq(store_get_steps(st, run2, &out, &n, &err), 0);
	ck_assert_uint_eq(n, 0);

	/* A step of a run that does not exist. */
	ck_assert_int_eq(store_put_step(st, 999, &up, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "FOREIGN KEY constraint failed"));
	sl_error_release(&err);

	/* A cache hit points at the run it came from. */
	step_record hit = step_rec("validate", 0);
	hit.status = "cached";
	hit.cached_from = run;
	ck_assert_int_eq(store_put_step(st, run2, &hit, &err), 0);
	ck_assert_int_eq(store_get_steps(st, run2, &out, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(out[0].cached_from, run);
	step_record_free_array(out, n);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

START_TEST(attempts_and_foreign_keys)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t run = begin_ok(st, "churn", "/ws", 0);
	put_step_ok(st, run, "train", 0);

	attempt_record a1 = {.attempt = 1,
			     .status = "running",
			     .exit_code = -1,
			     .started = 1700000000,
			     .log_path = "runs/1/train/1/log",
			     .pid = 4321};
	ck_assert_int_eq(store_put_attempt(st, run, "train", &a1, &err), 0);
	a1.status = "failed";
	a1.reason = "killed by SIGKILL";
	a1.signal = 9;
	a1.finished = 1700000010;
	a1.max_rss_kb = 2048;
	ck_assert_int_eq(store_put_attempt(st, run, "train", &a1, &err), 0); /* an update */
	attempt_record a2 = {.attempt = 2,
			     .status = "succeeded",
			     .exit_code = 0,
			     .started = 1700000011,
			     .finished = 1700000012,
			     .log_path = "runs/1/train/2/log"};
	ck_assert_int_eq(store_put_attempt(st, run, "train", &a2, &err), 0);

	/* Rewriting the step (an upsert) must not cascade away its attempts. */
	put_step_ok(st, run, "train", 0);

	attempt_record *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_attempts(st, run, "train", &out, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(out[0].attempt, 1);
	ck_assert_str_eq(out[0].status, "failed");
	ck_assert_str_eq(out[0].reason, "killed by SIGKILL");
	ck_assert_int_eq(out[0].exit_code, -1);
	ck_assert_int_eq(out[0].signal, 9);
	ck_assert_int_eq(out[0].pid, 4321);
	ck_assert_int_eq(out[0].max_rss_kb, 2048);
	ck_assert(out[0].finished == 1700000010);
	ck_assert_int_eq(out[1].attempt, 2);
	ck_assert_int_eq(out[1].exit_code, 0);
	ck_assert_int_eq(out[1].signal, 0);
	ck_assert_ptr_null(out[1].reason);
	ck_assert_str_eq(out[1].log_path, "runs/1/train/2/log");
	attempt_record_free_array(out, n);

	/* Foreign keys are enforced: no attempt, metric or file for an unknown step. */
	ck_assert_int_eq(store_put_attempt(st, run, "nosuch", &a2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "store: put attempt 2 of step nosuch"));
	ck_assert_ptr_nonnull(strstr(err->msg, "FOREIGN KEY constraint failed"));
	sl_error_release(&err);
	const char *k[] = {"acc"};
	double v[] = {1};
	ck_assert_int_eq(store_set_metrics(st, run, "nosuch", k, v, 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "FOREIGN KEY"));
	sl_error_release(&err);
	file_record f = {.path = "out.csv", .size = 1};
	ck_assert_int_eq(store_set_files(st, run, "nosuch", &f, 1, &err), -1);
	sl_error_release(&err);
	attempt_record a0 = {.attempt = 0, .status = "running"};
	ck_assert_int_eq(store_put_attempt(st, run, "train", &a0, &err), -1);
	sl_error_release(&err);

	/* Deleting a run (a future gc) cascades to everything below it. */
	ck_assert_int_eq(store_set_metrics(st, run, "train", k, v, 1, &err), 0);
	run_new rn = {.pipeline = "churn", .trigger = "rerun", .parent_id = run};
	int64_t child = 0;
	ck_assert_int_eq(store_begin_run(st, &rn, 0, &child, &err), 0);
	sqlite3 *db = raw_open(tmp);
	raw_exec(db, "PRAGMA foreign_keys = ON");
	char sql[128];
	snprintf(sql, sizeof(sql), "DELETE FROM runs WHERE id = %lld", (long long)run);
	raw_exec(db, sql);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM steps"), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM attempts"), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM metrics"), 0);
	snprintf(sql, sizeof(sql), "SELECT parent_id IS NULL FROM runs WHERE id = %lld",
		 (long long)child);
	ck_assert_int_eq(raw_int(db, sql), 1);
	sqlite3_close(db);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

/* ---- metrics, outputs, files ------------------------------------------------------------- */

START_TEST(metrics_and_outputs_replace)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t run = begin_ok(st, "churn", "/ws", 0);
	put_step_ok(st, run, "z_first", 0);
	put_step_ok(st, run, "a_second", 1);

	const char *k1[] = {"loss", "acc", "n", "acc"};
	double v1[] = {1e-7, 0.5, 3, 0.25}; /* the last "acc" wins */
	ck_assert_int_eq(store_set_metrics(st, run, "a_second", k1, v1, 4, &err), 0);
	const char *k2[] = {"rows", "nan", "big", "neg", "tenth"};
	double v2[] = {1000, NAN, 1e16, -2.5, 0.1};
	ck_assert_int_eq(store_set_metrics(st, run, "z_first", k2, v2, 5, &err), 0);

	kv_record *m = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_metrics(st, run, NULL, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 8);
	/* by step position (z_first is first), then key; numbers as short as they read back */
	const char *want[][3] = {
		{"z_first", "big", "1e+16"},   {"z_first", "nan", "NaN"},
		{"z_first", "neg", "-2.5"},    {"z_first", "rows", "1000"},
		{"z_first", "tenth", "0.1"},   {"a_second", "acc", "0.25"},
		{"a_second", "loss", "1e-07"}, {"a_second", "n", "3"},
	};
	for (size_t i = 0; i < 8; i++) {
		ck_assert_str_eq(m[i].step, want[i][0]);
		ck_assert_str_eq(m[i].key, want[i][1]);
		ck_assert_str_eq(m[i].value, want[i][2]);
	}
	ck_assert(isnan(m[1].num));
	ck_assert(m[5].num == 0.25);
	ck_assert(m[6].num == 1e-7);
	kv_record_free_array(m, n);

	/* Replace: the old keys of that step are gone, the other step is untouched. */
	const char *k3[] = {"f1"};
	double v3[] = {0.1};
	ck_assert_int_eq(store_set_metrics(st, run, "a_second", k3, v3, 1, &err), 0);
	ck_assert_int_eq(store_get_metrics(st, run, "a_second", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].key, "f1");
	ck_assert_str_eq(m[0].value, "0.1");
	kv_record_free_array(m, n);
	ck_assert_int_eq(store_get_metrics(st, run, "z_first", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	kv_record_free_array(m, n);

	/* A failed replace leaves the previous metrics (one transaction). */
	const char *kbad[] = {"ok", NULL};
	double vbad[] = {1, 2};
	ck_assert_int_eq(store_set_metrics(st, run, "a_second", kbad, vbad, 2, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "store: set metrics of step a_second"));
	sl_error_release(&err);
	ck_assert_int_eq(store_get_metrics(st, run, "a_second", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(m[0].key, "f1");
	kv_record_free_array(m, n);

	const char *ok[] = {"model", "url"};
	const char *ov[] = {"m-1", "s3://bucket/m-1"};
	ck_assert_int_eq(store_set_outputs(st, run, "z_first", ok, ov, 2, &err), 0);
	const char *ok2[] = {"version"};
	const char *ov2[] = {"7"};
	ck_assert_int_eq(store_set_outputs(st, run, "a_second", ok2, ov2, 1, &err), 0);
	ck_assert_int_eq(store_get_outputs(st, run, NULL, &m, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(m[0].key, "model");
	ck_assert_str_eq(m[1].value, "s3://bucket/m-1");
	ck_assert_str_eq(m[2].step, "a_second");
	ck_assert_str_eq(m[2].value, "7");
	kv_record_free_array(m, n);
	ck_assert_int_eq(store_set_outputs(st, run, "z_first", NULL, NULL, 0, &err), 0);
	ck_assert_int_eq(store_get_outputs(st, run, "z_first", &m, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(m);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

START_TEST(output_files)
{
	char *tmp = make_tmp();
	store *st = tu_store_open(tmp);
	sl_error *err = NULL;
	int64_t run = begin_ok(st, "churn", "/ws", 0);
	put_step_ok(st, run, "train", 1);
	put_step_ok(st, run, "prep", 0);

	file_record f[2] = {{.path = "model.bin", .sha256 = "ab12", .size = 1234},
			    {.path = "data/a.csv", .sha256 = NULL, .size = 0}};
	ck_assert_int_eq(store_set_files(st, run, "train", f, 2, &err), 0);
	file_record g = {.path = "clean.csv", .sha256 = "cd34", .size = 9};
	ck_assert_int_eq(store_set_files(st, run, "prep", &g, 1, &err), 0);

	file_record *out = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_files(st, run, NULL, &out, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[0].step, "prep");
	ck_assert_str_eq(out[1].path, "data/a.csv");
	ck_assert_ptr_null(out[1].sha256);
	ck_assert_str_eq(out[2].path, "model.bin");
	ck_assert_str_eq(out[2].sha256, "ab12");
	ck_assert_int_eq(out[2].size, 1234);
	file_record_free_array(out, n);

	ck_assert_int_eq(store_set_files(st, run, "train", &g, 1, &err), 0);
	ck_assert_int_eq(store_get_files(st, run, "train", &out, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(out[0].path, "clean.csv");
	file_record_free_array(out, n);

	store_close(st);
	done_tmp(tmp);
}
END_TEST

/* ---- processes sharing one store --------------------------------------------------------- */

static int write_many(store *st, const char *name, int n)
{
	for (int i = 0; i < n; i++) {
		run_new r = {.pipeline = name, .workspace = "/ws", .trigger = "manual"};
		int64_t id = 0;
		sl_error *err = NULL;
		step_record s = step_rec("step", 0);
		if (store_begin_run(st, &r, 0, &id, &err) < 0 ||
		    store_put_step(st, id, &s, &err) < 0 ||
		    store_finish_run(st, id, "succeeded", 0, &err) < 0) {
			fprintf(stderr, "%s: %s\n", name, err ? err->msg : "?");
			sl_error_release(&err);
			return -1;
		}
	}
	return 0;
}

START_TEST(two_processes_write_concurrently)
{
	enum { N = 300 };
	char *tmp = make_tmp();
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(go[1]);
		store *cst = NULL;
		if (store_open(tmp, &cst, NULL) < 0)
			_exit(1);
		char c;
		while (read(go[0], &c, 1) > 0)
			;
		int rc = write_many(cst, "child", N);
		store_close(cst);
		_exit(rc < 0 ? 1 : 0);
	}
	close(go[0]);
	store *st = tu_store_open(tmp); /* after the fork; both may create the schema */
	close(go[1]);                   /* start together */
	int rc = write_many(st, "parent", N);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(child_status(pid), 0);

	run_info *runs = NULL;
	size_t n = 0;
	sl_error *err = NULL;
	ck_assert_int_eq(store_list_runs(st, "child", 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, N);
	run_info_free_array(runs, n);
	ck_assert_int_eq(store_list_runs(st, NULL, 0, &runs, &n, &err), 0);
	ck_assert_uint_eq(n, 2 * N);
	run_info_free_array(runs, n);
	store_close(st);

	sqlite3 *db = raw_open(tmp);
	char *check = raw_text(db, "PRAGMA integrity_check");
	ck_assert_str_eq(check, "ok");
	free(check);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM steps"), 2 * N);
	ck_assert_int_eq(raw_int(db, "SELECT count(*) FROM runs WHERE status != 'succeeded'"), 0);
	sqlite3_close(db);
	done_tmp(tmp);
}
END_TEST

START_TEST(release_is_null_safe)
{
	run_info r = {0};
	run_info_release(&r);
	run_info_release(NULL);
	run_info_free_array(NULL, 3);
	step_record s = {0};
	step_record_release(&s);
	step_record_release(NULL);
	step_record_free_array(NULL, 2);
	attempt_record_free_array(NULL, 1);
	kv_record_free_array(NULL, 1);
	file_record_free_array(NULL, 1);
	store_close(NULL);
	ck_assert_ptr_null(store_dir(NULL));
	run_info *zeroed = calloc(2, sizeof(*zeroed));
	run_info_free_array(zeroed, 2);
	step_record *zs = calloc(2, sizeof(*zs));
	step_record_free_array(zs, 2);
	attempt_record *za = calloc(2, sizeof(*za));
	attempt_record_free_array(za, 2);
	kv_record *zk = calloc(2, sizeof(*zk));
	kv_record_free_array(zk, 2);
	file_record *zf = calloc(2, sizeof(*zf));
	file_record_free_array(zf, 2);
	ck_assert_ptr_null(r.status);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_creates_layout_and_migrates_once);
	tcase_add_test(tc, locate_state_dir);
	tcase_add_test(tc, begin_get_finish_run);
	tcase_add_test(tc, list_runs_newest_first);
	tcase_add_test(tc, proc_start_time_and_alive);
	tcase_add_test(tc, live_run_refuses_concurrent_start);
	tcase_add_test(tc, dead_orchestrator_is_interrupted);
	tcase_add_test(tc, live_orchestrator_in_other_process);
	tcase_add_test(tc, concurrent_starts_one_winner);
	tcase_add_test(tc, steps_in_position_order);
	tcase_add_test(tc, attempts_and_foreign_keys);
	tcase_add_test(tc, metrics_and_outputs_replace);
	tcase_add_test(tc, output_files);
	tcase_add_test(tc, two_processes_write_concurrently);
	tcase_add_test(tc, release_is_null_safe);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
