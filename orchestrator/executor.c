/*
 * executor.c — the event loop and the step state machine (the life cycle is
 * drawn in include/sluice/executor.h; exec_int.h lists the files that do the
 * rest).
 *
 * One thread.  epoll watches each running step's pidfd (its exit) and log
 * pipe, and a signalfd (SIGINT, SIGTERM, SIGCHLD).  Each turn of the loop
 * has four phases, as redis's ae does:
 *
 *   before sleep   commit the turn's store changes, redraw the live line
 *   wait           epoll_wait until an event or the earliest wake_at_ms
 *   handle events  drain log pipes, note exits and signals
 *   after events   finish exited steps, fire due timers (timeouts, SIGKILL
 *                  after the grace period), fail-fast, start what can start
 *
 * Every step has one wake_at_ms, the earliest moment it needs the loop
 * again (exec_set_wake); the wait's timeout is the earliest of them.  Ready
 * steps wait in a min-heap of topological positions, so among the steps
 * that could start the earlier one in the file does; the active list holds
 * the running and waiting ones, so that a turn's work is proportional to
 * what runs, not to the whole DAG.
 */
#include "exec_int.h"

#include "sluice/arena.h"
#include "sluice/clock.h"
#include "sluice/fsutil.h"
#include "sluice/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

const char *const step_state_names[ST_NSTATES] = {
	"pending",         "waiting", "running", "succeeded", "failed",
	"upstream_failed", "skipped", "cached",  "cancelled", "rejected"};

enum step_state step_state_from_name(const char *s)
{
	for (int k = 0; k < ST_NSTATES; k++)
		if (!strcmp(step_state_names[k], s))
			return (enum step_state)k;
	return ST_PENDING;
}

/* epoll tags: the kind in the high half, the node in the low half */
#define TAG_PID (1ull << 32)
#define TAG_LOG (2ull << 32)
#define TAG_SIG (3ull << 32)

/* ---- progress ------------------------------------------------------------------------ */

static void draw_live(struct exec *x)
{
	if (!x->status.out || !x->status.live)
		return;
	status_running run[4];
	size_t n = 0;
	for (size_t k = 0; k < x->d->n && n < 4; k++) {
		size_t i = x->d->order[k];
		if (x->s[i].state == ST_RUNNING)
			run[n++] = (status_running){x->d->nodes[i].name, x->s[i].started_ms};
	}
	status_live(&x->status, x->done, x->d->n, run, n, clock_mono_ms());
}

void exec_say(struct exec *x, size_t i, const char *fmt, ...)
{
	if (!x->status.out)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	status_step(&x->status, x->done, x->d->n, x->d->nodes[i].name, buf);
	draw_live(x);
}

void exec_warn(struct exec *x, sl_error **err)
{
	status_warn(&x->status, err);
}

void exec_set_why(struct exec *x, size_t i, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	x->s[i].why = arena_vprintf(&x->mem, fmt, ap);
	va_end(ap);
}

/* ---- states ------------------------------------------------------------------------------ */

void exec_record(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	/* the reason is also printed and returned (--json): masked once, here */
	redact_str(x->redact, es->reason);
	if (x->opt->dry_run)
		return;
	step_record s = {
		.name = (char *)node->name,
		.step = (char *)node->step->name,
		.position = (int)x->pos[i],
		.status = (char *)step_state_names[es->state],
		.reason = es->reason[0] ? es->reason : NULL,
		.attempts = es->attempt,
		.exit_code = es->exit_code,
		.started = es->started_wall,
		.finished = es->finished_wall,
		.command = es->command,
		.cache_key = es->keyed ? es->key.key : NULL,
		.env_hash = es->keyed ? es->key.env_hash : NULL,
		.env_json = es->keyed ? es->key.env_json : NULL,
		.why = (char *)es->why,
		.cached_from = es->cached_from,
	};
	sl_error *err = NULL;
	if (store_put_step(x->store, x->run_id, &s, &err) < 0)
		exec_warn(x, &err);
}

static void active_add(struct exec *x, size_t i)
{
	if (x->s[i].aidx >= 0)
		return;
	x->s[i].aidx = (long)x->nactive;
	x->active[x->nactive++] = i;
}

static void active_del(struct exec *x, size_t i)
{
	long k = x->s[i].aidx;
	if (k < 0)
		return;
	size_t last = x->active[--x->nactive];
	x->active[k] = last;
	x->s[last].aidx = k;
	x->s[i].aidx = -1;
}

/* An attempt is over and its $SLUICE_OUTPUT read (stepout_collect): the
 * copy kept in its directory keeps no secret either. */
static void mask_attempt_output(struct exec *x, size_t i)
{
	sl_error *err = NULL;
	if (x->s[i].output_path && redact_file(x->redact, x->s[i].output_path, &err) < 0)
		exec_warn(x, &err);
}

void exec_set_state(struct exec *x, size_t i, enum step_state s)
{
	struct exec_step *es = &x->s[i];
	int was_done = step_state_done(es->state);
	if (es->state == ST_RUNNING && s != ST_RUNNING)
		mask_attempt_output(x, i);
	if (was_done && !step_state_done(s))
		SL_BUG("step %s: %s after %s", x->d->nodes[i].name, step_state_names[s],
		       step_state_names[es->state]);
	es->state = s;
	if (s == ST_RUNNING || s == ST_WAITING)
		active_add(x, i);
	if (step_state_done(s) && !was_done) {
		x->done++;
		es->finished_wall = clock_wall();
		active_del(x, i);
	}
	exec_set_wake(x, i);
	exec_record(x, i);
}

void exec_set_wake(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	int64_t at = 0, now = clock_mono_ms();
#define EARLIER(t)                                                                                 \
	do {                                                                                       \
		if ((t) && (!at || (t) < at))                                                      \
			at = (t);                                                                  \
	} while (0)
	if (es->state == ST_RUNNING) {
		if (!es->timed_out && !es->cancelling)
			EARLIER(es->deadline_ms);
		EARLIER(es->kill_at_ms);
		if (es->proc.pidfd < 0)
			EARLIER(now + 50); /* no pidfd (or no leader any more): poll for the end */
	} else if (es->state == ST_WAITING && es->retry_at_ms > now) {
		/* once due, it starts as soon as it fits: schedule() looks at every turn */
		EARLIER(es->retry_at_ms);
	}
#undef EARLIER
	es->wake_at_ms = at;
}

/* Step j no longer waits for one of its upstream steps. */
static void release_dep(struct exec *x, size_t j)
{
	if (--x->s[j].ndeps_left == 0 && x->s[j].state == ST_PENDING)
		minheap_push(&x->ready, x->pos[j]);
}

/* A step whose `when` calls failure(), always() or cancelled() decides for
 * itself after an upstream failure (GitHub's status functions). */
#define STATUS_AFTER_FAILURE (EXPR_STATUS_FAILURE | EXPR_STATUS_ALWAYS | EXPR_STATUS_CANCELLED)

static void propagate_failure(struct exec *x, size_t i)
{
	/* every step downstream that has not run becomes upstream_failed */
	const dag_node *node = &x->d->nodes[i];
	for (size_t k = 0; k < node->nrdeps; k++) {
		size_t j = node->rdeps[k];
		if (x->s[j].state != ST_PENDING)
			continue;
		if (runexpr_when_status(x, j) & STATUS_AFTER_FAILURE) {
			release_dep(x, j);
			continue;
		}
		snprintf(x->s[j].reason, sizeof(x->s[j].reason), "%s %s", node->name,
			 step_state_names[x->s[i].state]);
		exec_set_state(x, j, ST_UPSTREAM_FAILED);
		exec_say(x, j, "upstream_failed (%s)", x->s[j].reason);
		propagate_failure(x, j);
	}
}

/* A failure that continue_on_error lets pass: recorded and shown as failed,
 * but its dependents run and the run succeeds (GitHub's continue-on-error). */
static int failure_allowed(const struct exec *x, size_t i)
{
	return x->s[i].state == ST_FAILED && x->d->nodes[i].step->continue_on_error &&
	       !x->cancelled;
}

void exec_settle(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	if (step_state_ok(es->state) || failure_allowed(x, i)) {
		for (size_t k = 0; k < node->nrdeps; k++)
			release_dep(x, node->rdeps[k]);
	} else {
		x->failed_any |= es->state == ST_FAILED;
		propagate_failure(x, i);
	}
}

void exec_fail_now(struct exec *x, size_t i)
{
	exec_set_state(x, i, ST_FAILED);
	exec_say(x, i, "failed: %s", x->s[i].reason);
	exec_settle(x, i);
}

/* A step with nothing left to wait for: skipped, cached, failed before it
 * starts, or started. */
static void consider(struct exec *x, size_t i)
{
	struct exec_step *es = &x->s[i];
	const dag_node *node = &x->d->nodes[i];
	if (x->opt->dry_run) {
		/* after an upstream that runs, nothing can be known yet */
		for (size_t k = 0; k < node->ndeps && es->selected; k++)
			if (x->s[node->deps[k]].would_run) {
				es->would_run = 1;
				exec_set_why(x, i, "after upstream %s runs",
					     x->d->nodes[node->deps[k]].name);
				exec_set_state(x, i, ST_SUCCEEDED);
				exec_settle(x, i);
				return;
			}
	}
	if (!es->selected) {
		snprintf(es->reason, sizeof(es->reason), "not selected (%s)",
			 x->opt->only ? "--only" : "--from");
		exec_set_state(x, i, ST_SKIPPED);
		exec_settle(x, i);
		return;
	}
	int when = runexpr_when(x, i);
	if (when < 0) {
		exec_fail_now(x, i);
		return;
	}
	if (when == 0) {
		exec_set_state(x, i, ST_SKIPPED);
		exec_say(x, i, "skipped (%s)", es->reason);
		exec_settle(x, i);
		return;
	}
	if (reuse_key(x, i) < 0) {
		exec_fail_now(x, i);
		return;
	}
	if (reuse_lookup(x, i)) {
		exec_set_state(x, i, ST_CACHED);
		exec_say(x, i, "cached (%s)", es->why);
		exec_settle(x, i);
		return;
	}
	if (x->opt->dry_run) {
		es->would_run = 1;
		exec_set_state(x, i, ST_SUCCEEDED);
		exec_settle(x, i);
		return;
	}
	resource_need need = exec_need(x, i);
	if (resource_check(&x->pool, &need, es->reason, sizeof(es->reason)) < 0) {
		exec_fail_now(x, i);
		return;
	}
	attempt_start(x, i);
}

/* Start whatever can start: due retries, then ready steps in topological order. */
static void schedule(struct exec *x)
{
	/* after a cancel only the steps cancel_all kept are pending */
	int64_t now = clock_mono_ms();
	/* backwards: attempt_start may remove the step it fails from the list */
	for (size_t k = x->nactive; k-- > 0;) {
		if (k >= x->nactive)
			continue;
		size_t i = x->active[k];
		resource_need need = exec_need(x, i);
		if (x->s[i].state == ST_WAITING && now >= x->s[i].retry_at_ms &&
		    resource_fits(&x->pool, &need))
			attempt_start(x, i);
	}
	while (x->ready.n) {
		size_t i = x->d->order[minheap_top(&x->ready)];
		resource_need need = exec_need(x, i);
		if (x->s[i].state != ST_PENDING) { /* upstream_failed or cancelled meanwhile */
			minheap_pop(&x->ready);
			continue;
		}
		if (x->s[i].selected && !resource_fits(&x->pool, &need))
			break;
		minheap_pop(&x->ready);
		consider(x, i);
	}
}

/* Stop the run: running steps get SIGTERM, pending and waiting ones are
 * cancelled, except those whose `when` calls a status function in keep
 * (EXPR_STATUS_*): they run once what they wait for is over. */
static void cancel_all(struct exec *x, const char *why, unsigned keep)
{
	int64_t now = clock_mono_ms();
	unsigned char *now_cancelled = xcalloc(x->d->n + 1, 1);
	for (size_t i = 0; i < x->d->n; i++) {
		struct exec_step *es = &x->s[i];
		if (es->state == ST_RUNNING && !es->cancelling) {
			es->cancelling = 1;
			/* a step that timed out has had its SIGTERM: its grace period
			 * runs already and is not started again */
			if (!es->timed_out) {
				x->r->ops->signal(x->r, &es->proc, SIGTERM);
				es->kill_at_ms = now + x->d->nodes[i].step->grace_ms;
			}
			exec_set_wake(x, i);
		} else if (es->state == ST_PENDING && (runexpr_when_status(x, i) & keep)) {
			continue;
		} else if (es->state == ST_PENDING || es->state == ST_WAITING) {
			snprintf(es->reason, sizeof(es->reason), "%s", why);
			exec_set_state(x, i, ST_CANCELLED);
			now_cancelled[i] = 1;
		}
	}
	/* the steps kept no longer wait for those cancelled here */
	for (size_t i = 0; i < x->d->n; i++)
		for (size_t k = 0; now_cancelled[i] && k < x->d->nodes[i].nrdeps; k++)
			if (x->s[x->d->nodes[i].rdeps[k]].state == ST_PENDING)
				release_dep(x, x->d->nodes[i].rdeps[k]);
	free(now_cancelled);
}

/* The attempt of step i ended (its runner finished it): succeeded, waiting
 * for a retry, failed or cancelled. */
static void attempt_ended(struct exec *x, size_t i, const step_exit *ex)
{
	struct exec_step *es = &x->s[i];
	const pstep *step = x->d->nodes[i].step;
	if (es->state != ST_RUNNING)
		SL_BUG("step %s finished while %s", x->d->nodes[i].name,
		       step_state_names[es->state]);
	unsigned cause = attempt_finish(x, i, ex);
	if (es->cancelling) {
		exec_set_state(x, i, ST_CANCELLED);
		exec_say(x, i, "cancelled");
		exec_settle(x, i); /* steps kept by cancel_all may go on */
		return;
	}
	if (!cause) {
		exec_set_state(x, i, ST_SUCCEEDED);
		exec_say(x, i, "succeeded in %.1fs",
			 (double)(clock_mono_ms() - es->started_ms) / 1000.0);
		exec_settle(x, i);
		return;
	}
	const retry_policy *rp = &step->retries;
	if (es->attempt <= rp->limit && (rp->on & cause) && !x->cancelled &&
	    !x->fail_fast_tripped) {
		double backoff =
			(double)rp->backoff_ms * pow(rp->factor, (double)(es->attempt - 1));
		if (rp->max_backoff_ms && backoff > (double)rp->max_backoff_ms)
			backoff = (double)rp->max_backoff_ms;
		es->retry_at_ms = clock_mono_ms() + (int64_t)backoff;
		exec_set_state(x, i, ST_WAITING);
		exec_say(x, i, "%s; retry %d of %d in %.1fs", es->reason, es->attempt, rp->limit,
			 backoff / 1000.0);
		return;
	}
	exec_set_state(x, i, ST_FAILED);
	exec_say(x, i, "failed: %s (log: %s/%s)", es->reason, store_dir(x->store), es->log_rel);
	exec_settle(x, i);
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
			if (x->s[x->active[k]].state == ST_RUNNING &&
			    x->s[x->active[k]].proc.pid == si.si_pid)
				return;
		waitpid(si.si_pid, NULL, WNOHANG);
	}
}

/* Ask the runner to finish every running step whose process exited. */
static void finish_exited(struct exec *x)
{
	for (size_t k = x->nactive; k-- > 0;) {
		if (k >= x->nactive)
			continue;
		size_t i = x->active[k];
		struct exec_step *es = &x->s[i];
		if (es->state != ST_RUNNING)
			continue;
		step_exit ex;
		sl_error *err = NULL;
		int r = x->r->ops->finish(x->r, &es->proc, &ex, &err);
		if (r < 0)
			exec_warn(x, &err);
		else if (r == 1)
			attempt_ended(x, i, &ex);
		else /* the leader gone, the rest in its grace period: the pidfd may be too */
			exec_set_wake(x, i);
	}
	reap_orphans(x);
}

/* ---- the loop's phases ---------------------------------------------------------------------- */

static void before_sleep(struct exec *x)
{
	sl_error *err = NULL;
	if (store_batch_flush(x->store, &err) < 0)
		exec_warn(x, &err);
	draw_live(x);
}

/* Milliseconds until the earliest wake_at_ms (a minute without one, a
 * second while the live line shows running clocks). */
static int wait_timeout(const struct exec *x)
{
	int64_t now = clock_mono_ms(), next = now + (x->status.live ? 1000 : 60000);
	for (size_t k = 0; k < x->nactive; k++) {
		int64_t at = x->s[x->active[k]].wake_at_ms;
		if (at && at < next)
			next = at;
	}
	return next <= now ? 0 : (int)(next - now);
}

/* 1 when a step may have exited (a pidfd, SIGCHLD). */
static int handle_events(struct exec *x, const struct epoll_event *evs, int n)
{
	int exited = 0;
	for (int e = 0; e < n; e++) {
		uint64_t tag = evs[e].data.u64 & ~0xffffffffull;
		size_t i = (size_t)(evs[e].data.u64 & 0xffffffffull);
		if (tag == TAG_LOG) {
			exec_log_drain(x, i, 0);
		} else if (tag == TAG_PID) {
			exited = 1;
		} else if (tag == TAG_SIG) {
			struct signalfd_siginfo si;
			while (read(x->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					exited = 1;
				} else if (!x->cancelled) {
					x->cancelled = (int)si.ssi_signo;
					status_note(&x->status, "sluice: %s: cancelling the run\n",
						    strsignal((int)si.ssi_signo));
					cancel_all(x, "cancelled",
						   EXPR_STATUS_ALWAYS | EXPR_STATUS_CANCELLED);
				} else {
					/* a second signal stops the always() steps too */
					cancel_all(x, "cancelled", 0);
				}
			}
		}
	}
	return exited;
}

/* Timeouts become SIGTERM, the end of a grace period SIGKILL. */
static void fire_timers(struct exec *x)
{
	int64_t now = clock_mono_ms();
	for (size_t k = 0; k < x->nactive; k++) {
		size_t i = x->active[k];
		struct exec_step *es = &x->s[i];
		if (!es->wake_at_ms || es->wake_at_ms > now)
			continue;
		if (es->state == ST_RUNNING) {
			if (es->deadline_ms && now >= es->deadline_ms && !es->timed_out &&
			    !es->cancelling) {
				es->timed_out = 1;
				x->r->ops->signal(x->r, &es->proc, SIGTERM);
				es->kill_at_ms = now + x->d->nodes[i].step->grace_ms;
			}
			if (es->kill_at_ms && now >= es->kill_at_ms) {
				x->r->ops->signal(x->r, &es->proc, SIGKILL);
				es->kill_at_ms = 0;
			}
		}
		exec_set_wake(x, i);
	}
}

static void after_events(struct exec *x, int exited)
{
	int polling = 0; /* a step without a pidfd: its exit is polled for */
	for (size_t k = 0; k < x->nactive; k++)
		polling |=
			x->s[x->active[k]].state == ST_RUNNING && x->s[x->active[k]].proc.pidfd < 0;
	if (exited || polling)
		finish_exited(x);
	fire_timers(x);
	if (x->opt->fail_fast && x->failed_any && !x->fail_fast_tripped) {
		x->fail_fast_tripped = 1;
		cancel_all(x, "cancelled (--fail-fast)", STATUS_AFTER_FAILURE);
	}
	schedule(x);
}

int exec_watch(struct exec *x, int fd, int is_log, size_t i)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (is_log ? TAG_LOG : TAG_PID) | i};
	return epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev);
}

void exec_unwatch(struct exec *x, int fd)
{
	epoll_ctl(x->ep, EPOLL_CTL_DEL, fd, NULL);
}

static int loop_setup(struct exec *x, sl_error **err)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	x->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	x->ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_SIG};
	if (x->sfd < 0 || x->ep < 0 || epoll_ctl(x->ep, EPOLL_CTL_ADD, x->sfd, &ev) < 0)
		return sl_error_errno(err, errno, "set up the event loop");
	/* become the reaper of whatever the steps leave behind */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

static int run_loop(struct exec *x, sl_error **err)
{
	/* one transaction per turn of the loop (store.h): committed before each wait */
	store_batch_begin(x->store);
	schedule(x);
	while (x->done < x->d->n) {
		before_sleep(x);
		struct epoll_event evs[64];
		int n = epoll_wait(x->ep, evs, 64, wait_timeout(x));
		if (n < 0 && errno != EINTR)
			return sl_error_errno(err, errno, "epoll_wait");
		int exited = handle_events(x, evs, n < 0 ? 0 : n);
		after_events(x, exited);
	}
	status_clear(&x->status);
	return 0;
}

/* ---- setting up --------------------------------------------------------------------------- */

/* Which steps run: all, --only NAME (a step's instances or one instance), or
 * --from NAME and everything downstream of it. */
static int select_steps(struct exec *x, sl_error **err)
{
	const char *want = x->opt->only ? x->opt->only : x->opt->from;
	if (!want) {
		for (size_t i = 0; i < x->d->n; i++)
			x->s[i].selected = 1;
		return 0;
	}
	int found = 0;
	for (size_t i = 0; i < x->d->n; i++) {
		if (strcmp(x->d->nodes[i].name, want) == 0 ||
		    strcmp(x->d->nodes[i].step->name, want) == 0) {
			x->s[i].selected = 1;
			found = 1;
		}
	}
	if (!found)
		return sl_error_usage(err, "%s %s: no such step in %s",
				      x->opt->only ? "--only" : "--from", want, x->p->path);
	if (x->opt->from)
		for (size_t k = 0; k < x->d->n; k++) {
			size_t i = x->d->order[k];
			if (!x->s[i].selected)
				continue;
			for (size_t r = 0; r < x->d->nodes[i].nrdeps; r++)
				x->s[x->d->nodes[i].rdeps[r]].selected = 1;
		}
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
		const dag_node *node = &x->d->nodes[i];
		if (!strcmp(node->name, want) || !strcmp(node->step->name, want))
			x->s[i].forced = 1;
		if (x->s[i].forced)
			for (size_t r = 0; r < node->nrdeps; r++)
				x->s[node->rdeps[r]].forced = 1;
	}
}

/* $SLUICE_PARAMS: every step reads the run's params from this file. */
static int write_params(struct exec *x, sl_error **err)
{
	char *text = pipeline_params_json(x->p, 1);
	x->params_text = arena_strdup(&x->mem, text);
	free(text);
	if (x->opt->dry_run)
		return 0;
	int fd = open(x->params_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return sl_error_errno(err, errno, "write %s", x->params_path);
	}
	int bad = fputs(x->params_text, f) < 0;
	if (fclose(f) != 0 || bad)
		return sl_error_errno(err, errno, "write %s", x->params_path);
	return 0;
}

/* The secrets' values, masked in everything the run writes down: logs,
 * the store, reasons (redact.h).  One too short to mask is said. */
static void make_redactor(struct exec *x)
{
	x->redact = redact_new();
	for (size_t k = 0; k < x->p->secrets.n; k++) {
		const char *v = getenv(x->p->secrets.v[k].s);
		if (v && redact_add(x->redact, v) == 1 && *v) {
			sl_error *e = NULL;
			sl_error_make(&e,
				      "secret %s is shorter than %d bytes: it is not masked in "
				      "logs and the store",
				      x->p->secrets.v[k].s, REDACT_MIN);
			exec_warn(x, &e);
		}
	}
	store_set_redactor(x->store, x->redact);
}

/* What executor_run and executor_plan share: the steps, the machine, the params. */
static int exec_init(struct exec *x, sl_error **err)
{
	const dag *d = x->d;
	/* from the arena: its chunks are mapped with MAP_POPULATE, one call instead of a
	 * page fault per page of a 10,000-step array (arena.c) */
	x->s = arena_alloc(&x->mem, (d->n + 1) * sizeof(struct exec_step));
	for (size_t i = 0; i < d->n; i++) { /* before any failure: exec_free closes them */
		x->s[i].log_rd = -1;
		x->s[i].log = (steplog)STEPLOG_INIT;
		x->s[i].proc.pidfd = -1;
	}
	status_init(&x->status, x->opt->out, x->opt->live);
	make_redactor(x);
	resource_pool_init(&x->pool, x->opt->jobs, x->opt->cpus, x->opt->memory);
	x->ep = -1;
	x->sfd = -1;
	char exe[PATH_MAX];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el <= 0)
		return sl_error_errno(err, errno, "readlink /proc/self/exe");
	exe[el] = 0;
	x->self_exe = arena_strdup(&x->mem, exe);
	x->run_dir = arena_printf(&x->mem, "%s/runs/%lld", x->store ? store_dir(x->store) : ".",
				  (long long)x->run_id);
	x->params_path = arena_printf(&x->mem, "%s/params.json", x->run_dir);
	if (!x->opt->dry_run && fs_mkdir_p(x->run_dir, 0700) < 0)
		return sl_error_errno(err, errno, "mkdir %s", x->run_dir);
	if (write_params(x, err) < 0 || select_steps(x, err) < 0)
		return -1;
	x->pos = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	x->ready.v = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	x->active = arena_alloc(&x->mem, (d->n + 1) * sizeof(size_t));
	for (size_t k = 0; k < d->n; k++)
		x->pos[d->order[k]] = k;
	for (size_t i = 0; i < d->n; i++) {
		x->s[i].ndeps_left = (int)d->nodes[i].ndeps;
		x->s[i].exit_code = -1;
		x->s[i].aidx = -1;
		if (!d->nodes[i].ndeps)
			minheap_push(&x->ready, x->pos[i]);
	}
	mark_forced(x);
	return 0;
}

static void exec_free(struct exec *x)
{
	for (size_t i = 0; x->s && i < x->d->n; i++) {
		struct exec_step *es = &x->s[i];
		stepkey_release(&es->key);
		steplog_release(&es->log);
		if (es->log_rd >= 0)
			close(es->log_rd);
	}
	if (x->ep >= 0)
		close(x->ep);
	if (x->sfd >= 0)
		close(x->sfd);
	strmap_release(&x->planned);
	strmap_release(&x->progs);
	status_release(&x->status);
	store_set_redactor(x->store, NULL);
	redact_free(x->redact);
	arena_release(&x->mem);
}

/* Every step is pending in the store before anything starts. */
static int record_pending(struct exec *x, sl_error **err)
{
	const dag *d = x->d;
	step_record *recs = xcalloc(d->n + 1, sizeof(step_record));
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		recs[k] = (step_record){.name = (char *)d->nodes[i].name,
					.step = (char *)d->nodes[i].step->name,
					.position = (int)k,
					.status = "pending",
					.exit_code = -1};
	}
	int rc = store_put_steps(x->store, x->run_id, recs, d->n, err);
	free(recs);
	return rc;
}

/* The outcome for the CLI, and the exit code (docs/cli.md): a cancelled run
 * 130, a rejected candidate 3, a failure 1. */
static void fill_result(struct exec *x, exec_result *res)
{
	const dag *d = x->d;
	res->nsteps = d->n;
	res->steps = xcalloc(d->n + 1, sizeof(exec_step_result));
	int any_failed = 0, any_cancelled = 0, any_rejected = 0;
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		struct exec_step *es = &x->s[i];
		exec_step_result *s = &res->steps[k];
		s->name = d->nodes[i].name;
		s->status = step_state_names[es->state];
		snprintf(s->reason, sizeof(s->reason), "%s", es->reason);
		s->attempts = es->attempt;
		s->exit_code = es->exit_code;
		s->duration_s = es->finished_wall && es->started_wall
					? es->finished_wall - es->started_wall
					: 0;
		if (failure_allowed(x, i))
			res->nallowed++;
		else
			any_failed |= es->state == ST_FAILED || es->state == ST_UPSTREAM_FAILED;
		any_cancelled |= es->state == ST_CANCELLED;
		any_rejected |= es->state == ST_REJECTED;
	}
	if (x->cancelled) {
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
}

int executor_run(const pipeline *p, const dag *d, store *st, runner *r, int64_t run_id,
		 const exec_options *opt, exec_result *res, sl_error **err)
{
	struct exec x = {.p = p, .d = d, .store = st, .r = r, .run_id = run_id, .opt = opt};
	memset(res, 0, sizeof(*res));
	int rc = exec_init(&x, err);
	if (rc == 0)
		rc = opt->resume ? resume_adopt(&x, err) : record_pending(&x, err);
	if (rc == 0)
		rc = loop_setup(&x, err);
	if (rc == 0)
		rc = run_loop(&x, err);
	/* after a failure the loop's error is the cause; the batch's is said too */
	sl_error *end_err = NULL;
	if (store_batch_end(st, rc == 0 ? err : &end_err) < 0)
		rc = -1;
	exec_warn(&x, &end_err);
	fill_result(&x, res);
	if (rc == 0 && opt->noop_key && res->exit_code == 0)
		reuse_write_noop_index(&x);
	exec_free(&x);
	return rc;
}

void exec_result_release(exec_result *res)
{
	free(res->steps);
	memset(res, 0, sizeof(*res));
}

int executor_plan(const pipeline *p, const dag *d, store *st, const exec_options *opt,
		  plan_entry **out, sl_error **err)
{
	exec_options o = *opt;
	o.dry_run = 1;
	o.out = NULL;
	o.live = 0;
	struct exec x = {.p = p, .d = d, .store = st, .run_id = 0, .opt = &o};
	*out = NULL;
	if (exec_init(&x, err) < 0) {
		exec_free(&x);
		return -1;
	}
	while (x.ready.n) {
		size_t i = d->order[minheap_pop(&x.ready)];
		if (x.s[i].state == ST_PENDING)
			consider(&x, i);
	}
	plan_entry *e = xcalloc(d->n + 1, sizeof(plan_entry));
	for (size_t k = 0; k < d->n; k++) {
		size_t i = d->order[k];
		struct exec_step *es = &x.s[i];
		e[k].name = d->nodes[i].name;
		e[k].action = es->would_run ? "run" : es->state == ST_CACHED ? "cached" : "skip";
		e[k].why = xstrdup(es->why ? es->why : es->reason[0] ? es->reason : "");
		if (es->state == ST_FAILED) { /* a template that cannot be rendered yet */
			e[k].action = "run";
			free(e[k].why);
			e[k].why = xstrdup(es->reason);
		}
		e[k].cached_from = es->cached_from;
		if (es->keyed)
			snprintf(e[k].cache_key, sizeof(e[k].cache_key), "%s", es->key.key);
	}
	exec_free(&x);
	*out = e;
	return 0;
}

void plan_entries_free(plan_entry *e, size_t n)
{
	for (size_t k = 0; e && k < n; k++)
		free(e[k].why);
	free(e);
}
