/*
 * strmap.h — a string-keyed hash map (open addressing, FNV-1a) of void *.
 * Keys are not copied: they must outlive the map (they usually live in the
 * same arena as the values).  Used for step names, output paths, params.
 */
#ifndef SLUICE_STRMAP_H
#define SLUICE_STRMAP_H

#include <stddef.h>

typedef struct strmap {
	struct strmap_slot *slots;
	size_t cap, count;
} strmap;

#define STRMAP_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Insert or replace; returns the previous value or NULL. */
void *strmap_put(strmap *m, const char *key, void *value);
void *strmap_get(const strmap *m, const char *key);
int strmap_has(const strmap *m, const char *key);
void strmap_release(strmap *m);

#endif
