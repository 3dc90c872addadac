/* cmd_graph.c — `sluice graph FILE [--format dot|mermaid] [-p k=v]`. */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse repeated -p k=v into overrides (pointing into argv). */
int cli_param_overrides(const cli_args *a, param_override **out, size_t *n, sl_error **err)
{
	size_t np;
	const char *const *ps = cli_values(a, "param", &np);
	*out = NULL;
	*n = 0;
	if (!np)
		return 0;
	param_override *ov = calloc(np, sizeof(*ov));
	if (!ov)
		return sl_error_make(err, "out of memory");
	for (size_t i = 0; i < np; i++) {
		const char *eq = strchr(ps[i], '=');
		if (!eq || eq == ps[i]) {
			free(ov);
			return sl_error_usage(err, "-p takes key=value, got '%s'", ps[i]);
		}
		/* the key is NUL-terminated in a copy kept after the value */
		char *key = strndup(ps[i], (size_t)(eq - ps[i]));
		ov[i].key = key;
		ov[i].value = eq + 1;
	}
	*out = ov;
	*n = np;
	return 0;
}

void cli_param_overrides_free(param_override *ov, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)ov[i].key);
	free(ov);
}

int cmd_graph(const cli_args *a)
{
	const char *fmt = cli_value(a, "format");
	sl_error *err = NULL;
	if (!fmt)
		fmt = "dot";
	if (strcmp(fmt, "dot") != 0 && strcmp(fmt, "mermaid") != 0) {
		sl_error_usage(&err, "graph: unknown format '%s' (dot or mermaid)", fmt);
		return cli_fail(&err);
	}
	param_override *ov;
	size_t nov;
	if (cli_param_overrides(a, &ov, &nov, &err) < 0)
		return cli_fail(&err);
	diag_list diags = DIAG_LIST_INIT;
	pipeline *p = NULL;
	dag *d = NULL;
	int code = EXIT_OK;
	if (pipeline_load(a->pos[0], ov, nov, &p, &diags) == 0)
		dag_build(p, &d, &diags);
	if (diag_count(&diags)) {
		diag_print(&diags, stderr);
		code = EXIT_USAGE;
	} else if (strcmp(fmt, "dot") == 0) {
		dag_write_dot(d, stdout);
	} else {
		dag_write_mermaid(d, stdout);
	}
	dag_free(d);
	pipeline_free(p);
	diag_release(&diags);
	cli_param_overrides_free(ov, nov);
	return code;
}
