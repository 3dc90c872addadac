/* Unit tests: --sandbox strict (strict.h): the mode's parsing, and each setting
 * it refuses, named at its position in the file. */
#include "sluice/pipeline.h"
#include "sluice/strict.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pipeline *load(const char *text)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = NULL;
	int rc = pipeline_load_text("p.yaml", "/ws", text, strlen(text), NULL, 0, &p, &d);
	ck_assert_msg(rc == 0 && diag_count(&d) == 0, "the test's pipeline is invalid");
	diag_release(&d);
	return p;
}

/* What strict_check refuses in text, as "L:C: message\n..." (malloc'd), and how many. */
static char *refusals(const char *text, size_t *n)
{
	pipeline *p = load(text);
	diag_list d = DIAG_LIST_INIT;
	*n = strict_check(p, &d);
	ck_assert_uint_eq(*n, diag_count(&d));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (*n) /* diag_print sorts with qsort, which may not be given an empty NULL list */
		diag_print(&d, f);
	fclose(f);
	diag_release(&d);
	pipeline_free(p);
	return buf;
}

START_TEST(mode_option_env_and_bad_values)
{
	enum sandbox_mode m = SANDBOX_MODE_STRICT;
	sl_error *err = NULL;
	ck_assert_int_eq(strict_mode_parse(NULL, NULL, &m, &err), 0);
	ck_assert_int_eq(m, SANDBOX_MODE_DEFAULT);
	ck_assert_int_eq(strict_mode_parse(NULL, "", &m, &err), 0);
	ck_assert_int_eq(m, SANDBOX_MODE_DEFAULT);
	ck_assert_int_eq(strict_mode_parse(NULL, "strict", &m, &err), 0);
	ck_assert_int_eq(m, SANDBOX_MODE_STRICT);
	/* the option wins over the environment, both ways */
	ck_assert_int_eq(strict_mode_parse("default", "strict", &m, &err), 0);
	ck_assert_int_eq(m, SANDBOX_MODE_DEFAULT);
	ck_assert_int_eq(strict_mode_parse("strict", "default", &m, &err), 0);
	ck_assert_int_eq(m, SANDBOX_MODE_STRICT);
	ck_assert_int_lt(strict_mode_parse("loose", NULL, &m, &err), 0);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	ck_assert_str_eq(err->msg,
			 "--sandbox loose: unknown sandbox mode (accepted: default, strict)");
	sl_error_release(&err);
	ck_assert_int_lt(strict_mode_parse(NULL, "Strict", &m, &err), 0);
	ck_assert_str_eq(err->msg,
			 "SLUICE_SANDBOX=Strict: unknown sandbox mode (accepted: default, strict)");
	sl_error_release(&err);
}
END_TEST

START_TEST(each_refusal_at_its_setting)
{
	size_t n;
	char *msg = refusals("name: t\n"
			     "steps:\n"
			     "  none:\n"
			     "    run: x\n"
			     "    sandbox: none\n"
			     "  net:\n"
			     "    run: x\n"
			     "    sandbox: {memory: 1G, network: true}\n"
			     "  reads:\n"
			     "    run: x\n"
			     "    sandbox:\n"
			     "      read: [/datasets, /srv/x]\n"
			     "  gate:\n"
			     "    uses: gate\n"
			     "    with: {metrics: m.json, require: [\"auc > 0\"]}\n"
			     "  data:\n"
			     "    uses: validate-data\n"
			     "    with: {data: d.csv, expectations: e.yaml}\n"
			     "    outputs: [r.json]\n"
			     "  fine:\n"
			     "    run: x\n"
			     "    sandbox: {network: false, memory: 1G}\n",
			     &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(msg,
			 "p.yaml:5:14: step none: sandbox: none is refused by --sandbox strict\n"
			 "p.yaml:8:36: step net: sandbox: {network: true} is refused by --sandbox "
			 "strict (the step would share the host's network)\n"
			 "p.yaml:12:14: step reads: sandbox: {read: [/datasets]} is refused by "
			 "--sandbox strict (a host path beyond the sandbox's allow list)\n"
			 "p.yaml:12:25: step reads: sandbox: {read: [/srv/x]} is refused by "
			 "--sandbox strict (a host path beyond the sandbox's allow list)\n"
			 "p.yaml:14:11: step gate: uses: gate is refused by --sandbox strict (a "
			 "registry built-in runs outside the sandbox: it needs the state store and "
			 "the network)\n");
	free(msg);
}
END_TEST

/* A step that inherits the setting is refused at the line of `defaults:` that
 * sets it; one that overrides it is not refused. */
START_TEST(inherited_from_defaults)
{
	size_t n;
	char *msg = refusals("name: t\n"
			     "defaults:\n"
			     "  sandbox: {network: true}\n"
			     "steps:\n"
			     "  a: {run: x}\n"
			     "  b: {run: x, sandbox: {network: false}}\n"
			     "  c: {run: x, sandbox: default}\n",
			     &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(msg, "p.yaml:3:22: step a: sandbox: {network: true} (from defaults:) is "
			      "refused by --sandbox strict (the step would share the host's "
			      "network)\n"
			      "p.yaml:3:22: step c: sandbox: {network: true} (from defaults:) is "
			      "refused by --sandbox strict (the step would share the host's "
			      "network)\n");
	free(msg);
	msg = refusals("name: t\n"
		       "defaults:\n"
		       "  sandbox: none\n"
		       "steps:\n"
		       "  a: {run: x}\n"
		       "  b: {run: x, sandbox: {memory: 1G}}\n",
		       &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(msg, "p.yaml:3:12: step a: sandbox: none (from defaults:) is refused by "
			      "--sandbox strict\n");
	free(msg);
}
END_TEST

/* Matrix steps are checked once, by the name the file gives them. */
START_TEST(clean_pipeline_and_matrix)
{
	size_t n;
	char *msg = refusals("name: t\n"
			     "steps:\n"
			     "  train:\n"
			     "    matrix: {lr: [1, 2]}\n"
			     "    run: echo ${{ matrix.lr }}\n"
			     "    sandbox: none\n"
			     "  ok: {run: x}\n",
			     &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(msg, "p.yaml:6:14: step train: sandbox: none is refused by --sandbox "
			      "strict\n");
	free(msg);
	msg = refusals("name: t\nsteps:\n  a: {run: x}\n", &n);
	ck_assert_uint_eq(n, 0);
	free(msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("strict");
	TCase *tc = tcase_create("strict");
	tcase_add_test(tc, mode_option_env_and_bad_values);
	tcase_add_test(tc, each_refusal_at_its_setting);
	tcase_add_test(tc, inherited_from_defaults);
	tcase_add_test(tc, clean_pipeline_and_matrix);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
