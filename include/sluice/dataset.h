/*
 * dataset.h — streaming reader for tabular data: CSV (RFC 4180 with a header
 * row: quotes, doubled quotes, embedded newlines, CRLF, a UTF-8 BOM) and JSON
 * Lines (one object per line).  Used by the validate-data and drift steps.
 *
 * Rows are read one at a time; memory does not grow with the file.  A ragged
 * CSV row, an unterminated quote, invalid UTF-8 or a line that is not a JSON
 * object is an error naming the file and line ("FILE:LINE: message", kind
 * SL_ERR_USAGE: bad data is bad user input).
 *
 * CSV: the first row is the header; blank lines are skipped (as pandas does);
 * an empty field, quoted or not, is missing (NULL); a row ends at LF, CRLF or
 * a lone CR; characters after a closing quote are an error.  A row may be at
 * most 64 MiB.
 * JSON Lines: the columns are the keys of the first object, in order; keys
 * that first appear in a later object are ignored.  Strings are given back
 * as they are, numbers and booleans as their JSON text, arrays and objects
 * as compact JSON text.  Blank lines are skipped.
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
/* Read from memory instead of a file (tests, fuzzing).  name is used in
 * messages; data must outlive the reader.  chunk > 0 feeds the parser at most
 * chunk bytes at a time (to exercise rows split across reads); 0 is the
 * default (1 MiB). */
int dataset_open_mem(const char *name, const void *data, size_t len, enum dataset_format fmt,
		     size_t chunk, dataset_reader **out, sl_error **err);
/* Parse "csv", "jsonl" or "auto"; -1 when unknown. */
int dataset_format_parse(const char *s, enum dataset_format *fmt);
/* The format being read (never DATASET_AUTO once open). */
enum dataset_format dataset_format_of(const dataset_reader *r);

size_t dataset_ncols(const dataset_reader *r);
const char *dataset_colname(const dataset_reader *r, size_t i);
/* Index of a column by name, or -1. */
long dataset_colindex(const dataset_reader *r, const char *name);

/* Read the next row.  Returns 1 with fields[0..ncols) (NULL = missing: an
 * empty CSV field, a JSON null or an absent key), 0 at the end, -1 on error.
 * The pointers are valid until the next call. */
int dataset_next(dataset_reader *r, const char *const **fields, sl_error **err);
/* Read up to max rows at once (for speed: a caller can then work column by
 * column).  Returns n > 0 with the fields of row i at fields[i * ncols + j]
 * and their lengths at lens[i * ncols + j], all valid until the next call;
 * 0 at the end; -1 on error (rows before the bad one were returned by earlier
 * calls).  A batch ends early where the reader must read more input, and
 * JSON Lines come one row per batch.  dataset_line() is then the line of the
 * batch's last row. */
long dataset_next_batch(dataset_reader *r, size_t max, const char *const **fields,
			const size_t **lens, sl_error **err);
/* Byte lengths of the fields of the last row read (0 for a missing field);
 * valid as long as the fields are. */
const size_t *dataset_lengths(const dataset_reader *r);
/* 1-based line where the last row read starts (for messages). */
uint64_t dataset_line(const dataset_reader *r);
/* Bytes consumed so far (for throughput). */
uint64_t dataset_offset(const dataset_reader *r);
void dataset_close(dataset_reader *r);

#endif
