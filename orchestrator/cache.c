/* cache.c — see include/sluice/cache.h. */
#include "sluice/cache.h"

#include "sluice/arena.h"
#include "sluice/filehash.h"
#include "sluice/fsutil.h"
#include "sluice/hash.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"

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

/* Tell the stat cache that path (as it is now) holds hex: we just wrote it. */
static void remember(store *st, const char *path, const char *hex)
{
	struct stat sb;
	if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		file_stat_key k = filehash_stat_key(&sb);
		sl_error *e = NULL;
		if (store_save_hash(st, path, &k, hex, &e) < 0)
			sl_error_release(&e);
	}
}

/* ---- copying bytes ------------------------------------------------------------------------ */

/* Copy in to out: a reflink when the file system shares blocks (btrfs, xfs), else
 * copy_file_range (in-kernel), else read/write.  1 when it was a reflink. */
static int copy_fd(int in, int out)
{
	if (ioctl(out, FICLONE, in) == 0)
		return 1;
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			return -1;
		break;
	}
	/* the fallback starts from wherever copy_file_range stopped: both offsets moved */
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			off += w;
		}
	}
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

/* Write object `obj` from either the file src or the bytes data/len; verify that what
 * was written hashes to hex unless the source's stat shows it is what was hashed. */
static int put_object(store *st, const char *obj, const char *hex, const char *src,
		      const void *data, size_t len, int exec, sl_error **err)
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
	if (src) {
		int in = open(src, O_RDONLY | O_CLOEXEC);
		struct stat before, after;
		if (in < 0 || fstat(in, &before) < 0 || copy_fd(in, out) < 0 ||
		    fstat(in, &after) < 0) {
			rc = sl_error_errno(err, errno, "cache: copy %s", src);
		} else {
			/* unchanged while we copied, and its stat is the one that was hashed */
			file_stat_key k1 = filehash_stat_key(&before),
				      k2 = filehash_stat_key(&after);
			char known[SHA256_HEX_LEN + 1];
			sl_error *e = NULL;
			verified = !memcmp(&k1, &k2, sizeof(k1)) &&
				   store_lookup_hash(st, src, &k1, known, &e) == 1 &&
				   !strcmp(known, hex);
			sl_error_release(&e);
		}
		if (in >= 0)
			close(in);
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
	if (rc == 0 && (fsync(out) < 0 || fchmod(out, exec ? 0555 : 0444) < 0))
		rc = sl_error_errno(err, errno, "cache: fsync %s", tmp);
	close(out);
	if (rc == 0 && !verified) {
		char got[SHA256_HEX_LEN + 1];
		if (hash_file_sha256(tmp, got, NULL, err) < 0)
			rc = -1;
		else if (strcmp(got, hex) != 0)
			rc = sl_error_make(err, "cache: %s changed after it was hashed", src);
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

static int put_dir(store *st, const char *path, const char *hex, sl_error **err)
{
	char *man = obj_path(st, hex, ".dir");
	int present = access(man, F_OK) == 0;
	strbuf m = STRBUF_INIT;
	int rc = present ? 0 : filehash_manifest(st, path, &m, NULL, err);
	if (rc == 0 && !present) {
		char got[SHA256_HEX_LEN + 1];
		hash_bytes_sha256(m.buf ? m.buf : "", m.len, got);
		if (strcmp(got, hex) != 0)
			rc = sl_error_make(err, "cache: %s changed after it was hashed", path);
	}
	char *text = present ? NULL : xstrdup(m.buf ? m.buf : "");
	for (char *line = text, *next; rc == 0 && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *rel, *mode, *h;
		if (parse_line(line, &rel, &mode, &h) < 0)
			continue;
		char *abs = NULL, *obj = obj_path(st, h, "");
		if (asprintf(&abs, "%s/%s", path, rel) < 0)
			abort();
		if (!strcmp(mode, "link")) {
			char target[PATH_MAX];
			ssize_t len = readlink(abs, target, sizeof(target));
			rc = len < 0 ? sl_error_errno(err, errno, "cache: readlink %s", abs)
				     : put_object(st, obj, h, NULL, target, (size_t)len, 0, err);
		} else {
			rc = put_object(st, obj, h, abs, NULL, 0, !strcmp(mode, "755"), err);
		}
		free(abs);
		free(obj);
	}
	/* the manifest last: its presence says every member is there */
	if (rc == 0 && !present)
		rc = put_object(st, man, hex, NULL, m.buf ? m.buf : "", m.len, 0, err);
	free(text);
	strbuf_release(&m);
	free(man);
	return rc;
}

int cache_put(store *st, const char *path, const char *hex, sl_error **err)
{
	if (!valid_hex(hex))
		return sl_error_make(err, "cache: '%s' is not a SHA-256", hex);
	struct stat sb;
	if (stat(path, &sb) < 0)
		return sl_error_errno(err, errno, "cache: stat %s", path);
	if (S_ISDIR(sb.st_mode))
		return put_dir(st, path, hex, err);
	char *obj = obj_path(st, hex, "");
	int rc = put_object(st, obj, hex, path, NULL, 0, (sb.st_mode & 0111) != 0, err);
	free(obj);
	return rc;
}

int cache_has(store *st, const char *hex)
{
	if (!valid_hex(hex))
		return 0;
	char *a = obj_path(st, hex, ""), *b = obj_path(st, hex, ".dir");
	int has = access(a, F_OK) == 0 || access(b, F_OK) == 0;
	free(a);
	free(b);
	return has;
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

/* Put object hex at the new path p (which must not exist). */
static int restore_file(store *st, const char *hex, const char *p, int exec, enum cache_how *how,
			sl_error **err)
{
	char *obj = checked_object(st, hex, err);
	if (!obj)
		return -1;
	int rc = 0;
	struct stat osb;
	int in = open(obj, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &osb) < 0) {
		rc = sl_error_errno(err, errno, "cache: open %s", obj);
		goto out;
	}
	int out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exec ? 0755 : 0644);
	if (out < 0) {
		rc = sl_error_errno(err, errno, "cache: create %s", p);
		goto out;
	}
	if (ioctl(out, FICLONE, in) == 0) {
		*how = CACHE_REFLINK;
		close(out);
		goto out;
	}
	/* a hard link keeps the object's mode: only when the x bit agrees */
	if (((osb.st_mode & 0111) != 0) == (exec != 0)) {
		close(out);
		unlink(p);
		if (link(obj, p) == 0) {
			*how = CACHE_HARDLINK;
			remember(st, obj, hex); /* the link count, and so the ctime, changed */
			goto out;
		}
		out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, exec ? 0755 : 0644);
		if (out < 0) {
			rc = sl_error_errno(err, errno, "cache: create %s", p);
			goto out;
		}
	}
	if (copy_fd(in, out) < 0)
		rc = sl_error_errno(err, errno, "cache: copy %s to %s", obj, p);
	*how = CACHE_COPY;
	close(out);
out:
	if (in >= 0)
		close(in);
	free(obj);
	return rc;
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

/* Fill the new directory tmp from manifest text; remember member hashes under final. */
static int fill_dir(store *st, char *text, const char *tmp, enum cache_how *how, sl_error **err)
{
	int rc = 0;
	for (char *line = text, *next; rc == 0 && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *rel, *mode, *h;
		if (parse_line(line, &rel, &mode, &h) < 0) {
			rc = sl_error_make(err, "cache: a directory manifest line is damaged");
			break;
		}
		char *p = NULL;
		if (asprintf(&p, "%s/%s", tmp, rel) < 0)
			abort();
		if (fs_mkdir_parents(p, 0755) < 0) {
			rc = sl_error_errno(err, errno, "cache: mkdir for %s", p);
		} else if (!strcmp(mode, "link")) {
			size_t len;
			char *target = read_object(st, h, "", &len, err);
			if (!target)
				rc = -1;
			else if (symlink(target, p) < 0)
				rc = sl_error_errno(err, errno, "cache: symlink %s", p);
			free(target);
		} else {
			rc = restore_file(st, h, p, !strcmp(mode, "755"), how, err);
		}
		/* put the separators back for the second pass */
		rel[strlen(rel)] = '\t';
		mode[strlen(mode)] = '\t';
		free(p);
	}
	return rc;
}

static void remember_dir(store *st, const char *text, const char *dest)
{
	char *copy = xstrdup(text);
	for (char *line = copy, *next; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		else
			next = line + strlen(line);
		char *rel, *mode, *h;
		if (parse_line(line, &rel, &mode, &h) < 0 || !strcmp(mode, "link"))
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", dest, rel) < 0)
			abort();
		remember(st, p, h);
		free(p);
	}
	free(copy);
}

int cache_restore(store *st, const char *hex, const char *dest, enum cache_how *how, sl_error **err)
{
	enum cache_how dummy = CACHE_SAME;
	if (!how)
		how = &dummy;
	*how = CACHE_SAME;
	if (!valid_hex(hex))
		return sl_error_make(err, "cache: '%s' is not a SHA-256", hex);
	char have[SHA256_HEX_LEN + 1];
	sl_error *e = NULL;
	if (filehash_path(st, dest, have, NULL, &e) == 0 && !strcmp(have, hex))
		return 0;
	sl_error_release(&e);
	if (store_batch_flush(st, err) < 0)
		return -1;
	if (fs_mkdir_parents(dest, 0755) < 0)
		return sl_error_errno(err, errno, "cache: create the directory of %s", dest);
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.sluice-restore-XXXXXX", dest) >= (int)sizeof(tmp))
		return sl_error_errno(err, ENAMETOOLONG, "cache: restore %s", dest);
	size_t len;
	char *man = NULL;
	char *manpath = obj_path(st, hex, ".dir");
	int is_dir = access(manpath, F_OK) == 0;
	free(manpath);
	int rc;
	if (is_dir) {
		man = read_object(st, hex, ".dir", &len, err);
		char got[SHA256_HEX_LEN + 1];
		if (man)
			hash_bytes_sha256(man, len, got);
		if (!man)
			rc = -1;
		else if (strcmp(got, hex) != 0)
			rc = sl_error_make(err, "cache: the manifest of %.12s is damaged", hex);
		else if (!mkdtemp(tmp))
			rc = sl_error_errno(err, errno, "cache: mkdtemp %s", tmp);
		else
			rc = fill_dir(st, man, tmp, how, err);
	} else {
		int fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			rc = sl_error_errno(err, errno, "cache: create %s", tmp);
		} else {
			close(fd);
			unlink(tmp);
			char *obj = obj_path(st, hex, "");
			struct stat osb;
			int exec = stat(obj, &osb) == 0 && (osb.st_mode & 0111);
			free(obj);
			rc = restore_file(st, hex, tmp, exec, how, err);
		}
	}
	/* a directory cannot be renamed over a file or a non-empty directory: clear dest */
	if (rc == 0) {
		struct stat sb;
		if (lstat(dest, &sb) == 0 && (is_dir || S_ISDIR(sb.st_mode)) && fs_rm_rf(dest) < 0)
			rc = sl_error_errno(err, errno, "cache: remove %s", dest);
	}
	if (rc == 0 && rename(tmp, dest) < 0)
		rc = sl_error_errno(err, errno, "cache: rename %s to %s", tmp, dest);
	if (rc < 0) {
		fs_rm_rf(tmp);
	} else if (is_dir) {
		remember_dir(st, man, dest);
	} else {
		remember(st, dest, hex);
	}
	free(man);
	return rc;
}

static int unshare_file(const char *path, const struct stat *sb, sl_error **err)
{
	char tmp[PATH_MAX];
	int out = open_tmp(path, tmp, sizeof(tmp));
	if (out < 0)
		return sl_error_errno(err, errno, "unshare %s", path);
	int in = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;
	if (in < 0 || copy_fd(in, out) < 0 || fchmod(out, (sb->st_mode & 0111) ? 0755 : 0644) < 0 ||
	    rename(tmp, path) < 0)
		rc = sl_error_errno(err, errno, "unshare %s", path);
	if (in >= 0)
		close(in);
	close(out);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int unshare_tree(const char *path, int depth, sl_error **err)
{
	struct stat sb;
	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : sl_error_errno(err, errno, "unshare: stat %s", path);
	if (S_ISREG(sb.st_mode))
		return sb.st_nlink > 1 ? unshare_file(path, &sb, err) : 0;
	if (!S_ISDIR(sb.st_mode) || depth > 256)
		return 0;
	DIR *d = opendir(path);
	if (!d)
		return sl_error_errno(err, errno, "unshare: opendir %s", path);
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", path, e->d_name) < 0)
			abort();
		rc = unshare_tree(p, depth + 1, err);
		free(p);
	}
	closedir(d);
	return rc;
}

int cache_unshare(const char *path, sl_error **err)
{
	return unshare_tree(path, 0, err);
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
