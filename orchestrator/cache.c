/* cache.c — see include/sluice/cache.h.
 *
 * What a step left (cache_put_at) is read and what comes back
 * (cache_restore_at, cache_unshare_at) is written beneath the workspace's
 * directory fd, following none of the step's symlinks (wspath.h); the
 * objects are sluice's own files, reached by path. */
#include "sluice/cache.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/filehash.h"
#include "sluice/fsutil.h"
#include "sluice/hash.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/wspath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- paths -------------------------------------------------------------------------------- */

static int valid_hex(const char *hex)
{
	if (strlen(hex) != SHA256_HEX_LEN)
		return 0;
	for (const char *c = hex; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return 0;
	return 1;
}

/* state/cache/ab/cdef…[suffix], malloc'd */
static char *obj_path(store *st, const char *hex, const char *suffix)
{
	char *p = NULL;
	if (asprintf(&p, "%s/cache/%.2s/%s%s", store_dir(st), hex, hex + 2, suffix) < 0)
		abort();
	return p;
}

static int obj_exists(store *st, const char *hex, const char *suffix)
{
	sl_autofree char *p = obj_path(st, hex, suffix);
	return access(p, F_OK) == 0;
}

/* The stat cache's key for rel in the workspace ws: the path it would have. */
static char *ws_key(const char *ws, const char *rel)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", ws, rel) < 0)
		abort();
	return p;
}

/* Tell the stat cache that key (as sb shows it now) holds hex: we just wrote it. */
static void remember_stat(store *st, const char *key, const struct stat *sb, const char *hex)
{
	if (!S_ISREG(sb->st_mode))
		return;
	file_stat_key k = filehash_stat_key(sb);
	sl_error *e = NULL;
	if (store_save_hash(st, key, &k, hex, &e) < 0)
		sl_error_release(&e);
}

static void remember(store *st, const char *path, const char *hex)
{
	struct stat sb;
	if (lstat(path, &sb) == 0)
		remember_stat(st, path, &sb, hex);
}

/* A name in the directory pfd that nothing has: base plus a random tail, made
 * by make (which fails with EEXIST when it is taken).  The fd make returns,
 * or 0; -1 with errno. */
static int make_tmp(int pfd, const char *base, char *name, size_t size,
		    int (*make)(int pfd, const char *name, void *ctx), void *ctx)
{
	for (int tries = 0; tries < 100; tries++) {
		char tail[] = "XXXXXX";
		static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
		unsigned char r[6];
		if (getentropy(r, sizeof(r)) < 0)
			return -1;
		for (int i = 0; i < 6; i++)
			tail[i] = abc[r[i] % (sizeof(abc) - 1)];
		if (snprintf(name, size, ".%s.sluice-restore-%s", base, tail) >= (int)size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int rc = make(pfd, name, ctx);
		if (rc >= 0 || errno != EEXIST)
			return rc;
	}
	errno = EEXIST;
	return -1;
}

static int make_file(int pfd, const char *name, void *ctx)
{
	return openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      *(mode_t *)ctx);
}

static int make_dir(int pfd, const char *name, void *ctx)
{
	(void)ctx;
	return mkdirat(pfd, name, 0755);
}

static int make_link(int pfd, const char *name, void *ctx)
{
	return symlinkat(ctx, pfd, name);
}

/* A temporary file next to final: "final.tmp-XXXXXX", opened for writing. */
static int open_tmp(const char *final, char *tmp, size_t size)
{
	if (snprintf(tmp, size, "%s.tmp-XXXXXX", final) >= (int)size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkostemp(tmp, O_CLOEXEC);
}

/* ---- putting ------------------------------------------------------------------------------ */

/* Write object `obj` from either the open regular file in (shown in messages,
 * key in the stat cache) or the bytes data/len; verify that what was written
 * hashes to hex unless the source's stat shows it is what was hashed. */
static int put_object(store *st, const char *obj, const char *hex, int in, const char *shown,
		      const char *key, const void *data, size_t len, int exec, sl_error **err)
{
	if (access(obj, F_OK) == 0)
		return 0;
	if (store_batch_flush(st, err) < 0) /* copying may be slow: not under the lock */
		return -1;
	if (fs_mkdir_parents(obj, 0755) < 0)
		return sl_error_errno(err, errno, "cache: create the directory of %s", obj);
	char tmp[PATH_MAX];
	int out = open_tmp(obj, tmp, sizeof(tmp));
	if (out < 0)
		return sl_error_errno(err, errno, "cache: create a temporary file for %s", obj);
	int rc = 0, verified = 0;
	if (in >= 0) {
		struct stat before, after;
		if (fstat(in, &before) < 0 || fs_copy_data(in, out) < 0 || fstat(in, &after) < 0) {
			rc = sl_error_errno(err, errno, "cache: copy %s", shown);
		} else {
			/* unchanged while we copied, and its stat is the one that was hashed */
			file_stat_key k1 = filehash_stat_key(&before),
				      k2 = filehash_stat_key(&after);
			char known[SHA256_HEX_LEN + 1];
			sl_error *e = NULL;
			verified = !memcmp(&k1, &k2, sizeof(k1)) &&
				   store_lookup_hash(st, key, &k1, known, &e) == 1 &&
				   !strcmp(known, hex);
			sl_error_release(&e);
		}
	} else {
		for (size_t off = 0; off < len && rc == 0;) {
			ssize_t w = write(out, (const char *)data + off, len - off);
			if (w < 0 && errno != EINTR)
				rc = sl_error_errno(err, errno, "cache: write %s", tmp);
			else if (w > 0)
				off += (size_t)w;
		}
		verified = 1;
	}
	/* 0444/0555 whatever the source's mode: no setuid bit, no capability
	 * (a copy has no xattrs), nothing writable through a hard link */
	if (rc == 0 && (fsync(out) < 0 || fchmod(out, exec ? 0555 : 0444) < 0))
		rc = sl_error_errno(err, errno, "cache: fsync %s", tmp);
	close(out);
	if (rc == 0 && !verified) {
		char got[SHA256_HEX_LEN + 1];
		if (hash_file_sha256(tmp, got, NULL, err) < 0)
			rc = -1;
		else if (strcmp(got, hex) != 0)
			rc = sl_error_make(err, "cache: %s changed after it was hashed", shown);
	}
	if (rc == 0 && rename(tmp, obj) < 0)
		rc = sl_error_errno(err, errno, "cache: rename %s", tmp);
	if (rc < 0) {
		unlink(tmp);
		return -1;
	}
	remember(st, obj, hex);
	return 0;
}

/* Each manifest line is "rel\tmode\thash". */
static int parse_line(char *line, char **rel, char **mode, char **hex)
{
	char *t1 = strchr(line, '\t');
	char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	if (!t1 || !t2)
		return -1;
	*t1 = *t2 = 0;
	*rel = line;
	*mode = t1 + 1;
	*hex = t2 + 1;
	return valid_hex(*hex) && **rel && !strstr(*rel, "..") ? 0 : -1;
}

/* One member of a directory output: mrel beneath the directory dfd (at rel
 * in the workspace ws), as the manifest line says it is. */
static int put_member(store *st, int dfd, const char *ws, const char *rel, const char *mrel,
		      const char *mode, const char *h, sl_error **err)
{
	sl_autofree char *shown = NULL, *obj = obj_path(st, h, "");
	if (asprintf(&shown, "%s/%s", rel, mrel) < 0)
		abort();
	if (access(obj, F_OK) == 0)
		return 0;
	sl_autofree char *leaf = NULL;
	sl_autoclose int pfd = wspath_open_parent(dfd, mrel, 0, 0, &leaf, err);
	if (pfd < 0)
		return sl_error_wrap(err, "cache: %s", rel);
	if (!strcmp(mode, "link")) {
		sl_autofree char *target = NULL;
		size_t len;
		if (wspath_readlink_at(pfd, leaf, shown, &target, &len, err) < 0)
			return sl_error_wrap(err, "cache");
		char got[SHA256_HEX_LEN + 1];
		hash_bytes_sha256(target, len, got);
		if (strcmp(got, h) != 0)
			return sl_error_make(err, "cache: %s changed after it was hashed", shown);
		return put_object(st, obj, h, -1, shown, NULL, target, len, 0, err);
	}
	sl_autoclose int in = wspath_open_regular_at(pfd, leaf, shown, NULL, err);
	if (in < 0)
		return sl_error_wrap(err, "cache");
	sl_autofree char *key = ws_key(ws, shown);
	return put_object(st, obj, h, in, shown, key, NULL, 0, !strcmp(mode, "755"), err);
}

static int put_dir(store *st, int dfd, const char *ws, const char *rel, const char *hex,
		   sl_error **err)
{
	if (obj_exists(st, hex, ".dir"))
		return 0;
	strbuf m = STRBUF_INIT;
	int rc = filehash_manifest_at(st, dfd, ws, rel, FILEHASH_OUTPUT, &m, NULL, err);
	if (rc == 0) {
		char got[SHA256_HEX_LEN + 1];
		hash_bytes_sha256(m.buf ? m.buf : "", m.len, got);
		if (strcmp(got, hex) != 0)
			rc = sl_error_make(err, "cache: %s changed after it was hashed", rel);
	}
	char *text = xstrdup(m.buf ? m.buf : "");
	for (char *line = text, *next; rc == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *mrel, *mode, *h;
		if (parse_line(line, &mrel, &mode, &h) == 0)
			rc = put_member(st, dfd, ws, rel, mrel, mode, h, err);
	}
	/* the manifest last: its presence says every member is there */
	if (rc == 0) {
		sl_autofree char *man = obj_path(st, hex, ".dir");
		rc = put_object(st, man, hex, -1, rel, NULL, m.buf ? m.buf : "", m.len, 0, err);
	}
	free(text);
	strbuf_release(&m);
	return rc;
}

int cache_put_at(store *st, int wsfd, const char *ws, const char *rel, const char *hex,
		 sl_error **err)
{
	if (!valid_hex(hex))
		return sl_error_make(err, "cache: '%s' is not a SHA-256", hex);
	sl_autofree char *leaf = NULL;
	sl_autoclose int pfd = wspath_open_parent(wsfd, rel, 0, 0, &leaf, err);
	if (pfd < 0)
		return sl_error_wrap(err, "cache");
	struct stat sb;
	if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return sl_error_errno(err, errno, "cache: %s", rel);
	if (S_ISDIR(sb.st_mode)) {
		sl_autoclose int dfd =
			openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return sl_error_errno(err, errno, "cache: open %s", rel);
		return put_dir(st, dfd, ws, rel, hex, err);
	}
	if (S_ISLNK(sb.st_mode)) {
		sl_autofree char *target = NULL;
		size_t len;
		if (wspath_readlink_at(pfd, leaf, rel, &target, &len, err) < 0)
			return sl_error_wrap(err, "cache");
		char got[SHA256_HEX_LEN + 1];
		filehash_link(target, len, got);
		if (strcmp(got, hex) != 0)
			return sl_error_make(err, "cache: %s changed after it was hashed", rel);
		sl_autofree char *obj = obj_path(st, hex, ".link");
		return put_object(st, obj, hex, -1, rel, NULL, target, len, 0, err);
	}
	sl_autoclose int in = wspath_open_regular_at(pfd, leaf, rel, &sb, err);
	if (in < 0)
		return sl_error_wrap(err, "cache");
	sl_autofree char *obj = obj_path(st, hex, "");
	sl_autofree char *key = ws_key(ws, rel);
	return put_object(st, obj, hex, in, rel, key, NULL, 0, (sb.st_mode & 0111) != 0, err);
}

/* A path sluice trusts all the way (its own, a test's): beneath "/" (or the
 * working directory for a relative one), so the same code serves it. */
static int open_root(const char *path, const char **rel, char *ws, size_t size, sl_error **err)
{
	if (path[0] == '/') {
		*rel = path + 1;
		ws[0] = 0;
	} else {
		*rel = path;
		if (!getcwd(ws, size))
			return sl_error_errno(err, errno, "cache: getcwd");
	}
	int fd = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_errno(err, errno, "cache: open %s", path[0] == '/' ? "/" : ".");
	return fd;
}

int cache_put(store *st, const char *path, const char *hex, sl_error **err)
{
	char ws[PATH_MAX];
	const char *rel;
	sl_autoclose int fd = open_root(path, &rel, ws, sizeof(ws), err);
	return fd < 0 ? -1 : cache_put_at(st, fd, ws, rel, hex, err);
}

int cache_has(store *st, const char *hex)
{
	if (!valid_hex(hex))
		return 0;
	return obj_exists(st, hex, "") || obj_exists(st, hex, ".dir") ||
	       obj_exists(st, hex, ".link");
}

/* ---- restoring ---------------------------------------------------------------------------- */

/* The object for hex, checked against its hash (through the stat cache, so usually a
 * stat and a lookup): one that was changed through a hard link is removed. */
static char *checked_object(store *st, const char *hex, sl_error **err)
{
	char *obj = obj_path(st, hex, "");
	char got[SHA256_HEX_LEN + 1];
	if (filehash_path(st, obj, got, NULL, err) < 0) {
		sl_error_wrap(err, "cache: object %.12s", hex);
		free(obj);
		return NULL;
	}
	if (strcmp(got, hex) != 0) {
		unlink(obj);
		sl_error_make(err,
			      "cache: object %.12s was modified (through a hard link?) and was "
			      "dropped",
			      hex);
		free(obj);
		return NULL;
	}
	return obj;
}

/* Put object hex at name in the directory pfd (a new name sluice made);
 * shown names the file in messages. */
static int restore_file(store *st, const char *hex, int pfd, const char *name, const char *shown,
			int exec, enum cache_how *how, sl_error **err)
{
	sl_autofree char *obj = checked_object(st, hex, err);
	if (!obj)
		return -1;
	struct stat osb;
	sl_autoclose int in = open(obj, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &osb) < 0)
		return sl_error_errno(err, errno, "cache: open %s", obj);
	mode_t mode = exec ? 0755 : 0644;
	sl_autoclose int out =
		openat(pfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0)
		return sl_error_errno(err, errno, "cache: create %s", shown);
	if (ioctl(out, FICLONE, in) == 0) {
		*how = CACHE_REFLINK;
		return 0;
	}
	/* a hard link keeps the object's mode: only when the x bit agrees */
	if (((osb.st_mode & 0111) != 0) == (exec != 0)) {
		if (unlinkat(pfd, name, 0) == 0 && linkat(AT_FDCWD, obj, pfd, name, 0) == 0) {
			*how = CACHE_HARDLINK;
			remember(st, obj, hex); /* the link count, and so the ctime, changed */
			return 0;
		}
		close(out);
		out = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (out < 0)
			return sl_error_errno(err, errno, "cache: create %s", shown);
	}
	*how = CACHE_COPY;
	if (fs_copy_data(in, out) < 0)
		return sl_error_errno(err, errno, "cache: copy %s to %s", obj, shown);
	return 0;
}

static char *read_object(store *st, const char *hex, const char *suffix, size_t *len,
			 sl_error **err)
{
	char *path = obj_path(st, hex, suffix);
	FILE *f = fopen(path, "re");
	if (!f) {
		sl_error_errno(err, errno, "cache: open %s", path);
		free(path);
		return NULL;
	}
	strbuf b = STRBUF_INIT;
	char buf[1 << 14];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&b, buf, n);
	fclose(f);
	free(path);
	*len = b.len;
	return b.buf ? strbuf_detach(&b) : xstrdup("");
}

/* A symlink at shown (relative to the workspace) with the target in the
 * object hex (a directory member: its SHA-256 is hex; on its own:
 * filehash_link's). */
static char *link_target(store *st, const char *hex, int alone, const char *shown, sl_error **err)
{
	size_t len;
	char *target = read_object(st, hex, alone ? ".link" : "", &len, err);
	if (!target)
		return NULL;
	char got[SHA256_HEX_LEN + 1];
	if (alone)
		filehash_link(target, len, got);
	else
		hash_bytes_sha256(target, len, got);
	if (strcmp(got, hex) != 0 || strlen(target) != len) {
		sl_error_make(err, "cache: the object of symlink %s is damaged", shown);
		free(target);
		return NULL;
	}
	/* older caches may hold one that a `sandbox: none` step made */
	if (wspath_link_escapes(shown, target)) {
		sl_error_make(err, "cache: %s would be a symlink to %s, out of the workspace",
			      shown, target);
		free(target);
		return NULL;
	}
	return target;
}

/* Fill the new directory tfd (to become rel) from manifest text. */
static int fill_dir(store *st, char *text, int tfd, const char *rel, enum cache_how *how,
		    sl_error **err)
{
	int rc = 0;
	for (char *line = text, *next; rc == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *mrel, *mode, *h;
		if (parse_line(line, &mrel, &mode, &h) < 0) {
			rc = sl_error_make(err, "cache: a directory manifest line is damaged");
			break;
		}
		sl_autofree char *shown = NULL, *leaf = NULL;
		if (asprintf(&shown, "%s/%s", rel, mrel) < 0)
			abort();
		sl_autoclose int pfd = wspath_open_parent(tfd, mrel, 1, 0755, &leaf, err);
		if (pfd < 0) {
			rc = sl_error_wrap(err, "cache: restore %s", rel);
		} else if (!strcmp(mode, "link")) {
			sl_autofree char *target = link_target(st, h, 0, shown, err);
			if (!target)
				rc = -1;
			else if (symlinkat(target, pfd, leaf) < 0)
				rc = sl_error_errno(err, errno, "cache: symlink %s", shown);
		} else {
			rc = restore_file(st, h, pfd, leaf, shown, !strcmp(mode, "755"), how, err);
			if (rc == 0 && fs_strip_privileges_at(pfd, leaf) < 0)
				rc = sl_error_errno(err, errno, "cache: %s: clear setuid", shown);
		}
		/* put the separators back for the second pass */
		mrel[strlen(mrel)] = '\t';
		mode[strlen(mode)] = '\t';
	}
	return rc;
}

/* The stat cache learns the hashes of the files restored below rel. */
static void remember_dir(store *st, const char *text, int wsfd, const char *ws, const char *rel)
{
	char *copy = xstrdup(text);
	for (char *line = copy, *next; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *mrel, *mode, *h;
		if (parse_line(line, &mrel, &mode, &h) < 0 || !strcmp(mode, "link"))
			continue;
		sl_autofree char *shown = NULL;
		if (asprintf(&shown, "%s/%s", rel, mrel) < 0)
			abort();
		struct stat sb;
		if (wspath_lstat(wsfd, shown, &sb, NULL) == 0) {
			sl_autofree char *key = ws_key(ws, shown);
			remember_stat(st, key, &sb, h);
		}
	}
	free(copy);
}

enum obj_kind { OBJ_FILE, OBJ_DIR, OBJ_LINK };

/* Make tmp (a fresh name in pfd) hold object hex of kind; *man gets a
 * directory's manifest text. */
static int restore_tmp(store *st, const char *hex, enum obj_kind kind, int pfd, const char *leaf,
		       const char *rel, char *tmp, size_t tmpsize, char **man, enum cache_how *how,
		       sl_error **err)
{
	tmp[0] = 0;
	if (kind == OBJ_LINK) {
		sl_autofree char *target = link_target(st, hex, 1, rel, err);
		if (!target)
			return -1;
		if (make_tmp(pfd, leaf, tmp, tmpsize, make_link, target) < 0)
			return sl_error_errno(err, errno, "cache: symlink %s", rel);
		*how = CACHE_COPY;
		return 0;
	}
	if (kind == OBJ_DIR) {
		size_t len;
		*man = read_object(st, hex, ".dir", &len, err);
		if (!*man)
			return -1;
		char got[SHA256_HEX_LEN + 1];
		hash_bytes_sha256(*man, len, got);
		if (strcmp(got, hex) != 0)
			return sl_error_make(err, "cache: the manifest of %.12s is damaged", hex);
		if (make_tmp(pfd, leaf, tmp, tmpsize, make_dir, NULL) < 0)
			return sl_error_errno(err, errno, "cache: create a directory for %s", rel);
		sl_autoclose int tfd =
			openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (tfd < 0)
			return sl_error_errno(err, errno, "cache: open %s", tmp);
		return fill_dir(st, *man, tfd, rel, how, err);
	}
	sl_autofree char *obj = obj_path(st, hex, "");
	struct stat osb;
	mode_t mode = stat(obj, &osb) == 0 && (osb.st_mode & 0111) ? 0755 : 0644;
	int fd = make_tmp(pfd, leaf, tmp, tmpsize, make_file, &mode);
	if (fd < 0)
		return sl_error_errno(err, errno, "cache: create a file for %s", rel);
	close(fd);
	if (restore_file(st, hex, pfd, tmp, rel, mode & 0100, how, err) < 0)
		return -1;
	if (fs_strip_privileges_at(pfd, tmp) < 0)
		return sl_error_errno(err, errno, "cache: %s: clear setuid", rel);
	return 0;
}

int cache_restore_at(store *st, int wsfd, const char *ws, const char *rel, const char *hex,
		     enum cache_how *how, sl_error **err)
{
	enum cache_how dummy = CACHE_SAME;
	if (!how)
		how = &dummy;
	*how = CACHE_SAME;
	if (!valid_hex(hex))
		return sl_error_make(err, "cache: '%s' is not a SHA-256", hex);
	char have[SHA256_HEX_LEN + 1];
	sl_error *e = NULL;
	if (filehash_at(st, wsfd, ws, rel, 0, have, NULL, NULL, &e) == 0 && !strcmp(have, hex))
		return 0;
	sl_error_release(&e);
	if (store_batch_flush(st, err) < 0)
		return -1;
	/* a parent that is a symlink is refused here, never followed */
	sl_autofree char *leaf = NULL;
	sl_autoclose int pfd = wspath_open_parent(wsfd, rel, 1, 0755, &leaf, err);
	if (pfd < 0)
		return sl_error_wrap(err, "cache: restore");
	/* a manifest first, as it always was; a file whose bytes are a manifest's
	 * or a link's text has their hash too, and is taken for them */
	enum obj_kind kind = obj_exists(st, hex, ".dir")    ? OBJ_DIR
			     : obj_exists(st, hex, ".link") ? OBJ_LINK
							    : OBJ_FILE;
	char tmp[NAME_MAX + 1];
	sl_autofree char *man = NULL;
	int rc = restore_tmp(st, hex, kind, pfd, leaf, rel, tmp, sizeof(tmp), &man, how, err);
	/* a directory cannot be renamed over a file or a non-empty directory: clear dest */
	struct stat sb;
	if (rc == 0 && fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (kind == OBJ_DIR || S_ISDIR(sb.st_mode)) && fs_rm_rf_at(pfd, leaf) < 0)
		rc = sl_error_errno(err, errno, "cache: remove %s", rel);
	if (rc == 0 && renameat(pfd, tmp, pfd, leaf) < 0)
		rc = sl_error_errno(err, errno, "cache: rename %s to %s", tmp, rel);
	if (rc < 0) {
		if (tmp[0])
			fs_rm_rf_at(pfd, tmp);
		return -1;
	}
	if (kind == OBJ_DIR) {
		remember_dir(st, man, wsfd, ws, rel);
	} else if (kind == OBJ_FILE && fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		sl_autofree char *key = ws_key(ws, rel);
		remember_stat(st, key, &sb, hex);
	}
	return 0;
}

int cache_restore(store *st, const char *hex, const char *dest, enum cache_how *how, sl_error **err)
{
	char ws[PATH_MAX];
	const char *rel;
	sl_autoclose int fd = open_root(dest, &rel, ws, sizeof(ws), err);
	return fd < 0 ? -1 : cache_restore_at(st, fd, ws, rel, hex, how, err);
}

/* Copy name (in pfd, with stat sb) to a fresh inode under a temporary name
 * and rename that over it. */
static int unshare_file(int pfd, const char *name, const char *shown, const struct stat *sb,
			sl_error **err)
{
	char tmp[NAME_MAX + 1];
	mode_t mode = (sb->st_mode & 0111) ? 0755 : 0644;
	sl_autoclose int out = make_tmp(pfd, name, tmp, sizeof(tmp), make_file, &mode);
	if (out < 0)
		return sl_error_errno(err, errno, "unshare %s", shown);
	sl_autoclose int in = wspath_open_regular_at(pfd, name, shown, NULL, err);
	if (in < 0) {
		unlinkat(pfd, tmp, 0);
		return sl_error_wrap(err, "unshare");
	}
	if (fs_copy_data(in, out) < 0 || fchmod(out, mode) < 0 ||
	    renameat(pfd, tmp, pfd, name) < 0) {
		int e = errno;
		unlinkat(pfd, tmp, 0);
		return sl_error_errno(err, e, "unshare %s", shown);
	}
	return 0;
}

static int unshare_tree(int pfd, const char *name, const char *shown, int depth, sl_error **err)
{
	struct stat sb;
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sl_error_errno(err, errno, "unshare: stat %s", shown);
	if (S_ISREG(sb.st_mode))
		return sb.st_nlink > 1 ? unshare_file(pfd, name, shown, &sb, err) : 0;
	if (!S_ISDIR(sb.st_mode) || depth > 256)
		return 0;
	int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		return sl_error_errno(err, e, "unshare: open %s", shown);
	}
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sl_autofree char *sub = NULL;
		if (asprintf(&sub, "%s/%s", shown, e->d_name) < 0)
			abort();
		rc = unshare_tree(dirfd(d), e->d_name, sub, depth + 1, err);
	}
	closedir(d);
	return rc;
}

int cache_unshare_at(int wsfd, const char *rel, sl_error **err)
{
	sl_autofree char *leaf = NULL;
	sl_error *e = NULL;
	sl_autoclose int pfd = wspath_open_parent(wsfd, rel, 0, 0, &leaf, &e);
	if (pfd < 0) {
		if (e && e->errnum == ENOENT) { /* nothing there to unshare */
			sl_error_release(&e);
			return 0;
		}
		if (err)
			*err = e;
		else
			sl_error_release(&e);
		return sl_error_wrap(err, "unshare");
	}
	return unshare_tree(pfd, leaf, rel, 0, err);
}

int cache_unshare(const char *path, sl_error **err)
{
	char ws[PATH_MAX];
	const char *rel;
	sl_autoclose int fd = open_root(path, &rel, ws, sizeof(ws), err);
	return fd < 0 ? -1 : cache_unshare_at(fd, rel, err);
}

const char *cache_how_name(enum cache_how how)
{
	static const char *const names[] = {"already there", "reflink", "hard link", "copy"};
	return names[how];
}

/* ---- gc ----------------------------------------------------------------------------------- */

/* A temporary object file changed this recently may belong to a writer that is
 * still copying, hashing or fsyncing it (another machine sharing the cache, or a
 * run of an older sluice that takes no lock): gc leaves it.  Older ones are the
 * leftovers of a kill -9.  The mtime moves with every write of the copy. */
#define GC_TMP_AGE_S (60 * 60)

struct gc {
	store *st;
	strmap keep; /* hex → non-NULL; the keys live in mem */
	arena mem;
};

static int gc_root(void *ctx, const char *hex)
{
	struct gc *g = ctx;
	if (!valid_hex(hex) || strmap_get(&g->keep, hex))
		return 0;
	strmap_put(&g->keep, arena_strdup(&g->mem, hex), (void *)1);
	size_t len;
	sl_error *e = NULL;
	char *man = NULL;
	char *mp = obj_path(g->st, hex, ".dir");
	if (access(mp, F_OK) == 0)
		man = read_object(g->st, hex, ".dir", &len, &e);
	free(mp);
	sl_error_release(&e);
	for (char *line = man, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *rel, *mode, *h;
		if (parse_line(line, &rel, &mode, &h) == 0 && !strmap_get(&g->keep, h))
			strmap_put(&g->keep, arena_strdup(&g->mem, h), (void *)1);
	}
	free(man);
	return 0;
}

int cache_gc(store *st, int dry_run, void (*each)(void *ctx, const char *path, uint64_t size),
	     void *ctx, cache_gc_stats *out, sl_error **err)
{
	memset(out, 0, sizeof(*out));
	run_info *runs = NULL;
	size_t nruns = 0;
	if (store_list_runs(st, NULL, 0, &runs, &nruns, err) < 0)
		return -1;
	for (size_t i = 0; i < nruns; i++) {
		if (!strcmp(runs[i].status, "running")) {
			int64_t id = runs[i].id;
			run_info_free_array(runs, nruns);
			/* its outputs enter the cache before the store records them */
			return sl_error_usage(err,
					      "gc: run %lld is still running; try again when "
					      "it has finished",
					      (long long)id);
		}
	}
	run_info_free_array(runs, nruns);
	struct gc g = {.st = st, .keep = STRMAP_INIT, .mem = ARENA_INIT};
	if (store_each_output_hash(st, gc_root, &g, err) < 0) {
		strmap_release(&g.keep);
		arena_release(&g.mem);
		return -1;
	}
	char *root = NULL;
	if (asprintf(&root, "%s/cache", store_dir(st)) < 0)
		abort();
	time_t now = time(NULL);
	DIR *top = opendir(root);
	int rc = 0;
	for (struct dirent *d; top && (d = readdir(top));) {
		if (strlen(d->d_name) != 2 || d->d_name[0] == '.')
			continue;
		char *sub = NULL;
		if (asprintf(&sub, "%s/%s", root, d->d_name) < 0)
			abort();
		DIR *dir = opendir(sub);
		for (struct dirent *e; dir && (e = readdir(dir));) {
			if (e->d_name[0] == '.')
				continue;
			char hex[2 * NAME_MAX + 8];
			snprintf(hex, sizeof(hex), "%s%s", d->d_name, e->d_name);
			char *dot = strchr(hex, '.');
			int tmp = dot && strncmp(dot, ".tmp-", 5) == 0;
			if (dot && !tmp)
				*dot = 0; /* "….dir" */
			char *path = NULL;
			if (asprintf(&path, "%s/%s", sub, e->d_name) < 0)
				abort();
			struct stat sb;
			if (lstat(path, &sb) < 0) {
				free(path);
				continue;
			}
			if (tmp && now - sb.st_mtime < GC_TMP_AGE_S) {
				out->tmp_young++;
			} else if (!tmp && strmap_get(&g.keep, hex)) {
				out->kept++;
				out->kept_bytes += (uint64_t)sb.st_size;
			} else {
				out->removed++;
				out->removed_bytes += (uint64_t)sb.st_size;
				if (each)
					each(ctx, path, (uint64_t)sb.st_size);
				if (!dry_run && unlink(path) < 0 && errno != ENOENT)
					rc = sl_error_errno(err, errno, "gc: remove %s", path);
			}
			free(path);
		}
		if (dir)
			closedir(dir);
		if (!dry_run)
			rmdir(sub); /* only when empty */
		free(sub);
		if (rc < 0)
			break;
	}
	if (top)
		closedir(top);
	free(root);
	strmap_release(&g.keep);
	arena_release(&g.mem);
	return rc;
}
