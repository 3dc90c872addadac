/*
 * store.h — the state store: `.sluice/state.db` (SQLite, WAL, foreign keys
 * on, synchronous=NORMAL, a busy timeout so several sluice processes share
 * it), docs/caching.md and docs/state.md.
 *
 * Every change is one transaction, or, inside a batch (below: the
 * executor's turn of its event loop), one savepoint of the batch's
 * transaction, so a `kill -9` of sluice at any moment leaves a consistent
 * database.  The schema has a version table and
 * ordered migrations; opening a newer database than this binary knows is an
 * error, an older one is migrated.
 *
 * Times are Unix seconds as doubles (millisecond precision is plenty).
 * Strings returned in records are owned by the record (free with the
 * matching *_release / *_free function).
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Open (creating when missing) DIR/state.db, DIR/cache/ and DIR/runs/.
 * dir is the state directory itself (".../.sluice"), made 0700, state.db
 * 0600 (and so its -wal and -shm); one left open to other users by an older
 * sluice is closed so, and that is said once on stderr (docs/state.md).  A new state.db is made
 * whole under a temporary name and linked into place, so one that exists but
 * is empty (0 bytes, no write-ahead log) was damaged: a usage error naming it,
 * never a new history.  Errors about what the user pointed at (a file, not a
 * directory; no permission; a read-only file system; a corrupt database, with
 * the hint to run `sluice doctor`) are usage errors.  Also keeps DIR/reserve
 * (store_release_reserve). */
int store_open(const char *dir, store **out, sl_error **err);
/* Open an existing DIR/state.db read-only, for the commands that only read:
 * works in a read-only directory (a database with no write-ahead log is read
 * as immutable there, since state.db-shm cannot be made).  Creates nothing;
 * a database of an older schema is opened with store_open to migrate it. */
int store_open_readonly(const char *dir, store **out, sl_error **err);
void store_close(store *st);
const char *store_dir(const store *st);
/* From now on the free text written (reasons, commands, env_json, why, step
 * outputs' keys and values, metrics' keys) has the secrets' values masked
 * (redact.h); NULL stops it.  r is borrowed: it must outlive its use here. */
struct redactor;
void store_set_redactor(store *st, const struct redactor *r);

/* Batching (the executor's event loop): from store_batch_begin on, the changes
 * share one transaction, begun at the first of them and committed by
 * store_batch_flush (the batch goes on) or store_batch_end.  Without a batch
 * every change is its own transaction.  Call flush before slow work so the
 * write lock is not held across it. */
void store_batch_begin(store *st);
int store_batch_flush(store *st, sl_error **err);
int store_batch_end(store *st, sl_error **err);

/* Find the state directory for a workspace: $SLUICE_STATE, else the first
 * `.sluice` directory found walking up from start (like git), else
 * start/.sluice.  Returns a malloc'd path.  override (--state DIR) wins over
 * $SLUICE_STATE when not NULL; start NULL means ".". */
char *store_locate(const char *start, const char *override);

/* ---- runs ------------------------------------------------------------------ */

typedef struct run_new {
	const char *pipeline;  /* name */
	const char *path;      /* the pipeline file as given */
	const char *workspace; /* absolute */
	const char *snapshot;  /* the file's text as run */
	const char *params_json;
	const char *trigger; /* manual | schedule | ci | rerun | resume */
	int64_t parent_id;   /* 0 = none */
} run_new;

typedef struct run_info {
	int64_t id;
	char *pipeline, *path, *workspace, *snapshot, *params_json, *trigger;
	int64_t parent_id;
	char *status;  /* running | succeeded | failed | rejected | cancelled | interrupted
			* ("interrupted" is derived: status running, orchestrator gone) */
	int exit_code; /* -1 while running */
	double created, started, finished; /* finished 0 while running */
	char *host;
	int64_t pid, pid_start; /* the orchestrator, for liveness */
	int64_t same_as;        /* a no-op run: the run it repeats (its rows stand for it); 0 */
} run_info;

/* Insert a run with status running, this host, this pid and its start time.
 * Fails with a usage error when `forbid_concurrent` and a live run of the same
 * pipeline in the same workspace exists ("run 12 of churn is still running
 * (pid 4242)"), all in one transaction so two starts cannot both win. */
int store_begin_run(store *st, const run_new *r, int forbid_concurrent, int64_t *id,
		    sl_error **err);
/* status: succeeded | failed | rejected | cancelled.  A missing run is a usage error. */
int store_finish_run(store *st, int64_t id, const char *status, int exit_code, sl_error **err);
/* Take over a run (resume): this process becomes its orchestrator (status running
 * again).  A usage error when another live orchestrator still holds it, and, when
 * `forbid_concurrent`, when another live run of the same pipeline in the same
 * workspace exists (the refusal of store_begin_run), in one transaction. */
int store_adopt_run(store *st, int64_t id, int forbid_concurrent, sl_error **err);
/* Delete run id when it has no steps recorded (a run whose start failed, e.g. on a
 * full disk, so that it leaves no empty run behind): 1 deleted, 0 kept, -1 error. */
int store_discard_run(store *st, int64_t id, sl_error **err);
/* Free DIR/reserve, the space store_open keeps on the state directory's file
 * system, so that a run that filled the disk can still record its end; 1 when
 * something was freed.  The next store_open makes it again when there is room. */
int store_release_reserve(store *st);
/* -1 + usage error when missing. */
int store_get_run(store *st, int64_t id, run_info *out, sl_error **err);
/* Newest first; pipeline may be NULL; limit 0 = all.  The records have snapshot NULL
 * (it can be megabytes per run); store_get_run has it. */
int store_list_runs(store *st, const char *pipeline, size_t limit, run_info **out, size_t *n,
		    sl_error **err);
/* How many runs store_list_runs would list without a limit. */
int store_count_runs(store *st, const char *pipeline, int64_t *n, sl_error **err);
/* The newest run of `pipeline` before run `before` that succeeded: 1 and *id, 0 when
 * there is none, -1 on error (the baseline of `sluice metrics`). */
int store_previous_succeeded(store *st, const char *pipeline, int64_t before, int64_t *id,
			     sl_error **err);

/* One metric of one run, for the experiment table (a no-op run's are those of the
 * run it repeats). */
typedef struct run_metric {
	int64_t run_id;
	char *step, *key;
	double num; /* NaN when recorded as NaN */
} run_metric;

/* The metrics of the runs numbered first..last (of `pipeline` when not NULL) in one
 * query: the experiment table of 10,000 runs must not cost 10,000 queries.  Ordered
 * by run id descending, then step name, key. */
int store_list_run_metrics(store *st, const char *pipeline, int64_t first, int64_t last,
			   run_metric **out, size_t *n, sl_error **err);
void run_metric_free_array(run_metric *m, size_t n);
void run_info_release(run_info *r);
void run_info_free_array(run_info *r, size_t n);

/* Seconds from started to finished, as recorded for a run, a step or an attempt;
 * 0 while either is unknown (0: not started, or still running). */
static inline double store_duration(double started, double finished)
{
	return started > 0 && finished > 0 ? finished - started : 0;
}

/* ---- steps and attempts ------------------------------------------------------ */

typedef struct step_record {
	char *name;   /* instance name: train[lr=0.1] */
	char *step;   /* the step it came from: train */
	int position; /* topological position */
	char *status; /* pending | waiting | running | succeeded | failed | upstream_failed |
		       * skipped | cached | cancelled | rejected */
	char *reason; /* "exit 3", "timeout after 30m", ... or NULL */
	int attempts;
	int exit_code;              /* -1 when none */
	double started, finished;   /* 0 when not */
	char *cache_key, *env_hash; /* filled by the reproducibility work; may be NULL */
	int64_t cached_from;        /* run id, or 0 */
	char *command;              /* the resolved command, or "uses NAME" */
	char *env_json;             /* the parts of the env hash, a JSON object */
	char *why;                  /* why it ran, or why it was cached */
	int64_t run_id;             /* filled by the reads; ignored by the writes */
} step_record;

/* Insert or replace the whole row of one step of a run. */
int store_put_step(store *st, int64_t run_id, const step_record *s, sl_error **err);
/* Insert every step of a new run (status pending) in one transaction. */
int store_put_steps(store *st, int64_t run_id, const step_record *s, size_t n, sl_error **err);
/* In position order. */
int store_get_steps(store *st, int64_t run_id, step_record **out, size_t *n, sl_error **err);
void step_record_release(step_record *s);
void step_record_free_array(step_record *s, size_t n);

typedef struct attempt_record {
	int attempt; /* 1-based */
	char *status, *reason;
	int exit_code, signal; /* -1 when none; 0 when none */
	double started, finished;
	char *log_path; /* relative to the state dir */
	int64_t pid;
	int64_t max_rss_kb;
	char *isolation; /* how the sandbox kept the step apart (step_exit.isolation), or NULL */
} attempt_record;

int store_put_attempt(store *st, int64_t run_id, const char *step, const attempt_record *a,
		      sl_error **err);
int store_get_attempts(store *st, int64_t run_id, const char *step, attempt_record **out, size_t *n,
		       sl_error **err);
void attempt_record_free_array(attempt_record *a, size_t n);

/* ---- metrics, step outputs, output files -------------------------------------- */

typedef struct kv_record {
	char *step, *key, *value; /* metrics: value is the number as text */
	double num;               /* metrics only */
} kv_record;

/* Replace the metrics (or the outputs) of one step in one transaction. */
int store_set_metrics(store *st, int64_t run_id, const char *step, const char *const *keys,
		      const double *values, size_t n, sl_error **err);
int store_set_outputs(store *st, int64_t run_id, const char *step, const char *const *keys,
		      const char *const *values, size_t n, sl_error **err);
/* step may be NULL for all steps of the run; ordered by step position, then key. */
int store_get_metrics(store *st, int64_t run_id, const char *step, kv_record **out, size_t *n,
		      sl_error **err);
int store_get_outputs(store *st, int64_t run_id, const char *step, kv_record **out, size_t *n,
		      sl_error **err);
void kv_record_free_array(kv_record *r, size_t n);

typedef struct file_record {
	char *step, *path, *sha256; /* sha256 may be NULL until hashing lands */
	int64_t size;
} file_record;

int store_set_files(store *st, int64_t run_id, const char *step, const file_record *f, size_t n,
		    sl_error **err);
int store_get_files(store *st, int64_t run_id, const char *step, file_record **out, size_t *n,
		    sl_error **err);
/* The same for the inputs a step was keyed on (hashes at the moment it was planned). */
int store_set_inputs(store *st, int64_t run_id, const char *step, const file_record *f, size_t n,
		     sl_error **err);
int store_get_inputs(store *st, int64_t run_id, const char *step, file_record **out, size_t *n,
		     sl_error **err);

/* ---- the cache's questions (docs/caching.md) ---------------------------------- */

/* Steps that succeeded (or were cached) with this cache key, outside run not_run:
 * those of prefer_run first (a rerun's parent), then the newest; at most 8. */
int store_find_cached(store *st, const char *key, int64_t prefer_run, int64_t not_run,
		      step_record **out, size_t *n, sl_error **err);
/* The latest keyed record of step `name` of this pipeline in this workspace outside
 * run not_run, preferring one that succeeded: what "why does it run" compares with.
 * 1 found, 0 none, -1 error. */
int store_last_step(store *st, const char *pipeline, const char *workspace, const char *name,
		    int64_t not_run, step_record *out, sl_error **err);
/* Call fn for each distinct output hash any run recorded (gc's roots). */
int store_each_output_hash(store *st, int (*fn)(void *ctx, const char *hex), void *ctx,
			   sl_error **err);

/* The no-op index: for a key (the pipeline text, params, sluice version...) the last run
 * where every step succeeded or was cached, and the stat of every file it read or
 * wrote, packed by the caller.  get: 1 found (files malloc'd), 0 none, -1 error. */
int store_noop_get(store *st, const char *key, int64_t *run_id, void **files, size_t *len,
		   sl_error **err);
int store_noop_put(store *st, const char *key, int64_t run_id, const void *files, size_t len,
		   sl_error **err);
/* Record a finished run in which nothing needed to run: it is the same as run
 * same_as, whose step rows stand for its own (read through store_get_steps,
 * _files, _inputs, _metrics, _outputs as cached steps) and whose snapshot is
 * its snapshot.  One row, one transaction, so a no-op of a 10,000-step
 * pipeline costs what one run row costs.  Refused like store_begin_run with
 * forbid_concurrent when a live run of the pipeline exists. */
int store_record_noop_run(store *st, const run_new *r, int64_t same_as, int64_t *id,
			  sl_error **err);
void file_record_free_array(file_record *f, size_t n);

/* ---- the stat cache of content hashes (docs/caching.md) ------------------------ */

/* What must not have changed for a recorded hash to stand for the file. */
typedef struct file_stat_key {
	int64_t size, mtime_ns, inode, ctime_ns;
} file_stat_key;

/* 1 and the hash (65 bytes with the NUL) when path was hashed with exactly
 * this stat, 0 when not, -1 on a database error. */
int store_lookup_hash(store *st, const char *path, const file_stat_key *k, char *hex,
		      sl_error **err);
int store_save_hash(store *st, const char *path, const file_stat_key *k, const char *hex,
		    sl_error **err);

/* ---- liveness -------------------------------------------------------------------- */

/* The start time of a process (field 22 of /proc/PID/stat), or -1 when it
 * does not exist: a pid alone can be reused.  A zombie counts as gone. */
int64_t proc_start_time(int64_t pid);
/* 1 when the run's orchestrator (pid + start time, same host) is alive. */
int store_run_alive(const run_info *r);

#endif
