/* filehash.c — see include/sluice/filehash.h.
 *
 * Everything below the top is walked from directory fds, entry by entry
 * with fstatat(AT_SYMLINK_NOFOLLOW): a directory is opened O_NOFOLLOW |
 * O_DIRECTORY from its parent's fd, a regular file O_NOFOLLOW | O_NONBLOCK
 * and checked with fstat, a symlink is read, never followed. */
#include "sluice/filehash.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/wspath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 256

file_stat_key filehash_stat_key(const struct stat *sb)
{
	return (file_stat_key){
		.size = (int64_t)sb->st_size,
		.mtime_ns = (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec,
		.inode = (int64_t)sb->st_ino,
		.ctime_ns = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec,
	};
}

void filehash_link(const char *target, size_t len, char *hex)
{
	strbuf b = STRBUF_INIT;
	strbuf_addstr(&b, "link\t");
	strbuf_add(&b, target, len);
	hash_bytes_sha256(b.buf, b.len, hex);
	strbuf_release(&b);
}

/* SHA-256 of what fd reads from its start; shown names it in messages. */
static int hash_fd(int fd, const char *shown, char *hex, sl_error **err)
{
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return sl_error_make(err, "sha256: cannot initialise OpenSSL");
	}
	size_t bufsize = 1u << 20;
	unsigned char *buf = xmalloc(bufsize);
	int rc = 0;
	for (off_t off = 0;;) {
		ssize_t r = pread(fd, buf, bufsize, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = sl_error_errno(err, errno, "hash: read %s", shown);
			break;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += r;
	}
	if (rc == 0) {
		unsigned char md[32];
		unsigned int mdlen = 0;
		EVP_DigestFinal_ex(ctx, md, &mdlen);
		static const char digits[] = "0123456789abcdef";
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		hex[64] = 0;
	}
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The hash of the open regular file fd (fstat in *sb), through the stat
 * cache under key (an absolute path). */
static int hash_open_regular(store *st, int fd, const struct stat *sb, const char *key,
			     const char *shown, char *hex, sl_error **err)
{
	file_stat_key k = filehash_stat_key(sb);
	if (st) {
		int hit = store_lookup_hash(st, key, &k, hex, err);
		if (hit < 0)
			return -1;
		if (hit)
			return 0;
	}
	/* reading a big file may take seconds: not while holding the write lock */
	if (st && store_batch_flush(st, err) < 0)
		return -1;
	if (hash_fd(fd, shown, hex, err) < 0)
		return -1;
	/* A file written while we read it must not be cached under the new stat:
	 * keep the hash only when the stat is the one we started with. */
	struct stat after;
	if (st && fstat(fd, &after) == 0) {
		file_stat_key k2 = filehash_stat_key(&after);
		if (!memcmp(&k, &k2, sizeof(k)) && store_save_hash(st, key, &k, hex, err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory dfd, sorted; *n of them. */
static char **list_sorted(int dfd, const char *shown, size_t *n, sl_error **err)
{
	*n = 0;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		sl_error_errno(err, errno, "hash: open the directory %s", shown);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char **names = NULL;
	size_t cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n) /* qsort wants a non-NULL array even for no items */
		qsort(names, *n, sizeof(char *), cmp_str);
	return names ? names : xcalloc(1, sizeof(char *));
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* A symlink named shown (relative to the workspace) with target, checked as
 * an output must be. */
static int check_link(const char *shown, const char *target, unsigned flags, sl_error **err)
{
	if ((flags & FILEHASH_OUTPUT) && wspath_link_escapes(shown, target))
		return sl_error_make(err,
				     "output %s is a symlink to %s, which leaves the workspace",
				     shown, target);
	return 0;
}

static int special_output(const char *shown, mode_t mode, sl_error **err)
{
	return sl_error_make(err,
			     "output %s is %s: outputs hold regular files, directories and "
			     "symlinks only",
			     shown, fs_kind_name(mode));
}

struct walk {
	store *st;
	const char *ws;
	unsigned flags;
	strbuf *m;
	uint64_t total;
};

/* Append the manifest lines of the directory dfd, at top/rel below the
 * workspace (top: the directory hashed; rel: below it, "" at first). */
static int manifest(struct walk *w, int dfd, const char *top, const char *rel, int depth,
		    sl_error **err)
{
	if (depth > MAX_DEPTH)
		return sl_error_make(err, "hash %s: directories nested too deeply", top);
	size_t n;
	char **names = list_sorted(dfd, top, &n, err);
	if (!names)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		sl_autofree char *r = NULL, *shown = NULL;
		if (asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0 ||
		    asprintf(&shown, "%s%s%s", top, *top ? "/" : "", r) < 0)
			abort();
		struct stat sb;
		char hex[SHA256_HEX_LEN + 1];
		if (fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = sl_error_errno(err, errno, "hash: stat %s", shown);
		} else if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dfd, names[i],
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = sl_error_errno(err, errno, "hash: open %s", shown);
			} else {
				rc = manifest(w, sub, top, r, depth + 1, err);
				close(sub);
			}
		} else if (S_ISREG(sb.st_mode)) {
			sl_autofree char *key = NULL;
			if (asprintf(&key, "%s/%s", w->ws, shown) < 0)
				abort();
			sl_autoclose int fd =
				wspath_open_regular_at(dfd, names[i], shown, &sb, err);
			rc = fd < 0 ? -1 : hash_open_regular(w->st, fd, &sb, key, shown, hex, err);
			if (rc == 0) {
				/* only the executable bit, as git: a restore by hard link
				 * (read-only objects) or a umask must not change the hash */
				strbuf_addf(w->m, "%s\t%s\t%s\n", r,
					    sb.st_mode & 0111 ? "755" : "644", hex);
				w->total += (uint64_t)sb.st_size;
			}
		} else if (S_ISLNK(sb.st_mode)) {
			sl_autofree char *target = NULL;
			size_t len;
			rc = wspath_readlink_at(dfd, names[i], shown, &target, &len, err);
			if (rc == 0)
				rc = check_link(shown, target, w->flags, err);
			if (rc == 0) {
				hash_bytes_sha256(target, len, hex);
				strbuf_addf(w->m, "%s\tlink\t%s\n", r, hex);
			}
		} else if (w->flags & FILEHASH_OUTPUT) {
			rc = special_output(shown, sb.st_mode, err);
		}
		/* in an input, sockets, FIFOs and devices are not data: left out */
	}
	free_names(names, n);
	return rc;
}

int filehash_manifest_at(store *st, int dfd, const char *ws, const char *rel, unsigned flags,
			 strbuf *m, uint64_t *size, sl_error **err)
{
	struct walk w = {.st = st, .ws = ws, .flags = flags, .m = m};
	int rc = manifest(&w, dfd, rel, "", 0, err);
	if (rc == 0 && size)
		*size = w.total;
	return rc;
}

/* The hash of the open directory dfd: its manifest's. */
static int hash_dir(store *st, int dfd, const char *ws, const char *rel, unsigned flags, char *hex,
		    uint64_t *size, sl_error **err)
{
	strbuf m = STRBUF_INIT;
	int rc = filehash_manifest_at(st, dfd, ws, rel, flags, &m, size, err);
	if (rc == 0)
		hash_bytes_sha256(m.buf ? m.buf : "", m.len, hex);
	strbuf_release(&m);
	return rc;
}

int filehash_at(store *st, int wsfd, const char *ws, const char *rel, unsigned flags, char *hex,
		uint64_t *size, mode_t *mode, sl_error **err)
{
	uint64_t dummy;
	if (!size)
		size = &dummy;
	sl_autofree char *leaf = NULL;
	sl_autoclose int pfd = wspath_open_parent(wsfd, rel, 0, 0, &leaf, err);
	if (pfd < 0)
		return sl_error_wrap(err, "hash");
	struct stat sb;
	if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return sl_error_errno(err, errno, "hash: %s", rel);
	if (mode)
		*mode = sb.st_mode;
	if (S_ISREG(sb.st_mode)) {
		sl_autofree char *key = NULL;
		if (asprintf(&key, "%s/%s", ws, rel) < 0)
			abort();
		sl_autoclose int fd = wspath_open_regular_at(pfd, leaf, rel, &sb, err);
		if (fd < 0 || hash_open_regular(st, fd, &sb, key, rel, hex, err) < 0)
			return sl_error_wrap(err, "hash");
		*size = (uint64_t)sb.st_size;
		return 0;
	}
	if (S_ISLNK(sb.st_mode)) {
		sl_autofree char *target = NULL;
		size_t len;
		if (wspath_readlink_at(pfd, leaf, rel, &target, &len, err) < 0 ||
		    check_link(rel, target, flags, err) < 0)
			return -1;
		filehash_link(target, len, hex);
		*size = len;
		return 0;
	}
	if (S_ISDIR(sb.st_mode)) {
		sl_autoclose int dfd =
			openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return sl_error_errno(err, errno, "hash: open %s", rel);
		return hash_dir(st, dfd, ws, rel, flags, hex, size, err);
	}
	if (flags & FILEHASH_OUTPUT)
		return special_output(rel, sb.st_mode, err);
	return sl_error_make(err, "hash: %s is %s, not a file, a directory or a symlink", rel,
			     fs_kind_name(sb.st_mode));
}

int filehash_path(store *st, const char *path, char *hex, uint64_t *size, sl_error **err)
{
	/* sluice's own path: the top may be a symlink (/usr/bin/python3) */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_errno(err, errno, "hash: open %s", path);
	struct stat sb;
	int rc;
	if (fstat(fd, &sb) < 0) {
		rc = sl_error_errno(err, errno, "hash: stat %s", path);
	} else if (S_ISREG(sb.st_mode)) {
		rc = hash_open_regular(st, fd, &sb, path, path, hex, err);
		if (rc == 0 && size)
			*size = (uint64_t)sb.st_size;
	} else if (S_ISDIR(sb.st_mode)) {
		/* the manifest's stat cache keys are path/rel: ws = dirname, rel = the rest */
		rc = path[0] == '/' ? hash_dir(st, fd, "", path + 1, 0, hex, size, err)
				    : hash_dir(st, fd, ".", path, 0, hex, size, err);
	} else {
		rc = sl_error_make(err, "hash: %s is neither a file nor a directory", path);
	}
	close(fd);
	return rc;
}
