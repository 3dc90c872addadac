/*
 * cli.c — the command table, option parsing and generated help.
 * Only this layer prints errors and chooses exit codes (style.md section 2).
 */
#include "sluice/cli.h"

#include "sluice/arena.h"
#include "sluice/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt no_opts[] = {{0}};

static const cli_opt validate_opts[] = {
	{"quiet", 'q', CLI_FLAG, NULL, "print nothing when the files are valid"}, {0}};

static const cli_opt graph_opts[] = {
	{"format", 0, CLI_VALUE, "dot|mermaid", "output format (default dot)"},
	{"param", 'p', CLI_LIST, "k=v", "override a param (repeatable)"},
	{0}};

/* docs/sandbox.md, "Strict mode"; the commands that run steps, and plan */
#define SANDBOX_OPT                                                                                \
	{                                                                                          \
		"sandbox", 0, CLI_VALUE, "default|strict",                                         \
			"strict: refuse steps that could leave the sandbox ($SLUICE_SANDBOX)"      \
	}

#define PARAMS_FILE_OPT                                                                            \
	{                                                                                          \
		"params-file", 0, CLI_LIST, "FILE",                                                \
			"params from a YAML or JSON file, after params_files: (repeatable)"        \
	}

static const cli_opt run_opts[] = {
	{"param", 'p', CLI_LIST, "k=v", "override a param"},
	PARAMS_FILE_OPT,
	{"jobs", 'j', CLI_VALUE, "N", "run at most N steps at once (default: number of cores)"},
	{"only", 0, CLI_VALUE, "STEP", "run just this step (its inputs must exist)"},
	{"from", 0, CLI_VALUE, "STEP", "run this step and everything downstream of it"},
	{"force", 0, CLI_FLAG, NULL, "run every step even when a cached result exists"},
	{"runner", 0, CLI_VALUE, "local|slurm", "where steps run (default: the pipeline's)"},
	{"ci", 0, CLI_FLAG, NULL, "plain progress lines, trigger 'ci' (also when $CI is set)"},
	{"json", 0, CLI_FLAG, NULL, "print the run as one JSON document on stdout"},
	{"junit", 0, CLI_VALUE, "FILE", "write JUnit XML, one <testcase> per step"},
	{"fail-fast", 0, CLI_FLAG, NULL, "cancel independent branches after a failure"},
	SANDBOX_OPT,
	{"state", 0, CLI_VALUE, "DIR", "the state directory (default: .sluice found upwards)"},
	{0}};

static const cli_opt plan_opts[] = {
	{"param", 'p', CLI_LIST, "k=v", "override a param"},
	PARAMS_FILE_OPT,
	{"only", 0, CLI_VALUE, "STEP", "plan just this step"},
	{"from", 0, CLI_VALUE, "STEP", "plan this step and everything downstream of it"},
	{"force", 0, CLI_FLAG, NULL, "plan as `run --force` would run"},
	{"json", 0, CLI_FLAG, NULL, "print a JSON array"},
	SANDBOX_OPT,
	{"state", 0, CLI_VALUE, "DIR", "the state directory (default: .sluice found upwards)"},
	{0}};

/* what rerun and resume share with run: how it executes and reports */
#define EXECUTE_OPTS                                                                               \
	{"jobs", 'j', CLI_VALUE, "N", "run at most N steps at once (default: number of cores)"},   \
		{"ci", 0, CLI_FLAG, NULL, "plain progress lines (also when $CI is set)"},          \
		{"json", 0, CLI_FLAG, NULL, "print the run as one JSON document on stdout"},       \
		{"junit", 0, CLI_VALUE, "FILE", "write JUnit XML, one <testcase> per step"},       \
		{"fail-fast", 0, CLI_FLAG, NULL, "cancel independent branches after a failure"},   \
		SANDBOX_OPT,                                                                       \
	{                                                                                          \
		"state", 0, CLI_VALUE, "DIR", "the state directory"                                \
	}

static const cli_opt rerun_opts[] = {
	{"step", 0, CLI_VALUE, "STEP", "run this step and its downstream again, cached or not"},
	{"current", 0, CLI_FLAG, NULL, "use the pipeline file as it is now, not the snapshot"},
	EXECUTE_OPTS,
	{0}};

static const cli_opt resume_opts[] = {EXECUTE_OPTS, {0}};

static const cli_opt doctor_opts[] = {{"state", 0, CLI_VALUE, "DIR", "the state directory"}, {0}};
static const cli_opt gc_opts[] = {
	{"dry-run", 'n', CLI_FLAG, NULL, "list what would be removed, remove nothing"},
	{"wait", 0, CLI_VALUE, "DURATION",
	 "wait up to DURATION (30s, 10m) for running runs to finish (default: refuse at once)"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt runs_opts[] = {
	{"pipeline", 0, CLI_VALUE, "NAME", "only runs of this pipeline"},
	{"sort", 0, CLI_VALUE, "METRIC[:asc]",
	 "order by a metric, largest first (:asc smallest first); runs without it last"},
	{"limit", 'n', CLI_VALUE, "N", "the newest N runs (default 20, with --json all; 0: all)"},
	{"json", 0, CLI_FLAG, NULL, "print a JSON array, with each run's params and metrics"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt status_opts[] = {
	{"json", 0, CLI_FLAG, NULL, "print the run as the JSON document of `run --json`"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt logs_opts[] = {
	{"attempt", 0, CLI_VALUE, "N", "which attempt (default: the last)"},
	{"follow", 'f', CLI_FLAG, NULL, "keep printing while the step runs"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt show_opts[] = {{"json", 0, CLI_FLAG, NULL, "print one JSON document"},
				    {"state", 0, CLI_VALUE, "DIR", "the state directory"},
				    {0}};

static const cli_opt diff_opts[] = {
	{"all", 'a', CLI_FLAG, NULL, "every row, not only those that changed"},
	{"json", 0, CLI_FLAG, NULL, "print one JSON document"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt metrics_opts[] = {
	{"diff", 'd', CLI_FLAG, NULL,
	 "compare with the previous succeeded run of the pipeline (or with RUN_B)"},
	{"json", 0, CLI_FLAG, NULL, "print one JSON document"},
	{"md", 0, CLI_FLAG, NULL, "print a Markdown table (for a pull-request comment)"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt params_opts[] = {
	{"all", 'a', CLI_FLAG, NULL, "every param, not only those that changed"},
	{"json", 0, CLI_FLAG, NULL, "print one JSON document"},
	{"md", 0, CLI_FLAG, NULL, "print a Markdown table"},
	{"state", 0, CLI_VALUE, "DIR", "the state directory"},
	{0}};

static const cli_opt step_opts[] = {
	{"with", 'w', CLI_LIST, "k=v", "an argument of the built-in step (repeatable)"}, {0}};

static const cli_opt cron_opts[] = {
	{"from", 0, CLI_VALUE, "ISO8601", "list fires strictly after this time (default: now)"},
	{"tz", 0, CLI_VALUE, "ZONE", "the IANA time zone of the schedule (default UTC)"},
	{"count", 'n', CLI_VALUE, "N", "how many fire times (default 5)"},
	{0}};

static const cli_cmd commands[] = {
	{"validate", cmd_validate, "FILE...", "check pipeline files and report every error",
	 "Each error is printed as FILE:LINE:COL: message. Exit 0 when every file is valid,\n"
	 "2 otherwise.",
	 validate_opts, 1, CLI_MANY},
	{"graph", cmd_graph, "FILE [--format dot|mermaid]", "print the DAG of a pipeline",
	 "Matrix steps are expanded into their instances; edges come from `needs` and from\n"
	 "inputs that are another step's outputs.",
	 graph_opts, 1, 1},
	{"plan", cmd_plan, "FILE [-p k=v]... [--only STEP | --from STEP] [--json]",
	 "what a run would do and in which order, without running anything", NULL, plan_opts, 1, 1},
	{"run", cmd_run, "FILE [-p k=v]... [-j N] [--only STEP | --from STEP] [--ci] [--json]",
	 "run a pipeline",
	 "Every step runs as its own process group with a scrubbed environment; its output\n"
	 "goes to .sluice/runs/RUN/STEP/ATTEMPT/log. Exit 0 when every step succeeded, 1 when\n"
	 "a step failed, 2 when the pipeline is invalid (nothing ran), 3 when a gate rejected\n"
	 "the candidate, 130 when interrupted.",
	 run_opts, 1, 1},
	{"rerun", cmd_rerun, "RUN [--step STEP] [--current]",
	 "a new run of a recorded run, taking what succeeded from it",
	 "Runs the pipeline snapshot of RUN (with --current the file as it is now) with RUN's\n"
	 "params as a new run whose parent is RUN. Steps whose cache key is unchanged are\n"
	 "taken from RUN (their outputs restored); failed, cancelled, skipped and changed\n"
	 "steps and everything downstream of them run. --step STEP runs STEP and its\n"
	 "downstream again even when they could be taken from the cache.",
	 rerun_opts, 1, 1},
	{"resume", cmd_resume, "RUN", "continue an interrupted or cancelled run",
	 "Takes over RUN (its orchestrator died, or it was cancelled with Ctrl-C): step\n"
	 "processes it left behind are killed, finished steps keep their results (outputs\n"
	 "restored from the cache where the workspace lost them), and the rest runs.",
	 resume_opts, 1, 1},
	{"runs", cmd_runs, "[--pipeline NAME] [--sort METRIC[:asc]] [--limit N] [--json]",
	 "the experiment table: runs, newest first, with their metrics and the params that differ",
	 "One row per run: its id, pipeline, status, trigger, start, then a column per metric the\n"
	 "listed runs recorded (named by its key, or STEP.KEY when two steps record the key),\n"
	 "then a column per param whose value is not the same in every listed run. On a\n"
	 "terminal (or with $COLUMNS) the columns that do not fit are left out from the right\n"
	 "and named on stderr. --sort orders the listed runs by a metric, largest first\n"
	 "(METRIC:asc: smallest first); runs without it, or with NaN, come last.",
	 runs_opts, 0, 0},
	{"status", cmd_status, "RUN [--json]", "a run's steps, states, durations and reasons", NULL,
	 status_opts, 1, 1},
	{"logs", cmd_logs, "RUN STEP [--attempt N] [-f]", "print a step's log", NULL, logs_opts, 2,
	 2},
	{"show", cmd_show, "RUN STEP [--json]",
	 "one step of a run: command, attempts, outputs with hashes, metrics, settings", NULL,
	 show_opts, 2, 2},
	{"diff", cmd_diff, "[RUN_A RUN_B] [--all] [--json]",
	 "what changed between two runs: params, statuses, metrics and output hashes",
	 "Only the rows that differ are shown (marked '*'); --all shows every row. Metrics show\n"
	 "the change from RUN_A to RUN_B; numbers within 1e-9 of each other (relative) are the\n"
	 "same. Without runs: the latest two runs of the latest run's pipeline.",
	 diff_opts, 0, 2},
	{"metrics", cmd_metrics, "[RUN [RUN_B]] [--diff] [--json | --md]",
	 "a run's metrics, or how they changed from one run to another",
	 "Without RUN: the latest run against the previous succeeded run of its pipeline. RUN\n"
	 "alone: its metrics; with --diff against the previous succeeded run of its pipeline.\n"
	 "RUN RUN_B: from RUN to RUN_B. --md prints a Markdown table for a pull-request\n"
	 "comment (as `dvc metrics diff --md`): step, metric, old, new, change.",
	 metrics_opts, 0, 2},
	{"params", cmd_params, "diff [RUN_A RUN_B] [--all] [--json | --md]",
	 "the params that changed between two runs",
	 "Without runs: the latest two runs of the latest run's pipeline. Nested params are\n"
	 "named with dots (train.lr); --all shows the params that did not change too.",
	 params_opts, 1, 3},
	{"step", cmd_step, "NAME [--with k=v]...", "run a built-in step directly",
	 "Relative paths are resolved against the current directory. `sluice help step`\n"
	 "lists the built-in steps.",
	 step_opts, 0, 1},
	{"gc", cmd_gc, "[--dry-run] [--wait DURATION]",
	 "remove cache objects that no run references",
	 "An object stays while any recorded run lists it as an output (directly or inside a\n"
	 "directory output). gc takes the state directory's lock exclusive; every run holds it\n"
	 "shared, so gc never removes what a live run needs. While a run is in progress gc\n"
	 "refuses at once (exit 2, naming the run), or with --wait waits up to DURATION.\n"
	 "Temporary files changed within the last hour are left alone.",
	 gc_opts, 0, 0},
	{"doctor", cmd_doctor, "", "check the state directory and say how to repair it",
	 "Runs SQLite's integrity and foreign key checks on state.db (read-only), reports its\n"
	 "schema version and recorded outputs missing from the cache, and, when state.db is\n"
	 "damaged, prints the steps to recover what can be read. Exit 0 when sound, 2 when not.",
	 doctor_opts, 0, 0},
	{"cron", cmd_cron, "\"EXPR\" [--from ISO8601] [--tz ZONE] [-n N]",
	 "the next fire times of a cron expression",
	 "Prints the next N (default 5) fire times strictly after --from, one ISO 8601 time\n"
	 "with its UTC offset per line, in ZONE (default UTC). --from without an offset is\n"
	 "a wall time in ZONE; with Z or +HH:MM it is that instant. EXPR has five fields\n"
	 "(minute hour day-of-month month day-of-week) or is @hourly, @daily, @weekly,\n"
	 "@monthly or @yearly. A fire in a skipped hour (clocks go forward) happens once,\n"
	 "right after the jump; one in a repeated hour once, at its first occurrence\n"
	 "(docs/scheduling.md). A bad expression or zone is exit 2.",
	 cron_opts, 1, 1},
	{"version", cmd_version, "", "print the version", NULL, no_opts, 0, 0},
	{"help", cmd_help, "[COMMAND]", "list the commands, or explain one", NULL, no_opts, 0, 1},
};

const cli_cmd *cli_commands(size_t *n)
{
	*n = sizeof(commands) / sizeof(commands[0]);
	return commands;
}

const cli_cmd *cli_find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char *suggest_command(const char *word)
{
	const char *names[sizeof(commands) / sizeof(commands[0])];
	size_t n = 0;
	for (; n < sizeof(commands) / sizeof(commands[0]); n++)
		names[n] = commands[n].name;
	return did_you_mean(word, names, n);
}

static size_t count_opts(const cli_opt *o)
{
	size_t n = 0;
	while (o[n].name)
		n++;
	return n;
}

static int add_value(cli_args *out, size_t i, const char *v)
{
	out->vals[i] = xrealloc(out->vals[i], sizeof(char *) * (out->count[i] + 1));
	out->vals[i][out->count[i]++] = v;
	return 0;
}

static int unknown_option(const cli_cmd *cmd, const char *opt, sl_error **err)
{
	size_t n = count_opts(cmd->opts);
	const char **names = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		names[i] = cmd->opts[i].name;
	names[n] = "help";
	const char *name = opt + strspn(opt, "-");
	char buf[128];
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(name, "="), name);
	const char *s = did_you_mean(buf, names, n + 1);
	int r;
	if (s)
		r = sl_error_usage(err, "%s: unknown option %s (did you mean --%s?)", cmd->name,
				   opt, s);
	else
		r = sl_error_usage(err, "%s: unknown option %s (see 'sluice %s --help')", cmd->name,
				   opt, cmd->name);
	free(names);
	return r;
}

int cli_parse(const cli_cmd *cmd, int argc, char **argv, cli_args *out, sl_error **err)
{
	size_t nopts = count_opts(cmd->opts);
	memset(out, 0, sizeof(*out));
	out->cmd = cmd;
	out->count = xcalloc(nopts + 1, sizeof(size_t));
	out->vals = xcalloc(nopts + 1, sizeof(char **));
	out->pos = xcalloc((size_t)argc + 1, sizeof(char *));
	int only_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || a[1] == 0) {
			out->pos[out->npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		size_t oi = nopts;
		const char *inline_val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2;
			size_t len = strcspn(name, "=");
			for (size_t k = 0; k < nopts; k++)
				if (strlen(cmd->opts[k].name) == len &&
				    strncmp(cmd->opts[k].name, name, len) == 0)
					oi = k;
			if (name[len] == '=')
				inline_val = name + len + 1;
		} else {
			for (size_t k = 0; k < nopts; k++)
				if (cmd->opts[k].short_name && cmd->opts[k].short_name == a[1])
					oi = k;
			if (oi < nopts && a[2])
				inline_val = a + 2;
		}
		if (oi == nopts)
			return unknown_option(cmd, a, err);
		const cli_opt *o = &cmd->opts[oi];
		if (o->arg == CLI_FLAG) {
			if (inline_val)
				return sl_error_usage(err, "%s: option --%s takes no value",
						      cmd->name, o->name);
			out->count[oi]++;
			continue;
		}
		if (!inline_val) {
			if (i + 1 >= argc)
				return sl_error_usage(err, "%s: option --%s needs a value (%s)",
						      cmd->name, o->name,
						      o->metavar ? o->metavar : "VALUE");
			inline_val = argv[++i];
		}
		if (o->arg == CLI_VALUE && out->count[oi]) {
			/* a second value replaces the first, as with most CLIs */
			out->vals[oi][0] = inline_val;
			continue;
		}
		add_value(out, oi, inline_val);
	}
	if (out->npos < cmd->min_pos)
		return sl_error_usage(err, "%s: missing argument (usage: sluice %s %s)", cmd->name,
				      cmd->name, cmd->usage);
	if (cmd->max_pos != CLI_MANY && out->npos > cmd->max_pos)
		return sl_error_usage(err, "%s: unexpected argument '%s' (usage: sluice %s %s)",
				      cmd->name, out->pos[cmd->max_pos], cmd->name, cmd->usage);
	return 0;
}

void cli_args_release(cli_args *args)
{
	if (args->cmd && args->vals) {
		size_t n = count_opts(args->cmd->opts);
		for (size_t i = 0; i < n; i++)
			free(args->vals[i]);
	}
	free(args->vals);
	free(args->count);
	free(args->pos);
	memset(args, 0, sizeof(*args));
}

static size_t opt_index(const cli_args *a, const char *name)
{
	size_t n = count_opts(a->cmd->opts);
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->cmd->opts[i].name, name) == 0)
			return i;
	fprintf(stderr, "sluice: BUG: command %s has no option --%s\n", a->cmd->name, name);
	abort();
}

int cli_flag(const cli_args *a, const char *name)
{
	return (int)a->count[opt_index(a, name)];
}

const char *cli_value(const cli_args *a, const char *name)
{
	size_t i = opt_index(a, name);
	return a->count[i] ? a->vals[i][a->count[i] - 1] : NULL;
}

const char *const *cli_values(const cli_args *a, const char *name, size_t *n)
{
	size_t i = opt_index(a, name);
	*n = a->count[i];
	return a->vals[i];
}

int cli_fail(sl_error **err)
{
	int code = EXIT_STEP_FAILED;
	if (err && *err) {
		fprintf(stderr, "sluice: %s\n", (*err)->msg);
		if ((*err)->kind == SL_ERR_USAGE)
			code = EXIT_USAGE;
		sl_error_release(err);
	}
	return code;
}

void cli_print_help(const cli_cmd *cmd)
{
	printf("usage: sluice %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->details)
		printf("\n%s\n", cmd->details);
	size_t n = count_opts(cmd->opts);
	printf("\noptions:\n");
	for (size_t i = 0; i <= n; i++) {
		const cli_opt *o = i < n ? &cmd->opts[i] : NULL;
		char left[64];
		if (!o) {
			snprintf(left, sizeof(left), "    --help");
		} else if (o->short_name) {
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				 o->arg == CLI_FLAG ? "" : " ",
				 o->arg == CLI_FLAG ? "" : o->metavar);
		} else {
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->arg == CLI_FLAG ? "" : " ",
				 o->arg == CLI_FLAG ? "" : o->metavar);
		}
		printf("  %-28s %s%s\n", left, o ? o->help : "show this help",
		       o && o->arg == CLI_LIST ? " (repeatable)" : "");
	}
}

int cli_main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(&(cli_args){0});
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		name = "help";
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
		name = "version";
	const cli_cmd *cmd = cli_find(name);
	if (!cmd) {
		const char *s = suggest_command(name);
		if (s)
			fprintf(stderr, "sluice: unknown command '%s' (did you mean '%s'?)\n", name,
				s);
		else
			fprintf(stderr, "sluice: unknown command '%s' (see 'sluice help')\n", name);
		return EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_print_help(cmd);
			return EXIT_OK;
		}
	}
	cli_args args;
	sl_error *err = NULL;
	if (cli_parse(cmd, argc - 1, argv + 1, &args, &err) < 0) {
		cli_args_release(&args);
		return cli_fail(&err);
	}
	int code = cmd->fn(&args);
	cli_args_release(&args);
	return code;
}
