/*
 * cli.h — the command table and its option parser (style.md section 5).
 *
 * Each command is one `cmd_<verb>` in orchestrator/cmd_<verb>.c, declared
 * here, with its options in one place; `--help`, `sluice help CMD` and the
 * "did you mean" for unknown commands and options are made from the table.
 * A command returns the process exit code (docs/cli.md).
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>

enum {
	EXIT_OK = 0,
	EXIT_STEP_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_REJECTED = 3,
	EXIT_INTERRUPTED = 130,
};

enum cli_arg { CLI_FLAG, CLI_VALUE, CLI_LIST /* may repeat */ };

typedef struct cli_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* or 0 */
	enum cli_arg arg;
	const char *metavar; /* "N", "FILE", "k=v" */
	const char *help;
} cli_opt;

typedef struct cli_args {
	const struct cli_cmd *cmd;
	const char **pos; /* positional arguments */
	size_t npos;
	/* per option in cmd->opts: how often seen and its values */
	size_t *count;
	const char ***vals;
} cli_args;

typedef struct cli_cmd {
	const char *name;
	int (*fn)(const cli_args *args);
	const char *usage;   /* "FILE [-p k=v]..." */
	const char *summary; /* one line */
	const char *details; /* paragraphs for --help, or NULL */
	const cli_opt *opts; /* terminated by {0} */
	size_t min_pos, max_pos;
} cli_cmd;

#define CLI_MANY ((size_t)-1)

/* Parse argv (argv[0] is the command name) against cmd.  Returns 0, or -1 with
 * a usage error ("unknown option --forse (did you mean --force?)"). */
int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_args *out, sl_error **err);
void cli_args_release(cli_args *args);

int cli_flag(const cli_args *a, const char *name);          /* times given */
const char *cli_value(const cli_args *a, const char *name); /* last value or NULL */
const char *const *cli_values(const cli_args *a, const char *name, size_t *n);

/* Print the error as "sluice: message" on stderr and return its exit code
 * (2 for usage errors, else 1).  Releases the error. */
int cli_fail(sl_error **err);
/* Print the help of one command on stdout. */
void cli_print_help(const cli_cmd *cmd);

const cli_cmd *cli_find(const char *name);
const cli_cmd *cli_commands(size_t *n);
int cli_main(int argc, char **argv);

/* Load the pipeline file pos[0] with the repeated `-p key=value` (option
 * "param") and build its DAG.  Returns 0 with both set, or an exit code
 * after printing every error (FILE:LINE:COL: message). */
struct pipeline;
struct dag;
int cli_load_dag(const cli_args *a, struct pipeline **p, struct dag **d);

/* Open the state store of a workspace (option "state", $SLUICE_STATE, or .sluice found upwards). */
struct store;
int cli_open_store(const cli_args *a, const char *workspace, struct store **st, sl_error **err);
/* The same for commands that only read (runs, status, logs, show, diff, gc): from
 * the current directory, read-only (store_open_readonly, so a read-only state
 * directory can be read), and a usage error when no state directory exists. */
int cli_open_existing_store(const cli_args *a, struct store **st, sl_error **err);
/* Parse a run id: a positive integer, `latest` or `latest~N` (those as a
 * negative id until cli_resolve_run); else a usage error. */
int cli_run_id(const char *s, int64_t *id, sl_error **err);
/* An id from cli_run_id that says latest or latest~N (negative) made the id
 * of that run of st: the newest, or N before it, of all the runs recorded. */
int cli_resolve_run(struct store *st, int64_t *id, sl_error **err);
/* The opening of the commands that read recorded runs (status, logs, show, diff;
 * rerun and resume with cli_open_runs_writable): the run ids in pos[0..nids),
 * then the existing store, as cli_open_existing_store.  0, or -1 with the first error (a bad id
 * before a missing state directory). */
int cli_open_runs(const cli_args *a, int64_t *ids, size_t nids, struct store **st, sl_error **err);
/* The same, opening the store for writing (rerun, resume). */
int cli_open_runs_writable(const cli_args *a, int64_t *ids, size_t nids, struct store **st,
			   sl_error **err);

/* The two runs a comparison (diff, params diff) is about: pos[from..from+2) when
 * given, else the latest two runs of the pipeline of the latest run (older first).
 * Opens the existing store; a usage error when there are fewer than two runs or one
 * run id is given alone. */
int cli_open_run_pair(const cli_args *a, size_t from, int64_t ids[2], struct store **st,
		      sl_error **err);

/* The commands. */
int cmd_run(const cli_args *a);
int cmd_rerun(const cli_args *a);
int cmd_resume(const cli_args *a);
int cmd_gc(const cli_args *a);
int cmd_doctor(const cli_args *a);
int cmd_plan(const cli_args *a);
int cmd_runs(const cli_args *a);
int cmd_status(const cli_args *a);
int cmd_logs(const cli_args *a);
int cmd_diff(const cli_args *a);
int cmd_metrics(const cli_args *a);
int cmd_params(const cli_args *a);
int cmd_show(const cli_args *a);
int cmd_validate(const cli_args *a);
int cmd_graph(const cli_args *a);
int cmd_step(const cli_args *a);
int cmd_cron(const cli_args *a);
int cmd_version(const cli_args *a);
int cmd_help(const cli_args *a);

#endif
