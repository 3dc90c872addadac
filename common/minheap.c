/* minheap.c — see include/sluice/minheap.h. */
#include "sluice/minheap.h"

#include "sluice/error.h"

void minheap_push(minheap *h, size_t x)
{
	size_t k = h->n++;
	h->v[k] = x;
	while (k > 0 && h->v[(k - 1) / 2] > h->v[k]) {
		size_t p = (k - 1) / 2, t = h->v[p];
		h->v[p] = h->v[k];
		h->v[k] = t;
		k = p;
	}
}

size_t minheap_pop(minheap *h)
{
	if (!h->n)
		SL_BUG("minheap_pop on an empty heap");
	size_t *v = h->v, top = v[0];
	v[0] = v[--h->n];
	for (size_t k = 0;;) {
		size_t l = 2 * k + 1, r = l + 1, m = k;
		if (l < h->n && v[l] < v[m])
			m = l;
		if (r < h->n && v[r] < v[m])
			m = r;
		if (m == k)
			break;
		size_t t = v[m];
		v[m] = v[k];
		v[k] = t;
		k = m;
	}
	return top;
}
