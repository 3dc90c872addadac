/*
 * statelock.h — the state directory's lock, `DIR/lock` (docs/state.md):
 * what keeps `sluice gc` from deleting cache objects a live run needs.
 *
 * Every command that executes steps (run, rerun, resume) holds the lock
 * shared from before it records its run until it exits; `gc` takes it
 * exclusive, so it runs only while no run does, and a run that starts while
 * gc works waits for it.  The lock is flock(2) on an open file description:
 * the kernel drops it when the holder dies, kill -9 included, so a crashed
 * run never blocks gc.  The descriptor is close-on-exec, and it is taken
 * after the sandbox helper is forked, so no step process holds it.
 */
#ifndef SLUICE_STATELOCK_H
#define SLUICE_STATELOCK_H

#include "sluice/error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct statelock statelock;

enum statelock_mode { STATELOCK_SHARED, STATELOCK_EXCLUSIVE };

/* Take DIR/lock (created when missing) in mode.  wait_ms 0 tries once, a
 * positive wait_ms retries for up to that long, a negative one until it is
 * taken.  Returns 0 with *out set, 1 when the lock stayed busy (*out NULL, no
 * error), or -1 with an error (the file cannot be opened or locked). */
int statelock_take(const char *dir, enum statelock_mode mode, int64_t wait_ms, statelock **out,
		   sl_error **err);
/* Drop the lock and free l; NULL is fine. */
void statelock_release(statelock *l);

/* The pids (at most max) that hold DIR/lock now, other than this process,
 * from /proc/locks; returns how many were found (0 when it cannot tell). */
size_t statelock_holders(const char *dir, int64_t *pids, size_t max);

#endif
