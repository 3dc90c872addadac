/*
 * Unit tests: the executor driven through the fake runner (runner_fake.h)
 * and a real state store in a scratch directory.  Steps "run" for a few
 * milliseconds of scripted time; the executor's own event loop, timers and
 * signalfd do the rest, so nothing here sleeps.  Durations are only ever
 * checked from below (a backoff is at least its length): a loaded machine
 * makes things slower, never faster.
 */
#include "sluice/clock.h"
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/pipeline.h"
#include "sluice/runner_fake.h"
#include "sluice/store.h"

#include "testutil.h"

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char ws[256];
static char rbuf[4096];

static void setup(void)
{
	tu_mkdtemp(ws, sizeof(ws), "sluice-exec");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(ws), 0);
}

#define ck_status(run, name, want) ck_assert_str_eq(tu_step(run, name)->status, want)

/* ---- success, failure, upstream_failed ------------------------------------------------ */

START_TEST(chain_succeeds_in_order)
{
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true', outputs: [a.txt]}\n"
		   "  b: {run: 'true', inputs: [a.txt], outputs: [b.txt]}\n"
		   "  c: {run: 'true', needs: [b]}\n",
		   NULL, r, (exec_options){.jobs = 4});
	ck_assert_int_eq(run.rc, 0);
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_assert_int_eq(run.res.exit_code, 0);
	ck_status(&run, "a", "succeeded");
	ck_status(&run, "c", "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 3);
	/* the file edge orders a before b even with slots free */
	ck_assert_str_eq(runner_fake_event(r, 0)->name, "a");
	ck_assert_str_eq(runner_fake_event(r, 1)->name, "b");
	ck_assert_int_eq(runner_fake_max_running(r), 1);
	ck_assert_str_eq(tu_read(tu_path(ws, "b.txt"), rbuf, sizeof(rbuf)), "output of b\n");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(failure_propagates_and_branches_go_on)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.exit_code = 3});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true'}\n"
		   "  b: {run: 'true', needs: [a]}\n"
		   "  c: {run: 'true', needs: [b]}\n"
		   "  other: {run: 'true'}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_assert_str_eq(run.res.status, "failed");
	ck_assert_int_eq(run.res.exit_code, 1);
	ck_status(&run, "a", "failed");
	ck_assert_str_eq(tu_step(&run, "a")->reason, "exit 3");
	ck_assert_int_eq(tu_step(&run, "a")->exit_code, 3);
	ck_status(&run, "b", "upstream_failed");
	ck_assert_str_eq(tu_step(&run, "b")->reason, "a failed");
	ck_status(&run, "c", "upstream_failed");
	ck_assert_str_eq(tu_step(&run, "c")->reason, "b upstream_failed");
	ck_status(&run, "other", "succeeded");
	ck_assert_ptr_null(runner_fake_find(r, "b", 1));
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(continue_on_error_lets_dependents_run)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.exit_code = 3});
	runner_fake_script(r, "x", &(fake_behavior){.exit_code = 4});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true', continue_on_error: true}\n"
		   "  b: {run: 'true', needs: [a]}\n"
		   "  c: {run: 'true', needs: [a], when: '${{ failure() }}'}\n"
		   "  x: {run: 'true'}\n"
		   "  y: {run: 'true', needs: [x]}\n",
		   NULL, r, (exec_options){.jobs = 2});
	/* x fails without the setting: the run fails, y is upstream_failed */
	ck_assert_str_eq(run.res.status, "failed");
	ck_status(&run, "a", "failed");
	ck_status(&run, "b", "succeeded");
	ck_status(&run, "c", "skipped"); /* a failure let pass is a success to failure() */
	ck_status(&run, "y", "upstream_failed");
	ck_assert_uint_eq(run.res.nallowed, 1);
	tu_run_done(&run);
	r->ops->free(r);

	r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.exit_code = 3});
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true', continue_on_error: true}\n"
		   "  b: {run: 'true', needs: [a], cache: false}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_assert_int_eq(run.res.exit_code, 0);
	ck_status(&run, "a", "failed");
	ck_status(&run, "b", "succeeded");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(missing_output_fails)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.no_outputs = 1});
	struct tu_run run;
	tu_execute(&run, ws, "name: t\nsteps:\n  a: {run: 'true', outputs: [model.bin]}\n", NULL, r,
		   (exec_options){0});
	ck_status(&run, "a", "failed");
	ck_assert_str_eq(tu_step(&run, "a")->reason, "missing output model.bin");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(runner_reason_and_start_failure)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "oom",
			   &(fake_behavior){.signal = SIGKILL,
					    .reason = "memory limit 64M exceeded",
					    .oom = 1});
	runner_fake_script(r, "nostart", &(fake_behavior){.fail_start = 1});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  oom: {run: 'true', retries: {limit: 1, backoff: 1ms, on: [timeout]}}\n"
		   "  nostart: {run: 'true'}\n",
		   NULL, r, (exec_options){0});
	ck_status(&run, "oom", "failed");
	ck_assert_str_eq(tu_step(&run, "oom")->reason, "memory limit 64M exceeded");
	/* oom is not among retries.on */
	ck_assert_int_eq(tu_step(&run, "oom")->attempts, 1);
	ck_status(&run, "nostart", "failed");
	ck_assert_str_eq(tu_step(&run, "nostart")->reason,
			 "fake: cannot start nostart: Resource temporarily unavailable");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- retries, backoff, timeouts --------------------------------------------------------- */

START_TEST(retries_with_backoff)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "flaky", &(fake_behavior){.exit_code = 1});
	runner_fake_script(r, "flaky", &(fake_behavior){.exit_code = 1});
	runner_fake_script(r, "flaky", &(fake_behavior){.exit_code = 0});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  flaky: {run: 'true', retries: {limit: 3, backoff: 20ms, factor: 2}}\n",
		   NULL, r, (exec_options){0});
	ck_status(&run, "flaky", "succeeded");
	ck_assert_int_eq(tu_step(&run, "flaky")->attempts, 3);
	const fake_event *a1 = runner_fake_find(r, "flaky", 1),
			 *a2 = runner_fake_find(r, "flaky", 2),
			 *a3 = runner_fake_find(r, "flaky", 3);
	ck_assert_ptr_nonnull(a3);
	/* backoff 20 ms, then 40 ms: at least that long between the attempts */
	ck_assert_int_ge(a2->started_ms - a1->ended_ms, 20);
	ck_assert_int_ge(a3->started_ms - a2->ended_ms, 40);
	/* every attempt is in the store */
	sl_error *err = NULL;
	attempt_record *at = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_attempts(run.st, run.id, "flaky", &at, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(at[0].status, "failed");
	ck_assert_str_eq(at[0].reason, "exit 1");
	ck_assert_str_eq(at[2].status, "succeeded");
	attempt_record_free_array(at, n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(retries_exhausted_and_max_backoff)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "bad", &(fake_behavior){.exit_code = 2});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  bad: {run: 'true', retries: {limit: 2, backoff: 5ms, factor: 100, "
		   "max_backoff: 10ms}}\n",
		   NULL, r, (exec_options){0});
	ck_status(&run, "bad", "failed");
	ck_assert_int_eq(tu_step(&run, "bad")->attempts, 3);
	ck_assert_str_eq(tu_step(&run, "bad")->reason, "exit 2");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(timeout_then_sigkill_after_grace)
{
	runner *r = runner_fake_new();
	/* runs "forever" and ignores SIGTERM: only the grace period's SIGKILL ends it */
	runner_fake_script(r, "slow", &(fake_behavior){.run_ms = 600000, .ignore_term = 1});
	runner_fake_script(r, "quick", &(fake_behavior){.run_ms = 1});
	struct tu_run run;
	int64_t t0 = clock_mono_ms();
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  slow: {run: 'true', timeout: 30ms, grace_period: 20ms}\n"
		   "  quick: {run: 'true'}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_status(&run, "slow", "failed");
	ck_assert_str_eq(tu_step(&run, "slow")->reason, "timeout after 30ms");
	ck_status(&run, "quick", "succeeded");
	const fake_event *e = runner_fake_find(r, "slow", 1);
	ck_assert_int_eq(e->terms, 1);
	ck_assert_int_eq(e->ended_by, SIGKILL);
	ck_assert_int_ge(e->ended_ms - e->started_ms, 50);
	/* it did not wait for the ten minutes the step would have run */
	ck_assert_int_lt(clock_mono_ms() - t0, 300000);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(grace_period_waits_for_the_group)
{
	runner *r = runner_fake_new();
	/* the leader goes at SIGTERM, its group a little later: no SIGKILL */
	runner_fake_script(r, "polite", &(fake_behavior){.run_ms = 600000, .linger_ms = 30});
	/* the group outlives the grace period: the SIGKILL ends it */
	runner_fake_script(r, "stubborn", &(fake_behavior){.run_ms = 600000, .linger_ms = 600000});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  polite: {run: 'true', timeout: 20ms, grace_period: 10m}\n"
		   "  stubborn: {run: 'true', timeout: 20ms, grace_period: 20ms}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_status(&run, "polite", "failed");
	ck_assert_str_eq(tu_step(&run, "polite")->reason, "timeout after 20ms");
	const fake_event *e = runner_fake_find(r, "polite", 1);
	ck_assert_int_eq(e->terms, 1);
	ck_assert_int_eq(e->kills, 0);
	ck_assert_int_eq(e->lingered, 1);
	ck_assert_int_ge(e->ended_ms - e->started_ms, 50);
	ck_status(&run, "stubborn", "failed");
	ck_assert_str_eq(tu_step(&run, "stubborn")->reason, "timeout after 20ms");
	e = runner_fake_find(r, "stubborn", 1);
	ck_assert_int_eq(e->kills, 1);
	ck_assert_int_eq(e->lingered, 2);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(cancel_waits_for_the_group)
{
	runner *r = runner_fake_new();
	/* Ctrl-C while it starts; its group takes a while after the SIGTERM */
	runner_fake_script(
		r, "a",
		&(fake_behavior){.run_ms = 600000, .linger_ms = 30, .raise_at_start = SIGINT});
	struct tu_run run;
	tu_execute(&run, ws, "name: t\nsteps:\n  a: {run: 'true', grace_period: 10m}\n", NULL, r,
		   (exec_options){0});
	ck_assert_str_eq(run.res.status, "cancelled");
	ck_status(&run, "a", "cancelled");
	const fake_event *e = runner_fake_find(r, "a", 1);
	ck_assert_int_eq(e->terms, 1);
	ck_assert_int_eq(e->kills, 0);
	ck_assert_int_eq(e->lingered, 1);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(timeout_retried_when_asked)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "s", &(fake_behavior){.run_ms = 600000});
	runner_fake_script(r, "s", &(fake_behavior){.run_ms = 1});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  s: {run: 'true', timeout: 20ms, retries: {limit: 1, backoff: 1ms, on: "
		   "[timeout]}}\n",
		   NULL, r, (exec_options){0});
	ck_status(&run, "s", "succeeded");
	ck_assert_int_eq(tu_step(&run, "s")->attempts, 2);
	ck_assert_int_eq(runner_fake_find(r, "s", 1)->ended_by, SIGTERM);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- fail-fast and cancellation -------------------------------------------------------- */

START_TEST(fail_fast_cancels_the_rest)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.run_ms = 1, .exit_code = 1});
	runner_fake_script(r, "long", &(fake_behavior){.run_ms = 600000});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  long: {run: 'true', grace_period: 10ms}\n"
		   "  a: {run: 'true'}\n"
		   "  later: {run: 'true', needs: [long]}\n",
		   NULL, r, (exec_options){.jobs = 2, .fail_fast = 1});
	ck_assert_str_eq(run.res.status, "failed");
	ck_status(&run, "a", "failed");
	ck_status(&run, "long", "cancelled");
	ck_status(&run, "later", "cancelled");
	ck_assert_str_eq(tu_step(&run, "later")->reason, "cancelled (--fail-fast)");
	ck_assert_int_eq(runner_fake_find(r, "long", 1)->ended_by, SIGTERM);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(sigint_cancels_the_run)
{
	runner *r = runner_fake_new();
	/* Ctrl-C arrives while b starts; a keeps running until SIGTERM */
	runner_fake_script(r, "a", &(fake_behavior){.run_ms = 600000});
	runner_fake_script(r, "b", &(fake_behavior){.run_ms = 600000, .raise_at_start = SIGINT});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true'}\n"
		   "  b: {run: 'true'}\n"
		   "  c: {run: 'true', needs: [a, b]}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_assert_int_eq(run.rc, 0);
	ck_assert_str_eq(run.res.status, "cancelled");
	ck_assert_int_eq(run.res.exit_code, 130);
	ck_status(&run, "a", "cancelled");
	ck_status(&run, "b", "cancelled");
	ck_status(&run, "c", "cancelled");
	ck_assert_int_eq(runner_fake_find(r, "a", 1)->ended_by, SIGTERM);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- status functions in when: (GitHub's success, failure, always, cancelled) ----------- */

START_TEST(when_failure_runs_after_an_upstream_failure)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.exit_code = 3});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true'}\n"
		   "  b: {run: 'true', needs: [a]}\n"
		   "  cleanup: {run: 'true', needs: [b], when: '${{ failure() }}'}\n"
		   "  notify: {run: 'true', needs: [a], when: '${{ always() }}'}\n"
		   "  onok: {run: 'true', needs: [a], when: '${{ success() }}'}\n"
		   "  plain: {run: 'true', needs: [a], when: '${{ true }}'}\n"
		   "  other: {run: 'true'}\n"
		   "  other_fail: {run: 'true', needs: [other], when: '${{ failure() }}'}\n"
		   "  after_cleanup: {run: 'true', needs: [cleanup]}\n",
		   NULL, r, (exec_options){.jobs = 2});
	ck_assert_str_eq(run.res.status, "failed");
	ck_assert_int_eq(run.res.exit_code, 1);
	ck_status(&run, "a", "failed");
	ck_status(&run, "b", "upstream_failed");
	/* a failure two steps up counts: failure() looks at every ancestor */
	ck_status(&run, "cleanup", "succeeded");
	ck_status(&run, "after_cleanup", "succeeded");
	ck_status(&run, "notify", "succeeded");
	ck_status(&run, "onok", "upstream_failed");
	ck_status(&run, "plain", "upstream_failed");
	ck_status(&run, "other", "succeeded");
	ck_status(&run, "other_fail", "skipped");
	ck_assert_str_eq(tu_step(&run, "other_fail")->reason, "when: ${{ failure() }} is false");
	ck_assert_ptr_nonnull(runner_fake_find(r, "cleanup", 1));
	ck_assert_ptr_null(runner_fake_find(r, "onok", 1));
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(when_failure_is_skipped_when_all_succeed)
{
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true'}\n"
		   "  cleanup: {run: 'true', needs: [a], when: '${{ failure() }}'}\n"
		   "  always: {run: 'true', needs: [a], when: '${{ always() && !cancelled() }}'}\n",
		   NULL, r, (exec_options){0});
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_status(&run, "cleanup", "skipped");
	ck_status(&run, "always", "succeeded");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(always_and_cancelled_run_after_sigint)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.run_ms = 600000, .raise_at_start = SIGINT});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true'}\n"
		   "  b: {run: 'true', needs: [a]}\n"
		   "  fin: {run: 'true', needs: [b], when: '${{ always() }}'}\n"
		   "  oncancel: {run: 'true', needs: [a], when: '${{ cancelled() }}'}\n"
		   "  onfail: {run: 'true', needs: [a], when: '${{ failure() }}'}\n",
		   NULL, r, (exec_options){0});
	ck_assert_int_eq(run.rc, 0);
	ck_assert_str_eq(run.res.status, "cancelled");
	ck_assert_int_eq(run.res.exit_code, 130);
	ck_status(&run, "a", "cancelled");
	ck_status(&run, "b", "cancelled");
	ck_status(&run, "fin", "succeeded");
	ck_status(&run, "oncancel", "succeeded");
	ck_status(&run, "onfail", "cancelled");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(fail_fast_keeps_failure_steps)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "a", &(fake_behavior){.run_ms = 1, .exit_code = 1});
	runner_fake_script(r, "long", &(fake_behavior){.run_ms = 600000});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  long: {run: 'true', grace_period: 10ms}\n"
		   "  a: {run: 'true'}\n"
		   "  later: {run: 'true', needs: [long]}\n"
		   "  cleanup: {run: 'true', needs: [a, long], when: '${{ failure() }}'}\n",
		   NULL, r, (exec_options){.jobs = 2, .fail_fast = 1});
	ck_assert_str_eq(run.res.status, "failed");
	ck_status(&run, "long", "cancelled");
	ck_status(&run, "later", "cancelled");
	ck_status(&run, "cleanup", "succeeded");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- resources -------------------------------------------------------------------------- */

START_TEST(jobs_limit_parallelism)
{
	runner *r = runner_fake_new();
	for (int k = 0; k < 6; k++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", k);
		runner_fake_script(r, name, &(fake_behavior){.run_ms = 5});
	}
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  s0: {run: 'true'}\n  s1: {run: 'true'}\n  s2: {run: 'true'}\n"
		   "  s3: {run: 'true'}\n  s4: {run: 'true'}\n  s5: {run: 'true'}\n",
		   NULL, r, (exec_options){.jobs = 2, .cpus = 64});
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_assert_int_eq(runner_fake_max_running(r), 2);
	/* in file order */
	for (size_t k = 0; k < 6; k++) {
		char name[16];
		snprintf(name, sizeof(name), "s%zu", k);
		ck_assert_str_eq(runner_fake_event(r, k)->name, name);
	}
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(cpus_and_memory_are_counted)
{
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  a: {run: 'true', resources: {cpus: 2}}\n"
		   "  b: {run: 'true', resources: {cpus: 2}}\n"
		   "  c: {run: 'true', resources: {cpus: 2}}\n"
		   "  m1: {run: 'true', resources: {cpus: 0, memory: 3G}}\n"
		   "  m2: {run: 'true', resources: {cpus: 0, memory: 3G}}\n"
		   "  huge: {run: 'true', resources: {cpus: 5}}\n"
		   "  fat: {run: 'true', resources: {memory: 5G}}\n",
		   NULL, r, (exec_options){.jobs = 16, .cpus = 4, .memory = 4ull << 30});
	for (const char *const *s = (const char *const[]){"a", "b", "c", "m1", "m2", NULL}; *s; s++)
		ck_status(&run, *s, "succeeded");
	/* 4 cpus: two steps of 2 at once; 4G: one step of 3G at a time */
	for (size_t k = 0; k < runner_fake_nevents(r); k++) {
		const fake_event *e = runner_fake_event(r, k);
		ck_assert_int_le(e->running, 2);
	}
	ck_status(&run, "huge", "failed");
	ck_assert_str_eq(tu_step(&run, "huge")->reason,
			 "needs 5 cpus; this machine has 4 (resources.cpus)");
	ck_status(&run, "fat", "failed");
	ck_assert_str_eq(tu_step(&run, "fat")->reason,
			 "needs 5G of memory; this machine has 4G (resources.memory)");
	ck_assert_ptr_null(runner_fake_find(r, "huge", 1));
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- when, outputs, metrics, matrix ---------------------------------------------------- */

START_TEST(when_reads_outputs_and_metrics)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "probe",
			   &(fake_behavior){.outputs = "mode=fast\nmode=slow\nn=3\n",
					    .metrics = "{\"auc\": 0.91, \"nested\": "
						       "{\"ok\": true}}"});
	struct tu_run run;
	tu_execute(
		&run, ws,
		"name: t\nsteps:\n"
		"  probe: {run: 'true', metrics: m.json}\n"
		"  slow: {run: 'true', needs: [probe], when: \"${{ steps.probe.outputs.mode == "
		"'slow' }}\"}\n"
		"  fast: {run: 'true', needs: [probe], when: \"${{ steps.probe.outputs.mode == "
		"'fast' }}\"}\n"
		"  good: {run: 'true', needs: [probe], when: \"${{ steps.probe.metrics.auc > 0.9 "
		"&& steps.probe.metrics.nested.ok }}\"}\n"
		"  broken: {run: 'true', needs: [probe], when: \"${{ steps.probe.outputs.nope "
		"}}\"}\n",
		NULL, r, (exec_options){0});
	ck_status(&run, "probe", "succeeded");
	/* the last line of a key wins */
	ck_status(&run, "slow", "succeeded");
	ck_status(&run, "fast", "skipped");
	ck_assert_str_eq(tu_step(&run, "fast")->reason,
			 "when: ${{ steps.probe.outputs.mode == 'fast' }} is false");
	ck_status(&run, "good", "succeeded");
	ck_status(&run, "broken", "failed");
	ck_assert_msg(strstr(tu_step(&run, "broken")->reason, "has no output 'nope'"), "%s",
		      tu_step(&run, "broken")->reason);
	/* the store has them for show and rerun */
	sl_error *err = NULL;
	kv_record *kv = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_get_outputs(run.st, run.id, "probe", &kv, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	kv_record_free_array(kv, n);
	ck_assert_int_eq(store_get_metrics(run.st, run.id, "probe", &kv, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	kv_record_free_array(kv, n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(bad_metrics_fail_the_step)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "bad", &(fake_behavior){.metrics = "not json"});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  bad: {run: 'true', metrics: m.json}\n"
		   "  none: {run: 'true', metrics: absent.json}\n",
		   NULL, r, (exec_options){0});
	ck_status(&run, "bad", "failed");
	ck_assert_msg(!strncmp(tu_step(&run, "bad")->reason, "metrics m.json: ", 16), "%s",
		      tu_step(&run, "bad")->reason);
	ck_status(&run, "none", "failed");
	ck_assert_str_eq(tu_step(&run, "none")->reason, "metrics absent.json: missing");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(matrix_fans_in)
{
	runner *r = runner_fake_new();
	runner_fake_script(r, "train[lr=0.1]", &(fake_behavior){.run_ms = 15});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  train: {run: 'echo ${{ matrix.lr }}', matrix: {lr: [0.1, 0.01, 0.001]}}\n"
		   "  pick: {run: 'true', needs: [train]}\n",
		   NULL, r, (exec_options){.jobs = 4, .cpus = 8});
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 4);
	const fake_event *pick = runner_fake_find(r, "pick", 1);
	for (size_t k = 0; k < 3; k++) {
		const fake_event *e = runner_fake_event(r, k);
		ck_assert_msg(!strncmp(e->name, "train[lr=", 9), "%s", e->name);
		ck_assert_int_le(e->ended_ms, pick->started_ms);
	}
	ck_assert_int_eq(runner_fake_max_running(r), 3);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(only_and_from_select)
{
	const char *yaml = "name: t\nsteps:\n"
			   "  a: {run: 'true'}\n"
			   "  b: {run: 'true', needs: [a]}\n"
			   "  c: {run: 'true', needs: [b]}\n";
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){.from = "b"});
	ck_status(&run, "a", "skipped");
	ck_assert_str_eq(tu_step(&run, "a")->reason, "not selected (--from)");
	ck_status(&run, "b", "succeeded");
	ck_status(&run, "c", "succeeded");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

/* ---- the cache ------------------------------------------------------------------------- */

START_TEST(cache_decisions)
{
	const char *yaml = "name: t\nsteps:\n"
			   "  prep: {run: 'true', inputs: [raw.txt], outputs: [data.csv]}\n"
			   "  train: {run: 'true', inputs: [data.csv], outputs: [model.bin]}\n"
			   "  eval: {run: 'true', inputs: [model.bin]}\n"
			   "  always: {run: 'true', cache: false}\n";
	char raw[PATH_MAX];
	snprintf(raw, sizeof(raw), "%s", tu_path(ws, "raw.txt"));
	tu_write(raw, "1,2,3\n");
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	ck_assert_str_eq(run.res.status, "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 4);
	tu_run_done(&run);

	/* nothing changed: all cached but the uncacheable step */
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	ck_status(&run, "prep", "cached");
	ck_status(&run, "train", "cached");
	ck_status(&run, "eval", "cached");
	ck_status(&run, "always", "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 5);
	tu_run_done(&run);

	/* a changed input: prep runs, writes the same bytes, and what follows stays
	 * cached (early cut-off) */
	tu_write(raw, "1,2,3,4\n");
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	ck_status(&run, "prep", "succeeded");
	ck_status(&run, "train", "cached");
	ck_status(&run, "eval", "cached");
	ck_assert_uint_eq(runner_fake_nevents(r), 7);
	tu_run_done(&run);

	/* a deleted output comes back from the cache without running */
	char path[600];
	snprintf(path, sizeof(path), "%s/data.csv", ws);
	ck_assert_int_eq(unlink(path), 0);
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	ck_status(&run, "prep", "cached");
	ck_assert_str_eq(tu_read(tu_path(ws, "data.csv"), rbuf, sizeof(rbuf)), "output of prep\n");
	ck_assert_uint_eq(runner_fake_nevents(r), 8);
	tu_run_done(&run);

	/* --force runs everything */
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){.force = 1});
	ck_status(&run, "prep", "succeeded");
	ck_status(&run, "eval", "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 12);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(changed_output_reruns_downstream)
{
	const char *yaml = "name: t\nsteps:\n"
			   "  prep: {run: 'true', outputs: [data.csv], cache: false}\n"
			   "  train: {run: 'true', inputs: [data.csv]}\n";
	runner *r = runner_fake_new();
	runner_fake_script(r, "prep", &(fake_behavior){.content = "v1\n"});
	runner_fake_script(r, "prep", &(fake_behavior){.content = "v2\n"});
	struct tu_run run;
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	tu_run_done(&run);
	tu_execute(&run, ws, yaml, NULL, r, (exec_options){0});
	ck_status(&run, "train", "succeeded");
	ck_assert_uint_eq(runner_fake_nevents(r), 4);
	/* the plan of a third run says why */
	plan_entry *e = NULL;
	sl_error *err = NULL;
	ck_assert_int_eq(executor_plan(run.p, run.d, run.st, &(exec_options){0}, &e, &err), 0);
	ck_assert_str_eq(e[0].action, "run");
	ck_assert_str_eq(e[0].why, "cache: false");
	ck_assert_str_eq(e[1].action, "run");
	ck_assert_str_eq(e[1].why, "after upstream prep runs");
	plan_entries_free(e, run.d->n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(cancel_keeps_a_running_grace_period)
{
	runner *r = runner_fake_new();
	/* slow times out at 20 ms and ignores SIGTERM; Ctrl-C comes at about 40 ms,
	 * in its grace period: no second SIGTERM, no new grace period */
	runner_fake_script(r, "slow", &(fake_behavior){.run_ms = 600000, .ignore_term = 1});
	runner_fake_script(r, "b", &(fake_behavior){.run_ms = 40});
	runner_fake_script(r, "c", &(fake_behavior){.run_ms = 600000, .raise_at_start = SIGINT});
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  slow: {run: 'true', timeout: 20ms, grace_period: 200ms}\n"
		   "  b: {run: 'true'}\n"
		   "  c: {run: 'true', needs: [b], grace_period: 10ms}\n",
		   NULL, r, (exec_options){.jobs = 3});
	ck_assert_str_eq(run.res.status, "cancelled");
	const fake_event *e = runner_fake_find(r, "slow", 1);
	ck_assert_int_eq(e->terms, 1);
	ck_assert_int_eq(e->ended_by, SIGKILL);
	ck_status(&run, "slow", "cancelled");
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("executor");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, chain_succeeds_in_order);
	tcase_add_test(tc, failure_propagates_and_branches_go_on);
	tcase_add_test(tc, continue_on_error_lets_dependents_run);
	tcase_add_test(tc, missing_output_fails);
	tcase_add_test(tc, runner_reason_and_start_failure);
	tcase_add_test(tc, retries_with_backoff);
	tcase_add_test(tc, retries_exhausted_and_max_backoff);
	tcase_add_test(tc, timeout_then_sigkill_after_grace);
	tcase_add_test(tc, grace_period_waits_for_the_group);
	tcase_add_test(tc, cancel_waits_for_the_group);
	tcase_add_test(tc, timeout_retried_when_asked);
	tcase_add_test(tc, fail_fast_cancels_the_rest);
	tcase_add_test(tc, sigint_cancels_the_run);
	tcase_add_test(tc, when_failure_runs_after_an_upstream_failure);
	tcase_add_test(tc, when_failure_is_skipped_when_all_succeed);
	tcase_add_test(tc, always_and_cancelled_run_after_sigint);
	tcase_add_test(tc, fail_fast_keeps_failure_steps);
	tcase_add_test(tc, cancel_keeps_a_running_grace_period);
	tcase_add_test(tc, jobs_limit_parallelism);
	tcase_add_test(tc, cpus_and_memory_are_counted);
	tcase_add_test(tc, when_reads_outputs_and_metrics);
	tcase_add_test(tc, bad_metrics_fail_the_step);
	tcase_add_test(tc, matrix_fans_in);
	tcase_add_test(tc, only_and_from_select);
	tcase_add_test(tc, cache_decisions);
	tcase_add_test(tc, changed_output_reruns_downstream);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
