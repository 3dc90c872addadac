/*
 * stepcmd.c — what a step runs: its argv and its environment (docs/running.md).
 *
 * A `run:` command without shell syntax is split on spaces and executed
 * directly, as make does (one exec fewer, docs/benchmarks.md); with any it
 * goes through `/bin/sh -c`.  The program is looked up on the steps' PATH,
 * not sluice's own, once per program and run.  A built-in (`uses:`) is
 * sluice itself: `sluice step NAME --with k=v ...`.  The environment is
 * scrubbed: PATH, HOME, TMPDIR, LANG, TZ, the SLUICE_* variables and the
 * pipeline's and step's `env`, nothing of sluice's own.
 *
 * A `run:` command that uses what a step produced or a secret refers to it
 * as "${SLUICE_VAL_n}" / "${SLUICE_SECRET_n}" (runexpr_render_shell) and
 * the values travel in the environment, so no value is ever shell code, and
 * the recorded command holds the references, not the values.
 *
 * $SLUICE_PARAMS names runs/RUN/params/STEP.json: only the params the step
 * uses (pipeline.h, pstep.params), written once per step and run by the
 * first attempt of any of its instances (they all use the same params).
 */
#include "exec_int.h"

#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/fsutil.h"
#include "sluice/redact.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const step_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* Find prog on the steps' PATH (not sluice's own), once per program and run. */
static char *which(struct exec *x, const char *prog)
{
	if (strchr(prog, '/'))
		return arena_strdup(&x->mem, prog);
	char *known = strmap_get(&x->progs, prog);
	if (known)
		return known;
	char buf[PATH_MAX];
	const char *p = step_path;
	while (*p) {
		size_t len = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, p, prog);
		if (access(buf, X_OK) == 0) {
			char *found = arena_strdup(&x->mem, buf);
			strmap_put(&x->progs, arena_strdup(&x->mem, prog), found);
			return found;
		}
		p += len + (p[len] == ':');
	}
	return NULL;
}

/* A command with none of these runs without a shell (as make does). */
static int needs_shell(const char *cmd)
{
	for (const char *s = cmd; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr(" _-./,:+@%=", *s)))
			return 1;
	return 0;
}

static json_t *ynode_to_json(const ynode *n, struct exec *x, size_t i, int *bad)
{
	if (n->kind == YNODE_SCALAR) {
		const char *s = runexpr_render(x, i, n->str, "with");
		if (!s) {
			*bad = 1;
			return json_null();
		}
		return json_string(s);
	}
	if (n->kind == YNODE_SEQ) {
		json_t *a = json_array();
		for (size_t k = 0; k < n->n; k++)
			json_array_append_new(a, ynode_to_json(n->items[k], x, i, bad));
		return a;
	}
	json_t *o = json_object();
	for (size_t k = 0; k < n->n; k++)
		json_object_set_new(o, n->keys[k], ynode_to_json(n->items[k], x, i, bad));
	return o;
}

/* `sluice step NAME --with k=v ...`; the command recorded is "uses NAME k=v ...". */
static char **builtin_argv(struct exec *x, size_t i)
{
	const pstep *step = x->d->nodes[i].step;
	struct exec_step *es = &x->s[i];
	arena *a = &x->mem;
	size_t nw = step->with ? step->with->n : 0;
	char **argv = arena_alloc(a, sizeof(char *) * (6 + 2 * nw));
	size_t k = 0;
	argv[k++] = x->self_exe;
	argv[k++] = "step";
	argv[k++] = (char *)step->uses.s;
	strbuf cmd = STRBUF_INIT;
	strbuf_addf(&cmd, "uses %s", step->uses.s);
	for (size_t w = 0; w < nw; w++) {
		const ynode *v = step->with->items[w];
		const char *val;
		if (v->kind == YNODE_SCALAR) {
			val = runexpr_render(x, i, v->str, "with");
			if (!val) {
				strbuf_release(&cmd);
				return NULL;
			}
		} else {
			int bad = 0;
			json_t *j = ynode_to_json(v, x, i, &bad);
			char *s = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			if (bad) {
				free(s);
				strbuf_release(&cmd);
				return NULL;
			}
			val = arena_strdup(a, s);
			free(s);
		}
		argv[k++] = "--with";
		argv[k++] = arena_printf(a, "%s=%s", step->with->keys[w], val);
		strbuf_addf(&cmd, " %s=%s", step->with->keys[w], val);
	}
	/* A data step that declares a JSON output but names no report
	 * writes its report there (the example in docs/pipeline-reference.md does just that). */
	const builtin_step *b = builtin_find(step->uses.s);
	int takes_report = 0;
	for (const char *const *key = b ? b->keys : NULL; key && *key; key++)
		takes_report |= !strcmp(*key, "report");
	if (takes_report && !ynode_get(step->with, "report")) {
		const dag_node *node = &x->d->nodes[i];
		for (size_t o = 0; o < node->noutputs; o++) {
			size_t len = strlen(node->outputs[o]);
			if (len > 5 && !strcmp(node->outputs[o] + len - 5, ".json")) {
				argv[k++] = "--with";
				argv[k++] = arena_printf(a, "report=%s", node->outputs[o]);
				strbuf_addf(&cmd, " report=%s", node->outputs[o]);
				break;
			}
		}
	}
	argv[k] = NULL;
	/* `with:` is no shell: the values go as they are, but a secret among them is
	 * not kept (nor keyed: the key is made of this text) */
	es->command = arena_strdup(a, strbuf_str(&cmd));
	redact_str(x->redact, es->command);
	strbuf_release(&cmd);
	return argv;
}

char **stepcmd_argv(struct exec *x, size_t i)
{
	const pstep *step = x->d->nodes[i].step;
	struct exec_step *es = &x->s[i];
	arena *a = &x->mem;
	if (step->uses.s)
		return builtin_argv(x, i);
	size_t nvals;
	const char *cmd = runexpr_render_shell(x, i, step->run.s, &es->vals, &nvals);
	if (!cmd)
		return NULL;
	es->command = (char *)cmd;
	if (needs_shell(cmd)) {
		char **argv = arena_alloc(a, sizeof(char *) * 4);
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = (char *)cmd;
		return argv;
	}
	/* split on spaces */
	size_t cap = 2;
	for (const char *s = cmd; *s; s++)
		cap += *s == ' ';
	char **argv = arena_alloc(a, sizeof(char *) * cap);
	char *copy = arena_strdup(a, cmd);
	size_t k = 0;
	for (char *tok = copy; *tok;) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			break;
		char *end = tok + strcspn(tok, " ");
		if (*end)
			*end++ = 0;
		argv[k++] = tok;
		tok = end;
	}
	argv[k] = NULL;
	if (k == 0) {
		snprintf(es->reason, sizeof(es->reason), "run: the command is empty");
		return NULL;
	}
	char *prog = which(x, argv[0]);
	if (!prog) {
		snprintf(es->reason, sizeof(es->reason), "run: command not found: %s", argv[0]);
		return NULL;
	}
	argv[0] = prog;
	return argv;
}

/* Create the step's params file unless an instance (or the run before a
 * resume: the same params) already did.  Written under a temporary name and
 * renamed, so that no attempt (and no resume after a crash) ever finds it
 * half written.  0, or -1 with es->reason set. */
static int write_step_params(struct exec *x, size_t i, const char *path)
{
	if (faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	char *tmp = arena_printf(&x->mem, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) {
		char *dir = arena_printf(&x->mem, "%s/params", x->run_dir);
		if (fs_mkdir_p(dir, 0700) == 0)
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	char *text = fd >= 0 ? pipeline_step_params_json(x->d->nodes[i].step) : NULL;
	int bad = fd < 0;
	if (!bad) {
		size_t len = strlen(text);
		bad = write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1;
	}
	int saved = errno;
	if (fd >= 0 && close(fd) < 0 && !bad) {
		bad = 1;
		saved = errno;
	}
	free(text);
	if (!bad && rename(tmp, path) < 0) {
		bad = 1;
		saved = errno;
	}
	if (bad) {
		snprintf(x->s[i].reason, sizeof(x->s[i].reason), "write %s: %s", path,
			 strerror(saved));
		unlink(tmp);
		return -1;
	}
	return 0;
}

char **stepcmd_env(struct exec *x, size_t i, const char *attempt_dir)
{
	const dag_node *node = &x->d->nodes[i];
	const pstep *step = node->step;
	arena *a = &x->mem;
	size_t nvals = 0;
	while (x->s[i].vals && x->s[i].vals[nvals])
		nvals++;
	size_t cap = step->nenv + nvals + 16;
	char **envp = arena_alloc(a, sizeof(char *) * cap);
	size_t k = 0;
	const char *tz = getenv("TZ");
	envp[k++] = arena_printf(a, "PATH=%s", step_path);
	envp[k++] = arena_printf(a, "HOME=%s/home", attempt_dir);
	envp[k++] = arena_printf(a, "TMPDIR=%s/tmp", attempt_dir);
	envp[k++] = "LANG=C.UTF-8";
	envp[k++] = arena_printf(a, "TZ=%s", tz && *tz ? tz : "UTC");
	envp[k++] = arena_printf(a, "SLUICE_RUN_ID=%lld", (long long)x->run_id);
	envp[k++] = arena_printf(a, "SLUICE_STEP=%s", node->name);
	envp[k++] = arena_printf(a, "SLUICE_ATTEMPT=%d", x->s[i].attempt);
	envp[k++] = arena_printf(a, "SLUICE_OUTPUT=%s", x->s[i].output_path);
	/* keyed by name only (stepkey.h): the values enter the key as its params */
	const char *params = arena_printf(a, "%s/params/%s.json", x->run_dir, step->name);
	if (*attempt_dir && write_step_params(x, i, params) < 0)
		return NULL;
	envp[k++] = arena_printf(a, "SLUICE_PARAMS=%s", params);
	envp[k++] = arena_printf(a, "SLUICE_WORKSPACE=%s", x->p->dir);
	/* Python's output as it happens (logs -f, the log's stamps), unless the
	 * pipeline's or the step's env says otherwise (docs/running.md) */
	int own_unbuffered = 0;
	for (size_t e = 0; e < step->nenv; e++)
		own_unbuffered |= !strcmp(step->env[e].name, "PYTHONUNBUFFERED");
	if (!own_unbuffered)
		envp[k++] = "PYTHONUNBUFFERED=1";
	/* the values the command refers to: upstream values enter the cache key
	 * here; a secret's does not (keyed by its name, as one in `env:`) */
	for (size_t v = 0; v < nvals; v++) {
		const char *kv = x->s[i].vals[v];
		if (!*attempt_dir && !strncmp(kv, "SLUICE_SECRET_", 14))
			envp[k++] = arena_printf(a, "%.*s=(secret)", (int)strcspn(kv, "="), kv);
		else
			envp[k++] = (char *)kv;
	}
	for (size_t e = 0; e < step->nenv; e++) {
		const char *v = runexpr_render(x, i, step->env[e].value, "env");
		if (!v)
			return NULL;
		envp[k++] = arena_printf(a, "%s=%s", step->env[e].name, v);
	}
	envp[k] = NULL;
	return envp;
}
