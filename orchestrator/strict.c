/*
 * strict.c — `--sandbox strict`: which settings of a pipeline file would let
 * its steps past the default sandbox, and where the file says so (strict.h).
 *
 * The model keeps the position of each `read:` path but not of `sandbox:
 * none` or `network: true`; those are found again in the file's text, which
 * costs a second parse only when something is refused.
 */
#include "sluice/strict.h"

#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/yamldoc.h"

#include <string.h>

int strict_mode_parse(const char *opt, const char *env, enum sandbox_mode *mode, sl_error **err)
{
	const char *v = opt ? opt : env && *env ? env : "default";
	if (!strcmp(v, "default")) {
		*mode = SANDBOX_MODE_DEFAULT;
		return 0;
	}
	if (!strcmp(v, "strict")) {
		*mode = SANDBOX_MODE_STRICT;
		return 0;
	}
	return sl_error_usage(err, "%s%s: unknown sandbox mode (accepted: default, strict)",
			      opt ? "--sandbox " : "SLUICE_SANDBOX=", v);
}

/* The map at key in map, or NULL. */
static const ynode *get_map(const ynode *map, const char *key)
{
	const ynode *v = map && map->kind == YNODE_MAP ? ynode_get(map, key) : NULL;
	return v && v->kind == YNODE_MAP ? v : NULL;
}

/* Where `sandbox` (key NULL) or `sandbox.KEY` of the step was written: in the
 * step, else in `defaults:` (*inherited set; a step's sandbox settings merge
 * over the defaults' key by key, pipeline.c).  NULL when neither writes it. */
static const ynode *sandbox_setting(const ynode *root, const char *step, const char *key,
				    int *inherited)
{
	const ynode *places[] = {get_map(get_map(root, "steps"), step), get_map(root, "defaults")};
	for (size_t k = 0; k < sizeof(places) / sizeof(places[0]); k++) {
		const ynode *sb = places[k] ? ynode_get(places[k], "sandbox") : NULL;
		const ynode *v = !key                          ? sb
				 : sb && sb->kind == YNODE_MAP ? ynode_get(sb, key)
							       : NULL;
		*inherited = k == 1;
		if (v)
			return v;
	}
	return NULL;
}

/* The file parsed again, for positions; NULL where it cannot be (then the
 * step's own position serves). */
struct located {
	arena mem;
	const ynode *root;
	int parsed;
};

static const ynode *root_of(const pipeline *p, struct located *loc)
{
	if (!loc->parsed) {
		loc->parsed = 1;
		diag_list ignored = DIAG_LIST_INIT;
		ynode *root = NULL;
		if (p->text && yamldoc_parse(&loc->mem, p->path, p->text, p->text_len,
					     YAMLDOC_MAX_EXPANDED, &root, &ignored) == 0)
			loc->root = root;
		diag_release(&ignored);
	}
	return loc->root;
}

/* The position of the setting, and " (from defaults:)" in *note when the step inherits it. */
static spos setting_pos(const pipeline *p, struct located *loc, const pstep *st, const char *key,
			const char **note)
{
	int inherited = 0;
	const ynode *n = sandbox_setting(root_of(p, loc), st->name, key, &inherited);
	*note = n && inherited ? " (from defaults:)" : "";
	return n ? (spos){n->line, n->col} : st->pos;
}

/* The registry built-ins run outside the sandbox (orchestrator/attempt.c). */
static int runs_outside(const pstep *st)
{
	const builtin_step *b = st->uses.s ? builtin_find(st->uses.s) : NULL;
	return b && !(b->flags & BUILTIN_SANDBOXED);
}

static size_t check_step(const pipeline *p, struct located *loc, const pstep *st, diag_list *diags)
{
	if (runs_outside(st)) {
		diag_add(diags, p->path, st->uses.pos.line, st->uses.pos.col,
			 "step %s: uses: %s is refused by --sandbox strict (a registry built-in "
			 "runs outside the sandbox: it needs the state store and the network)",
			 st->name, st->uses.s);
		return 1;
	}
	const sandbox_config *sb = &st->sandbox;
	if (!sb->enabled) {
		const char *note;
		spos at = setting_pos(p, loc, st, NULL, &note);
		diag_add(diags, p->path, at.line, at.col,
			 "step %s: sandbox: none%s is refused by --sandbox strict", st->name, note);
		return 1;
	}
	size_t n = 0;
	if (sb->network) {
		const char *note;
		spos at = setting_pos(p, loc, st, "network", &note);
		diag_add(diags, p->path, at.line, at.col,
			 "step %s: sandbox: {network: true}%s is refused by --sandbox strict (the "
			 "step would share the host's network)",
			 st->name, note);
		n++;
	}
	for (size_t k = 0; k < sb->nread; k++, n++)
		diag_add(diags, p->path, sb->read_pos[k].line, sb->read_pos[k].col,
			 "step %s: sandbox: {read: [%s]} is refused by --sandbox strict (a host "
			 "path beyond the sandbox's allow list)",
			 st->name, sb->read[k]);
	return n;
}

size_t strict_check(const pipeline *p, diag_list *diags)
{
	struct located loc = {.mem = ARENA_INIT};
	size_t n = 0;
	for (size_t i = 0; i < p->nsteps; i++)
		n += check_step(p, &loc, &p->steps[i], diags);
	arena_release(&loc.mem);
	return n;
}

size_t strict_refuse(const pipeline *p, enum sandbox_mode mode, FILE *out)
{
	if (mode != SANDBOX_MODE_STRICT)
		return 0;
	diag_list diags = DIAG_LIST_INIT;
	size_t n = strict_check(p, &diags);
	if (n) {
		diag_print(&diags, out);
		fprintf(out, "%s: %zu setting%s refused by --sandbox strict; nothing ran\n",
			p->path, n, n == 1 ? "" : "s");
	}
	diag_release(&diags);
	return n;
}
