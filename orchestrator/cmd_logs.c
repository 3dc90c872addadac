/* cmd_logs.c — `sluice logs RUN STEP [--attempt N] [-f]`: a step's log, each
 * line with the time it arrived (steplog.h); with -f, follow it while the
 * step runs (like tail -f). */
#include "sluice/cli.h"
#include "sluice/steplog.h"
#include "sluice/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int step_running(store *st, int64_t id, const char *step)
{
	step_record *steps = NULL;
	size_t n = 0;
	int running = 0;
	run_info run = {0};
	if (store_get_run(st, id, &run, NULL) == 0 && strcmp(run.status, "running") == 0 &&
	    store_get_steps(st, id, &steps, &n, NULL) == 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(steps[i].name, step) == 0)
				running = !strcmp(steps[i].status, "running") ||
					  !strcmp(steps[i].status, "waiting") ||
					  !strcmp(steps[i].status, "pending");
	run_info_release(&run);
	step_record_free_array(steps, n);
	return running;
}

int cmd_logs(const cli_args *a)
{
	sl_error *err = NULL;
	int64_t id = 0;
	store *st = NULL;
	if (cli_open_runs(a, &id, 1, &st, &err) < 0)
		return cli_fail(&err);
	const char *step = a->pos[1];
	attempt_record *att = NULL;
	size_t n = 0;
	int code = EXIT_OK;
	if (store_get_attempts(st, id, step, &att, &n, &err) < 0) {
		code = cli_fail(&err);
		goto out;
	}
	int want = 0;
	const char *as = cli_value(a, "attempt");
	if (as) {
		want = atoi(as);
		if (want <= 0) {
			sl_error_usage(&err, "logs: --attempt takes a number from 1");
			code = cli_fail(&err);
			goto out;
		}
	}
	if (n == 0) {
		sl_error_usage(&err,
			       "logs: run %lld has no attempt of a step '%s' (see 'sluice "
			       "status %lld')",
			       (long long)id, step, (long long)id);
		code = cli_fail(&err);
		goto out;
	}
	const attempt_record *ar = &att[n - 1];
	if (want) {
		ar = NULL;
		for (size_t i = 0; i < n; i++)
			if (att[i].attempt == want)
				ar = &att[i];
		if (!ar) {
			sl_error_usage(&err, "logs: step %s has %zu attempt%s, not %d", step, n,
				       n == 1 ? "" : "s", want);
			code = cli_fail(&err);
			goto out;
		}
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", store_dir(st), ar->log_path);
	steplog_reader rd;
	if (steplog_reader_open(&rd, path, &err) < 0) {
		sl_error_wrap(&err, "logs");
		code = cli_fail(&err);
		goto out;
	}
	int follow = cli_flag(a, "follow");
	for (;;) {
		steplog_reader_pump(&rd, stdout, 0);
		fflush(stdout);
		if (!follow || !step_running(st, id, step))
			break;
		struct timespec ts = {0, 200 * 1000000};
		nanosleep(&ts, NULL);
	}
	/* one last read: the step may have written its last lines as it ended */
	steplog_reader_pump(&rd, stdout, 1);
	steplog_reader_close(&rd);
out:
	attempt_record_free_array(att, n);
	store_close(st);
	return code;
}
