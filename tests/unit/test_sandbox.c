/*
 * Unit tests: the local runner (runners/local.c and sandbox_*.c), driven
 * directly through the runner interface with real processes, the way the
 * executor drives it: start, wait for the pidfd, finish.  Each test has its
 * own mkdtemp workspace.  Where the kernel cannot make a sandbox (no user
 * namespaces for an unprivileged user) a test says so and returns.
 */
#include "sluice/runner.h"
#include "sluice/sandbox.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------------------------- */

struct box {
	char ws[PATH_MAX];
	char state[PATH_MAX + 16];
	int n;
};

static void box_init(struct box *b)
{
	tu_mkdtemp(b->ws, sizeof(b->ws), "sluice-sbx");
	snprintf(b->state, sizeof(b->state), "%s/.sluice", b->ws);
	ck_assert_int_eq(mkdir(b->state, 0755), 0);
	tu_write(tu_path(b->state, "params.json"), "{\"n\": 3}\n");
	b->n = 0;
}

static void box_release(struct box *b)
{
	fs_rm_rf(b->ws);
}

static int can_sandbox(runner *r)
{
	const sandbox_probe *pr = runner_local_probe(r);
	ck_assert_ptr_nonnull(pr);
	if (!pr->root && !pr->userns) {
		fprintf(stderr, "test_sandbox: skipped: %s\n", pr->why_userns);
		return 0;
	}
	return 1;
}

struct result {
	int start_rc;
	char start_err[512];
	step_exit ex;
	char log[8192];
};

/* Run argv in the box with the given sandbox settings and declared outputs;
 * p is the finished step. */
static void run_proc(runner *r, struct box *b, const sandbox_config *sb, char *const *argv,
		     const char *const *outputs, size_t noutputs, struct result *res, step_proc *p)
{
	memset(res, 0, sizeof(*res));
	char dir[PATH_MAX + 64], out[PATH_MAX + 96], params[PATH_MAX + 96], home[PATH_MAX + 96];
	snprintf(dir, sizeof(dir), "%s/a%d", b->state, ++b->n);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(out, sizeof(out), "SLUICE_OUTPUT=%s/output", dir);
	snprintf(params, sizeof(params), "SLUICE_PARAMS=%s/params.json", b->state);
	snprintf(home, sizeof(home), "HOME=%s/home", dir);
	/* the identity a plain step is found by when tracked by descent */
	char wsvar[PATH_MAX + 32], attempt[32];
	snprintf(wsvar, sizeof(wsvar), "SLUICE_WORKSPACE=%s", b->ws);
	snprintf(attempt, sizeof(attempt), "SLUICE_ATTEMPT=%d", b->n);
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			home,
			"TMPDIR=/nowhere",
			out,
			params,
			"SLUICE_RUN_ID=1",
			wsvar,
			"SLUICE_STEP=t",
			attempt,
			NULL};
	int pfd[2];
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	step_launch l = {.name = "t",
			 .argv = argv,
			 .envp = envp,
			 .cwd = b->ws,
			 .out_fd = pfd[1],
			 .sandbox = sb,
			 .attempt_dir = dir,
			 .outputs = outputs,
			 .noutputs = noutputs,
			 .state_dir = b->state};
	memset(p, 0, sizeof(*p));
	sl_error *err = NULL;
	res->start_rc = r->ops->start(r, &l, p, &err);
	close(pfd[1]);
	if (res->start_rc < 0) {
		snprintf(res->start_err, sizeof(res->start_err), "%s", err->msg);
		sl_error_release(&err);
		close(pfd[0]);
		return;
	}
	/* drain the log while waiting: a full pipe would stall the step */
	size_t len = 0;
	int rc;
	for (;;) {
		struct pollfd fds[2] = {{p->pidfd, POLLIN, 0}, {pfd[0], POLLIN, 0}};
		poll(fds, pfd[0] >= 0 ? 2 : 1, 100);
		if (pfd[0] >= 0 && fds[1].revents) {
			ssize_t n = read(pfd[0], res->log + len, sizeof(res->log) - 1 - len);
			if (n > 0)
				len += (size_t)n;
		}
		rc = r->ops->finish(r, p, &res->ex, &err);
		if (rc != 0)
			break;
	}
	ck_assert_int_eq(rc, 1);
	ssize_t n;
	while ((n = read(pfd[0], res->log + len, sizeof(res->log) - 1 - len)) > 0)
		len += (size_t)n;
	res->log[len] = 0;
	close(pfd[0]);
	ck_assert_int_eq(p->reaped, 1);
	ck_assert_int_eq(p->pidfd, -1);
	/* the executor's "leftovers" SIGKILL after finish is harmless */
	ck_assert_int_eq(r->ops->signal(r, p, SIGKILL), 0);
}

static void run(runner *r, struct box *b, const sandbox_config *sb, char *const *argv,
		const char *const *outputs, size_t noutputs, struct result *res)
{
	step_proc p;
	run_proc(r, b, sb, argv, outputs, noutputs, res, &p);
}

/* pid exists and is not a zombie */
static int alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(stage_names_round_trip)
{
	for (int k = 0; k < SB_NSTAGES; k++) {
		ck_assert_int_eq(sandbox_stage_parse(sandbox_stage_name(k)), k);
		char num[16];
		snprintf(num, sizeof(num), "%d", k);
		ck_assert_int_eq(sandbox_stage_parse(num), k);
	}
	ck_assert_str_eq(sandbox_stage_name(SB_OVERLAY), "overlay");
	ck_assert_str_eq(sandbox_stage_name(SB_PIVOT_ROOT), "pivot-root");
	ck_assert_int_eq(sandbox_stage_parse("nope"), -1);
	ck_assert_int_eq(sandbox_stage_parse(""), -1);
	ck_assert_int_eq(sandbox_stage_parse(NULL), -1);
	ck_assert_int_eq(sandbox_stage_parse("99"), -1);
}
END_TEST

START_TEST(seccomp_filter_compiles)
{
	struct sock_fprog prog;
	sl_error *err = NULL;
	ck_assert_int_eq(sandbox_seccomp_compile(&prog, &err), 0);
	ck_assert_int_gt(prog.len, 20);
	free(prog.filter);
}
END_TEST

START_TEST(cgroup_probe_names_a_mode)
{
	sandbox_cgroups cg;
	sandbox_cgroups_probe(&cg);
	ck_assert(!strcmp(cg.mode, "v1") || !strcmp(cg.mode, "v2") || !strcmp(cg.mode, "hybrid") ||
		  !strcmp(cg.mode, "none"));
	for (int c = 0; c < SB_NCTL; c++)
		ck_assert(cg.base[c] != NULL || cg.why[c][0] != 0);
	sandbox_cgroups_release(&cg);
}
END_TEST

START_TEST(isolated_step_and_promoted_output)
{
	runner *r = runner_local_new();
	if (!can_sandbox(r)) {
		r->ops->free(r);
		return;
	}
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 1};
	char *argv[] = {"/bin/sh", "-c",
			"grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
			"echo pid $$; echo home $HOME; cat $SLUICE_PARAMS; "
			"echo k=v > $SLUICE_OUTPUT; "
			"touch /usr/x 2>/dev/null || echo usr-ro; "
			"mkdir -p out && echo yes > out/o.txt && echo junk > junk.txt",
			NULL};
	const char *outs[] = {"out/o.txt"};
	struct result res;
	run(r, &b, &sb, argv, outs, 1, &res);
	ck_assert_msg(res.start_rc == 0, "%s", res.start_err);
	ck_assert_msg(res.ex.exited && res.ex.code == 0, "exit %d signal %d: %s\n%s", res.ex.code,
		      res.ex.signal, res.ex.reason, res.log);
	ck_assert_str_eq(res.ex.reason, "");
	ck_assert_ptr_nonnull(strstr(res.log, "CapEff:\t0000000000000000"));
	ck_assert_ptr_nonnull(strstr(res.log, "NoNewPrivs:\t1"));
	ck_assert_ptr_nonnull(strstr(res.log, "Seccomp:\t2"));
	ck_assert_ptr_nonnull(strstr(res.log, "pid 2\n")); /* pid 1 is the sandbox's reaper */
	ck_assert_ptr_nonnull(strstr(res.log, "home /tmp/home\n"));
	ck_assert_ptr_nonnull(strstr(res.log, "{\"n\": 3}"));
	ck_assert_ptr_nonnull(strstr(res.log, "usr-ro"));
	ck_assert_ptr_nonnull(strstr(res.log, "sandbox: 1 undeclared write dropped: junk.txt"));
	char buf[256];
	ck_assert_ptr_nonnull(tu_read(tu_path(b.ws, "out/o.txt"), buf, sizeof(buf)));
	ck_assert_str_eq(buf, "yes\n");
	ck_assert_ptr_null(tu_read(tu_path(b.ws, "junk.txt"), buf, sizeof(buf)));
	/* $SLUICE_OUTPUT is readable on the host after the exit */
	ck_assert_ptr_nonnull(tu_read(tu_path(b.state, "a1/output"), buf, sizeof(buf)));
	ck_assert_str_eq(buf, "k=v\n");
	box_release(&b);
	r->ops->free(r);
}
END_TEST

START_TEST(failed_and_lazy_steps_leave_nothing)
{
	runner *r = runner_local_new();
	if (!can_sandbox(r)) {
		r->ops->free(r);
		return;
	}
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 1};
	const char *outs[] = {"o.txt"};
	char *fail_argv[] = {"/bin/sh", "-c", "echo partial > o.txt; exit 3", NULL};
	struct result res;
	run(r, &b, &sb, fail_argv, outs, 1, &res);
	ck_assert_int_eq(res.ex.exited, 1);
	ck_assert_int_eq(res.ex.code, 3);
	ck_assert_str_eq(res.ex.reason, "");
	char buf[64];
	ck_assert_ptr_null(tu_read(tu_path(b.ws, "o.txt"), buf, sizeof(buf)));
	char *lazy_argv[] = {"/bin/true", NULL};
	run(r, &b, &sb, lazy_argv, outs, 1, &res);
	ck_assert_int_eq(res.ex.code, 0);
	ck_assert_str_eq(res.ex.reason, "missing output o.txt");
	box_release(&b);
	r->ops->free(r);
}
END_TEST

START_TEST(signals_reach_the_step)
{
	runner *r = runner_local_new();
	if (!can_sandbox(r)) {
		r->ops->free(r);
		return;
	}
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 1};
	char dir[PATH_MAX + 64], out[PATH_MAX + 96], params[PATH_MAX + 96];
	snprintf(dir, sizeof(dir), "%s/sig", b.state);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(out, sizeof(out), "SLUICE_OUTPUT=%s/output", dir);
	snprintf(params, sizeof(params), "SLUICE_PARAMS=%s/params.json", b.state);
	char *envp[] = {"PATH=/bin", "HOME=/x", "TMPDIR=/x", out, params, NULL};
	char *argv[] = {"/bin/sleep", "100", NULL};
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	step_launch l = {.name = "sig",
			 .argv = argv,
			 .envp = envp,
			 .cwd = b.ws,
			 .out_fd = null,
			 .sandbox = &sb,
			 .attempt_dir = dir,
			 .state_dir = b.state};
	step_proc p = {0};
	sl_error *err = NULL;
	ck_assert_int_eq(r->ops->start(r, &l, &p, &err), 0);
	ck_assert_int_ge(p.pidfd, 0);
	/* SIGTERM goes to pid 1, which forwards it to the step */
	usleep(50000);
	ck_assert_int_eq(r->ops->signal(r, &p, SIGTERM), 0);
	step_exit ex;
	struct pollfd fd = {p.pidfd, POLLIN, 0};
	ck_assert_int_eq(poll(&fd, 1, 10000), 1);
	int rc;
	while ((rc = r->ops->finish(r, &p, &ex, &err)) == 0)
		poll(&fd, 1, 100);
	ck_assert_int_eq(rc, 1);
	ck_assert_int_eq(ex.exited, 0);
	ck_assert_int_eq(ex.signal, SIGTERM);
	close(null);
	box_release(&b);
	r->ops->free(r);
}
END_TEST

START_TEST(injected_failures_name_their_stage)
{
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 1};
	char *argv[] = {"/bin/true", NULL};
	/* a child stage: the reason comes back through the report pipe */
	setenv("SLUICE_SANDBOX_FAIL", "overlay", 1);
	runner *r = runner_local_new();
	if (can_sandbox(r)) {
		struct result res;
		run(r, &b, &sb, argv, NULL, 0, &res);
		ck_assert_int_eq(res.start_rc, 0);
		ck_assert_str_eq(res.ex.reason, "sandbox: overlay: Operation not permitted");
	}
	r->ops->free(r);
	/* a parent stage: start fails */
	setenv("SLUICE_SANDBOX_FAIL", "clone", 1);
	r = runner_local_new();
	if (can_sandbox(r)) {
		struct result res;
		run(r, &b, &sb, argv, NULL, 0, &res);
		ck_assert_int_eq(res.start_rc, -1);
		ck_assert_str_eq(res.start_err, "sandbox: clone: Operation not permitted");
	}
	r->ops->free(r);
	unsetenv("SLUICE_SANDBOX_FAIL");
	box_release(&b);
}
END_TEST

START_TEST(sandbox_none_is_a_plain_process)
{
	runner *r = runner_local_new();
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 0};
	char *argv[] = {"/bin/sh", "-c",
			"echo direct > plain.txt; grep NoNewPrivs /proc/self/status", NULL};
	struct result res;
	run(r, &b, &sb, argv, NULL, 0, &res);
	ck_assert_int_eq(res.start_rc, 0);
	ck_assert_int_eq(res.ex.code, 0);
	ck_assert_int_eq(res.ex.peak_memory, -1);
	ck_assert_ptr_nonnull(strstr(res.log, "NoNewPrivs:\t0"));
	char buf[64];
	ck_assert_ptr_nonnull(tu_read(tu_path(b.ws, "plain.txt"), buf, sizeof(buf)));
	/* NULL settings (registry built-ins) are plain too */
	run(r, &b, NULL, argv, NULL, 0, &res);
	ck_assert_int_eq(res.ex.code, 0);
	box_release(&b);
	r->ops->free(r);
}
END_TEST

/* A setsid grandchild of a plain step ends with it, however its processes are tracked. */
START_TEST(plain_step_leaves_no_setsid_child)
{
	static const char *const tracks[] = {"cgroup2", "freezer", "descent"};
	/* as sluice is: orphans of the step come to us (descent finds them so) */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (size_t t = 0; t < sizeof(tracks) / sizeof(tracks[0]); t++) {
		setenv("SLUICE_PROC_TRACK", tracks[t], 1);
		runner *r = runner_local_new();
		struct box b;
		box_init(&b);
		sandbox_config sb = {.enabled = 0};
		char *argv[] = {"/bin/sh", "-c",
				"setsid sh -c 'echo $$ > gc.pid; exec sleep 300' & "
				"while [ ! -s gc.pid ]; do sleep 0.01; done",
				NULL};
		struct result res;
		run(r, &b, &sb, argv, NULL, 0, &res);
		ck_assert_int_eq(res.start_rc, 0);
		ck_assert_int_eq(res.ex.code, 0);
		char buf[64];
		ck_assert_ptr_nonnull(tu_read(tu_path(b.ws, "gc.pid"), buf, sizeof(buf)));
		pid_t gc = (pid_t)atoi(buf);
		ck_assert_int_gt(gc, 1);
		for (int k = 0; k < 200 && alive(gc); k++)
			usleep(10000);
		ck_assert_msg(!alive(gc), "%s: the setsid grandchild %d survived", tracks[t],
			      (int)gc);
		box_release(&b);
		r->ops->free(r);
	}
	unsetenv("SLUICE_PROC_TRACK");
}
END_TEST

START_TEST(memory_limit_is_a_reason)
{
	runner *r = runner_local_new();
	const sandbox_probe *pr = runner_local_probe(r);
	if (!pr->root || !pr->cg.base[SB_CTL_MEMORY]) {
		fprintf(stderr, "test_sandbox: memory limit: skipped: %s\n",
			pr->root ? pr->cg.why[SB_CTL_MEMORY] : "not root");
		r->ops->free(r);
		return;
	}
	struct box b;
	box_init(&b);
	sandbox_config sb = {.enabled = 1, .memory = 32 << 20};
	/* head buffers nothing, but sort must hold all of its input */
	char *argv[] = {"/bin/sh", "-c",
			"head -c 200000000 /dev/zero | tr '\\0' x | sort > /dev/null", NULL};
	struct result res;
	run(r, &b, &sb, argv, NULL, 0, &res);
	ck_assert_int_eq(res.start_rc, 0);
	ck_assert_int_eq(res.ex.oom, 1);
	ck_assert_str_eq(res.ex.reason, "memory limit 32M exceeded");
	ck_assert_int_gt(res.ex.peak_memory, 16 << 20);
	box_release(&b);
	r->ops->free(r);
}
END_TEST

/* Once finish returned 1: what the step left in its process group is gone
 * (plain runner), signal sends nothing even where the pid was reused, and a
 * second finish is an error. */
START_TEST(finished_steps_are_left_alone)
{
	runner *r = runner_local_new();
	struct box b;
	box_init(&b);
	sandbox_config none = {.enabled = 0}, on = {.enabled = 1};
	char *argv[] = {"/bin/sh", "-c", "sleep 100 & echo $! > bg.pid", NULL};
	for (int k = 0; k < 2; k++) {
		if (k == 1 && !can_sandbox(r))
			break;
		struct result res;
		step_proc p;
		run_proc(r, &b, k ? &on : &none, argv, NULL, 0, &res, &p);
		ck_assert_msg(res.start_rc == 0, "%s", res.start_err);
		ck_assert_int_eq(res.ex.code, 0);
		if (k == 0) {
			char buf[32];
			ck_assert_ptr_nonnull(tu_read(tu_path(b.ws, "bg.pid"), buf, sizeof(buf)));
			pid_t bg = (pid_t)atoi(buf);
			ck_assert_int_gt(bg, 1);
			for (int t = 0; t < 100 && alive(bg); t++)
				usleep(10000);
			ck_assert_msg(!alive(bg), "the step's leftover %d survived finish",
				      (int)bg);
		}
		/* a process of ours in its own group under the finished step's pid */
		pid_t other = fork();
		ck_assert_int_ge(other, 0);
		if (other == 0) {
			setpgid(0, 0);
			pause();
			_exit(0);
		}
		setpgid(other, other);
		p.pid = other;
		ck_assert_int_eq(r->ops->signal(r, &p, SIGKILL), 0);
		usleep(20000);
		ck_assert(alive(other));
		sl_error *err = NULL;
		ck_assert_int_eq(r->ops->finish(r, &p, &res.ex, &err), -1);
		ck_assert_ptr_nonnull(strstr(err->msg, "reaped already"));
		sl_error_release(&err);
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);
	}
	box_release(&b);
	r->ops->free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stage_names_round_trip);
	tcase_add_test(tc, seccomp_filter_compiles);
	tcase_add_test(tc, cgroup_probe_names_a_mode);
	tcase_add_test(tc, isolated_step_and_promoted_output);
	tcase_add_test(tc, failed_and_lazy_steps_leave_nothing);
	tcase_add_test(tc, signals_reach_the_step);
	tcase_add_test(tc, injected_failures_name_their_stage);
	tcase_add_test(tc, sandbox_none_is_a_plain_process);
	tcase_add_test(tc, plain_step_leaves_no_setsid_child);
	tcase_add_test(tc, memory_limit_is_a_reason);
	tcase_add_test(tc, finished_steps_are_left_alone);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
