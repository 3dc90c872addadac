/*
 * hashbench.c — times sluice's own hashing code (docs/caching.md and docs/benchmarks.md)
 * for bench/bench_cache.sh, which prints it next to openssl and sha256sum.
 *
 *   hashbench sha256 FILE [REPEAT]
 *       hash_file_sha256 on FILE, REPEAT times (default 3) after one read of
 *       the whole file, so every pass reads from the page cache as the
 *       command-line tools it is compared with do.
 *   hashbench statcache FILE STATE_DIR [CALLS]
 *       filehash_path through a store opened at STATE_DIR: the first call
 *       hashes the file and saves the hash under its stat; then CALLS calls
 *       (default 1000) must each find it in the stat cache.
 *
 * Output is one line of key=value pairs (times in seconds, sizes in bytes)
 * for the script to read; exit 1 with a message on stderr when anything fails
 * or a call returns a different hash.
 */
#include "sluice/error.h"
#include "sluice/filehash.h"
#include "sluice/hash.h"
#include "sluice/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int die(sl_error **err, const char *what)
{
	fprintf(stderr, "hashbench: %s: %s\n", what, *err ? (*err)->msg : "failed");
	sl_error_release(err);
	return 1;
}

/* Read the whole file once so the passes that follow are from the page cache. */
static int warm(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "hashbench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	static char buf[1 << 20];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		;
	close(fd);
	return 0;
}

static int bench_sha256(const char *path, int repeat)
{
	if (warm(path) < 0)
		return 1;
	double *t = calloc((size_t)repeat, sizeof(double));
	char hex[SHA256_HEX_LEN + 1], first[SHA256_HEX_LEN + 1] = "";
	uint64_t size = 0;
	sl_error *err = NULL;
	for (int i = 0; i < repeat; i++) {
		double s = now_s();
		if (hash_file_sha256(path, hex, &size, &err) < 0) {
			free(t);
			return die(&err, "hash_file_sha256");
		}
		t[i] = now_s() - s;
		if (i == 0)
			memcpy(first, hex, sizeof(first));
		else if (strcmp(first, hex)) {
			fprintf(stderr, "hashbench: pass %d hashed %s, pass 1 %s\n", i + 1, hex, first);
			free(t);
			return 1;
		}
	}
	qsort(t, (size_t)repeat, sizeof(double), cmp_double);
	printf("bytes=%llu best_s=%.6f median_s=%.6f sha256=%s\n", (unsigned long long)size, t[0],
	       t[repeat / 2], first);
	free(t);
	return 0;
}

static int bench_statcache(const char *path, const char *state_dir, int calls)
{
	store *st = NULL;
	sl_error *err = NULL;
	if (store_open(state_dir, &st, &err) < 0)
		return die(&err, "store_open");
	char hex[SHA256_HEX_LEN + 1], first[SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	double s = now_s();
	if (filehash_path(st, path, first, &size, &err) < 0) {
		store_close(st);
		return die(&err, "filehash_path (first call)");
	}
	double first_s = now_s() - s;
	s = now_s();
	for (int i = 0; i < calls; i++) {
		if (filehash_path(st, path, hex, &size, &err) < 0) {
			store_close(st);
			return die(&err, "filehash_path");
		}
		if (strcmp(hex, first)) {
			fprintf(stderr, "hashbench: call %d hashed %s, the first %s\n", i + 2, hex, first);
			store_close(st);
			return 1;
		}
	}
	double total = now_s() - s;
	store_close(st);
	printf("bytes=%llu first_s=%.6f calls=%d total_s=%.6f per_call_s=%.9f sha256=%s\n",
	       (unsigned long long)size, first_s, calls, total, total / calls, first);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "sha256")) {
		int repeat = argc > 3 ? atoi(argv[3]) : 3;
		return bench_sha256(argv[2], repeat > 0 ? repeat : 1);
	}
	if (argc >= 4 && !strcmp(argv[1], "statcache")) {
		int calls = argc > 4 ? atoi(argv[4]) : 1000;
		return bench_statcache(argv[2], argv[3], calls > 0 ? calls : 1);
	}
	fprintf(stderr, "usage: hashbench sha256 FILE [REPEAT]\n"
			"       hashbench statcache FILE STATE_DIR [CALLS]\n");
	return 2;
}
