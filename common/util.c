/* util.c — see include/sluice/util.h. */
#include "sluice/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int parse_duration_ms(const char *s, int64_t *ms, const char **why)
{
	const char *p = s;
	double total = 0;
	int parts = 0;
	if (!*p) {
		*why = "empty duration";
		return -1;
	}
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.') {
			*why = "expected a number followed by ms, s, m, h or d (like 90s, 30m, 2h)";
			return -1;
		}
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0) {
			*why = "bad number in duration";
			return -1;
		}
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60e3;
			p++;
		} else if (*p == 'h') {
			unit = 3600e3;
			p++;
		} else if (*p == 'd') {
			unit = 86400e3;
			p++;
		} else if (!*p && parts == 0) {
			unit = 1000; /* a bare number means seconds */
		} else {
			*why = "unknown unit in duration (use ms, s, m, h or d)";
			return -1;
		}
		total += v * unit;
		parts++;
	}
	if (total > 9.2e15) {
		*why = "duration too long";
		return -1;
	}
	*ms = (int64_t)llround(total);
	return 0;
}

void format_duration_ms(int64_t ms, char *buf, size_t size)
{
	if (ms % 1000 || ms == 0) {
		snprintf(buf, size, "%lldms", (long long)ms);
		return;
	}
	int64_t s = ms / 1000;
	int64_t h = s / 3600, m = (s / 60) % 60, sec = s % 60;
	size_t n = 0;
	buf[0] = 0;
	if (h)
		n += (size_t)snprintf(buf + n, size - n, "%lldh", (long long)h);
	if (m && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%lldm", (long long)m);
	if (sec && n < size)
		snprintf(buf + n, size - n, "%llds", (long long)sec);
}

int parse_size(const char *s, uint64_t *bytes, const char **why)
{
	char *end;
	if (!isdigit((unsigned char)*s) && *s != '.') {
		*why = "expected a size like 512M or 4G";
		return -1;
	}
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0) {
		*why = "bad number in size";
		return -1;
	}
	double mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		mul = 1024.0;
		end++;
		break;
	case 'M':
		mul = 1024.0 * 1024;
		end++;
		break;
	case 'G':
		mul = 1024.0 * 1024 * 1024;
		end++;
		break;
	case 'T':
		mul = 1024.0 * 1024 * 1024 * 1024;
		end++;
		break;
	case 'B':
		break;
	default:
		*why = "unknown unit in size (use K, M, G or T)";
		return -1;
	}
	if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 || strcmp(end, "b") == 0)
		end += strlen(end);
	if (*end) {
		*why = "unknown unit in size (use K, M, G or T)";
		return -1;
	}
	double b = v * mul;
	if (b > 1.8e19) {
		*why = "size too large";
		return -1;
	}
	*bytes = (uint64_t)llround(b);
	return 0;
}

void format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)bytes, units[u]);
}

size_t edit_distance(const char *a, const char *b, size_t max)
{
	/* Optimal string alignment: a swap of two neighbours ("quite"/"quiet")
	 * counts as one edit, the typo people make most. */
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return max + 1;
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	size_t rows[3][65];
	size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		size_t rowmin = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t d = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
			if (d < rowmin)
				rowmin = d;
		}
		if (rowmin > max)
			return max + 1;
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb] > max ? max + 1 : prev[lb];
}

const char *did_you_mean_field(const char *word, const void *items, size_t n, size_t stride,
			       size_t offset)
{
	size_t limit = strlen(word) / 3;
	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	const char *best = NULL;
	size_t bestd = limit + 1;
	for (size_t i = 0; i < n; i++) {
		const char *cand =
			*(const char *const *)((const char *)items + i * stride + offset);
		size_t d = edit_distance(word, cand, limit);
		if (d < bestd) {
			bestd = d;
			best = cand;
		}
	}
	return best;
}

const char *did_you_mean(const char *word, const char *const *candidates, size_t n)
{
	return did_you_mean_field(word, candidates, n, sizeof(*candidates), 0);
}

int path_normalize_relative(char *path, const char **why)
{
	if (!*path) {
		*why = "empty path";
		return -1;
	}
	if (path[0] == '/') {
		*why = "absolute paths are not allowed (paths are relative to the workspace)";
		return -1;
	}
	/* Split on '/', keep a stack of kept components by their start offsets. */
	size_t n = strlen(path);
	char *out = path; /* writing never runs ahead of reading */
	size_t starts[512];
	size_t depth = 0, w = 0, r = 0;
	while (r < n) {
		size_t e = r;
		while (e < n && path[e] != '/')
			e++;
		size_t len = e - r;
		if (len == 0 || (len == 1 && path[r] == '.')) {
			/* skip */
		} else if (len == 2 && path[r] == '.' && path[r + 1] == '.') {
			if (depth == 0) {
				*why = "path leaves the workspace through ..";
				return -1;
			}
			w = starts[--depth];
			if (w > 0)
				w--; /* drop the separator before it */
		} else {
			if (depth == sizeof(starts) / sizeof(starts[0])) {
				*why = "path too deep";
				return -1;
			}
			if (w > 0)
				out[w++] = '/';
			starts[depth++] = w;
			memmove(out + w, path + r, len);
			w += len;
		}
		r = e + 1;
	}
	out[w] = 0;
	if (w == 0) {
		*why = "path names the workspace itself";
		return -1;
	}
	return 0;
}

int is_pipeline_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}
