/* stepkey.c — see include/sluice/stepkey.h. */
#include "sluice/stepkey.h"

#include "sluice/arena.h"
#include "sluice/filehash.h"
#include "sluice/hash.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Per-attempt scratch paths: their names count, their values (which hold the run id) do not. */
static const char *const scratch_vars[] = {"HOME", "TMPDIR", "SLUICE_OUTPUT", NULL};
static const char *const volatile_vars[] = {"SLUICE_RUN_ID", "SLUICE_ATTEMPT", NULL};

static int in_list(const char *const *list, const char *name, size_t len)
{
	for (; list && *list; list++)
		if (strlen(*list) == len && !strncmp(*list, name, len))
			return 1;
	return 0;
}

void stepkey_sandbox_text(const sandbox_config *sb, strbuf *out)
{
	if (!sb || !sb->enabled) {
		strbuf_addstr(out, "none");
		return;
	}
	char mem[32] = "none", tmpfs[32] = "default";
	if (sb->memory)
		format_size(sb->memory, mem, sizeof(mem));
	if (sb->tmpfs)
		format_size(sb->tmpfs, tmpfs, sizeof(tmpfs));
	strbuf_addf(out, "local network=%s memory=%s cpus=%g pids=%lld tmpfs=%s",
		    sb->network ? "on" : "off", mem, sb->cpus, (long long)sb->pids, tmpfs);
	/* by path only: docs/sandbox.md says their contents are not hashed */
	for (size_t i = 0; i < sb->nread; i++)
		strbuf_addf(out, "%sread=%s", " ", sb->read[i]);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const file_record *)a)->path, ((const file_record *)b)->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text with every mention of the workspace's absolute path written as
 * ${SLUICE_WORKSPACE}, so that a moved or re-cloned workspace keeps its keys
 * (docs/caching.md); malloc'd */
static char *workspace_relative(const char *text, const char *ws)
{
	size_t n = ws ? strlen(ws) : 0;
	while (n > 1 && ws[n - 1] == '/')
		n--;
	strbuf sb = STRBUF_INIT;
	const char *p = text, *q;
	while (n > 1 && (q = strstr(p, ws))) {
		/* the whole path, not the start of a longer name (/ws2 for /ws) */
		int whole = !q[n] || strchr("/:;, \"'", q[n]);
		strbuf_add(&sb, p, (size_t)(q - p));
		strbuf_addstr(&sb, whole ? "${SLUICE_WORKSPACE}" : "");
		if (!whole)
			strbuf_add(&sb, q, n);
		p = q + n;
	}
	strbuf_addstr(&sb, p);
	return strbuf_detach(&sb);
}

int stepkey_compute(store *st, const step_key_in *in, step_key *out, sl_error **err)
{
	memset(out, 0, sizeof(*out));
	json_t *parts = json_object(), *env = json_object();
	for (char *const *e = in->envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t len = (size_t)(eq - *e);
		char *name = strndup(*e, len);
		if (in_list(volatile_vars, *e, len)) {
			free(name);
			continue;
		}
		if (in_list(scratch_vars, *e, len)) {
			json_object_set_new(env, name, json_string("(per attempt)"));
		} else if (in_list(in->secret_env, *e, len)) {
			json_object_set_new(env, name, json_string("(secret)"));
		} else if (!strcmp(name, "SLUICE_PARAMS")) {
			/* a path per run; what it holds is the part "params" below */
			json_object_set_new(env, name, json_string("(the step's params)"));
		} else {
			char *v = workspace_relative(eq + 1, in->workspace);
			json_object_set_new(env, name, json_string(v));
			free(v);
		}
		free(name);
	}
	json_object_set_new(parts, "env", env);
	json_t *params = in->params_json ? json_loads(in->params_json, 0, NULL) : NULL;
	json_object_set_new(parts, "params", json_is_object(params) ? params : json_object());
	if (params && !json_is_object(params))
		json_decref(params);
	if (in->program) {
		char hex[SHA256_HEX_LEN + 1];
		sl_error *e = NULL;
		if (filehash_path(st, in->program, hex, NULL, &e) < 0) {
			sl_error_release(&e);
			snprintf(hex, sizeof(hex), "unreadable");
		}
		char *prog = workspace_relative(in->program, in->workspace);
		json_object_set_new(parts, "program",
				    json_pack("s+++", prog, " (sha256:", hex, ")"));
		free(prog);
	} else {
		json_object_set_new(parts, "program", json_string("sluice built-in"));
	}
	json_object_set_new(parts, "sluice", json_string(SLUICE_VERSION));
	strbuf sb = STRBUF_INIT;
	stepkey_sandbox_text(in->sandbox, &sb);
	json_object_set_new(parts, "sandbox", json_string(strbuf_str(&sb)));
	strbuf_release(&sb);
	json_object_set_new(parts, "gpu", json_string(in->gpu ? in->gpu : "none"));
	char *text = json_dumps(parts, JSON_COMPACT | JSON_SORT_KEYS);
	hash_bytes_sha256(text, strlen(text), out->env_hash);
	free(text);

	/* the inputs, sorted by path: beneath the workspace, no symlink followed
	 * (filehash.h); the program above is sluice's own path on PATH */
	out->ninputs = in->ninputs;
	out->inputs = xcalloc(in->ninputs + 1, sizeof(file_record));
	int wsfd = in->ninputs ? open(in->workspace, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	int rc = 0;
	if (in->ninputs && wsfd < 0)
		rc = sl_error_errno(err, errno, "open the workspace %s", in->workspace);
	for (size_t k = 0; k < in->ninputs; k++) {
		file_record *f = &out->inputs[k];
		f->path = xstrdup(in->inputs[k]);
		char hex[SHA256_HEX_LEN + 1];
		uint64_t size = 0;
		sl_error *e = NULL;
		const char *known = in->known ? strmap_get(in->known, in->inputs[k]) : NULL;
		if (known) {
			f->sha256 = xstrdup(known);
		} else if (rc == 0 && filehash_at(st, wsfd, in->workspace, in->inputs[k], 0, hex,
						  &size, NULL, &e) == 0) {
			f->sha256 = xstrdup(hex);
			f->size = (int64_t)size;
		} else if (e && e->errnum == ENOENT) {
			sl_error_release(&e); /* missing: keyed as missing; the step will say why */
		} else if (e) {
			/* one that cannot be read safely (behind a symlink, a FIFO) is no
			 * "missing": that would key the step the same whatever it holds */
			sl_error_wrap(&e, "input %s", in->inputs[k]);
			if (rc == 0 && err)
				*err = e;
			else
				sl_error_release(&e);
			rc = -1;
		}
	}
	if (wsfd >= 0)
		close(wsfd);
	if (out->ninputs)
		qsort(out->inputs, out->ninputs, sizeof(file_record), cmp_file);
	char **outs = xcalloc(in->noutputs + 1, sizeof(char *));
	for (size_t k = 0; k < in->noutputs; k++)
		outs[k] = (char *)in->outputs[k];
	if (in->noutputs)
		qsort(outs, in->noutputs, sizeof(char *), cmp_str);
	json_t *jouts = json_array();
	strbuf kb = STRBUF_INIT;
	strbuf_addf(&kb, "command\t%s\n", in->command ? in->command : "");
	for (size_t k = 0; k < out->ninputs; k++)
		strbuf_addf(&kb, "input\t%s\t%s\n", out->inputs[k].path,
			    out->inputs[k].sha256 ? out->inputs[k].sha256 : "missing");
	for (size_t k = 0; k < in->noutputs; k++) {
		strbuf_addf(&kb, "output\t%s\n", outs[k]);
		json_array_append_new(jouts, json_string(outs[k]));
	}
	strbuf_addf(&kb, "env\t%s\n", out->env_hash);
	hash_bytes_sha256(kb.buf, kb.len, out->key);
	strbuf_release(&kb);
	free(outs);
	json_object_set_new(parts, "outputs", jouts);
	out->env_json = json_dumps(parts, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(parts);
	return rc;
}

void stepkey_release(step_key *k)
{
	if (!k)
		return;
	free(k->env_json);
	for (size_t i = 0; i < k->ninputs; i++) {
		free(k->inputs[i].path);
		free(k->inputs[i].sha256);
	}
	free(k->inputs);
	memset(k, 0, sizeof(*k));
}

/* ---- why ------------------------------------------------------------------------------------ */

struct why {
	strbuf b;
	int n;
};

__attribute__((format(printf, 2, 3))) static void add(struct why *w, const char *fmt, ...)
{
	if (w->n++ >= 3)
		return;
	if (w->b.len)
		strbuf_addstr(&w->b, "; ");
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&w->b, fmt, ap);
	va_end(ap);
}

static const char *short_hash(const char *hex, char *buf)
{
	if (!hex)
		return "missing";
	snprintf(buf, 16, "%.8s...", hex);
	return buf;
}

static void explain_inputs(struct why *w, const step_key *now, const file_record *prev_in,
			   size_t nprev, const char *const *producers)
{
	for (size_t k = 0; k < now->ninputs; k++) {
		const file_record *f = &now->inputs[k];
		const file_record *old = NULL;
		for (size_t j = 0; j < nprev && !old; j++)
			if (!strcmp(prev_in[j].path, f->path))
				old = &prev_in[j];
		char a[16], b[16];
		const char *producer = producers ? producers[k] : NULL;
		if (!old) {
			add(w, "input %s added", f->path);
		} else if (!f->sha256 && old->sha256) {
			add(w, "input %s is missing", f->path);
		} else if ((f->sha256 == NULL) != (old->sha256 == NULL) ||
			   (f->sha256 && strcmp(f->sha256, old->sha256))) {
			if (producer)
				add(w, "upstream %s changed its output %s (sha256 %s -> %s)",
				    producer, f->path, short_hash(old->sha256, a),
				    short_hash(f->sha256, b));
			else
				add(w, "input %s changed (sha256 %s -> %s)", f->path,
				    short_hash(old->sha256, a), short_hash(f->sha256, b));
		}
	}
	for (size_t j = 0; j < nprev; j++) {
		int found = 0;
		for (size_t k = 0; k < now->ninputs && !found; k++)
			found = !strcmp(prev_in[j].path, now->inputs[k].path);
		if (!found)
			add(w, "input %s removed", prev_in[j].path);
	}
}

/* A param's value as the why line shows it: 300, 0.1, "adam", true. */
static char *param_text(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
	return s ? s : xstrdup("?");
}

static void explain_params(struct why *w, json_t *now, json_t *old)
{
	json_t *np = json_object_get(now, "params"), *op = json_object_get(old, "params");
	if (!op) { /* keyed before params were per step: the whole file counted */
		json_t *oe = json_object_get(json_object_get(old, "env"), "SLUICE_PARAMS");
		if (oe)
			add(w, "params are now keyed per step");
		return;
	}
	const char *name;
	json_t *v;
	json_object_foreach(np, name, v)
	{
		json_t *o = json_object_get(op, name);
		if (o && json_equal(o, v))
			continue;
		char *b = param_text(v);
		if (!o) {
			add(w, "param %s added (%s)", name, b);
		} else {
			char *a = param_text(o);
			add(w, "param %s changed (%s -> %s)", name, a, b);
			free(a);
		}
		free(b);
	}
	json_object_foreach(op, name, v)
	{
		if (!json_object_get(np, name))
			add(w, "param %s removed", name);
	}
}

static void explain_env(struct why *w, json_t *now, json_t *old)
{
	json_t *ne = json_object_get(now, "env"), *oe = json_object_get(old, "env");
	const char *name;
	json_t *v;
	json_object_foreach(ne, name, v)
	{
		json_t *o = json_object_get(oe, name);
		if (!strcmp(name, "SLUICE_PARAMS"))
			continue; /* explain_params says what changed */
		if (!o)
			add(w, "env %s added", name);
		else if (!json_equal(o, v))
			add(w, "env %s changed", name);
	}
	json_object_foreach(oe, name, v)
	{
		if (!json_object_get(ne, name))
			add(w, "env %s removed", name);
	}
	static const char *const fields[] = {"program", "sluice", "sandbox", "gpu", "outputs"};
	static const char *const says[] = {"the program changed", "the sluice version changed",
					   "the sandbox settings changed", "the GPU changed",
					   "the declared outputs changed"};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *a = json_object_get(now, fields[i]), *b = json_object_get(old, fields[i]);
		if (!a || !b || !json_equal(a, b)) {
			if (i == 0 && json_is_string(a) && json_is_string(b))
				add(w, "program %s changed", json_string_value(a));
			else
				add(w, "%s", says[i]);
		}
	}
}

void stepkey_explain(const step_key *now, const char *now_command, const step_record *prev,
		     const file_record *prev_in, size_t nprev_in, const char *const *producers,
		     char *why, size_t size)
{
	if (!prev) {
		snprintf(why, size, "no earlier run");
		return;
	}
	struct why w = {STRBUF_INIT, 0};
	json_t *nj = json_loads(now->env_json ? now->env_json : "{}", 0, NULL);
	json_t *oj = json_loads(prev->env_json ? prev->env_json : "{}", 0, NULL);
	/* a param first: it is what the user changed, the command only follows it */
	if (nj && oj)
		explain_params(&w, nj, oj);
	if (!prev->command || !now_command || strcmp(prev->command, now_command))
		add(&w, "command changed");
	explain_inputs(&w, now, prev_in, nprev_in, producers);
	if (nj && oj)
		explain_env(&w, nj, oj);
	json_decref(nj);
	json_decref(oj);
	if (w.n > 3)
		strbuf_addf(&w.b, "; and %d more", w.n - 3);
	if (!w.b.len) {
		if (prev->cache_key && !strcmp(prev->cache_key, now->key) && prev->status &&
		    strcmp(prev->status, "succeeded") && strcmp(prev->status, "cached"))
			strbuf_addf(&w.b, "nothing changed, but it %s in run %lld", prev->status,
				    (long long)prev->run_id);
		else if (prev->cache_key && !strcmp(prev->cache_key, now->key))
			strbuf_addf(&w.b, "the outputs of run %lld are no longer in the cache",
				    (long long)prev->run_id);
		else
			strbuf_addf(&w.b, "the cache key changed since run %lld",
				    (long long)prev->run_id);
	}
	snprintf(why, size, "%s", strbuf_str(&w.b));
	strbuf_release(&w.b);
}
