/*
 * fuzz_stepout.c — libFuzzer harness for what a step hands back: its
 * $SLUICE_OUTPUT lines and its metrics JSON (stepout.h), and its log bytes
 * through the log writer (steplog.h).  Any input must parse or fail with a
 * reason, never crash or leak; every key found is non-empty and the log
 * never holds more than its limit allows.
 */
#include "sluice/fsutil.h"
#include "sluice/steplog.h"
#include "sluice/stepout.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena a = ARENA_INIT;
	char **keys, **vals;
	double *nums;
	size_t n;
	stepout_parse_outputs((const char *)data, size, &a, &keys, &vals, &n);
	for (size_t k = 0; k < n; k++)
		if (!keys[k][0] || !vals[k])
			abort();
	char why[200];
	if (stepout_parse_metrics((const char *)data, size, &a, &keys, &nums, &n, why,
				  sizeof(why)) < 0 &&
	    !why[0])
		abort();
	arena_release(&a);

	/* the log writer, fed in pieces the first byte picks */
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz-steplog.XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	steplog l;
	const char *secrets[] = {"s3cret", NULL};
	if (steplog_open(&l, dir, 4096, secrets, NULL) < 0)
		abort();
	size_t piece = size ? (size_t)data[0] % 64 + 1 : 1;
	for (size_t off = 0; off < size; off += piece)
		steplog_write(&l, (const char *)data + off,
			      size - off < piece ? size - off : piece);
	steplog_close(&l);
	steplog_release(&l);
	char path[128];
	snprintf(path, sizeof(path), "%s/log", dir);
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size > 4096 + 256)
		abort();
	return 0;
}
