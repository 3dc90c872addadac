/* fsutil.c — see include/sluice/fsutil.h. */
#include "sluice/fsutil.h"

#include "sluice/arena.h"
#include "sluice/cleanup.h"
#include "sluice/util.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Deeper than this a tree is left in place (ELOOP): each level holds a
 * directory fd open. */
#define RM_MAX_DEPTH 256

/* Make buf[0..len) and the directories above it; buf is writable, NUL at len. */
static int mkdir_upto(char *buf, mode_t mode)
{
	/* most parents exist already: try the whole path first */
	if (mkdir(buf, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		int rc = mkdir(buf, mode);
		*s = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(buf, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* path into buf (PATH_MAX bytes); its length, or -1 with ENAMETOOLONG. */
static long copy_path(char *buf, const char *path)
{
	size_t n = strlen(path);
	if (n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	return (long)n;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	long n = copy_path(buf, path);
	if (n < 0)
		return -1;
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = 0;
	return mkdir_upto(buf, mode);
}

int fs_mkdir_parents(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (copy_path(buf, path) < 0)
		return -1;
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;
	*slash = 0;
	return mkdir_upto(buf, mode);
}

/* Remove name in the directory dfd, and everything below it when it is a
 * directory on dev.  Keeps going after a failure; returns the first errno, or 0. */
static int rm_at(int dfd, const char *name, dev_t dev, int depth)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dfd, name, 0700, 0) == 0)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || depth > RM_MAX_DEPTH) {
		int e = st.st_dev != dev ? EXDEV : depth > RM_MAX_DEPTH ? ELOOP : errno;
		close(fd);
		return e;
	}
	if ((st.st_mode & 0700) != 0700)
		fchmod(fd, st.st_mode | 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return e;
	}
	int first = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int e = rm_at(dirfd(d), de->d_name, dev, depth + 1);
		if (e && !first)
			first = e;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !first)
		first = errno;
	return first;
}

int fs_rm_rf(const char *path)
{
	if (rmdir(path) == 0 || errno == ENOENT)
		return 0; /* the common case: an empty directory */
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	int e = rm_at(AT_FDCWD, path, st.st_dev, 0);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

int fs_rm_rf_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
	int e = rm_at(dfd, name, st.st_dev, 0);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

const char *fs_kind_name(mode_t m)
{
	return S_ISFIFO(m)   ? "a FIFO"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISBLK(m)  ? "a block device"
	       : S_ISSOCK(m) ? "a socket"
	       : S_ISDIR(m)  ? "a directory"
	       : S_ISLNK(m)  ? "a symlink"
	       : S_ISREG(m)  ? "a regular file"
			     : "not a regular file";
}

/* ---- copying ------------------------------------------------------------------------------ */

/* in[off, off + len) to the same offsets of out, in the kernel where it can. */
static int copy_range(int in, int out, off_t off, off_t len)
{
	off_t ioff = off, ooff = off;
	while (len > 0) {
		size_t chunk = len > (off_t)1 << 30 ? (size_t)1 << 30 : (size_t)len;
		ssize_t n = copy_file_range(in, &ioff, out, &ooff, chunk, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return -1;
		if (n <= 0)
			break; /* unsupported here, or the file shrank: read what is there */
		len -= n;
	}
	char buf[1 << 16];
	while (len > 0) {
		ssize_t n =
			pread(in, buf, len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf), ioff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(out, buf + done, (size_t)(n - done), ooff);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			done += w;
			ooff += w;
		}
		ioff += n;
		len -= n;
	}
	return 0;
}

int fs_copy_data(int in, int out)
{
	if (ioctl(out, FICLONE, in) == 0)
		return 1;
	struct stat st;
	if (fstat(in, &st) < 0)
		return -1;
	off_t size = st.st_size, off = 0;
	while (off < size) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole up to the end */
		if (data < 0)  /* no SEEK_DATA here: all of it is data */
			return copy_range(in, out, off, size - off) < 0 ? -1 : ftruncate(out, size);
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		if (hole > size)
			hole = size;
		if (copy_range(in, out, data, hole - data) < 0)
			return -1;
		off = hole;
	}
	/* the holes between and after the extents: never written, only the size */
	return ftruncate(out, size);
}

/* ---- privileges --------------------------------------------------------------------------- */

int fs_strip_privileges_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	/* The O_PATH fd names exactly the inode just checked; /proc/self/fd
	 * reaches it for the calls that want a path (or a readable fd, which a
	 * mode 0 file would not give). */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int rc = 0;
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		mode_t m = st.st_mode & 01777;
		if (chmod(proc, m) < 0 && fchmodat(dfd, name, m, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -1;
	}
	/* removing security.capability wants CAP_SETFCAP even when it is not
	 * there: ask first */
	if (rc == 0 && getxattr(proc, "security.capability", NULL, 0) >= 0 &&
	    removexattr(proc, "security.capability") < 0 && errno != ENODATA)
		rc = -1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int fs_open_regular(const char *path, sl_error **err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		sl_error_errno(err, e, "%s", path);
		if (err && *err && e != EIO && e != ENOMEM)
			(*err)->kind = SL_ERR_USAGE;
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return sl_error_errno(err, e, "stat %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return sl_error_usage(err, "%s is %s, not a regular file", path,
				      fs_kind_name(st.st_mode));
	}
	return fd;
}

static int too_large(const char *path, size_t max, const char *what, sl_error **err)
{
	char sz[32];
	format_size(max, sz, sizeof(sz));
	return sl_error_usage(err, "%s %s is larger than %s, the most it may hold", what, path, sz);
}

int fs_read_fd(int fd, const char *shown, size_t max, const char *what, char **buf, size_t *len,
	       sl_error **err)
{
	*buf = NULL;
	*len = 0;
	size_t cap = 4096, n = 0;
	sl_autofree char *b = xmalloc(cap);
	for (;;) {
		if (n + 1 == cap)
			b = xrealloc(b, cap *= 2);
		ssize_t r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sl_error_errno(err, errno, "%s %s: read", what, shown);
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) /* a file that grows while it is read stops here too */
			return too_large(shown, max, what, err);
	}
	b[n] = 0;
	*len = n;
	*buf = sl_steal_ptr(b);
	return 0;
}

int fs_read_regular(const char *path, size_t max, const char *what, char **buf, size_t *len,
		    sl_error **err)
{
	*buf = NULL;
	*len = 0;
	sl_autoclose int fd = fs_open_regular(path, err);
	if (fd < 0)
		return sl_error_wrap(err, "%s", what);
	return fs_read_fd(fd, path, max, what, buf, len, err);
}
