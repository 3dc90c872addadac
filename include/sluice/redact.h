/*
 * redact.h — secrets' values masked wherever sluice writes text down
 * (docs/sandbox.md, "Values and secrets"): logs, the store, the kept
 * $SLUICE_OUTPUT copy, reasons and the recorded command.
 *
 * A redactor is a set of needles made once per run from the secrets'
 * values.  Each value gives, as GitHub's runner masks them (actions/runner
 * SecretMasker with its ValueEncoders):
 *
 *   - the value itself (without a trailing newline), and each line of a
 *     multi-line value;
 *   - its base64 at the three alignments a value can have behind other
 *     text (0, 1 or 2 bytes before it in its group of three): only the
 *     characters that depend on the value alone, so `base64` of
 *     "user:" + value is caught too; standard and URL-safe alphabets;
 *   - its JSON string escapes (\" \\ \n \u00XX; also \uXXXX for non-ASCII,
 *     as Python writes it, and \/), its URL escapes (%XX of everything but
 *     unreserved characters; also with '+' for space, '/' kept, or the
 *     characters JavaScript's encodeURIComponent keeps), its XML escapes
 *     and its \"-escaped form.
 *
 * Every one of these, and each line, is masked only when it is at least
 * REDACT_MIN bytes long: a shorter needle would mask half of every log.  A
 * match becomes REDACT_MASK ("***"); overlapping and adjacent matches become
 * one.  Since every needle is longer than the mask, masking never makes
 * text longer, so it works in place.
 *
 * A NULL redactor masks nothing: every function takes one.
 */
#ifndef SLUICE_REDACT_H
#define SLUICE_REDACT_H

#include "sluice/error.h"

#include <stddef.h>

#define REDACT_MIN  4
#define REDACT_MASK "***"

typedef struct redactor redactor;

redactor *redact_new(void);
/* Add a secret's value (copied) with its lines and encodings.  0, or 1 when
 * the value is shorter than REDACT_MIN bytes and so is not masked (the caller
 * says so). */
int redact_add(redactor *r, const char *value);
/* Wipes the copies of the values and frees them. */
void redact_free(redactor *r);
/* 1 when r masks something. */
int redact_active(const redactor *r);
/* The longest needle: a writer that cuts text into pieces holds back this
 * many bytes less one (redact_apply_upto). */
size_t redact_max_len(const redactor *r);

/* Mask buf[0..n) in place; returns its new length (<= n). */
size_t redact_apply(const redactor *r, char *buf, size_t n);
/* Mask only the matches that begin before upto, for text cut into pieces:
 * the masked text of buf[0..*used) is in buf[0..returned), and
 * buf[*used..n) is left as it was, to be masked with what follows it.
 * *used is upto, or more when a match that begins before upto ends after
 * it.  With upto = n - (redact_max_len - 1) no match is missed however the
 * text is cut. */
size_t redact_apply_upto(const redactor *r, char *buf, size_t n, size_t upto, size_t *used);
/* A NUL-terminated string in place (NULL is fine). */
void redact_str(const redactor *r, char *s);
/* A masked copy, malloc'd (NULL for NULL). */
char *redact_dup(const redactor *r, const char *s);

/* Mask the regular file at path (not followed when it is a symlink; not
 * opened when it is anything else) where it has a match: the masked text is
 * written to a new file (mode 0600) next to it that replaces it.  A file
 * without a match keeps its inode, made 0600 when it is ours; a missing one
 * is fine.  0, or -1. */
int redact_file(const redactor *r, const char *path, sl_error **err);

#endif
