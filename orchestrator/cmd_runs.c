/* cmd_runs.c — `sluice runs [--pipeline NAME] [--json]`: the runs, newest first. */
#include "sluice/cli.h"
#include "sluice/report.h"
#include "sluice/store.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int cmd_runs(const cli_args *a)
{
	sl_error *err = NULL;
	store *st = NULL;
	if (cli_open_existing_store(a, &st, &err) < 0)
		return cli_fail(&err);
	run_info *runs = NULL;
	size_t n = 0;
	if (store_list_runs(st, cli_value(a, "pipeline"), 0, &runs, &n, &err) < 0) {
		store_close(st);
		return cli_fail(&err);
	}
	if (cli_flag(a, "json")) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			char s[64], f[64];
			report_iso_time(runs[i].started, s, sizeof(s));
			report_iso_time(runs[i].finished, f, sizeof(f));
			json_array_append_new(
				arr,
				json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "run_id",
					  (json_int_t)runs[i].id, "pipeline", runs[i].pipeline,
					  "status", runs[i].status, "trigger", runs[i].trigger,
					  "parent_id",
					  runs[i].parent_id ? json_integer(runs[i].parent_id)
							    : json_null(),
					  "exit_code",
					  runs[i].exit_code >= 0 ? json_integer(runs[i].exit_code)
								 : json_null(),
					  "started", s, "finished",
					  runs[i].finished > 0 ? json_string(f) : json_null()));
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		printf("%-6s %-20s %-12s %-8s %-24s %s\n", "RUN", "PIPELINE", "STATUS", "TRIGGER",
		       "STARTED", "DURATION");
		for (size_t i = 0; i < n; i++) {
			char s[64];
			report_iso_time(runs[i].started, s, sizeof(s));
			double dur = store_duration(runs[i].started, runs[i].finished);
			printf("%-6lld %-20s %-12s %-8s %-24s %.1fs\n", (long long)runs[i].id,
			       runs[i].pipeline, runs[i].status, runs[i].trigger, s, dur);
		}
	}
	run_info_free_array(runs, n);
	store_close(st);
	return EXIT_OK;
}
