/*
 * sandbox_promote.c — after a sandboxed step exits: its writes are in the
 * overlay's upper dir (ATTEMPT/upper, laid out like the workspace); the
 * declared outputs are moved into the workspace, the rest is listed as
 * undeclared and dropped by the caller.
 *
 * Both trees are walked from directory fds, never by joined path strings
 * (style.md section 11): the upper dir is the step's, and so is whatever a
 * step before it promoted into the workspace, so either may hold a symlink
 * where a directory is expected (one step made output `lnk` a symlink to a
 * host directory, the next wrote `lnk/victim.txt` through it).  Hence:
 *
 *   check (sandbox_promote_check, for every output before any moves):
 *     - every parent of an output, in the upper dir and in the workspace,
 *       is a real directory (a missing one in the workspace is made);
 *     - an output, and everything inside a directory output, is a regular
 *       file, a directory, a whiteout (a deletion) or a symlink whose target
 *       stays in the workspace (wspath_link_escapes); FIFOs, sockets and
 *       devices are refused, so a failed step leaves none of them behind;
 *   move (sandbox_promote):
 *     - rename(2) between the two directory fds, a merge into an existing
 *       directory unless the upper one is opaque, a copy across file
 *       systems; symlinks move as symlinks;
 *     - every regular file moved loses its setuid and setgid bits and its
 *       file capabilities first (fs_strip_privileges_at).
 *
 * Nothing else writes the upper dir by then (the step's pid namespace is
 * gone); the workspace side is reached from fds all the same, as a
 * `sandbox: none` step may be running beside us.  Nothing here runs in the
 * child: it may allocate.
 */
#include "sandbox_int.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/fsutil.h"
#include "sluice/wspath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Deeper than this a directory output is refused: each level holds an fd. */
#define MAX_DEPTH 128

static int is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

__attribute__((format(printf, 3, 4))) static int say(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	return -1;
}

/* An sl_error into why, released. */
static int say_err(char *why, size_t whysz, sl_error **err)
{
	say(why, whysz, "%s", *err ? (*err)->msg : "failed");
	sl_error_release(err);
	return -1;
}

static int open_root(const char *path, char *why, size_t whysz)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		say(why, whysz, "open %s: %s", path, strerror(errno));
	return fd;
}

static char *join(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s%s%s", a, *a ? "/" : "", b) < 0)
		abort();
	return p;
}

/* The entries of the directory dfd, but "." and ".."; NULL-terminated,
 * malloc'd (each name and the array). */
static char **entries(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t n = 0, cap = 8;
	char **v = xmalloc(cap * sizeof(char *));
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n + 1 == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(char *));
		v[n++] = xstrdup(de->d_name);
	}
	v[n] = NULL;
	closedir(d);
	return v;
}

static void free_entries(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static int open_subdir(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* What check_entry and strip_tree do to each entry of a tree. */
typedef int (*entry_fn)(int dfd, const char *name, const char *rel, int depth, char *why,
			size_t whysz);

/* fn on every entry of the directory name in dfd (at rel), one level deeper. */
static int each_child(int dfd, const char *name, const char *rel, int depth, entry_fn fn, char *why,
		      size_t whysz)
{
	sl_autoclose int sub = open_subdir(dfd, name);
	char **v = sub < 0 ? NULL : entries(sub);
	if (!v)
		return say(why, whysz, "output %s: %s", rel, strerror(errno));
	int rc = 0;
	for (char **p = v; *p && rc == 0; p++) {
		sl_autofree char *r = join(rel, *p);
		rc = fn(sub, *p, r, depth + 1, why, whysz);
	}
	free_entries(v);
	return rc;
}

/* ---- checking ------------------------------------------------------------------------------ */

/* name in the upper dir's directory dfd, at rel in the workspace: what may be promoted. */
static int check_entry(int dfd, const char *name, const char *rel, int depth, char *why,
		       size_t whysz)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return say(why, whysz, "output %s: %s", rel, strerror(errno));
	if (S_ISREG(st.st_mode) || is_whiteout(&st))
		return 0;
	if (S_ISLNK(st.st_mode)) {
		sl_autofree char *target = NULL;
		sl_error *err = NULL;
		if (wspath_readlink_at(dfd, name, rel, &target, NULL, &err) < 0)
			return say_err(why, whysz, &err);
		if (wspath_link_escapes(rel, target))
			return say(why, whysz,
				   "output %s is a symlink to %s, which leaves the workspace", rel,
				   target);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return say(why, whysz,
			   "output %s is %s: outputs hold regular files, directories and symlinks "
			   "only",
			   rel, fs_kind_name(st.st_mode));
	if (depth > MAX_DEPTH)
		return say(why, whysz, "output %s: directories nested too deeply", rel);
	return each_child(dfd, name, rel, depth, check_entry, why, whysz);
}

int sandbox_promote_check(const char *upper, const char *ws, const char *rel, char *why,
			  size_t whysz)
{
	sl_autoclose int ufd = open_root(upper, why, whysz);
	sl_autoclose int wfd = ufd < 0 ? -1 : open_root(ws, why, whysz);
	if (wfd < 0)
		return -1;
	sl_error *err = NULL;
	sl_autofree char *leaf = NULL;
	sl_autoclose int pu = wspath_open_parent(ufd, rel, 0, 0, &leaf, &err);
	if (pu < 0 && err && err->errnum == ENOENT) {
		sl_error_release(&err);
		return 0; /* not written: the caller's to say (an absent metrics file) */
	}
	if (pu < 0) {
		say(why, whysz, "output %s (as the step left it)", err ? err->msg : rel);
		sl_error_release(&err);
		return -1;
	}
	/* the workspace's side: what exists of the parents must be directories */
	sl_autofree char *wleaf = NULL;
	sl_autoclose int pw = wspath_open_parent(wfd, rel, 0, 0, &wleaf, &err);
	if (pw < 0 && !(err && err->errnum == ENOENT)) {
		say(why, whysz, "output %s (in the workspace)", err ? err->msg : rel);
		sl_error_release(&err);
		return -1;
	}
	sl_error_release(&err);
	struct stat st;
	if (fstatat(pu, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : say(why, whysz, "output %s: %s", rel, strerror(errno));
	return check_entry(pu, leaf, rel, 0, why, whysz);
}

/* ---- moving -------------------------------------------------------------------------------- */

/* The files moved lose setuid, setgid and capabilities: all of them, below a directory too. */
static int strip_tree(int dfd, const char *name, const char *rel, int depth, char *why,
		      size_t whysz)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return say(why, whysz, "output %s: %s", rel, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		if (fs_strip_privileges_at(dfd, name) < 0)
			return say(why, whysz, "output %s: clear setuid and capabilities: %s", rel,
				   strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || depth > MAX_DEPTH)
		return 0;
	return each_child(dfd, name, rel, depth, strip_tree, why, whysz);
}

static int is_opaque(int dfd, const char *name)
{
	sl_autoclose int fd = open_subdir(dfd, name);
	char v[2] = "";
	return fd >= 0 && (fgetxattr(fd, "trusted.overlay.opaque", v, 1) == 1 ||
			   fgetxattr(fd, "user.overlay.opaque", v, 1) == 1);
}

static int move(int su, const char *sname, int dw, const char *dname, const char *rel, int depth,
		char *why, size_t whysz);

/* Move every entry of the upper directory su into the workspace directory dw. */
static int move_children(int su, int dw, const char *rel, int depth, char *why, size_t whysz)
{
	char **v = entries(su);
	if (!v)
		return say(why, whysz, "output %s: %s", rel, strerror(errno));
	int rc = 0;
	for (char **p = v; *p && rc == 0; p++) {
		sl_autofree char *r = join(rel, *p);
		rc = move(su, *p, dw, *p, r, depth + 1, why, whysz);
	}
	free_entries(v);
	return rc;
}

/* The upper dir and the state dir are on different file systems: copy. */
static int copy_across(int su, const char *sname, const struct stat *s, int dw, const char *dname,
		       const char *rel, int depth, char *why, size_t whysz)
{
	if (S_ISDIR(s->st_mode)) {
		if (mkdirat(dw, dname, s->st_mode & 0777) < 0 && errno != EEXIST)
			return say(why, whysz, "promote %s: %s", rel, strerror(errno));
		sl_autoclose int a = open_subdir(su, sname);
		sl_autoclose int b = a < 0 ? -1 : open_subdir(dw, dname);
		if (b < 0)
			return say(why, whysz, "promote %s: %s", rel, strerror(errno));
		return move_children(a, b, rel, depth, why, whysz);
	}
	char tmp[NAME_MAX + 1];
	if (snprintf(tmp, sizeof(tmp), ".%.200s.sluice-tmp", dname) >= (int)sizeof(tmp))
		return say(why, whysz, "promote %s: name too long", rel);
	unlinkat(dw, tmp, 0);
	int rc = 0;
	if (S_ISLNK(s->st_mode)) {
		sl_autofree char *target = NULL;
		sl_error *err = NULL;
		if (wspath_readlink_at(su, sname, rel, &target, NULL, &err) < 0)
			return say_err(why, whysz, &err);
		rc = symlinkat(target, dw, tmp);
	} else if (S_ISREG(s->st_mode)) {
		sl_error *err = NULL;
		sl_autoclose int in = wspath_open_regular_at(su, sname, rel, NULL, &err);
		if (in < 0)
			return say_err(why, whysz, &err);
		/* the mode without setuid and setgid: those never cross */
		sl_autoclose int out =
			openat(dw, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       s->st_mode & 0777);
		rc = out < 0 || fs_copy_data(in, out) < 0 ? -1 : 0;
	} else {
		errno = EXDEV;
		rc = -1;
	}
	if (rc == 0)
		rc = renameat(dw, tmp, dw, dname);
	if (rc < 0) {
		int e = errno;
		unlinkat(dw, tmp, 0);
		return say(why, whysz, "promote %s: %s", rel, strerror(e));
	}
	return 0;
}

/* Move sname (in the upper directory su) to dname (in the workspace directory dw).
 * A directory in the upper dir is merged into an existing one (whiteouts delete),
 * unless it is opaque or new, then it replaces it. */
static int move(int su, const char *sname, int dw, const char *dname, const char *rel, int depth,
		char *why, size_t whysz)
{
	struct stat s, d;
	if (fstatat(su, sname, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return say(why, whysz, "promote %s: %s", rel, strerror(errno));
	if (is_whiteout(&s)) {
		if (fs_rm_rf_at(dw, dname) < 0)
			return say(why, whysz, "promote %s: remove: %s", rel, strerror(errno));
		unlinkat(su, sname, 0);
		return 0;
	}
	int have = fstatat(dw, dname, &d, AT_SYMLINK_NOFOLLOW) == 0;
	if (S_ISDIR(s.st_mode) && have && S_ISDIR(d.st_mode) && !is_opaque(su, sname)) {
		if (depth > MAX_DEPTH)
			return say(why, whysz, "output %s: directories nested too deeply", rel);
		sl_autoclose int a = open_subdir(su, sname);
		sl_autoclose int b = a < 0 ? -1 : open_subdir(dw, dname);
		if (b < 0)
			return say(why, whysz, "promote %s: %s", rel, strerror(errno));
		return move_children(a, b, rel, depth, why, whysz);
	}
	if (strip_tree(su, sname, rel, depth, why, whysz) < 0)
		return -1;
	/* what cannot be removed makes the rename fail, with its errno; a
	 * symlink in the way is removed, never followed */
	if (have && (S_ISDIR(s.st_mode) || S_ISDIR(d.st_mode)))
		fs_rm_rf_at(dw, dname);
	if (renameat(su, sname, dw, dname) == 0)
		return 0;
	if (errno != EXDEV)
		return say(why, whysz, "promote %s: %s", rel, strerror(errno));
	return copy_across(su, sname, &s, dw, dname, rel, depth, why, whysz);
}

int sandbox_output_written(const char *upper, const char *rel)
{
	char why[16];
	sl_autoclose int ufd = open_root(upper, why, sizeof(why));
	if (ufd < 0)
		return 0;
	struct stat s;
	sl_error *err = NULL;
	int rc = wspath_lstat(ufd, rel, &s, &err);
	sl_error_release(&err);
	/* one that cannot be reached safely is there: the check says what is wrong */
	return rc < 0 || (rc == 0 && !is_whiteout(&s));
}

int sandbox_promote(const char *upper, const char *ws, const char *rel, char *why, size_t whysz)
{
	sl_autoclose int ufd = open_root(upper, why, whysz);
	sl_autoclose int wfd = ufd < 0 ? -1 : open_root(ws, why, whysz);
	if (wfd < 0)
		return -1;
	sl_error *err = NULL;
	sl_autofree char *leaf = NULL, *wleaf = NULL;
	sl_autoclose int pu = wspath_open_parent(ufd, rel, 0, 0, &leaf, &err);
	if (pu < 0 && err && err->errnum == ENOENT) {
		sl_error_release(&err);
		return 1;
	}
	if (pu < 0)
		return say_err(why, whysz, &err);
	struct stat s;
	if (fstatat(pu, leaf, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1
				       : say(why, whysz, "promote %s: %s", rel, strerror(errno));
	sl_autoclose int pw = wspath_open_parent(wfd, rel, 1, 0755, &wleaf, &err);
	if (pw < 0)
		return say_err(why, whysz, &err);
	return move(pu, leaf, pw, wleaf, rel, 0, why, whysz);
}

/* ---- what was not declared ------------------------------------------------------------------ */

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

static void list_undeclared(struct undeclared *u, int dfd, const char *rel, int depth)
{
	char **v = entries(dfd);
	for (char **p = v; p && *p; p++) {
		sl_autofree char *r = join(rel, *p);
		struct stat st;
		int skip = declared(u, r) || fstatat(dfd, *p, &st, AT_SYMLINK_NOFOLLOW) < 0;
		/* deeper than any sane tree: the directory counts as one write */
		if (!skip && S_ISDIR(st.st_mode) && depth < 64) {
			size_t before = u->n;
			sl_autoclose int sub = open_subdir(dfd, *p);
			if (sub >= 0)
				list_undeclared(u, sub, r, depth + 1);
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
	free_entries(v);
}

size_t sandbox_list_undeclared(const char *upper, const char *const *outputs, size_t noutputs,
			       strbuf *names)
{
	struct undeclared u = {outputs, noutputs, names, 0};
	char why[16];
	sl_autoclose int ufd = open_root(upper, why, sizeof(why));
	if (ufd >= 0)
		list_undeclared(&u, ufd, "", 0);
	return u.n;
}
