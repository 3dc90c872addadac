/*
 * noop.h — the no-op index: how a second `sluice run` of an unchanged
 * pipeline finds out in milliseconds that nothing needs to run (design.md
 * section 11: "a parsed plan cached by the pipeline file's hash brings a
 * no-op near the stat floor"; ninja's .ninja_log plays the same part).
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

#include "sluice/strbuf.h"

#include <stddef.h>
#include <sys/stat.h>

/* hex (65 bytes) = the key of a run of the pipeline file at abs_path whose
 * text is text, with the -p overrides ps (any order) and trigger. */
void noop_key(const char *abs_path, const char *text, size_t len, const char *const *ps, size_t nps,
	      const char *trigger, char *hex);

/* The packed file list: append one file as it is now. */
void noop_add(strbuf *blob, const char *abs_path, const struct stat *sb);

/* 1 when every file of the list still has its recorded stat, 0 when one
 * changed (or the list is damaged).  *nfiles: how many were checked. */
int noop_check(const void *blob, size_t len, size_t *nfiles);

#endif
