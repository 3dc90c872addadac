/* Unit tests: the progress printer's plain lines and live line. */
#include "sluice/status.h"

#include "testutil.h"

#include <check.h>
#include <string.h>

static char *captured(FILE *f, char **buf)
{
	fflush(f);
	return *buf;
}

START_TEST(plain_lines)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	status_printer sp;
	status_init(&sp, f, 0);
	status_step(&sp, 1, 3, "train", "succeeded in 1.0s");
	status_note(&sp, "sluice: %s\n", "note");
	status_running run[] = {{"eval", 0}};
	status_live(&sp, 1, 3, run, 1, 5000); /* not live: draws nothing */
	sl_error *err = NULL;
	sl_error_make(&err, "disk full");
	status_warn(&sp, &err);
	ck_assert_ptr_null(err);
	sl_error_make(&err, "disk full"); /* said once */
	status_warn(&sp, &err);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(
		captured(f, &buf),
		"[1/3] train succeeded in 1.0s\nsluice: note\nsluice: warning: disk full\n");
	status_release(&sp);
	fclose(f);
	free(buf);
}
END_TEST

START_TEST(live_line_is_cleared_before_a_plain_one)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	status_printer sp;
	status_init(&sp, f, 1);
	status_running run[] = {{"a", 0}, {"b", 1000}, {"c", 0}, {"d", 0}, {"e", 0}};
	status_live(&sp, 2, 7, run, 5, 62000);
	status_step(&sp, 3, 7, "a", "succeeded");
	status_clear(&sp); /* nothing drawn any more: nothing to clear */
	ck_assert_str_eq(captured(f, &buf), "\r[2/7] a 01:02 | b 01:01 | c 01:02 | d 01:02\x1b[K"
					    "\r\x1b[K[3/7] a succeeded\n");
	fclose(f);
	free(buf);
}
END_TEST

START_TEST(silent_printer)
{
	status_printer sp;
	status_init(&sp, NULL, 1);
	status_step(&sp, 1, 1, "a", "x");
	status_running run[] = {{"a", 0}};
	status_live(&sp, 1, 1, run, 1, 0);
	status_clear(&sp);
	ck_assert_int_eq(sp.drawn, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, plain_lines);
	tcase_add_test(tc, live_line_is_cleared_before_a_plain_one);
	tcase_add_test(tc, silent_printer);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
