/*
 * Unit tests: params per step (which params enter which step's key and
 * $SLUICE_PARAMS file), nested params, params files (params_files: and
 * --params-file, their order, their errors) and a run's recorded params
 * standing in for the files.
 */
#include "sluice/dag.h"
#include "sluice/executor.h"
#include "sluice/pipeline.h"
#include "sluice/runner_fake.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ws[256];

static void setup(void)
{
	tu_mkdtemp(ws, sizeof(ws), "sluice-params");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(ws), 0);
}

static char *diags_text(diag_list *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(d, f);
	fclose(f);
	return buf;
}

/* Load text as ws/p.yaml with o; *text_out gets the diagnostics (caller frees). */
static pipeline *load_with(const char *text, const pipeline_load_opts *o, char **diags)
{
	pipeline *p = NULL;
	diag_list d = DIAG_LIST_INIT;
	int rc = pipeline_load_text_with("p.yaml", ws, text, strlen(text), o, &p, &d);
	*diags = diags_text(&d);
	diag_release(&d);
	if (rc < 0) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

static pipeline *load_ok(const char *text, const pipeline_load_opts *o)
{
	char *why;
	pipeline *p = load_with(text, o, &why);
	ck_assert_msg(p != NULL, "%s", why);
	free(why);
	return p;
}

/* The names of the params step uses, ","-joined. */
static const char *used(const pipeline *p, const char *step)
{
	static char buf[512];
	const pstep *st = pipeline_find_step(p, step);
	ck_assert_ptr_nonnull(st);
	buf[0] = 0;
	for (size_t k = 0; k < st->nparams; k++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", k ? "," : "",
			 st->params[k]->name);
	return buf;
}

static const char *const seven =
	"name: t\n"
	"params:\n"
	"  n_estimators: 300\n"
	"  seed: 7\n"
	"  data: data.csv\n"
	"  greeting: hi\n"
	"  gate: 0.8\n"
	"  train: {lr: 0.1, depth: 4}\n"
	"  unused: 1\n"
	"steps:\n"
	"  fetch: {run: 'touch ${{ params.data }}', outputs: ['${{ params.data }}']}\n"
	"  train:\n"
	"    run: 'fit --n ${{ params.n_estimators }} --lr ${{ params.train.lr }}'\n"
	"    params: [seed]\n"
	"  tune: {run: 'fit', params: [train]}\n"
	"  say: {run: 'echo $G', env: {G: '${{ params.greeting }}'}}\n"
	"  check: {run: 'true', when: '${{ params.gate > 0.5 }}'}\n"
	"  validate: {uses: validate-data, with: {data: '${{ params.data }}', expectations: "
	"e.yaml}}\n"
	"  plain: {run: 'true'}\n";

START_TEST(which_params_enter_which_step)
{
	pipeline *p = load_ok(seven, NULL);
	ck_assert_str_eq(used(p, "fetch"), "data");
	ck_assert_str_eq(used(p, "train"), "n_estimators,seed,train.lr");
	ck_assert_str_eq(used(p, "tune"), "train.depth,train.lr"); /* a group stands for all */
	ck_assert_str_eq(used(p, "say"), "greeting");
	ck_assert_str_eq(used(p, "check"), "gate");
	ck_assert_str_eq(used(p, "validate"), "data");
	ck_assert_str_eq(used(p, "plain"), "");
	/* the step's file: nested again, only its params; {} for none */
	char *j = pipeline_step_params_json(pipeline_find_step(p, "train"));
	ck_assert_str_eq(j, "{\n  \"n_estimators\": 300,\n  \"seed\": 7,\n  \"train\": {\n"
			    "    \"lr\": 0.1\n  }\n}");
	free(j);
	j = pipeline_step_params_json(pipeline_find_step(p, "plain"));
	ck_assert_str_eq(j, "{}");
	free(j);
	/* the run's record is flat, its file nested */
	j = pipeline_params_json(p, 0);
	ck_assert_ptr_nonnull(strstr(j, "\"train.depth\":4,\"train.lr\":0.1,\"unused\":1"));
	free(j);
	pipeline_free(p);
}
END_TEST

START_TEST(pipeline_env_counts_for_every_step)
{
	pipeline *p = load_ok("name: t\nparams: {tag: v1, n: 1}\nenv: {TAG: '${{ params.tag }}'}\n"
			      "steps:\n  a: {run: 'true'}\n  b: {run: 'echo ${{ params.n }}'}\n",
			      NULL);
	ck_assert_str_eq(used(p, "a"), "tag");
	ck_assert_str_eq(used(p, "b"), "n,tag");
	pipeline_free(p);
}
END_TEST

START_TEST(nested_names_are_checked)
{
	char *why;
	pipeline *p = load_with("name: t\nparams: {train: {lr: 0.1}}\nsteps:\n"
				"  a: {run: 'echo ${{ params.train.lrr }}'}\n"
				"  b: {run: 'echo ${{ params.train }}'}\n"
				"  c: {run: 'echo ${{ params.train.lr.x }}'}\n"
				"  d: {run: 'true', params: [train.l]}\n"
				"  e: {run: 'true', params: [nope]}\n",
				NULL, &why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "p.yaml:4:22: unknown param 'train.lrr' (did you mean "
				  "'train.lr'?)"),
		      "%s", why);
	ck_assert_msg(strstr(why, "p.yaml:5:22: params.train is a group of params"), "%s", why);
	ck_assert_msg(strstr(why, "params.train.lr is a value and has no field 'x'"), "%s", why);
	ck_assert_msg(strstr(why, "p.yaml:7:29: params: unknown param 'train.l' (did you mean "
				  "'train.lr'?)"),
		      "%s", why);
	ck_assert_msg(strstr(why, "p.yaml:8:29: params: unknown param 'nope'"), "%s", why);
	free(why);
}
END_TEST

static const char *const with_file = "name: t\n"
				     "params: {n: 300, train: {lr: 0.1}, name: base}\n"
				     "params_files: [params.yaml]\n"
				     "steps:\n"
				     "  a: {run: 'echo ${{ params.n }} ${{ params.train.lr }}'}\n"
				     "  b: {run: 'echo ${{ params.extra.k }}'}\n";

START_TEST(params_files_in_order_then_p)
{
	tu_write(tu_path(ws, "params.yaml"),
		 "n: 30\ntrain: {lr: 0.2}\nextra: {k: from-file}\nlist: [1, 2]\nmy-key: 1\n"
		 "name: 5\n");
	tu_write(tu_path(ws, "exp.json"), "{\"train\": {\"lr\": 0.3}}");
	const char *files[] = {"exp.json"};
	param_override ov[] = {{"n", "31"}, {"extra.k", "from-p"}};
	pipeline_load_opts o = {.params_files = files, .nparams_files = 1};
	pipeline *p = load_ok(with_file, &o);
	ck_assert_double_eq(pipeline_find_param(p, "n")->value.num, 30);
	ck_assert_double_eq(pipeline_find_param(p, "train.lr")->value.num, 0.3);
	ck_assert_str_eq(pipeline_find_param(p, "extra.k")->value.str, "from-file");
	/* a string param takes any scalar, as its text */
	ck_assert_int_eq(pipeline_find_param(p, "name")->value.type, EXPR_STR);
	ck_assert_str_eq(pipeline_find_param(p, "name")->value.str, "5");
	ck_assert_ptr_null(pipeline_find_param(p, "list")); /* shared files hold more */
	ck_assert_uint_eq(p->nparams_read, 2);
	ck_assert_str_eq(p->params_read[0], "params.yaml");
	ck_assert_str_eq(p->params_read[1], "exp.json");
	pipeline_free(p);
	o.ov = ov;
	o.nov = 2;
	p = load_ok(with_file, &o);
	ck_assert_double_eq(pipeline_find_param(p, "n")->value.num, 31);
	ck_assert_str_eq(pipeline_find_param(p, "extra.k")->value.str, "from-p");
	ck_assert_str_eq(used(p, "b"), "extra.k");
	pipeline_free(p);
}
END_TEST

START_TEST(params_file_errors)
{
	char *why;
	pipeline *p;
	/* missing */
	p = load_with(with_file, NULL, &why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "p.yaml:3:16: params file params.yaml: No such file"), "%s", why);
	free(why);
	/* malformed */
	tu_write(tu_path(ws, "params.yaml"), "n: [1,\n");
	p = load_with(with_file, NULL, &why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "params.yaml:2:1: "), "%s", why);
	free(why);
	/* the wrong type for a declared param; a map over a value; a value over a group */
	tu_write(tu_path(ws, "params.yaml"), "n: many\ntrain: 3\nextra: {k: 1}\n");
	tu_write(tu_path(ws, "b.yaml"), "n: {x: 1}\nextra: [1]\n");
	const char *files[] = {"b.yaml", "../out.yaml", "/etc/passwd"};
	pipeline_load_opts o = {.params_files = files, .nparams_files = 3};
	p = load_with(with_file, &o, &why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "params.yaml:1:4: param 'n' is a number (its default at "
				  "p.yaml:2:13), not a string"),
		      "%s", why);
	ck_assert_msg(strstr(why, "params.yaml:2:8: 'train' is a number here, but a group of "
				  "params (train.lr"),
		      "%s", why);
	ck_assert_msg(strstr(why, "b.yaml:1:4: 'n' is a map here, but param 'n' is a number"), "%s",
		      why);
	ck_assert_msg(strstr(why, "../out.yaml: params file '../out.yaml': "), "%s", why);
	ck_assert_msg(strstr(why, "/etc/passwd: params file '/etc/passwd': absolute"), "%s", why);
	free(why);
	/* a symlink is not followed */
	char target[600];
	snprintf(target, sizeof(target), "%s/b.yaml", ws);
	ck_assert_int_eq(symlink(target, tu_path(ws, "l.yaml")), 0);
	tu_write(tu_path(ws, "params.yaml"), "{}\n");
	const char *link[] = {"l.yaml"};
	o = (pipeline_load_opts){.params_files = link, .nparams_files = 1};
	p = load_with(with_file, &o, &why);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(why, "symlink"), "%s", why);
	free(why);
}
END_TEST

START_TEST(recorded_params_replace_the_files)
{
	/* params.yaml does not exist: a recorded run does not read it */
	pipeline_load_opts o = {.recorded = "{\"n\":30,\"train.lr\":0.5,\"extra.k\":\"x\","
					    "\"name\":\"base\"}"};
	pipeline *p = load_ok(with_file, &o);
	ck_assert_double_eq(pipeline_find_param(p, "n")->value.num, 30);
	ck_assert_double_eq(pipeline_find_param(p, "train.lr")->value.num, 0.5);
	ck_assert_str_eq(pipeline_find_param(p, "extra.k")->value.str, "x");
	ck_assert_uint_eq(p->nparams_read, 0);
	char *j = pipeline_params_json(p, 0);
	ck_assert_str_eq(j, "{\"extra.k\":\"x\",\"n\":30,\"name\":\"base\",\"train.lr\":0.5}");
	free(j);
	pipeline_free(p);
}
END_TEST

/* The plan of text with the -p overrides ov against st. */
static plan_entry *plan_with(const char *text, const param_override *ov, size_t nov, store *st,
			     pipeline **p, dag **d)
{
	pipeline_load_opts o = {.ov = ov, .nov = nov};
	*p = load_ok(text, &o);
	diag_list diags = DIAG_LIST_INIT;
	ck_assert_int_eq(dag_build(*p, d, &diags), 0);
	diag_release(&diags);
	plan_entry *e = NULL;
	sl_error *err = NULL;
	exec_options opt = {0};
	ck_assert_int_eq(executor_plan(*p, *d, st, &opt, &e, &err), 0);
	return e;
}

static const plan_entry *entry(plan_entry *e, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(e[k].name, name))
			return &e[k];
	ck_abort_msg("no plan entry %s", name);
	return NULL;
}

START_TEST(one_param_changes_only_its_steps)
{
	static const char *const text = "name: t\n"
					"params: {n: 300, seed: 7, train: {lr: 0.1}, other: x}\n"
					"steps:\n"
					"  a: {run: 'echo ${{ params.n }}'}\n"
					"  b: {run: 'true', params: [seed]}\n"
					"  c: {run: 'echo ${{ params.train.lr }}'}\n"
					"  d: {run: 'true'}\n";
	runner *r = runner_fake_new();
	struct tu_run run;
	tu_execute(&run, ws, text, NULL, r, (exec_options){0});
	ck_assert_str_eq(run.res.status, "succeeded");
	pipeline *p;
	dag *d;
	param_override ov[] = {{"n", "30"}, {"seed", "8"}, {"other", "y"}};
	plan_entry *e = plan_with(text, ov, 3, run.st, &p, &d);
	ck_assert_str_eq(entry(e, d->n, "a")->action, "run");
	ck_assert_msg(strstr(entry(e, d->n, "a")->why, "param n changed (300 -> 30)"), "%s",
		      entry(e, d->n, "a")->why);
	ck_assert_str_eq(entry(e, d->n, "b")->action, "run");
	ck_assert_str_eq(entry(e, d->n, "b")->why, "param seed changed (7 -> 8)");
	/* a param no step uses changes nothing */
	ck_assert_str_eq(entry(e, d->n, "c")->action, "cached");
	ck_assert_str_eq(entry(e, d->n, "d")->action, "cached");
	plan_entries_free(e, d->n);
	dag_free(d);
	pipeline_free(p);
	param_override nested[] = {{"train.lr", "0.2"}};
	e = plan_with(text, nested, 1, run.st, &p, &d);
	ck_assert_str_eq(entry(e, d->n, "a")->action, "cached");
	ck_assert_msg(strstr(entry(e, d->n, "c")->why, "param train.lr changed (0.1 -> 0.2)"), "%s",
		      entry(e, d->n, "c")->why);
	plan_entries_free(e, d->n);
	dag_free(d);
	pipeline_free(p);
	tu_run_done(&run);
	r->ops->free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("model");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, which_params_enter_which_step);
	tcase_add_test(tc, pipeline_env_counts_for_every_step);
	tcase_add_test(tc, nested_names_are_checked);
	tcase_add_test(tc, params_files_in_order_then_p);
	tcase_add_test(tc, params_file_errors);
	tcase_add_test(tc, recorded_params_replace_the_files);
	suite_add_tcase(s, tc);
	TCase *tk = tcase_create("keys");
	tcase_add_checked_fixture(tk, setup, teardown);
	tcase_add_test(tk, one_param_changes_only_its_steps);
	suite_add_tcase(s, tk);
	return tu_run_suite(s);
}
