/*
 * filehash.h — content hashes of workspace paths (docs/caching.md).
 *
 * A regular file hashes as the SHA-256 of its bytes, looked up first in the
 * store's stat cache by (path, size, mtime_ns, inode, ctime_ns), so an
 * unchanged large file is not read again.  A directory hashes as the
 * SHA-256 of its manifest: one line "relative/path\tmode\tsha256\n" per
 * regular file or symlink below it, sorted by path.  mode is 644 or 755 (only
 * the executable bit counts, as in git) or "link" for a symlink, which
 * hashes as its target text; empty directories do not count.  A symlink
 * that is itself the path hashed (not inside a directory) hashes as
 * filehash_link says, so that it never shares a hash with a file holding
 * its target text.
 *
 * The paths of a step (its inputs and outputs) are hashed with filehash_at:
 * beneath the workspace's directory fd, following no symlink (wspath.h),
 * regular files opened O_NOFOLLOW | O_NONBLOCK, so a step cannot make sluice
 * read a host file, wait on a FIFO or /proc/kmsg, or hash what a symlink
 * points at.  filehash_path is for sluice's own paths (the step's program,
 * resolved on PATH, and cache objects): it follows a symlink at the top.
 */
#ifndef SLUICE_FILEHASH_H
#define SLUICE_FILEHASH_H

#include "sluice/error.h"
#include "sluice/hash.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* How strict filehash_at and filehash_manifest_at are. */
enum filehash_flags {
	/* A step's output: a FIFO, socket or device (also inside a directory)
	 * and a symlink whose target leaves the workspace are errors, where an
	 * input leaves them out or takes them as they are. */
	FILEHASH_OUTPUT = 1,
};

/* hex: SHA256_HEX_LEN + 1 bytes.  *size: bytes of the file, or of all files
 * below a directory.  st may be NULL (no cache).  Follows path itself when
 * it is a symlink; for sluice's own paths only (see above). */
int filehash_path(store *st, const char *path, char *hex, uint64_t *size, sl_error **err);

/* The hash of rel beneath the directory wsfd, the workspace at path ws (the
 * stat cache's key is ws/rel).  *size: as filehash_path; a symlink's is the
 * length of its target.  *mode (may be NULL) gets the lstat mode of rel.
 * An absent rel is an error with errnum ENOENT. */
int filehash_at(store *st, int wsfd, const char *ws, const char *rel, unsigned flags, char *hex,
		uint64_t *size, mode_t *mode, sl_error **err);

/* What the stat cache compares: size, mtime_ns, inode, ctime_ns of sb. */
file_stat_key filehash_stat_key(const struct stat *sb);

/* The manifest text of the directory dfd (opened for reading), appended to
 * m (the content-addressed cache stores it as the directory's object).  ws
 * and rel are where the directory is (ws/rel: the stat cache's keys, rel
 * in messages and to tell where a symlink's target leads). */
int filehash_manifest_at(store *st, int dfd, const char *ws, const char *rel, unsigned flags,
			 strbuf *m, uint64_t *size, sl_error **err);

/* The hash of a symlink with target (len bytes) hashed on its own: the
 * SHA-256 of "link\t" and the target. */
void filehash_link(const char *target, size_t len, char *hex);

#endif
