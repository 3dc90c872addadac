/*
 * noop.h — the no-op index: how a second `sluice run` of an unchanged
 * pipeline finds out in milliseconds that nothing needs to run (a no-op
 * near the stat floor, docs/benchmarks.md; ninja's .ninja_log plays the
 * same part).
 *
 * After a run in which every step succeeded or was cached, the executor
 * records under a key made of everything that decides a run besides files
 * (the pipeline file's path and text, the -p overrides, the trigger, the
 * sluice version, TZ) the stat of every file the run read or wrote: inputs,
 * outputs, metrics files and programs, each confirmed through the stat
 * cache to be exactly what was hashed.  The next run with the same key
 * stats those files; when every one is unchanged it records a run whose
 * steps are all cached from that run, without parsing the YAML.  Any
 * difference (or a step that can never count as unchanged: cache: false,
 * side effects, a template naming run.id, a directory input or output)
 * falls back to the full path, which decides step by step.
 */
#ifndef SLUICE_NOOP_H
#define SLUICE_NOOP_H

#include "sluice/arena.h"
#include "sluice/error.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"
#include "sluice/strmap.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* hex (65 bytes) = the key of a run of the pipeline file at abs_path whose
 * text is text, with the -p overrides ps (any order) and trigger. */
void noop_key(const char *abs_path, const char *text, size_t len, const char *const *ps, size_t nps,
	      const char *trigger, char *hex);

/* The packed file list: append one file as it is now. */
void noop_add(strbuf *blob, const char *abs_path, const struct stat *sb);

/* Writing the index after a run: the files it read or wrote, each confirmed
 * through the stat cache to be what the run hashed.  Any file that cannot be
 * confirmed spoils the writer (ok = 0), and put then records nothing. */
typedef struct noop_writer {
	store *st;
	const char *workspace;
	strbuf blob;
	strmap seen; /* absolute paths already in blob (keys in mem) */
	arena mem;
	int ok;
} noop_writer;

void noop_writer_init(noop_writer *w, store *st, const char *workspace);
/* Add path (relative to the workspace when rel, else absolute) with its
 * current stat; hex: the hash the run recorded for it, which the stat cache
 * must hold for exactly this stat (NULL: any content, for a program).  0, or
 * -1 when it cannot count as unchanged (missing, not a regular file, changed):
 * the writer is spoiled. */
int noop_writer_add(noop_writer *w, const char *path, int rel, const char *hex);
/* Record the index under key for run_id when the writer is not spoiled. */
int noop_writer_put(noop_writer *w, const char *key, int64_t run_id, sl_error **err);
void noop_writer_release(noop_writer *w);

/* 1 when every file of the list still has its recorded stat, 0 when one
 * changed (or the list is damaged).  *nfiles: how many were checked. */
int noop_check(const void *blob, size_t len, size_t *nfiles);

#endif
