/* Unit tests: the pipeline loader (typing, defaults, overrides, errors) and the DAG. */
#include "sluice/dag.h"
#include "sluice/pipeline.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pipeline *load(const char *text, const param_override *ov, size_t nov, diag_list *d)
{
	pipeline *p = NULL;
	if (pipeline_load_text("p.yaml", "/ws", text, strlen(text), ov, nov, &p, d) < 0) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

/* The diagnostics as one string "L:C: msg\n...". */
static char *diags_text(diag_list *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	diag_print(d, f);
	fclose(f);
	return buf;
}

START_TEST(defaults_merge)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = load("name: t\n"
			   "defaults:\n"
			   "  timeout: 30m\n"
			   "  retries: {limit: 2, backoff: 5s, on: [error, timeout]}\n"
			   "  sandbox: {network: false, memory: 4G, pids: 512}\n"
			   "steps:\n"
			   "  a:\n"
			   "    run: echo\n"
			   "    sandbox: {network: true}\n"
			   "    timeout: 90s\n"
			   "  b:\n"
			   "    run: echo\n"
			   "    sandbox: none\n"
			   "    cache: false\n",
			   NULL, 0, &d);
	ck_assert_msg(p != NULL, "%s", diags_text(&d));
	const pstep *a = pipeline_find_step(p, "a"), *b = pipeline_find_step(p, "b");
	ck_assert_int_eq(a->timeout_ms, 90000);
	ck_assert_int_eq(a->sandbox.network, 1);
	ck_assert_uint_eq(a->sandbox.memory, 4ull << 30); /* merged key by key */
	ck_assert_int_eq(a->sandbox.pids, 512);
	ck_assert_int_eq(a->retries.limit, 2);
	ck_assert_int_eq(a->retries.backoff_ms, 5000);
	ck_assert_uint_eq(a->retries.on, RETRY_ON_ERROR | RETRY_ON_TIMEOUT);
	ck_assert_int_eq(a->grace_ms, 10000);
	ck_assert_int_eq(a->cache, 1);
	ck_assert_int_eq(b->timeout_ms, 1800000);
	ck_assert_int_eq(b->sandbox.enabled, 0);
	ck_assert_int_eq(b->cache, 0);
	pipeline_free(p);
	diag_release(&d);
}
END_TEST

START_TEST(params_and_overrides)
{
	const char *text = "name: t\n"
			   "params: {n: 300, lr: 0.1, fast: false, data: data/x.csv, ver: \"2\"}\n"
			   "steps:\n"
			   "  a: {run: echo}\n";
	diag_list d = DIAG_LIST_INIT;
	param_override ov[] = {{"n", "500"}, {"fast", "true"}, {"ver", "3"}};
	pipeline *p = load(text, ov, 3, &d);
	ck_assert_msg(p != NULL, "%s", diags_text(&d));
	ck_assert_int_eq(pipeline_find_param(p, "n")->value.type, EXPR_NUM);
	ck_assert_double_eq(pipeline_find_param(p, "n")->value.num, 500);
	ck_assert_int_eq(pipeline_find_param(p, "fast")->value.b, 1);
	ck_assert_int_eq(pipeline_find_param(p, "ver")->value.type, EXPR_STR); /* quoted */
	ck_assert_str_eq(pipeline_find_param(p, "ver")->value.str, "3");
	ck_assert_str_eq(pipeline_find_param(p, "data")->value.str, "data/x.csv");
	pipeline_free(p);

	param_override bad[] = {{"n", "many"}, {"fats", "true"}, {"fast", "yes"}};
	p = load(text, bad, 3, &d);
	ck_assert_ptr_null(p);
	char *msg = diags_text(&d);
	ck_assert_msg(strstr(msg, "-p n=many: param 'n' is a number"), "%s", msg);
	ck_assert_msg(strstr(msg, "no param 'fats' (did you mean 'fast'?)"), "%s", msg);
	ck_assert_msg(strstr(msg, "-p fast=yes: param 'fast' is true or false"), "%s", msg);
	free(msg);
	diag_release(&d);
}
END_TEST

START_TEST(all_errors_reported)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = load("name: t\n"
			   "steps:\n"
			   "  a:\n"
			   "    run: echo\n"
			   "    timeout: never\n"
			   "    retries: {limt: 2}\n"
			   "  b:\n"
			   "    uses: drift\n"
			   "    with: {reference: r.csv, curent: c.csv}\n",
			   NULL, 0, &d);
	ck_assert_ptr_null(p);
	char *msg = diags_text(&d);
	ck_assert_msg(strstr(msg, "p.yaml:5:14: timeout: 'never' is not a duration"), "%s", msg);
	ck_assert_msg(strstr(msg, "p.yaml:6:15: unknown key 'limt' in retries (did you mean "
				  "'limit'?)"),
		      "%s", msg);
	ck_assert_msg(strstr(msg, "p.yaml:9:30: unknown key 'curent' in drift (did you mean "
				  "'current'?)"),
		      "%s", msg);
	ck_assert_msg(strstr(msg, "needs with.current"), "%s", msg);
	ck_assert_uint_eq(diag_count(&d), 4);
	free(msg);
	diag_release(&d);
}
END_TEST

START_TEST(literal_block_positions)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = load("name: t\n"
			   "steps:\n"
			   "  a:\n"
			   "    run: |\n"
			   "      echo one\n"
			   "      echo ${{ params.nope }}\n",
			   NULL, 0, &d);
	ck_assert_ptr_null(p);
	char *msg = diags_text(&d);
	ck_assert_msg(strstr(msg, "p.yaml:6:16: unknown param 'nope'"), "%s", msg);
	free(msg);
	diag_release(&d);
}
END_TEST

static dag *build(const char *text, diag_list *d, pipeline **pp)
{
	*pp = load(text, NULL, 0, d);
	if (!*pp)
		return NULL;
	dag *g = NULL;
	dag_build(*pp, &g, d);
	return g;
}

START_TEST(dag_edges_and_order)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p;
	dag *g = build("name: t\n"
		       "params: {data: in/raw.csv}\n"
		       "steps:\n"
		       "  evaluate:\n"
		       "    run: e\n"
		       "    inputs: [model/m.pkl]\n"
		       "  train:\n"
		       "    run: t\n"
		       "    inputs: [\"${{ params.data }}\", ./clean/]\n"
		       "    outputs: [model/m.pkl]\n"
		       "  clean:\n"
		       "    run: c\n"
		       "    outputs: [clean/a.csv, clean/b.csv]\n"
		       "  report:\n"
		       "    needs: [evaluate, train]\n"
		       "    run: r\n",
		       &d, &p);
	ck_assert_msg(g != NULL, "%s", diags_text(&d));
	ck_assert_uint_eq(g->n, 4);
	/* clean -> train (directory input) -> evaluate (file) -> report */
	const char *want[] = {"clean", "train", "evaluate", "report"};
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(g->nodes[g->order[i]].name, want[i]);
	long t = dag_find(g, "train");
	ck_assert_str_eq(g->nodes[t].inputs[0], "in/raw.csv");
	ck_assert_str_eq(g->nodes[t].inputs[1], "clean");
	ck_assert_uint_eq(g->nodes[t].ndeps, 1);
	ck_assert_uint_eq(g->nodes[dag_find(g, "report")].ndeps, 2);
	dag_free(g);
	pipeline_free(p);
	diag_release(&d);
}
END_TEST

START_TEST(dag_matrix)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p;
	dag *g = build("name: t\n"
		       "steps:\n"
		       "  train:\n"
		       "    matrix: {lr: [0.1, 0.01], depth: [4, 6]}\n"
		       "    run: t ${{ matrix.lr }}\n"
		       "    outputs: [\"m/${{ matrix.lr }}_${{ matrix.depth }}\"]\n"
		       "  pick:\n"
		       "    needs: [train]\n"
		       "    run: p\n",
		       &d, &p);
	ck_assert_msg(g != NULL, "%s", diags_text(&d));
	ck_assert_uint_eq(g->n, 5);
	ck_assert_str_eq(g->nodes[0].name, "train[lr=0.1,depth=4]");
	ck_assert_str_eq(g->nodes[1].name, "train[lr=0.1,depth=6]");
	ck_assert_str_eq(g->nodes[3].name, "train[lr=0.01,depth=6]");
	ck_assert_str_eq(g->nodes[3].outputs[0], "m/0.01_6");
	ck_assert_uint_eq(g->nodes[4].ndeps, 4); /* waits for every instance */
	expr_value v = dag_matrix_value(&g->nodes[2], 0);
	ck_assert_int_eq(v.type, EXPR_NUM);
	ck_assert_double_eq(v.num, 0.01);
	dag_free(g);
	pipeline_free(p);
	diag_release(&d);
}
END_TEST

START_TEST(dag_cycle_names_whole_cycle)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p;
	dag *g = build("name: t\n"
		       "steps:\n"
		       "  start: {run: s}\n"
		       "  a: {run: a, needs: [start, c]}\n"
		       "  b: {run: b, needs: [a]}\n"
		       "  c: {run: c, needs: [b]}\n",
		       &d, &p);
	ck_assert_ptr_null(g);
	char *msg = diags_text(&d);
	ck_assert_msg(strstr(msg, "dependency cycle: a -> b -> c -> a") ||
			      strstr(msg, "dependency cycle: b -> c -> a -> b") ||
			      strstr(msg, "dependency cycle: c -> a -> b -> c"),
		      "%s", msg);
	free(msg);
	pipeline_free(p);
	diag_release(&d);
}
END_TEST

START_TEST(billion_laughs_bounded)
{
	/* 10 levels of 10 aliases: 10^10 nodes if expanded */
	char text[4096];
	size_t off =
		(size_t)snprintf(text, sizeof(text), "name: t\nl0: &l0 [x,x,x,x,x,x,x,x,x,x]\n");
	for (int i = 1; i < 10; i++)
		off += (size_t)snprintf(
			text + off, sizeof(text) - off,
			"l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i, i,
			i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	snprintf(text + off, sizeof(text) - off, "steps: {a: {run: x}}\n");
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = load(text, NULL, 0, &d);
	ck_assert_ptr_null(p);
	char *msg = diags_text(&d);
	ck_assert_msg(strstr(msg, "too large once aliases are expanded"), "%s", msg);
	free(msg);
	diag_release(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, defaults_merge);
	tcase_add_test(tc, params_and_overrides);
	tcase_add_test(tc, all_errors_reported);
	tcase_add_test(tc, literal_block_positions);
	tcase_add_test(tc, billion_laughs_bounded);
	suite_add_tcase(s, tc);
	TCase *tg = tcase_create("dag");
	tcase_add_test(tg, dag_edges_and_order);
	tcase_add_test(tg, dag_matrix);
	tcase_add_test(tg, dag_cycle_names_whole_cycle);
	suite_add_tcase(s, tg);
	return tu_run_suite(s);
}
