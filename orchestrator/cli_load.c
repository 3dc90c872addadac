/*
 * cli_load.c — what several commands share: read the repeated `-p key=value`
 * options, load the pipeline file with them, build its DAG, and print every
 * error found as FILE:LINE:COL: message (graph, plan, run); find and open
 * the state store (run creates it; the commands that only read refuse to,
 * and open it read-only, so they work in a read-only state directory);
 * parse the run ids the reading commands name.
 */
#include "sluice/cli.h"
#include "sluice/cleanup.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"
#include "sluice/store.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_load_dag(const cli_args *a, pipeline **p, dag **d)
{
	sl_error *err = NULL;
	size_t np;
	const char *const *ps = cli_values(a, "param", &np);
	param_override *ov = calloc(np + 1, sizeof(*ov));
	char **keys = calloc(np + 1, sizeof(char *));
	int code = 0;
	*p = NULL;
	*d = NULL;
	if (!ov || !keys) {
		free(ov);
		free(keys);
		sl_error_make(&err, "out of memory");
		return cli_fail(&err);
	}
	for (size_t i = 0; i < np; i++) {
		const char *eq = strchr(ps[i], '=');
		if (!eq || eq == ps[i]) {
			sl_error_usage(&err, "-p takes key=value, got '%s'", ps[i]);
			code = cli_fail(&err);
			goto out;
		}
		keys[i] = strndup(ps[i], (size_t)(eq - ps[i]));
		ov[i] = (param_override){keys[i], eq + 1};
	}
	diag_list diags = DIAG_LIST_INIT;
	pipeline_load_opts o = {.ov = ov, .nov = np};
	for (const cli_opt *opt = a->cmd->opts; opt->name; opt++) /* run and plan have it */
		if (!strcmp(opt->name, "params-file"))
			o.params_files = cli_values(a, "params-file", &o.nparams_files);
	if (pipeline_load_with(a->pos[0], &o, p, &diags) == 0)
		dag_build(*p, d, &diags);
	if (diag_count(&diags)) {
		diag_print(&diags, stderr);
		fprintf(stderr, "%s: %zu error%s; nothing ran\n", a->pos[0], diag_count(&diags),
			diag_count(&diags) == 1 ? "" : "s");
		dag_free(*d);
		pipeline_free(*p);
		*p = NULL;
		*d = NULL;
		code = EXIT_USAGE;
	}
	diag_release(&diags);
out:
	for (size_t i = 0; i < np; i++)
		free(keys[i]);
	free(keys);
	free(ov);
	return code;
}

static const char *state_override(const cli_args *a)
{
	const char *o = cli_value(a, "state");
	return o ? o : getenv("SLUICE_STATE");
}

int cli_open_store(const cli_args *a, const char *workspace, store **st, sl_error **err)
{
	/* the store's errors name the directory or the file already */
	sl_autofree char *dir = store_locate(workspace, state_override(a));
	return store_open(dir, st, err);
}

static int open_existing(const cli_args *a, int writable, store **st, sl_error **err)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return sl_error_errno(err, errno, "getcwd");
	sl_autofree char *dir = store_locate(cwd, state_override(a));
	struct stat sb = {0};
	/* reading must not leave a fresh .sluice/ behind in a random directory */
	if (stat(dir, &sb) < 0 && errno == ENOENT)
		return sl_error_usage(err,
				      "no sluice state at %s (run a pipeline here first, or pass "
				      "--state DIR)",
				      dir);
	if (writable && S_ISDIR(sb.st_mode))
		return store_open(dir, st, err);
	return store_open_readonly(dir, st, err);
}

int cli_open_existing_store(const cli_args *a, store **st, sl_error **err)
{
	return open_existing(a, 0, st, err);
}

int cli_run_id(const char *s, int64_t *id, sl_error **err)
{
	char *end;
	long long v;
	if (!strncmp(s, "latest", 6)) {
		/* latest~N: N runs before the latest; kept as -(N + 1) until a store
		 * says which run that is (cli_resolve_run) */
		v = 0;
		if (s[6] == '~')
			v = strtoll(s + 7, &end, 10);
		if ((s[6] && s[6] != '~') ||
		    (s[6] == '~' && (!s[7] || *end || v < 0 || v > 1000000)))
			return sl_error_usage(
				err, "'%s' is not a run id (a number, latest, or latest~N)", s);
		*id = -(v + 1);
		return 0;
	}
	v = strtoll(s, &end, 10);
	if (!*s || *end || v <= 0)
		return sl_error_usage(
			err,
			"'%s' is not a run id (runs are numbered 1, 2, ...; or latest, latest~N)",
			s);
	*id = v;
	return 0;
}

int cli_resolve_run(store *st, int64_t *id, sl_error **err)
{
	if (*id > 0)
		return 0;
	size_t back = (size_t)(-*id - 1), n = 0;
	run_info *runs = NULL;
	if (store_list_runs(st, NULL, back + 1, &runs, &n, err) < 0)
		return -1;
	int64_t found = n > back ? runs[back].id : 0;
	run_info_free_array(runs, n);
	if (!found)
		return back ? sl_error_usage(err, "latest~%zu: there %s only %zu run%s recorded",
					     back, n == 1 ? "is" : "are", n, n == 1 ? "" : "s")
			    : sl_error_usage(err, "latest: no runs recorded yet (run a "
						  "pipeline first)");
	*id = found;
	return 0;
}

static int open_runs(const cli_args *a, int writable, int64_t *ids, size_t nids, store **st,
		     sl_error **err)
{
	for (size_t i = 0; i < nids; i++)
		if (cli_run_id(a->pos[i], &ids[i], err) < 0)
			return -1;
	if (open_existing(a, writable, st, err) < 0)
		return -1;
	for (size_t i = 0; i < nids; i++)
		if (cli_resolve_run(*st, &ids[i], err) < 0) {
			store_close(*st);
			*st = NULL;
			return -1;
		}
	return 0;
}

int cli_open_runs(const cli_args *a, int64_t *ids, size_t nids, store **st, sl_error **err)
{
	return open_runs(a, 0, ids, nids, st, err);
}

int cli_open_runs_writable(const cli_args *a, int64_t *ids, size_t nids, store **st, sl_error **err)
{
	return open_runs(a, 1, ids, nids, st, err);
}
