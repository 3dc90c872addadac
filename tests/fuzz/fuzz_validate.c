/*
 * fuzz_validate.c — libFuzzer harness for the whole validate-data step: the
 * input is an expectations file and a CSV file separated by a NUL byte (no
 * NUL: the whole input is the expectations, checked against a small fixed
 * CSV).  Both are written to a scratch directory and the step runs on them
 * as `sluice step validate-data` would.  Any input must end in a report or
 * a clean error — never a crash, a leak, or an error without a message.
 */
#include "sluice/builtin.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* The scratch directory, made on the first input and removed at exit. */
static char dir[64];

static void cleanup(void)
{
	static const char *const names[] = {"e.yaml", "d.csv", "r.json", "r.profile.json"};
	char path[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/sluice-fuzz-validate.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	char yaml[128], csv[128], report[128];
	snprintf(yaml, sizeof(yaml), "%s/e.yaml", dir);
	snprintf(csv, sizeof(csv), "%s/d.csv", dir);
	snprintf(report, sizeof(report), "%s/r.json", dir);
	const uint8_t *nul = memchr(data, 0, size);
	if (nul) {
		put(yaml, data, (size_t)(nul - data));
		put(csv, nul + 1, size - (size_t)(nul - data) - 1);
	} else {
		static const char fixed[] = "id,age,plan,email\n1,30,basic,a@x.com\n2,,pro,b@y\n"
					    "3,200,gold,\n3,41.5,pro,c@x.com\n";
		put(yaml, data, size);
		put(csv, fixed, sizeof(fixed) - 1);
	}
	const char *keys[] = {"data", "expectations", "report"};
	const char *vals[] = {csv, yaml, report};
	builtin_args a = {.name = "validate-data", .keys = keys, .vals = vals, .n = 3, .cwd = dir};
	sl_error *err = NULL;
	if (builtin_validate_data_run(&a, &err) < 0) {
		if (!err || !err->msg || !err->msg[0])
			abort();
		sl_error_release(&err);
	} else if (err) {
		abort();
	}
	return 0;
}
