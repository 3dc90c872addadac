/*
 * cmd_step.c — `sluice step NAME --with k=v ...`: run a built-in step in this
 * process.  The engine starts built-ins this way too, as a child process.
 */
#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/cli.h"
#include "sluice/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

static int list_builtins(void)
{
	builtin_print_list(stdout, "");
	return EXIT_OK;
}

int cmd_step(const cli_args *a)
{
	sl_error *err = NULL;
	if (a->npos == 0)
		return list_builtins();
	const char *name = a->pos[0];
	const builtin_step *b = builtin_find(name);
	if (!b) {
		size_t n;
		const builtin_step *all = builtin_list(&n);
		const char *s = DID_YOU_MEAN_IN(name, all, n, name);
		if (s)
			sl_error_usage(&err,
				       "step: unknown built-in step '%s' (did you mean '%s'?)",
				       name, s);
		else
			sl_error_usage(&err, "step: unknown built-in step '%s' (see 'sluice step')",
				       name);
		return cli_fail(&err);
	}
	size_t nw;
	const char *const *with = cli_values(a, "with", &nw);
	const char **keys = xcalloc(nw + 1, sizeof(char *));
	const char **vals = xcalloc(nw + 1, sizeof(char *));
	char **owned = xcalloc(nw + 1, sizeof(char *));
	int code = EXIT_OK;
	for (size_t i = 0; i < nw; i++) {
		const char *eq = strchr(with[i], '=');
		if (!eq || eq == with[i]) {
			sl_error_usage(&err, "step %s: --with takes key=value, got '%s'", name,
				       with[i]);
			code = cli_fail(&err);
			goto out;
		}
		owned[i] = strndup(with[i], (size_t)(eq - with[i]));
		keys[i] = owned[i];
		vals[i] = eq + 1;
		int known = 0;
		for (const char *const *k = b->keys; *k; k++)
			known |= strcmp(*k, keys[i]) == 0;
		if (!known) {
			size_t nk = 0;
			while (b->keys[nk])
				nk++;
			const char *s = did_you_mean(keys[i], b->keys, nk);
			if (s)
				sl_error_usage(
					&err, "step %s: unknown argument '%s' (did you mean '%s'?)",
					name, keys[i], s);
			else
				sl_error_usage(&err, "step %s: unknown argument '%s'", name,
					       keys[i]);
			code = cli_fail(&err);
			goto out;
		}
	}
	for (const char *const *r = b->required; *r; r++) {
		int given = 0;
		for (size_t i = 0; i < nw; i++)
			given |= strcmp(keys[i], *r) == 0;
		if (!given) {
			sl_error_usage(&err, "step %s: missing argument --with %s=...", name, *r);
			code = cli_fail(&err);
			goto out;
		}
	}
	if (!b->run) {
		sl_error_usage(&err,
			       "step %s: this built-in step is not in this version of sluice yet",
			       name);
		code = cli_fail(&err);
		goto out;
	}
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd))) {
		sl_error_errno(&err, errno, "step %s: getcwd", name);
		code = cli_fail(&err);
		goto out;
	}
	builtin_args args = {
		.name = name,
		.keys = keys,
		.vals = vals,
		.n = nw,
		.cwd = cwd,
		.output_file = getenv("SLUICE_OUTPUT"),
		.log = stderr,
	};
	if (b->run(&args, &err) < 0) {
		sl_error_wrap(&err, "step %s", name);
		code = cli_fail(&err);
	}
out:
	for (size_t i = 0; i < nw; i++)
		free(owned[i]);
	free(owned);
	free(keys);
	free(vals);
	return code;
}
