/*
 * strict.h — `--sandbox strict` (or SLUICE_SANDBOX=strict): running a
 * pipeline file one does not trust, such as a fork's pull request in CI
 * (docs/sandbox.md, "Strict mode").
 *
 * The default sandbox holds against a step's code; a pipeline file can still
 * open it for its own steps (`sandbox: none`, `sandbox: {network: true}`,
 * `sandbox: {read: [...]}`), and the registry built-ins run outside it.
 * Strict mode refuses every such setting before anything runs, so every step
 * of the file runs in the default sandbox or none does.  The check is on the
 * model alone (no store, no runner), so `plan` answers as `run` would.
 */
#ifndef SLUICE_STRICT_H
#define SLUICE_STRICT_H

#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/pipeline.h"

#include <stddef.h>
#include <stdio.h>

enum sandbox_mode {
	SANDBOX_MODE_DEFAULT, /* the pipeline's own sandbox settings apply */
	SANDBOX_MODE_STRICT,  /* steps that would leave the default sandbox are refused */
};

/* The mode asked for: opt (the --sandbox value) when given, else env (the
 * value of $SLUICE_SANDBOX; NULL or empty: the default).  0 with *mode, or a
 * usage error that names the accepted values (`default`, `strict`). */
int strict_mode_parse(const char *opt, const char *env, enum sandbox_mode *mode, sl_error **err);

/* Add to diags one error per setting of p that strict mode refuses, at the
 * position of the setting (of `defaults:` when the step inherits it; the
 * step's own where no setting is written, as for a registry built-in):
 * `step NAME: sandbox: none is refused by --sandbox strict`.  Every step of
 * the file counts, whatever --only, --from, `when:` or the cache would
 * select.  Returns how many. */
size_t strict_check(const pipeline *p, diag_list *diags);

/* For the commands that run (and plan): in strict mode, print what
 * strict_check refuses to out, sorted, then one line "FILE: N settings
 * refused by --sandbox strict; nothing ran".  Returns how many (0: go on). */
size_t strict_refuse(const pipeline *p, enum sandbox_mode mode, FILE *out);

#endif
