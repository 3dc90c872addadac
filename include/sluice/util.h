/*
 * util.h — small parsing and string helpers shared by every layer:
 * durations ("90s", "30m", "2h", "1h30m"), sizes ("512M", "4G"), edit
 * distance for "did you mean", workspace-relative path checks.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "250ms", "90s", "30m", "2h", "1d", "1h30m", or a bare number of seconds.
 * Returns 0 and milliseconds in *ms, or -1 with a reason in *why. */
int parse_duration_ms(const char *s, int64_t *ms, const char **why);
/* Format milliseconds the way durations are written: "30m", "1h30m", "90ms". */
void format_duration_ms(int64_t ms, char *buf, size_t size);
/* "512", "512K", "4G", "1.5G", "4GiB", "100MB" (powers of 1024).  Bytes in *bytes. */
int parse_size(const char *s, uint64_t *bytes, const char **why);
/* "4G", "512M", "1536K"... the shortest exact form. */
void format_size(uint64_t bytes, char *buf, size_t size);

/* Levenshtein distance, capped: returns max+1 when the distance exceeds max. */
size_t edit_distance(const char *a, const char *b, size_t max);
/* The candidate closest to word (distance <= max(1, strlen/3)), or NULL. */
const char *did_you_mean(const char *word, const char *const *candidates, size_t n);
/* The same over the `const char *` field at `offset` of n structs `stride`
 * bytes apart, so callers need not copy names out of their records. */
const char *did_you_mean_field(const char *word, const void *items, size_t n, size_t stride,
			       size_t offset);
/* DID_YOU_MEAN_IN(word, array, n, field): did_you_mean over array[i].field. */
#define DID_YOU_MEAN_IN(word, arr, n, field)                                                       \
	did_you_mean_field((word), (arr), (n), sizeof(*(arr)), offsetof(__typeof__(*(arr)), field))

/* Normalise a workspace-relative path in place: drop "." parts, fold "//",
 * resolve "a/../b".  Returns -1 (and sets *why) when the path is absolute,
 * empty, or climbs out of the workspace with "..". */
int path_normalize_relative(char *path, const char **why);

/* 1 when name matches [a-z0-9_-]+ (pipeline names), else 0. */
int is_pipeline_name(const char *s);

#endif
