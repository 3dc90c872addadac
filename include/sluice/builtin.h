/*
 * builtin.h — the table of built-in steps (`uses: NAME`, docs/steps/).
 *
 * A built-in runs as a child process like any other step: the engine starts
 * `sluice step NAME --with key=value ...`, so logs, timeouts and retries
 * apply.  A `with` value that is a YAML list or map is passed as JSON text.
 * The table also serves `validate`: the keys a built-in accepts (for "did
 * you mean") and those it requires.
 */
#ifndef SLUICE_BUILTIN_H
#define SLUICE_BUILTIN_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdio.h>

/* The resolved arguments of one invocation. */
typedef struct builtin_args {
	const char *name;        /* the built-in's name */
	const char *const *keys; /* with keys, in the order given */
	const char *const *vals; /* with values (JSON text for lists and maps) */
	size_t n;
	const char *cwd;         /* relative paths are resolved against it */
	const char *output_file; /* $SLUICE_OUTPUT (key=value lines), or NULL */
	FILE *log;               /* human-readable progress and summaries */
} builtin_args;

/* The value of key, or NULL when not given. */
const char *builtin_arg(const builtin_args *a, const char *key);

enum builtin_flags {
	BUILTIN_SANDBOXED = 1 << 0,    /* data steps: run inside the sandbox */
	BUILTIN_SIDE_EFFECTS = 1 << 1, /* never cached */
};

typedef struct builtin_step {
	const char *name;
	const char *summary;
	const char *const *keys;     /* NULL-terminated: every key `with` accepts */
	const char *const *required; /* NULL-terminated: keys that must be given */
	/* NULL-terminated: keys whose values are workspace files the step reads;
	 * they are inputs for the DAG and the cache like a run step's `inputs`. */
	const char *const *input_keys;
	int flags;
	/* Returns 0 on success; -1 with *err when the step fails.  A failing
	 * check (validation failed, drift found with fail_on_drift) is an error
	 * whose message is the step's reason. */
	int (*run)(const builtin_args *args, sl_error **err);
} builtin_step;

const builtin_step *builtin_find(const char *name);
/* All built-ins, for "did you mean" and `sluice help step`. */
const builtin_step *builtin_list(size_t *n);
/* One line per built-in (name, summary, whether this version runs it). */
void builtin_print_list(FILE *out, const char *indent);

/* Entry points, one per file in steps/. */
int builtin_validate_data_run(const builtin_args *args, sl_error **err);
int builtin_drift_run(const builtin_args *args, sl_error **err);

#endif
