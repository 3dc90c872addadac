/*
 * launch.c — launch latency of one step, measured through the runner
 * interface exactly as the executor drives it: start, wait for the pidfd,
 * reap.  bench/bench_sandbox.sh runs it side by side for the sandbox, plain
 * fork/exec and bwrap (a plain launch of `bwrap ... true`).
 *
 *   launch sandbox|plain N [--network] [--memory BYTES] -- PROG ARGS...
 *
 * Prints one latency per line, in milliseconds, from the start call to the
 * end of the reap.  LAUNCH_SPLIT=1 adds the start / wait / reap split;
 * LAUNCH_BALLAST=MiB makes the harness that large first (a big orchestrator).
 * Works in the current directory (the workspace), state in ./.sluice.
 */
#include "sluice/runner.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF (PATH_MAX + 128)

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: launch sandbox|plain N [--network] [--memory BYTES] -- "
				"PROG ARGS...\n");
		return 2;
	}
	int n = atoi(argv[2]);
	sandbox_config sb = {.enabled = strcmp(argv[1], "sandbox") == 0};
	int k = 3;
	for (; k < argc && strcmp(argv[k], "--"); k++) {
		if (!strcmp(argv[k], "--network"))
			sb.network = 1;
		else if (!strcmp(argv[k], "--memory") && k + 1 < argc)
			sb.memory = strtoull(argv[++k], NULL, 10);
	}
	if (k >= argc - 1)
		return 2;
	char **prog = argv + k + 1;
	static char ws[PATH_MAX], state[BUF], params[BUF], dir[BUF], out[BUF], params_env[BUF];
	if (!getcwd(ws, sizeof(ws)))
		return 1;
	snprintf(state, sizeof(state), "%.*s/.sluice", PATH_MAX, ws);
	mkdir(state, 0755);
	snprintf(params, sizeof(params), "%.*s/params.json", PATH_MAX, state);
	FILE *f = fopen(params, "w");
	if (!f)
		return 1;
	fputs("{}\n", f);
	fclose(f);
	snprintf(params_env, sizeof(params_env), "SLUICE_PARAMS=%.*s", PATH_MAX, params);
	/* the runner first, as sluice makes it: before it grows */
	runner *r = runner_local_new();
	const char *ballast = getenv("LAUNCH_BALLAST");
	char *big = NULL;
	if (ballast) {
		size_t sz = (size_t)atol(ballast) << 20;
		big = malloc(sz);
		if (big)
			memset(big, 1, sz);
	}
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	for (int i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%.*s/a%d", PATH_MAX, state, i);
		mkdir(dir, 0755);
		snprintf(out, sizeof(out), "SLUICE_OUTPUT=%.*s/output", PATH_MAX, dir);
		char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/nonexistent",
				"TMPDIR=/tmp",        out,
				params_env,           NULL};
		step_launch l = {.name = "bench",
				 .argv = prog,
				 .envp = envp,
				 .cwd = ws,
				 .out_fd = devnull,
				 .sandbox = &sb,
				 .attempt_dir = dir,
				 .state_dir = state};
		step_proc p = {0};
		sl_error *err = NULL;
		double t0 = now_ms();
		if (r->ops->start(r, &l, &p, &err) < 0) {
			fprintf(stderr, "launch: %s\n", err->msg);
			return 1;
		}
		double ts = now_ms(), tp = ts;
		step_exit ex;
		int rc;
		for (;;) {
			struct pollfd pfd = {p.pidfd, POLLIN, 0};
			poll(&pfd, 1, p.pidfd >= 0 ? -1 : 1);
			tp = now_ms();
			rc = r->ops->finish(r, &p, &ex, &err);
			if (rc != 0)
				break;
		}
		double t1 = now_ms();
		if (rc < 0 || !ex.exited || ex.code != 0 || ex.reason[0]) {
			fprintf(stderr, "launch: the step failed: exit %d, signal %d %s\n", ex.code,
				ex.signal, ex.reason);
			return 1;
		}
		if (getenv("LAUNCH_SPLIT"))
			printf("%.3f start %.3f wait %.3f reap %.3f\n", t1 - t0, ts - t0, tp - ts,
			       t1 - tp);
		else
			printf("%.3f\n", t1 - t0);
	}
	r->ops->free(r);
	free(big);
	return 0;
}
