/*
 * fake.c — the fake runner (include/sluice/runner_fake.h).  The contract is
 * runner.h's, kept as the real runners keep it: start leaves the caller's
 * out_fd alone (it writes the scripted log and keeps no copy), the pidfd is
 * the runner's and finish closes it (early when a group lingers: linger_ms),
 * signal after finish sends nothing.
 */
#include "sluice/runner_fake.h"

#include "sluice/arena.h"
#include "sluice/clock.h"
#include "sluice/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct script {
	const char *name;
	fake_behavior *b;
	size_t n, next;
};

struct fake {
	runner base;
	arena mem;
	struct script *scripts;
	size_t nscripts;
	fake_event *events;
	size_t nevents, cap;
	int running, max_running;
	pid_t next_pid;
};

/* One running attempt. */
struct fake_proc {
	fake_behavior b;
	size_t event;
	char *cwd, *output_file;
	const char **outputs;
	size_t noutputs;
	const char *metrics;
	int ended_by;         /* the signal that ends it, 0 when it ends by itself */
	int64_t linger_until; /* the leader is gone, its group lingers until then */
	int linger_cut;       /* SIGKILL during the linger */
};

static struct script *script_of(struct fake *f, const char *name)
{
	for (size_t k = 0; k < f->nscripts; k++)
		if (!strcmp(f->scripts[k].name, name))
			return &f->scripts[k];
	return NULL;
}

void runner_fake_script(runner *r, const char *name, const fake_behavior *b)
{
	struct fake *f = (struct fake *)r;
	struct script *s = script_of(f, name);
	if (!s) {
		f->scripts =
			arena_grow(&f->mem, f->scripts, sizeof(*s), f->nscripts, f->nscripts + 1);
		s = &f->scripts[f->nscripts++];
		s->name = arena_strdup(&f->mem, name);
	}
	s->b = arena_grow(&f->mem, s->b, sizeof(*b), s->n, s->n + 1);
	s->b[s->n++] = *b;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Arm the "pidfd" to fire in ms (at once for 0: a zero it_value disarms). */
static int arm(int tfd, int64_t ms)
{
	struct itimerspec it = {0};
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (!ms)
		it.it_value.tv_nsec = 1;
	return timerfd_settime(tfd, 0, &it, NULL);
}

static int fake_start(runner *r, const step_launch *l, step_proc *p, sl_error **err)
{
	struct fake *f = (struct fake *)r;
	fake_behavior b = {0};
	struct script *s = script_of(f, l->name);
	if (s && s->n) {
		b = s->b[s->next < s->n ? s->next : s->n - 1];
		s->next++;
	}
	if (b.fail_start)
		return sl_error_errno(err, EAGAIN, "fake: cannot start %s", l->name);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (tfd < 0 || arm(tfd, b.run_ms) < 0) {
		int e = errno;
		if (tfd >= 0)
			close(tfd);
		return sl_error_errno(err, e, "fake: timerfd for %s", l->name);
	}
	struct fake_proc *fp = xcalloc(1, sizeof(*fp));
	fp->b = b;
	fp->cwd = xstrdup(l->cwd);
	const char *out = env_get(l->envp, "SLUICE_OUTPUT");
	fp->output_file = out ? xstrdup(out) : NULL;
	fp->outputs = (const char **)l->outputs;
	fp->noutputs = l->noutputs;
	fp->metrics = l->metrics;
	if (b.log && write(l->out_fd, b.log, strlen(b.log)) < 0) {
		/* the log pipe is the executor's; a test reads what arrived */
	}
	if (f->nevents == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->events = xrealloc(f->events, f->cap * sizeof(*f->events));
	}
	f->running++;
	if (f->running > f->max_running)
		f->max_running = f->running;
	const char *attempt = env_get(l->envp, "SLUICE_ATTEMPT");
	fp->event = f->nevents;
	f->events[f->nevents++] = (fake_event){.name = arena_strdup(&f->mem, l->name),
					       .attempt = attempt ? atoi(attempt) : 0,
					       .started_ms = clock_mono_ms(),
					       .running = f->running};
	p->pid = f->next_pid++;
	p->pidfd = tfd;
	p->owner = r;
	p->priv = fp;
	p->reaped = 0;
	if (b.raise_at_start)
		raise(b.raise_at_start);
	return 0;
}

static int fake_signal(runner *r, step_proc *p, int sig)
{
	struct fake *f = (struct fake *)r;
	if (p->reaped)
		return 0;
	struct fake_proc *fp = p->priv;
	fake_event *ev = &f->events[fp->event];
	ev->terms += sig == SIGTERM;
	ev->kills += sig == SIGKILL;
	if (fp->linger_until && sig == SIGKILL)
		fp->linger_cut = 1;
	if (fp->ended_by)
		return 0;
	if (sig == SIGKILL || (sig == SIGTERM && !fp->b.ignore_term)) {
		fp->ended_by = sig;
		return arm(p->pidfd, 0);
	}
	return 0;
}

static int write_file(const char *dir, const char *rel, const char *text, int append)
{
	char path[4096];
	if (rel)
		snprintf(path, sizeof(path), "%s/%s", dir, rel);
	else
		snprintf(path, sizeof(path), "%s", dir);
	fs_mkdir_parents(path, 0755);
	FILE *out = fopen(path, append ? "ae" : "we");
	if (!out)
		return -1;
	int bad = fputs(text, out) < 0;
	return fclose(out) != 0 || bad ? -1 : 0;
}

static int fake_finish(runner *r, step_proc *p, step_exit *ex, sl_error **err)
{
	struct fake *f = (struct fake *)r;
	if (p->reaped)
		return sl_error_make(err, "fake: pid %d was finished already", (int)p->pid);
	struct fake_proc *fp = p->priv;
	fake_event *ev = &f->events[fp->event];
	if (p->pidfd < 0) { /* the group lingers: polled */
		if (!fp->linger_cut && clock_mono_ms() < fp->linger_until)
			return 0;
		ev->lingered = fp->linger_cut ? 2 : 1;
	} else {
		uint64_t fired;
		if (read(p->pidfd, &fired, sizeof(fired)) != sizeof(fired))
			return errno == EAGAIN ? 0
					       : sl_error_errno(err, errno, "fake: read timerfd");
		if (fp->b.linger_ms && fp->ended_by == SIGTERM) {
			close(p->pidfd);
			p->pidfd = -1;
			fp->linger_until = clock_mono_ms() + fp->b.linger_ms;
			return 0;
		}
	}
	memset(ex, 0, sizeof(*ex));
	ex->peak_memory = -1;
	int sig = fp->ended_by ? fp->ended_by : fp->b.signal;
	if (sig) {
		ex->signal = sig;
	} else {
		ex->exited = 1;
		ex->code = fp->b.exit_code;
	}
	if (fp->b.reason) {
		snprintf(ex->reason, sizeof(ex->reason), "%s", fp->b.reason);
		ex->oom = fp->b.oom;
	}
	if (!sig) {
		if (fp->b.outputs && fp->output_file)
			write_file(fp->output_file, NULL, fp->b.outputs, 1);
		if (fp->b.metrics && fp->metrics)
			write_file(fp->cwd, fp->metrics, fp->b.metrics, 0);
		for (size_t k = 0; k < fp->noutputs && !fp->b.no_outputs && !ex->code; k++) {
			char def[512];
			snprintf(def, sizeof(def), "output of %s\n", ev->name);
			write_file(fp->cwd, fp->outputs[k], fp->b.content ? fp->b.content : def, 0);
		}
	}
	ev->ended_ms = clock_mono_ms();
	ev->ended_by = fp->ended_by;
	f->running--;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->reaped = 1;
	p->priv = NULL;
	free(fp->cwd);
	free(fp->output_file);
	free(fp);
	return 1;
}

static void fake_free(runner *r)
{
	struct fake *f = (struct fake *)r;
	arena_release(&f->mem);
	free(f->events);
	free(f);
}

static const runner_ops fake_ops = {
	.name = "fake",
	.start = fake_start,
	.signal = fake_signal,
	.finish = fake_finish,
	.free = fake_free,
};

runner *runner_fake_new(void)
{
	struct fake *f = xcalloc(1, sizeof(*f));
	f->base.ops = &fake_ops;
	f->next_pid = 100000000; /* above any pid_max: never a real process */
	return &f->base;
}

size_t runner_fake_nevents(const runner *r)
{
	return ((const struct fake *)r)->nevents;
}

const fake_event *runner_fake_event(const runner *r, size_t k)
{
	const struct fake *f = (const struct fake *)r;
	return k < f->nevents ? &f->events[k] : NULL;
}

const fake_event *runner_fake_find(const runner *r, const char *name, int attempt)
{
	const struct fake *f = (const struct fake *)r;
	for (size_t k = 0; k < f->nevents; k++)
		if (!strcmp(f->events[k].name, name) && f->events[k].attempt == attempt)
			return &f->events[k];
	return NULL;
}

int runner_fake_max_running(const runner *r)
{
	return ((const struct fake *)r)->max_running;
}
