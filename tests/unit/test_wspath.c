/* Unit tests: paths beneath a directory fd (wspath.h), through openat2 and
 * through the O_NOFOLLOW walk; and fsutil's sparse copy and privilege strip. */
#include "sluice/fsutil.h"
#include "sluice/wspath.h"
#include "testutil.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static char dir[PATH_MAX];
static int dfd;

/* A workspace with a file, a directory, symlinks in and out, a FIFO. */
static void setup(void)
{
	tu_mkdtemp(dir, sizeof(dir), "wspath");
	ck_assert_int_eq(mkdir(tu_path(dir, "ws"), 0755), 0);
	ck_assert_int_eq(mkdir(tu_path(dir, "ws/d"), 0755), 0);
	ck_assert_int_eq(mkdir(tu_path(dir, "outside"), 0755), 0);
	tu_write(tu_path(dir, "outside/secret"), "secret");
	tu_write(tu_path(dir, "ws/d/f.txt"), "hello");
	ck_assert_int_eq(symlink(tu_path(dir, "outside"), tu_path(dir, "ws/lnk")), 0);
	ck_assert_int_eq(symlink("d", tu_path(dir, "ws/rel")), 0);
	ck_assert_int_eq(symlink("/proc/kmsg", tu_path(dir, "ws/kmsg")), 0);
	ck_assert_int_eq(mkfifo(tu_path(dir, "ws/fifo"), 0644), 0);
	dfd = open(tu_path(dir, "ws"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
	close(dfd);
	fs_rm_rf(dir);
	wspath_set_openat2(1);
}

#define EXPECT_ERR(call, needle)                                                                   \
	do {                                                                                       \
		sl_error *e_ = NULL;                                                               \
		ck_assert_int_eq((call), -1);                                                      \
		ck_assert_ptr_nonnull(e_);                                                         \
		ck_assert_msg(strstr(e_->msg, (needle)), "'%s' not in '%s'", (needle), e_->msg);   \
		sl_error_release(&e_);                                                             \
	} while (0)
#define ERR (&e_)

/* Everything both back ends must agree on. */
static void check_all(int use_openat2)
{
	wspath_set_openat2(use_openat2);
	struct stat st;
	sl_error *err = NULL;
	/* a plain file and a directory */
	int fd = wspath_open_regular(dfd, "d/f.txt", &st, &err);
	ck_assert_msg(fd >= 0, "%s", err ? err->msg : "");
	ck_assert_int_eq(st.st_size, 5);
	close(fd);
	if (use_openat2)
		ck_assert_msg(wspath_used_openat2(), "openat2 was not used (kernel without it?)");
	else
		ck_assert_int_eq(wspath_used_openat2(), 0);
	fd = wspath_open_dir(dfd, "./d//", 0, 0, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = wspath_open_dir(dfd, "", 0, 0, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* a symlinked parent, out or in, is refused and named */
	EXPECT_ERR(wspath_open_regular(dfd, "lnk/secret", NULL, ERR), "lnk is a symlink");
	EXPECT_ERR(wspath_open_regular(dfd, "rel/f.txt", NULL, ERR), "rel/f.txt: rel is a symlink");
	EXPECT_ERR(wspath_open_dir(dfd, "lnk", 0, 0, ERR), "lnk is a symlink");
	EXPECT_ERR(wspath_mkdir_p(dfd, "lnk/new", 0755, ERR), "lnk is a symlink");
	ck_assert_int_eq(access(tu_path(dir, "outside/new"), F_OK), -1);
	/* a leaf that is a symlink, a FIFO (never waited on), a directory */
	EXPECT_ERR(wspath_open_regular(dfd, "kmsg", NULL, ERR), "kmsg is a symlink");
	EXPECT_ERR(wspath_open_regular(dfd, "fifo", NULL, ERR),
		   "fifo is a FIFO, not a regular file");
	EXPECT_ERR(wspath_open_regular(dfd, "d", NULL, ERR), "d is a directory");
	EXPECT_ERR(wspath_open_regular(dfd, "d/f.txt/x", NULL, ERR), "f.txt is a regular file");
	/* nothing climbs out or starts at / */
	EXPECT_ERR(wspath_open_regular(dfd, "../outside/secret", NULL, ERR), "\"..\"");
	EXPECT_ERR(wspath_open_regular(dfd, "d/../../outside/secret", NULL, ERR), "\"..\"");
	EXPECT_ERR(wspath_open_regular(dfd, tu_path(dir, "outside/secret"), NULL, ERR), "absolute");
	/* missing: lstat says 1, the rest say ENOENT */
	ck_assert_int_eq(wspath_lstat(dfd, "nope/x", &st, &err), 1);
	ck_assert_int_eq(wspath_lstat(dfd, "d/nope", &st, &err), 1);
	ck_assert_int_eq(wspath_lstat(dfd, "lnk", &st, &err), 0);
	ck_assert(S_ISLNK(st.st_mode));
	EXPECT_ERR(wspath_lstat(dfd, "lnk/secret", &st, ERR), "lnk is a symlink");
	ck_assert_int_eq(wspath_open_regular(dfd, "d/nope", NULL, &err), -1);
	ck_assert_int_eq(err->errnum, ENOENT);
	sl_error_release(&err);
	/* make, read, rename, remove */
	ck_assert_int_eq(wspath_mkdir_p(dfd, "a/b/c", 0755, &err), 0);
	fd = wspath_open_dir(dfd, "x/y", 1, 0755, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	char *buf;
	size_t len;
	ck_assert_int_eq(wspath_read_regular(dfd, "d/f.txt", 100, "test file", &buf, &len, &err),
			 0);
	ck_assert_str_eq(buf, "hello");
	free(buf);
	EXPECT_ERR(wspath_read_regular(dfd, "d/f.txt", 3, "test file", &buf, &len, ERR),
		   "test file d/f.txt is larger than 3, the most it may hold");
	ck_assert_int_eq(wspath_rename(dfd, "d/f.txt", dfd, "a/b/c/g.txt", &err), 0);
	ck_assert_int_eq(wspath_lstat(dfd, "a/b/c/g.txt", &st, &err), 0);
	ck_assert_int_eq(wspath_rename(dfd, "a/b/c/g.txt", dfd, "d/f.txt", &err), 0);
	char *leaf = NULL;
	int pfd = wspath_open_parent(dfd, "d/f.txt", 0, 0, &leaf, &err);
	ck_assert_int_ge(pfd, 0);
	ck_assert_str_eq(leaf, "f.txt");
	free(leaf);
	close(pfd);
	pfd = wspath_open_parent(dfd, "kmsg", 0, 0, &leaf, &err);
	ck_assert_int_ge(pfd, 0);
	char *target;
	ck_assert_int_eq(wspath_readlink_at(pfd, leaf, "kmsg", &target, &len, &err), 0);
	ck_assert_str_eq(target, "/proc/kmsg");
	ck_assert_uint_eq(len, 10);
	free(target);
	free(leaf);
	close(pfd);
	ck_assert_int_eq(wspath_remove(dfd, "a", &err), 0);
	ck_assert_int_eq(wspath_remove(dfd, "x", &err), 0);
	ck_assert_int_eq(wspath_remove(dfd, "missing/deeper", &err), 0);
	ck_assert_int_eq(wspath_remove(dfd, "lnk", &err), 0); /* the link, not what it names */
	ck_assert_int_eq(access(tu_path(dir, "outside/secret"), F_OK), 0);
	ck_assert_int_eq(wspath_lstat(dfd, "a", &st, &err), 1);
}

START_TEST(through_openat2)
{
	check_all(1);
}
END_TEST

START_TEST(through_the_walk)
{
	check_all(0);
}
END_TEST

START_TEST(links_that_escape)
{
	ck_assert_int_eq(wspath_link_escapes("l", "/etc/shadow"), 1);
	ck_assert_int_eq(wspath_link_escapes("l", "../x"), 1);
	ck_assert_int_eq(wspath_link_escapes("a/l", "../x"), 0);
	ck_assert_int_eq(wspath_link_escapes("a/l", "../../x"), 1);
	ck_assert_int_eq(wspath_link_escapes("a/b/l", "./../../x/y"), 0);
	ck_assert_int_eq(wspath_link_escapes("a/l", "x/../.."), 1); /* x may be a link */
	ck_assert_int_eq(wspath_link_escapes("l", "model.v3"), 0);
	ck_assert_int_eq(wspath_link_escapes("l", "d/f.txt"), 0);
}
END_TEST

START_TEST(sparse_copy_and_privileges)
{
	/* a 64 MiB file with 4 KiB of data at 1 MiB and at its end */
	int in = open(tu_path(dir, "sparse"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(in, 0);
	ck_assert_int_eq(pwrite(in, "data", 4, 1 << 20), 4);
	ck_assert_int_eq(pwrite(in, "tail", 4, (64 << 20) - 4), 4);
	int out = open(tu_path(dir, "copy"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(out, 0);
	ck_assert_int_ge(fs_copy_data(in, out), 0);
	struct stat a, b;
	ck_assert_int_eq(fstat(in, &a), 0);
	ck_assert_int_eq(fstat(out, &b), 0);
	ck_assert_int_eq(b.st_size, 64 << 20);
	ck_assert_msg(b.st_blocks * 512 < (4 << 20), "the copy takes %lld bytes",
		      (long long)b.st_blocks * 512);
	char got[5] = "";
	ck_assert_int_eq(pread(out, got, 4, 1 << 20), 4);
	ck_assert_str_eq(got, "data");
	ck_assert_int_eq(pread(out, got, 4, (64 << 20) - 4), 4);
	ck_assert_str_eq(got, "tail");
	close(in);
	close(out);
	/* setuid and setgid go, the rest of the mode stays; not a file: untouched */
	ck_assert_int_eq(chmod(tu_path(dir, "copy"), 06755), 0);
	ck_assert_int_eq(fs_strip_privileges_at(dfd, "../copy"), 0);
	ck_assert_int_eq(stat(tu_path(dir, "copy"), &b), 0);
	ck_assert_int_eq(b.st_mode & 07777, 0755);
	ck_assert_int_eq(fs_strip_privileges_at(dfd, "lnk"), 0);
	ck_assert_int_eq(fs_strip_privileges_at(dfd, "fifo"), 0);
	/* file capabilities (a VFS_CAP_REVISION_2 xattr, cap_net_raw+ep): root only */
	struct {
		uint32_t magic_etc;
		struct {
			uint32_t permitted, inheritable;
		} data[2];
	} cap = {0x02000000 | 1, {{1u << 13, 0}, {0, 0}}};
	if (geteuid() == 0 &&
	    setxattr(tu_path(dir, "copy"), "security.capability", &cap, sizeof(cap), 0) == 0) {
		ck_assert_int_gt(getxattr(tu_path(dir, "copy"), "security.capability", NULL, 0), 0);
		ck_assert_int_eq(fs_strip_privileges_at(dfd, "../copy"), 0);
		ck_assert_int_eq(getxattr(tu_path(dir, "copy"), "security.capability", NULL, 0),
				 -1);
		ck_assert_int_eq(errno, ENODATA);
	} else {
		fprintf(stderr,
			"test_wspath: file capabilities not tested (not root, or no xattrs)\n");
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wspath");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, through_openat2);
	tcase_add_test(tc, through_the_walk);
	tcase_add_test(tc, links_that_escape);
	tcase_add_test(tc, sparse_copy_and_privileges);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
