/*
 * Unit tests: the DAG as the executor walks it — the order ready steps start
 * in, and what executor_plan decides for each step (run, cached, skip, and
 * why) before and after runs made through the fake runner.  The DAG's own
 * construction (edges, matrices, cycles) is tested in test_pipeline.c.
 */
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/runner_fake.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static char ws[256];

static void setup(void)
{
	tu_mkdtemp(ws, sizeof(ws), "sluice-dag");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(ws), 0);
}

static const plan_entry *entry(plan_entry *e, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(e[k].name, name))
			return &e[k];
	ck_abort_msg("no plan entry %s", name);
	return NULL;
}

/* The plan of run's pipeline against run's store (st NULL: no state). */
static plan_entry *plan(struct tu_run *run, store *st, exec_options opt)
{
	plan_entry *e = NULL;
	sl_error *err = NULL;
	int rc = executor_plan(run->p, run->d, st, &opt, &e, &err);
	ck_assert_msg(rc == 0, "%s", err ? err->msg : "");
	return e;
}

#define ck_plan(e, n, name, act, reason)                                                           \
	do {                                                                                       \
		const plan_entry *pe_ = entry((e), (n), (name));                                   \
		ck_assert_str_eq(pe_->action, (act));                                              \
		ck_assert_msg(strstr(pe_->why, (reason)), "%s: why '%s' lacks '%s'", (name),       \
			      pe_->why, (reason));                                                 \
	} while (0)

static const char *const chain =
	"name: t\nparams: {x: 1}\nsteps:\n"
	"  prep: {run: 'true', inputs: [raw.txt], outputs: [data.csv]}\n"
	"  train: {run: 'true', inputs: [data.csv], outputs: [model.bin]}\n"
	"  eval: {run: 'true', inputs: [model.bin]}\n"
	"  maybe: {run: 'true', when: '${{ params.x == 2 }}'}\n";

START_TEST(ready_steps_start_in_file_order)
{
	runner *r = runner_fake_new();
	struct tu_run run;
	/* no edges among z, a, m: the file's order decides; b waits for both z and a */
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  z: {run: 'true'}\n"
		   "  b: {run: 'true', needs: [z, a]}\n"
		   "  a: {run: 'true'}\n"
		   "  m: {run: 'true'}\n",
		   NULL, r, (exec_options){.jobs = 1});
	const char *want[] = {"z", "a", "b", "m"};
	ck_assert_uint_eq(runner_fake_nevents(r), 4);
	for (size_t k = 0; k < 4; k++)
		ck_assert_str_eq(runner_fake_event(r, k)->name, want[k]);
	/* and the store keeps the topological position of each */
	step_record *s = NULL;
	size_t n = 0;
	sl_error *err = NULL;
	ck_assert_int_eq(store_get_steps(run.st, run.id, &s, &n, &err), 0);
	for (size_t k = 0; k < n; k++)
		ck_assert_str_eq(s[k].name, run.d->nodes[run.d->order[k]].name);
	step_record_free_array(s, n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(plan_without_state)
{
	tu_write(tu_path(ws, "raw.txt"), "1\n");
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws, chain, NULL, r, (exec_options){0});
	plan_entry *e = plan(&run, NULL, (exec_options){0});
	ck_plan(e, run.d->n, "prep", "run", "no earlier run");
	ck_plan(e, run.d->n, "train", "run", "after upstream prep runs");
	ck_plan(e, run.d->n, "maybe", "skip", "is false");
	plan_entries_free(e, run.d->n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(plan_after_runs)
{
	tu_write(tu_path(ws, "raw.txt"), "1\n");
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws, chain, NULL, r, (exec_options){0});
	ck_assert_str_eq(run.res.status, "succeeded");
	/* everything as it was: cached, with the key it would be found by */
	plan_entry *e = plan(&run, run.st, (exec_options){0});
	ck_plan(e, run.d->n, "prep", "cached", "nothing changed since run 1");
	ck_plan(e, run.d->n, "eval", "cached", "nothing changed since run 1");
	ck_assert_uint_eq(strlen(entry(e, run.d->n, "eval")->cache_key), 64);
	ck_assert_int_eq(entry(e, run.d->n, "eval")->cached_from, 1);
	plan_entries_free(e, run.d->n);
	/* a changed input: prep says which, and what follows waits to know */
	tu_write(tu_path(ws, "raw.txt"), "2\n");
	e = plan(&run, run.st, (exec_options){0});
	ck_plan(e, run.d->n, "prep", "run", "input raw.txt changed (sha256 ");
	ck_plan(e, run.d->n, "train", "run", "after upstream prep runs");
	ck_assert_str_eq(entry(e, run.d->n, "train")->cache_key, "");
	plan_entries_free(e, run.d->n);
	/* rerun --step train: train and what follows run, prep stays cached */
	tu_write(tu_path(ws, "raw.txt"), "1\n");
	e = plan(&run, run.st, (exec_options){.force_step = "train"});
	ck_plan(e, run.d->n, "prep", "cached", "nothing changed");
	ck_plan(e, run.d->n, "train", "run", "forced (--step train)");
	ck_plan(e, run.d->n, "eval", "run", "after upstream train runs");
	plan_entries_free(e, run.d->n);
	/* --only: the rest is skipped */
	e = plan(&run, run.st, (exec_options){.only = "eval"});
	ck_plan(e, run.d->n, "prep", "skip", "not selected (--only)");
	ck_plan(e, run.d->n, "eval", "cached", "nothing changed");
	plan_entries_free(e, run.d->n);
	/* a plan records nothing */
	ck_assert_uint_eq(runner_fake_nevents(r), 3);
	run_info *runs = NULL;
	size_t nruns = 0;
	sl_error *err = NULL;
	ck_assert_int_eq(store_list_runs(run.st, NULL, 0, &runs, &nruns, &err), 0);
	ck_assert_uint_eq(nruns, 1);
	run_info_free_array(runs, nruns);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

START_TEST(plan_of_a_run_time_template)
{
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws,
		   "name: t\nsteps:\n"
		   "  probe: {run: 'true'}\n"
		   "  use: {run: 'echo ${{ steps.probe.outputs.v }}', needs: [probe]}\n",
		   NULL, r, (exec_options){0});
	ck_assert_str_eq(tu_step(&run, "use")->status, "failed");
	/* without state nothing is known of probe's outputs: it runs, and says why */
	plan_entry *e = plan(&run, NULL, (exec_options){0});
	ck_plan(e, run.d->n, "use", "run", "after upstream probe runs");
	plan_entries_free(e, run.d->n);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dag");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ready_steps_start_in_file_order);
	tcase_add_test(tc, plan_without_state);
	tcase_add_test(tc, plan_after_runs);
	tcase_add_test(tc, plan_of_a_run_time_template);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
