/* Unit tests: a step's log — bounded size and memory, masking, stamps read back. */
#include "sluice/steplog.h"

#include "testutil.h"

#include <check.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

static char dir[256];
static char buf[1 << 20];

static void setup(void)
{
	tu_mkdtemp(dir, sizeof(dir), "sluice-steplog");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}

static off_t size_of(const char *rel)
{
	struct stat st;
	return stat(tu_path(dir, rel), &st) == 0 ? st.st_size : -1;
}

/* The length of the marker line of a cut log (with its newlines). */
static size_t marker_len(const char *log)
{
	const char *m = strstr(log, "\n[sluice: ");
	ck_assert_ptr_nonnull(m);
	return (size_t)(strchr(m + 1, '\n') - m) + 1;
}

/* The log as `sluice logs` prints it. */
static const char *rendered(void)
{
	static char *out;
	static size_t len;
	free(out);
	out = NULL;
	FILE *f = open_memstream(&out, &len);
	steplog_reader r;
	sl_error *err = NULL;
	ck_assert_int_eq(steplog_reader_open(&r, tu_path(dir, "log"), &err), 0);
	steplog_reader_pump(&r, f, 1);
	steplog_reader_close(&r);
	fclose(f);
	return out;
}

START_TEST(bytes_as_written_with_stamps_apart)
{
	steplog l;
	sl_error *err = NULL;
	ck_assert_int_eq(steplog_open(&l, dir, 1 << 20, NULL, &err), 0);
	const char *parts[] = {"a", "b\nsecond li", "ne\n", "no newline at the end"};
	for (size_t k = 0; k < 4; k++)
		steplog_write(&l, parts[k], strlen(parts[k]));
	ck_assert_int_eq(steplog_close(&l), 0);
	steplog_release(&l);
	/* the log holds the bytes and nothing else: no byte per line */
	ck_assert_str_eq(tu_read(tu_path(dir, "log"), buf, sizeof(buf)),
			 "ab\nsecond line\nno newline at the end");
	const char *out = rendered();
	ck_assert_msg(strstr(out, "Z ab\n") && strstr(out, "Z second line\n") &&
			      strstr(out, "Z no newline at the end\n"),
		      "%s", out);
	ck_assert_msg(out[4] == '-' && out[10] == 'T', "%s", out);
}
END_TEST

START_TEST(secrets_masked_across_writes)
{
	steplog l;
	sl_error *err = NULL;
	const char *secrets[] = {"hunter22", "abc", NULL};
	ck_assert_int_eq(steplog_open(&l, dir, 1 << 20, secrets, &err), 0);
	steplog_write(&l, "token hun", 9);
	steplog_write(&l, "ter22 and abc\n", 14);
	/* a long line cut in the middle of a secret still masks it */
	memset(buf, 'x', STEPLOG_LINE_MAX + 100);
	memcpy(buf + STEPLOG_LINE_MAX + 96, "hunt", 4);
	steplog_write(&l, buf, STEPLOG_LINE_MAX + 100);
	steplog_write(&l, "er22\n", 5);
	steplog_close(&l);
	steplog_release(&l);
	const char *log = tu_read(tu_path(dir, "log"), buf, sizeof(buf));
	ck_assert_msg(!strstr(log, "hunter22"), "a secret reached the log");
	ck_assert_msg(strstr(log, "token *** and abc\n"), "%.60s", log);
	ck_assert_msg(strstr(log, "xxx***\n"), "the cut line's secret is not masked");
}
END_TEST

START_TEST(head_and_tail_kept)
{
	steplog l;
	sl_error *err = NULL;
	ck_assert_int_eq(steplog_open(&l, dir, 64 << 10, NULL, &err), 0);
	char line[64];
	size_t total = 0;
	for (int k = 0; k < 20000; k++) {
		int n = snprintf(line, sizeof(line), "line %06d\n", k);
		steplog_write(&l, line, (size_t)n);
		total += (size_t)n;
	}
	uint64_t cut = steplog_close(&l);
	steplog_release(&l);
	ck_assert_uint_gt(cut, 0);
	const char *log = tu_read(tu_path(dir, "log"), buf, sizeof(buf));
	off_t size = size_of("log");
	ck_assert_int_le(size, (64 << 10) + 200);
	/* what is kept and what is cut add up to what was written */
	ck_assert_uint_eq((uint64_t)size - marker_len(log) + cut, total);
	ck_assert_msg(!strncmp(log, "line 000000\n", 12), "the head is gone");
	ck_assert_msg(strstr(log, "line 019999\n"), "the tail is gone");
	ck_assert_msg(strstr(log, " bytes cut here"), "no marker");
	/* the tail's segment files are gone, the stamps still read */
	ck_assert_int_eq(size_of("log.tail0"), -1);
	ck_assert_int_eq(size_of("log.tail1"), -1);
	ck_assert_msg(strstr(rendered(), "Z line 019999\n"), "the tail lost its stamps");
}
END_TEST

START_TEST(a_flood_without_newlines_stays_bounded)
{
	steplog l;
	sl_error *err = NULL;
	ck_assert_int_eq(steplog_open(&l, dir, 256 << 10, NULL, &err), 0);
	static char chunk[1 << 16];
	memset(chunk, 'y', sizeof(chunk));
	for (int k = 0; k < 1024; k++) /* 64 MiB in one line */
		steplog_write(&l, chunk, sizeof(chunk));
	ck_assert_uint_le(l.pending.cap, 4 * (STEPLOG_LINE_MAX + sizeof(chunk)));
	uint64_t cut = steplog_close(&l);
	steplog_release(&l);
	const char *log = tu_read(tu_path(dir, "log"), buf, sizeof(buf));
	ck_assert_uint_eq((uint64_t)size_of("log") - marker_len(log) + cut, 64ull << 20);
	ck_assert_int_le(size_of("log"), (256 << 10) + 200);
}
END_TEST

START_TEST(last_message_of_a_builtin)
{
	steplog l;
	sl_error *err = NULL;
	ck_assert_int_eq(steplog_open(&l, dir, 1 << 20, NULL, &err), 0);
	const char *text = "working\nsluice: first\nnot sluice: this\nsluice: the reason";
	steplog_write(&l, text, strlen(text));
	ck_assert_str_eq(l.last_msg, "first");
	steplog_close(&l);
	ck_assert_str_eq(l.last_msg, "the reason");
	steplog_release(&l);
}
END_TEST

START_TEST(old_logs_without_times)
{
	tu_write(tu_path(dir, "log"), "plain\nlines\n");
	ck_assert_str_eq(rendered(), "plain\nlines\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steplog");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bytes_as_written_with_stamps_apart);
	tcase_add_test(tc, secrets_masked_across_writes);
	tcase_add_test(tc, head_and_tail_kept);
	tcase_add_test(tc, a_flood_without_newlines_stays_bounded);
	tcase_add_test(tc, last_message_of_a_builtin);
	tcase_add_test(tc, old_logs_without_times);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
