/*
 * filehash.h — content hashes of workspace paths (docs/caching.md).
 *
 * A regular file hashes as the SHA-256 of its bytes, looked up first in the
 * store's stat cache by (path, size, mtime_ns, inode, ctime_ns), so an
 * unchanged large file is not read again.  A directory hashes as the
 * SHA-256 of its manifest: one line "relative/path\tmode\tsha256\n" per
 * regular file or symlink below it, sorted by path.  mode is 644 or 755 (only
 * the executable bit counts, as in git) or "link" for a symlink, which
 * hashes as its target text; empty directories do not count.
 */
#ifndef SLUICE_FILEHASH_H
#define SLUICE_FILEHASH_H

#include "sluice/error.h"
#include "sluice/hash.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"

#include <stdint.h>
#include <sys/stat.h>

/* hex: SHA256_HEX_LEN + 1 bytes.  *size: bytes of the file, or of all files
 * below a directory.  st may be NULL (no cache). */
int filehash_path(store *st, const char *path, char *hex, uint64_t *size, sl_error **err);
/* What the stat cache compares: size, mtime_ns, inode, ctime_ns of sb. */
file_stat_key filehash_stat_key(const struct stat *sb);
/* The manifest text of directory path, appended to m (the content-addressed
 * cache stores it as the directory's object). */
int filehash_manifest(store *st, const char *path, strbuf *m, uint64_t *size, sl_error **err);

#endif
