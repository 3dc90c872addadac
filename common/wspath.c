/* wspath.c — see include/sluice/wspath.h.
 *
 * A path is cleaned first (no "..", not absolute, "." parts and doubled
 * slashes dropped), then resolved.  openat2 answers the whole path at once;
 * whenever it says no (or is missing) the walk answers instead: it is just
 * as safe, and it can say which component was at fault.  A race that makes
 * openat2 fail (EAGAIN, a rename meanwhile) lands in the walk too. */
#include "sluice/wspath.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* -1 unknown (read the environment), 0 walk only, 1 try openat2 */
static int openat2_wanted = -1;
/* the kernel said ENOSYS (or refused the struct): do not ask again */
static int openat2_missing;
static int openat2_used;

void wspath_set_openat2(int on)
{
	openat2_wanted = on ? 1 : 0;
}

int wspath_used_openat2(void)
{
	return openat2_used;
}

static int want_openat2(void)
{
	if (openat2_wanted < 0) {
		const char *v = getenv("SLUICE_WSPATH_NO_OPENAT2");
		openat2_wanted = !(v && *v && strcmp(v, "0"));
	}
	return openat2_wanted && !openat2_missing;
}

/* The fd of path beneath dirfd, opened with flags (O_PATH or O_RDONLY, with
 * O_DIRECTORY or not); -1 with errno.  ENOSYS and the like turn it off. */
static int try_openat2(int dirfd, const char *path, int flags)
{
	openat2_used = 0;
	if (!want_openat2()) {
		errno = ENOSYS;
		return -1;
	}
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == E2BIG || errno == EPERM))
		openat2_missing = 1; /* EPERM: a seccomp filter that does not know it */
	if (fd >= 0)
		openat2_used = 1;
	return (int)fd;
}

/* rel cleaned into a fresh string: parts joined by single '/', "." parts
 * dropped; "" for the directory itself.  NULL with an error for an absolute
 * path or a ".." part. */
static char *clean(const char *rel, sl_error **err)
{
	if (!rel)
		rel = "";
	if (rel[0] == '/') {
		sl_error_make(err, "%s: an absolute path where a relative one belongs", rel);
		return NULL;
	}
	size_t n = strlen(rel);
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (const char *p = rel; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			sl_error_make(err, "%s: a path with \"..\" in it", rel);
			return NULL;
		}
		if (len && !(len == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p = e;
	}
	out[o] = 0;
	return out;
}

/* An error with errnum e but no strerror: the message says it better. */
__attribute__((format(printf, 3, 4))) static int refuse(sl_error **err, int e, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_error_make(err, "%s", msg);
	if (err && *err)
		(*err)->errnum = e;
	return -1;
}

/* Why component c of path (its first upto bytes name it) could not be
 * opened as a directory from pfd: a message that names it.  shown is the
 * path as the caller gave it. */
static int refuse_component(int pfd, const char *c, const char *shown, const char *path,
			    size_t upto, int e, sl_error **err)
{
	struct stat st;
	if (e == ENOENT || fstatat(pfd, c, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return sl_error_errno(err, e, "%s: %.*s", shown, (int)upto, path);
	if (S_ISLNK(st.st_mode))
		return refuse(err, ELOOP,
			      "%s: %.*s is a symlink, and sluice follows no symlink in a step's "
			      "paths",
			      shown, (int)upto, path);
	if (!S_ISDIR(st.st_mode))
		return refuse(err, ENOTDIR, "%s: %.*s is %s, not a directory", shown, (int)upto,
			      path, fs_kind_name(st.st_mode));
	return sl_error_errno(err, e, "%s: %.*s", shown, (int)upto, path);
}

/* The walk: the directory path (cleaned; "" is dirfd) beneath dirfd, one
 * component at a time, each O_NOFOLLOW | O_DIRECTORY from the fd before.
 * shown is what messages name.  Returns an O_PATH fd. */
static int walk(int dirfd, const char *path, const char *shown, int create, mode_t mode,
		sl_error **err)
{
	int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return sl_error_errno(err, errno, "%s: dup", shown);
	const char *p = path;
	char name[NAME_MAX + 1];
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);
		if (len > NAME_MAX) {
			close(cur);
			return sl_error_errno(err, ENAMETOOLONG, "%s", shown);
		}
		memcpy(name, p, len);
		name[len] = 0;
		int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create &&
		    (mkdirat(cur, name, mode) == 0 || errno == EEXIST))
			fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			int er = errno;
			refuse_component(cur, name, shown, path, (size_t)(e - path), er, err);
			close(cur);
			return -1;
		}
		close(cur);
		cur = fd;
		p = *e ? e + 1 : e;
	}
	return cur;
}

/* The directory clean path beneath dirfd as an O_PATH fd. */
static int resolve_dir(int dirfd, const char *path, const char *shown, int create, mode_t mode,
		       sl_error **err)
{
	if (!*path)
		return walk(dirfd, path, shown, 0, mode, err);
	int fd = try_openat2(dirfd, path, O_PATH | O_DIRECTORY);
	if (fd >= 0)
		return fd;
	return walk(dirfd, path, shown, create, mode, err);
}

int wspath_open_dir(int dirfd, const char *rel, int create, mode_t mode, sl_error **err)
{
	sl_autofree char *path = clean(rel, err);
	if (!path)
		return -1;
	int fd = *path ? try_openat2(dirfd, path, O_RDONLY | O_DIRECTORY) : -1;
	if (fd >= 0)
		return fd;
	sl_autoclose int pfd = walk(dirfd, path, rel ? rel : "", create, mode, err);
	if (pfd < 0)
		return -1;
	/* "." of a directory fd is that directory: nothing to follow */
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_errno(err, errno, "%s: open", *path ? rel : ".");
	return fd;
}

int wspath_open_parent(int dirfd, const char *rel, int create, mode_t mode, char **leaf,
		       sl_error **err)
{
	*leaf = NULL;
	sl_autofree char *path = clean(rel, err);
	if (!path)
		return -1;
	if (!*path)
		return sl_error_make(err, "%s: names the directory itself, not something in it",
				     rel ? rel : "");
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (slash)
		*slash = 0;
	int fd = resolve_dir(dirfd, slash ? path : "", rel, create, mode, err);
	if (fd < 0)
		return -1;
	*leaf = xstrdup(name);
	return fd;
}

int wspath_lstat(int dirfd, const char *rel, struct stat *st, sl_error **err)
{
	sl_autofree char *leaf = NULL;
	sl_error *e = NULL;
	sl_autoclose int pfd = wspath_open_parent(dirfd, rel, 0, 0, &leaf, &e);
	if (pfd < 0) {
		if (e && e->errnum == ENOENT) {
			sl_error_release(&e);
			return 1;
		}
		if (err)
			*err = e;
		else
			sl_error_release(&e);
		return -1;
	}
	if (fstatat(pfd, leaf, st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : sl_error_errno(err, errno, "%s: stat", rel);
	return 0;
}

int wspath_open_regular_at(int pfd, const char *name, const char *shown, struct stat *st,
			   sl_error **err)
{
	struct stat tmp;
	if (!st)
		st = &tmp;
	int fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		struct stat ls;
		if (e == ELOOP && fstatat(pfd, name, &ls, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(ls.st_mode))
			return refuse(err, e,
				      "%s is a symlink, and sluice follows no symlink in a step's "
				      "paths",
				      shown);
		return sl_error_errno(err, e, "%s", shown);
	}
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return sl_error_errno(err, e, "%s: stat", shown);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return refuse(err, EINVAL, "%s is %s, not a regular file", shown,
			      fs_kind_name(st->st_mode));
	}
	return fd;
}

int wspath_open_regular(int dirfd, const char *rel, struct stat *st, sl_error **err)
{
	sl_autofree char *leaf = NULL;
	sl_autoclose int pfd = wspath_open_parent(dirfd, rel, 0, 0, &leaf, err);
	if (pfd < 0)
		return -1;
	return wspath_open_regular_at(pfd, leaf, rel, st, err);
}

int wspath_read_regular(int dirfd, const char *rel, size_t max, const char *what, char **buf,
			size_t *len, sl_error **err)
{
	*buf = NULL;
	*len = 0;
	sl_autoclose int fd = wspath_open_regular(dirfd, rel, NULL, err);
	if (fd < 0)
		return sl_error_wrap(err, "%s", what);
	return fs_read_fd(fd, rel, max, what, buf, len, err);
}

int wspath_readlink_at(int pfd, const char *name, const char *shown, char **target, size_t *len,
		       sl_error **err)
{
	*target = NULL;
	size_t cap = 256;
	for (;;) {
		char *b = xmalloc(cap);
		ssize_t n = readlinkat(pfd, name, b, cap);
		if (n < 0) {
			int e = errno;
			free(b);
			return sl_error_errno(err, e, "%s: readlink", shown);
		}
		if ((size_t)n < cap) {
			b[n] = 0;
			*target = b;
			if (len)
				*len = (size_t)n;
			return 0;
		}
		free(b);
		if (cap >= 65536)
			return sl_error_errno(err, ENAMETOOLONG, "%s: readlink", shown);
		cap *= 4;
	}
}

int wspath_mkdir_p(int dirfd, const char *rel, mode_t mode, sl_error **err)
{
	sl_autofree char *path = clean(rel, err);
	if (!path)
		return -1;
	int fd = resolve_dir(dirfd, path, rel, 1, mode, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int wspath_remove(int dirfd, const char *rel, sl_error **err)
{
	sl_autofree char *leaf = NULL;
	sl_error *e = NULL;
	sl_autoclose int pfd = wspath_open_parent(dirfd, rel, 0, 0, &leaf, &e);
	if (pfd < 0) {
		if (e && e->errnum == ENOENT) { /* a missing parent: nothing to remove */
			sl_error_release(&e);
			return 0;
		}
		if (err)
			*err = e;
		else
			sl_error_release(&e);
		return -1;
	}
	if (fs_rm_rf_at(pfd, leaf) < 0)
		return sl_error_errno(err, errno, "remove %s", rel);
	return 0;
}

int wspath_rename(int fromfd, const char *from, int tofd, const char *to, sl_error **err)
{
	sl_autofree char *a = NULL, *b = NULL;
	sl_autoclose int fa = wspath_open_parent(fromfd, from, 0, 0, &a, err);
	if (fa < 0)
		return -1;
	sl_autoclose int fb = wspath_open_parent(tofd, to, 0, 0, &b, err);
	if (fb < 0)
		return -1;
	if (renameat(fa, a, fb, b) < 0)
		return sl_error_errno(err, errno, "rename %s to %s", from, to);
	return 0;
}

int wspath_link_escapes(const char *rel, const char *target)
{
	if (!target || target[0] == '/')
		return 1;
	/* how deep the link's directory is below the workspace */
	long depth = 0;
	for (const char *p = rel; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);
		if (*e && len && !(len == 1 && *p == '.'))
			depth++; /* a directory part, not the link's own name */
		p = e;
	}
	int named = 0;
	for (const char *p = target; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (named || --depth < 0)
				return 1;
		} else if (len && !(len == 1 && *p == '.')) {
			named = 1;
		}
		p = e;
	}
	return 0;
}
