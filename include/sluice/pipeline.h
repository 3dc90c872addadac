/*
 * pipeline.h — the pipeline model: a pipeline.yaml parsed into typed structs
 * (docs/pipeline-reference.md).  Every value keeps the line and column it came from,
 * so any later check can point at it.
 *
 * The loader reports every error it finds (up to DIAG_MAX) as
 * FILE:LINE:COL: message.  Strings that may hold `${{ }}` are kept as text
 * (templates); their expressions are parsed and their names checked here,
 * and evaluated later by the engine.  A pipeline and everything it points to
 * live in its arena and are freed at once by pipeline_free().
 *
 * The model knows nothing of the store, the cache or the runners.
 */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include "sluice/arena.h"
#include "sluice/diag.h"
#include "sluice/expr.h"
#include "sluice/yamldoc.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct spos {
	int line, col;
} spos;

/* A located string (a path, a name in `needs`, a template). */
typedef struct pstr {
	const char *s;
	spos pos;
	const ynode *node; /* where it was read (quoting style for error columns), or NULL */
} pstr;

typedef struct pstr_list {
	pstr *v;
	size_t n;
} pstr_list;

typedef struct penv {
	const char *name;
	const char *value; /* a template */
	spos pos;
} penv;

/* A param.  Nested maps are flattened: `train: {lr: 0.1}` is the param
 * "train.lr" (`${{ params.train.lr }}`, `-p train.lr=0.1`). */
typedef struct pparam {
	const char *name;
	expr_value value; /* typed as written: number, string or bool */
	spos pos;         /* where the value was set */
	const char *file; /* ... in this params file (as shown in errors); NULL: the pipeline's */
	int declared;     /* under the pipeline's params: (a params file must keep its type) */
	int overridden;   /* set by -p */
} pparam;

enum retry_on {
	RETRY_ON_ERROR = 1 << 0, /* non-zero exit, missing output */
	RETRY_ON_TIMEOUT = 1 << 1,
	RETRY_ON_SIGNAL = 1 << 2, /* killed by a signal (not by our timeout) */
	RETRY_ON_OOM = 1 << 3,
	RETRY_ON_ALL = 0xf,
};

typedef struct retry_policy {
	int limit;          /* retries after the first attempt; 0 = none */
	int64_t backoff_ms; /* wait before the first retry */
	double factor;      /* backoff multiplier per retry */
	int64_t max_backoff_ms;
	unsigned on; /* enum retry_on mask */
} retry_policy;

typedef struct sandbox_config {
	int enabled;       /* 0 for `sandbox: none` */
	int network;       /* 1: the step may use the network */
	uint64_t memory;   /* bytes; 0 = no limit */
	double cpus;       /* 0 = no limit */
	int64_t pids;      /* 0 = no limit; default 4096 */
	uint64_t tmpfs;    /* size of /tmp, /dev/shm and HOME each; 0 = the memory limit, else 1G */
	const char **read; /* absolute host paths bound read-only (`read:`), normalized */
	spos *read_pos;    /* where each was written, for --sandbox strict */
	size_t nread;
} sandbox_config;

typedef struct resources {
	int gpus;
	uint64_t gpu_memory; /* bytes per GPU; 0 = any */
	double cpus;         /* counted against the machine; default 1 */
	uint64_t memory;     /* counted against the machine; 0 = not counted */
} resources;

enum on_no_gpu { ON_NO_GPU_DEFAULT, ON_NO_GPU_FAIL, ON_NO_GPU_CPU, ON_NO_GPU_WAIT };

#define PIPELINE_MAX_MATRIX_AXES      16
#define PIPELINE_MAX_MATRIX_INSTANCES 10000

/* A matrix axis: `lr: [0.1, 0.01]`. */
typedef struct pmatrix_axis {
	const char *key;
	spos pos;
	const char **values; /* scalars as text */
	expr_type *types;    /* EXPR_NUM, EXPR_BOOL or EXPR_STR, as written */
	size_t n;
} pmatrix_axis;

typedef struct pstep {
	const char *name;
	spos pos;
	const char *description;
	pstr run;          /* template, or s == NULL */
	pstr uses;         /* built-in name, or s == NULL */
	const ynode *with; /* map, or NULL; values are templates (lists/maps: JSON) */
	pstr_list needs;
	pstr_list inputs; /* templates of workspace-relative paths */
	pstr_list outputs;
	pstr metrics; /* template of a path to a JSON file, or s == NULL */
	penv *env;    /* the pipeline's env, then the step's (step wins) */
	size_t nenv;
	pstr when; /* template, or s == NULL */
	pmatrix_axis *matrix;
	size_t nmatrix;
	int64_t timeout_ms;       /* 0 = none */
	int64_t grace_ms;         /* SIGTERM → SIGKILL */
	uint64_t max_log_size;    /* bytes of log kept: head and tail (default 100M) */
	uint64_t max_output_size; /* bytes of all outputs together; 0 = no limit */
	retry_policy retries;
	sandbox_config sandbox;
	resources res;
	int cache;             /* 0 with `cache: false` */
	int continue_on_error; /* a failure is recorded, and its dependents run anyway */
	const char *runner;    /* "local" or "slurm" */
	enum on_no_gpu on_no_gpu;
	pstr_list params_decl; /* `params: [name, ...]`: what a script reads from $SLUICE_PARAMS */
	/* the params the step uses: those its templates name and those it
	 * declares (a group name such as `train` stands for train.*), sorted by
	 * name; they alone enter its cache key and its $SLUICE_PARAMS file */
	const pparam **params;
	size_t nparams;
} pstep;

enum catchup { CATCHUP_NONE, CATCHUP_LATEST, CATCHUP_ALL };
enum concurrency { CONCURRENCY_FORBID, CONCURRENCY_ALLOW, CONCURRENCY_REPLACE };

typedef struct pschedule {
	int present;
	pstr cron;
	pstr timezone; /* default "UTC" */
	enum catchup catchup;
	enum concurrency concurrency;
} pschedule;

enum notify_on { NOTIFY_SUCCESS = 1, NOTIFY_FAILURE = 2, NOTIFY_REJECTED = 4 };

typedef struct pnotify {
	int present;
	unsigned on;  /* enum notify_on mask; default failure|rejected */
	pstr webhook; /* template */
} pnotify;

typedef struct pipeline {
	arena mem;
	const char *path; /* as given on the command line */
	const char *dir;  /* the workspace: absolute directory of the file */
	const char *text; /* the file's bytes, NUL-terminated (the run snapshot) */
	size_t text_len;
	const char *name;
	const char *description;
	pparam *params; /* sorted by name */
	size_t nparams;
	pstr_list params_files; /* `params_files:` as written */
	/* every params file read, in order (params_files:, then --params-file),
	 * relative to the workspace, with their stat when read: inputs of the
	 * run (the no-op index records them) */
	const char **params_read;
	struct stat *params_read_stat;
	size_t nparams_read;
	penv *env;
	size_t nenv;
	pstr_list secrets;
	pschedule schedule;
	pnotify notify;
	enum concurrency concurrency; /* from schedule, default forbid */
	const char *runner;
	pstep *steps;
	size_t nsteps;
} pipeline;

/* A `-p key=value` override. */
typedef struct param_override {
	const char *key;
	const char *value;
} param_override;

/* Where params come from besides the pipeline's own `params:` (each
 * source overrides the ones before it): the pipeline's `params_files:`,
 * then params_files (--params-file), then the -p overrides.  A params file
 * is YAML or JSON, relative to the workspace and beneath it; it may hold
 * keys no step uses, and it may add params the pipeline does not declare
 * (typed as written); a value for a declared param keeps its type.
 * recorded: the params of a recorded run (pipeline_params_json(p, 0)),
 * which take the place of every params file (rerun, resume, show: the run
 * is reproduced even after params.yaml changed); the -p overrides still
 * apply after them. */
typedef struct pipeline_load_opts {
	const param_override *ov;
	size_t nov;
	const char *const *params_files;
	size_t nparams_files;
	const char *recorded;
} pipeline_load_opts;

int pipeline_load_with(const char *path, const pipeline_load_opts *o, pipeline **out,
		       diag_list *diags);
int pipeline_load_text_with(const char *path, const char *dir, const char *text, size_t len,
			    const pipeline_load_opts *o, pipeline **out, diag_list *diags);

/* Load and check path.  Every error goes to diags; returns 0 when the file
 * is valid, -1 otherwise.  Even on -1, *out may hold the part of the
 * pipeline that could be read (NULL when not even the YAML could be), so
 * that `validate` can run the DAG checks (needs, outputs, cycles, steps.*
 * references, made by dag_build()) and report those errors too; the
 * caller frees *out either way and must not run an invalid pipeline. */
int pipeline_load(const char *path, const param_override *ov, size_t nov, pipeline **out,
		  diag_list *diags);
/* The same from text in memory (tests, fuzzing, run snapshots); dir is the workspace. */
int pipeline_load_text(const char *path, const char *dir, const char *text, size_t len,
		       const param_override *ov, size_t nov, pipeline **out, diag_list *diags);
void pipeline_free(pipeline *p);

const pstep *pipeline_find_step(const pipeline *p, const char *name);
const pparam *pipeline_find_param(const pipeline *p, const char *name);

/* The params as one JSON object, keys sorted: a whole number is an integer
 * (300, not 300.0), so the text is the same whichever way it was typed.
 * pretty: nested maps again ({"train": {"lr": 0.1}}), indented by 2, as a
 * script reads them (runs/RUN/params.json); else compact and flat
 * ({"train.lr": 0.1}: the run's record, which rerun reads back and runs
 * and diff show as columns).  malloc'd; the caller frees it. */
char *pipeline_params_json(const pipeline *p, int pretty);
/* The $SLUICE_PARAMS file of step st: only the params it uses, nested and
 * indented as above ("{}" when it uses none).  malloc'd. */
char *pipeline_step_params_json(const pstep *st);
/* One param's value as JSON (a new reference), typed as above. */
struct json_t *pipeline_param_json(const pparam *pp);
/* The param that parts[0..n) name (params.train.lr: {"train", "lr"}), or NULL. */
const pparam *pipeline_find_param_parts(const pipeline *p, const char *const *parts, size_t n);

/* Turn the byte offset of an expression error inside template t into the
 * line and column of the file (exact for one-line and literal-block values,
 * the value's start otherwise). */
spos pipeline_template_pos(const pipeline *p, const pstr *t, size_t offset);

#endif
