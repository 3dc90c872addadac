/* error.c — see include/sluice/error.h. */
#include "sluice/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static int make(sl_error **err, int kind, int errnum, char *msg)
{
	if (!err) {
		free(msg);
		return -1;
	}
	/* the first error would be lost: whoever made it did not pass it up */
	if (*err)
		SL_BUG("an error over an unreleased one: \"%s\" over \"%s\"",
		       msg ? msg : "out of memory", (*err)->msg);
	sl_error *e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		return -1;
	}
	e->kind = kind;
	e->errnum = errnum;
	e->msg = msg ? msg : strdup("out of memory");
	*err = e;
	return -1;
}

int sl_error_make(sl_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(fmt, ap);
	va_end(ap);
	return make(err, SL_ERR_RUNTIME, 0, msg);
}

int sl_error_usage(sl_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(fmt, ap);
	va_end(ap);
	return make(err, SL_ERR_USAGE, 0, msg);
}

int sl_error_errno(sl_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *head = vformat(fmt, ap);
	va_end(ap);
	char *msg = NULL;
	if (head && asprintf(&msg, "%s: %s", head, strerror(errnum)) < 0)
		msg = NULL;
	free(head);
	return make(err, SL_ERR_RUNTIME, errnum, msg);
}

int sl_error_wrap(sl_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = vformat(fmt, ap);
	va_end(ap);
	char *msg = NULL;
	if (ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return -1;
}

void sl_error_release(sl_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

void sl_error_warn(FILE *out, sl_error **err)
{
	if (!err || !*err)
		return;
	if (out) {
		fprintf(out, "sluice: warning: %s\n", (*err)->msg);
		fflush(out);
	}
	sl_error_release(err);
}

void sl_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "sluice: BUG: %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}
