/* cmd_graph.c — `sluice graph FILE [--format dot|mermaid] [-p k=v]`. */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	pipeline *p;
	dag *d;
	int code = cli_load_dag(a, &p, &d);
	if (code)
		return code;
	if (strcmp(fmt, "dot") == 0)
		dag_write_dot(d, stdout);
	else
		dag_write_mermaid(d, stdout);
	dag_free(d);
	pipeline_free(p);
	return EXIT_OK;
}
