/* strmap.c — see include/sluice/strmap.h. */
#include "sluice/strmap.h"

#include "sluice/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
	const char *key;
	void *value;
	uint32_t hash;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h ? h : 1;
}

static struct strmap_slot *find(const strmap *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

static void rehash(strmap *m, size_t cap)
{
	struct strmap_slot *old = m->slots;
	size_t oldcap = m->cap;
	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key)
			continue;
		*find(m, old[i].key, old[i].hash) = old[i];
	}
	free(old);
}

void *strmap_put(strmap *m, const char *key, void *value)
{
	if ((m->count + 1) * 4 >= m->cap * 3)
		rehash(m, m->cap ? m->cap * 2 : 16);
	uint32_t h = hash_str(key);
	struct strmap_slot *s = find(m, key, h);
	if (s->key) {
		void *prev = s->value;
		s->value = value;
		return prev;
	}
	s->key = key;
	s->hash = h;
	s->value = value;
	m->count++;
	return NULL;
}

void *strmap_get(const strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = find(m, key, hash_str(key));
	return s->key ? s->value : NULL;
}

int strmap_has(const strmap *m, const char *key)
{
	if (!m->cap)
		return 0;
	return find(m, key, hash_str(key))->key != NULL;
}

void strmap_release(strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}
