/*
 * cmd_validate.c — `sluice validate FILE...`: load each file, build its DAG,
 * print every error as FILE:LINE:COL: message.  Exit 0 or 2.
 */
#include "sluice/cli.h"
#include "sluice/dag.h"
#include "sluice/pipeline.h"

#include <stdio.h>

int cmd_validate(const cli_args *a)
{
	int bad = 0;
	for (size_t i = 0; i < a->npos; i++) {
		diag_list diags = DIAG_LIST_INIT;
		pipeline *p = NULL;
		dag *d = NULL;
		pipeline_load(a->pos[i], NULL, 0, &p, &diags);
		if (p) /* even a pipeline with errors: report the DAG's errors too */
			dag_build(p, &d, &diags);
		if (diag_count(&diags)) {
			diag_print(&diags, stderr);
			fprintf(stderr, "%s: %zu error%s\n", a->pos[i], diag_count(&diags),
				diag_count(&diags) == 1 ? "" : "s");
			bad = 1;
		} else if (!cli_flag(a, "quiet")) {
			printf("%s: ok (%zu steps, %zu to run)\n", a->pos[i], p->nsteps, d->n);
		}
		dag_free(d);
		pipeline_free(p);
		diag_release(&diags);
	}
	return bad ? EXIT_USAGE : EXIT_OK;
}
