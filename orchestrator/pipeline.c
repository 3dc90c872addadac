/*
 * pipeline.c — pipeline.yaml → struct pipeline (see include/sluice/pipeline.h).
 *
 * The loader walks the YAML tree once, checks every key against the schema
 * below (unknown keys get a "did you mean"), types every value, merges
 * `defaults` into each step, applies `-p` overrides typed like the param's
 * default, then parses every template and checks the names its expressions
 * use.  It never stops at the first error: each problem is added to the
 * diag list with its position and the walk goes on with the next value.
 */
#include "sluice/pipeline.h"

#include "sluice/builtin.h"
#include "sluice/cron.h"
#include "sluice/fsutil.h"
#include "sluice/strmap.h"
#include "sluice/util.h"
#include "sluice/wspath.h"

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the schema ---------------------------------------------------------- */

static const char *const top_keys[] = {"name",   "description", "params",   "params_files",
				       "env",    "defaults",    "schedule", "secrets",
				       "notify", "runner",      "steps",    NULL};
static const char *const step_keys[] = {"needs",
					"run",
					"uses",
					"with",
					"inputs",
					"outputs",
					"metrics",
					"env",
					"when",
					"matrix",
					"timeout",
					"grace_period",
					"retries",
					"sandbox",
					"resources",
					"cache",
					"runner",
					"description",
					"on_no_gpu",
					"max_log_size",
					"max_output_size",
					"continue_on_error",
					"params",
					NULL};
static const char *const default_keys[] = {
	"timeout",   "grace_period", "retries",         "sandbox",
	"resources", "cache",        "runner",          "env",
	"on_no_gpu", "max_log_size", "max_output_size", "continue_on_error",
	NULL};
static const char *const retry_keys[] = {"limit", "backoff", "factor", "max_backoff", "on", NULL};
static const char *const sandbox_keys[] = {"network", "memory", "cpus", "pids",
					   "tmpfs",   "read",   NULL};
static const char *const resource_keys[] = {"gpus", "gpu_memory", "cpus", "memory", NULL};
static const char *const schedule_keys[] = {"cron", "timezone", "catchup", "concurrency", NULL};
static const char *const notify_keys[] = {"on", "webhook", NULL};

/* ---- loader state -------------------------------------------------------- */

struct loader {
	pipeline *p;
	diag_list *diags;
	const char *file;
	strmap param_index;
	strmap step_index;
	/* params while they load (see "params and overrides") */
	pparam **plist;
	size_t nplist, cplist;
	strmap param_groups; /* "train" -> "train.lr", a param of the group */
	/* the params the step being checked uses: marks[i] == mark_gen for
	 * p->params[i], whose indices are also in marked[0..nmarked) */
	unsigned *marks;
	unsigned mark_gen;
	size_t *marked, nmarked;
};

static void err_at(struct loader *L, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void err_at(struct loader *L, int line, int col, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	diag_add(L->diags, L->file, line, col, "%s", buf);
}

#define ERR_NODE(L, n, ...) err_at((L), (n)->line, (n)->col, __VA_ARGS__)

static size_t count_keys(const char *const *keys)
{
	size_t n = 0;
	while (keys[n])
		n++;
	return n;
}

static int in_list(const char *word, const char *const *keys)
{
	for (; *keys; keys++)
		if (strcmp(*keys, word) == 0)
			return 1;
	return 0;
}

/* Report every key of map that the schema does not know. */
static void check_keys(struct loader *L, const ynode *map, const char *const *keys,
		       const char *where)
{
	for (size_t i = 0; i < map->n; i++) {
		if (in_list(map->keys[i], keys))
			continue;
		const char *s = did_you_mean(map->keys[i], keys, count_keys(keys));
		if (s)
			err_at(L, map->key_line[i], map->key_col[i],
			       "unknown key '%s' in %s (did you mean '%s'?)", map->keys[i], where,
			       s);
		else
			err_at(L, map->key_line[i], map->key_col[i], "unknown key '%s' in %s",
			       map->keys[i], where);
	}
}

static spos pos_of(const ynode *n)
{
	return (spos){n->line, n->col};
}

static pstr mkpstr(const ynode *n)
{
	return (pstr){n->str, pos_of(n), n};
}

static int want_map(struct loader *L, const ynode *n, const char *what)
{
	if (n->kind == YNODE_MAP)
		return 0;
	ERR_NODE(L, n, "%s must be a map, not %s", what, ynode_kind_name(n));
	return -1;
}

/* A scalar that is used as text: numbers and booleans are fine (`timeout: 30`),
 * lists, maps and null are not. */
static int want_scalar(struct loader *L, const ynode *n, const char *what)
{
	if (n->kind == YNODE_SCALAR && !ynode_is_null(n))
		return 0;
	ERR_NODE(L, n, "%s must be a single value, not %s", what, ynode_kind_name(n));
	return -1;
}

static int want_string(struct loader *L, const ynode *n, const char *what)
{
	if (want_scalar(L, n, what) < 0)
		return -1;
	return 0;
}

static int want_bool(struct loader *L, const ynode *n, const char *what, int *out)
{
	if (ynode_bool(n, out) == 0)
		return 0;
	ERR_NODE(L, n, "%s must be true or false, not %s", what, ynode_kind_name(n));
	return -1;
}

static int want_number(struct loader *L, const ynode *n, const char *what, double min, double max,
		       double *out)
{
	if (ynode_number(n, out) < 0 || isnan(*out)) {
		ERR_NODE(L, n, "%s must be a number, not %s", what, ynode_kind_name(n));
		return -1;
	}
	if (*out < min || *out > max) {
		ERR_NODE(L, n, "%s must be between %g and %g, got %s", what, min, max, n->str);
		return -1;
	}
	return 0;
}

static int want_int(struct loader *L, const ynode *n, const char *what, double min, double max,
		    int64_t *out)
{
	double d;
	if (want_number(L, n, what, min, max, &d) < 0)
		return -1;
	if (d != floor(d)) {
		ERR_NODE(L, n, "%s must be a whole number, got %s", what, n->str);
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

static int want_duration(struct loader *L, const ynode *n, const char *what, int64_t *ms)
{
	const char *why;
	if (want_scalar(L, n, what) < 0)
		return -1;
	if (parse_duration_ms(n->str, ms, &why) < 0) {
		ERR_NODE(L, n, "%s: '%s' is not a duration: %s", what, n->str, why);
		return -1;
	}
	return 0;
}

static int want_size(struct loader *L, const ynode *n, const char *what, uint64_t *bytes)
{
	const char *why;
	if (want_scalar(L, n, what) < 0)
		return -1;
	if (parse_size(n->str, bytes, &why) < 0) {
		ERR_NODE(L, n, "%s: '%s' is not a size: %s", what, n->str, why);
		return -1;
	}
	return 0;
}

/* One of a fixed set of words; returns the index or -1. */
static int want_enum(struct loader *L, const ynode *n, const char *what, const char *const *words)
{
	if (want_scalar(L, n, what) < 0)
		return -1;
	for (int i = 0; words[i]; i++)
		if (strcmp(words[i], n->str) == 0)
			return i;
	const char *s = did_you_mean(n->str, words, count_keys(words));
	char alts[256] = "";
	size_t off = 0;
	for (int i = 0; words[i] && off < sizeof(alts); i++)
		off += (size_t)snprintf(alts + off, sizeof(alts) - off, "%s%s", i ? ", " : "",
					words[i]);
	if (s)
		ERR_NODE(L, n, "%s: unknown value '%s' (did you mean '%s'? one of: %s)", what,
			 n->str, s, alts);
	else
		ERR_NODE(L, n, "%s: unknown value '%s' (one of: %s)", what, n->str, alts);
	return -1;
}

/* A list of strings; a single string is taken as a list of one. */
static void want_str_list(struct loader *L, const ynode *n, const char *what, pstr_list *out)
{
	arena *a = &L->p->mem;
	if (n->kind == YNODE_SCALAR && !ynode_is_null(n)) {
		out->v = arena_alloc(a, sizeof(pstr));
		out->v[0] = mkpstr(n);
		out->n = 1;
		return;
	}
	if (n->kind != YNODE_SEQ) {
		ERR_NODE(L, n, "%s must be a list, not %s", what, ynode_kind_name(n));
		return;
	}
	out->v = arena_alloc(a, sizeof(pstr) * (n->n ? n->n : 1));
	out->n = 0;
	for (size_t i = 0; i < n->n; i++) {
		const ynode *it = n->items[i];
		if (it->kind != YNODE_SCALAR || ynode_is_null(it)) {
			ERR_NODE(L, it, "each item of %s must be a single value, not %s%s", what,
				 ynode_kind_name(it),
				 it->kind == YNODE_MAP ? " (quote values holding ${{ }} inside [ ])"
						       : "");
			continue;
		}
		out->v[out->n++] = mkpstr(it);
	}
}

static int is_env_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int is_step_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* env: a map NAME: value.  Entries are appended to (*env, *n). */
static void parse_env(struct loader *L, const ynode *n, penv **env, size_t *nenv)
{
	if (want_map(L, n, "env") < 0)
		return;
	arena *a = &L->p->mem;
	penv *out = arena_alloc(a, sizeof(penv) * (*nenv + n->n + 1));
	if (*nenv)
		memcpy(out, *env, sizeof(penv) * *nenv);
	size_t k = *nenv;
	for (size_t i = 0; i < n->n; i++) {
		const char *name = n->keys[i];
		const ynode *v = n->items[i];
		if (!is_env_name(name)) {
			err_at(L, n->key_line[i], n->key_col[i],
			       "env: '%s' is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)",
			       name);
			continue;
		}
		if (strncmp(name, "SLUICE_", 7) == 0) {
			err_at(L, n->key_line[i], n->key_col[i],
			       "env: names starting with SLUICE_ are reserved for sluice");
			continue;
		}
		if (want_scalar(L, v, "an env value") < 0)
			continue;
		/* a step's value replaces the pipeline's */
		size_t j;
		for (j = 0; j < k; j++)
			if (strcmp(out[j].name, name) == 0)
				break;
		out[j] = (penv){name, v->str, pos_of(v)};
		if (j == k)
			k++;
	}
	*env = out;
	*nenv = k;
}

/* ---- params and overrides ------------------------------------------------ */

/*
 * Params come from, in order, each overriding the ones before: the
 * pipeline's `params:`, its `params_files:`, --params-file, then -p (or,
 * for a recorded run, the record instead of the files).  Nested maps are
 * flattened to dotted names ("train.lr"); L->param_groups holds every
 * proper prefix ("train") so that a name is never both a value and a group.
 * The params are collected in L->plist while they load and moved into one
 * sorted array (p->params) before -p and the templates look them up.
 */

static const char *type_name(expr_type t)
{
	switch (t) {
	case EXPR_NUM:
		return "a number";
	case EXPR_BOOL:
		return "true or false";
	case EXPR_STR:
		return "a string";
	default:
		return "null";
	}
}

/* Every segment of a dotted name is a name: letters, digits and _. */
static int is_param_name(const char *s)
{
	char seg[256];
	for (;;) {
		size_t n = strcspn(s, ".");
		if (n == 0 || n >= sizeof(seg))
			return 0;
		memcpy(seg, s, n);
		seg[n] = 0;
		if (!is_env_name(seg))
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

static const char *join_name(struct loader *L, const char *prefix, const char *key)
{
	return *prefix ? arena_printf(&L->p->mem, "%s.%s", prefix, key) : key;
}

/* What a file shows for a param's origin: "pipeline.yaml:3:3". */
static const char *param_origin(struct loader *L, const pparam *pp)
{
	return arena_printf(&L->p->mem, "%s:%d:%d", pp->file ? pp->file : L->file, pp->pos.line,
			    pp->pos.col);
}

static void note_groups(struct loader *L, const char *name)
{
	for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		char *g = arena_strndup(&L->p->mem, name, (size_t)(dot - name));
		if (!strmap_get(&L->param_groups, g))
			strmap_put(&L->param_groups, g, (void *)name);
	}
}

static pparam *add_param(struct loader *L, const char *name, expr_value v, spos pos,
			 const char *file, int declared)
{
	pparam *pp = arena_alloc(&L->p->mem, sizeof(*pp));
	*pp = (pparam){.name = name, .value = v, .pos = pos, .file = file, .declared = declared};
	if (L->nplist == L->cplist) {
		L->cplist = L->cplist ? 2 * L->cplist : 16;
		L->plist = xrealloc(L->plist, L->cplist * sizeof(*L->plist));
	}
	L->plist[L->nplist++] = pp;
	strmap_put(&L->param_index, name, pp);
	note_groups(L, name);
	return pp;
}

/* A scalar's value as YAML typed it. */
static expr_value scalar_value(const ynode *v)
{
	int b;
	double d;
	if (ynode_bool(v, &b) == 0)
		return (expr_value){.type = EXPR_BOOL, .b = b};
	if (ynode_number(v, &d) == 0)
		return (expr_value){.type = EXPR_NUM, .num = d};
	return (expr_value){.type = EXPR_STR, .str = v->str};
}

/* The pipeline's own `params:` (a map, maps inside it for groups). */
static void parse_param_map(struct loader *L, const char *prefix, const ynode *n)
{
	for (size_t i = 0; i < n->n; i++) {
		const ynode *v = n->items[i];
		spos pos = {n->key_line[i], n->key_col[i]};
		if (!is_env_name(n->keys[i])) {
			err_at(L, pos.line, pos.col,
			       "param '%s': names are letters, digits and _ (so that "
			       "${{ params.NAME }} can refer to it)",
			       join_name(L, prefix, n->keys[i]));
			continue;
		}
		const char *name = join_name(L, prefix, n->keys[i]);
		if (v->kind == YNODE_MAP && v->n) {
			parse_param_map(L, name, v);
		} else if (v->kind != YNODE_SCALAR) {
			ERR_NODE(L, v, "param '%s' must be a number, a string or a boolean, not %s",
				 name, ynode_kind_name(v));
		} else if (ynode_is_null(v)) {
			ERR_NODE(L, v,
				 "param '%s' has no default value (write \"\" for an empty string)",
				 name);
		} else {
			add_param(L, name, scalar_value(v), pos_of(v), NULL, 1);
		}
	}
}

static void parse_params(struct loader *L, const ynode *n)
{
	if (want_map(L, n, "params") == 0)
		parse_param_map(L, "", n);
}

/* A value from a params file for an existing param: a declared param keeps
 * its type (a string param takes any scalar, as its text); one that only a
 * params file set takes the new one. */
static void set_from_file(struct loader *L, pparam *pp, const ynode *v, const char *file)
{
	expr_value nv = scalar_value(v);
	if (pp->declared && nv.type != pp->value.type) {
		if (pp->value.type != EXPR_STR) {
			diag_add(L->diags, file, v->line, v->col,
				 "param '%s' is %s (its default at %s), not %s", pp->name,
				 type_name(pp->value.type), param_origin(L, pp),
				 ynode_kind_name(v));
			return;
		}
		nv = (expr_value){.type = EXPR_STR, .str = v->str};
	}
	pp->value = nv;
	pp->pos = pos_of(v);
	pp->file = file;
}

/* The params of one params file: its maps are groups; a list or null that
 * no declared param needs is left alone (a shared file holds more than
 * params), as is a key that could not be named in an expression. */
static void merge_param_node(struct loader *L, const char *file, const char *name, const ynode *v)
{
	pparam *pp = *name ? strmap_get(&L->param_index, name) : NULL;
	if (v->kind == YNODE_MAP) {
		if (pp) {
			diag_add(L->diags, file, v->line, v->col,
				 "'%s' is a map here, but param '%s' is %s (%s)", name, name,
				 type_name(pp->value.type), param_origin(L, pp));
			return;
		}
		for (size_t i = 0; i < v->n; i++)
			if (is_env_name(v->keys[i]))
				merge_param_node(L, file, join_name(L, name, v->keys[i]),
						 v->items[i]);
		return;
	}
	if (v->kind != YNODE_SCALAR || ynode_is_null(v)) {
		if (pp && pp->declared)
			diag_add(L->diags, file, v->line, v->col,
				 "param '%s' is %s (its default at %s), not %s", name,
				 type_name(pp->value.type), param_origin(L, pp),
				 ynode_kind_name(v));
		return;
	}
	const char *member = strmap_get(&L->param_groups, name);
	if (member) {
		pparam *m = strmap_get(&L->param_index, member);
		diag_add(L->diags, file, v->line, v->col,
			 "'%s' is %s here, but a group of params (%s, %s)", name,
			 ynode_kind_name(v), member, m ? param_origin(L, m) : L->file);
		return;
	}
	if (pp)
		set_from_file(L, pp, v, file);
	else
		add_param(L, name, scalar_value(v), pos_of(v), file, 0);
}

#define MAX_PARAMS_FILE (16u << 20)

/* Read one params file (rel: as written, relative to the workspace; at:
 * where it was named, or {0, 0} for --params-file) and merge its params. */
static void load_params_file(struct loader *L, int wsfd, const char *rel, spos at)
{
	pipeline *p = L->p;
	char *norm = arena_strdup(&p->mem, rel);
	const char *why;
	const char *named = at.line ? L->file : rel;
	if (path_normalize_relative(norm, &why) < 0) {
		diag_add(L->diags, named, at.line, at.col, "params file '%s': %s", rel, why);
		return;
	}
	/* shown the way the pipeline file is: beside it */
	const char *slash = strrchr(L->file, '/');
	const char *shown =
		slash ? arena_printf(&p->mem, "%.*s/%s", (int)(slash - L->file), L->file, norm)
		      : norm;
	char *text = NULL;
	size_t len = 0;
	sl_error *err = NULL;
	struct stat sb;
	int fd = wsfd < 0 ? -1 : wspath_open_regular(wsfd, norm, &sb, &err);
	if (fd < 0 ||
	    fs_read_fd(fd, shown, MAX_PARAMS_FILE, "params file", &text, &len, &err) < 0) {
		if (err)
			diag_add(L->diags, named, at.line, at.col, "params file %s", err->msg);
		else
			diag_add(L->diags, named, at.line, at.col,
				 "params file %s: the workspace cannot be opened", rel);
		sl_error_release(&err);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	/* the stat of what was read: an edit during the run still counts (noop.h) */
	p->params_read[p->nparams_read] = norm;
	p->params_read_stat[p->nparams_read++] = sb;
	ynode *root = NULL;
	char *copy = arena_alloc(&p->mem, len + 1);
	memcpy(copy, text, len + 1);
	free(text);
	if (yamldoc_parse(&p->mem, shown, copy, len, YAMLDOC_MAX_EXPANDED, &root, L->diags) < 0)
		return;
	if (!root)
		return; /* an empty file sets nothing */
	if (root->kind != YNODE_MAP) {
		diag_add(L->diags, shown, root->line, root->col,
			 "a params file must be a map of params, not %s", ynode_kind_name(root));
		return;
	}
	merge_param_node(L, shown, "", root);
}

/* `params_files:`, then --params-file: all relative to the workspace. */
static void load_params_files(struct loader *L, const pipeline_load_opts *o)
{
	pipeline *p = L->p;
	size_t n = p->params_files.n + (o ? o->nparams_files : 0);
	if (!n)
		return;
	p->params_read = arena_alloc(&p->mem, sizeof(char *) * (n + 1));
	p->params_read_stat = arena_alloc(&p->mem, sizeof(struct stat) * (n + 1));
	int wsfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < p->params_files.n; i++)
		load_params_file(L, wsfd, p->params_files.v[i].s, p->params_files.v[i].pos);
	for (size_t i = 0; o && i < o->nparams_files; i++)
		load_params_file(L, wsfd, o->params_files[i], (spos){0, 0});
	if (wsfd >= 0)
		close(wsfd);
}

/* Override pp with text (-p, or a recorded value), typed like pp. */
static void override_param(struct loader *L, pparam *pp, const char *v, const char *what)
{
	const char *where = pp->file ? pp->file : L->file;
	expr_value nv = {.type = pp->value.type};
	if (pp->value.type == EXPR_NUM) {
		char *end;
		errno = 0;
		nv.num = strtod(v, &end);
		if (!*v || *end || errno || isnan(nv.num)) {
			diag_add(L->diags, where, pp->pos.line, pp->pos.col,
				 "%s %s=%s: param '%s' is %s (its default), '%s' is not", what,
				 pp->name, v, pp->name, type_name(pp->value.type), v);
			return;
		}
	} else if (pp->value.type == EXPR_BOOL) {
		if (strcmp(v, "true") == 0)
			nv.b = 1;
		else if (strcmp(v, "false") == 0)
			nv.b = 0;
		else {
			diag_add(L->diags, where, pp->pos.line, pp->pos.col,
				 "%s %s=%s: param '%s' is true or false (its default), "
				 "'%s' is not",
				 what, pp->name, v, pp->name, v);
			return;
		}
	} else {
		nv.str = arena_strdup(&L->p->mem, v);
	}
	pp->value = nv;
	pp->overridden = 1;
}

/* The params of a recorded run in place of the params files: a param the
 * pipeline no longer has is added back as it was recorded. */
static void apply_recorded(struct loader *L, const char *recorded)
{
	json_t *o = json_loads(recorded, 0, NULL);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (!is_param_name(k))
			continue;
		pparam *pp = strmap_get(&L->param_index, k);
		if (json_is_string(v)) {
			if (pp)
				override_param(L, pp, json_string_value(v), "the run's param");
			else
				add_param(L, arena_strdup(&L->p->mem, k),
					  (expr_value){.type = EXPR_STR,
						       .str = arena_strdup(&L->p->mem,
									   json_string_value(v))},
					  (spos){0, 0}, NULL, 0);
		} else if (json_is_number(v) || json_is_boolean(v)) {
			expr_value nv =
				json_is_boolean(v)
					? (expr_value){.type = EXPR_BOOL, .b = json_is_true(v)}
					: (expr_value){.type = EXPR_NUM,
						       .num = json_number_value(v)};
			if (pp && pp->value.type != nv.type) {
				char *text =
					json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
				override_param(L, pp, text, "the run's param");
				free(text);
			} else if (pp) {
				pp->value = nv;
				pp->overridden = 1;
			} else {
				add_param(L, arena_strdup(&L->p->mem, k), nv, (spos){0, 0}, NULL,
					  0);
			}
		}
	}
	json_decref(o);
}

static int cmp_pparam(const void *a, const void *b)
{
	return strcmp(((const pparam *)a)->name, ((const pparam *)b)->name);
}

/* Move the params into one array sorted by name (bsearch, did-you-mean). */
static void finish_params(struct loader *L)
{
	pipeline *p = L->p;
	p->params = arena_alloc(&p->mem, sizeof(pparam) * (L->nplist + 1));
	for (size_t i = 0; i < L->nplist; i++)
		p->params[i] = *L->plist[i];
	p->nparams = L->nplist;
	if (p->nparams)
		qsort(p->params, p->nparams, sizeof(pparam), cmp_pparam);
	for (size_t i = 0; i < p->nparams; i++)
		strmap_put(&L->param_index, p->params[i].name, &p->params[i]);
	free(L->plist);
	L->plist = NULL;
	L->nplist = L->cplist = 0;
}

static void apply_overrides(struct loader *L, const param_override *ov, size_t nov)
{
	pipeline *p = L->p;
	for (size_t i = 0; i < nov; i++) {
		pparam *pp = strmap_get(&L->param_index, ov[i].key);
		if (!pp) {
			const char *s = DID_YOU_MEAN_IN(ov[i].key, p->params, p->nparams, name);
			const char *member = strmap_get(&L->param_groups, ov[i].key);
			if (member)
				diag_add(L->diags, L->file, 0, 0,
					 "-p %s: '%s' is a group of params; set one of them "
					 "(-p %s=...)",
					 ov[i].key, ov[i].key, member);
			else if (s)
				diag_add(L->diags, L->file, 0, 0,
					 "-p %s: the pipeline has no param '%s' (did you mean "
					 "'%s'?)",
					 ov[i].key, ov[i].key, s);
			else
				diag_add(L->diags, L->file, 0, 0,
					 "-p %s: the pipeline has no param '%s'", ov[i].key,
					 ov[i].key);
			continue;
		}
		override_param(L, pp, ov[i].value, "-p");
	}
}

/* All the params, in their order (see above). */
static void load_params(struct loader *L, const ynode *root, const pipeline_load_opts *o)
{
	const ynode *v;
	if ((v = ynode_get(root, "params")))
		parse_params(L, v);
	if ((v = ynode_get(root, "params_files")))
		want_str_list(L, v, "params_files", &L->p->params_files);
	if (o && o->recorded)
		apply_recorded(L, o->recorded);
	else
		load_params_files(L, o);
	finish_params(L);
	if (o)
		apply_overrides(L, o->ov, o->nov);
}

/* ---- step settings that defaults can also give --------------------------- */

static const char *const retry_on_words[] = {"error", "timeout", "signal", "oom", "all", NULL};

static void parse_retries(struct loader *L, const ynode *n, retry_policy *r)
{
	int64_t iv;
	if (n->kind == YNODE_SCALAR) { /* `retries: 3` */
		if (want_int(L, n, "retries", 0, 100, &iv) == 0)
			r->limit = (int)iv;
		return;
	}
	if (want_map(L, n, "retries") < 0)
		return;
	check_keys(L, n, retry_keys, "retries");
	const ynode *v;
	double d;
	if ((v = ynode_get(n, "limit")) && want_int(L, v, "retries.limit", 0, 100, &iv) == 0)
		r->limit = (int)iv;
	if ((v = ynode_get(n, "backoff")))
		want_duration(L, v, "retries.backoff", &r->backoff_ms);
	if ((v = ynode_get(n, "max_backoff")))
		want_duration(L, v, "retries.max_backoff", &r->max_backoff_ms);
	if ((v = ynode_get(n, "factor")) && want_number(L, v, "retries.factor", 1, 100, &d) == 0)
		r->factor = d;
	if ((v = ynode_get(n, "on"))) {
		pstr_list words = {0};
		want_str_list(L, v, "retries.on", &words);
		unsigned mask = 0;
		for (size_t i = 0; i < words.n; i++) {
			ynode tmp = *words.v[i].node;
			int k = want_enum(L, &tmp, "retries.on", retry_on_words);
			if (k >= 0)
				mask |= k == 4 ? RETRY_ON_ALL : 1u << k;
		}
		r->on = mask;
	}
}

/* `read: [/datasets/imagenet]`: absolute host paths, bound read-only.  The
 * characters refused are those a mount option or the overlay cannot take,
 * and a path that names the whole root would undo the allow list. */
static void parse_sandbox_read(struct loader *L, const ynode *n, sandbox_config *s)
{
	arena *a = &L->p->mem;
	pstr_list paths = {0};
	want_str_list(L, n, "sandbox.read", &paths);
	s->read = arena_alloc(a, sizeof(char *) * (paths.n + 1));
	s->read_pos = arena_alloc(a, sizeof(spos) * (paths.n + 1));
	s->nread = 0;
	for (size_t i = 0; i < paths.n; i++) {
		const pstr *ps = &paths.v[i];
		if (ps->s[0] != '/') {
			err_at(L, ps->pos.line, ps->pos.col,
			       "sandbox.read: '%s' is not an absolute path (the workspace is "
			       "already visible; read: adds host paths)",
			       ps->s);
			continue;
		}
		char *norm = arena_strdup(a, ps->s);
		const char *why = NULL;
		char *rel = norm + 1;
		while (*rel == '/')
			rel++;
		if (strstr(ps->s, "/../") ||
		    (strlen(ps->s) >= 3 && !strcmp(ps->s + strlen(ps->s) - 3, "/.."))) {
			err_at(L, ps->pos.line, ps->pos.col,
			       "sandbox.read: '%s' may not contain '..'; write the path as it is",
			       ps->s);
			continue;
		}
		if (*rel && path_normalize_relative(rel, &why) < 0) {
			err_at(L, ps->pos.line, ps->pos.col, "sandbox.read: '%s': %s", ps->s, why);
			continue;
		}
		if (!*rel || !strcmp(rel, ".")) {
			err_at(L, ps->pos.line, ps->pos.col,
			       "sandbox.read: '/' would show the whole host; name the directories "
			       "the step needs");
			continue;
		}
		memmove(norm + 1, rel, strlen(rel) + 1);
		s->read_pos[s->nread] = ps->pos;
		s->read[s->nread++] = norm;
	}
}

static void parse_sandbox(struct loader *L, const ynode *n, sandbox_config *s)
{
	if (n->kind == YNODE_SCALAR && !ynode_is_null(n)) {
		if (strcmp(n->str, "none") == 0) {
			s->enabled = 0;
			return;
		}
		if (strcmp(n->str, "default") == 0) {
			s->enabled = 1;
			return;
		}
		ERR_NODE(L, n, "sandbox must be a map of settings, 'none' or 'default', not '%s'",
			 n->str);
		return;
	}
	if (want_map(L, n, "sandbox") < 0)
		return;
	check_keys(L, n, sandbox_keys, "sandbox");
	const ynode *v;
	int b;
	double d;
	int64_t iv;
	s->enabled = 1;
	if ((v = ynode_get(n, "network")) && want_bool(L, v, "sandbox.network", &b) == 0)
		s->network = b;
	if ((v = ynode_get(n, "memory")))
		want_size(L, v, "sandbox.memory", &s->memory);
	if ((v = ynode_get(n, "cpus")) && want_number(L, v, "sandbox.cpus", 0.01, 4096, &d) == 0)
		s->cpus = d;
	if ((v = ynode_get(n, "pids")) && want_int(L, v, "sandbox.pids", 1, 4194304, &iv) == 0)
		s->pids = iv;
	if ((v = ynode_get(n, "tmpfs")) && want_size(L, v, "sandbox.tmpfs", &s->tmpfs) == 0 &&
	    s->tmpfs < 1 << 20)
		ERR_NODE(L, v, "sandbox.tmpfs must be at least 1M");
	if ((v = ynode_get(n, "read")))
		parse_sandbox_read(L, v, s);
}

static void parse_resources(struct loader *L, const ynode *n, resources *r)
{
	if (want_map(L, n, "resources") < 0)
		return;
	check_keys(L, n, resource_keys, "resources");
	const ynode *v;
	double d;
	int64_t iv;
	if ((v = ynode_get(n, "gpus")) && want_int(L, v, "resources.gpus", 0, 64, &iv) == 0)
		r->gpus = (int)iv;
	if ((v = ynode_get(n, "gpu_memory")))
		want_size(L, v, "resources.gpu_memory", &r->gpu_memory);
	if ((v = ynode_get(n, "cpus")) && want_number(L, v, "resources.cpus", 0, 4096, &d) == 0)
		r->cpus = d;
	if ((v = ynode_get(n, "memory")))
		want_size(L, v, "resources.memory", &r->memory);
}

static const char *const runner_words[] = {"local", "slurm", NULL};
static const char *const on_no_gpu_words[] = {"fail", "cpu", "wait", NULL};

/* The keys shared by `defaults:` and a step.  `defaults` is applied first, so
 * a step's map-valued settings (sandbox, resources, retries) merge key by key. */
static void parse_common(struct loader *L, const ynode *n, pstep *st)
{
	const ynode *v;
	int b;
	if ((v = ynode_get(n, "timeout")))
		want_duration(L, v, "timeout", &st->timeout_ms);
	if ((v = ynode_get(n, "grace_period")))
		want_duration(L, v, "grace_period", &st->grace_ms);
	if ((v = ynode_get(n, "retries")))
		parse_retries(L, v, &st->retries);
	if ((v = ynode_get(n, "sandbox")))
		parse_sandbox(L, v, &st->sandbox);
	if ((v = ynode_get(n, "resources")))
		parse_resources(L, v, &st->res);
	if ((v = ynode_get(n, "cache")) && want_bool(L, v, "cache", &b) == 0)
		st->cache = b;
	if ((v = ynode_get(n, "continue_on_error")) &&
	    want_bool(L, v, "continue_on_error", &b) == 0)
		st->continue_on_error = b;
	if ((v = ynode_get(n, "runner"))) {
		int k = want_enum(L, v, "runner", runner_words);
		if (k >= 0)
			st->runner = runner_words[k];
	}
	if ((v = ynode_get(n, "on_no_gpu"))) {
		int k = want_enum(L, v, "on_no_gpu", on_no_gpu_words);
		if (k >= 0)
			st->on_no_gpu = (enum on_no_gpu)(k + 1);
	}
	if ((v = ynode_get(n, "env")))
		parse_env(L, v, &st->env, &st->nenv);
	if ((v = ynode_get(n, "max_log_size")) &&
	    want_size(L, v, "max_log_size", &st->max_log_size) == 0 && st->max_log_size < 4096)
		ERR_NODE(L, v,
			 "max_log_size must be at least 4K (the log keeps its head and its tail)");
	if ((v = ynode_get(n, "max_output_size")))
		want_size(L, v, "max_output_size", &st->max_output_size);
}

static void step_defaults(pstep *st, const pipeline *p)
{
	memset(st, 0, sizeof(*st));
	st->grace_ms = 10000;
	st->max_log_size = 100ull << 20;
	st->retries = (retry_policy){0, 5000, 2.0, 300000, RETRY_ON_ALL};
	st->sandbox = (sandbox_config){.enabled = 1, .pids = 4096};
	st->res.cpus = 1;
	st->cache = 1;
	st->runner = p->runner ? p->runner : "local";
	st->env = p->env;
	st->nenv = p->nenv;
}

/* ---- matrix ---------------------------------------------------------------- */

static void parse_matrix(struct loader *L, const ynode *n, pstep *st)
{
	if (want_map(L, n, "matrix") < 0)
		return;
	arena *a = &L->p->mem;
	if (n->n > PIPELINE_MAX_MATRIX_AXES) {
		ERR_NODE(L, n, "matrix has %zu keys; at most %d are allowed", n->n,
			 PIPELINE_MAX_MATRIX_AXES);
		return;
	}
	st->matrix = arena_alloc(a, sizeof(pmatrix_axis) * (n->n + 1));
	size_t combos = 1;
	for (size_t i = 0; i < n->n; i++) {
		const ynode *v = n->items[i];
		pmatrix_axis *ax = &st->matrix[st->nmatrix];
		ax->key = n->keys[i];
		ax->pos = (spos){n->key_line[i], n->key_col[i]};
		if (!is_env_name(ax->key)) {
			err_at(L, ax->pos.line, ax->pos.col,
			       "matrix key '%s': use letters, digits and _", ax->key);
			continue;
		}
		if (v->kind != YNODE_SEQ || v->n == 0) {
			ERR_NODE(L, v, "matrix.%s must be a non-empty list of values", ax->key);
			continue;
		}
		ax->values = arena_alloc(a, sizeof(char *) * v->n);
		ax->types = arena_alloc(a, sizeof(expr_type) * v->n);
		for (size_t k = 0; k < v->n; k++) {
			const ynode *it = v->items[k];
			if (it->kind != YNODE_SCALAR || ynode_is_null(it)) {
				ERR_NODE(L, it,
					 "matrix.%s: each value must be a number, string or "
					 "boolean, not %s",
					 ax->key, ynode_kind_name(it));
				continue;
			}
			int b;
			double d;
			for (size_t j = 0; j < ax->n; j++)
				if (strcmp(ax->values[j], it->str) == 0)
					ERR_NODE(L, it, "matrix.%s: value '%s' appears twice",
						 ax->key, it->str);
			ax->values[ax->n] = it->str;
			ax->types[ax->n] = ynode_bool(it, &b) == 0     ? EXPR_BOOL
					   : ynode_number(it, &d) == 0 ? EXPR_NUM
								       : EXPR_STR;
			ax->n++;
		}
		if (ax->n)
			combos *= ax->n;
		if (combos > PIPELINE_MAX_MATRIX_INSTANCES) {
			ERR_NODE(L, v, "matrix expands to more than %d instances",
				 PIPELINE_MAX_MATRIX_INSTANCES);
			return;
		}
		st->nmatrix++;
	}
}

/* ---- a step ----------------------------------------------------------------- */

static void parse_step(struct loader *L, const char *name, spos kpos, const ynode *n,
		       const ynode *defaults)
{
	pipeline *p = L->p;
	pstep *st = &p->steps[p->nsteps];
	step_defaults(st, p);
	st->name = name;
	st->pos = kpos;
	if (!is_step_name(name)) {
		err_at(L, kpos.line, kpos.col,
		       "step name '%s': use letters, digits, _ and -, starting with a letter",
		       name);
		return;
	}
	if (want_map(L, n, "a step") < 0)
		return;
	check_keys(L, n, step_keys, "a step");
	if (defaults)
		parse_common(L, defaults, st);
	parse_common(L, n, st);

	const ynode *v;
	if ((v = ynode_get(n, "description")) && want_string(L, v, "description") == 0)
		st->description = v->str;
	const ynode *run = ynode_get(n, "run"), *uses = ynode_get(n, "uses");
	if (run && uses)
		ERR_NODE(L, uses, "step '%s' has both run and uses; a step has exactly one", name);
	else if (!run && !uses)
		err_at(L, kpos.line, kpos.col,
		       "step '%s' needs either run (a command) or uses (a "
		       "built-in step)",
		       name);
	if (run && want_string(L, run, "run") == 0) {
		if (!*run->str)
			ERR_NODE(L, run, "run is empty");
		st->run = mkpstr(run);
	}
	if (uses && want_string(L, uses, "uses") == 0) {
		st->uses = mkpstr(uses);
		if (!builtin_find(uses->str)) {
			size_t nb;
			const builtin_step *all = builtin_list(&nb);
			const char *s = DID_YOU_MEAN_IN(uses->str, all, nb, name);
			if (s)
				ERR_NODE(L, uses, "unknown built-in step '%s' (did you mean '%s'?)",
					 uses->str, s);
			else
				ERR_NODE(L, uses,
					 "unknown built-in step '%s' (see 'sluice help step')",
					 uses->str);
		}
	}
	if ((v = ynode_get(n, "with"))) {
		if (!uses)
			ERR_NODE(L, v,
				 "with is for built-in steps (uses:); a run step takes "
				 "arguments in its command");
		else if (want_map(L, v, "with") == 0)
			st->with = v;
	}
	const builtin_step *b = uses && uses->kind == YNODE_SCALAR ? builtin_find(uses->str) : NULL;
	if (b) {
		if (st->with)
			check_keys(L, st->with, b->keys, uses->str);
		for (const char *const *r = b->required; *r; r++)
			if (!ynode_get(st->with, *r))
				ERR_NODE(L, st->with ? st->with : uses,
					 "built-in step '%s' needs with.%s", b->name, *r);
	}
	if ((v = ynode_get(n, "needs")))
		want_str_list(L, v, "needs", &st->needs);
	if ((v = ynode_get(n, "inputs")))
		want_str_list(L, v, "inputs", &st->inputs);
	if ((v = ynode_get(n, "outputs")))
		want_str_list(L, v, "outputs", &st->outputs);
	if ((v = ynode_get(n, "metrics")) && want_string(L, v, "metrics") == 0)
		st->metrics = mkpstr(v);
	if ((v = ynode_get(n, "when")) && want_string(L, v, "when") == 0)
		st->when = mkpstr(v);
	if ((v = ynode_get(n, "matrix")))
		parse_matrix(L, v, st);
	if ((v = ynode_get(n, "params")))
		want_str_list(L, v, "params", &st->params_decl);
	if (st->res.gpus == 0 && st->on_no_gpu != ON_NO_GPU_DEFAULT) {
		/* harmless, but most likely a forgotten resources.gpus */
		const ynode *o = ynode_get(n, "on_no_gpu");
		if (o)
			ERR_NODE(L, o,
				 "on_no_gpu is set but the step asks for no GPU "
				 "(resources.gpus)");
	}
	if (strmap_put(&L->step_index, st->name, st))
		err_at(L, kpos.line, kpos.col, "duplicate step '%s'", name); /* unreachable: YAML */
	p->nsteps++;
}

/* ---- templates and the names they use ------------------------------------- */

struct ref_check {
	struct loader *L;
	const pstep *st; /* NULL at pipeline level */
	const pstr *t;
	int plan_time; /* inputs/outputs: only params, env, matrix */
	const char *field;
};

static const char *const ctx_names[] = {"params", "env", "secrets", "run", "matrix", "steps", NULL};

static int step_env_has(const struct ref_check *c, const char *name)
{
	const penv *env = c->st ? c->st->env : c->L->p->env;
	size_t n = c->st ? c->st->nenv : c->L->p->nenv;
	for (size_t i = 0; i < n; i++)
		if (strcmp(env[i].name, name) == 0)
			return 1;
	return 0;
}

static void ref_err(struct ref_check *c, size_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void ref_err(struct ref_check *c, size_t offset, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	spos at = pipeline_template_pos(c->L->p, c->t, offset);
	err_at(c->L, at.line, at.col, "%s", buf);
}

/* params.NAME, params.GROUP.NAME: the longest dotted prefix that is a param
 * must be the whole name. */
static void check_param_ref(struct ref_check *c, const char *const *parts, size_t n, size_t offset)
{
	pipeline *p = c->L->p;
	if (n < 2) {
		ref_err(c, offset, "'params' needs a name: params.NAME");
		return;
	}
	for (size_t k = n - 1; k >= 1; k--) {
		const pparam *pp = pipeline_find_param_parts(p, parts + 1, k);
		if (!pp)
			continue;
		if (k < n - 1)
			ref_err(c, offset, "params.%s is a value and has no field '%s'", pp->name,
				parts[k + 1]);
		return;
	}
	char name[512] = "";
	for (size_t k = 1, off = 0; k < n && off < sizeof(name); k++)
		off += (size_t)snprintf(name + off, sizeof(name) - off, "%s%s", k > 1 ? "." : "",
					parts[k]);
	const char *member = strmap_get(&c->L->param_groups, name);
	const char *s = DID_YOU_MEAN_IN(name, p->params, p->nparams, name);
	if (member)
		ref_err(c, offset, "params.%s is a group of params: name one of them (params.%s)",
			name, member);
	else if (s)
		ref_err(c, offset, "unknown param '%s' (did you mean '%s'?)", name, s);
	else
		ref_err(c, offset,
			"unknown param '%s' (not declared under params: or in a params "
			"file)",
			name);
}

static void mark_param(struct loader *L, size_t k)
{
	if (L->marks[k] == L->mark_gen)
		return;
	L->marks[k] = L->mark_gen;
	L->marked[L->nmarked++] = k;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* A param a step's template names enters the step's key and params file. */
static int note_param_ref(void *ctx, const char *const *parts, size_t n, size_t offset)
{
	(void)offset;
	struct ref_check *c = ctx;
	pipeline *p = c->L->p;
	if (strcmp(parts[0], "params") != 0 || n < 2)
		return 0;
	for (size_t k = n - 1; k >= 1; k--) {
		const pparam *pp = pipeline_find_param_parts(p, parts + 1, k);
		if (pp) {
			mark_param(c->L, (size_t)(pp - p->params));
			break;
		}
	}
	return 0;
}

/* st->params: what its templates named (marked) and what `params:` declares. */
static void collect_step_params(struct loader *L, pstep *st)
{
	pipeline *p = L->p;
	for (size_t i = 0; i < st->params_decl.n; i++) {
		const pstr *d = &st->params_decl.v[i];
		const pparam *pp = pipeline_find_param(p, d->s);
		if (pp) {
			mark_param(L, (size_t)(pp - p->params));
			continue;
		}
		if (strmap_get(&L->param_groups, d->s)) {
			size_t len = strlen(d->s);
			for (size_t k = 0; k < p->nparams; k++)
				if (!strncmp(p->params[k].name, d->s, len) &&
				    p->params[k].name[len] == '.')
					mark_param(L, k);
			continue;
		}
		const char *s = DID_YOU_MEAN_IN(d->s, p->params, p->nparams, name);
		if (s)
			err_at(L, d->pos.line, d->pos.col,
			       "params: unknown param '%s' (did you mean '%s'?)", d->s, s);
		else
			err_at(L, d->pos.line, d->pos.col,
			       "params: unknown param '%s' (not declared under params: or in a "
			       "params file)",
			       d->s);
	}
	/* p->params is sorted by name: so are the step's, by index */
	if (L->nmarked)
		qsort(L->marked, L->nmarked, sizeof(size_t), cmp_size);
	st->params = arena_alloc(&p->mem, sizeof(pparam *) * (L->nmarked + 1));
	for (size_t k = 0; k < L->nmarked; k++)
		st->params[st->nparams++] = &p->params[L->marked[k]];
	L->nmarked = 0;
}

static int check_ref(void *ctx, const char *const *parts, size_t n, size_t offset)
{
	struct ref_check *c = ctx;
	pipeline *p = c->L->p;
	const char *root = parts[0];
	if (strcmp(root, "params") == 0) {
		check_param_ref(c, parts, n, offset);
		return 0;
	}
	if (strcmp(root, "env") == 0) {
		if (n != 2)
			ref_err(c, offset, "use env.NAME");
		else if (!step_env_has(c, parts[1]))
			ref_err(c, offset,
				"unknown env '%s' (only variables set in env: can be used)",
				parts[1]);
		return 0;
	}
	if (strcmp(root, "matrix") == 0) {
		const pstep *st = c->st;
		int found = 0;
		for (size_t i = 0; st && n == 2 && i < st->nmatrix; i++)
			found |= strcmp(st->matrix[i].key, parts[1]) == 0;
		if (!st || st->nmatrix == 0)
			ref_err(c, offset, "matrix.* is only defined in a step that has a matrix");
		else if (!found)
			ref_err(c, offset, "unknown matrix key '%s'", n > 1 ? parts[1] : "");
		return 0;
	}
	if (c->plan_time) {
		ref_err(c, offset,
			"%s.* cannot be used in %s: paths must be known before the run "
			"(use params, env or matrix)",
			root, c->field);
		return 0;
	}
	if (strcmp(root, "secrets") == 0) {
		int found = 0;
		for (size_t i = 0; n == 2 && i < p->secrets.n; i++)
			found |= strcmp(p->secrets.v[i].s, parts[1]) == 0;
		if (!found)
			ref_err(c, offset, "unknown secret '%s' (list it under secrets:)",
				n > 1 ? parts[1] : "");
		return 0;
	}
	if (strcmp(root, "run") == 0) {
		static const char *const run_fields[] = {"id", "trigger", "pipeline", NULL};
		if (n != 2 || !in_list(parts[1], run_fields))
			ref_err(c, offset,
				"unknown name 'run.%s' (run.id, run.trigger, run.pipeline)",
				n > 1 ? parts[1] : "");
		return 0;
	}
	if (strcmp(root, "steps") == 0) {
		if (n < 3) {
			ref_err(c, offset,
				"use steps.NAME.outputs.KEY, steps.NAME.metrics.KEY or "
				"steps.NAME.status");
			return 0;
		}
		/* the step itself may be a matrix instance: steps['train[lr=0.1]'] */
		char base[256];
		snprintf(base, sizeof(base), "%.*s", (int)strcspn(parts[1], "["), parts[1]);
		if (!strmap_get(&c->L->step_index, base)) {
			const char *s = DID_YOU_MEAN_IN(base, p->steps, p->nsteps, name);
			if (s)
				ref_err(c, offset, "unknown step '%s' (did you mean '%s'?)", base,
					s);
			else
				ref_err(c, offset, "unknown step '%s'", base);
		} else if (c->st && strcmp(base, c->st->name) == 0) {
			ref_err(c, offset, "step '%s' cannot use its own %s", base, parts[2]);
		} else if (strcmp(parts[2], "status") == 0) {
			if (n != 3)
				ref_err(c, offset, "steps.%s.status has no fields", parts[1]);
		} else if (strcmp(parts[2], "outputs") == 0 || strcmp(parts[2], "metrics") == 0) {
			if (n < 4)
				ref_err(c, offset, "steps.%s.%s needs a key", parts[1], parts[2]);
		} else {
			ref_err(c, offset, "steps.%s has outputs, metrics and status, not '%s'",
				parts[1], parts[2]);
		}
		return 0;
	}
	const char *s = did_you_mean(root, ctx_names, count_keys(ctx_names));
	if (s)
		ref_err(c, offset, "unknown name '%s' (did you mean '%s'?)", root, s);
	else
		ref_err(c, offset,
			"unknown name '%s' (expressions may use params, env, secrets, "
			"run, matrix and steps)",
			root);
	return 0;
}

static void check_template(struct loader *L, const pstep *st, const pstr *t, int plan_time,
			   const char *field)
{
	if (!t->s || !strchr(t->s, '$')) /* most strings hold no ${{ }}: skip the parser */
		return;
	template *tp;
	expr_error e;
	if (template_parse(&L->p->mem, t->s, &tp, &e) < 0) {
		spos at = pipeline_template_pos(L->p, t, e.offset);
		err_at(L, at.line, at.col, "%s", e.msg);
		return;
	}
	size_t at_fn;
	if (strcmp(field, "when") && template_status_funcs(tp, &at_fn)) {
		spos at = pipeline_template_pos(L->p, t, at_fn);
		err_at(L, at.line, at.col,
		       "success(), failure(), always() and cancelled() can only be used in when:");
	}
	struct ref_check c = {L, st, t, plan_time, field};
	template_walk_refs(tp, check_ref, &c);
	if (st && L->marks)
		template_walk_refs(tp, note_param_ref, &c);
}

/* `with` values: scalars and the scalars inside lists and maps. */
static void check_with_node(struct loader *L, const pstep *st, const ynode *n)
{
	if (n->kind == YNODE_SCALAR) {
		pstr t = mkpstr(n);
		check_template(L, st, &t, 0, "with");
		return;
	}
	for (size_t i = 0; i < n->n; i++)
		check_with_node(L, st, n->items[i]);
}

/* gate `require:` entries are bare expressions over metric names and champion.* */
static void check_gate_require(struct loader *L, const pstep *st)
{
	const ynode *req = ynode_get(st->with, "require");
	if (!req)
		return;
	if (req->kind == YNODE_SCALAR)
		req = NULL; /* one expression: checked below through a one-item view */
	const ynode *one = ynode_get(st->with, "require");
	size_t n = req ? req->n : 1;
	if (req && req->kind != YNODE_SEQ) {
		ERR_NODE(L, req, "gate: require must be a list of expressions");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const ynode *it = req ? req->items[i] : one;
		if (it->kind != YNODE_SCALAR) {
			ERR_NODE(L, it,
				 "gate: each requirement is an expression like 'auc >= 0.85'");
			continue;
		}
		expr *e;
		expr_error err;
		pstr t = mkpstr(it);
		if (strstr(it->str, "${{")) {
			/* a template resolves first and must then still be an expression */
			check_template(L, st, &t, 0, "require");
			continue;
		}
		if (expr_parse(&L->p->mem, it->str, it->len, 0, &e, &err) < 0) {
			spos at = pipeline_template_pos(L->p, &t, err.offset);
			err_at(L, at.line, at.col, "%s", err.msg);
		}
	}
}

static void check_step_templates(struct loader *L, const pstep *st)
{
	check_template(L, st, &st->run, 0, "run");
	check_template(L, st, &st->when, 0, "when");
	check_template(L, st, &st->metrics, 1, "metrics");
	for (size_t i = 0; i < st->inputs.n; i++)
		check_template(L, st, &st->inputs.v[i], 1, "inputs");
	for (size_t i = 0; i < st->outputs.n; i++)
		check_template(L, st, &st->outputs.v[i], 1, "outputs");
	for (size_t i = 0; i < st->nenv; i++) {
		pstr t = {st->env[i].value, st->env[i].pos, NULL};
		check_template(L, st, &t, 0, "env");
	}
	if (st->with) {
		for (size_t i = 0; i < st->with->n; i++) {
			if (st->uses.s && strcmp(st->uses.s, "gate") == 0 &&
			    strcmp(st->with->keys[i], "require") == 0)
				continue;
			check_with_node(L, st, st->with->items[i]);
		}
		if (st->uses.s && strcmp(st->uses.s, "gate") == 0)
			check_gate_require(L, st);
	}
}

/* ---- schedule, notify, top level ------------------------------------------- */

static const char *const catchup_words[] = {"none", "latest", "all", NULL};
static const char *const concurrency_words[] = {"forbid", "allow", "replace", NULL};
static const char *const notify_on_words[] = {"success", "failure", "rejected", "always", NULL};

/* The scheduler's own parser (cron.h), so a file that validates is one the
 * daemon can run; its message names the field and the reason. */
static void check_cron(struct loader *L, const ynode *n)
{
	cron_expr e;
	sl_error *err = NULL;
	if (cron_parse(n->str, &e, &err) < 0) {
		ERR_NODE(L, n, "schedule.cron: %s", err->msg);
		sl_error_release(&err);
	}
}

static void parse_schedule(struct loader *L, const ynode *n)
{
	pipeline *p = L->p;
	if (want_map(L, n, "schedule") < 0)
		return;
	check_keys(L, n, schedule_keys, "schedule");
	p->schedule.present = 1;
	p->schedule.timezone = (pstr){"UTC", pos_of(n), NULL};
	const ynode *v;
	if (!(v = ynode_get(n, "cron")))
		ERR_NODE(L, n, "schedule needs cron");
	else if (want_string(L, v, "schedule.cron") == 0) {
		p->schedule.cron = mkpstr(v);
		check_cron(L, v);
	}
	if ((v = ynode_get(n, "timezone")) && want_string(L, v, "schedule.timezone") == 0) {
		p->schedule.timezone = mkpstr(v);
		/* the scheduler's own check: a TZif file, not any file under zoneinfo */
		sl_error *zerr = NULL;
		if (cron_zone_check(v->str, &zerr) < 0)
			ERR_NODE(L, v, "schedule.timezone: %s", zerr->msg);
		sl_error_release(&zerr);
	}
	int k;
	if ((v = ynode_get(n, "catchup")) &&
	    (k = want_enum(L, v, "schedule.catchup", catchup_words)) >= 0)
		p->schedule.catchup = (enum catchup)k;
	if ((v = ynode_get(n, "concurrency")) &&
	    (k = want_enum(L, v, "schedule.concurrency", concurrency_words)) >= 0) {
		p->schedule.concurrency = (enum concurrency)k;
		p->concurrency = (enum concurrency)k;
	}
}

static void parse_notify(struct loader *L, const ynode *n)
{
	pipeline *p = L->p;
	if (want_map(L, n, "notify") < 0)
		return;
	check_keys(L, n, notify_keys, "notify");
	p->notify.present = 1;
	p->notify.on = NOTIFY_FAILURE | NOTIFY_REJECTED;
	const ynode *v;
	if (!(v = ynode_get(n, "webhook")))
		ERR_NODE(L, n, "notify needs webhook");
	else if (want_string(L, v, "notify.webhook") == 0)
		p->notify.webhook = mkpstr(v);
	if ((v = ynode_get(n, "on"))) {
		pstr_list words = {0};
		want_str_list(L, v, "notify.on", &words);
		unsigned mask = 0;
		for (size_t i = 0; i < words.n; i++) {
			ynode tmp = *words.v[i].node;
			int k = want_enum(L, &tmp, "notify.on", notify_on_words);
			if (k >= 0)
				mask |= k == 3 ? 7u : 1u << k;
		}
		p->notify.on = mask;
	}
}

static void parse_top(struct loader *L, const ynode *root, const pipeline_load_opts *o)
{
	pipeline *p = L->p;
	if (!root) {
		diag_add(L->diags, L->file, 1, 1,
			 "the file is empty (a pipeline needs name and steps)");
		return;
	}
	if (root->kind != YNODE_MAP) {
		ERR_NODE(L, root, "a pipeline file must be a map with name and steps, not %s",
			 ynode_kind_name(root));
		return;
	}
	check_keys(L, root, top_keys, "the pipeline");
	const ynode *v;
	if (!(v = ynode_get(root, "name")))
		ERR_NODE(L, root, "the pipeline needs a name (name: my-pipeline)");
	else if (want_string(L, v, "name") == 0) {
		if (!is_pipeline_name(v->str))
			ERR_NODE(L, v, "name '%s' must match [a-z0-9_-]+", v->str);
		p->name = v->str;
	}
	if ((v = ynode_get(root, "description")) && want_string(L, v, "description") == 0)
		p->description = v->str;
	load_params(L, root, o);
	if ((v = ynode_get(root, "env")))
		parse_env(L, v, &p->env, &p->nenv);
	if ((v = ynode_get(root, "secrets"))) {
		want_str_list(L, v, "secrets", &p->secrets);
		for (size_t i = 0; i < p->secrets.n; i++)
			if (!is_env_name(p->secrets.v[i].s))
				err_at(L, p->secrets.v[i].pos.line, p->secrets.v[i].pos.col,
				       "secret '%s' is not a valid environment variable name",
				       p->secrets.v[i].s);
	}
	if ((v = ynode_get(root, "runner"))) {
		int k = want_enum(L, v, "runner", runner_words);
		if (k >= 0)
			p->runner = runner_words[k];
	}
	if ((v = ynode_get(root, "schedule")))
		parse_schedule(L, v);
	if ((v = ynode_get(root, "notify")))
		parse_notify(L, v);
	const ynode *defaults = ynode_get(root, "defaults");
	if (defaults) {
		if (want_map(L, defaults, "defaults") < 0)
			defaults = NULL;
		else
			check_keys(L, defaults, default_keys, "defaults");
	}
	const ynode *steps = ynode_get(root, "steps");
	if (!steps) {
		ERR_NODE(L, root, "the pipeline has no steps");
		return;
	}
	if (want_map(L, steps, "steps") < 0)
		return;
	if (steps->n == 0)
		ERR_NODE(L, steps, "steps is empty");
	p->steps = arena_alloc(&p->mem, sizeof(pstep) * (steps->n + 1));
	for (size_t i = 0; i < steps->n; i++)
		parse_step(L, steps->keys[i], (spos){steps->key_line[i], steps->key_col[i]},
			   steps->items[i], defaults);
	/* Templates are checked once every step and param is known. */
	L->marks = xcalloc(p->nparams + 1, sizeof(unsigned));
	L->marked = xcalloc(p->nparams + 1, sizeof(size_t));
	for (size_t i = 0; i < p->nsteps; i++) {
		L->mark_gen = (unsigned)i + 1;
		check_step_templates(L, &p->steps[i]);
		collect_step_params(L, &p->steps[i]);
	}
	free(L->marks);
	free(L->marked);
	L->marks = NULL;
	L->marked = NULL;
	if (p->notify.present) {
		check_template(L, NULL, &p->notify.webhook, 0, "notify.webhook");
	}
}

/* ---- entry points ------------------------------------------------------------ */

int pipeline_load_text_with(const char *path, const char *dir, const char *text, size_t len,
			    const pipeline_load_opts *o, pipeline **out, diag_list *diags)
{
	pipeline *p = xcalloc(1, sizeof(*p));
	p->path = arena_strdup(&p->mem, path);
	p->dir = arena_strdup(&p->mem, dir);
	char *copy = arena_alloc(&p->mem, len + 1);
	memcpy(copy, text, len);
	p->text = copy;
	p->text_len = len;
	p->concurrency = CONCURRENCY_FORBID;
	struct loader L = {.p = p, .diags = diags, .file = p->path};
	size_t before = diag_count(diags);
	ynode *root = NULL;
	if (yamldoc_parse(&p->mem, p->path, copy, len, YAMLDOC_MAX_EXPANDED, &root, diags) == 0)
		parse_top(&L, root, o);
	strmap_release(&L.param_index);
	strmap_release(&L.step_index);
	strmap_release(&L.param_groups);
	free(L.plist);
	free(L.marks);
	free(L.marked);
	if (!root || root->kind != YNODE_MAP) {
		pipeline_free(p);
		*out = NULL;
		return -1;
	}
	*out = p;
	return diag_count(diags) > before ? -1 : 0;
}

#define MAX_PIPELINE_FILE (64u << 20)

int pipeline_load_text(const char *path, const char *dir, const char *text, size_t len,
		       const param_override *ov, size_t nov, pipeline **out, diag_list *diags)
{
	pipeline_load_opts o = {.ov = ov, .nov = nov};
	return pipeline_load_text_with(path, dir, text, len, &o, out, diags);
}

int pipeline_load(const char *path, const param_override *ov, size_t nov, pipeline **out,
		  diag_list *diags)
{
	pipeline_load_opts o = {.ov = ov, .nov = nov};
	return pipeline_load_with(path, &o, out, diags);
}

int pipeline_load_with(const char *path, const pipeline_load_opts *o, pipeline **out,
		       diag_list *diags)
{
	*out = NULL;
	/* non-blocking: `sluice validate` of a FIFO once waited for a writer forever */
	sl_error *err = NULL;
	int fd = fs_open_regular(path, &err);
	if (fd < 0) {
		diag_add(diags, path, 0, 0, "cannot open: %s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		diag_add(diags, path, 0, 0, "cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if ((uint64_t)sb.st_size > MAX_PIPELINE_FILE) {
		diag_add(diags, path, 0, 0, "file too large (%lld bytes; the limit is 64 MiB)",
			 (long long)sb.st_size);
		close(fd);
		return -1;
	}
	size_t len = (size_t)sb.st_size;
	char *buf = xmalloc(len + 1);
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			diag_add(diags, path, 0, 0, "read failed: %s",
				 r < 0 ? strerror(errno) : "file shrank while reading");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	char *abs = realpath(path, NULL);
	char *dir = abs ? xstrdup(abs) : xstrdup(".");
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	else if (slash)
		slash[1] = 0;
	int r = pipeline_load_text_with(path, dir, buf, len, o, out, diags);
	free(abs);
	free(dir);
	free(buf);
	return r;
}

void pipeline_free(pipeline *p)
{
	if (!p)
		return;
	arena_release(&p->mem);
	free(p);
}

const pstep *pipeline_find_step(const pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->nsteps; i++)
		if (strcmp(p->steps[i].name, name) == 0)
			return &p->steps[i];
	return NULL;
}

json_t *pipeline_param_json(const pparam *pp)
{
	if (pp->value.type == EXPR_NUM)
		return pp->value.num == floor(pp->value.num) && fabs(pp->value.num) < 9e15
			       ? json_integer((json_int_t)pp->value.num)
			       : json_real(pp->value.num);
	if (pp->value.type == EXPR_BOOL)
		return json_boolean(pp->value.b);
	return json_string(pp->value.str);
}

/* Set "train.lr" as {"train": {"lr": v}} in o (consumes v). */
static void set_nested(json_t *o, const char *name, json_t *v)
{
	const char *dot;
	while ((dot = strchr(name, '.'))) {
		char *seg = strndup(name, (size_t)(dot - name));
		json_t *child = json_object_get(o, seg);
		if (!child) {
			child = json_object();
			json_object_set_new(o, seg, child);
		}
		free(seg);
		if (!json_is_object(child)) { /* cannot happen: a name is a value or a group */
			json_decref(v);
			return;
		}
		o = child;
		name = dot + 1;
	}
	json_object_set_new(o, name, v);
}

static char *dump_params(json_t *o, int pretty)
{
	size_t flags = JSON_SORT_KEYS | JSON_REAL_PRECISION(15);
	char *s = json_dumps(o, flags | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	json_decref(o);
	return s ? s : xstrdup("{}");
}

char *pipeline_params_json(const pipeline *p, int pretty)
{
	json_t *o = json_object();
	for (size_t i = 0; i < p->nparams; i++) {
		if (pretty)
			set_nested(o, p->params[i].name, pipeline_param_json(&p->params[i]));
		else
			json_object_set_new(o, p->params[i].name,
					    pipeline_param_json(&p->params[i]));
	}
	return dump_params(o, pretty);
}

char *pipeline_step_params_json(const pstep *st)
{
	json_t *o = json_object();
	for (size_t i = 0; i < st->nparams; i++)
		set_nested(o, st->params[i]->name, pipeline_param_json(st->params[i]));
	return dump_params(o, 1);
}

const pparam *pipeline_find_param(const pipeline *p, const char *name)
{
	pparam key = {.name = name};
	if (!p->nparams)
		return NULL;
	return bsearch(&key, p->params, p->nparams, sizeof(pparam), cmp_pparam);
}

const pparam *pipeline_find_param_parts(const pipeline *p, const char *const *parts, size_t n)
{
	char name[1024];
	size_t off = 0;
	for (size_t k = 0; k < n; k++) {
		int w = snprintf(name + off, sizeof(name) - off, "%s%s", k ? "." : "", parts[k]);
		if (w < 0 || (size_t)w >= sizeof(name) - off)
			return NULL;
		off += (size_t)w;
	}
	return pipeline_find_param(p, name);
}

/* Column of the first non-blank character of a 1-based line of the file. */
static int line_indent(const pipeline *p, int line)
{
	const char *s = p->text;
	for (int l = 1; l < line && s; l++) {
		s = strchr(s, '\n');
		if (s)
			s++;
	}
	if (!s)
		return 0;
	int col = 0;
	while (s[col] == ' ')
		col++;
	return col;
}

spos pipeline_template_pos(const pipeline *p, const pstr *t, size_t offset)
{
	spos at = t->pos;
	const ynode *n = t->node;
	if (!t->s || offset > strlen(t->s))
		return at;
	enum yscalar_style style = n ? n->style : YSTYLE_PLAIN;
	if (memchr(t->s, '\n', offset)) {
		if (style != YSTYLE_LITERAL)
			return at;
	} else if (style != YSTYLE_LITERAL) {
		size_t extra = style == YSTYLE_PLAIN ? 0 : 1; /* the opening quote */
		if (style == YSTYLE_SINGLE)                   /* each '' stands for one ' */
			for (size_t i = 0; i < offset; i++)
				extra += t->s[i] == '\'';
		at.col += (int)(offset + extra);
		return at;
	}
	/* literal block: the text starts on the line after the indicator */
	int nl = 0;
	size_t last = 0;
	for (size_t i = 0; i < offset; i++)
		if (t->s[i] == '\n') {
			nl++;
			last = i + 1;
		}
	at.line = at.line + 1 + nl;
	at.col = line_indent(p, t->pos.line + 1) + 1 + (int)(offset - last);
	return at;
}
