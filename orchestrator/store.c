/*
 * store.c — the state store (include/sluice/store.h): one SQLite database,
 * DIR/state.db, shared by every sluice process of a workspace.
 *
 * Invariants
 * - Every change is one transaction opened with BEGIN IMMEDIATE: the write
 *   lock is taken before the first read, so a read-then-write (the
 *   concurrency check of store_begin_run, the liveness check of
 *   store_adopt_run, the schema version check of a migration) cannot be
 *   raced by another process, and a writer never has to upgrade a read
 *   transaction (which WAL refuses with SQLITE_BUSY_SNAPSHOT, without
 *   calling the busy handler).  A kill -9 at any moment leaves the database
 *   as it was before or after that one change.
 * - journal_mode=WAL (readers never block the writer, nor the writer them),
 *   synchronous=NORMAL (a power cut may lose the last transactions, never
 *   consistency), foreign_keys=ON (per connection, set at open), and a
 *   10 s busy timeout so concurrent sluice processes wait for each other.
 * - "interrupted" is never stored.  A run whose orchestrator died keeps
 *   status 'running' in the table; store_get_run and store_list_runs derive
 *   "interrupted" from liveness (same host, same pid, same process start
 *   time: a pid alone may have been reused), so it needs no cleanup by
 *   anybody and resume only has to take the run over.
 * - Steps are written with an upsert (ON CONFLICT DO UPDATE), never with
 *   INSERT OR REPLACE: REPLACE deletes the row first, and the ON DELETE
 *   CASCADE would silently drop the step's attempts, metrics and files.
 * - Batches (store_batch_begin): the executor makes all the changes of one turn
 *   of its event loop in one transaction (a step's state, attempt, files,
 *   inputs: about ten rows), committed before it waits again; one transaction
 *   per row cost two thirds of a millisecond per step in locks and WAL writes.
 *   A kill -9 loses at most the turn in progress, whole.  Slow file work
 *   (hashing a file the stat cache does not know, copying into the cache)
 *   flushes first, so the write lock is never held across it.
 * - Statements are prepared once per connection and cached in the handle.
 *   A handle belongs to one process: never use it across fork(), and never
 *   open the database in a forked child while the parent has it open either
 *   (SQLite's lock bookkeeping lives in process memory, and a child that
 *   inherits it believes it holds locks it does not).  Step processes are
 *   exec'd, so only tests have to mind this.
 *
 * The schema (migrations 1 to 4).  Arrows point from child to parent; "<" is
 * ON DELETE CASCADE, "~" ON DELETE SET NULL.
 *
 *   schema_version (version PK, applied)        one row per applied migration
 *
 *   runs (id PK autoincrement) <------~----------------------------+
 *     pipeline, path, workspace, snapshot, params_json, trigger,    |
 *     parent_id ~> runs, status, exit_code, created, started,       |
 *     finished, host, pid, pid_start                                |
 *       ^                                                           |
 *       < run_id                                                    |
 *   steps (run_id, name) ------------------------ cached_from ~> ---+
 *     step, position, status, reason, attempts, exit_code, started,
 *     finished, cache_key, env_hash, command
 *       ^
 *       < (run_id, step)
 *       +-- attempts     (run_id, step, attempt)  status, reason, exit_code,
 *       |                 signal, started, finished, log_path, pid, max_rss_kb
 *       +-- metrics      (run_id, step, key)      value REAL (NULL = NaN)
 *       +-- step_outputs (run_id, step, key)      value TEXT
 *       +-- output_files (run_id, step, path)     sha256, size
 *       +-- input_files  (run_id, step, path)     sha256, size   (migration 2)
 *
 *   steps also has env_json and why (migration 2); runs has same_as ~> runs
 *   (migration 3: a no-op run reads the rows of the run it repeats);
 *   attempts has isolation (migration 4: how the sandbox kept steps apart).
 *   noop_index (key PK) run_id <- runs, files BLOB   (migration 2)
 *
 *   file_hashes (path PK)  size, mtime_ns, inode, ctime_ns, sha256
 *                          the stat cache for content hashes (docs/caching.md)
 *
 * A schema change is a new entry at the end of migrations[]; an entry is
 * never edited once released.  Each runs in its own transaction together
 * with its schema_version row.  A database whose version is above
 * the number of entries belongs to a newer sluice and is refused.
 *
 * NULL in the database stands for "none" where the records use a sentinel:
 * exit_code -1, times 0, signal 0, cached_from and parent_id 0.
 */
#include "sluice/store.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/clock.h"
#include "sluice/redact.h"
#include "sluice/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000

/* ---- schema ----------------------------------------------------------------------------- */

/* clang-format off */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE runs (\n"
	"  id          INTEGER PRIMARY KEY AUTOINCREMENT,\n" /* ids are never reused: runs/ID/ */
	"  pipeline    TEXT NOT NULL,\n"
	"  path        TEXT,\n"
	"  workspace   TEXT,\n"
	"  snapshot    TEXT,\n"
	"  params_json TEXT,\n"
	"  trigger     TEXT NOT NULL\n"
	"              CHECK (trigger IN ('manual', 'schedule', 'ci', 'rerun', 'resume')),\n"
	"  parent_id   INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  status      TEXT NOT NULL\n"
	"              CHECK (status IN ('running', 'succeeded', 'failed', 'rejected',\n"
	"                                'cancelled')),\n"
	"  exit_code   INTEGER,\n"
	"  created     REAL NOT NULL,\n"
	"  started     REAL,\n"
	"  finished    REAL,\n"
	"  host        TEXT,\n"
	"  pid         INTEGER,\n"
	"  pid_start   INTEGER\n"
	");\n"
	"CREATE INDEX runs_pipeline ON runs(pipeline, id);\n"
	"CREATE INDEX runs_status ON runs(status, pipeline, workspace);\n"
	"CREATE INDEX runs_parent ON runs(parent_id) WHERE parent_id IS NOT NULL;\n"
	"CREATE TABLE steps (\n"
	"  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  name        TEXT NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  position    INTEGER NOT NULL,\n"
	"  status      TEXT NOT NULL\n"
	"              CHECK (status IN ('pending', 'waiting', 'running', 'succeeded', 'failed',\n"
	"                                'upstream_failed', 'skipped', 'cached', 'cancelled',\n"
	"                                'rejected')),\n"
	"  reason      TEXT,\n"
	"  attempts    INTEGER NOT NULL DEFAULT 0,\n"
	"  exit_code   INTEGER,\n"
	"  started     REAL,\n"
	"  finished    REAL,\n"
	"  cache_key   TEXT,\n"
	"  env_hash    TEXT,\n"
	"  cached_from INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
	"  command     TEXT,\n"
	"  PRIMARY KEY (run_id, name)\n"
	");\n"
	"CREATE INDEX steps_cache_key ON steps(cache_key) WHERE cache_key IS NOT NULL;\n"
	"CREATE INDEX steps_cached_from ON steps(cached_from) WHERE cached_from IS NOT NULL;\n"
	"CREATE TABLE attempts (\n"
	"  run_id      INTEGER NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  attempt     INTEGER NOT NULL CHECK (attempt >= 1),\n"
	"  status      TEXT NOT NULL,\n"
	"  reason      TEXT,\n"
	"  exit_code   INTEGER,\n"
	"  signal      INTEGER,\n"
	"  started     REAL,\n"
	"  finished    REAL,\n"
	"  log_path    TEXT,\n"
	"  pid         INTEGER,\n"
	"  max_rss_kb  INTEGER,\n"
	"  PRIMARY KEY (run_id, step, attempt),\n"
	"  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, name) ON DELETE CASCADE\n"
	");\n"
	"CREATE TABLE metrics (\n"
	"  run_id      INTEGER NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  key         TEXT NOT NULL,\n"
	"  value       REAL,\n"
	"  PRIMARY KEY (run_id, step, key),\n"
	"  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, name) ON DELETE CASCADE\n"
	");\n"
	"CREATE TABLE step_outputs (\n"
	"  run_id      INTEGER NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  key         TEXT NOT NULL,\n"
	"  value       TEXT NOT NULL,\n"
	"  PRIMARY KEY (run_id, step, key),\n"
	"  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, name) ON DELETE CASCADE\n"
	");\n"
	"CREATE TABLE output_files (\n"
	"  run_id      INTEGER NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  path        TEXT NOT NULL,\n"
	"  sha256      TEXT,\n"
	"  size        INTEGER NOT NULL,\n"
	"  PRIMARY KEY (run_id, step, path),\n"
	"  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, name) ON DELETE CASCADE\n"
	");\n"
	"CREATE TABLE file_hashes (\n"
	"  path        TEXT PRIMARY KEY,\n"
	"  size        INTEGER NOT NULL,\n"
	"  mtime_ns    INTEGER NOT NULL,\n"
	"  inode       INTEGER NOT NULL,\n"
	"  ctime_ns    INTEGER NOT NULL,\n"
	"  sha256      TEXT NOT NULL\n"
	");\n",
	/* 2: reproducibility: what a step's cache key was made of, why it ran,
	 * the hashes of its inputs, and the no-op index of whole runs */
	"ALTER TABLE steps ADD COLUMN env_json TEXT;\n"
	"ALTER TABLE steps ADD COLUMN why TEXT;\n"
	"CREATE INDEX steps_by_name ON steps(name, run_id);\n"
	"CREATE TABLE input_files (\n"
	"  run_id      INTEGER NOT NULL,\n"
	"  step        TEXT NOT NULL,\n"
	"  path        TEXT NOT NULL,\n"
	"  sha256      TEXT,\n"
	"  size        INTEGER NOT NULL,\n"
	"  PRIMARY KEY (run_id, step, path),\n"
	"  FOREIGN KEY (run_id, step) REFERENCES steps(run_id, name) ON DELETE CASCADE\n"
	");\n"
	"CREATE INDEX output_files_sha ON output_files(sha256);\n"
	"CREATE TABLE noop_index (\n"
	"  key         TEXT PRIMARY KEY,\n"
	"  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
	"  files       BLOB NOT NULL\n"
	");\n",
	/* 3: a no-op run stores no rows of its own: it is the same as run same_as */
	"ALTER TABLE runs ADD COLUMN same_as INTEGER REFERENCES runs(id) ON DELETE SET NULL;\n",
	/* 4: how the sandbox kept the attempt apart from other steps (step_exit.isolation) */
	"ALTER TABLE attempts ADD COLUMN isolation TEXT;\n",
};

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* ---- prepared statements ---------------------------------------------------------------- */

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_RUN_LIVE,
	ST_RUN_INSERT,
	ST_RUN_FINISH,
	ST_RUN_OWNER,
	ST_RUN_ADOPT,
	ST_RUN_GET,
	ST_RUN_LIST_ALL,
	ST_RUN_LIST_PIPELINE,
	ST_RUN_COUNT_ALL,
	ST_RUN_COUNT_PIPELINE,
	ST_RUN_PREV_OK,
	ST_RUN_METRICS_ALL,
	ST_RUN_METRICS_PIPELINE,
	ST_STEP_PUT,
	ST_STEP_GET,
	ST_ATTEMPT_PUT,
	ST_ATTEMPT_GET,
	ST_METRIC_DEL,
	ST_METRIC_INS,
	ST_METRIC_GET,
	ST_OUTPUT_DEL,
	ST_OUTPUT_INS,
	ST_OUTPUT_GET,
	ST_FILE_DEL,
	ST_FILE_INS,
	ST_FILE_GET,
	ST_HASH_GET,
	ST_HASH_PUT,
	ST_INPUT_DEL,
	ST_INPUT_INS,
	ST_INPUT_GET,
	ST_CACHED_FIND,
	ST_STEP_LAST,
	ST_SHA_ALL,
	ST_NOOP_GET,
	ST_NOOP_PUT,
	/* the *_GET statements for one step: with "(?2 IS NULL OR step = ?2)" SQLite
	 * searches by run_id alone, so a step's rows cost a scan of the run's rows */
	ST_METRIC_GET1,
	ST_OUTPUT_GET1,
	ST_FILE_GET1,
	ST_INPUT_GET1,
	ST_RUN_SAME_AS,
	ST_RUN_NOOP,
	ST_STEP_GET_SAME,
	ST_RUN_DISCARD,
	ST__COUNT
};

#define RUN_COLS_FULL                                                                              \
	"id, pipeline, path, workspace, coalesce(snapshot, (SELECT o.snapshot FROM runs o "        \
	"WHERE o.id = runs.same_as)), params_json, trigger, parent_id, status, "                   \
	"exit_code, created, started, finished, host, pid, pid_start, same_as"
#define STEP_COLS                                                                                  \
	"name, step, position, status, reason, attempts, exit_code, started, finished, cache_key, " \
	"env_hash, cached_from, command, env_json, why, run_id"
/* Listings leave the snapshot out: it is the whole pipeline file, megabytes for a large DAG. */
#define RUN_COLS_LIST                                                                              \
	"id, pipeline, path, workspace, NULL, params_json, trigger, parent_id, status, exit_code, " \
	"created, started, finished, host, pid, pid_start, same_as"

/* The experiment table's metrics: a range of run ids (the rowid), then the metrics
 * table's primary key, in its order (no sort); one index search per run however
 * many runs are recorded.  No join with steps: its rows are wide (commands, env),
 * and reading one per metric doubled the time. */
#define RUN_METRICS_SQL(WHERE)                                                                     \
	"SELECT r.id, m.step, m.key, m.value FROM runs r"                                          \
	" JOIN metrics m ON m.run_id = coalesce(r.same_as, r.id)"                                 \
	" WHERE r.id BETWEEN ?1 AND ?2" WHERE " ORDER BY r.id DESC, m.step, m.key"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_SAVEPOINT] = "SAVEPOINT change",
	[ST_RELEASE] = "RELEASE change",
	[ST_RUN_LIVE] = "SELECT id, host, pid, pid_start FROM runs"
			" WHERE status = 'running' AND pipeline = ?1 AND workspace IS ?2 ORDER BY id",
	[ST_RUN_INSERT] = "INSERT INTO runs (pipeline, path, workspace, snapshot, params_json,"
			  " trigger, parent_id, status, created, started, host, pid, pid_start)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?8, ?8, ?9, ?10, ?11)",
	[ST_RUN_FINISH] = "UPDATE runs SET status = ?2, exit_code = ?3, finished = ?4 WHERE id = ?1",
	[ST_RUN_OWNER] = "SELECT pipeline, status, host, pid, pid_start, workspace FROM runs"
			 " WHERE id = ?1",
	[ST_RUN_ADOPT] = "UPDATE runs SET status = 'running', exit_code = NULL, finished = NULL,"
			 " host = ?2, pid = ?3, pid_start = ?4 WHERE id = ?1",
	[ST_RUN_GET] = "SELECT " RUN_COLS_FULL " FROM runs WHERE id = ?1",
	[ST_RUN_LIST_ALL] = "SELECT " RUN_COLS_LIST " FROM runs ORDER BY id DESC LIMIT ?1",
	[ST_RUN_LIST_PIPELINE] = "SELECT " RUN_COLS_LIST " FROM runs WHERE pipeline = ?2"
				 " ORDER BY id DESC LIMIT ?1",
	[ST_RUN_COUNT_ALL] = "SELECT count(*) FROM runs",
	[ST_RUN_COUNT_PIPELINE] = "SELECT count(*) FROM runs WHERE pipeline = ?1",
	[ST_RUN_PREV_OK] = "SELECT id FROM runs WHERE pipeline = ?1 AND id < ?2"
			   " AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
	[ST_RUN_METRICS_ALL] = RUN_METRICS_SQL(""),
	[ST_RUN_METRICS_PIPELINE] = RUN_METRICS_SQL(" AND r.pipeline = ?3"),
	[ST_STEP_PUT] = "INSERT INTO steps (run_id, name, step, position, status, reason, attempts,"
			" exit_code, started, finished, cache_key, env_hash, cached_from, command, env_json,"
			" why)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
			" ON CONFLICT (run_id, name) DO UPDATE SET step = excluded.step,"
			" position = excluded.position, status = excluded.status,"
			" reason = excluded.reason, attempts = excluded.attempts,"
			" exit_code = excluded.exit_code, started = excluded.started,"
			" finished = excluded.finished, cache_key = excluded.cache_key,"
			" env_hash = excluded.env_hash, cached_from = excluded.cached_from,"
			" command = excluded.command, env_json = excluded.env_json, why = excluded.why",
	[ST_STEP_GET] = "SELECT " STEP_COLS " FROM steps WHERE run_id = ?1 ORDER BY position, name",
	[ST_ATTEMPT_PUT] = "INSERT INTO attempts (run_id, step, attempt, status, reason, exit_code,"
			   " signal, started, finished, log_path, pid, max_rss_kb, isolation)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
			   " ON CONFLICT (run_id, step, attempt) DO UPDATE SET"
			   " status = excluded.status, reason = excluded.reason,"
			   " exit_code = excluded.exit_code, signal = excluded.signal,"
			   " started = excluded.started, finished = excluded.finished,"
			   " log_path = excluded.log_path, pid = excluded.pid,"
			   " max_rss_kb = excluded.max_rss_kb, isolation = excluded.isolation",
	[ST_ATTEMPT_GET] = "SELECT attempt, status, reason, exit_code, signal, started, finished,"
			   " log_path, pid, max_rss_kb, isolation FROM attempts"
			   " WHERE run_id = ?1 AND step = ?2 ORDER BY attempt",
	/* Metrics, outputs and files have no children: OR REPLACE is safe, and the last
	 * of two equal keys wins, as in a $SLUICE_OUTPUT file. */
	[ST_METRIC_DEL] = "DELETE FROM metrics WHERE run_id = ?1 AND step = ?2",
	[ST_METRIC_INS] = "INSERT OR REPLACE INTO metrics (run_id, step, key, value)"
			  " VALUES (?1, ?2, ?3, ?4)",
	[ST_METRIC_GET] = "SELECT m.step, m.key, m.value FROM metrics m"
			  " JOIN steps s ON s.run_id = m.run_id AND s.name = m.step"
			  " WHERE m.run_id = ?1"
			  " ORDER BY s.position, m.step, m.key",
	[ST_OUTPUT_DEL] = "DELETE FROM step_outputs WHERE run_id = ?1 AND step = ?2",
	[ST_OUTPUT_INS] = "INSERT OR REPLACE INTO step_outputs (run_id, step, key, value)"
			  " VALUES (?1, ?2, ?3, ?4)",
	[ST_OUTPUT_GET] = "SELECT o.step, o.key, o.value FROM step_outputs o"
			  " JOIN steps s ON s.run_id = o.run_id AND s.name = o.step"
			  " WHERE o.run_id = ?1"
			  " ORDER BY s.position, o.step, o.key",
	[ST_FILE_DEL] = "DELETE FROM output_files WHERE run_id = ?1 AND step = ?2",
	[ST_FILE_INS] = "INSERT OR REPLACE INTO output_files (run_id, step, path, sha256, size)"
			" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_FILE_GET] = "SELECT f.step, f.path, f.sha256, f.size FROM output_files f"
			" JOIN steps s ON s.run_id = f.run_id AND s.name = f.step"
			" WHERE f.run_id = ?1"
			" ORDER BY s.position, f.step, f.path",
	[ST_HASH_GET] = "SELECT sha256 FROM file_hashes WHERE path = ?1 AND size = ?2"
			" AND mtime_ns = ?3 AND inode = ?4 AND ctime_ns = ?5",
	[ST_HASH_PUT] = "INSERT INTO file_hashes (path, size, mtime_ns, inode, ctime_ns, sha256)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (path) DO UPDATE SET"
			" size = ?2, mtime_ns = ?3, inode = ?4, ctime_ns = ?5, sha256 = ?6",
	[ST_INPUT_DEL] = "DELETE FROM input_files WHERE run_id = ?1 AND step = ?2",
	[ST_INPUT_INS] = "INSERT OR REPLACE INTO input_files (run_id, step, path, sha256, size)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_INPUT_GET] = "SELECT f.step, f.path, f.sha256, f.size FROM input_files f"
			 " JOIN steps s ON s.run_id = f.run_id AND s.name = f.step"
			 " WHERE f.run_id = ?1"
			 " ORDER BY s.position, f.step, f.path",
	/* the parent run first (rerun), then the newest */
	[ST_CACHED_FIND] = "SELECT " STEP_COLS " FROM steps WHERE cache_key = ?1"
			   " AND status IN ('succeeded', 'cached') AND run_id <> ?3"
			   " ORDER BY run_id = ?2 DESC, run_id DESC LIMIT 8",
	[ST_STEP_LAST] = "SELECT s.name, s.step, s.position, s.status, s.reason, s.attempts,"
			 " s.exit_code, s.started, s.finished, s.cache_key, s.env_hash,"
			 " s.cached_from, s.command, s.env_json, s.why, s.run_id"
			 " FROM steps s JOIN runs r ON r.id = s.run_id"
			 " WHERE s.name = ?1 AND r.pipeline = ?2 AND r.workspace IS ?3"
			 " AND s.run_id <> ?4 AND s.cache_key IS NOT NULL"
			 " ORDER BY s.status IN ('succeeded', 'cached') DESC, s.run_id DESC LIMIT 1",
	[ST_SHA_ALL] = "SELECT DISTINCT sha256 FROM output_files WHERE sha256 IS NOT NULL",
	[ST_NOOP_GET] = "SELECT run_id, files FROM noop_index WHERE key = ?1",
	[ST_NOOP_PUT] = "INSERT INTO noop_index (key, run_id, files) VALUES (?1, ?2, ?3)"
			" ON CONFLICT (key) DO UPDATE SET run_id = ?2, files = ?3",
	[ST_METRIC_GET1] = "SELECT step, key, value FROM metrics WHERE run_id = ?1 AND step = ?2"
			   " ORDER BY key",
	[ST_OUTPUT_GET1] = "SELECT step, key, value FROM step_outputs WHERE run_id = ?1"
			   " AND step = ?2 ORDER BY key",
	[ST_FILE_GET1] = "SELECT step, path, sha256, size FROM output_files WHERE run_id = ?1"
			 " AND step = ?2 ORDER BY path",
	[ST_INPUT_GET1] = "SELECT step, path, sha256, size FROM input_files WHERE run_id = ?1"
			  " AND step = ?2 ORDER BY path",
	[ST_RUN_SAME_AS] = "SELECT same_as, finished FROM runs WHERE id = ?1",
	[ST_RUN_NOOP] = "INSERT INTO runs (pipeline, path, workspace, params_json, trigger, status,"
			" exit_code, created, started, finished, host, pid, pid_start, same_as)"
			" VALUES (?1, ?2, ?3, ?4, ?5, 'succeeded', 0, ?6, ?6, ?6, ?7, ?8, ?9, ?10)",
	/* the steps of a no-op run: those of the run it repeats, cached from it */
	[ST_STEP_GET_SAME] = "SELECT name, step, position,"
			     " CASE status WHEN 'skipped' THEN 'skipped' ELSE 'cached' END,"
			     " CASE status WHEN 'skipped' THEN reason END, 0, NULL, ?2, ?2,"
			     " cache_key, env_hash,"
			     " CASE status WHEN 'skipped' THEN NULL ELSE coalesce(cached_from, ?1) END,"
			     " command, env_json, CASE status WHEN 'skipped' THEN why"
			     " ELSE 'nothing changed since run ' || coalesce(cached_from, ?1) END, ?3"
			     " FROM steps WHERE run_id = ?1 ORDER BY position, name",
	/* a run that recorded nothing (the disk filled at its start) */
	[ST_RUN_DISCARD] = "DELETE FROM runs WHERE id = ?1"
			   " AND NOT EXISTS (SELECT 1 FROM steps WHERE run_id = ?1)",
};
/* clang-format on */

struct store {
	sqlite3 *db;
	char *dir;
	sqlite3_stmt *stmt[ST__COUNT];
	/* the last run asked about by data_run: a run's same_as never changes */
	int64_t same_run, same_as;
	double same_finished;
	int batch;              /* store_batch_begin: changes share one transaction until a flush */
	int batch_open;         /* that transaction has begun */
	int change_open;        /* in a batch: the savepoint of the change being made */
	int readonly;           /* store_open_readonly */
	const redactor *redact; /* store_set_redactor: masks what steps and users wrote */
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* This machine's name, or "unknown" (still the same on every call, so liveness works). */
static const char *host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0 || !buf[0])
		snprintf(buf, size, "unknown");
	buf[size - 1] = 0;
	return buf;
}

#define HOST_BUF 256

/* Grow *arr (of *cap items of size item) so that index n fits. */
static void *grow(void *arr, size_t *cap, size_t n, size_t item)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap ? *cap * 2 : 8;
	arr = xrealloc(arr, ncap * item);
	memset((char *)arr + *cap * item, 0, (ncap - *cap) * item);
	*cap = ncap;
	return arr;
}

/* Read every row of s into a growing array of items of `size` bytes, one
 * read(s, item) per row.  On a database error returns -1 with what was read
 * so far in *arr / *n, for the caller to free with its own function. */
static int read_rows(sqlite3_stmt *s, size_t size, void (*read)(sqlite3_stmt *, void *), void **arr,
		     size_t *n)
{
	size_t cap = 0;
	*arr = NULL;
	*n = 0;
	for (;;) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW)
			return -1;
		*arr = grow(*arr, &cap, *n, size);
		read(s, (char *)*arr + (*n)++ * size);
	}
	sqlite3_reset(s);
	return 0;
}

static char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* An integer column where NULL means `none`. */
static int64_t col_int(sqlite3_stmt *s, int i, int64_t none)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return none;
	return sqlite3_column_int64(s, i);
}

/* A time column: NULL is 0. */
static double col_time(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return 0;
	return sqlite3_column_double(s, i);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC); /* NULL binds NULL */
}

/* Text that a step or a user wrote (a reason, a command, a step output): a
 * secret's value in it is stored as "***" (store_set_redactor). */
static int bind_masked(const redactor *r, sqlite3_stmt *s, int i, const char *v)
{
	if (!v || !redact_active(r))
		return bind_text(s, i, v);
	char *m = redact_dup(r, v);
	int rc = sqlite3_bind_text(s, i, m, -1, SQLITE_TRANSIENT);
	free(m);
	return rc;
}

static int bind_int(sqlite3_stmt *s, int i, int64_t v, int64_t none)
{
	if (v == none)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_int64(s, i, v);
}

static int bind_time(sqlite3_stmt *s, int i, double v)
{
	if (v == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_double(s, i, v);
}

/* A number as text: the fewest digits that read back as the same double, positional
 * unless the exponent is below -4 or above 15 (as Python's repr): 1000, 0.25, 1e-07. */
static void format_number(double v, char *buf, size_t size)
{
	if (!isfinite(v)) {
		/* as the metrics file wrote them (Python's json.dump) */
		snprintf(buf, size, "%s", isnan(v) ? "NaN" : v < 0 ? "-Infinity" : "Infinity");
		return;
	}
	int digits = 1;
	for (;; digits++) {
		snprintf(buf, size, "%.*e", digits - 1, v);
		if (digits == 17 || strtod(buf, NULL) == v)
			break;
	}
	int exp = v == 0 ? 0 : atoi(strchr(buf, 'e') + 1);
	if (exp < -4 || exp > 15)
		snprintf(buf, size, "%.*e", digits - 1, v);
	else
		snprintf(buf, size, "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0, v);
}

/* ---- statements and transactions -------------------------------------------------------- */

/* The cached statement, reset and with its bindings cleared; NULL when it cannot be
 * prepared (the message is in sqlite3_errmsg). */
static sqlite3_stmt *stmt(store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
	    SQLITE_OK)
		return NULL;
	st->stmt[id] = s;
	return s;
}

/* Step a statement that returns no rows; 0 when done (and reset), -1 on failure (left
 * as is, so the message stays for db_fail). */
static int exec_stmt(sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE)
		return -1;
	sqlite3_reset(s);
	return 0;
}

/* Release every statement's read lock and roll back the open transaction, if any. */
static void abandon(store *st)
{
	for (int i = 0; i < ST__COUNT; i++)
		if (st->stmt[i])
			sqlite3_reset(st->stmt[i]);
	if (st->batch && st->batch_open) {
		/* undo only the failed change: the batch's others stand */
		if (st->change_open)
			sqlite3_exec(st->db, "ROLLBACK TO change; RELEASE change", NULL, NULL,
				     NULL);
		st->change_open = 0;
		return;
	}
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->batch_open = 0;
	st->change_open = 0;
}

/* The failure path of every SQLite call: "store: WHAT: sqlite's message", then the
 * transaction is rolled back.  The message is taken first: the rollback replaces it. */
__attribute__((format(printf, 3, 4))) static int db_fail(store *st, sl_error **err, const char *fmt,
							 ...)
{
	strbuf what = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&what, fmt, ap);
	va_end(ap);
	int code = sqlite3_errcode(st->db);
	if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
		sl_error_usage(err,
			       "store: %s/state.db is corrupt (%s: %s); 'sluice doctor' checks it "
			       "and says how to recover what can be read",
			       st->dir, strbuf_str(&what), sqlite3_errmsg(st->db));
	} else if (code == SQLITE_FULL ||
		   (code == SQLITE_IOERR && sqlite3_system_errno(st->db) == ENOSPC)) {
		/* one message whatever was being written, so the warnings of a run that
		 * goes on with a full disk collapse into one (status_warn) */
		sl_error_make(err,
			      "store: the file system of %s is full: %s; what happens now is not "
			      "recorded (free space, then 'sluice resume' the run)",
			      st->dir, sqlite3_errmsg(st->db));
		(*err)->errnum = ENOSPC;
	} else if (code == SQLITE_READONLY && st->readonly) {
		sl_error_usage(err, "store: %s: %s/state.db is open read-only", strbuf_str(&what),
			       st->dir);
	} else {
		sl_error_make(err, "store: %s: %s", strbuf_str(&what), sqlite3_errmsg(st->db));
	}
	strbuf_release(&what);
	abandon(st);
	return -1;
}

/* In a batch the first change begins the transaction and the others join it,
 * each in a savepoint of its own, so a change that fails is undone alone
 * (abandon); store_batch_flush commits the transaction. */
static int tx_begin(store *st)
{
	if (!st->batch || !st->batch_open) {
		sqlite3_stmt *s = stmt(st, ST_BEGIN);
		if (!s || exec_stmt(s) < 0)
			return -1;
		st->batch_open = st->batch;
	}
	if (st->batch) {
		sqlite3_stmt *s = stmt(st, ST_SAVEPOINT);
		if (!s || exec_stmt(s) < 0)
			return -1;
		st->change_open = 1;
	}
	return 0;
}

static int tx_commit(store *st)
{
	if (st->batch) {
		sqlite3_stmt *s = stmt(st, ST_RELEASE);
		if (!s || exec_stmt(s) < 0)
			return -1;
		st->change_open = 0;
		return 0;
	}
	sqlite3_stmt *s = stmt(st, ST_COMMIT);
	return s ? exec_stmt(s) : -1;
}

void store_batch_begin(store *st)
{
	if (st)
		st->batch = 1;
}

int store_batch_flush(store *st, sl_error **err)
{
	if (!st || !st->batch_open)
		return 0;
	sqlite3_stmt *s = stmt(st, ST_COMMIT);
	if (!s || exec_stmt(s) < 0) {
		int batch = st->batch;
		st->batch = 0; /* the commit failed: abandon the whole transaction */
		db_fail(st, err, "commit");
		st->batch = batch;
		return -1;
	}
	st->batch_open = 0;
	return 0;
}

int store_batch_end(store *st, sl_error **err)
{
	int rc = store_batch_flush(st, err);
	if (st)
		st->batch = 0;
	return rc;
}

/* ---- opening ---------------------------------------------------------------------------- */

/* mkdir -p: the state directory itself 0700 (what steps print and the
 * commands they ran are in it), the directories above it 0755; an existing
 * directory is fine, an existing file is not. */
static int make_dirs(const char *path, sl_error **err)
{
	char *p = xstrdup(path);
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = 0;
	for (char *c = p + 1;; c++) {
		int last = *c == 0;
		if (*c != '/' && !last)
			continue;
		*c = 0;
		if (mkdir(p, last ? 0700 : 0755) < 0 && errno != EEXIST) {
			int e = errno;
			sl_error_errno(err, e, "store: create the state directory %s", p);
			if (e == EACCES || e == EROFS || e == ENOTDIR || e == EPERM)
				(*err)->kind = SL_ERR_USAGE; /* where the user pointed us */
			free(p);
			return -1;
		}
		if (last)
			break;
		*c = '/';
	}
	struct stat sb;
	int e = stat(p, &sb) < 0 ? errno : 0;
	if (e)
		sl_error_errno(err, e, "store: state directory %s", p);
	else if (!S_ISDIR(sb.st_mode))
		sl_error_usage(err, "store: the state directory %s is %s, not a directory", p,
			       S_ISREG(sb.st_mode) ? "a file" : "something else");
	free(p);
	return e || !S_ISDIR(sb.st_mode) ? -1 : 0;
}

/* Run one PRAGMA; when want is not NULL its single result must equal want. */
static int pragma(store *st, const char *sql, const char *want, sl_error **err)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "open %s/state.db", st->dir);
	/* Two processes opening a new database at once: switching it to WAL can
	 * answer SQLITE_BUSY at once, without the busy handler (SQLite refuses to
	 * wait where waiting could deadlock).  Try again for as long as the busy
	 * timeout would have waited. */
	int rc;
	for (int waited = 0;; waited += 10) {
		rc = sqlite3_step(s);
		if (rc != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			break;
		sqlite3_reset(s);
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_fail(st, err, "open %s/state.db", st->dir);
		sqlite3_finalize(s);
		return -1;
	}
	if (want) {
		const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
		if (!got || strcasecmp(got, want) != 0) {
			sl_error_make(err, "store: open %s/state.db: %s gave '%s', not '%s'",
				      st->dir, sql, got ? got : "nothing", want);
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	return 0;
}

/* The applied schema version (0 for a new database), or -1 with sqlite's message. */
static int64_t schema_version(store *st)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT count(*) FROM sqlite_master"
			       " WHERE type = 'table' AND name = 'schema_version'",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	int64_t v = -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (v <= 0)
		return v;
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
			       &s, NULL) != SQLITE_OK)
		return -1;
	v = -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int too_new(store *st, int64_t v, sl_error **err)
{
	return sl_error_make(err,
			     "store: %s/state.db has schema version %lld, but this sluice (%s) "
			     "knows versions up to %lld; use a newer sluice",
			     st->dir, (long long)v, SLUICE_VERSION, (long long)SCHEMA_VERSION);
}

/* Apply the missing migrations, each in its own transaction.  The version is read again
 * under the write lock: another process may have migrated meanwhile. */
static int migrate(store *st, sl_error **err)
{
	int64_t v = schema_version(st);
	if (v < 0)
		return db_fail(st, err, "open %s/state.db: read schema version", st->dir);
	if (v > SCHEMA_VERSION)
		return too_new(st, v, err);
	while (v < SCHEMA_VERSION) {
		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(st, err, "open %s/state.db: migrate", st->dir);
		if (sqlite3_exec(st->db,
				 "CREATE TABLE IF NOT EXISTS schema_version ("
				 " version INTEGER PRIMARY KEY, applied REAL NOT NULL)",
				 NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(st, err, "open %s/state.db: create schema_version", st->dir);
		v = schema_version(st);
		if (v < 0)
			return db_fail(st, err, "open %s/state.db: read schema version", st->dir);
		if (v > SCHEMA_VERSION) {
			abandon(st);
			return too_new(st, v, err);
		}
		if (v == SCHEMA_VERSION) {
			abandon(st);
			break;
		}
		if (sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(st, err, "open %s/state.db: migration %lld", st->dir,
				       (long long)v + 1);
		char sql[128];
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%lld, %.3f)",
			 (long long)v + 1, clock_wall());
		if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(st, err, "open %s/state.db: migration %lld", st->dir,
				       (long long)v + 1);
		v++;
	}
	return 0;
}

/* The connection's settings and the schema: what every read-write open does. */
static int setup(store *st, int wal, sl_error **err)
{
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if ((wal && pragma(st, "PRAGMA journal_mode=WAL", "wal", err) < 0) ||
	    pragma(st, "PRAGMA synchronous=NORMAL", NULL, err) < 0 ||
	    pragma(st, "PRAGMA foreign_keys=ON", NULL, err) < 0 || migrate(st, err) < 0)
		return -1;
	return 0;
}

static char *dir_file(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

/* Size of a file, or -1 when there is none. */
static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* What DIR/state.db is before SQLite sees it: 0 when it may be opened (*missing
 * says whether it is absent), -1 with a usage error when it is not a regular
 * file, or empty with no write-ahead log holding its pages.  A new database is
 * never empty (create_db), so an empty one was truncated or made by hand, and
 * opening it would silently start a new history. */
static int check_db_file(const char *dir, int *missing, sl_error **err)
{
	sl_autofree char *db = dir_file(dir, "state.db");
	sl_autofree char *wal = dir_file(dir, "state.db-wal");
	struct stat sb;
	*missing = 0;
	if (lstat(db, &sb) < 0) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return sl_error_errno(err, errno, "store: %s", db);
	}
	if (!S_ISREG(sb.st_mode))
		return sl_error_usage(err, "store: %s is not a regular file", db);
	if (sb.st_size == 0 && file_size(wal) <= 0)
		return sl_error_usage(
			err,
			"store: %s is empty (0 bytes): it holds no runs, and sluice "
			"will not start a new history over it; restore it from a backup, "
			"or move it away (with state.db-wal and state.db-shm) to start "
			"afresh",
			db);
	return 0;
}

/* Make DIR/state.db whole or not at all: a new database gets its schema under a
 * temporary name and is then linked into place, so a reader never finds an empty
 * one, and a disk that fills meanwhile leaves no state.db behind.  When another
 * process links its own first, that one is used. */
static int create_db(const char *dir, sl_error **err)
{
	sl_autofree char *final = dir_file(dir, "state.db");
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s/state.db.new-XXXXXX", dir) >= (int)sizeof(tmp))
		return sl_error_errno(err, ENAMETOOLONG, "store: create %s", final);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		sl_error_errno(err, e, "store: create %s", final);
		if (e == EACCES || e == EROFS || e == EPERM)
			(*err)->kind = SL_ERR_USAGE;
		return -1;
	}
	/* 0600 as mkostemp made it: SQLite gives state.db-wal and -shm its mode */
	close(fd);
	store tmpst = {.dir = (char *)dir};
	int rc = 0;
	/* the default rollback journal: nothing is left next to it after the close */
	if (sqlite3_open_v2(tmp, &tmpst.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		rc = sl_error_make(err, "store: create %s: %s", final,
				   tmpst.db ? sqlite3_errmsg(tmpst.db) : "out of memory");
	else
		rc = setup(&tmpst, 0, err);
	if (sqlite3_close(tmpst.db) != SQLITE_OK && rc == 0)
		rc = sl_error_make(err, "store: create %s: close", final);
	if (rc == 0 && link(tmp, final) < 0 && errno != EEXIST) {
		/* a file system without hard links: rename, unless one appeared meanwhile */
		if (access(final, F_OK) < 0 && rename(tmp, final) < 0)
			rc = sl_error_errno(err, errno, "store: create %s", final);
	}
	unlink(tmp);
	strbuf j = STRBUF_INIT;
	strbuf_addf(&j, "%s-journal", tmp);
	unlink(j.buf);
	strbuf_release(&j);
	return rc;
}

/* DIR/reserve: space kept on the state directory's file system so that a run
 * that filled the disk can still record how it ended (store_release_reserve). */
#define RESERVE_BYTES (512 * 1024)

static void reserve_make(const char *dir)
{
	sl_autofree char *path = dir_file(dir, "reserve");
	if (access(path, F_OK) == 0)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, RESERVE_BYTES) != 0)
		unlink(path); /* no room for it: nothing half made is left */
	close(fd);
}

int store_release_reserve(store *st)
{
	if (!st || st->readonly)
		return 0;
	sl_autofree char *path = dir_file(st->dir, "reserve");
	return unlink(path) == 0;
}

/* Group and other bits off path, when it is ours and has any: 1 when it had. */
static int tighten(const char *path, mode_t want)
{
	struct stat sb;
	if (lstat(path, &sb) < 0 || S_ISLNK(sb.st_mode) || sb.st_uid != geteuid() ||
	    !(sb.st_mode & 077))
		return 0;
	return chmod(path, want) == 0;
}

/* A state directory made by an older sluice was open to everyone (0755, its
 * files 0644), and it holds what steps printed and the commands they ran:
 * closed now, once, and said (the store's one message of its own: whichever
 * command opens the store first finds it, and none of them could say it for
 * the others). */
static void tighten_state_dir(const char *dir)
{
	struct stat sb;
	if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return;
	mode_t was = sb.st_mode & 07777;
	if (!tighten(dir, 0700))
		return;
	static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm", "lock",
					    "reserve"};
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		sl_autofree char *p = dir_file(dir, files[k]);
		tighten(p, 0600);
	}
	sl_autofree char *runs = dir_file(dir, "runs");
	tighten(runs, 0700);
	sl_error *note = NULL;
	sl_error_make(&note,
		      "the state directory %s was readable by other users (mode %04o): it is "
		      "0700 now, its database 0600 (docs/state.md)",
		      dir, (unsigned)was);
	sl_error_warn(stderr, &note);
}

void store_set_redactor(store *st, const redactor *r)
{
	if (st)
		st->redact = r;
}

int store_open(const char *dir, store **out, sl_error **err)
{
	*out = NULL;
	if (!dir || !*dir)
		return sl_error_usage(err, "store: no state directory given");
	if (make_dirs(dir, err) < 0)
		return -1;
	if (access(dir, W_OK) < 0 && (errno == EROFS || errno == EACCES)) {
		sl_error_errno(err, errno,
			       "store: the state directory %s cannot be written (what only reads "
			       "it works: status, runs, logs, show, diff)",
			       dir);
		(*err)->kind = SL_ERR_USAGE;
		return -1;
	}
	strbuf path = STRBUF_INIT;
	static const char *const subdirs[] = {"cache", "runs"};
	for (size_t i = 0; i < 2; i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, subdirs[i]);
		if (mkdir(path.buf, 0700) < 0 && errno != EEXIST) {
			int e = errno;
			sl_error_errno(err, e, "store: create directory %s", path.buf);
			if (e == EACCES || e == EROFS || e == EPERM)
				(*err)->kind = SL_ERR_USAGE;
			strbuf_release(&path);
			return -1;
		}
	}
	int missing;
	if (check_db_file(dir, &missing, err) < 0 || (missing && create_db(dir, err) < 0)) {
		strbuf_release(&path);
		return -1;
	}
	store *st = xcalloc(1, sizeof(*st));
	st->dir = xstrdup(dir);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/state.db", dir);
	int rc = sqlite3_open_v2(path.buf, &st->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		sl_error_make(err, "store: open %s: %s", path.buf,
			      st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		if (rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY || rc == SQLITE_PERM)
			(*err)->kind = SL_ERR_USAGE;
		strbuf_release(&path);
		store_close(st);
		return -1;
	}
	strbuf_release(&path);
	if (setup(st, 1, err) < 0) {
		store_close(st);
		return -1;
	}
	reserve_make(dir);
	/* once it opened: a store that refuses to open says that, and only that */
	tighten_state_dir(dir);
	*out = st;
	return 0;
}

/* path as the file name of an SQLite URI: everything but unreserved characters and
 * '/' percent-encoded. */
static void add_uri_path(strbuf *sb, const char *path)
{
	for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/._~-", *c))
			strbuf_add(sb, (const char *)c, 1);
		else
			strbuf_addf(sb, "%%%02X", *c);
	}
}

static int open_ro(store *st, int immutable)
{
	strbuf uri = STRBUF_INIT;
	strbuf_addstr(&uri, "file:");
	add_uri_path(&uri, st->dir);
	strbuf_addstr(&uri, "/state.db?mode=ro");
	if (immutable)
		strbuf_addstr(&uri, "&immutable=1");
	sqlite3_close_v2(st->db);
	st->db = NULL;
	int rc = sqlite3_open_v2(uri.buf, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	strbuf_release(&uri);
	if (rc == SQLITE_OK)
		sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	return rc;
}

int store_open_readonly(const char *dir, store **out, sl_error **err)
{
	*out = NULL;
	if (!dir || !*dir)
		return sl_error_usage(err, "store: no state directory given");
	struct stat sb;
	if (stat(dir, &sb) < 0)
		return sl_error_errno(err, errno, "store: state directory %s", dir);
	if (!S_ISDIR(sb.st_mode))
		return sl_error_usage(err, "store: the state directory %s is %s, not a directory",
				      dir, S_ISREG(sb.st_mode) ? "a file" : "something else");
	int missing;
	if (check_db_file(dir, &missing, err) < 0)
		return -1;
	if (missing)
		return sl_error_usage(err, "store: no state.db in %s (run a pipeline first)", dir);
	store *st = xcalloc(1, sizeof(*st));
	st->dir = xstrdup(dir);
	st->readonly = 1;
	int rc = open_ro(st, 0);
	int64_t v = rc == SQLITE_OK ? schema_version(st) : -1;
	if (v < 0 && st->db && sqlite3_errcode(st->db) == SQLITE_CANTOPEN) {
		/* WAL needs state.db-shm, which a read-only directory cannot hold.  With no
		 * write-ahead log the main file is the whole database: read it as immutable. */
		sl_autofree char *wal = dir_file(dir, "state.db-wal");
		if (file_size(wal) > 0) {
			sl_error_usage(
				err,
				"store: cannot read %s/state.db read-only: its write-ahead log "
				"state.db-wal needs state.db-shm, which cannot be made there; "
				"open it once with write access, or read a copy",
				dir);
			store_close(st);
			return -1;
		}
		rc = open_ro(st, 1);
		v = rc == SQLITE_OK ? schema_version(st) : -1;
	}
	if (rc != SQLITE_OK || v < 0) {
		if (st->db)
			db_fail(st, err, "open %s/state.db read-only", dir);
		else
			sl_error_make(err, "store: open %s/state.db read-only: %s", dir,
				      sqlite3_errstr(rc));
		store_close(st);
		return -1;
	}
	if (v == SCHEMA_VERSION) {
		*out = st;
		return 0;
	}
	if (v > SCHEMA_VERSION)
		too_new(st, v, err);
	store_close(st);
	if (v > SCHEMA_VERSION)
		return -1;
	/* an older sluice wrote it: migrating is a write */
	if (store_open(dir, out, err) < 0)
		return sl_error_wrap(
			err,
			"store: %s/state.db has schema version %lld and must be migrated "
			"to %lld before it can be read",
			dir, (long long)v, (long long)SCHEMA_VERSION);
	return 0;
}

void store_close(store *st)
{
	if (!st)
		return;
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close_v2(st->db);
	free(st->dir);
	free(st);
}

const char *store_dir(const store *st)
{
	return st ? st->dir : NULL;
}

static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *store_locate(const char *start, const char *override)
{
	if (override && *override)
		return xstrdup(override);
	const char *env = getenv("SLUICE_STATE");
	if (env && *env)
		return xstrdup(env);
	if (!start || !*start)
		start = ".";
	char *base = realpath(start, NULL);
	if (!base)
		base = xstrdup(start);
	strbuf sb = STRBUF_INIT;
	if (base[0] == '/') {
		strbuf_addstr(&sb, base);
		for (;;) {
			size_t len = sb.len;
			strbuf_addstr(&sb, len > 1 ? "/.sluice" : ".sluice");
			if (is_dir(sb.buf)) {
				free(base);
				return strbuf_detach(&sb);
			}
			sb.len = len;
			sb.buf[len] = 0;
			if (len <= 1)
				break;
			char *slash = strrchr(sb.buf, '/');
			sb.len = slash == sb.buf ? 1 : (size_t)(slash - sb.buf);
			sb.buf[sb.len] = 0;
		}
	}
	strbuf_reset(&sb);
	size_t blen = strlen(base);
	strbuf_addf(&sb, "%s%s.sluice", base, blen && base[blen - 1] == '/' ? "" : "/");
	free(base);
	return strbuf_detach(&sb);
}

/* ---- liveness --------------------------------------------------------------------------- */

/* A zombie has a stat line but runs nothing: for liveness it is gone. */
int64_t proc_start_time(int64_t pid)
{
	if (pid <= 0 || pid > INT_MAX)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	/* "PID (COMM) S PPID ...": COMM may hold spaces and ')', nothing after it does. */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -1;
		if (field == 3 && (*p == 'Z' || *p == 'X' || *p == 'x'))
			return -1;
		if (field == 22) {
			char *end;
			errno = 0;
			long long v = strtoll(p, &end, 10);
			if (end == p || errno || v < 0)
				return -1;
			return v;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

int store_run_alive(const run_info *r)
{
	if (!r || r->pid <= 0 || !r->host)
		return 0;
	char host[HOST_BUF];
	if (strcmp(host_name(host, sizeof(host)), r->host) != 0)
		return 0;
	int64_t start = proc_start_time(r->pid);
	return start >= 0 && start == r->pid_start;
}

/* ---- runs ------------------------------------------------------------------------------- */

static int concurrency_refusal(sl_error **err, int64_t id, const char *pipeline, int64_t pid)
{
	return sl_error_usage(err,
			      "run %lld of %s is still running (pid %lld); wait for it or see "
			      "'sluice status %lld'",
			      (long long)id, pipeline, (long long)pid, (long long)id);
}

/* Under the write lock: the first run of pipeline in workspace whose orchestrator is alive
 * (its id and pid in *id, *pid), 1 when found, 0 when none, -1 on a database error. */
static int find_live_run(store *st, const char *pipeline, const char *workspace, int64_t exclude,
			 int64_t *id, int64_t *pid)
{
	sqlite3_stmt *s = stmt(st, ST_RUN_LIVE);
	if (!s || bind_text(s, 1, pipeline) || bind_text(s, 2, workspace))
		return -1;
	for (;;) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW)
			return -1;
		run_info r = {0};
		r.host = (char *)sqlite3_column_text(s, 1);
		r.pid = col_int(s, 2, 0);
		r.pid_start = col_int(s, 3, -1);
		if (sqlite3_column_int64(s, 0) != exclude && store_run_alive(&r)) {
			*id = sqlite3_column_int64(s, 0);
			*pid = r.pid;
			sqlite3_reset(s);
			return 1;
		}
	}
	sqlite3_reset(s);
	return 0;
}

/* Under the write lock: -1 (transaction abandoned, err set) when a live run of r's
 * pipeline in r's workspace exists, else 0. */
static int refuse_live_run(store *st, const run_new *r, const char *what, sl_error **err)
{
	int64_t other = 0, pid = 0;
	int found = find_live_run(st, r->pipeline, r->workspace, 0, &other, &pid);
	if (found < 0)
		return db_fail(st, err, "%s", what);
	if (found) {
		abandon(st);
		return concurrency_refusal(err, other, r->pipeline, pid);
	}
	return 0;
}

int store_begin_run(store *st, const run_new *r, int forbid_concurrent, int64_t *id, sl_error **err)
{
	if (!r || !r->pipeline)
		return sl_error_make(err, "store: begin run: no pipeline name");
	if (tx_begin(st) < 0)
		return db_fail(st, err, "begin run");
	if (forbid_concurrent && refuse_live_run(st, r, "begin run", err) < 0)
		return -1;
	char host[HOST_BUF];
	int64_t self = getpid();
	sqlite3_stmt *s = stmt(st, ST_RUN_INSERT);
	if (!s || bind_text(s, 1, r->pipeline) || bind_text(s, 2, r->path) ||
	    bind_text(s, 3, r->workspace) || bind_text(s, 4, r->snapshot) ||
	    bind_text(s, 5, r->params_json) ||
	    bind_text(s, 6, r->trigger ? r->trigger : "manual") ||
	    bind_int(s, 7, r->parent_id, 0) || sqlite3_bind_double(s, 8, clock_wall()) ||
	    bind_text(s, 9, host_name(host, sizeof(host))) || sqlite3_bind_int64(s, 10, self) ||
	    sqlite3_bind_int64(s, 11, proc_start_time(self)) || exec_stmt(s) < 0)
		return db_fail(st, err, "begin run");
	int64_t new_id = sqlite3_last_insert_rowid(st->db);
	if (tx_commit(st) < 0)
		return db_fail(st, err, "begin run");
	if (id)
		*id = new_id;
	return 0;
}

int store_discard_run(store *st, int64_t id, sl_error **err)
{
	if (tx_begin(st) < 0)
		return db_fail(st, err, "discard run %lld", (long long)id);
	sqlite3_stmt *s = stmt(st, ST_RUN_DISCARD);
	if (!s || sqlite3_bind_int64(s, 1, id) || exec_stmt(s) < 0)
		return db_fail(st, err, "discard run %lld", (long long)id);
	int gone = sqlite3_changes(st->db) > 0;
	if (tx_commit(st) < 0)
		return db_fail(st, err, "discard run %lld", (long long)id);
	return gone;
}

static int is_final_run_status(const char *status)
{
	static const char *const ok[] = {"succeeded", "failed", "rejected", "cancelled"};
	for (size_t i = 0; status && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(status, ok[i]) == 0)
			return 1;
	return 0;
}

static int no_such_run(sl_error **err, int64_t id)
{
	return sl_error_usage(err, "no run %lld (see 'sluice runs')", (long long)id);
}

int store_finish_run(store *st, int64_t id, const char *status, int exit_code, sl_error **err)
{
	if (!is_final_run_status(status))
		return sl_error_make(err,
				     "store: finish run %lld: status '%s' is not one of succeeded, "
				     "failed, rejected, cancelled",
				     (long long)id, status ? status : "(null)");
	if (tx_begin(st) < 0)
		return db_fail(st, err, "finish run %lld", (long long)id);
	sqlite3_stmt *s = stmt(st, ST_RUN_FINISH);
	if (!s || sqlite3_bind_int64(s, 1, id) || bind_text(s, 2, status) ||
	    sqlite3_bind_int64(s, 3, exit_code) || sqlite3_bind_double(s, 4, clock_wall()) ||
	    exec_stmt(s) < 0)
		return db_fail(st, err, "finish run %lld", (long long)id);
	if (sqlite3_changes(st->db) == 0) {
		abandon(st);
		return no_such_run(err, id);
	}
	if (tx_commit(st) < 0)
		return db_fail(st, err, "finish run %lld", (long long)id);
	return 0;
}

int store_adopt_run(store *st, int64_t id, int forbid_concurrent, sl_error **err)
{
	if (tx_begin(st) < 0)
		return db_fail(st, err, "adopt run %lld", (long long)id);
	sqlite3_stmt *s = stmt(st, ST_RUN_OWNER);
	if (!s || sqlite3_bind_int64(s, 1, id))
		return db_fail(st, err, "adopt run %lld", (long long)id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		abandon(st);
		return no_such_run(err, id);
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "adopt run %lld", (long long)id);
	int64_t self = getpid();
	run_info owner = {0};
	owner.status = (char *)sqlite3_column_text(s, 1);
	owner.host = (char *)sqlite3_column_text(s, 2);
	owner.pid = col_int(s, 3, 0);
	owner.pid_start = col_int(s, 4, -1);
	if (owner.status && strcmp(owner.status, "running") == 0 && owner.pid != self &&
	    store_run_alive(&owner)) {
		char *pipeline = col_str(s, 0);
		int64_t pid = owner.pid;
		abandon(st);
		concurrency_refusal(err, id, pipeline ? pipeline : "?", pid);
		free(pipeline);
		return -1;
	}
	if (forbid_concurrent) {
		/* another run of the pipeline started after this one died: refused as
		 * store_begin_run refuses it, under the same write lock */
		char *pipeline = col_str(s, 0), *workspace = col_str(s, 5);
		sqlite3_reset(s);
		int64_t other = 0, pid = 0;
		int found = find_live_run(st, pipeline, workspace, id, &other, &pid);
		if (found != 0) {
			if (found < 0)
				db_fail(st, err, "adopt run %lld", (long long)id);
			else {
				abandon(st);
				concurrency_refusal(err, other, pipeline, pid);
			}
			free(pipeline);
			free(workspace);
			return -1;
		}
		free(pipeline);
		free(workspace);
	}
	sqlite3_reset(s);
	char host[HOST_BUF];
	s = stmt(st, ST_RUN_ADOPT);
	if (!s || sqlite3_bind_int64(s, 1, id) || bind_text(s, 2, host_name(host, sizeof(host))) ||
	    sqlite3_bind_int64(s, 3, self) || sqlite3_bind_int64(s, 4, proc_start_time(self)) ||
	    exec_stmt(s) < 0 || tx_commit(st) < 0)
		return db_fail(st, err, "adopt run %lld", (long long)id);
	return 0;
}

/* One row of RUN_COLS_* into r, with "interrupted" derived. */
static void read_run(sqlite3_stmt *s, void *item)
{
	run_info *r = item;
	r->id = sqlite3_column_int64(s, 0);
	r->pipeline = col_str(s, 1);
	r->path = col_str(s, 2);
	r->workspace = col_str(s, 3);
	r->snapshot = col_str(s, 4);
	r->params_json = col_str(s, 5);
	r->trigger = col_str(s, 6);
	r->parent_id = col_int(s, 7, 0);
	r->status = col_str(s, 8);
	r->exit_code = (int)col_int(s, 9, -1);
	r->created = col_time(s, 10);
	r->started = col_time(s, 11);
	r->finished = col_time(s, 12);
	r->host = col_str(s, 13);
	r->pid = col_int(s, 14, 0);
	r->pid_start = col_int(s, 15, -1);
	r->same_as = col_int(s, 16, 0);
	if (r->status && strcmp(r->status, "running") == 0 && !store_run_alive(r)) {
		free(r->status);
		r->status = xstrdup("interrupted");
	}
}

int store_get_run(store *st, int64_t id, run_info *out, sl_error **err)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *s = stmt(st, ST_RUN_GET);
	if (!s || sqlite3_bind_int64(s, 1, id))
		return db_fail(st, err, "get run %lld", (long long)id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return no_such_run(err, id);
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "get run %lld", (long long)id);
	read_run(s, out);
	sqlite3_reset(s);
	return 0;
}

int store_list_runs(store *st, const char *pipeline, size_t limit, run_info **out, size_t *n,
		    sl_error **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = stmt(st, pipeline ? ST_RUN_LIST_PIPELINE : ST_RUN_LIST_ALL);
	int64_t lim = limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
	if (!s || sqlite3_bind_int64(s, 1, lim) || (pipeline && bind_text(s, 2, pipeline)))
		return db_fail(st, err, "list runs");
	void *arr;
	if (read_rows(s, sizeof(run_info), read_run, &arr, n) < 0) {
		run_info_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "list runs");
	}
	*out = arr;
	return 0;
}

int store_count_runs(store *st, const char *pipeline, int64_t *n, sl_error **err)
{
	*n = 0;
	sqlite3_stmt *s = stmt(st, pipeline ? ST_RUN_COUNT_PIPELINE : ST_RUN_COUNT_ALL);
	if (!s || (pipeline && bind_text(s, 1, pipeline)) || sqlite3_step(s) != SQLITE_ROW) {
		if (s)
			sqlite3_reset(s);
		return db_fail(st, err, "count runs");
	}
	*n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return 0;
}

int store_previous_succeeded(store *st, const char *pipeline, int64_t before, int64_t *id,
			     sl_error **err)
{
	*id = 0;
	sqlite3_stmt *s = stmt(st, ST_RUN_PREV_OK);
	if (!s || bind_text(s, 1, pipeline) || sqlite3_bind_int64(s, 2, before))
		return db_fail(st, err, "find the run before run %lld", (long long)before);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, err, "find the run before run %lld", (long long)before);
	return rc == SQLITE_ROW;
}

static void read_run_metric(sqlite3_stmt *s, void *item)
{
	run_metric *m = item;
	m->run_id = sqlite3_column_int64(s, 0);
	m->step = col_str(s, 1);
	m->key = col_str(s, 2);
	m->num = sqlite3_column_type(s, 3) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 3);
}

int store_list_run_metrics(store *st, const char *pipeline, int64_t first, int64_t last,
			   run_metric **out, size_t *n, sl_error **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = stmt(st, pipeline ? ST_RUN_METRICS_PIPELINE : ST_RUN_METRICS_ALL);
	if (!s || sqlite3_bind_int64(s, 1, first) || sqlite3_bind_int64(s, 2, last) ||
	    (pipeline && bind_text(s, 3, pipeline)))
		return db_fail(st, err, "list the metrics of runs");
	void *arr;
	if (read_rows(s, sizeof(run_metric), read_run_metric, &arr, n) < 0) {
		run_metric_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "list the metrics of runs");
	}
	*out = arr;
	return 0;
}

void run_metric_free_array(run_metric *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].step);
		free(m[i].key);
	}
	free(m);
}

void run_info_release(run_info *r)
{
	if (!r)
		return;
	free(r->pipeline);
	free(r->path);
	free(r->workspace);
	free(r->snapshot);
	free(r->params_json);
	free(r->trigger);
	free(r->status);
	free(r->host);
	memset(r, 0, sizeof(*r));
}

void run_info_free_array(run_info *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++)
		run_info_release(&r[i]);
	free(r);
}

/* ---- steps and attempts ----------------------------------------------------------------- */

/* The run whose rows stand for run_id: itself, or for a no-op run the run it repeats
 * (*finished: the no-op run's time, for its steps).  On a database error, run_id. */
static int64_t data_run(store *st, int64_t run_id, double *finished)
{
	if (st->same_run != run_id) {
		sqlite3_stmt *s = stmt(st, ST_RUN_SAME_AS);
		if (!s || sqlite3_bind_int64(s, 1, run_id) || sqlite3_step(s) != SQLITE_ROW) {
			if (s)
				sqlite3_reset(s);
			return run_id;
		}
		st->same_run = run_id;
		st->same_as = col_int(s, 0, 0);
		st->same_finished = col_time(s, 1);
		sqlite3_reset(s);
	}
	if (finished)
		*finished = st->same_finished;
	return st->same_as ? st->same_as : run_id;
}

static int put_step_row(store *st, int64_t run_id, const step_record *r)
{
	sqlite3_stmt *s = stmt(st, ST_STEP_PUT);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, r->name) ||
	    bind_text(s, 3, r->step ? r->step : r->name) || sqlite3_bind_int(s, 4, r->position) ||
	    bind_text(s, 5, r->status ? r->status : "pending") ||
	    bind_masked(st->redact, s, 6, r->reason) || sqlite3_bind_int(s, 7, r->attempts) ||
	    bind_int(s, 8, r->exit_code, -1) || bind_time(s, 9, r->started) ||
	    bind_time(s, 10, r->finished) || bind_text(s, 11, r->cache_key) ||
	    bind_text(s, 12, r->env_hash) || bind_int(s, 13, r->cached_from, 0) ||
	    bind_masked(st->redact, s, 14, r->command) ||
	    bind_masked(st->redact, s, 15, r->env_json) || bind_masked(st->redact, s, 16, r->why))
		return -1;
	return exec_stmt(s);
}

int store_put_step(store *st, int64_t run_id, const step_record *s, sl_error **err)
{
	if (!s)
		return sl_error_make(err, "store: put step of run %lld: no record",
				     (long long)run_id);
	const char *name = s->name ? s->name : "(null)";
	if (tx_begin(st) < 0 || put_step_row(st, run_id, s) < 0 || tx_commit(st) < 0)
		return db_fail(st, err, "put step %s of run %lld", name, (long long)run_id);
	return 0;
}

int store_put_steps(store *st, int64_t run_id, const step_record *s, size_t n, sl_error **err)
{
	if (tx_begin(st) < 0)
		return db_fail(st, err, "put steps of run %lld", (long long)run_id);
	for (size_t i = 0; i < n; i++)
		if (put_step_row(st, run_id, &s[i]) < 0)
			return db_fail(st, err, "put step %s of run %lld",
				       s[i].name ? s[i].name : "(null)", (long long)run_id);
	if (tx_commit(st) < 0)
		return db_fail(st, err, "put steps of run %lld", (long long)run_id);
	return 0;
}

static void read_step_row(sqlite3_stmt *s, void *item)
{
	step_record *r = item;
	r->name = col_str(s, 0);
	r->step = col_str(s, 1);
	r->position = sqlite3_column_int(s, 2);
	r->status = col_str(s, 3);
	r->reason = col_str(s, 4);
	r->attempts = sqlite3_column_int(s, 5);
	r->exit_code = (int)col_int(s, 6, -1);
	r->started = col_time(s, 7);
	r->finished = col_time(s, 8);
	r->cache_key = col_str(s, 9);
	r->env_hash = col_str(s, 10);
	r->cached_from = col_int(s, 11, 0);
	r->command = col_str(s, 12);
	r->env_json = col_str(s, 13);
	r->why = col_str(s, 14);
	r->run_id = sqlite3_column_int64(s, 15);
}

int store_get_steps(store *st, int64_t run_id, step_record **out, size_t *n, sl_error **err)
{
	*out = NULL;
	*n = 0;
	double finished = 0;
	int64_t data = data_run(st, run_id, &finished);
	sqlite3_stmt *s = stmt(st, data == run_id ? ST_STEP_GET : ST_STEP_GET_SAME);
	if (!s || sqlite3_bind_int64(s, 1, data) ||
	    (data != run_id &&
	     (sqlite3_bind_double(s, 2, finished) || sqlite3_bind_int64(s, 3, run_id))))
		return db_fail(st, err, "get steps of run %lld", (long long)run_id);
	void *arr;
	if (read_rows(s, sizeof(step_record), read_step_row, &arr, n) < 0) {
		step_record_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "get steps of run %lld", (long long)run_id);
	}
	*out = arr;
	return 0;
}

void step_record_release(step_record *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->step);
	free(s->status);
	free(s->reason);
	free(s->cache_key);
	free(s->env_hash);
	free(s->command);
	free(s->env_json);
	free(s->why);
	memset(s, 0, sizeof(*s));
}

void step_record_free_array(step_record *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		step_record_release(&s[i]);
	free(s);
}

int store_put_attempt(store *st, int64_t run_id, const char *step, const attempt_record *a,
		      sl_error **err)
{
	const char *name = step ? step : "(null)";
	int num = a ? a->attempt : 0;
	if (!a)
		return sl_error_make(err, "store: put attempt of step %s of run %lld: no record",
				     name, (long long)run_id);
	if (tx_begin(st) < 0)
		goto fail;
	sqlite3_stmt *s = stmt(st, ST_ATTEMPT_PUT);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, step) ||
	    sqlite3_bind_int(s, 3, a->attempt) ||
	    bind_text(s, 4, a->status ? a->status : "running") ||
	    bind_masked(st->redact, s, 5, a->reason) || bind_int(s, 6, a->exit_code, -1) ||
	    bind_int(s, 7, a->signal, 0) || bind_time(s, 8, a->started) ||
	    bind_time(s, 9, a->finished) || bind_text(s, 10, a->log_path) ||
	    bind_int(s, 11, a->pid, 0) || bind_int(s, 12, a->max_rss_kb, 0) ||
	    bind_text(s, 13, a->isolation) || exec_stmt(s) < 0 || tx_commit(st) < 0)
		goto fail;
	return 0;
fail:
	return db_fail(st, err, "put attempt %d of step %s of run %lld", num, name,
		       (long long)run_id);
}

static void read_attempt_row(sqlite3_stmt *s, void *item)
{
	attempt_record *r = item;
	r->attempt = sqlite3_column_int(s, 0);
	r->status = col_str(s, 1);
	r->reason = col_str(s, 2);
	r->exit_code = (int)col_int(s, 3, -1);
	r->signal = (int)col_int(s, 4, 0);
	r->started = col_time(s, 5);
	r->finished = col_time(s, 6);
	r->log_path = col_str(s, 7);
	r->pid = col_int(s, 8, 0);
	r->max_rss_kb = col_int(s, 9, 0);
	r->isolation = col_str(s, 10);
}

int store_get_attempts(store *st, int64_t run_id, const char *step, attempt_record **out, size_t *n,
		       sl_error **err)
{
	*out = NULL;
	*n = 0;
	const char *name = step ? step : "(null)";
	sqlite3_stmt *s = stmt(st, ST_ATTEMPT_GET);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, step))
		return db_fail(st, err, "get attempts of step %s of run %lld", name,
			       (long long)run_id);
	void *arr;
	if (read_rows(s, sizeof(attempt_record), read_attempt_row, &arr, n) < 0) {
		attempt_record_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "get attempts of step %s of run %lld", name,
			       (long long)run_id);
	}
	*out = arr;
	return 0;
}

void attempt_record_free_array(attempt_record *a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++) {
		free(a[i].status);
		free(a[i].reason);
		free(a[i].log_path);
		free(a[i].isolation);
	}
	free(a);
}

/* ---- metrics, step outputs, output files ------------------------------------------------ */

/* Delete the rows of one step with del, then insert n rows through fill (which binds
 * parameters 3 and up of ins for row i); one transaction. */
typedef int (*bind_row_fn)(sqlite3_stmt *ins, const void *data, size_t i);

static int replace_rows(store *st, enum stmt_id del, enum stmt_id ins, int64_t run_id,
			const char *step, const void *data, size_t n, bind_row_fn fill)
{
	if (tx_begin(st) < 0)
		return -1;
	sqlite3_stmt *s = stmt(st, del);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, step) || exec_stmt(s) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		s = stmt(st, ins);
		if (!s || sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, step) ||
		    fill(s, data, i) || exec_stmt(s) < 0)
			return -1;
	}
	return tx_commit(st);
}

struct kv_in {
	const char *const *keys;
	const double *nums;
	const char *const *values;
	const redactor *redact;
};

static int bind_metric(sqlite3_stmt *s, const void *data, size_t i)
{
	const struct kv_in *in = data;
	double v = in->nums[i];
	return bind_masked(in->redact, s, 3, in->keys[i]) ||
	       (isnan(v) ? sqlite3_bind_null(s, 4) : sqlite3_bind_double(s, 4, v));
}

static int bind_output(sqlite3_stmt *s, const void *data, size_t i)
{
	const struct kv_in *in = data;
	return bind_masked(in->redact, s, 3, in->keys[i]) ||
	       bind_masked(in->redact, s, 4, in->values[i]);
}

static int bind_file(sqlite3_stmt *s, const void *data, size_t i)
{
	const file_record *f = (const file_record *)data + i;
	return bind_text(s, 3, f->path) || bind_text(s, 4, f->sha256) ||
	       sqlite3_bind_int64(s, 5, f->size);
}

int store_set_metrics(store *st, int64_t run_id, const char *step, const char *const *keys,
		      const double *values, size_t n, sl_error **err)
{
	struct kv_in in = {keys, values, NULL, st ? st->redact : NULL};
	if (replace_rows(st, ST_METRIC_DEL, ST_METRIC_INS, run_id, step, &in, n, bind_metric) < 0)
		return db_fail(st, err, "set metrics of step %s of run %lld",
			       step ? step : "(null)", (long long)run_id);
	return 0;
}

int store_set_outputs(store *st, int64_t run_id, const char *step, const char *const *keys,
		      const char *const *values, size_t n, sl_error **err)
{
	struct kv_in in = {keys, NULL, values, st ? st->redact : NULL};
	if (replace_rows(st, ST_OUTPUT_DEL, ST_OUTPUT_INS, run_id, step, &in, n, bind_output) < 0)
		return db_fail(st, err, "set outputs of step %s of run %lld",
			       step ? step : "(null)", (long long)run_id);
	return 0;
}

int store_set_files(store *st, int64_t run_id, const char *step, const file_record *f, size_t n,
		    sl_error **err)
{
	if (replace_rows(st, ST_FILE_DEL, ST_FILE_INS, run_id, step, f, n, bind_file) < 0)
		return db_fail(st, err, "set output files of step %s of run %lld",
			       step ? step : "(null)", (long long)run_id);
	return 0;
}

int store_set_inputs(store *st, int64_t run_id, const char *step, const file_record *f, size_t n,
		     sl_error **err)
{
	if (replace_rows(st, ST_INPUT_DEL, ST_INPUT_INS, run_id, step, f, n, bind_file) < 0)
		return db_fail(st, err, "set input files of step %s of run %lld",
			       step ? step : "(null)", (long long)run_id);
	return 0;
}

static void read_output_row(sqlite3_stmt *s, void *item)
{
	kv_record *r = item;
	r->step = col_str(s, 0);
	r->key = col_str(s, 1);
	r->value = col_str(s, 2);
}

static void read_metric_row(sqlite3_stmt *s, void *item)
{
	kv_record *r = item;
	char buf[40];
	r->step = col_str(s, 0);
	r->key = col_str(s, 1);
	r->num = sqlite3_column_type(s, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 2);
	format_number(r->num, buf, sizeof(buf));
	r->value = xstrdup(buf);
}

static int get_kv(store *st, enum stmt_id id, int metric, int64_t run_id, const char *step,
		  kv_record **out, size_t *n, sl_error **err)
{
	const char *what = metric ? "metrics" : "outputs";
	*out = NULL;
	*n = 0;
	if (step)
		id = id == ST_METRIC_GET ? ST_METRIC_GET1 : ST_OUTPUT_GET1;
	run_id = data_run(st, run_id, NULL);
	sqlite3_stmt *s = stmt(st, id);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || (step && bind_text(s, 2, step)))
		return db_fail(st, err, "get %s of run %lld", what, (long long)run_id);
	void *arr;
	if (read_rows(s, sizeof(kv_record), metric ? read_metric_row : read_output_row, &arr, n) <
	    0) {
		kv_record_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "get %s of run %lld", what, (long long)run_id);
	}
	*out = arr;
	return 0;
}

int store_get_metrics(store *st, int64_t run_id, const char *step, kv_record **out, size_t *n,
		      sl_error **err)
{
	return get_kv(st, ST_METRIC_GET, 1, run_id, step, out, n, err);
}

int store_get_outputs(store *st, int64_t run_id, const char *step, kv_record **out, size_t *n,
		      sl_error **err)
{
	return get_kv(st, ST_OUTPUT_GET, 0, run_id, step, out, n, err);
}

void kv_record_free_array(kv_record *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].step);
		free(r[i].key);
		free(r[i].value);
	}
	free(r);
}

static void read_file_row(sqlite3_stmt *s, void *item)
{
	file_record *r = item;
	r->step = col_str(s, 0);
	r->path = col_str(s, 1);
	r->sha256 = col_str(s, 2);
	r->size = sqlite3_column_int64(s, 3);
}

static int get_files(store *st, enum stmt_id id, int64_t run_id, const char *step,
		     file_record **out, size_t *n, sl_error **err)
{
	const char *what = id == ST_FILE_GET ? "output" : "input";
	*out = NULL;
	*n = 0;
	if (step)
		id = id == ST_FILE_GET ? ST_FILE_GET1 : ST_INPUT_GET1;
	run_id = data_run(st, run_id, NULL);
	sqlite3_stmt *s = stmt(st, id);
	if (!s || sqlite3_bind_int64(s, 1, run_id) || (step && bind_text(s, 2, step)))
		return db_fail(st, err, "get %s files of run %lld", what, (long long)run_id);
	void *arr;
	if (read_rows(s, sizeof(file_record), read_file_row, &arr, n) < 0) {
		file_record_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "get %s files of run %lld", what, (long long)run_id);
	}
	*out = arr;
	return 0;
}

int store_get_files(store *st, int64_t run_id, const char *step, file_record **out, size_t *n,
		    sl_error **err)
{
	return get_files(st, ST_FILE_GET, run_id, step, out, n, err);
}

int store_get_inputs(store *st, int64_t run_id, const char *step, file_record **out, size_t *n,
		     sl_error **err)
{
	return get_files(st, ST_INPUT_GET, run_id, step, out, n, err);
}

/* ---- the cache's questions ------------------------------------------------------------------ */

int store_find_cached(store *st, const char *key, int64_t prefer_run, int64_t not_run,
		      step_record **out, size_t *n, sl_error **err)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = stmt(st, ST_CACHED_FIND);
	if (!s || bind_text(s, 1, key) || sqlite3_bind_int64(s, 2, prefer_run) ||
	    sqlite3_bind_int64(s, 3, not_run))
		return db_fail(st, err, "find cache key %.12s", key);
	void *arr;
	if (read_rows(s, sizeof(step_record), read_step_row, &arr, n) < 0) {
		step_record_free_array(arr, *n);
		*n = 0;
		return db_fail(st, err, "find cache key %.12s", key);
	}
	*out = arr;
	return 0;
}

int store_last_step(store *st, const char *pipeline, const char *workspace, const char *name,
		    int64_t not_run, step_record *out, sl_error **err)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *s = stmt(st, ST_STEP_LAST);
	if (!s || bind_text(s, 1, name) || bind_text(s, 2, pipeline) ||
	    bind_text(s, 3, workspace) || sqlite3_bind_int64(s, 4, not_run))
		return db_fail(st, err, "last record of step %s", name);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		read_step_row(s, out);
		sqlite3_reset(s);
		return 1;
	}
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "last record of step %s", name);
	sqlite3_reset(s);
	return 0;
}

int store_each_output_hash(store *st, int (*fn)(void *ctx, const char *hex), void *ctx,
			   sl_error **err)
{
	sqlite3_stmt *s = stmt(st, ST_SHA_ALL);
	if (!s)
		return db_fail(st, err, "list output hashes");
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(s, 0);
		if (hex && fn(ctx, hex) < 0) {
			sqlite3_reset(s);
			return sl_error_make(err, "store: list output hashes: stopped");
		}
	}
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "list output hashes");
	sqlite3_reset(s);
	return 0;
}

/* ---- the no-op index ------------------------------------------------------------------------ */

int store_noop_get(store *st, const char *key, int64_t *run_id, void **files, size_t *len,
		   sl_error **err)
{
	*files = NULL;
	*len = 0;
	sqlite3_stmt *s = stmt(st, ST_NOOP_GET);
	if (!s || bind_text(s, 1, key))
		return db_fail(st, err, "read the no-op index");
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "read the no-op index");
	*run_id = sqlite3_column_int64(s, 0);
	const void *b = sqlite3_column_blob(s, 1);
	*len = (size_t)sqlite3_column_bytes(s, 1);
	*files = xmalloc(*len + 1);
	if (*len)
		memcpy(*files, b, *len);
	sqlite3_reset(s);
	return 1;
}

int store_noop_put(store *st, const char *key, int64_t run_id, const void *files, size_t len,
		   sl_error **err)
{
	sqlite3_stmt *s = stmt(st, ST_NOOP_PUT);
	if (!s || bind_text(s, 1, key) || sqlite3_bind_int64(s, 2, run_id) ||
	    sqlite3_bind_blob(s, 3, files, (int)len, SQLITE_STATIC) || exec_stmt(s) < 0)
		return db_fail(st, err, "write the no-op index");
	return 0;
}

int store_record_noop_run(store *st, const run_new *r, int64_t same_as, int64_t *id, sl_error **err)
{
	if (tx_begin(st) < 0)
		return db_fail(st, err, "record a no-op run");
	if (refuse_live_run(st, r, "record a no-op run", err) < 0)
		return -1;
	char host[HOST_BUF];
	int64_t self = getpid();
	sqlite3_stmt *s = stmt(st, ST_RUN_NOOP);
	if (!s || bind_text(s, 1, r->pipeline) || bind_text(s, 2, r->path) ||
	    bind_text(s, 3, r->workspace) || bind_text(s, 4, r->params_json) ||
	    bind_text(s, 5, r->trigger ? r->trigger : "manual") ||
	    sqlite3_bind_double(s, 6, clock_wall()) ||
	    bind_text(s, 7, host_name(host, sizeof(host))) || sqlite3_bind_int64(s, 8, self) ||
	    sqlite3_bind_int64(s, 9, proc_start_time(self)) || sqlite3_bind_int64(s, 10, same_as) ||
	    exec_stmt(s) < 0)
		return db_fail(st, err, "record a no-op run");
	*id = sqlite3_last_insert_rowid(st->db);
	if (tx_commit(st) < 0)
		return db_fail(st, err, "record a no-op run");
	return 0;
}

void file_record_free_array(file_record *f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++) {
		free(f[i].step);
		free(f[i].path);
		free(f[i].sha256);
	}
	free(f);
}

/* ---- the stat cache of content hashes ------------------------------------------------------ */

static int bind_stat(sqlite3_stmt *s, const char *path, const file_stat_key *k)
{
	return bind_text(s, 1, path) || sqlite3_bind_int64(s, 2, k->size) ||
	       sqlite3_bind_int64(s, 3, k->mtime_ns) || sqlite3_bind_int64(s, 4, k->inode) ||
	       sqlite3_bind_int64(s, 5, k->ctime_ns);
}

int store_lookup_hash(store *st, const char *path, const file_stat_key *k, char *hex,
		      sl_error **err)
{
	sqlite3_stmt *s = stmt(st, ST_HASH_GET);
	if (!s || bind_stat(s, path, k))
		return db_fail(st, err, "look up the hash of %s", path);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "look up the hash of %s", path);
	const unsigned char *t = sqlite3_column_text(s, 0);
	int hit = t && strlen((const char *)t) == 64;
	if (hit)
		memcpy(hex, t, 65);
	sqlite3_reset(s);
	return hit;
}

int store_save_hash(store *st, const char *path, const file_stat_key *k, const char *hex,
		    sl_error **err)
{
	sqlite3_stmt *s = stmt(st, ST_HASH_PUT);
	/* one row, one statement: SQLite makes it a transaction of its own */
	if (!s || bind_stat(s, path, k) || bind_text(s, 6, hex) || exec_stmt(s) < 0)
		return db_fail(st, err, "save the hash of %s", path);
	return 0;
}
