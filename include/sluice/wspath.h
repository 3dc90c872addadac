/*
 * wspath.h — paths that a step controls, resolved beneath a directory fd
 * (style.md section 11, design.md section 5).
 *
 * Every path sluice walks for a step (promoting outputs out of the upper
 * dir, restoring them from the cache, hashing inputs and outputs, reading
 * metrics) is relative to a directory that sluice opened itself: the
 * workspace, or an attempt's upper dir.  The step owns what is below it and
 * may have planted symlinks anywhere, so resolving follows no symlink at
 * all and never leaves the directory:
 *
 *   - openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 *     where the kernel has it (Linux 5.6), which checks every component at
 *     once;
 *   - else, and to name the component at fault when openat2 refuses, a walk
 *     from the directory fd one component at a time, each opened
 *     O_NOFOLLOW | O_DIRECTORY from the fd of the one before.
 *
 * Both are safe on their own; openat2 is the fast path.  The usual shape is
 * to resolve the PARENT of a path to a directory fd (every component a real
 * directory: no symlink, no "..", no absolute path) and then act on the
 * leaf with the *at calls and AT_SYMLINK_NOFOLLOW.  Regular files are opened
 * O_NOFOLLOW | O_NONBLOCK and checked with fstat, so a FIFO, a socket, a
 * device or a link to /proc/kmsg is refused, never read, never waited on.
 *
 * Errors name the relative path and the component ("lnk/victim.txt: lnk is
 * a symlink"); an absent path is an error whose errnum is ENOENT (the
 * callers that treat "missing" differently test for it, or use
 * wspath_lstat, which says 1).
 *
 * SLUICE_WSPATH_NO_OPENAT2=1 in the environment (read once), or
 * wspath_set_openat2(0), forces the walk: tests cover both.
 */
#ifndef SLUICE_WSPATH_H
#define SLUICE_WSPATH_H

#include "sluice/error.h"

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Use openat2 when the kernel has it (on = 1, the default unless the
 * environment says otherwise) or always walk (on = 0). */
void wspath_set_openat2(int on);
/* 1 when the last resolution that could use openat2 did (not the walk). */
int wspath_used_openat2(void);

/* The directory rel beneath dirfd, opened O_RDONLY | O_DIRECTORY (it can be
 * listed); "" or "." is dirfd itself, reopened.  With create, missing
 * directories are made (mode, less the umask) on the way.  The fd, or -1. */
int wspath_open_dir(int dirfd, const char *rel, int create, mode_t mode, sl_error **err);

/* The directory that holds rel's last component, as an O_PATH fd (for the
 * *at calls), and that last component in *leaf (malloc'd, the caller
 * frees it).  With create, missing parents are made as by wspath_open_dir. */
int wspath_open_parent(int dirfd, const char *rel, int create, mode_t mode, char **leaf,
		       sl_error **err);

/* lstat rel beneath dirfd: 0 with *st, 1 when rel (or one of its parents)
 * does not exist, -1 when it cannot be reached safely (a parent that is a
 * symlink or not a directory) or on an I/O error. */
int wspath_lstat(int dirfd, const char *rel, struct stat *st, sl_error **err);

/* Open the regular file rel for reading (O_NOFOLLOW | O_NONBLOCK, checked
 * with fstat into *st when st is not NULL).  A symlink, a FIFO, a socket or
 * a device is an error saying what it is. */
int wspath_open_regular(int dirfd, const char *rel, struct stat *st, sl_error **err);
/* The same for name, one component in the directory pfd; shown names it in
 * messages (its path relative to the workspace). */
int wspath_open_regular_at(int pfd, const char *name, const char *shown, struct stat *st,
			   sl_error **err);

/* The whole regular file rel, NUL-terminated, malloc'd in *buf; more than
 * max bytes is an error.  what names it in messages ("metrics file"). */
int wspath_read_regular(int dirfd, const char *rel, size_t max, const char *what, char **buf,
			size_t *len, sl_error **err);

/* The target text of the symlink name in pfd, malloc'd in *target (its
 * length in *len, may be NULL); shown names it in messages. */
int wspath_readlink_at(int pfd, const char *name, const char *shown, char **target, size_t *len,
		       sl_error **err);

/* mkdir -p rel beneath dirfd, following no symlink. */
int wspath_mkdir_p(int dirfd, const char *rel, mode_t mode, sl_error **err);

/* rm -rf rel beneath dirfd (fs_rm_rf_at on its leaf); a missing rel is fine. */
int wspath_remove(int dirfd, const char *rel, sl_error **err);

/* Rename from (beneath fromfd) to to (beneath tofd); to's parents must exist. */
int wspath_rename(int fromfd, const char *from, int tofd, const char *to, sl_error **err);

/* 1 when a symlink at rel (relative to the workspace) with target would
 * point out of the workspace: an absolute target, a relative one whose
 * leading ".." climb above the workspace from rel's directory, or one with
 * a ".." after a name ("a/../.."): that name may itself be a symlink, so
 * where such a ".." leads cannot be told from the text. */
int wspath_link_escapes(const char *rel, const char *target);

#endif
