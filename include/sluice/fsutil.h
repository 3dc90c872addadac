/*
 * fsutil.h — the few file-system walks every layer needs, once: make a
 * directory and its parents, remove a tree, copy a file's bytes keeping its
 * holes, take the privileges off a file a step made.
 *
 * fs_mkdir_p and fs_mkdir_parents are async-signal-safe (a stack buffer,
 * mkdir(2) only), so the sandbox's child may call them between clone and
 * exec.  fs_rm_rf is not (it opens directories with opendir).
 */
#ifndef SLUICE_FSUTIL_H
#define SLUICE_FSUTIL_H

#include "sluice/error.h"

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p path: every missing directory of path, each with mode.  An
 * existing directory is fine.  0, or -1 with errno (ENAMETOOLONG past
 * PATH_MAX, ENOTDIR when a part is a file). */
int fs_mkdir_p(const char *path, mode_t mode);

/* The directories above path's last component, as fs_mkdir_p would make them. */
int fs_mkdir_parents(const char *path, mode_t mode);

/* rm -rf path, walking from directory fds: never following a symlink, never
 * leaving the file system it starts on (EXDEV), at most 256 levels deep
 * (ELOOP).  A directory without read, write or search permission for its
 * owner (as overlayfs leaves work/work) is opened up first.  It removes all
 * it can; a missing path is fine.  0, or -1 with the errno of the first
 * entry that could not be removed. */
int fs_rm_rf(const char *path);

/* rm -rf of name in the directory dfd, as fs_rm_rf does it (name is one
 * component; a symlink is removed, never followed). */
int fs_rm_rf_at(int dfd, const char *name);

/* What a file that is not a regular file is, for messages: "a FIFO", "a
 * socket", "a character device", "a symlink", "a directory"... */
const char *fs_kind_name(mode_t mode);

/* Copy the bytes of in to out (an empty file open for writing): a reflink
 * (FICLONE) where the file system shares blocks, else only the data
 * extents (SEEK_DATA / SEEK_HOLE) with copy_file_range, read/write where
 * that cannot, and out's size set at the end: holes stay holes, so a 1 GiB
 * sparse file costs what its data costs.  Both offsets are used from 0 and
 * left anywhere.  1 when it was a reflink, 0 copied, -1 with errno. */
int fs_copy_data(int in, int out);

/* Take away what a file a step made could grant whoever runs it: the
 * setuid and setgid bits and file capabilities (the security.capability
 * xattr) of name in dfd, when it is a regular file; anything else is left
 * as it is.  0, or -1 with errno. */
int fs_strip_privileges_at(int dfd, const char *name);

/* Open path for reading when it is a regular file: opened O_NONBLOCK, so
 * that a FIFO or a device can never make sluice wait, then checked.
 * Returns the fd, or -1 with an error naming path and what it is instead
 * ("data.csv is a FIFO, not a regular file"); a usage error (exit 2) but
 * for I/O errors. */
int fs_open_regular(const char *path, sl_error **err);

/* The whole regular file at path, NUL-terminated, malloc'd in *buf (the
 * caller frees it).  More than max bytes is an error saying so; what
 * names the file in messages ("metrics file m.json"). */
/* Read fd to its end into *buf (NUL-terminated, *len bytes, the caller
 * frees): more than max bytes is an error naming `what shown`. */
int fs_read_fd(int fd, const char *shown, size_t max, const char *what, char **buf, size_t *len,
	       sl_error **err);
int fs_read_regular(const char *path, size_t max, const char *what, char **buf, size_t *len,
		    sl_error **err);

#endif
