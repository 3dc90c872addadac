/*
 * sandbox_promote.c — after a sandboxed step exits: its writes are in the
 * overlay's upper dir (ATTEMPT/upper, laid out like the workspace); the
 * declared outputs are moved into the workspace, the rest is listed as
 * undeclared and dropped by the caller.
 *
 * The interface is three calls on (upper, workspace, relative path), so
 * that how a path is resolved (today: strings joined with '/', lstat and
 * rename; see style.md section 11 for where this is going) can change here
 * alone.  Nothing here runs in the child: it may allocate.
 */
#include "sandbox_int.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s.sluice-tmp", dst);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) < 0)
		rc = -1;
	if (rc == 0)
		rc = rename(tmp, dst);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static char *join(const char *a, const char *sep, const char *b)
{
	size_t la = strlen(a), ls = strlen(sep), lb = strlen(b);
	char *p = xmalloc(la + ls + lb + 1);
	memcpy(p, a, la);
	memcpy(p + la, sep, ls);
	memcpy(p + la + ls, b, lb + 1);
	return p;
}

static int promote(const char *src, const char *dst);

/* Promote every entry of the directory src into dst; paths on the heap, so
 * that a deep tree costs no stack. */
static int promote_children(const char *src, const char *dst)
{
	DIR *dir = opendir(src);
	if (!dir)
		return -1;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sl_autofree char *a = join(src, "/", de->d_name);
		sl_autofree char *b = join(dst, "/", de->d_name);
		rc = promote(a, b);
	}
	closedir(dir);
	return rc;
}

/* Move src (in the upper dir) to dst (in the workspace).  A directory in the
 * upper dir is merged into an existing one (whiteouts delete), unless it is
 * opaque or new, then it replaces it. */
static int promote(const char *src, const char *dst)
{
	struct stat s, d;
	if (lstat(src, &s) < 0)
		return -1;
	if (is_whiteout(&s)) {
		fs_rm_rf(dst);
		unlink(src);
		return 0;
	}
	int dst_dir = lstat(dst, &d) == 0 && S_ISDIR(d.st_mode);
	if (S_ISDIR(s.st_mode) && dst_dir) {
		char opq[2] = "";
		int opaque = lgetxattr(src, "trusted.overlay.opaque", opq, 1) == 1 ||
			     lgetxattr(src, "user.overlay.opaque", opq, 1) == 1;
		if (!opaque) {
			return promote_children(src, dst);
		}
	}
	if (fs_mkdir_parents(dst, 0755) < 0)
		return -1;
	/* what cannot be removed makes the rename fail, with its errno */
	if (S_ISDIR(s.st_mode) || dst_dir)
		fs_rm_rf(dst);
	if (rename(src, dst) == 0)
		return 0;
	if (errno != EXDEV)
		return -1;
	/* the state dir is on another file system: copy */
	if (S_ISREG(s.st_mode))
		return copy_file(src, dst, s.st_mode);
	if (S_ISLNK(s.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		unlink(dst);
		return symlink(target, dst);
	}
	if (S_ISDIR(s.st_mode)) {
		if (mkdir(dst, s.st_mode & 07777) < 0 && errno != EEXIST)
			return -1;
		return promote_children(src, dst);
	}
	errno = EXDEV;
	return -1;
}

int sandbox_output_written(const char *upper, const char *rel)
{
	sl_autofree char *src = join(upper, "/", rel);
	struct stat s;
	return lstat(src, &s) == 0 && !is_whiteout(&s);
}

int sandbox_promote(const char *upper, const char *ws, const char *rel)
{
	char *src = join(upper, "/", rel), *dst = join(ws, "/", rel);
	struct stat s;
	int rc = lstat(src, &s) < 0 ? 1 : promote(src, dst);
	int e = errno; /* the caller's reason */
	free(src);
	free(dst);
	errno = e;
	return rc;
}

struct undeclared {
	const char *const *outputs;
	size_t noutputs;
	strbuf *names;
	size_t n;
};

static int declared(const struct undeclared *u, const char *rel)
{
	for (size_t k = 0; k < u->noutputs; k++)
		if (sandbox_path_under(rel, u->outputs[k]))
			return 1;
	return 0;
}

static void list_undeclared(struct undeclared *u, const char *dir, const char *rel, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sl_autofree char *path = join(dir, "/", de->d_name);
		sl_autofree char *r = join(rel, *rel ? "/" : "", de->d_name);
		struct stat st;
		int skip = declared(u, r) || lstat(path, &st) < 0;
		/* deeper than any sane tree: the directory counts as one write */
		if (!skip && S_ISDIR(st.st_mode) && depth < 64) {
			size_t before = u->n;
			list_undeclared(u, path, r, depth + 1);
			/* a directory with nothing undeclared in it: a parent of outputs */
			int parent = 0;
			for (size_t k = 0; k < u->noutputs; k++)
				parent |= sandbox_path_under(u->outputs[k], r);
			skip = u->n > before || parent;
		}
		if (!skip) {
			if (u->n < 20)
				strbuf_addf(u->names, "%s%s%s", u->n ? ", " : "", r,
					    is_whiteout(&st) ? " (deleted)" : "");
			u->n++;
		}
	}
	closedir(d);
}

size_t sandbox_list_undeclared(const char *upper, const char *const *outputs, size_t noutputs,
			       strbuf *names)
{
	struct undeclared u = {outputs, noutputs, names, 0};
	list_undeclared(&u, upper, "", 0);
	return u.n;
}
