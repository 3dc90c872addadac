/* Unit tests: content hashes of files and directories, and the stat cache. */
#include "sluice/filehash.h"
#include "sluice/store.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void put(const char *rel, const char *text)
{
	tu_write(tu_path(dir, rel), text);
}

static const char *hash_of(store *st, const char *rel, uint64_t *size)
{
	static char hex[SHA256_HEX_LEN + 1];
	sl_error *err = NULL;
	int rc = filehash_path(st, tu_path(dir, rel), hex, size, &err);
	ck_assert_msg(rc == 0, "%s", err ? err->msg : "");
	return hex;
}

static void setup(void)
{
	umask(022); /* the manifest test expects files made with mode 644 */
	tu_mkdtemp(dir, sizeof(dir), "sluice-filehash");
}

static void teardown(void)
{
	ck_assert_int_eq(fs_rm_rf(dir), 0);
}

START_TEST(file_hash_and_cache)
{
	store *st = tu_store_open(tu_path(dir, ".sluice"));
	sl_error *err = NULL;
	put("a.txt", "hello\n");
	uint64_t size = 0;
	/* sha256("hello\n") */
	ck_assert_str_eq(hash_of(st, "a.txt", &size),
			 "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	ck_assert_uint_eq(size, 6);
	/* the stat cache now knows it */
	char p[512], hex[65];
	snprintf(p, sizeof(p), "%s/a.txt", dir);
	struct stat sb;
	ck_assert_int_eq(stat(p, &sb), 0);
	file_stat_key k = {sb.st_size, sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec,
			   (int64_t)sb.st_ino,
			   sb.st_ctim.tv_sec * 1000000000LL + sb.st_ctim.tv_nsec};
	ck_assert_int_eq(store_lookup_hash(st, p, &k, hex, &err), 1);
	ck_assert_str_eq(hex, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	/* a cached entry is what is returned while the stat is unchanged: plant a
	 * different hash under the same stat and see it come back unread */
	ck_assert_int_eq(store_save_hash(st, p, &k,
					 "00000000000000000000000000000000000000000000"
					 "00000000000000000000",
					 &err),
			 0);
	ck_assert_str_eq(hash_of(st, "a.txt", NULL),
			 "0000000000000000000000000000000000000000000000000000000000000000");
	/* a changed file (new mtime/ctime/size) is read again */
	put("a.txt", "hello, world\n");
	ck_assert_str_eq(hash_of(st, "a.txt", &size),
			 "853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020");
	ck_assert_uint_eq(size, 13);
	/* without a store: no cache, same answer */
	ck_assert_str_eq(hash_of(NULL, "a.txt", NULL),
			 "853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020");
	store_close(st);
}
END_TEST

START_TEST(directory_manifest)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/d", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/d/sub", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	put("d/b.txt", "b");
	put("d/a.txt", "a");
	put("d/sub/c.txt", "c");
	uint64_t size = 0;
	char first[65];
	snprintf(first, sizeof(first), "%s", hash_of(NULL, "d", &size));
	ck_assert_uint_eq(size, 3);
	/* the manifest: sorted relative paths, modes and hashes */
	FILE *m = popen(
		"cd /tmp && printf 'a.txt\\t644\\t%s\\nb.txt\\t644\\t%s\\nsub/c.txt\\t644\\t%s\\n' "
		"$(printf a | sha256sum | cut -c1-64) $(printf b | sha256sum | cut -c1-64) "
		"$(printf c | sha256sum | cut -c1-64) | sha256sum | cut -c1-64",
		"r");
	char want[80] = "";
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), m));
	pclose(m);
	want[64] = 0;
	ck_assert_str_eq(first, want);
	/* an empty directory does not count; a mode change does */
	snprintf(p, sizeof(p), "%s/d/empty", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_str_eq(hash_of(NULL, "d", NULL), first);
	snprintf(p, sizeof(p), "%s/d/a.txt", dir);
	ck_assert_int_eq(chmod(p, 0755), 0);
	ck_assert_str_ne(hash_of(NULL, "d", NULL), first);
	ck_assert_int_eq(chmod(p, 0644), 0);
	ck_assert_str_eq(hash_of(NULL, "d", NULL), first);
	/* so does content */
	put("d/sub/c.txt", "C");
	ck_assert_str_ne(hash_of(NULL, "d", NULL), first);
	/* a missing path is an error with the path in it */
	sl_error *err = NULL;
	char hex[65];
	snprintf(p, sizeof(p), "%s/nope", dir);
	ck_assert_int_eq(filehash_path(NULL, p, hex, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "nope"));
	sl_error_release(&err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("filehash");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_hash_and_cache);
	tcase_add_test(tc, directory_manifest);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
