/*
 * cmd_gc.c — `sluice gc [--dry-run] [--wait DURATION]`: remove cache objects no
 * run references (docs/cli.md, docs/state.md).
 *
 * gc holds the state directory's lock exclusive (statelock.h) while it
 * decides and deletes; every run holds it shared for its whole life, so gc
 * never deletes an object a live run has written and not yet recorded, nor
 * one it is about to restore.  Without --wait a gc that finds runs going
 * refuses at once (exit 2, naming them): what a cron job next to the daemon
 * wants, it tries again next time.  --wait bounds the wait: flock is not
 * fair, so under runs that overlap without a pause gc could wait forever.
 */
#include "sluice/cache.h"
#include "sluice/cli.h"
#include "sluice/statelock.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"
#include "sluice/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void print_removed(void *ctx, const char *path, uint64_t size)
{
	char sz[32];
	format_size(size, sz, sizeof(sz));
	printf("%s %s (%s)\n", *(int *)ctx ? "would remove" : "removed", path, sz);
}

/* "run 12 of churn (pid 4242)", or what the process is when it recorded no run yet. */
static void describe_holder(store *st, const run_info *runs, size_t nruns, int64_t pid, strbuf *sb)
{
	for (size_t i = 0; i < nruns; i++)
		if (runs[i].pid == pid && !strcmp(runs[i].status, "running")) {
			strbuf_addf(sb, "run %lld of %s (pid %lld)", (long long)runs[i].id,
				    runs[i].pipeline, (long long)pid);
			return;
		}
	char path[64], cmd[256] = "";
	snprintf(path, sizeof(path), "/proc/%lld/cmdline", (long long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n - 1; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	cmd[n > 0 ? n : 0] = 0;
	(void)st;
	strbuf_addf(sb, "pid %lld%s%s%s", (long long)pid, cmd[0] ? " ('" : "", cmd,
		    cmd[0] ? "')" : "");
}

/* The usage error of a gc that did not get the lock: who holds it. */
static int refuse(store *st, const char *wait, sl_error **err)
{
	int64_t pids[8];
	size_t n = statelock_holders(store_dir(st), pids, 8);
	run_info *runs = NULL;
	size_t nruns = 0;
	sl_error *e = NULL;
	if (store_list_runs(st, NULL, 0, &runs, &nruns, &e) < 0)
		sl_error_release(&e);
	strbuf who = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addstr(&who, ", ");
		describe_holder(st, runs, nruns, pids[i], &who);
	}
	if (!n)
		strbuf_addstr(&who, "another sluice process");
	run_info_free_array(runs, nruns);
	if (wait)
		sl_error_usage(err,
			       "gc: %s is still in use after waiting %s, by %s; nothing was "
			       "removed",
			       store_dir(st), wait, strbuf_str(&who));
	else
		sl_error_usage(err,
			       "gc: %s is in use by %s; nothing was removed (try again when it "
			       "has finished, or pass --wait DURATION)",
			       store_dir(st), strbuf_str(&who));
	strbuf_release(&who);
	return -1;
}

int cmd_gc(const cli_args *a)
{
	sl_error *err = NULL;
	store *st = NULL;
	statelock *lock = NULL;
	int dry = cli_flag(a, "dry-run") > 0;
	const char *wait = cli_value(a, "wait");
	int64_t wait_ms = 0;
	const char *why;
	if (wait && parse_duration_ms(wait, &wait_ms, &why) < 0) {
		sl_error_usage(&err, "gc: --wait %s: %s", wait, why);
		return cli_fail(&err);
	}
	cache_gc_stats s;
	int rc = cli_open_existing_store(a, &st, &err);
	if (rc == 0)
		rc = statelock_take(store_dir(st), STATELOCK_EXCLUSIVE, wait_ms, &lock, &err);
	if (rc == 1)
		rc = refuse(st, wait, &err);
	if (rc == 0)
		rc = cache_gc(st, dry, print_removed, &dry, &s, &err);
	if (rc < 0) {
		statelock_release(lock);
		store_close(st);
		return cli_fail(&err);
	}
	char rb[32], kb[32];
	format_size(s.removed_bytes, rb, sizeof(rb));
	format_size(s.kept_bytes, kb, sizeof(kb));
	fprintf(stderr, "sluice: gc: %s %zu object%s (%s); kept %zu (%s)",
		dry ? "would remove" : "removed", s.removed, s.removed == 1 ? "" : "s", rb, s.kept,
		kb);
	if (s.tmp_young)
		fprintf(stderr, "; left %zu temporary file%s changed within the hour", s.tmp_young,
			s.tmp_young == 1 ? "" : "s");
	fputc('\n', stderr);
	statelock_release(lock);
	store_close(st);
	return 0;
}
