/* noop.c — see include/sluice/noop.h. */
#include "sluice/noop.h"

#include "sluice/arena.h"
#include "sluice/filehash.h"
#include "sluice/hash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void noop_key(const char *abs_path, const char *text, size_t len, const char *const *ps, size_t nps,
	      const char *trigger, char *hex)
{
	char text_hex[SHA256_HEX_LEN + 1];
	hash_bytes_sha256(text, len, text_hex);
	const char **sorted = xcalloc(nps + 1, sizeof(char *));
	if (nps) { /* memcpy and qsort want non-NULL pointers even for nothing */
		memcpy(sorted, ps, nps * sizeof(char *));
		qsort(sorted, nps, sizeof(char *), cmp_str);
	}
	strbuf b = STRBUF_INIT;
	const char *tz = getenv("TZ");
	strbuf_addf(&b, "sluice %s\nfile %s\ntext %s\ntrigger %s\ntz %s\n", SLUICE_VERSION,
		    abs_path, text_hex, trigger ? trigger : "", tz ? tz : "");
	for (size_t i = 0; i < nps; i++)
		strbuf_addf(&b, "param %s\n", sorted[i]);
	hash_bytes_sha256(b.buf, b.len, hex);
	strbuf_release(&b);
	free(sorted);
}

/* Each entry: uint32 length, the path (no NUL), then a file_stat_key. */
void noop_add(strbuf *blob, const char *abs_path, const struct stat *sb)
{
	uint32_t len = (uint32_t)strlen(abs_path);
	file_stat_key e = filehash_stat_key(sb);
	strbuf_add(blob, (const char *)&len, sizeof(len));
	strbuf_add(blob, abs_path, len);
	strbuf_add(blob, (const char *)&e, sizeof(e));
}

int noop_check(const void *blob, size_t len, size_t *nfiles)
{
	const char *p = blob, *end = p + len;
	char path[4096];
	*nfiles = 0;
	while (p < end) {
		uint32_t n;
		file_stat_key want;
		if ((size_t)(end - p) < sizeof(n))
			return 0;
		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		if (n >= sizeof(path) || (size_t)(end - p) < n + sizeof(want))
			return 0;
		memcpy(path, p, n);
		path[n] = 0;
		p += n;
		memcpy(&want, p, sizeof(want));
		p += sizeof(want);
		struct stat sb;
		if (stat(path, &sb) < 0)
			return 0;
		file_stat_key got = filehash_stat_key(&sb);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			return 0;
		(*nfiles)++;
	}
	return 1;
}

void noop_writer_init(noop_writer *w, store *st, const char *workspace)
{
	*w = (noop_writer){.st = st, .workspace = workspace, .ok = 1};
}

int noop_writer_add(noop_writer *w, const char *path, int rel, const char *hex)
{
	if (!w->ok)
		return -1;
	char abs[4096];
	if (snprintf(abs, sizeof(abs), "%s%s%s", rel ? w->workspace : "", rel ? "/" : "", path) >=
	    (int)sizeof(abs))
		goto spoiled;
	if (strmap_get(&w->seen, abs))
		return 0;
	struct stat sb;
	if (stat(abs, &sb) < 0 || !S_ISREG(sb.st_mode))
		goto spoiled;
	if (hex) {
		file_stat_key k = filehash_stat_key(&sb);
		char known[SHA256_HEX_LEN + 1];
		sl_error *err = NULL;
		int hit = store_lookup_hash(w->st, abs, &k, known, &err);
		/* a lookup that failed only means the file is not confirmed */
		sl_error_release(&err);
		if (hit != 1 || strcmp(known, hex) != 0)
			goto spoiled;
	}
	strmap_put(&w->seen, arena_strdup(&w->mem, abs), (void *)1);
	noop_add(&w->blob, abs, &sb);
	return 0;
spoiled:
	w->ok = 0;
	return -1;
}

int noop_writer_put(noop_writer *w, const char *key, int64_t run_id, sl_error **err)
{
	if (!w->ok)
		return 0;
	return store_noop_put(w->st, key, run_id, w->blob.buf ? w->blob.buf : "", w->blob.len, err);
}

void noop_writer_release(noop_writer *w)
{
	strmap_release(&w->seen);
	strbuf_release(&w->blob);
	arena_release(&w->mem);
}
