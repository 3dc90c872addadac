/*
 * stepkey.h — a step's env hash and cache key, and the sentence that says
 * why a step runs again (docs/caching.md).
 *
 *   env hash  = SHA-256 over the sorted final environment (SLUICE_RUN_ID and
 *               SLUICE_ATTEMPT left out; the per-attempt scratch paths HOME,
 *               TMPDIR, SLUICE_OUTPUT and SLUICE_PARAMS count by name only;
 *               a value that came from a secret by the secret's name only),
 *               the params the step uses (names and values: a param no
 *               template of the step names and it does not declare does not
 *               count), the resolved program
 *               (argv[0], by content), the sluice version, the sandbox
 *               settings and the assigned GPU model and driver.
 *   cache key = SHA-256 over the resolved command (or `uses` + resolved
 *               `with`), the input hashes sorted by path, the declared
 *               output paths, and the env hash.
 *
 * The declared outputs enter the key as well as the other three parts: two
 * steps with the same command and inputs but different declared outputs
 * would otherwise share a cache entry whose files only one of them names
 * (docs/caching.md).
 *
 * The parts are kept as a JSON object (env_json in the store) so that `show`
 * can print them and a later run can say which one changed.
 */
#ifndef SLUICE_STEPKEY_H
#define SLUICE_STEPKEY_H

#include "sluice/error.h"
#include "sluice/pipeline.h"
#include "sluice/store.h"
#include "sluice/strbuf.h"

#include <stddef.h>

typedef struct step_key_in {
	const char *command;           /* resolved command, or "uses NAME k=v ..." */
	char *const *envp;             /* the final environment, NAME=value */
	const char *const *secret_env; /* NULL-terminated names whose value came from a secret */
	const char *program;           /* argv[0], absolute; NULL for a built-in */
	/* the params the step uses, a flat JSON object ({"train.lr": 0.1}; NULL: none) */
	const char *params_json;
	const char *workspace; /* inputs are relative to it */
	const char *const *inputs;
	size_t ninputs;
	const char *const *outputs;
	size_t noutputs;
	const sandbox_config *sandbox;
	const char *gpu; /* "none", or "MODEL driver VERSION" */
	/* plan: hashes of inputs a cached upstream would restore (path → hex), used
	 * instead of the workspace's; may be NULL */
	const struct strmap *known;
} step_key_in;

typedef struct step_key {
	char key[65], env_hash[65];
	char *env_json;      /* malloc'd */
	file_record *inputs; /* path as declared; sha256 NULL when missing */
	size_t ninputs;
} step_key;

/* Hash the inputs (through the stat cache of st; st may be NULL) and the
 * rest.  A missing input is not an error: it enters the key as missing; one
 * that cannot be hashed safely (behind a symlink, a FIFO: filehash_at) is. */
int stepkey_compute(store *st, const step_key_in *in, step_key *out, sl_error **err);
void stepkey_release(step_key *k);

/* The sandbox settings as they enter the env hash and `show`. */
void stepkey_sandbox_text(const sandbox_config *sb, strbuf *out);

/* Why a step with key `now` runs although `prev` ran before (prev_in: the
 * inputs prev was keyed on; producers[k]: the upstream step that writes
 * now->inputs[k], or NULL).  One line: "input data.csv changed (sha256
 * ab12… -> 9f3c…)", "param lr changed (0.1 -> 0.03)", "command changed",
 * "env PYTHONHASHSEED changed",
 * "upstream b changed its output data.csv", at most three, "; "-joined.
 * prev NULL: "no earlier run". */
void stepkey_explain(const step_key *now, const char *now_command, const step_record *prev,
		     const file_record *prev_in, size_t nprev_in, const char *const *producers,
		     char *why, size_t size);

#endif
