/*
 * error.h — errors as values with context.
 *
 * A fallible function returns int (0 on success, negative on failure) and
 * takes a trailing `sl_error **err`.  On failure it stores a freshly made
 * error there (when err is not NULL).  Callers that pass an error up add
 * their context with sl_error_wrap(); only the CLI layer prints an error and
 * picks the exit code.  An error that is ignored on purpose is released on
 * purpose with sl_error_release(), or with sl_error_warn() when the user
 * should still hear of it.  Making an error over one that was not released
 * is a bug (SL_BUG): the first, which is the cause, would be lost.
 *
 *     if (open(...) < 0)
 *             return sl_error_errno(err, errno, "open %s", path);
 *     ...
 *     if (store_open(dir, &st, err) < 0)
 *             return sl_error_wrap(err, "state directory %s", dir);
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#include <stdarg.h>
#include <stdio.h>

/* What an error is about; picks the exit code at the top. */
enum sl_error_kind {
	SL_ERR_RUNTIME = 0, /* something failed while working: exit 1 */
	SL_ERR_USAGE = 2,   /* bad input from the user: exit 2 */
};

typedef struct sl_error {
	int kind;   /* enum sl_error_kind */
	int errnum; /* errno that caused it, or 0 */
	char *msg;  /* "context: context: cause[: strerror]" */
} sl_error;

/* Make an error from a message; returns -1 so callers can `return sl_error_make(...)`. */
int sl_error_make(sl_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, for bad user input (exit 2). */
int sl_error_usage(sl_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(errnum)" and keeping errnum. */
int sl_error_errno(sl_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the error in *err with "context: "; returns -1.  No-op when err or *err is NULL. */
int sl_error_wrap(sl_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free *err and set it to NULL. */
void sl_error_release(sl_error **err);
/* An error dropped on purpose that the user should still hear of: print
 * "sluice: warning: MSG" on out (when out is not NULL), then release it.
 * No-op when *err is NULL. */
void sl_error_warn(FILE *out, sl_error **err);

/* A broken invariant: a bug in sluice, never the user's input.  Prints where
 * and why, then aborts (git's BUG()). */
#define SL_BUG(...) sl_bug(__FILE__, __LINE__, __VA_ARGS__)
__attribute__((noreturn, format(printf, 3, 4))) void sl_bug(const char *file, int line,
							    const char *fmt, ...);

#endif
