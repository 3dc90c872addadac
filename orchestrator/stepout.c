/*
 * stepout.c — a step's outputs and metrics: parsed (include/sluice/stepout.h)
 * and taken into the run (exec_int.h: stepout_collect).
 */
#include "sluice/stepout.h"

#include "exec_int.h"

#include "sluice/fsutil.h"
#include "sluice/redact.h"
#include "sluice/strmap.h"
#include "sluice/wspath.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void stepout_parse_outputs(const char *text, size_t len, arena *a, char ***keys, char ***vals,
			   size_t *n)
{
	strmap seen = STRMAP_INIT; /* key → its index + 1 */
	size_t cap = 0;
	*keys = *vals = NULL;
	*n = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t l = strnlen(p, (size_t)(eol - p));
		while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
			l--;
		const char *eq = memchr(p, '=', l);
		if (eq && eq != p) {
			char *key = arena_strndup(a, p, (size_t)(eq - p));
			char *val = arena_strndup(a, eq + 1, l - (size_t)(eq - p) - 1);
			size_t at = (size_t)(uintptr_t)strmap_get(&seen, key);
			if (at) {
				(*vals)[at - 1] = val;
			} else {
				if (*n == cap) {
					size_t ncap = cap ? 2 * cap : 8;
					*keys = arena_grow(a, *keys, sizeof(char *), cap, ncap);
					*vals = arena_grow(a, *vals, sizeof(char *), cap, ncap);
					cap = ncap;
				}
				(*keys)[*n] = key;
				(*vals)[*n] = val;
				strmap_put(&seen, key, (void *)(uintptr_t)(++*n));
			}
		}
		p = nl ? nl + 1 : end;
	}
	strmap_release(&seen);
}

/* Python's json.dump writes NaN, Infinity and -Infinity, which JSON (and jansson)
 * does not have.  Outside strings they become strings that start with a NUL, which
 * JSON_ALLOW_NUL lets through and metric_marker reads back; a step that writes such
 * a string itself gets the same non-number it could have written as NaN.  NULL when
 * the text has none (the common case: parsed as it is). */
static char *mark_non_finite(const char *text, size_t len, size_t *outlen)
{
	static const struct {
		const char *word, *marker;
	} words[] = {
		{"-Infinity", "\"\\u0000-\""},
		{"Infinity", "\"\\u0000+\""},
		{"NaN", "\"\\u0000n\""},
	};
	strbuf sb = STRBUF_INIT;
	size_t lit = 0;
	int in_str = 0, any = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
			continue;
		}
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t wl = strlen(words[w].word);
			if (len - i >= wl && !memcmp(text + i, words[w].word, wl)) {
				strbuf_add(&sb, text + lit, i - lit);
				strbuf_addstr(&sb, words[w].marker);
				i += wl - 1;
				lit = i + 1;
				any = 1;
				break;
			}
		}
	}
	if (!any) {
		strbuf_release(&sb);
		return NULL;
	}
	strbuf_add(&sb, text + lit, len - lit);
	*outlen = sb.len;
	return strbuf_detach(&sb);
}

/* The value of a string that mark_non_finite made; 0 for any other string. */
static int metric_marker(const json_t *v, double *num)
{
	const char *s = json_string_value(v);
	if (json_string_length(v) != 2 || s[0] != 0)
		return 0;
	*num = s[1] == 'n' ? NAN : s[1] == '+' ? INFINITY : -INFINITY;
	return s[1] == 'n' || s[1] == '+' || s[1] == '-';
}

int stepout_parse_metrics(const char *text, size_t len, arena *a, char ***keys, double **vals,
			  size_t *n, char *why, size_t whysize)
{
	*keys = NULL;
	*vals = NULL;
	*n = 0;
	json_error_t je;
	size_t mlen = 0;
	char *marked = mark_non_finite(text, len, &mlen);
	json_t *root = marked ? json_loadb(marked, mlen, JSON_ALLOW_NUL, &je)
			      : json_loadb(text, len, 0, &je);
	free(marked);
	if (!root) {
		snprintf(why, whysize, "%s", je.text);
		return -1;
	}
	size_t cap = 0;
	/* objects still to walk, with their key prefix: a stack on the heap, so
	 * neither width nor depth is cut (jansson bounds the depth it parses) */
	struct frame {
		json_t *obj;
		char *prefix, *jpath; /* "a.b" and {"a": {"b": ...}} */
	} *stack = xmalloc(8 * sizeof(*stack));
	size_t sp = 0, scap = 8;
	stack[sp++] = (struct frame){root, "", ""};
	/* flattened key → where it came from: a.b as a key and as a path is an
	 * error, not two values of which the store and expressions keep different ones */
	strmap seen = STRMAP_INIT;
	int rc = 0;
	while (sp && rc == 0) {
		struct frame fr = stack[--sp];
		if (!json_is_object(fr.obj))
			continue;
		const char *key;
		json_t *v;
		json_object_foreach(fr.obj, key, v)
		{
			char *full = *fr.prefix ? arena_printf(a, "%s.%s", fr.prefix, key)
						: arena_strdup(a, key);
			char *jpath = arena_printf(a, "%s[\"%s\"]", fr.jpath, key);
			const char *other = strmap_get(&seen, full);
			if (other) {
				snprintf(why, whysize, "two metrics flatten to '%s': %s and %s",
					 full, other, jpath);
				rc = -1;
				break;
			}
			strmap_put(&seen, full, jpath);
			double num;
			if (json_is_number(v))
				num = json_number_value(v);
			else if (json_is_boolean(v))
				num = json_is_true(v);
			else if (json_is_string(v) && metric_marker(v, &num))
				;
			else {
				if (json_is_object(v)) {
					if (sp == scap)
						stack = xrealloc(stack,
								 (scap *= 2) * sizeof(*stack));
					stack[sp++] = (struct frame){v, full, jpath};
				}
				continue;
			}
			if (*n == cap) {
				size_t ncap = cap ? 2 * cap : 8;
				*keys = arena_grow(a, *keys, sizeof(char *), cap, ncap);
				*vals = arena_grow(a, *vals, sizeof(double), cap, ncap);
				cap = ncap;
			}
			(*keys)[*n] = full;
			(*vals)[(*n)++] = num;
		}
	}
	strmap_release(&seen);
	free(stack);
	json_decref(root);
	if (rc < 0)
		*n = 0;
	return rc;
}

/* A succeeded step's record must be whole (what rerun and `show` read): a
 * store that cannot take it fails the attempt. */
static int store_failed(struct exec_step *es, sl_error **err)
{
	snprintf(es->reason, sizeof(es->reason), "state store: %s", (*err)->msg);
	sl_error_release(err);
	return -1;
}

static int step_file_failed(struct exec_step *es, sl_error **err)
{
	snprintf(es->reason, sizeof(es->reason), "%s", (*err)->msg);
	sl_error_release(err);
	return -1;
}

/* The metrics file rel (in the workspace) of es: 0 with its text, -1 with
 * err, or -1 with no err and es->reason set when it is missing. */
static int read_metrics_file(struct exec *x, struct exec_step *es, const char *rel, char **text,
			     size_t *len, sl_error **err)
{
	int wsfd = open(x->p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wsfd < 0)
		return sl_error_errno(err, errno, "open the workspace %s", x->p->dir);
	struct stat sb;
	int rc = wspath_lstat(wsfd, rel, &sb, err);
	if (rc == 1)
		snprintf(es->reason, sizeof(es->reason), "metrics %s: missing", rel);
	else if (rc == 0)
		rc = wspath_read_regular(wsfd, rel, STEPOUT_METRICS_MAX, "metrics file", text, len,
					 err);
	close(wsfd);
	return rc == 0 ? 0 : -1;
}

int stepout_collect(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	sl_error *err = NULL;
	size_t len;
	char *text;
	/* $SLUICE_OUTPUT is sluice's own file in the attempt's directory (a
	 * sandboxed step writes a copy in its /tmp that pid 1 copies back
	 * through an fd): capped and regular only (a step without the sandbox
	 * once pointed it at /dev/zero) */
	if (access(es->output_path, F_OK) == 0) {
		if (fs_read_regular(es->output_path, STEPOUT_OUTPUT_MAX, "$SLUICE_OUTPUT", &text,
				    &len, &err) < 0)
			return step_file_failed(es, &err);
		/* masked before parsing, so that downstream steps of this run see
		 * what a later run that takes this step from the store sees */
		len = redact_apply(x->redact, text, len);
		stepout_parse_outputs(text, len, &x->mem, &es->out_keys, &es->out_vals, &es->nout);
		free(text);
		if (store_set_outputs(x->store, x->run_id, node->name,
				      (const char *const *)es->out_keys,
				      (const char *const *)es->out_vals, es->nout, &err) < 0)
			return store_failed(es, &err);
	}
	if (!node->metrics)
		return 0;
	/* the metrics file is the step's: beneath the workspace, no symlink
	 * followed (a link to a hidden file once turned its numbers into metrics) */
	if (read_metrics_file(x, es, node->metrics, &text, &len, &err) < 0)
		return err ? step_file_failed(es, &err) : -1;
	char why[200];
	int rc = stepout_parse_metrics(text, len, &x->mem, &es->met_keys, &es->met_vals, &es->nmet,
				       why, sizeof(why));
	free(text);
	if (rc < 0) {
		snprintf(es->reason, sizeof(es->reason), "metrics %s: %s", node->metrics, why);
		return -1;
	}
	if (store_set_metrics(x->store, x->run_id, node->name, (const char *const *)es->met_keys,
			      es->met_vals, es->nmet, &err) < 0)
		return store_failed(es, &err);
	return 0;
}
