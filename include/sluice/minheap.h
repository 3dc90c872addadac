/*
 * minheap.h — a binary min-heap of size_t over a caller's array.  The DAG's
 * topological sort and the executor's ready queue both keep step positions
 * in one, so that among the steps that could go next the earliest in the
 * file goes first.
 */
#ifndef SLUICE_MINHEAP_H
#define SLUICE_MINHEAP_H

#include <stddef.h>

typedef struct minheap {
	size_t *v; /* the caller's array, room for every value pushed */
	size_t n;
} minheap;

/* Add x; h->v must have room for one more. */
void minheap_push(minheap *h, size_t x);
/* Remove and return the smallest; h must not be empty. */
size_t minheap_pop(minheap *h);
/* The smallest, without removing it; h must not be empty. */
static inline size_t minheap_top(const minheap *h)
{
	return h->v[0];
}

#endif
