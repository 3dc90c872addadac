/*
 * diag.h — a list of located diagnostics ("FILE:LINE:COL: message") for
 * pipeline and expectation files.  Loaders add every error they find (up to a
 * cap) instead of stopping at the first; the CLI prints them sorted.
 */
#ifndef SLUICE_DIAG_H
#define SLUICE_DIAG_H

#include <stddef.h>
#include <stdio.h>

#define DIAG_MAX 100 /* more than this are counted, not kept */

typedef struct diag {
	const char *file;
	int line, col; /* 1-based; 0 when unknown */
	char *msg;
} diag;

typedef struct diag_list {
	diag *items;
	size_t n, cap;
	size_t dropped; /* errors beyond DIAG_MAX */
} diag_list;

#define DIAG_LIST_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void diag_add(diag_list *d, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
size_t diag_count(const diag_list *d); /* including dropped ones */
/* Sort by file, line, column and print each as FILE:LINE:COL: message. */
void diag_print(diag_list *d, FILE *out);
void diag_release(diag_list *d);

#endif
