/* cmd_status.c — `sluice status RUN [--json]`: steps, states, durations, reasons. */
#include "sluice/cli.h"
#include "sluice/report.h"
#include "sluice/store.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cmd_status(const cli_args *a)
{
	sl_error *err = NULL;
	int64_t id = 0;
	store *st = NULL;
	if (cli_open_runs(a, &id, 1, &st, &err) < 0)
		return cli_fail(&err);
	int code = EXIT_OK;
	if (cli_flag(a, "json")) {
		if (report_print_run_json(st, id, stdout, &err) < 0)
			code = cli_fail(&err);
		store_close(st);
		return code;
	}
	run_info run = {0};
	step_record *steps = NULL;
	size_t n = 0;
	if (store_get_run(st, id, &run, &err) < 0 ||
	    store_get_steps(st, id, &steps, &n, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	char s[64];
	report_iso_time(run.started, s, sizeof(s));
	printf("run %lld of %s: %s (trigger %s, started %s)\n", (long long)run.id, run.pipeline,
	       run.status, run.trigger, s);
	printf("  %-32s %-16s %9s %8s  %s\n", "STEP", "STATUS", "DURATION", "ATTEMPTS", "REASON");
	for (size_t i = 0; i < n; i++) {
		double dur = store_duration(steps[i].started, steps[i].finished);
		printf("  %-32s %-16s %8.1fs %8d  %s\n", steps[i].name, steps[i].status, dur,
		       steps[i].attempts, steps[i].reason ? steps[i].reason : "");
	}
out:
	run_info_release(&run);
	step_record_free_array(steps, n);
	store_close(st);
	return code;
}
