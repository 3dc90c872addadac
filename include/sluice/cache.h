/*
 * cache.h — the content-addressed store of step outputs, docs/caching.md:
 * `.sluice/cache/ab/cdef…` holds the bytes whose SHA-256 is abcdef…, read-only.
 *
 * A regular file is one object.  A directory is its manifest (the text
 * filehash_manifest_at makes, whose hash is the directory's hash) stored as
 * `ab/cdef….dir` next to one object per file; a symlink's target text is an
 * object too, so a manifest can be restored line by line (DVC does the same).
 * An output that is itself a symlink is `ab/cdef….link`, its target text,
 * under filehash_link's hash: restored as a symlink, never followed.
 * Objects keep their files' holes (fsutil.h's fs_copy_data), both ways.
 *
 * The workspace side is reached beneath its directory fd (wspath.h): a
 * step's symlinks are never followed, a parent that is a symlink is an
 * error, special files are refused; a restored file has no setuid or
 * setgid bit and no file capabilities.
 *
 * Objects are written to a temporary file in the same directory, fsynced,
 * made read-only and renamed into place, so a reader never sees half an
 * object and a kill -9 leaves at most a temporary file for gc.  Restoring
 * tries a reflink (a copy-on-write clone), then a hard link, then a copy.
 * A hard-linked object shares its inode with the workspace file, so before
 * linking, the object is checked against its recorded hash through the stat
 * cache: an object changed behind our back is dropped, never restored.
 */
#ifndef SLUICE_CACHE_H
#define SLUICE_CACHE_H

#include "sluice/error.h"
#include "sluice/store.h"

#include <stddef.h>
#include <stdint.h>

/* Store rel beneath the workspace wsfd (at path ws: the stat cache's keys
 * are ws/rel), a file, a directory or a symlink, whose content hash is hex
 * (filehash_at's).  Already stored objects are not copied again.  What no
 * longer has hash hex (changed since it was hashed) is an error. */
int cache_put_at(store *st, int wsfd, const char *ws, const char *rel, const char *hex,
		 sl_error **err);
/* The same for a path sluice trusts all the way, resolved beneath "/" (or
 * the working directory) without symlinks: tests and tools. */
int cache_put(store *st, const char *path, const char *hex, sl_error **err);

/* 1 when the object for hex (a file, or a directory manifest) is present. */
int cache_has(store *st, const char *hex);

enum cache_how { CACHE_SAME, CACHE_REFLINK, CACHE_HARDLINK, CACHE_COPY };

/* Make rel beneath the workspace wsfd (at ws) hold the content hex,
 * replacing what is there atomically (a temporary name in the same
 * directory, then rename); missing parents are made.  When rel already has
 * that hash nothing is touched (CACHE_SAME).  *how may be NULL. */
int cache_restore_at(store *st, int wsfd, const char *ws, const char *rel, const char *hex,
		     enum cache_how *how, sl_error **err);
/* The same for a path sluice trusts all the way (as cache_put). */
int cache_restore(store *st, const char *hex, const char *dest, enum cache_how *how,
		  sl_error **err);
const char *cache_how_name(enum cache_how how);

/* Give every file at rel beneath wsfd (a file, or the files below a directory)
 * that shares its inode with another name (a hard link, as a restore may make)
 * an inode of its own, by copying it under a temporary name and renaming it
 * back: a step that writes its output in place must not write into the
 * cache.  A missing rel is fine; symlinks are left alone. */
int cache_unshare_at(int wsfd, const char *rel, sl_error **err);
/* The same for a path sluice trusts all the way (as cache_put). */
int cache_unshare(const char *path, sl_error **err);

typedef struct cache_gc_stats {
	size_t kept, removed;
	uint64_t kept_bytes, removed_bytes;
	size_t tmp_young; /* temporary files left alone: changed within the last hour */
} cache_gc_stats;

/* Remove every object no run's output references (directly or through a
 * referenced directory manifest) and leftover temporary files (those not
 * changed for an hour: a younger one may be a live writer's).  With
 * dry_run nothing is removed.  each (may be NULL) is told every object
 * removed (or that would be).  Refused (usage error) while a run is live.
 * The caller holds the state directory's lock exclusive (statelock.h):
 * the check of live runs alone cannot see a run that starts meanwhile. */
int cache_gc(store *st, int dry_run, void (*each)(void *ctx, const char *path, uint64_t size),
	     void *ctx, cache_gc_stats *out, sl_error **err);

#endif
