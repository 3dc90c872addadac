/*
 * testutil.h — what the unit tests share: a scratch directory, paths in it,
 * writing and reading small files, opening a store, running a suite.
 *
 * Static functions in a header, so each tests/unit/test_NAME.c still builds
 * from its one file (the Makefile's rule).  A helper that cannot do its job
 * fails the running test (ck_assert) instead of returning an error; the
 * scratch directory is removed with fsutil.h's fs_rm_rf.
 */
#ifndef SLUICE_TESTUTIL_H
#define SLUICE_TESTUTIL_H

#include "sluice/fsutil.h"
#include "sluice/store.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* Make a fresh directory $TMPDIR/NAME.XXXXXX (/tmp without TMPDIR) into buf. */
static inline char *tu_mkdtemp(char *buf, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(buf, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	ck_assert_msg(n > 0 && (size_t)n < size, "scratch directory name too long");
	ck_assert_ptr_nonnull(mkdtemp(buf));
	return buf;
}

/* DIR/REL in one of eight static buffers: good until the eighth call after. */
static inline char *tu_path(const char *dir, const char *rel)
{
	static char buf[8][PATH_MAX];
	static int k;
	k = (k + 1) % 8;
	int n = snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, rel);
	ck_assert_msg(n > 0 && (size_t)n < sizeof(buf[k]), "path too long: %s/%s", dir, rel);
	return buf[k];
}

/* Create or truncate path with text. */
static inline void tu_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* The first size - 1 bytes of path in buf, NUL-terminated; NULL when it cannot be opened. */
static inline char *tu_read(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* store_open that must succeed. */
static inline store *tu_store_open(const char *dir)
{
	store *st = NULL;
	sl_error *err = NULL;
	int rc = store_open(dir, &st, &err);
	ck_assert_msg(rc == 0, "store_open: %s", err ? err->msg : "?");
	ck_assert_ptr_nonnull(st);
	return st;
}

/* Run every test of s (and free it); the exit status for main. */
static inline int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
