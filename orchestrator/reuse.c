/*
 * reuse.c — the cache as the executor uses it (docs/caching.md): a step's
 * key, an earlier result taken instead of running (restored outputs, adopted
 * outputs and metrics), the sentence that says why a step runs after all,
 * the files of a succeeded step hashed into the cache before it is marked
 * succeeded, and the no-op index of a run that needed nothing.
 */
#include "exec_int.h"

#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/cache.h"
#include "sluice/cleanup.h"
#include "sluice/filehash.h"
#include "sluice/noop.h"
#include "sluice/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The workspace's directory fd: what every path of a step is resolved
 * beneath (wspath.h).  The workspace itself is the user's, reached by path. */
static int open_workspace(struct exec *x, sl_error **err)
{
	int fd = open(x->p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sl_error_errno(err, errno, "open the workspace %s", x->p->dir);
	return fd;
}

/* "2.1G": a size as people read it, for messages (format_size is exact). */
static void approx_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	double v = (double)bytes;
	int u = -1;
	while (u < 4 && v >= 1024) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.*f%c", v < 10 ? 1 : 0, v, units[u]);
}

/* An output restored from the cache by hard link shares its inode with the cache
 * object: a step writing it in place would change the object too. */
void reuse_unshare_outputs(struct exec *x, size_t i)
{
	size_t n;
	const char **paths = reuse_kept_files(x, i, &n);
	sl_error *err = NULL;
	sl_autoclose int wsfd = open_workspace(x, &err);
	if (wsfd < 0) {
		exec_warn(x, &err);
		return;
	}
	for (size_t k = 0; k < n; k++)
		if (cache_unshare_at(wsfd, paths[k], &err) < 0)
			exec_warn(x, &err);
}

/* The files a step leaves for later: its declared outputs and its metrics file
 * (when that is not declared too).  *n of them, from the arena. */
const char **reuse_kept_files(struct exec *x, size_t i, size_t *n)
{
	const dag_node *node = &x->d->nodes[i];
	const char **v = arena_alloc(&x->mem, sizeof(char *) * (node->noutputs + 1));
	size_t k = 0;
	for (; k < node->noutputs; k++)
		v[k] = node->outputs[k];
	int listed = !node->metrics;
	for (size_t j = 0; j < node->noutputs && !listed; j++)
		listed = !strcmp(node->outputs[j], node->metrics);
	if (!listed)
		v[k++] = node->metrics;
	*n = k;
	return v;
}

/* Hash the outputs (and metrics file), store them in the content-addressed cache,
 * then record them: a step is marked succeeded only after this, so a succeeded
 * step always has its outputs in the cache (what resume and rerun rely on).
 * Outputs are hashed as outputs (filehash.h: no special files, no symlink out
 * of the workspace), and all of them before any enters the cache, so that
 * max_output_size is checked on what they hold together: a step over it
 * fails, and nothing of it is cached or recorded. */
int reuse_record_files(struct exec *x, size_t i)
{
	const dag_node *node = &x->d->nodes[i];
	struct exec_step *es = &x->s[i];
	size_t n;
	const char **paths = reuse_kept_files(x, i, &n);
	if (!n)
		return 0;
	sl_error *err = NULL;
	sl_autoclose int wsfd = open_workspace(x, &err);
	if (wsfd < 0) {
		snprintf(es->reason, sizeof(es->reason), "%s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	file_record *f = xcalloc(n, sizeof(file_record));
	es->out_hex = arena_alloc(&x->mem, n * sizeof(*es->out_hex));
	uint64_t total = 0;
	int rc = 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		uint64_t size = 0;
		/* a directory hashes as its sorted manifest, a symlink as its target */
		rc = filehash_at(x->store, wsfd, x->p->dir, paths[k], FILEHASH_OUTPUT,
				 es->out_hex[k], &size, NULL, &err);
		f[k].step = (char *)node->name;
		f[k].path = (char *)paths[k];
		f[k].sha256 = es->out_hex[k];
		f[k].size = (int64_t)size;
		total += size;
	}
	uint64_t max = node->step->max_output_size;
	if (rc == 0 && max && total > max) {
		char got[32], lim[32];
		approx_size(total, got, sizeof(got));
		format_size(max, lim, sizeof(lim));
		snprintf(es->reason, sizeof(es->reason), "outputs are %s, over max_output_size %s",
			 got, lim);
		free(f);
		return -1;
	}
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = cache_put_at(x->store, wsfd, x->p->dir, paths[k], es->out_hex[k], &err);
	if (rc < 0) {
		snprintf(es->reason, sizeof(es->reason), "%s", err->msg);
		sl_error_release(&err);
	}
	if (rc == 0 && store_set_files(x->store, x->run_id, node->name, f, n, &err) < 0) {
		snprintf(es->reason, sizeof(es->reason), "state store: %s", err->msg);
		sl_error_release(&err);
		rc = -1;
	}
	free(f);
	return rc;
}

static int side_effects(const pstep *step)
{
	const builtin_step *b = step->uses.s ? builtin_find(step->uses.s) : NULL;
	return b && (b->flags & BUILTIN_SIDE_EFFECTS);
}

/* A template naming run.id makes every run different: such a step never counts as
 * "nothing changed" for the no-op index (it may still be cached by key). */
static int is_volatile(const pstep *step)
{
	if ((step->run.s && strstr(step->run.s, "run.id")) ||
	    (step->when.s && strstr(step->when.s, "run.id")))
		return 1;
	for (size_t e = 0; e < step->nenv; e++)
		if (strstr(step->env[e].value, "run.id"))
			return 1;
	for (size_t w = 0; step->with && w < step->with->n; w++)
		if (step->with->items[w]->kind == YNODE_SCALAR &&
		    strstr(step->with->items[w]->str, "run.id"))
			return 1;
	return 0;
}

/* The params step uses, flat ({"train.lr": 0.1}), in the run's arena: they
 * alone enter its key (stepkey.h), so a param only another step uses
 * changes nothing here. */
static const char *step_params_json(struct exec *x, const pstep *step)
{
	json_t *o = json_object();
	for (size_t k = 0; k < step->nparams; k++)
		json_object_set_new(o, step->params[k]->name, pipeline_param_json(step->params[k]));
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	json_decref(o);
	const char *text = arena_strdup(&x->mem, s ? s : "{}");
	free(s);
	return text;
}

/* Build the command and environment once and compute the cache key. */
int reuse_key(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	const pstep *step = node->step;
	es->argv = stepcmd_argv(x, i);
	char **envp = es->argv ? stepcmd_env(x, i, "") : NULL;
	if (!envp)
		return -1;
	const char **secret = arena_alloc(&x->mem, sizeof(char *) * (step->nenv + 1));
	for (size_t e = 0, k = 0; e < step->nenv; e++)
		if (strstr(step->env[e].value, "secrets."))
			secret[k++] = step->env[e].name;
	size_t nkept;
	const char **kept = reuse_kept_files(x, i, &nkept);
	step_key_in in = {
		.command = es->command,
		.envp = envp,
		.secret_env = secret,
		.program = step->uses.s ? NULL : es->argv[0],
		.params_json = step_params_json(x, step),
		.workspace = x->p->dir,
		.inputs = node->inputs,
		.ninputs = node->ninputs,
		.outputs = kept,
		.noutputs = nkept,
		.sandbox = &step->sandbox,
		.gpu = "none",
		.known = x->opt->dry_run ? &x->planned : NULL,
	};
	sl_error *err = NULL;
	if (stepkey_compute(x->store, &in, &es->key, &err) < 0) {
		snprintf(es->reason, sizeof(es->reason), "cache key: %s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	es->keyed = 1;
	/* what a later run's "why" compares with: a failure is said, the step still runs */
	if (!x->opt->dry_run && store_set_inputs(x->store, x->run_id, node->name, es->key.inputs,
						 es->key.ninputs, &err) < 0)
		exec_warn(x, &err);
	return 0;
}

/* Fill the step's outputs and metrics (what expressions read) from a recorded step. */
void reuse_adopt_values(struct exec *x, size_t i, int64_t run, const char *name, int write)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	kv_record *o = NULL, *m = NULL;
	size_t no = 0, nm = 0;
	sl_error *err = NULL;
	if (store_get_outputs(x->store, run, name, &o, &no, &err) < 0 ||
	    store_get_metrics(x->store, run, name, &m, &nm, &err) < 0)
		exec_warn(x, &err);
	es->nout = no;
	es->out_keys = arena_alloc(&x->mem, sizeof(char *) * (no + 1));
	es->out_vals = arena_alloc(&x->mem, sizeof(char *) * (no + 1));
	for (size_t k = 0; k < no; k++) {
		es->out_keys[k] = arena_strdup(&x->mem, o[k].key);
		es->out_vals[k] = arena_strdup(&x->mem, o[k].value);
	}
	es->nmet = nm;
	es->met_keys = arena_alloc(&x->mem, sizeof(char *) * (nm + 1));
	es->met_vals = arena_alloc(&x->mem, sizeof(double) * (nm + 1));
	for (size_t k = 0; k < nm; k++) {
		es->met_keys[k] = arena_strdup(&x->mem, m[k].key);
		es->met_vals[k] = m[k].num;
	}
	if (write && run != x->run_id &&
	    (store_set_outputs(x->store, x->run_id, node->name, (const char *const *)es->out_keys,
			       (const char *const *)es->out_vals, no, &err) < 0 ||
	     store_set_metrics(x->store, x->run_id, node->name, (const char *const *)es->met_keys,
			       es->met_vals, nm, &err) < 0))
		exec_warn(x, &err);
	kv_record_free_array(o, no);
	kv_record_free_array(m, nm);
}

int reuse_restore(struct exec *x, size_t i, int64_t run, const char *name, int write)
{
	struct exec_step *es = &x->s[i];
	size_t nkept;
	const char **kept = reuse_kept_files(x, i, &nkept);
	file_record *f = NULL;
	size_t nf = 0;
	sl_error *err = NULL;
	if (store_get_files(x->store, run, name, &f, &nf, &err) < 0) {
		exec_set_why(x, i, "%s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	int rc = 0;
	sl_autoclose int wsfd = write ? open_workspace(x, &err) : -1;
	if (write && wsfd < 0) {
		exec_set_why(x, i, "%s", err->msg);
		sl_error_release(&err);
		file_record_free_array(f, nf);
		return -1;
	}
	es->out_hex = arena_alloc(&x->mem, (nkept + 1) * sizeof(*es->out_hex));
	for (size_t k = 0; k < nkept && rc == 0; k++) {
		const file_record *r = NULL;
		for (size_t j = 0; j < nf && !r; j++)
			if (!strcmp(f[j].path, kept[k]))
				r = &f[j];
		if (!r || !r->sha256 || !cache_has(x->store, r->sha256)) {
			exec_set_why(x, i, "%s of run %lld is not in the cache", kept[k],
				     (long long)run);
			rc = -1;
			break;
		}
		snprintf(es->out_hex[k], sizeof(es->out_hex[k]), "%s", r->sha256);
		if (!write) {
			strmap_put(&x->planned, arena_strdup(&x->mem, kept[k]), es->out_hex[k]);
			continue;
		}
		enum cache_how how;
		if (cache_restore_at(x->store, wsfd, x->p->dir, kept[k], r->sha256, &how, &err) <
		    0) {
			exec_set_why(x, i, "restoring %s failed: %s", kept[k], err->msg);
			sl_error_release(&err);
			rc = -1;
		} else if (how != CACHE_SAME) {
			exec_say(x, i, "restored %s from the cache (%s)", kept[k],
				 cache_how_name(how));
		}
	}
	/* a cached step has its files recorded like one that ran, or it is not cached */
	if (rc == 0 && write && run != x->run_id &&
	    store_set_files(x->store, x->run_id, x->d->nodes[i].name, f, nf, &err) < 0) {
		exec_set_why(x, i, "recording its files failed: %s", err->msg);
		sl_error_release(&err);
		rc = -1;
	}
	file_record_free_array(f, nf);
	return rc;
}

/* The upstream instance that writes input of step i, or NULL. */
static const char *producer_of(struct exec *x, size_t i, const char *input)
{
	const dag_node *node = &x->d->nodes[i];
	size_t len = strlen(input);
	for (size_t d = 0; d < node->ndeps; d++) {
		const dag_node *up = &x->d->nodes[node->deps[d]];
		for (size_t o = 0; o < up->noutputs; o++)
			if (!strcmp(up->outputs[o], input) ||
			    (!strncmp(up->outputs[o], input, len) && up->outputs[o][len] == '/'))
				return up->name;
	}
	return NULL;
}

/* es->why for a step that runs: what changed since its last run (stepkey.h). */
static void explain(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	step_record prev;
	file_record *pin = NULL;
	size_t npin = 0;
	sl_error *err = NULL;
	int found = x->store ? store_last_step(x->store, x->p->name, x->p->dir, node->name,
					       x->run_id, &prev, &err)
			     : 0;
	if (found < 0) {
		exec_warn(x, &err);
		found = 0;
	}
	if (found && store_get_inputs(x->store, prev.run_id, node->name, &pin, &npin, &err) < 0)
		exec_warn(x, &err);
	const char **producers = arena_alloc(&x->mem, sizeof(char *) * (es->key.ninputs + 1));
	for (size_t k = 0; k < es->key.ninputs; k++)
		producers[k] = producer_of(x, i, es->key.inputs[k].path);
	char why[512];
	stepkey_explain(&es->key, es->command, found ? &prev : NULL, pin, npin, producers, why,
			sizeof(why));
	exec_set_why(x, i, "%s", why);
	file_record_free_array(pin, npin);
	if (found)
		step_record_release(&prev);
}

/* 1 when step i is taken from the cache (or from the rerun's parent), 0 when it
 * must run (es->why says why). */
int reuse_lookup(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const pstep *step = x->d->nodes[i].step;
	if (x->opt->force) {
		exec_set_why(x, i, "forced (--force)");
		return 0;
	}
	if (es->forced) {
		exec_set_why(x, i, "forced (--step %s)", x->opt->force_step);
		return 0;
	}
	/* a rerun takes even an uncached step from its parent: it succeeded there */
	int parent_only = !step->cache || side_effects(step);
	if (parent_only && !x->opt->parent_run) {
		exec_set_why(x, i, "%s",
			     !step->cache ? "cache: false" : "it has side effects: never cached");
		return 0;
	}
	step_record *c = NULL;
	size_t nc = 0;
	sl_error *err = NULL;
	if (x->store && store_find_cached(x->store, es->key.key, x->opt->parent_run, x->run_id, &c,
					  &nc, &err) < 0)
		exec_warn(x, &err);
	for (size_t k = 0; k < nc; k++) {
		if (parent_only && c[k].run_id != x->opt->parent_run)
			continue;
		if (reuse_restore(x, i, c[k].run_id, c[k].name, !x->opt->dry_run) < 0)
			continue;
		reuse_adopt_values(x, i, c[k].run_id, c[k].name, !x->opt->dry_run);
		es->cached_from = c[k].cached_from ? c[k].cached_from : c[k].run_id;
		exec_set_why(x, i, "nothing changed since run %lld", (long long)es->cached_from);
		step_record_free_array(c, nc);
		return 1;
	}
	step_record_free_array(c, nc);
	explain(x, i);
	return 0;
}

/* A run in which every step succeeded or was cached may be repeated without
 * running anything while its files do not change (noop.h).  A step that can
 * never count as unchanged spoils the index: cache: false, side effects, a
 * template naming run.id. */
void reuse_write_noop_index(struct exec *x)
{
	noop_writer w;
	noop_writer_init(&w, x->store, x->p->dir);
	for (size_t i = 0; i < x->d->n && w.ok; i++) {
		struct exec_step *es = &x->s[i];
		const pstep *step = x->d->nodes[i].step;
		if (es->state == ST_SKIPPED && es->selected)
			continue; /* `when` was false: decided by values that did not change */
		if ((es->state != ST_SUCCEEDED && es->state != ST_CACHED) || !es->keyed ||
		    !step->cache || side_effects(step) || is_volatile(step)) {
			w.ok = 0;
			break;
		}
		for (size_t k = 0; k < es->key.ninputs && w.ok; k++)
			if (!es->key.inputs[k].sha256 ||
			    noop_writer_add(&w, es->key.inputs[k].path, 1,
					    es->key.inputs[k].sha256) < 0)
				w.ok = 0;
		size_t nkept;
		const char **kept = reuse_kept_files(x, i, &nkept);
		for (size_t k = 0; k < nkept && w.ok; k++)
			if (!es->out_hex || noop_writer_add(&w, kept[k], 1, es->out_hex[k]) < 0)
				w.ok = 0;
		if (w.ok && es->argv && !step->uses.s)
			noop_writer_add(&w, es->argv[0], 0, NULL);
	}
	/* the params files are inputs of the whole run: an edit must not be missed */
	for (size_t k = 0; k < x->p->nparams_read && w.ok; k++) {
		char *abs = arena_printf(&x->mem, "%s/%s", x->p->dir, x->p->params_read[k]);
		noop_add(&w.blob, abs, &x->p->params_read_stat[k]);
	}
	sl_error *err = NULL;
	if (noop_writer_put(&w, x->opt->noop_key, x->run_id, &err) < 0)
		exec_warn(x, &err);
	noop_writer_release(&w);
}
