/* diag.c — see include/sluice/diag.h. */
#include "sluice/diag.h"

#include "sluice/arena.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_add(diag_list *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(out of memory)");
	va_end(ap);
	/* Two passes may find one problem (the loader and the DAG both parse a
	 * template): report it once. */
	for (size_t i = 0; i < d->n; i++) {
		if (d->items[i].line == line && d->items[i].col == col &&
		    strcmp(d->items[i].msg, msg) == 0 &&
		    strcmp(d->items[i].file, file ? file : "") == 0) {
			free(msg);
			return;
		}
	}
	if (d->n >= DIAG_MAX) {
		free(msg);
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->items = xrealloc(d->items, d->cap * sizeof(*d->items));
	}
	/* the file name is copied: a failed load frees the arena it came from */
	d->items[d->n++] = (diag){xstrdup(file ? file : ""), line, col, msg};
}

size_t diag_count(const diag_list *d)
{
	return d->n + d->dropped;
}

static int cmp(const void *pa, const void *pb)
{
	const diag *a = pa, *b = pb;
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return strcmp(a->msg, b->msg); /* qsort is not stable: keep output deterministic */
}

void diag_print(diag_list *d, FILE *out)
{
	if (d->n) /* an empty list may have no array: qsort(NULL, 0) is undefined */
		qsort(d->items, d->n, sizeof(*d->items), cmp);
	for (size_t i = 0; i < d->n; i++) {
		const diag *x = &d->items[i];
		if (x->line > 0)
			fprintf(out, "%s:%d:%d: %s\n", x->file, x->line, x->col, x->msg);
		else
			fprintf(out, "%s: %s\n", x->file, x->msg);
	}
	if (d->dropped)
		fprintf(out, "(%zu more errors not shown)\n", d->dropped);
}

void diag_release(diag_list *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].msg);
		free((char *)d->items[i].file);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}
