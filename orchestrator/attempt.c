/*
 * attempt.c — one attempt of one step: its scratch directory
 * (runs/RUN/STEP/ATTEMPT with home/, tmp/, log and $SLUICE_OUTPUT), the log
 * pipe, the launch through the runner, and after the runner finished it,
 * what the exit means: the reason (`exit 3`, `timeout after 30m`, `signal
 * 9 (Killed)`, the runner's own `sandbox: ...`, `missing output X`) and the
 * retry cause it counts as.  Whether the step then succeeds, retries or
 * fails is the state machine's (executor.c).
 */
#include "exec_int.h"

#include "sluice/arena.h"
#include "sluice/builtin.h"
#include "sluice/clock.h"
#include "sluice/cleanup.h"
#include "sluice/fsutil.h"
#include "sluice/util.h"
#include "sluice/wspath.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write the attempt's row; a failure is said, not fatal: the step's own row
 * (exec_record) carries its state. */
static void record_attempt(struct exec *x, size_t i, const attempt_record *ar)
{
	sl_error *err = NULL;
	if (store_put_attempt(x->store, x->run_id, x->d->nodes[i].name, ar, &err) < 0)
		exec_warn(x, &err);
}

/* The secrets' values, to mask in logs (NULL-terminated, from the arena). */
static const char *const *secret_values(struct exec *x)
{
	const pstr_list *s = &x->p->secrets;
	const char **v = arena_alloc(&x->mem, (s->n + 1) * sizeof(char *));
	for (size_t k = 0, j = 0; k < s->n; k++)
		if ((v[j] = getenv(s->v[k].s)))
			j++;
	return v;
}

/* A log cut to max_log_size says so in the step's reason (also of a step
 * that succeeded: its log lacks something). */
static void note_cut(struct exec_step *es, uint64_t cut, uint64_t max)
{
	char sz[32], note[128];
	format_size(max, sz, sizeof(sz));
	snprintf(note, sizeof(note), "log cut to max_log_size %s (%llu bytes dropped)", sz,
		 (unsigned long long)cut);
	size_t n = strlen(es->reason);
	snprintf(es->reason + n, sizeof(es->reason) - n, "%s%s", n ? "; " : "", note);
}

void attempt_start(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	es->attempt++;
	es->reason[0] = 0;
	es->timed_out = 0;
	char *dir = arena_printf(&x->mem, "%s/%s/%d", x->run_dir, node->name, es->attempt);
	char *home = arena_printf(&x->mem, "%s/home", dir),
	     *tmp = arena_printf(&x->mem, "%s/tmp", dir);
	if (fs_mkdir_p(home, 0700) < 0 || fs_mkdir_p(tmp, 0700) < 0) {
		snprintf(es->reason, sizeof(es->reason), "mkdir %s: %s", dir, strerror(errno));
		exec_fail_now(x, i);
		return;
	}
	es->output_path = arena_printf(&x->mem, "%s/output", dir);
	es->log_rel = arena_printf(&x->mem, "runs/%lld/%s/%d/log", (long long)x->run_id, node->name,
				   es->attempt);
	char **argv = es->argv ? es->argv : stepcmd_argv(x, i);
	char **envp = argv ? stepcmd_env(x, i, dir) : NULL;
	if (!argv || !envp) {
		exec_fail_now(x, i);
		return;
	}
	reuse_unshare_outputs(x, i);
	sl_error *err = NULL;
	steplog_release(&es->log); /* the last attempt's */
	if (steplog_open(&es->log, dir, node->step->max_log_size, secret_values(x), &err) < 0) {
		snprintf(es->reason, sizeof(es->reason), "%s", err->msg);
		sl_error_release(&err);
		exec_fail_now(x, i);
		return;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(es->reason, sizeof(es->reason), "pipe for the log: %s", strerror(errno));
		steplog_release(&es->log);
		exec_fail_now(x, i);
		return;
	}
	/* registry built-ins need the store and the network: they run outside the sandbox */
	const builtin_step *bs = node->step->uses.s ? builtin_find(node->step->uses.s) : NULL;
	step_launch l = {.name = node->name,
			 .argv = argv,
			 .envp = envp,
			 .cwd = x->p->dir,
			 .out_fd = pfd[1],
			 .sandbox = bs && !(bs->flags & BUILTIN_SANDBOXED) ? NULL
									   : &node->step->sandbox,
			 .attempt_dir = dir,
			 .outputs = (const char *const *)node->outputs,
			 .noutputs = node->noutputs,
			 .metrics = node->metrics,
			 .state_dir = store_dir(x->store)};
	int rc = x->r->ops->start(x->r, &l, &es->proc, &err);
	close(pfd[1]); /* the runner keeps its own copies (runner.h) */
	if (rc < 0) {
		snprintf(es->reason, sizeof(es->reason), "%s", err->msg);
		sl_error_release(&err);
		close(pfd[0]);
		steplog_release(&es->log);
		exec_fail_now(x, i);
		return;
	}
	if (es->why) {
		char *line = arena_printf(&x->mem, "sluice: %s runs: %s\n", node->name, es->why);
		steplog_write(&es->log, line, strlen(line));
		es->log.last_msg[0] = 0; /* not the step's own message */
	}
	es->log_rd = pfd[0];
	fcntl(es->log_rd, F_SETFL, O_NONBLOCK);
	exec_watch(x, es->log_rd, 1, i);
	if (es->proc.pidfd >= 0)
		exec_watch(x, es->proc.pidfd, 0, i);
	int64_t now = clock_mono_ms();
	if (!es->started_ms) { /* the first attempt of this run, or of this resume */
		es->started_ms = now;
		es->started_wall = clock_wall();
	}
	es->deadline_ms = node->step->timeout_ms ? now + node->step->timeout_ms : 0;
	es->kill_at_ms = 0;
	resource_need need = exec_need(x, i);
	resource_take(&x->pool, &need);
	exec_set_state(x, i, ST_RUNNING);
	attempt_record ar = {.attempt = es->attempt,
			     .status = "running",
			     .exit_code = -1,
			     .started = clock_wall(),
			     .log_path = es->log_rel,
			     .pid = es->proc.pid};
	record_attempt(x, i, &ar);
	if (es->attempt == 1)
		exec_say(x, i, "started");
	else
		exec_say(x, i, "started (attempt %d)", es->attempt);
}

/* What the exit status says: the reason and the retry cause, 0 for a clean exit 0. */
static unsigned classify_exit(struct exec *x, size_t i, const step_exit *ex)
{
	struct exec_step *es = &x->s[i];
	const pstep *step = x->d->nodes[i].step;
	if (es->cancelling) {
		snprintf(es->reason, sizeof(es->reason), "cancelled");
		return 0;
	}
	if (es->timed_out) {
		char d[32];
		format_duration_ms(step->timeout_ms, d, sizeof(d));
		snprintf(es->reason, sizeof(es->reason), "timeout after %s", d);
		return RETRY_ON_TIMEOUT;
	}
	if (ex->reason[0]) {
		/* the runner knows better: sandbox setup, memory limit, missing output */
		snprintf(es->reason, sizeof(es->reason), "%s", ex->reason);
		return ex->oom ? RETRY_ON_OOM : RETRY_ON_ERROR;
	}
	if (!ex->exited) {
		snprintf(es->reason, sizeof(es->reason), "signal %d (%s)", ex->signal,
			 strsignal(ex->signal));
		return ex->signal == SIGKILL && step->sandbox.memory ? RETRY_ON_OOM
								     : RETRY_ON_SIGNAL;
	}
	if (ex->code != 0) {
		/* a built-in says why it failed on its last line: that is the reason */
		if (step->uses.s && es->log.last_msg[0])
			snprintf(es->reason, sizeof(es->reason), "exit %d: %s", ex->code,
				 es->log.last_msg);
		else
			snprintf(es->reason, sizeof(es->reason), "exit %d", ex->code);
		return RETRY_ON_ERROR;
	}
	return 0;
}

/* Output rel is there (as anything: what it is, hashing says), reached
 * beneath the workspace without a symlink; else es->reason says why not. */
static int check_output(struct exec *x, size_t i, const char *rel)
{
	struct exec_step *es = &x->s[i];
	sl_error *err = NULL;
	sl_autoclose int wsfd = open(x->p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;
	int rc = wsfd < 0 ? sl_error_errno(&err, errno, "open the workspace %s", x->p->dir)
			  : wspath_lstat(wsfd, rel, &sb, &err);
	if (rc == 1)
		snprintf(es->reason, sizeof(es->reason), "missing output %s", rel);
	else if (rc < 0)
		snprintf(es->reason, sizeof(es->reason), "output %s", err->msg);
	sl_error_release(&err);
	return rc == 0 ? 0 : -1;
}

unsigned attempt_finish(struct exec *x, size_t i, const step_exit *ex)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	/* what the step left in its process group went with finish (runner.h) */
	exec_log_drain(x, i, 1);
	/* steplog_close finishes the log (pending bytes, the kept tail): the
	 * last message a built-in printed is known only after it */
	uint64_t cut = steplog_close(&es->log);
	if (es->log.write_errno) {
		sl_error *err = NULL;
		/* no step name: one warning for all the logs a full disk cuts short */
		sl_error_errno(&err, es->log.write_errno, "step logs are incomplete: write");
		exec_warn(x, &err);
	}
	resource_need need = exec_need(x, i);
	resource_give(&x->pool, &need);
	es->exit_code = ex->exited ? ex->code : -1;
	unsigned cause = classify_exit(x, i, ex);
	if (!cause && !es->cancelling) {
		for (size_t k = 0; k < node->noutputs && !cause; k++)
			if (check_output(x, i, node->outputs[k]) < 0)
				cause = RETRY_ON_ERROR;
		if (!cause && stepout_collect(x, i) < 0)
			cause = RETRY_ON_ERROR;
		if (!cause && reuse_record_files(x, i) < 0)
			cause = RETRY_ON_ERROR;
	}
	attempt_record ar = {.attempt = es->attempt,
			     .status = (char *)(cause || es->cancelling ? "failed" : "succeeded"),
			     .reason = es->reason[0] ? es->reason : NULL,
			     .exit_code = es->exit_code,
			     .signal = ex->exited ? 0 : ex->signal,
			     .started = es->started_wall,
			     .finished = clock_wall(),
			     .log_path = es->log_rel,
			     .pid = es->proc.pid,
			     .max_rss_kb = ex->max_rss_kb,
			     .isolation = ex->isolation[0] ? (char *)ex->isolation : NULL};
	record_attempt(x, i, &ar);
	if (cut)
		note_cut(es, cut, node->step->max_log_size);
	return cause;
}
