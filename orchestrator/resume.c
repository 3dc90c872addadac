/*
 * resume.c — `sluice resume RUN` (docs/running.md): the executor takes over
 * a run whose orchestrator died or was cancelled.  Step processes it left
 * behind are killed first: by the process group each recorded attempt
 * names (when the pid still belongs to the process that attempt started),
 * and by a scan of /proc for this run's SLUICE_RUN_ID and SLUICE_WORKSPACE,
 * which finds the steps that were spawned but not yet recorded.  Finished
 * steps keep their results, their outputs restored from the cache where the
 * workspace lost them; what was pending, running, waiting or cancelled runs
 * again, its attempts numbered on.
 */
#include "exec_int.h"

#include "sluice/arena.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	if (store_get_attempts(x->store, x->run_id, name, &a, &n, &err) < 0) {
		exec_warn(x, &err);
		return;
	}
	if (n && a[n - 1].pid > 0 && a[n - 1].started > 0) {
		pid_t pid = (pid_t)a[n - 1].pid;
		double started = proc_started_wall(pid);
		if (started > 0 && fabs(started - a[n - 1].started) < 2.0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			status_note(&x->status,
				    "sluice: killed %s's leftover process group %d (attempt %d)\n",
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
		status_note(&x->status, "sluice: killed leftover process %ld of step %s\n", pid,
			    step);
	}
	free(buf);
	if (proc)
		closedir(proc);
}

/* Take over the recorded states of run_id: finished steps keep their results (their
 * outputs restored from the cache where the workspace lost them); what was pending,
 * running, waiting or cancelled runs again, its attempts numbered on. */
int resume_adopt(struct exec *x, sl_error **err)
{
	step_record *recs = NULL;
	size_t n = 0;
	if (store_get_steps(x->store, x->run_id, &recs, &n, err) < 0)
		return -1;
	step_record **by_node = xcalloc(x->d->n + 1, sizeof(step_record *));
	for (size_t k = 0; k < n; k++) {
		long i = dag_find(x->d, recs[k].name);
		if (i < 0)
			continue;
		by_node[i] = &recs[k];
		x->s[i].attempt = recs[k].attempts;
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
	int rc = nmissing ? store_put_steps(x->store, x->run_id, missing, nmissing, err) : 0;
	free(missing);
	if (rc < 0) {
		free(by_node);
		step_record_free_array(recs, n);
		return -1;
	}
	for (size_t k = 0; k < x->d->n; k++) {
		size_t i = x->d->order[k];
		struct exec_step *es = &x->s[i];
		const step_record *r = by_node[i];
		enum step_state s = r ? step_state_from_name(r->status) : ST_PENDING;
		if (!step_state_done(s) || s == ST_CANCELLED || es->state != ST_PENDING)
			continue;
		if (s == ST_SUCCEEDED || s == ST_CACHED) {
			if (reuse_restore(x, i, x->run_id, r->name, 1) < 0) {
				exec_say(x, i, "runs again: %s", es->why);
				continue;
			}
			reuse_adopt_values(x, i, x->run_id, r->name, 0);
		}
		es->cached_from = r->cached_from;
		es->exit_code = r->exit_code;
		snprintf(es->reason, sizeof(es->reason), "%s", r->reason ? r->reason : "");
		es->why = r->why ? arena_strdup(&x->mem, r->why) : NULL;
		es->command = r->command ? arena_strdup(&x->mem, r->command) : NULL;
		if (r->cache_key) { /* keep what it was keyed on for show */
			snprintf(es->key.key, sizeof(es->key.key), "%s", r->cache_key);
			snprintf(es->key.env_hash, sizeof(es->key.env_hash), "%s",
				 r->env_hash ? r->env_hash : "");
			es->key.env_json = r->env_json ? xstrdup(r->env_json) : NULL;
			es->keyed = 1;
		}
		es->started_wall = r->started;
		es->state = s;
		x->done++;
		es->finished_wall = r->finished;
		exec_record(x, i);
		exec_settle(x, i);
	}
	free(by_node);
	step_record_free_array(recs, n);
	return 0;
}
