/*
 * executor.c — the event loop that runs a DAG (see include/sluice/executor.h
 * for the step life cycle).
 *
 * One thread.  epoll watches: each running step's pidfd (exit), its log pipe
 * (output to stamp and write), and a signalfd (SIGINT, SIGTERM, SIGCHLD).
 * Deadlines (timeouts, SIGKILL after the grace period, retry backoff) are
 * kept per step and become the epoll timeout.  The ready set is scanned in
 * topological order, so among steps that could start, the earlier one does.
 */
#include "sluice/executor.h"

#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/cache.h"
#include "sluice/filehash.h"
#include "sluice/hash.h"
#include "sluice/noop.h"
#include "sluice/stepkey.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"
#include "sluice/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum st {
	ST_PENDING,
	ST_WAITING, /* backoff before a retry */
	ST_RUNNING,
	ST_SUCCEEDED,
	ST_FAILED,
	ST_UPSTREAM_FAILED,
	ST_SKIPPED,
	ST_CACHED,
	ST_CANCELLED,
	ST_REJECTED,
};

static const char *const st_names[] = {"pending",   "waiting",         "running", "succeeded",
				       "failed",    "upstream_failed", "skipped", "cached",
				       "cancelled", "rejected"};

static int st_done(enum st s)
{
	return s >= ST_SUCCEEDED;
}

static int st_ok(enum st s) /* satisfies a dependency */
{
	return s == ST_SUCCEEDED || s == ST_CACHED || s == ST_SKIPPED;
}

struct node {
	enum st st;
	int attempt;
	int ndeps_left;
	int selected; /* --only / --from */
	step_proc proc;
	int log_rd;  /* read end of the log pipe, or -1 */
	int log_fd;  /* the log file */
	strbuf line; /* a partial line waiting for its newline */
	int64_t started_ms, attempt_started_ms, deadline_ms, kill_at_ms, retry_at_ms;
	double started_wall, finished_wall;
	int timed_out, cancelling;
	int exit_code;
	char reason[256];
	char *command;     /* resolved, for the store */
	char *output_path; /* $SLUICE_OUTPUT of the current attempt */
	char *log_rel;
	char last_msg[200]; /* the last "sluice: ..." line a built-in printed: its reason */
	/* what later expressions may read */
	size_t nout, nmet;
	char **out_keys, **out_vals, **met_keys;
	double *met_vals;
	double cpus;
	long aidx; /* index in exec.active, or -1 */
	/* the cache */
	char **argv;  /* built when the step is keyed, used by its attempts */
	step_key key; /* valid when keyed */
	int keyed;
	int forced;    /* rerun --step: this step or one upstream of it */
	int would_run; /* plan: it runs (or may, after an upstream that runs) */
	int64_t cached_from;
	const char *why; /* why it runs, or where its result comes from (arena), or NULL */
	char (*out_hex)[SHA256_HEX_LEN + 1]; /* hashes of outputs + metrics once recorded */
};

struct exec {
	const pipeline *p;
	const dag *d;
	store *st;
	runner *r;
	int64_t run_id;
	const exec_options *opt;
	struct node *n;
	size_t *pos;   /* node → topological position */
	size_t *ready; /* min-heap of topological positions whose deps are done */
	size_t nready;
	size_t *active; /* nodes running or waiting for a retry */
	size_t nactive;
	int ep, sfd;
	int jobs, running;
	double cpus_total, cpus_used;
	uint64_t mem_total, mem_used; /* resources.memory, counted like cpus */
	int cancelled, failed_any, fail_fast_tripped;
	size_t done;
	char *self_exe;
	char *run_dir; /* state/runs/RUN */
	char *params_path;
	char *params_text; /* what params_path holds */
	strmap planned;    /* plan: output path → hash a cached step would restore */
	strmap progs;      /* program name → its path on the steps' PATH */
	arena mem;
	int64_t t0;
	int live_drawn;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mkdir -p, trying the whole path first: most parents exist already. */
static int mkdir_p(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -1;
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return -1;
	*slash = 0;
	if (mkdir_p(buf, mode) < 0)
		return -1;
	return mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -1;
}

/* ---- progress output -------------------------------------------------------- */

static void clear_live(struct exec *x)
{
	if (x->opt->out && x->opt->live && x->live_drawn) {
		fputs("\r\x1b[K", x->opt->out);
		x->live_drawn = 0;
	}
}

static void draw_live(struct exec *x)
{
	if (!x->opt->out || !x->opt->live)
		return;
	strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "\r[%zu/%zu]", x->done, x->d->n);
	int64_t now = now_ms();
	int shown = 0;
	for (size_t k = 0; k < x->d->n; k++) {
		size_t i = x->d->order[k];
		if (x->n[i].st != ST_RUNNING)
			continue;
		int64_t s = (now - x->n[i].started_ms) / 1000;
		strbuf_addf(&sb, "%s %s %02lld:%02lld", shown ? " |" : "", x->d->nodes[i].name,
			    (long long)(s / 60), (long long)(s % 60));
		if (++shown == 4)
			break;
	}
	strbuf_addstr(&sb, "\x1b[K");
	fputs(strbuf_str(&sb), x->opt->out);
	fflush(x->opt->out);
	x->live_drawn = 1;
	strbuf_release(&sb);
}

static void say(struct exec *x, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct exec *x, size_t i, const char *fmt, ...)
{
	if (!x->opt->out)
		return;
	clear_live(x);
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(x->opt->out, "[%zu/%zu] %s %s\n", x->done, x->d->n, x->d->nodes[i].name, buf);
	fflush(x->opt->out);
	draw_live(x);
}

__attribute__((format(printf, 3, 4))) static void set_why(struct exec *x, size_t i, const char *fmt,
							  ...)
{
	va_list ap;
	va_start(ap, fmt);
	x->n[i].why = arena_vprintf(&x->mem, fmt, ap);
	va_end(ap);
}

/* ---- the store ---------------------------------------------------------------- */

static void record(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	step_record s = {
		.name = (char *)dn->name,
		.step = (char *)dn->step->name,
		.status = (char *)st_names[nd->st],
		.reason = nd->reason[0] ? nd->reason : NULL,
		.attempts = nd->attempt,
		.exit_code = nd->exit_code,
		.started = nd->started_wall,
		.finished = nd->finished_wall,
		.command = nd->command,
		.cache_key = nd->keyed ? nd->key.key : NULL,
		.env_hash = nd->keyed ? nd->key.env_hash : NULL,
		.env_json = nd->keyed ? nd->key.env_json : NULL,
		.why = (char *)nd->why,
		.cached_from = nd->cached_from,
	};
	if (x->opt->dry_run)
		return;
	s.position = (int)x->pos[i];
	sl_error *err = NULL;
	if (store_put_step(x->st, x->run_id, &s, &err) < 0) {
		clear_live(x);
		fprintf(x->opt->out, "sluice: warning: %s\n", err->msg);
		sl_error_release(&err);
	}
}

/* The active list holds running and waiting nodes, so that the loop's
 * per-event work is proportional to what runs, not to the whole DAG. */
static void active_add(struct exec *x, size_t i)
{
	if (x->n[i].aidx >= 0)
		return;
	x->n[i].aidx = (long)x->nactive;
	x->active[x->nactive++] = i;
}

static void active_del(struct exec *x, size_t i)
{
	long k = x->n[i].aidx;
	if (k < 0)
		return;
	size_t last = x->active[--x->nactive];
	x->active[k] = last;
	x->n[last].aidx = k;
	x->n[i].aidx = -1;
}

static void ready_push(struct exec *x, size_t i)
{
	size_t *h = x->ready, k = x->nready++;
	h[k] = x->pos[i];
	while (k > 0 && h[(k - 1) / 2] > h[k]) {
		size_t p = (k - 1) / 2, t = h[p];
		h[p] = h[k];
		h[k] = t;
		k = p;
	}
}

static void ready_pop(struct exec *x)
{
	size_t *h = x->ready;
	h[0] = h[--x->nready];
	for (size_t k = 0;;) {
		size_t l = 2 * k + 1, r = l + 1, m = k;
		if (l < x->nready && h[l] < h[m])
			m = l;
		if (r < x->nready && h[r] < h[m])
			m = r;
		if (m == k)
			break;
		size_t t = h[m];
		h[m] = h[k];
		h[k] = t;
		k = m;
	}
}

static void set_state(struct exec *x, size_t i, enum st s)
{
	struct node *nd = &x->n[i];
	int was_done = st_done(nd->st);
	nd->st = s;
	if (st_done(s) && !was_done) {
		x->done++;
		nd->finished_wall = wall_now();
		active_del(x, i);
	}
	record(x, i);
}

/* ---- expressions at run time ---------------------------------------------------- */

struct rt_ctx {
	struct exec *x;
	size_t node;
	int depth;
};

static int rt_lookup(void *vctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		     size_t msgsize)
{
	struct rt_ctx *c = vctx;
	struct exec *x = c->x;
	const dag_node *self = &x->d->nodes[c->node];
	if (strcmp(parts[0], "run") == 0 && n == 2) {
		if (strcmp(parts[1], "id") == 0) {
			*out = (expr_value){.type = EXPR_NUM, .num = (double)x->run_id};
			return 0;
		}
		if (strcmp(parts[1], "trigger") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = x->opt->trigger};
			return 0;
		}
		if (strcmp(parts[1], "pipeline") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = x->p->name};
			return 0;
		}
	}
	if (strcmp(parts[0], "secrets") == 0 && n == 2) {
		const char *v = getenv(parts[1]);
		if (!v) {
			snprintf(msg, msgsize, "secret %s is not set in sluice's environment",
				 parts[1]);
			return -1;
		}
		*out = (expr_value){.type = EXPR_STR, .str = v};
		return 0;
	}
	if (strcmp(parts[0], "steps") == 0 && n >= 3) {
		long j = dag_find(x->d, parts[1]);
		if (j < 0) {
			snprintf(msg, msgsize,
				 "steps.%s: a matrix step's values are reached "
				 "through one instance: steps['%s[...]']",
				 parts[1], parts[1]);
			return -1;
		}
		struct node *o = &x->n[j];
		if (strcmp(parts[2], "status") == 0) {
			*out = (expr_value){.type = EXPR_STR, .str = st_names[o->st]};
			return 0;
		}
		if (n >= 4 && strcmp(parts[2], "outputs") == 0) {
			for (size_t k = 0; k < o->nout; k++)
				if (strcmp(o->out_keys[k], parts[3]) == 0) {
					*out = (expr_value){.type = EXPR_STR,
							    .str = o->out_vals[k]};
					return 0;
				}
			snprintf(msg, msgsize,
				 "step %s has no output '%s' (it appends key=value "
				 "lines to $SLUICE_OUTPUT)",
				 parts[1], parts[3]);
			return -1;
		}
		if (n >= 4 && strcmp(parts[2], "metrics") == 0) {
			strbuf key = STRBUF_INIT;
			for (size_t k = 3; k < n; k++)
				strbuf_addf(&key, "%s%s", k > 3 ? "." : "", parts[k]);
			for (size_t k = 0; k < o->nmet; k++)
				if (strcmp(o->met_keys[k], strbuf_str(&key)) == 0) {
					*out = (expr_value){.type = EXPR_NUM,
							    .num = o->met_vals[k]};
					strbuf_release(&key);
					return 0;
				}
			snprintf(msg, msgsize, "step %s has no metric '%s'", parts[1],
				 strbuf_str(&key));
			strbuf_release(&key);
			return -1;
		}
	}
	dag_lookup_ctx pc = {x->p, self, &x->mem, c->depth};
	return dag_plan_lookup(&pc, parts, n, out, msg, msgsize);
}

/* Render a template for node i; NULL with a reason in nd->reason. */
static const char *render(struct exec *x, size_t i, const char *text, const char *what)
{
	template *t;
	expr_error e;
	const char *s;
	if (!strchr(text, '$'))
		return text;
	struct rt_ctx c = {x, i, 0};
	if (template_parse(&x->mem, text, &t, &e) < 0 ||
	    template_render(t, &x->mem, rt_lookup, &c, &s, &e) < 0) {
		snprintf(x->n[i].reason, sizeof(x->n[i].reason), "%s: %.200s", what, e.msg);
		return NULL;
	}
	return s;
}

/* ---- building the command and the environment ----------------------------------- */

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
		const char *s = render(x, i, n->str, "with");
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

static char **build_argv(struct exec *x, size_t i)
{
	const pstep *st = x->d->nodes[i].step;
	struct node *nd = &x->n[i];
	arena *a = &x->mem;
	if (st->uses.s) {
		size_t nw = st->with ? st->with->n : 0;
		char **argv = arena_alloc(a, sizeof(char *) * (6 + 2 * nw));
		size_t k = 0;
		argv[k++] = x->self_exe;
		argv[k++] = "step";
		argv[k++] = (char *)st->uses.s;
		strbuf cmd = STRBUF_INIT;
		strbuf_addf(&cmd, "uses %s", st->uses.s);
		for (size_t w = 0; w < nw; w++) {
			const ynode *v = st->with->items[w];
			const char *val;
			if (v->kind == YNODE_SCALAR) {
				val = render(x, i, v->str, "with");
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
			argv[k++] = arena_printf(a, "%s=%s", st->with->keys[w], val);
			strbuf_addf(&cmd, " %s=%s", st->with->keys[w], val);
		}
		/* A data step that declares a JSON output but names no report
		 * writes its report there (design.md's example does just that). */
		const builtin_step *b = builtin_find(st->uses.s);
		int takes_report = 0;
		for (const char *const *key = b ? b->keys : NULL; key && *key; key++)
			takes_report |= !strcmp(*key, "report");
		if (takes_report && !ynode_get(st->with, "report")) {
			const dag_node *dn = &x->d->nodes[i];
			for (size_t o = 0; o < dn->noutputs; o++) {
				size_t len = strlen(dn->outputs[o]);
				if (len > 5 && !strcmp(dn->outputs[o] + len - 5, ".json")) {
					argv[k++] = "--with";
					argv[k++] = arena_printf(a, "report=%s", dn->outputs[o]);
					strbuf_addf(&cmd, " report=%s", dn->outputs[o]);
					break;
				}
			}
		}
		argv[k] = NULL;
		nd->command = arena_strdup(a, strbuf_str(&cmd));
		strbuf_release(&cmd);
		return argv;
	}
	const char *cmd = render(x, i, st->run.s, "run");
	if (!cmd)
		return NULL;
	nd->command = (char *)cmd;
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
		snprintf(nd->reason, sizeof(nd->reason), "run: the command is empty");
		return NULL;
	}
	char *prog = which(x, argv[0]);
	if (!prog) {
		snprintf(nd->reason, sizeof(nd->reason), "run: command not found: %s", argv[0]);
		return NULL;
	}
	argv[0] = prog;
	return argv;
}

static char **build_env(struct exec *x, size_t i, const char *attempt_dir)
{
	const dag_node *dn = &x->d->nodes[i];
	const pstep *st = dn->step;
	arena *a = &x->mem;
	size_t cap = st->nenv + 16;
	char **envp = arena_alloc(a, sizeof(char *) * cap);
	size_t k = 0;
	const char *tz = getenv("TZ");
	envp[k++] = arena_printf(a, "PATH=%s", step_path);
	envp[k++] = arena_printf(a, "HOME=%s/home", attempt_dir);
	envp[k++] = arena_printf(a, "TMPDIR=%s/tmp", attempt_dir);
	envp[k++] = "LANG=C.UTF-8";
	envp[k++] = arena_printf(a, "TZ=%s", tz && *tz ? tz : "UTC");
	envp[k++] = arena_printf(a, "SLUICE_RUN_ID=%lld", (long long)x->run_id);
	envp[k++] = arena_printf(a, "SLUICE_STEP=%s", dn->name);
	envp[k++] = arena_printf(a, "SLUICE_ATTEMPT=%d", x->n[i].attempt);
	envp[k++] = arena_printf(a, "SLUICE_OUTPUT=%s", x->n[i].output_path);
	envp[k++] = arena_printf(a, "SLUICE_PARAMS=%s", x->params_path);
	envp[k++] = arena_printf(a, "SLUICE_WORKSPACE=%s", x->p->dir);
	for (size_t e = 0; e < st->nenv; e++) {
		const char *v = render(x, i, st->env[e].value, "env");
		if (!v)
			return NULL;
		envp[k++] = arena_printf(a, "%s=%s", st->env[e].name, v);
	}
	envp[k] = NULL;
	return envp;
}

/* ---- starting and finishing attempts ----------------------------------------------- */

static void fail_now(struct exec *x, size_t i);
static void log_bytes(struct exec *x, size_t i, const char *buf, size_t n, int flush);

static const char **kept_files(struct exec *x, size_t i, size_t *n);

/* An output restored from the cache by hard link shares its inode with the cache
 * object: a step writing it in place would change the object too. */
static void unshare_outputs(struct exec *x, size_t i)
{
	size_t n;
	const char **paths = kept_files(x, i, &n);
	for (size_t k = 0; k < n; k++) {
		char *path = arena_printf(&x->mem, "%s/%s", x->p->dir, paths[k]);
		sl_error *err = NULL;
		if (cache_unshare(path, &err) < 0) {
			clear_live(x);
			fprintf(x->opt->out, "sluice: warning: %s\n", err->msg);
			sl_error_release(&err);
		}
	}
}

static int epoll_add(struct exec *x, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev);
}

#define TAG_PID (1ull << 32)
#define TAG_LOG (2ull << 32)
#define TAG_SIG (3ull << 32)

static void start_attempt(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	nd->attempt++;
	nd->reason[0] = 0;
	nd->last_msg[0] = 0;
	nd->timed_out = 0;
	char *dir = arena_printf(&x->mem, "%s/%s/%d", x->run_dir, dn->name, nd->attempt);
	char *home = arena_printf(&x->mem, "%s/home", dir),
	     *tmp = arena_printf(&x->mem, "%s/tmp", dir);
	if (mkdir_p(home, 0700) < 0 || mkdir_p(tmp, 0700) < 0) {
		snprintf(nd->reason, sizeof(nd->reason), "mkdir %s: %s", dir, strerror(errno));
		fail_now(x, i);
		return;
	}
	nd->output_path = arena_printf(&x->mem, "%s/output", dir);
	nd->log_rel = arena_printf(&x->mem, "runs/%lld/%s/%d/log", (long long)x->run_id, dn->name,
				   nd->attempt);
	char **argv = nd->argv ? nd->argv : build_argv(x, i);
	char **envp = argv ? build_env(x, i, dir) : NULL;
	if (!argv || !envp) {
		fail_now(x, i);
		return;
	}
	unshare_outputs(x, i);
	char *logpath = arena_printf(&x->mem, "%s/log", dir);
	nd->log_fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
	int pfd[2];
	if (nd->log_fd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(nd->reason, sizeof(nd->reason), "open log %s: %s", logpath,
			 strerror(errno));
		if (nd->log_fd >= 0)
			close(nd->log_fd);
		fail_now(x, i);
		return;
	}
	/* registry built-ins need the store and the network: they run outside the sandbox */
	const builtin_step *bs = dn->step->uses.s ? builtin_find(dn->step->uses.s) : NULL;
	step_launch l = {.name = dn->name,
			 .argv = argv,
			 .envp = envp,
			 .cwd = x->p->dir,
			 .out_fd = pfd[1],
			 .sandbox =
				 bs && !(bs->flags & BUILTIN_SANDBOXED) ? NULL : &dn->step->sandbox,
			 .attempt_dir = dir,
			 .outputs = (const char *const *)dn->outputs,
			 .noutputs = dn->noutputs,
			 .metrics = dn->metrics,
			 .state_dir = store_dir(x->st)};
	sl_error *err = NULL;
	int rc = x->r->ops->start(x->r, &l, &nd->proc, &err);
	close(pfd[1]);
	if (rc < 0) {
		snprintf(nd->reason, sizeof(nd->reason), "%s", err->msg);
		sl_error_release(&err);
		close(pfd[0]);
		close(nd->log_fd);
		fail_now(x, i);
		return;
	}
	if (nd->why) {
		char *line = arena_printf(&x->mem, "sluice: %s runs: %s\n", dn->name, nd->why);
		log_bytes(x, i, line, strlen(line), 0);
		nd->last_msg[0] = 0; /* not the step's own message */
	}
	nd->log_rd = pfd[0];
	fcntl(nd->log_rd, F_SETFL, O_NONBLOCK);
	epoll_add(x, nd->log_rd, TAG_LOG | i);
	if (nd->proc.pidfd >= 0)
		epoll_add(x, nd->proc.pidfd, TAG_PID | i);
	int64_t now = now_ms();
	if (!nd->started_ms) { /* the first attempt of this run, or of this resume */
		nd->started_ms = now;
		nd->started_wall = wall_now();
	}
	nd->attempt_started_ms = now;
	nd->deadline_ms = dn->step->timeout_ms ? now + dn->step->timeout_ms : 0;
	nd->kill_at_ms = 0;
	x->running++;
	x->cpus_used += nd->cpus;
	x->mem_used += dn->step->res.memory;
	active_add(x, i);
	set_state(x, i, ST_RUNNING);
	attempt_record ar = {.attempt = nd->attempt,
			     .status = "running",
			     .exit_code = -1,
			     .started = wall_now(),
			     .log_path = nd->log_rel,
			     .pid = nd->proc.pid};
	store_put_attempt(x->st, x->run_id, dn->name, &ar, NULL);
	if (nd->attempt == 1)
		say(x, i, "started");
	else
		say(x, i, "started (attempt %d)", nd->attempt);
}

/* Stamp and write complete lines; keep a partial one for later. */
static void log_bytes(struct exec *x, size_t i, const char *buf, size_t n, int flush)
{
	struct node *nd = &x->n[i];
	strbuf_add(&nd->line, buf, n);
	for (;;) {
		char *nl = memchr(nd->line.buf, '\n', nd->line.len);
		if (!nl && !(flush && nd->line.len))
			break;
		size_t len = nl ? (size_t)(nl - nd->line.buf) : nd->line.len;
		char stamp[64];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		size_t sl = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + sl, sizeof(stamp) - sl, ".%03ldZ ", ts.tv_nsec / 1000000);
		if (len > 8 && strncmp(nd->line.buf, "sluice: ", 8) == 0)
			snprintf(nd->last_msg, sizeof(nd->last_msg), "%.*s", (int)(len - 8),
				 nd->line.buf + 8);
		strbuf out = STRBUF_INIT;
		strbuf_addstr(&out, stamp);
		strbuf_add(&out, nd->line.buf, len);
		strbuf_addch(&out, '\n');
		/* redact secrets */
		for (size_t s = 0; s < x->p->secrets.n; s++) {
			const char *v = getenv(x->p->secrets.v[s].s);
			if (!v || strlen(v) < 4)
				continue;
			char *hit;
			while ((hit = strstr(out.buf, v)))
				memset(hit, '*', strlen(v));
		}
		if (write(nd->log_fd, out.buf, out.len) < 0) {
			/* a full disk must not stop the run; the reason says why later */
		}
		strbuf_release(&out);
		size_t consumed = nl ? len + 1 : len;
		memmove(nd->line.buf, nd->line.buf + consumed, nd->line.len - consumed);
		nd->line.len -= consumed;
		nd->line.buf[nd->line.len] = 0;
	}
}

static void drain_log(struct exec *x, size_t i, int final)
{
	struct node *nd = &x->n[i];
	if (nd->log_rd < 0)
		return;
	char buf[65536];
	for (;;) {
		ssize_t r = read(nd->log_rd, buf, sizeof(buf));
		if (r > 0) {
			log_bytes(x, i, buf, (size_t)r, 0);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || final || (r < 0 && errno != EAGAIN)) {
			log_bytes(x, i, "", 0, 1);
			epoll_ctl(x->ep, EPOLL_CTL_DEL, nd->log_rd, NULL);
			close(nd->log_rd);
			nd->log_rd = -1;
		}
		break;
	}
}

static void propagate_failure(struct exec *x, size_t i)
{
	/* every node downstream that has not run becomes upstream_failed */
	const dag_node *dn = &x->d->nodes[i];
	for (size_t k = 0; k < dn->nrdeps; k++) {
		size_t j = dn->rdeps[k];
		if (x->n[j].st != ST_PENDING)
			continue;
		snprintf(x->n[j].reason, sizeof(x->n[j].reason), "%s %s", dn->name,
			 st_names[x->n[i].st]);
		set_state(x, j, ST_UPSTREAM_FAILED);
		say(x, j, "upstream_failed (%s)", x->n[j].reason);
		propagate_failure(x, j);
	}
}

static void settle(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	if (st_ok(nd->st)) {
		for (size_t k = 0; k < dn->nrdeps; k++) {
			size_t j = dn->rdeps[k];
			if (--x->n[j].ndeps_left == 0 && x->n[j].st == ST_PENDING)
				ready_push(x, j);
		}
	} else {
		x->failed_any |= nd->st == ST_FAILED;
		propagate_failure(x, i);
	}
}

static void fail_now(struct exec *x, size_t i)
{
	set_state(x, i, ST_FAILED);
	say(x, i, "failed: %s", x->n[i].reason);
	settle(x, i);
}

/* Read $SLUICE_OUTPUT (key=value lines) and the metrics JSON into the node and the store. */
static int collect_outputs(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	FILE *f = fopen(nd->output_path, "re");
	if (f) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		while ((len = getline(&line, &cap, f)) >= 0) {
			while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = 0;
			char *eq = strchr(line, '=');
			if (!eq || eq == line)
				continue;
			*eq = 0;
			nd->out_keys = arena_grow(&x->mem, nd->out_keys, sizeof(char *), nd->nout,
						  nd->nout + 1);
			nd->out_vals = arena_grow(&x->mem, nd->out_vals, sizeof(char *), nd->nout,
						  nd->nout + 1);
			/* a key given twice: the last line wins */
			size_t k;
			for (k = 0; k < nd->nout; k++)
				if (strcmp(nd->out_keys[k], line) == 0)
					break;
			nd->out_keys[k] = arena_strdup(&x->mem, line);
			nd->out_vals[k] = arena_strdup(&x->mem, eq + 1);
			if (k == nd->nout)
				nd->nout++;
		}
		free(line);
		fclose(f);
		store_set_outputs(x->st, x->run_id, dn->name, (const char *const *)nd->out_keys,
				  (const char *const *)nd->out_vals, nd->nout, NULL);
	}
	if (!dn->metrics)
		return 0;
	char *path = arena_printf(&x->mem, "%s/%s", x->p->dir, dn->metrics);
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		snprintf(nd->reason, sizeof(nd->reason), "metrics %s: %s", dn->metrics,
			 access(path, F_OK) == 0 ? je.text : "missing");
		return -1;
	}
	/* flatten {"a": {"b": 1}} to a.b = 1; booleans count as 0/1 */
	struct frame {
		json_t *obj;
		char *prefix;
	} stack[32];
	int sp = 0;
	stack[sp++] = (struct frame){root, ""};
	while (sp) {
		struct frame fr = stack[--sp];
		if (!json_is_object(fr.obj))
			continue;
		const char *key;
		json_t *v;
		json_object_foreach(fr.obj, key, v)
		{
			char *full = *fr.prefix ? arena_printf(&x->mem, "%s.%s", fr.prefix, key)
						: arena_strdup(&x->mem, key);
			double num;
			if (json_is_number(v))
				num = json_number_value(v);
			else if (json_is_boolean(v))
				num = json_is_true(v);
			else {
				if (json_is_object(v) && sp < 32)
					stack[sp++] = (struct frame){v, full};
				continue;
			}
			nd->met_keys = arena_grow(&x->mem, nd->met_keys, sizeof(char *), nd->nmet,
						  nd->nmet + 1);
			nd->met_vals = arena_grow(&x->mem, nd->met_vals, sizeof(double), nd->nmet,
						  nd->nmet + 1);
			nd->met_keys[nd->nmet] = full;
			nd->met_vals[nd->nmet++] = num;
		}
	}
	json_decref(root);
	store_set_metrics(x->st, x->run_id, dn->name, (const char *const *)nd->met_keys,
			  nd->met_vals, nd->nmet, NULL);
	return 0;
}

/* The files a step leaves for later: its declared outputs and its metrics file
 * (when that is not declared too).  *n of them, from the arena. */
static const char **kept_files(struct exec *x, size_t i, size_t *n)
{
	const dag_node *dn = &x->d->nodes[i];
	const char **v = arena_alloc(&x->mem, sizeof(char *) * (dn->noutputs + 1));
	size_t k = 0;
	for (; k < dn->noutputs; k++)
		v[k] = dn->outputs[k];
	int listed = !dn->metrics;
	for (size_t j = 0; j < dn->noutputs && !listed; j++)
		listed = !strcmp(dn->outputs[j], dn->metrics);
	if (!listed)
		v[k++] = dn->metrics;
	*n = k;
	return v;
}

/* Hash the outputs (and metrics file), store them in the content-addressed cache,
 * then record them: a step is marked succeeded only after this, so a succeeded
 * step always has its outputs in the cache (what resume and rerun rely on). */
static int record_files(struct exec *x, size_t i)
{
	const dag_node *dn = &x->d->nodes[i];
	struct node *nd = &x->n[i];
	size_t n;
	const char **paths = kept_files(x, i, &n);
	if (!n)
		return 0;
	file_record *f = xcalloc(n, sizeof(file_record));
	nd->out_hex = arena_alloc(&x->mem, n * sizeof(*nd->out_hex));
	int rc = 0;
	for (size_t k = 0; k < n; k++) {
		char *path = arena_printf(&x->mem, "%s/%s", x->p->dir, paths[k]);
		uint64_t size = 0;
		sl_error *err = NULL;
		f[k].step = (char *)dn->name;
		f[k].path = (char *)paths[k];
		/* a directory hashes as its sorted manifest */
		if (filehash_path(x->st, path, nd->out_hex[k], &size, &err) == 0 &&
		    cache_put(x->st, path, nd->out_hex[k], &err) == 0) {
			f[k].sha256 = nd->out_hex[k];
			f[k].size = (int64_t)size;
		} else {
			snprintf(nd->reason, sizeof(nd->reason), "%s", err->msg);
			sl_error_release(&err);
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		store_set_files(x->st, x->run_id, dn->name, f, n, NULL);
	free(f);
	return rc;
}

static void finish_attempt(struct exec *x, size_t i, const step_exit *ex)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	const pstep *st = dn->step;
	/* leftovers of the step's process group go with it */
	x->r->ops->signal(x->r, &nd->proc, SIGKILL);
	drain_log(x, i, 1);
	close(nd->log_fd);
	nd->log_fd = -1;
	x->running--;
	x->cpus_used -= nd->cpus;
	x->mem_used -= st->res.memory;
	unsigned cause = 0;
	nd->exit_code = ex->exited ? ex->code : -1;
	if (nd->cancelling) {
		snprintf(nd->reason, sizeof(nd->reason), "cancelled");
	} else if (nd->timed_out) {
		char d[32];
		format_duration_ms(st->timeout_ms, d, sizeof(d));
		snprintf(nd->reason, sizeof(nd->reason), "timeout after %s", d);
		cause = RETRY_ON_TIMEOUT;
	} else if (ex->reason[0]) {
		/* the runner knows better: sandbox setup, memory limit, missing output */
		snprintf(nd->reason, sizeof(nd->reason), "%s", ex->reason);
		cause = ex->oom ? RETRY_ON_OOM : RETRY_ON_ERROR;
	} else if (!ex->exited) {
		snprintf(nd->reason, sizeof(nd->reason), "signal %d (%s)", ex->signal,
			 strsignal(ex->signal));
		cause = ex->signal == SIGKILL && st->sandbox.memory ? RETRY_ON_OOM
								    : RETRY_ON_SIGNAL;
	} else if (ex->code != 0) {
		/* a built-in says why it failed on its last line: that is the reason */
		if (st->uses.s && nd->last_msg[0])
			snprintf(nd->reason, sizeof(nd->reason), "exit %d: %s", ex->code,
				 nd->last_msg);
		else
			snprintf(nd->reason, sizeof(nd->reason), "exit %d", ex->code);
		cause = RETRY_ON_ERROR;
	} else {
		for (size_t k = 0; k < dn->noutputs; k++) {
			char *path = arena_printf(&x->mem, "%s/%s", x->p->dir, dn->outputs[k]);
			if (access(path, F_OK) < 0) {
				snprintf(nd->reason, sizeof(nd->reason), "missing output %s",
					 dn->outputs[k]);
				cause = RETRY_ON_ERROR;
				break;
			}
		}
		if (!cause && collect_outputs(x, i) < 0)
			cause = RETRY_ON_ERROR;
		if (!cause && record_files(x, i) < 0)
			cause = RETRY_ON_ERROR;
	}
	attempt_record ar = {.attempt = nd->attempt,
			     .status = (char *)(cause || nd->cancelling ? "failed" : "succeeded"),
			     .reason = nd->reason[0] ? nd->reason : NULL,
			     .exit_code = nd->exit_code,
			     .signal = ex->exited ? 0 : ex->signal,
			     .started = nd->started_wall,
			     .finished = wall_now(),
			     .log_path = nd->log_rel,
			     .pid = nd->proc.pid,
			     .max_rss_kb = ex->max_rss_kb};
	store_put_attempt(x->st, x->run_id, dn->name, &ar, NULL);
	if (nd->cancelling) {
		set_state(x, i, ST_CANCELLED);
		say(x, i, "cancelled");
		return;
	}
	if (!cause) {
		set_state(x, i, ST_SUCCEEDED);
		say(x, i, "succeeded in %.1fs", (double)(now_ms() - nd->started_ms) / 1000.0);
		settle(x, i);
		return;
	}
	if (nd->attempt <= st->retries.limit && (st->retries.on & cause) && !x->cancelled &&
	    !x->fail_fast_tripped) {
		double backoff = (double)st->retries.backoff_ms *
				 pow(st->retries.factor, (double)(nd->attempt - 1));
		if (st->retries.max_backoff_ms && backoff > (double)st->retries.max_backoff_ms)
			backoff = (double)st->retries.max_backoff_ms;
		nd->retry_at_ms = now_ms() + (int64_t)backoff;
		set_state(x, i, ST_WAITING);
		say(x, i, "%s; retry %d of %d in %.1fs", nd->reason, nd->attempt, st->retries.limit,
		    backoff / 1000.0);
		return;
	}
	set_state(x, i, ST_FAILED);
	char *log_abs = arena_printf(&x->mem, "%s/%s", store_dir(x->st), nd->log_rel);
	say(x, i, "failed: %s (log: %s)", nd->reason, log_abs);
	settle(x, i);
}

/* ---- the cache: keys, reuse and why (design.md section 5) ----------------------------- */

static int side_effects(const pstep *st)
{
	const builtin_step *b = st->uses.s ? builtin_find(st->uses.s) : NULL;
	return b && (b->flags & BUILTIN_SIDE_EFFECTS);
}

/* A template naming run.id makes every run different: such a step never counts as
 * "nothing changed" for the no-op index (it may still be cached by key). */
static int is_volatile(const pstep *st)
{
	if ((st->run.s && strstr(st->run.s, "run.id")) ||
	    (st->when.s && strstr(st->when.s, "run.id")))
		return 1;
	for (size_t e = 0; e < st->nenv; e++)
		if (strstr(st->env[e].value, "run.id"))
			return 1;
	for (size_t w = 0; st->with && w < st->with->n; w++)
		if (st->with->items[w]->kind == YNODE_SCALAR &&
		    strstr(st->with->items[w]->str, "run.id"))
			return 1;
	return 0;
}

/* Build the command and environment once and compute the cache key. */
static int key_node(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	const pstep *st = dn->step;
	nd->argv = build_argv(x, i);
	char **envp = nd->argv ? build_env(x, i, "") : NULL;
	if (!envp)
		return -1;
	const char **secret = arena_alloc(&x->mem, sizeof(char *) * (st->nenv + 1));
	for (size_t e = 0, k = 0; e < st->nenv; e++)
		if (strstr(st->env[e].value, "secrets."))
			secret[k++] = st->env[e].name;
	size_t nkept;
	const char **kept = kept_files(x, i, &nkept);
	step_key_in in = {
		.command = nd->command,
		.envp = envp,
		.secret_env = secret,
		.program = st->uses.s ? NULL : nd->argv[0],
		.params_json = x->params_text,
		.workspace = x->p->dir,
		.inputs = dn->inputs,
		.ninputs = dn->ninputs,
		.outputs = kept,
		.noutputs = nkept,
		.sandbox = &st->sandbox,
		.gpu = "none",
		.known = x->opt->dry_run ? &x->planned : NULL,
	};
	sl_error *err = NULL;
	if (stepkey_compute(x->st, &in, &nd->key, &err) < 0) {
		snprintf(nd->reason, sizeof(nd->reason), "cache key: %s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	nd->keyed = 1;
	if (!x->opt->dry_run)
		store_set_inputs(x->st, x->run_id, dn->name, nd->key.inputs, nd->key.ninputs, NULL);
	return 0;
}

/* Fill the node's outputs and metrics (what expressions read) from a recorded step. */
static void adopt_values(struct exec *x, size_t i, int64_t run, const char *name, int write)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	kv_record *o = NULL, *m = NULL;
	size_t no = 0, nm = 0;
	sl_error *err = NULL;
	if (store_get_outputs(x->st, run, name, &o, &no, &err) < 0 ||
	    store_get_metrics(x->st, run, name, &m, &nm, &err) < 0)
		sl_error_release(&err);
	nd->nout = no;
	nd->out_keys = arena_alloc(&x->mem, sizeof(char *) * (no + 1));
	nd->out_vals = arena_alloc(&x->mem, sizeof(char *) * (no + 1));
	for (size_t k = 0; k < no; k++) {
		nd->out_keys[k] = arena_strdup(&x->mem, o[k].key);
		nd->out_vals[k] = arena_strdup(&x->mem, o[k].value);
	}
	nd->nmet = nm;
	nd->met_keys = arena_alloc(&x->mem, sizeof(char *) * (nm + 1));
	nd->met_vals = arena_alloc(&x->mem, sizeof(double) * (nm + 1));
	for (size_t k = 0; k < nm; k++) {
		nd->met_keys[k] = arena_strdup(&x->mem, m[k].key);
		nd->met_vals[k] = m[k].num;
	}
	if (write && run != x->run_id) {
		store_set_outputs(x->st, x->run_id, dn->name, (const char *const *)nd->out_keys,
				  (const char *const *)nd->out_vals, no, NULL);
		store_set_metrics(x->st, x->run_id, dn->name, (const char *const *)nd->met_keys,
				  nd->met_vals, nm, NULL);
	}
	kv_record_free_array(o, no);
	kv_record_free_array(m, nm);
}

/* Put the recorded output files of (run, name) back into the workspace where they
 * differ.  0, or -1 with the reason in why. */
static int restore_files(struct exec *x, size_t i, int64_t run, const char *name, int write)
{
	struct node *nd = &x->n[i];
	size_t nkept;
	const char **kept = kept_files(x, i, &nkept);
	file_record *f = NULL;
	size_t nf = 0;
	sl_error *err = NULL;
	if (store_get_files(x->st, run, name, &f, &nf, &err) < 0) {
		set_why(x, i, "%s", err->msg);
		sl_error_release(&err);
		return -1;
	}
	int rc = 0;
	nd->out_hex = arena_alloc(&x->mem, (nkept + 1) * sizeof(*nd->out_hex));
	for (size_t k = 0; k < nkept && rc == 0; k++) {
		const file_record *r = NULL;
		for (size_t j = 0; j < nf && !r; j++)
			if (!strcmp(f[j].path, kept[k]))
				r = &f[j];
		if (!r || !r->sha256 || !cache_has(x->st, r->sha256)) {
			set_why(x, i, "%s of run %lld is not in the cache", kept[k],
				(long long)run);
			rc = -1;
			break;
		}
		snprintf(nd->out_hex[k], sizeof(nd->out_hex[k]), "%s", r->sha256);
		if (!write) {
			strmap_put(&x->planned, arena_strdup(&x->mem, kept[k]), nd->out_hex[k]);
			continue;
		}
		char *path = arena_printf(&x->mem, "%s/%s", x->p->dir, kept[k]);
		enum cache_how how;
		if (cache_restore(x->st, r->sha256, path, &how, &err) < 0) {
			set_why(x, i, "restoring %s failed: %s", kept[k], err->msg);
			sl_error_release(&err);
			rc = -1;
		} else if (how != CACHE_SAME) {
			say(x, i, "restored %s from the cache (%s)", kept[k], cache_how_name(how));
		}
	}
	if (rc == 0 && write && run != x->run_id)
		store_set_files(x->st, x->run_id, x->d->nodes[i].name, f, nf, NULL);
	file_record_free_array(f, nf);
	return rc;
}

/* The upstream instance that writes input k of node i, or NULL. */
static const char *producer_of(struct exec *x, size_t i, const char *input)
{
	const dag_node *dn = &x->d->nodes[i];
	size_t len = strlen(input);
	for (size_t d = 0; d < dn->ndeps; d++) {
		const dag_node *up = &x->d->nodes[dn->deps[d]];
		for (size_t o = 0; o < up->noutputs; o++)
			if (!strcmp(up->outputs[o], input) ||
			    (!strncmp(up->outputs[o], input, len) && up->outputs[o][len] == '/'))
				return up->name;
	}
	return NULL;
}

static void explain(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	step_record prev;
	file_record *pin = NULL;
	size_t npin = 0;
	sl_error *err = NULL;
	int found = x->st ? store_last_step(x->st, x->p->name, x->p->dir, dn->name, x->run_id,
					    &prev, &err)
			  : 0;
	if (found < 0) {
		sl_error_release(&err);
		found = 0;
	}
	if (found && store_get_inputs(x->st, prev.run_id, dn->name, &pin, &npin, &err) < 0)
		sl_error_release(&err);
	const char **producers = arena_alloc(&x->mem, sizeof(char *) * (nd->key.ninputs + 1));
	for (size_t k = 0; k < nd->key.ninputs; k++)
		producers[k] = producer_of(x, i, nd->key.inputs[k].path);
	char why[512];
	stepkey_explain(&nd->key, nd->command, found ? &prev : NULL, pin, npin, producers, why,
			sizeof(why));
	set_why(x, i, "%s", why);
	file_record_free_array(pin, npin);
	if (found)
		step_record_release(&prev);
}

/* 1 when node i is taken from the cache (or from the rerun's parent), 0 when it
 * must run (nd->why says why). */
static int reuse(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const pstep *st = x->d->nodes[i].step;
	if (x->opt->force) {
		set_why(x, i, "forced (--force)");
		return 0;
	}
	if (nd->forced) {
		set_why(x, i, "forced (--step %s)", x->opt->force_step);
		return 0;
	}
	/* a rerun takes even an uncached step from its parent: it succeeded there */
	int parent_only = !st->cache || side_effects(st);
	if (parent_only && !x->opt->parent_run) {
		set_why(x, i, "%s",
			!st->cache ? "cache: false" : "it has side effects: never cached");
		return 0;
	}
	step_record *c = NULL;
	size_t nc = 0;
	sl_error *err = NULL;
	if (x->st &&
	    store_find_cached(x->st, nd->key.key, x->opt->parent_run, x->run_id, &c, &nc, &err) < 0)
		sl_error_release(&err);
	for (size_t k = 0; k < nc; k++) {
		if (parent_only && c[k].run_id != x->opt->parent_run)
			continue;
		if (restore_files(x, i, c[k].run_id, c[k].name, !x->opt->dry_run) < 0)
			continue;
		adopt_values(x, i, c[k].run_id, c[k].name, !x->opt->dry_run);
		nd->cached_from = c[k].cached_from ? c[k].cached_from : c[k].run_id;
		set_why(x, i, "nothing changed since run %lld", (long long)nd->cached_from);
		step_record_free_array(c, nc);
		return 1;
	}
	step_record_free_array(c, nc);
	explain(x, i);
	return 0;
}

/* ---- scheduling --------------------------------------------------------------------- */

static void consider(struct exec *x, size_t i)
{
	struct node *nd = &x->n[i];
	const dag_node *dn = &x->d->nodes[i];
	const pstep *st = dn->step;
	if (x->opt->dry_run) {
		/* after an upstream that runs, nothing can be known yet */
		for (size_t k = 0; k < dn->ndeps && nd->selected; k++)
			if (x->n[dn->deps[k]].would_run) {
				nd->would_run = 1;
				set_why(x, i, "after upstream %s runs",
					x->d->nodes[dn->deps[k]].name);
				set_state(x, i, ST_SUCCEEDED);
				settle(x, i);
				return;
			}
	}
	if (!nd->selected) {
		snprintf(nd->reason, sizeof(nd->reason), "not selected (%s)",
			 x->opt->only ? "--only" : "--from");
		set_state(x, i, ST_SKIPPED);
		settle(x, i);
		return;
	}
	if (st->when.s) {
		template *t;
		expr_error e;
		expr_value v;
		struct rt_ctx c = {x, i, 0};
		if (template_parse(&x->mem, st->when.s, &t, &e) < 0 ||
		    template_eval(t, &x->mem, rt_lookup, &c, &v, &e) < 0) {
			snprintf(nd->reason, sizeof(nd->reason), "when: %.200s", e.msg);
			fail_now(x, i);
			return;
		}
		if (!expr_truthy(&v)) {
			snprintf(nd->reason, sizeof(nd->reason), "when: %s is false", st->when.s);
			set_state(x, i, ST_SKIPPED);
			say(x, i, "skipped (%s)", nd->reason);
			settle(x, i);
			return;
		}
	}
	if (key_node(x, i) < 0) {
		fail_now(x, i);
		return;
	}
	if (reuse(x, i)) {
		set_state(x, i, ST_CACHED);
		say(x, i, "cached (%s)", nd->why);
		settle(x, i);
		return;
	}
	if (x->opt->dry_run) {
		nd->would_run = 1;
		set_state(x, i, ST_SUCCEEDED);
		settle(x, i);
		return;
	}
	if (nd->cpus > x->cpus_total) {
		snprintf(nd->reason, sizeof(nd->reason),
			 "needs %g cpus; this machine has %g (resources.cpus)", nd->cpus,
			 x->cpus_total);
		fail_now(x, i);
		return;
	}
	if (st->res.memory > x->mem_total) {
		char want[32], have[32];
		format_size(st->res.memory, want, sizeof(want));
		format_size(x->mem_total, have, sizeof(have));
		snprintf(nd->reason, sizeof(nd->reason),
			 "needs %s of memory; this machine has %s (resources.memory)", want, have);
		fail_now(x, i);
		return;
	}
	start_attempt(x, i);
}

static uint64_t node_mem(const struct exec *x, const struct node *nd)
{
	return x->d->nodes[nd - x->n].step->res.memory;
}

static int fits(struct exec *x, const struct node *nd)
{
	if (x->running >= x->jobs)
		return 0;
	/* a step bigger than what is free waits for the machine to empty */
	return x->running == 0 || (x->cpus_used + nd->cpus <= x->cpus_total + 1e-9 &&
				   x->mem_used + node_mem(x, nd) <= x->mem_total);
}

/* Start whatever can start: due retries, then ready steps in topological order. */
static void schedule(struct exec *x)
{
	if (x->cancelled || x->fail_fast_tripped)
		return;
	int64_t now = now_ms();
	/* backwards: start_attempt may remove the node it fails from the list */
	for (size_t k = x->nactive; k-- > 0;) {
		if (k >= x->nactive)
			continue;
		size_t i = x->active[k];
		struct node *nd = &x->n[i];
		if (nd->st == ST_WAITING && now >= nd->retry_at_ms && fits(x, nd))
			start_attempt(x, i);
	}
	while (x->nready && !x->cancelled && !x->fail_fast_tripped) {
		size_t i = x->d->order[x->ready[0]];
		struct node *nd = &x->n[i];
		if (nd->st != ST_PENDING) { /* became upstream_failed or cancelled meanwhile */
			ready_pop(x);
			continue;
		}
		if (nd->selected && !fits(x, nd))
			break;
		ready_pop(x);
		consider(x, i);
	}
}

static void cancel_all(struct exec *x, const char *why)
{
	int64_t now = now_ms();
	for (size_t i = 0; i < x->d->n; i++) {
		struct node *nd = &x->n[i];
		if (nd->st == ST_RUNNING && !nd->cancelling) {
			nd->cancelling = 1;
			x->r->ops->signal(x->r, &nd->proc, SIGTERM);
			nd->kill_at_ms = now + x->d->nodes[i].step->grace_ms;
		} else if (nd->st == ST_PENDING || nd->st == ST_WAITING) {
			snprintf(nd->reason, sizeof(nd->reason), "%s", why);
			set_state(x, i, ST_CANCELLED);
		}
	}
}

static void check_deadlines(struct exec *x)
{
	int64_t now = now_ms();
	for (size_t k = 0; k < x->nactive; k++) {
		size_t i = x->active[k];
		struct node *nd = &x->n[i];
		if (nd->st != ST_RUNNING)
			continue;
		if (nd->deadline_ms && now >= nd->deadline_ms && !nd->timed_out &&
		    !nd->cancelling) {
			nd->timed_out = 1;
			x->r->ops->signal(x->r, &nd->proc, SIGTERM);
			nd->kill_at_ms = now + x->d->nodes[i].step->grace_ms;
		}
		if (nd->kill_at_ms && now >= nd->kill_at_ms) {
			x->r->ops->signal(x->r, &nd->proc, SIGKILL);
			nd->kill_at_ms = 0;
		}
	}
}

static int next_timeout(struct exec *x)
{
	int64_t now = now_ms(), next = now + (x->opt->live ? 1000 : 60000);
	for (size_t k = 0; k < x->nactive; k++) {
		struct node *nd = &x->n[x->active[k]];
		if (nd->st == ST_RUNNING) {
			if (nd->deadline_ms && !nd->timed_out && nd->deadline_ms < next)
				next = nd->deadline_ms;
			if (nd->kill_at_ms && nd->kill_at_ms < next)
				next = nd->kill_at_ms;
			if (nd->proc.pidfd < 0 && now + 50 < next)
				next = now + 50; /* no pidfd: poll for the exit */
		} else if (nd->st == ST_WAITING && nd->retry_at_ms < next) {
			next = nd->retry_at_ms;
		}
	}
	return next <= now ? 0 : (int)(next - now);
}

/* Orphans of steps (a grandchild whose parent died) are re-parented to us,
 * the subreaper: reap them so they do not linger as zombies, but never
 * take the exit status of a step leader, which its runner reaps. */
static void reap_orphans(struct exec *x)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		for (size_t k = 0; k < x->nactive; k++)
			if (x->n[x->active[k]].st == ST_RUNNING &&
			    x->n[x->active[k]].proc.pid == si.si_pid)
				return;
		waitpid(si.si_pid, NULL, WNOHANG);
	}
}

static void reap_all(struct exec *x)
{
	for (size_t k = x->nactive; k-- > 0;) {
		if (k >= x->nactive)
			continue;
		size_t i = x->active[k];
		struct node *nd = &x->n[i];
		if (nd->st != ST_RUNNING)
			continue;
		step_exit ex;
		sl_error *err = NULL;
		int r = x->r->ops->finish(x->r, &nd->proc, &ex, &err);
		if (r < 0) {
			sl_error_release(&err);
			continue;
		}
		if (r == 1) {
			if (nd->proc.pidfd >= 0)
				epoll_ctl(x->ep, EPOLL_CTL_DEL, nd->proc.pidfd, NULL);
			finish_attempt(x, i, &ex);
		}
	}
	reap_orphans(x);
}

/* Which nodes run: all, --only NAME (a step's instances or one instance), or
 * --from NAME and everything downstream of it. */
static int select_nodes(struct exec *x, sl_error **err)
{
	const char *want = x->opt->only ? x->opt->only : x->opt->from;
	if (!want) {
		for (size_t i = 0; i < x->d->n; i++)
			x->n[i].selected = 1;
		return 0;
	}
	int found = 0;
	for (size_t i = 0; i < x->d->n; i++) {
		if (strcmp(x->d->nodes[i].name, want) == 0 ||
		    strcmp(x->d->nodes[i].step->name, want) == 0) {
			x->n[i].selected = 1;
			found = 1;
		}
	}
	if (!found)
		return sl_error_usage(err, "%s %s: no such step in %s",
				      x->opt->only ? "--only" : "--from", want, x->p->path);
	if (x->opt->from)
		for (size_t k = 0; k < x->d->n; k++) {
			size_t i = x->d->order[k];
			if (!x->n[i].selected)
				continue;
			for (size_t r = 0; r < x->d->nodes[i].nrdeps; r++)
				x->n[x->d->nodes[i].rdeps[r]].selected = 1;
		}
	return 0;
}

static int write_params(struct exec *x, sl_error **err)
{
	char *text = pipeline_params_json(x->p, 1);
	x->params_text = arena_strdup(&x->mem, text);
	free(text);
	if (x->opt->dry_run)
		return 0;
	FILE *f = fopen(x->params_path, "we");
	if (!f)
		return sl_error_errno(err, errno, "write %s", x->params_path);
	int bad = fputs(x->params_text, f) < 0;
	if (fclose(f) != 0 || bad)
		return sl_error_errno(err, errno, "write %s", x->params_path);
	return 0;
}

/* rerun --step NAME: NAME (a step or one instance) and everything downstream */
static void mark_forced(struct exec *x)
{
	const char *want = x->opt->force_step;
	if (!want)
		return;
	for (size_t k = 0; k < x->d->n; k++) {
		size_t i = x->d->order[k];
		const dag_node *dn = &x->d->nodes[i];
		if (!strcmp(dn->name, want) || !strcmp(dn->step->name, want))
			x->n[i].forced = 1;
		if (x->n[i].forced)
			for (size_t r = 0; r < dn->nrdeps; r++)
				x->n[dn->rdeps[r]].forced = 1;
	}
}

/* What executor_run and executor_plan share: the nodes, the machine, the params. */
static int exec_init(struct exec *x, sl_error **err)
{
	const dag *d = x->d;
	/* from the arena: its chunks are mapped with MAP_POPULATE, one call instead of a
	 * page fault per page of a 10,000-node array (arena.c) */
	x->n = arena_alloc(&x->mem, (d->n + 1) * sizeof(struct node));
	for (size_t i = 0; i < d->n; i++) /* before any `goto out`, which closes them */
		x->n[i].log_rd = x->n[i].log_fd = -1;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	x->cpus_total = cores > 0 ? (double)cores : 1;
	x->jobs = x->opt->jobs > 0 ? x->opt->jobs : (int)x->cpus_total;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	x->mem_total = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : UINT64_MAX;
	x->t0 = now_ms();
	x->ep = -1;
	x->sfd = -1;
	char exe[PATH_MAX];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el <= 0)
		return sl_error_errno(err, errno, "readlink /proc/self/exe");
	exe[el] = 0;
	x->self_exe = arena_strdup(&x->mem, exe);
	x->run_dir = arena_printf(&x->mem, "%s/runs/%lld", x->st ? store_dir(x->st) : ".",
				  (long long)x->run_id);
	x->params_path = arena_printf(&x->mem, "%s/params.json", x->run_dir);
	if (!x->opt->dry_run && mkdir_p(x->run_dir, 0755) < 0)
		return sl_error_errno(err, errno, "mkdir %s", x->run_dir);
	if (write_params(x, err) < 0 || select_nodes(x, err) < 0)
		return -1;
	x->pos = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	x->ready = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	x->active = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	for (size_t k = 0; k < d->n; k++)
		x->pos[d->order[k]] = k;
	for (size_t i = 0; i < d->n; i++) {
		x->n[i].ndeps_left = (int)d->nodes[i].ndeps;
		x->n[i].exit_code = -1;
		x->n[i].cpus = d->nodes[i].step->res.cpus;
		x->n[i].aidx = -1;
		if (!d->nodes[i].ndeps)
			ready_push(x, i);
	}
	mark_forced(x);
	return 0;
}

static void exec_free(struct exec *x)
{
	for (size_t i = 0; x->n && i < x->d->n; i++)
		stepkey_release(&x->n[i].key);
	strmap_release(&x->planned);
	strmap_release(&x->progs);
	arena_release(&x->mem);
}

int executor_plan(const pipeline *p, const dag *d, store *st, const exec_options *opt,
		  plan_entry **out, sl_error **err)
{
	exec_options o = *opt;
	o.dry_run = 1;
	o.out = NULL;
	o.live = 0;
	struct exec x = {.p = p, .d = d, .st = st, .run_id = 0, .opt = &o};
	*out = NULL;
	if (exec_init(&x, err) < 0) {
		exec_free(&x);
		return -1;
	}
	while (x.nready) {
		size_t i = d->order[x.ready[0]];
		ready_pop(&x);
		if (x.n[i].st == ST_PENDING)
			consider(&x, i);
	}
	plan_entry *e = xcalloc(d->n + 1, sizeof(plan_entry));
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		struct node *nd = &x.n[i];
		e[k].name = d->nodes[i].name;
		e[k].action = nd->would_run ? "run" : nd->st == ST_CACHED ? "cached" : "skip";
		e[k].why = xstrdup(nd->why ? nd->why : nd->reason[0] ? nd->reason : "");
		if (nd->st == ST_FAILED) { /* a template that cannot be rendered yet */
			e[k].action = "run";
			free(e[k].why);
			e[k].why = xstrdup(nd->reason);
		}
		e[k].cached_from = nd->cached_from;
		if (nd->keyed)
			snprintf(e[k].cache_key, sizeof(e[k].cache_key), "%s", nd->key.key);
	}
	exec_free(&x);
	*out = e;
	return 0;
}

/* ---- resume --------------------------------------------------------------------------- */

/* The wall-clock start of a process, from its start time in ticks after boot. */
static double proc_started_wall(int64_t pid)
{
	int64_t ticks = proc_start_time(pid);
	if (ticks < 0)
		return -1;
	FILE *f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	char line[256];
	double btime = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "btime ", 6))
			btime = strtod(line + 6, NULL);
	fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	return btime < 0 || hz <= 0 ? -1 : btime + (double)ticks / (double)hz;
}

/* A step left running by the dead orchestrator: kill its process group, if the pid
 * still names the process that attempt started (pids are reused). */
static void kill_leftover(struct exec *x, const char *name)
{
	attempt_record *a = NULL;
	size_t n = 0;
	sl_error *err = NULL;
	if (store_get_attempts(x->st, x->run_id, name, &a, &n, &err) < 0) {
		sl_error_release(&err);
		return;
	}
	if (n && a[n - 1].pid > 0 && a[n - 1].started > 0) {
		pid_t pid = (pid_t)a[n - 1].pid;
		double started = proc_started_wall(pid);
		if (started > 0 && fabs(started - a[n - 1].started) < 2.0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			if (x->opt->out)
				fprintf(x->opt->out,
					"sluice: killed %s's leftover process group %d (attempt "
					"%d)\n",
					name, (int)pid, a[n - 1].attempt);
		}
	}
	attempt_record_free_array(a, n);
}

/* A step the dead orchestrator started but had not recorded yet (it spawns, then
 * records): found by the environment every step gets, SLUICE_RUN_ID and
 * SLUICE_WORKSPACE (run ids are per state directory).  A step that cleared its
 * environment escapes this; sandboxed steps die with sluice anyway (PDEATHSIG). */
static void kill_unrecorded_leftovers(struct exec *x)
{
	char want_run[64];
	snprintf(want_run, sizeof(want_run), "SLUICE_RUN_ID=%lld", (long long)x->run_id);
	const char *want_ws = arena_printf(&x->mem, "SLUICE_WORKSPACE=%s", x->p->dir);
	DIR *proc = opendir("/proc");
	pid_t self = getpid();
	size_t cap = 1 << 16;
	char *buf = xmalloc(cap);
	for (struct dirent *e; proc && (e = readdir(proc));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1 || pid == self)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, cap - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		int run = 0, ws = 0;
		const char *step = "?";
		for (char *v = buf; v < buf + n; v += strlen(v) + 1) {
			run |= !strcmp(v, want_run);
			ws |= !strcmp(v, want_ws);
			if (!strncmp(v, "SLUICE_STEP=", 12))
				step = v + 12;
		}
		if (!run || !ws)
			continue;
		pid_t pgid = getpgid((pid_t)pid);
		if (pgid > 1 && pgid != getpgrp())
			kill(-pgid, SIGKILL);
		kill((pid_t)pid, SIGKILL);
		if (x->opt->out)
			fprintf(x->opt->out, "sluice: killed leftover process %ld of step %s\n",
				pid, step);
	}
	free(buf);
	if (proc)
		closedir(proc);
}

static enum st st_from_name(const char *s)
{
	for (size_t k = 0; k < sizeof(st_names) / sizeof(st_names[0]); k++)
		if (!strcmp(st_names[k], s))
			return (enum st)k;
	return ST_PENDING;
}

/* Take over the recorded states of run_id: finished steps keep their results (their
 * outputs restored from the cache where the workspace lost them); what was pending,
 * running, waiting or cancelled runs again, its attempts numbered on. */
static int resume_adopt(struct exec *x, sl_error **err)
{
	step_record *recs = NULL;
	size_t n = 0;
	if (store_get_steps(x->st, x->run_id, &recs, &n, err) < 0)
		return -1;
	step_record **by_node = xcalloc(x->d->n + 1, sizeof(step_record *));
	for (size_t k = 0; k < n; k++) {
		long i = dag_find(x->d, recs[k].name);
		if (i < 0)
			continue;
		by_node[i] = &recs[k];
		x->n[i].attempt = recs[k].attempts;
		if (!strcmp(recs[k].status, "running") || !strcmp(recs[k].status, "waiting"))
			kill_leftover(x, recs[k].name);
	}
	kill_unrecorded_leftovers(x);
	/* a run killed before its steps were recorded has no rows for them yet: add
	 * them as pending, as executor_run does, so their inputs and files have a
	 * row to belong to */
	step_record *missing = xcalloc(x->d->n + 1, sizeof(step_record));
	size_t nmissing = 0;
	for (size_t k = 0; k < x->d->n; k++) {
		size_t i = x->d->order[k];
		if (!by_node[i])
			missing[nmissing++] =
				(step_record){.name = (char *)x->d->nodes[i].name,
					      .step = (char *)x->d->nodes[i].step->name,
					      .position = (int)k,
					      .status = "pending",
					      .exit_code = -1};
	}
	int rc = nmissing ? store_put_steps(x->st, x->run_id, missing, nmissing, err) : 0;
	free(missing);
	if (rc < 0) {
		free(by_node);
		step_record_free_array(recs, n);
		return -1;
	}
	for (size_t k = 0; k < x->d->n; k++) {
		size_t i = x->d->order[k];
		struct node *nd = &x->n[i];
		const step_record *r = by_node[i];
		enum st s = r ? st_from_name(r->status) : ST_PENDING;
		if (!st_done(s) || s == ST_CANCELLED || nd->st != ST_PENDING)
			continue;
		if (s == ST_SUCCEEDED || s == ST_CACHED) {
			if (restore_files(x, i, x->run_id, r->name, 1) < 0) {
				say(x, i, "runs again: %s", nd->why);
				continue;
			}
			adopt_values(x, i, x->run_id, r->name, 0);
		}
		nd->cached_from = r->cached_from;
		nd->exit_code = r->exit_code;
		snprintf(nd->reason, sizeof(nd->reason), "%s", r->reason ? r->reason : "");
		nd->why = r->why ? arena_strdup(&x->mem, r->why) : NULL;
		nd->command = r->command ? arena_strdup(&x->mem, r->command) : NULL;
		if (r->cache_key) { /* keep what it was keyed on for show */
			snprintf(nd->key.key, sizeof(nd->key.key), "%s", r->cache_key);
			snprintf(nd->key.env_hash, sizeof(nd->key.env_hash), "%s",
				 r->env_hash ? r->env_hash : "");
			nd->key.env_json = r->env_json ? xstrdup(r->env_json) : NULL;
			nd->keyed = 1;
		}
		nd->started_wall = r->started;
		nd->st = s;
		x->done++;
		nd->finished_wall = r->finished;
		record(x, i);
		settle(x, i);
	}
	free(by_node);
	step_record_free_array(recs, n);
	return 0;
}

/* ---- the no-op index -------------------------------------------------------------------- */

/* Append path (workspace-relative when rel) with its current stat, after checking
 * that the stat cache holds hex for exactly this stat.  -1: not confirmed. */
static int noop_file(struct exec *x, strbuf *blob, strmap *seen, const char *path, int rel,
		     const char *hex)
{
	char *abs = rel ? arena_printf(&x->mem, "%s/%s", x->p->dir, path) : (char *)path;
	if (strmap_get(seen, abs))
		return 0;
	struct stat sb;
	if (stat(abs, &sb) < 0 || !S_ISREG(sb.st_mode))
		return -1;
	if (hex) {
		file_stat_key k = filehash_stat_key(&sb);
		char known[SHA256_HEX_LEN + 1];
		sl_error *err = NULL;
		int hit = store_lookup_hash(x->st, abs, &k, known, &err);
		sl_error_release(&err);
		if (hit != 1 || strcmp(known, hex) != 0)
			return -1;
	}
	strmap_put(seen, abs, (void *)1);
	noop_add(blob, abs, &sb);
	return 0;
}

static void write_noop_index(struct exec *x)
{
	strbuf blob = STRBUF_INIT;
	strmap seen = STRMAP_INIT;
	int ok = 1;
	for (size_t i = 0; i < x->d->n && ok; i++) {
		struct node *nd = &x->n[i];
		const pstep *st = x->d->nodes[i].step;
		if (nd->st == ST_SKIPPED && nd->selected)
			continue; /* `when` was false: decided by values that did not change */
		if ((nd->st != ST_SUCCEEDED && nd->st != ST_CACHED) || !nd->keyed || !st->cache ||
		    side_effects(st) || is_volatile(st)) {
			ok = 0;
			break;
		}
		for (size_t k = 0; k < nd->key.ninputs && ok; k++)
			ok = nd->key.inputs[k].sha256 &&
			     noop_file(x, &blob, &seen, nd->key.inputs[k].path, 1,
				       nd->key.inputs[k].sha256) == 0;
		size_t nkept;
		const char **kept = kept_files(x, i, &nkept);
		for (size_t k = 0; k < nkept && ok; k++)
			ok = nd->out_hex &&
			     noop_file(x, &blob, &seen, kept[k], 1, nd->out_hex[k]) == 0;
		if (ok && nd->argv && !st->uses.s)
			ok = noop_file(x, &blob, &seen, nd->argv[0], 0, NULL) == 0;
	}
	sl_error *err = NULL;
	if (ok && store_noop_put(x->st, x->opt->noop_key, x->run_id, blob.buf ? blob.buf : "",
				 blob.len, &err) < 0)
		sl_error_release(&err);
	strmap_release(&seen);
	strbuf_release(&blob);
}

void plan_entries_free(plan_entry *e, size_t n)
{
	for (size_t k = 0; e && k < n; k++)
		free(e[k].why);
	free(e);
}

int executor_run(const pipeline *p, const dag *d, store *st, runner *r, int64_t run_id,
		 const exec_options *opt, exec_result *res, sl_error **err)
{
	struct exec x = {.p = p, .d = d, .st = st, .r = r, .run_id = run_id, .opt = opt};
	memset(res, 0, sizeof(*res));
	int rc = -1;
	if (exec_init(&x, err) < 0)
		goto out;
	if (opt->resume) {
		if (resume_adopt(&x, err) < 0)
			goto out;
		goto loop;
	}
	/* every step is pending in the store before anything starts */
	step_record *recs = xcalloc(d->n + 1, sizeof(step_record));
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		recs[k] = (step_record){.name = (char *)d->nodes[i].name,
					.step = (char *)d->nodes[i].step->name,
					.position = (int)k,
					.status = "pending",
					.exit_code = -1};
	}
	rc = store_put_steps(st, run_id, recs, d->n, err);
	free(recs);
	if (rc < 0)
		goto out;
loop:
	rc = -1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	x.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	x.ep = epoll_create1(EPOLL_CLOEXEC);
	if (x.sfd < 0 || x.ep < 0) {
		sl_error_errno(err, errno, "set up the event loop");
		goto out;
	}
	epoll_add(&x, x.sfd, TAG_SIG);
	/* become the reaper of whatever the steps leave behind */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* one transaction per turn of the loop (store.h): committed before each wait */
	store_batch_begin(st);
	schedule(&x);
	while (x.done < d->n) {
		sl_error *ferr = NULL;
		if (store_batch_flush(st, &ferr) < 0) {
			clear_live(&x);
			fprintf(opt->out, "sluice: warning: %s\n", ferr->msg);
			sl_error_release(&ferr);
		}
		draw_live(&x);
		struct epoll_event evs[64];
		int ne = epoll_wait(x.ep, evs, 64, next_timeout(&x));
		if (ne < 0 && errno != EINTR) {
			sl_error_errno(err, errno, "epoll_wait");
			goto out;
		}
		int reap = 0;
		for (int e = 0; e < ne; e++) {
			uint64_t tag = evs[e].data.u64 & ~0xffffffffull;
			size_t i = (size_t)(evs[e].data.u64 & 0xffffffffull);
			if (tag == TAG_LOG) {
				drain_log(&x, i, 0);
			} else if (tag == TAG_PID) {
				reap = 1;
			} else if (tag == TAG_SIG) {
				struct signalfd_siginfo si;
				while (read(x.sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD) {
						reap = 1;
					} else if (!x.cancelled) {
						x.cancelled = (int)si.ssi_signo;
						clear_live(&x);
						fprintf(opt->out,
							"sluice: %s: cancelling the run\n",
							strsignal((int)si.ssi_signo));
						cancel_all(&x, "cancelled");
					}
				}
			}
		}
		int polling = 0;
		for (size_t k = 0; k < x.nactive; k++)
			polling |= x.n[x.active[k]].st == ST_RUNNING &&
				   x.n[x.active[k]].proc.pidfd < 0;
		if (reap || polling)
			reap_all(&x);
		check_deadlines(&x);
		if (opt->fail_fast && x.failed_any && !x.fail_fast_tripped) {
			x.fail_fast_tripped = 1;
			cancel_all(&x, "cancelled (--fail-fast)");
		}
		schedule(&x);
	}
	clear_live(&x);
	rc = 0;
out:
	if (store_batch_end(st, rc == 0 ? err : NULL) < 0)
		rc = -1;
	if (x.ep >= 0)
		close(x.ep);
	if (x.sfd >= 0)
		close(x.sfd);
	res->nsteps = d->n;
	res->steps = xcalloc(d->n + 1, sizeof(exec_step_result));
	int any_failed = 0, any_cancelled = 0, any_rejected = 0;
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		struct node *nd = &x.n[i];
		exec_step_result *s = &res->steps[k];
		s->name = d->nodes[i].name;
		s->status = st_names[nd->st];
		snprintf(s->reason, sizeof(s->reason), "%s", nd->reason);
		s->attempts = nd->attempt;
		s->exit_code = nd->exit_code;
		s->duration_s = nd->finished_wall && nd->started_wall
					? nd->finished_wall - nd->started_wall
					: 0;
		any_failed |= nd->st == ST_FAILED || nd->st == ST_UPSTREAM_FAILED;
		any_cancelled |= nd->st == ST_CANCELLED;
		any_rejected |= nd->st == ST_REJECTED;
		strbuf_release(&nd->line);
		if (nd->log_rd >= 0)
			close(nd->log_rd);
		if (nd->log_fd >= 0)
			close(nd->log_fd);
	}
	if (x.cancelled) {
		res->status = "cancelled";
		res->exit_code = 130;
	} else if (any_rejected) {
		res->status = "rejected";
		res->exit_code = 3;
	} else if (any_failed || any_cancelled) {
		res->status = "failed";
		res->exit_code = 1;
	} else {
		res->status = "succeeded";
		res->exit_code = 0;
	}
	if (rc == 0 && opt->noop_key && res->exit_code == 0)
		write_noop_index(&x);
	exec_free(&x);
	return rc;
}

void exec_result_release(exec_result *res)
{
	free(res->steps);
	memset(res, 0, sizeof(*res));
}
