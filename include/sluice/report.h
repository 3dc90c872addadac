/*
 * report.h — a run as documents for machines and people: the `--json`
 * document of docs/cli.md, JUnit XML (one <testcase> per step) and
 * a Markdown summary (for $GITHUB_STEP_SUMMARY).  Everything is read back
 * from the store, so `sluice status RUN --json` prints the same document as
 * the `sluice run --json` that made it.
 */
#ifndef SLUICE_REPORT_H
#define SLUICE_REPORT_H

#include "sluice/error.h"
#include "sluice/store.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* New reference; NULL with *err on failure. */
json_t *report_run_json(store *st, int64_t run_id, sl_error **err);
/* A metric's value in JSON: a number, or the string "NaN", "Infinity" or
 * "-Infinity" (JSON has none of them). */
json_t *report_metric_json(double v);
/* report_run_json printed to out (indented, one document, a newline). */
int report_print_run_json(store *st, int64_t run_id, FILE *out, sl_error **err);
int report_junit(store *st, int64_t run_id, const char *path, sl_error **err);
int report_markdown(store *st, int64_t run_id, FILE *out, sl_error **err);
/* ISO 8601 UTC with milliseconds, e.g. 2026-11-23T12:00:00.123Z; "" for 0. */
void report_iso_time(double t, char *buf, size_t size);

#endif
