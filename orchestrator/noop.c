/* noop.c — see include/sluice/noop.h. */
#include "sluice/noop.h"

#include "sluice/arena.h"
#include "sluice/filehash.h"
#include "sluice/hash.h"

#include <stdint.h>
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
