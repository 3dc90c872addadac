/* filehash.c — see include/sluice/filehash.h. */
#include "sluice/filehash.h"

#include "sluice/arena.h"
#include "sluice/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

file_stat_key filehash_stat_key(const struct stat *sb)
{
	return (file_stat_key){
		.size = (int64_t)sb->st_size,
		.mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
		.inode = (int64_t)sb->st_ino,
		.ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec,
	};
}

static int hash_regular(store *st, const char *path, const struct stat *sb, char *hex,
			sl_error **err)
{
	file_stat_key k = filehash_stat_key(sb);
	if (st) {
		int hit = store_lookup_hash(st, path, &k, hex, err);
		if (hit < 0)
			return -1;
		if (hit)
			return 0;
	}
	uint64_t size;
	/* reading a big file may take seconds: not while holding the write lock */
	if (st && store_batch_flush(st, err) < 0)
		return -1;
	if (hash_file_sha256(path, hex, &size, err) < 0)
		return -1;
	/* A file written while we read it must not be cached under the new stat:
	 * keep the hash only when the stat is the one we started with. */
	struct stat after;
	if (st && stat(path, &after) == 0) {
		file_stat_key k2 = filehash_stat_key(&after);
		if (!memcmp(&k, &k2, sizeof(k)) && store_save_hash(st, path, &k, hex, err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the manifest lines of directory abs (shown as rel) to m. */
static int manifest(store *st, const char *abs, const char *rel, strbuf *m, uint64_t *total,
		    int depth, sl_error **err)
{
	if (depth > 256)
		return sl_error_make(err, "hash %s: directories nested too deeply", abs);
	DIR *d = opendir(abs);
	if (!d)
		return sl_error_errno(err, errno, "hash: opendir %s", abs);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n) /* qsort wants a non-NULL array even for no items */
		qsort(names, n, sizeof(char *), cmp_str);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *a = NULL, *r = NULL;
		if (asprintf(&a, "%s/%s", abs, names[i]) < 0 ||
		    asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) {
			free(a);
			rc = sl_error_make(err, "out of memory");
			break;
		}
		struct stat sb;
		char hex[SHA256_HEX_LEN + 1];
		if (lstat(a, &sb) < 0) {
			rc = sl_error_errno(err, errno, "hash: stat %s", a);
		} else if (S_ISDIR(sb.st_mode)) {
			rc = manifest(st, a, r, m, total, depth + 1, err);
		} else if (S_ISREG(sb.st_mode)) {
			rc = hash_regular(st, a, &sb, hex, err);
			if (rc == 0) {
				/* only the executable bit, as git: a restore by hard link
				 * (read-only objects) or a umask must not change the hash */
				strbuf_addf(m, "%s\t%s\t%s\n", r, sb.st_mode & 0111 ? "755" : "644",
					    hex);
				*total += (uint64_t)sb.st_size;
			}
		} else if (S_ISLNK(sb.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlink(a, target, sizeof(target));
			if (len < 0) {
				rc = sl_error_errno(err, errno, "hash: readlink %s", a);
			} else {
				hash_bytes_sha256(target, (size_t)len, hex);
				strbuf_addf(m, "%s\tlink\t%s\n", r, hex);
			}
		}
		/* sockets, fifos and devices are not data: left out */
		free(a);
		free(r);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int filehash_manifest(store *st, const char *path, strbuf *m, uint64_t *size, sl_error **err)
{
	uint64_t total = 0;
	int rc = manifest(st, path, "", m, &total, 0, err);
	if (rc == 0 && size)
		*size = total;
	return rc;
}

int filehash_path(store *st, const char *path, char *hex, uint64_t *size, sl_error **err)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return sl_error_errno(err, errno, "hash: stat %s", path);
	if (S_ISREG(sb.st_mode)) {
		if (hash_regular(st, path, &sb, hex, err) < 0)
			return -1;
		if (size)
			*size = (uint64_t)sb.st_size;
		return 0;
	}
	if (!S_ISDIR(sb.st_mode))
		return sl_error_make(err, "hash: %s is neither a file nor a directory", path);
	strbuf m = STRBUF_INIT;
	int rc = filehash_manifest(st, path, &m, size, err);
	if (rc == 0)
		hash_bytes_sha256(m.buf ? m.buf : "", m.len, hex);
	strbuf_release(&m);
	return rc;
}
