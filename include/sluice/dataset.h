/*
 * dataset.h — streaming reader for tabular data: CSV (RFC 4180 with a header
 * row: quotes, doubled quotes, embedded newlines, CRLF, a UTF-8 BOM) and JSON
 * Lines (one object per line).  Used by the validate-data and drift steps.
 *
 * Rows are read one at a time; memory does not grow with the file.  A ragged
 * CSV row, an unterminated quote, invalid UTF-8 or a line that is not a JSON
 * object is an error naming the file and line.
 */
#ifndef SLUICE_DATASET_H
#define SLUICE_DATASET_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>

enum dataset_format { DATASET_AUTO, DATASET_CSV, DATASET_JSONL };

typedef struct dataset_reader dataset_reader;

/* Open path; DATASET_AUTO picks JSON Lines for .jsonl/.ndjson/.json, else CSV. */
int dataset_open(const char *path, enum dataset_format fmt, dataset_reader **out, sl_error **err);
/* Parse "csv", "jsonl" or "auto"; -1 when unknown. */
int dataset_format_parse(const char *s, enum dataset_format *fmt);

size_t dataset_ncols(const dataset_reader *r);
const char *dataset_colname(const dataset_reader *r, size_t i);
/* Index of a column by name, or -1. */
long dataset_colindex(const dataset_reader *r, const char *name);

/* Read the next row.  Returns 1 with fields[0..ncols) (NULL = missing: an
 * empty CSV field, a JSON null or an absent key), 0 at the end, -1 on error.
 * The pointers are valid until the next call. */
int dataset_next(dataset_reader *r, const char *const **fields, sl_error **err);
/* 1-based line where the last row read starts (for messages). */
uint64_t dataset_line(const dataset_reader *r);
/* Bytes consumed so far (for throughput). */
uint64_t dataset_offset(const dataset_reader *r);
void dataset_close(dataset_reader *r);

#endif
