/* Unit tests: durations, sizes, edit distance, path normalisation, strmap, arena. */
#include "sluice/arena.h"
#include "sluice/strmap.h"
#include "sluice/util.h"
#include "sluice/fsutil.h"
#include "testutil.h"

#include <check.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(durations)
{
	int64_t ms;
	const char *why;
	ck_assert_int_eq(parse_duration_ms("90s", &ms, &why), 0);
	ck_assert_int_eq(ms, 90000);
	ck_assert_int_eq(parse_duration_ms("30m", &ms, &why), 0);
	ck_assert_int_eq(ms, 1800000);
	ck_assert_int_eq(parse_duration_ms("2h", &ms, &why), 0);
	ck_assert_int_eq(ms, 7200000);
	ck_assert_int_eq(parse_duration_ms("1h30m", &ms, &why), 0);
	ck_assert_int_eq(ms, 5400000);
	ck_assert_int_eq(parse_duration_ms("250ms", &ms, &why), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(parse_duration_ms("1.5s", &ms, &why), 0);
	ck_assert_int_eq(ms, 1500);
	ck_assert_int_eq(parse_duration_ms("45", &ms, &why), 0);
	ck_assert_int_eq(ms, 45000);
	ck_assert_int_eq(parse_duration_ms("", &ms, &why), -1);
	ck_assert_int_eq(parse_duration_ms("10x", &ms, &why), -1);
	ck_assert_int_eq(parse_duration_ms("-5s", &ms, &why), -1);
	ck_assert_int_eq(parse_duration_ms("5 s", &ms, &why), -1);
	ck_assert_int_eq(parse_duration_ms("1e400s", &ms, &why), -1);
	char buf[32];
	format_duration_ms(5400000, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1h30m");
	format_duration_ms(250, buf, sizeof(buf));
	ck_assert_str_eq(buf, "250ms");
}
END_TEST

START_TEST(sizes)
{
	uint64_t b;
	const char *why;
	ck_assert_int_eq(parse_size("512M", &b, &why), 0);
	ck_assert_uint_eq(b, 512ull << 20);
	ck_assert_int_eq(parse_size("4G", &b, &why), 0);
	ck_assert_uint_eq(b, 4ull << 30);
	ck_assert_int_eq(parse_size("4GiB", &b, &why), 0);
	ck_assert_uint_eq(b, 4ull << 30);
	ck_assert_int_eq(parse_size("1.5G", &b, &why), 0);
	ck_assert_uint_eq(b, 3ull << 29);
	ck_assert_int_eq(parse_size("1024", &b, &why), 0);
	ck_assert_uint_eq(b, 1024);
	ck_assert_int_eq(parse_size("4Q", &b, &why), -1);
	ck_assert_int_eq(parse_size("G", &b, &why), -1);
	ck_assert_int_eq(parse_size("4GG", &b, &why), -1);
	char buf[32];
	format_size(4ull << 30, buf, sizeof(buf));
	ck_assert_str_eq(buf, "4G");
	format_size(1536ull << 10, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1536K");
}
END_TEST

START_TEST(distance)
{
	ck_assert_uint_eq(edit_distance("steps", "stpes", 3), 1); /* transposition */
	ck_assert_uint_eq(edit_distance("kitten", "sitting", 5), 3);
	ck_assert_uint_eq(edit_distance("a", "abcdef", 2), 3); /* capped at max+1 */
	const char *const keys[] = {"outputs", "inputs", "needs", "metrics"};
	ck_assert_str_eq(did_you_mean("ouputs", keys, 4), "outputs");
	ck_assert_str_eq(did_you_mean("inptus", keys, 4), "inputs");
	ck_assert_ptr_null(did_you_mean("banana", keys, 4));
}
END_TEST

static const char *norm(const char *in, char *buf)
{
	const char *why;
	snprintf(buf, 256, "%s", in);
	return path_normalize_relative(buf, &why) == 0 ? buf : NULL;
}

START_TEST(paths)
{
	char buf[256];
	ck_assert_str_eq(norm("a/b/c", buf), "a/b/c");
	ck_assert_str_eq(norm("./a//b/", buf), "a/b");
	ck_assert_str_eq(norm("a/../b", buf), "b");
	ck_assert_str_eq(norm("a/b/../../c/./d", buf), "c/d");
	ck_assert_ptr_null(norm("../x", buf));
	ck_assert_ptr_null(norm("a/../../x", buf));
	ck_assert_ptr_null(norm("/etc/passwd", buf));
	ck_assert_ptr_null(norm("", buf));
	ck_assert_ptr_null(norm("a/..", buf));
	ck_assert_int_eq(is_pipeline_name("churn-v2_x"), 1);
	ck_assert_int_eq(is_pipeline_name("Churn"), 0);
	ck_assert_int_eq(is_pipeline_name(""), 0);
}
END_TEST

START_TEST(map_and_arena)
{
	arena a = ARENA_INIT;
	strmap m = STRMAP_INIT;
	char *keys[5000];
	for (int i = 0; i < 5000; i++) {
		keys[i] = arena_printf(&a, "key-%d", i);
		ck_assert_ptr_null(strmap_put(&m, keys[i], (void *)(long)(i + 1)));
	}
	ck_assert_uint_eq(m.count, 5000);
	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq((long)strmap_get(&m, keys[i]), i + 1);
	ck_assert_ptr_null(strmap_get(&m, "key-5000"));
	ck_assert_int_eq((long)strmap_put(&m, keys[7], (void *)99L), 8);
	ck_assert_int_eq((long)strmap_get(&m, "key-7"), 99);
	void *big = arena_alloc(&a, 3 << 20); /* larger than a chunk */
	memset(big, 1, 3 << 20);
	ck_assert_str_eq(arena_strndup(&a, "abcdef", 3), "abc");
	strmap_release(&m);
	arena_release(&a);
}
END_TEST

START_TEST(fs_helpers)
{
	char dir[256];
	tu_mkdtemp(dir, sizeof(dir), "sluice-fs");
	/* mkdir -p and its parents */
	ck_assert_int_eq(fs_mkdir_p(tu_path(dir, "a/b/c/"), 0755), 0);
	ck_assert_int_eq(fs_mkdir_parents(tu_path(dir, "x/y/file"), 0755), 0);
	struct stat st;
	ck_assert_int_eq(stat(tu_path(dir, "x/y"), &st), 0);
	ck_assert_int_eq(stat(tu_path(dir, "x/y/file"), &st), -1);
	/* regular files only, never blocking */
	tu_write(tu_path(dir, "f.txt"), "hello");
	ck_assert_int_eq(mkfifo(tu_path(dir, "fifo"), 0644), 0);
	sl_error *err = NULL;
	char *buf;
	size_t len;
	ck_assert_int_eq(fs_read_regular(tu_path(dir, "f.txt"), 5, "test file", &buf, &len, &err),
			 0);
	ck_assert_str_eq(buf, "hello");
	free(buf);
	ck_assert_int_eq(fs_read_regular(tu_path(dir, "f.txt"), 4, "test file", &buf, &len, &err),
			 -1);
	ck_assert_msg(strstr(err->msg, "is larger than 4, the most it may hold"), "%s", err->msg);
	ck_assert_int_eq(err->kind, SL_ERR_USAGE);
	sl_error_release(&err);
	ck_assert_int_eq(fs_open_regular(tu_path(dir, "fifo"), &err), -1);
	ck_assert_msg(strstr(err->msg, "fifo is a FIFO, not a regular file"), "%s", err->msg);
	sl_error_release(&err);
	ck_assert_int_eq(fs_open_regular("/dev/zero", &err), -1);
	ck_assert_str_eq(err->msg, "/dev/zero is a character device, not a regular file");
	sl_error_release(&err);
	ck_assert_int_eq(fs_open_regular(tu_path(dir, "a"), &err), -1);
	ck_assert_msg(strstr(err->msg, "is a directory"), "%s", err->msg);
	sl_error_release(&err);
	/* rm -rf: opens up a mode-000 directory, never follows a symlink out */
	tu_write(tu_path(dir, "outside"), "keep");
	ck_assert_int_eq(mkdir(tu_path(dir, "t"), 0755), 0);
	ck_assert_int_eq(mkdir(tu_path(dir, "t/locked"), 0755), 0);
	tu_write(tu_path(dir, "t/locked/f"), "x");
	ck_assert_int_eq(chmod(tu_path(dir, "t/locked"), 0), 0);
	ck_assert_int_eq(symlink(dir, tu_path(dir, "t/link")), 0);
	ck_assert_int_eq(fs_rm_rf(tu_path(dir, "t")), 0);
	ck_assert_int_eq(lstat(tu_path(dir, "t"), &st), -1);
	ck_assert_int_eq(stat(tu_path(dir, "outside"), &st), 0);
	ck_assert_int_eq(fs_rm_rf(tu_path(dir, "missing")), 0);
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, distance);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, map_and_arena);
	tcase_add_test(tc, fs_helpers);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
