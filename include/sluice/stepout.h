/*
 * stepout.h — what a step hands to later steps, parsed: the key=value lines
 * it appended to $SLUICE_OUTPUT (steps.X.outputs.KEY) and its metrics JSON
 * (steps.X.metrics.a.b).  Pure functions over bytes in memory, so that what
 * a hostile or broken step writes is tested without running it.
 */
#ifndef SLUICE_STEPOUT_H
#define SLUICE_STEPOUT_H

#include "sluice/arena.h"

#include <stddef.h>

/* The most a step's $SLUICE_OUTPUT and metrics file may hold. */
#define STEPOUT_OUTPUT_MAX  (16u << 20)
#define STEPOUT_METRICS_MAX (64u << 20)

/* key=value lines into keys[] and vals[] (allocated from a).  A key given
 * twice: the last line wins, in the place of the first.  Lines without '='
 * or with an empty key are ignored; "\r\n" ends a line too; a NUL ends the
 * line's text. */
void stepout_parse_outputs(const char *text, size_t len, arena *a, char ***keys, char ***vals,
			   size_t *n);

/* The metrics object flattened: {"a": {"b": 1}} gives a.b = 1; true and
 * false count as 1 and 0; NaN, Infinity and -Infinity (which Python's
 * json.dump writes, outside strings) are read as those doubles; strings,
 * arrays and null are left out.  0 (and
 * no metrics when it is not an object), or -1 with why: the JSON parser's
 * error, or two values that flatten to one key ({"a.b": 1, "a": {"b": 2}}).
 * Linear in the size of the text. */
int stepout_parse_metrics(const char *text, size_t len, arena *a, char ***keys, double **vals,
			  size_t *n, char *why, size_t whysize);

#endif
