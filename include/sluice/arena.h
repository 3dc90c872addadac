/*
 * arena.h — a bump allocator.  Everything allocated from an arena is freed at
 * once by arena_release(); a parsed pipeline and its plan live in one.
 * Allocation never fails: on out-of-memory the process aborts with a message,
 * because no caller could do anything better.
 */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena_chunk;
typedef struct arena {
	struct arena_chunk *head;
	size_t total; /* bytes obtained from malloc, for memory reports */
} arena;

#define ARENA_INIT                                                                                 \
	{                                                                                          \
		NULL, 0                                                                            \
	}

void *arena_alloc(arena *a, size_t size); /* zeroed, 16-byte aligned */
void *arena_memdup(arena *a, const void *p, size_t size);
char *arena_strdup(arena *a, const char *s); /* NULL stays NULL */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);
/* Grow an array held in the arena: returns a copy with room for new_cap items. */
void *arena_grow(arena *a, void *old, size_t item, size_t old_count, size_t new_cap);
void arena_release(arena *a); /* free everything; the arena is empty and reusable */

/* Abort with "sluice: out of memory"; for the few places where NULL cannot be handled. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
