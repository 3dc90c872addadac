/*
 * statelock.c — see include/sluice/statelock.h.
 *
 * Waiting polls a non-blocking flock every 50 ms rather than blocking in
 * flock(2): a blocking call restarted after a signal (SA_RESTART) would not
 * return on Ctrl-C, and a bound needs the poll anyway.  flock gives no
 * fairness: a gc waiting for the lock can wait as long as runs overlap, which
 * is why gc's wait is bounded (docs/cli.md).
 */
#include "sluice/statelock.h"

#include "sluice/arena.h"
#include "sluice/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 50

struct statelock {
	int fd;
};

static char *lock_path(const char *dir)
{
	char *p = NULL;
	if (asprintf(&p, "%s/lock", dir) < 0)
		abort();
	return p;
}

int statelock_take(const char *dir, enum statelock_mode mode, int64_t wait_ms, statelock **out,
		   sl_error **err)
{
	*out = NULL;
	char *path = lock_path(dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0 && (errno == EROFS || errno == EACCES))
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		sl_error_errno(err, e, "lock %s", path);
		if (e == EROFS || e == EACCES || e == ENOTDIR || e == ELOOP)
			(*err)->kind = SL_ERR_USAGE;
		free(path);
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		sl_error_usage(err, "lock %s: not a regular file", path);
		free(path);
		return -1;
	}
	int op = (mode == STATELOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB;
	int64_t until = clock_mono_ms() + wait_ms;
	for (;;) {
		if (flock(fd, op) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			sl_error_errno(err, errno, "lock %s", path);
			close(fd);
			free(path);
			return -1;
		}
		if (wait_ms == 0 || (wait_ms > 0 && clock_mono_ms() >= until)) {
			close(fd);
			free(path);
			return 1;
		}
		struct timespec ts = {0, POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(path);
	statelock *l = xmalloc(sizeof(*l));
	l->fd = fd;
	*out = l;
	return 0;
}

void statelock_release(statelock *l)
{
	if (!l)
		return;
	close(l->fd); /* the last reference: the kernel drops the flock */
	free(l);
}

size_t statelock_holders(const char *dir, int64_t *pids, size_t max)
{
	char *path = lock_path(dir);
	struct stat sb;
	int ok = stat(path, &sb) == 0;
	free(path);
	FILE *f = ok ? fopen("/proc/locks", "re") : NULL;
	if (!f)
		return 0;
	/* "1: FLOCK  ADVISORY  READ  4242 08:01:123456 0 EOF"; waiters are "1: -> FLOCK ..." */
	char line[256];
	size_t n = 0;
	int64_t self = getpid();
	while (n < max && fgets(line, sizeof(line), f)) {
		char kind[16], adv[16], rw[16];
		long long pid;
		unsigned major, minor;
		unsigned long long ino;
		const char *c = strchr(line, ':');
		if (!c || strstr(line, "->"))
			continue;
		if (sscanf(c + 1, "%15s %15s %15s %lld %x:%x:%llu", kind, adv, rw, &pid, &major,
			   &minor, &ino) != 7 ||
		    strcmp(kind, "FLOCK") != 0 || ino != (unsigned long long)sb.st_ino ||
		    pid == self)
			continue;
		int dup = 0;
		for (size_t i = 0; i < n; i++)
			dup |= pids[i] == pid;
		if (!dup)
			pids[n++] = pid;
	}
	fclose(f);
	return n;
}
