/*
 * strbuf.h — a growable NUL-terminated byte buffer (git's strbuf, smaller).
 * strbuf_init() allocates nothing; strbuf_release() frees the contents.
 */
#ifndef SLUICE_STRBUF_H
#define SLUICE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
	char *buf; /* always NUL-terminated once anything was added; "" otherwise */
	size_t len, cap;
} strbuf;

#define STRBUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void strbuf_init(strbuf *sb);
void strbuf_release(strbuf *sb);
void strbuf_reset(strbuf *sb); /* len = 0, keeps the memory */
void strbuf_grow(strbuf *sb, size_t extra);
void strbuf_add(strbuf *sb, const void *data, size_t n);
void strbuf_addstr(strbuf *sb, const char *s);
void strbuf_addch(strbuf *sb, char c);
void strbuf_addf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap);
/* The buffer's string ("" when empty); valid until the next change. */
const char *strbuf_str(const strbuf *sb);
/* Hand the malloc'd string to the caller; the strbuf is empty afterwards. */
char *strbuf_detach(strbuf *sb);

#endif
