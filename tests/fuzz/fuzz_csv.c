/*
 * fuzz_csv.c — libFuzzer harness for the dataset reader (CSV and JSON Lines).
 *
 * The first byte picks the format (bit 0) and a read size (bits 1-3); the
 * rest is the file.  Any input must give rows or a clean error, never a
 * crash or a leak, and the answer must not depend on how the input was cut
 * into reads: the input is read twice (the picked read size, and the
 * default one, row by row and in batches) and the two renderings must be
 * identical.  Every field must be as long as its reported length.
 */
#include "sluice/dataset.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FNV-1a over everything read: header, fields (with markers), the error. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t digest(const uint8_t *data, size_t size, enum dataset_format fmt, size_t chunk,
		       int batched)
{
	uint64_t h = 0xcbf29ce484222325ull;
	dataset_reader *r = NULL;
	sl_error *err = NULL;
	if (dataset_open_mem("fuzz", data, size, fmt, chunk, &r, &err) < 0) {
		h = mix(h, err->msg, strlen(err->msg));
		sl_error_release(&err);
		return h;
	}
	size_t nc = dataset_ncols(r);
	for (size_t i = 0; i < nc; i++)
		h = mix(h, dataset_colname(r, i), strlen(dataset_colname(r, i)) + 1);
	const char *const *f;
	const size_t *l;
	long n;
	for (;;) {
		if (batched) {
			n = dataset_next_batch(r, 3, &f, &l, &err);
		} else {
			n = dataset_next(r, &f, &err);
			l = dataset_lengths(r);
		}
		if (n <= 0)
			break;
		for (long k = 0; k < n; k++) {
			for (size_t i = 0; i < nc; i++) {
				const char *v = f[(size_t)k * nc + i];
				size_t len = l[(size_t)k * nc + i];
				if (v ? strlen(v) != len : len != 0)
					abort();
				h = mix(h, v ? "v" : "n", 1);
				if (v)
					h = mix(h, v, len + 1);
			}
		}
	}
	if (n < 0) {
		h = mix(h, err->msg, strlen(err->msg));
		sl_error_release(&err);
	}
	dataset_close(r);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {1, 2, 3, 5, 16, 17, 64, 4096};
	if (size == 0)
		return 0;
	enum dataset_format fmt = (data[0] & 1) ? DATASET_JSONL : DATASET_CSV;
	size_t chunk = chunks[(data[0] >> 1) & 7];
	data++;
	size--;
	uint64_t a = digest(data, size, fmt, chunk, 0);
	uint64_t b = digest(data, size, fmt, 0, 1);
	if (a != b) {
		fprintf(stderr, "fuzz_csv: read size %zu and the default read differently\n",
			chunk);
		abort();
	}
	return 0;
}
