/*
 * builtin.c — the table of built-in steps.  Adding one: a file in steps/,
 * an entry point in include/sluice/builtin.h, a row here.
 *
 * Rows whose `run` is NULL are built-ins the design describes whose issue
 * has not landed yet (gate, register, canary, promote, notify): they
 * are known to `validate` so their pipelines check, and running one stops
 * with a clear message instead of pretending.
 */
#include "sluice/builtin.h"

#include <stdio.h>
#include <string.h>

static const char *const validate_keys[] = {"data",    "expectations", "report",
					    "profile", "format",       NULL};
static const char *const validate_req[] = {"data", "expectations", NULL};
static const char *const validate_in[] = {"data", "expectations", NULL};
static const char *const drift_keys[] = {"reference",       "current",
					 "report",          "columns",
					 "categorical",     "numeric",
					 "threshold_share", "ks_threshold",
					 "chi2_threshold",  "wasserstein_threshold",
					 "js_threshold",    "psi_threshold",
					 "fail_on_drift",   "small_sample",
					 "format",          NULL};
static const char *const drift_req[] = {"reference", "current", NULL};
static const char *const drift_in[] = {"reference", "current", NULL};
static const char *const gate_keys[] = {"metrics", "model", "require", "alias", NULL};
static const char *const gate_req[] = {"metrics", "require", NULL};
static const char *const gate_in[] = {"metrics", NULL};
static const char *const register_keys[] = {"model", "artifact", "metrics", "card", NULL};
static const char *const register_req[] = {"model", "artifact", NULL};
static const char *const register_in[] = {"artifact", "metrics", NULL};
static const char *const canary_keys[] = {
	"mode",        "model",      "requests",       "baseline",          "candidate",  "serve",
	"concurrency", "max_p95_ms", "max_error_rate", "min_agreement",     "prometheus", "query",
	"count",       "interval",   "failure_limit",  "success_condition", NULL};
static const char *const canary_req[] = {"mode", NULL};
static const char *const promote_keys[] = {"model", "alias", "version", "deploy", "reason", NULL};
static const char *const promote_req[] = {"model", NULL};
static const char *const notify_keys[] = {"webhook", "text", "on", NULL};
static const char *const notify_req[] = {"webhook", NULL};
static const char *const no_keys[] = {NULL};

static const builtin_step table[] = {
	{"validate-data", "check a CSV or JSON Lines file against expectations", validate_keys,
	 validate_req, validate_in, BUILTIN_SANDBOXED, builtin_validate_data_run},
	{"drift", "compare a current dataset with a reference (PSI, KS, Wasserstein, JS)",
	 drift_keys, drift_req, drift_in, BUILTIN_SANDBOXED, builtin_drift_run},
	{"gate", "accept or reject a candidate by its metrics", gate_keys, gate_req, gate_in, 0,
	 NULL},
	{"register", "store a model version in the registry", register_keys, register_req,
	 register_in, BUILTIN_SIDE_EFFECTS, NULL},
	{"canary", "compare a candidate with the baseline on live or replayed traffic", canary_keys,
	 canary_req, no_keys, BUILTIN_SIDE_EFFECTS, NULL},
	{"promote", "move a registry alias to a version", promote_keys, promote_req, no_keys,
	 BUILTIN_SIDE_EFFECTS, NULL},
	{"notify", "post a message to a webhook", notify_keys, notify_req, no_keys,
	 BUILTIN_SIDE_EFFECTS, NULL},
};

const builtin_step *builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

const builtin_step *builtin_list(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

void builtin_print_list(FILE *out, const char *indent)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		fprintf(out, "%s%-16s %s%s\n", indent, table[i].name, table[i].summary,
			table[i].run ? "" : " (not in this version yet)");
}

const char *builtin_arg(const builtin_args *a, const char *key)
{
	/* The last occurrence wins, as on a command line. */
	for (size_t i = a->n; i-- > 0;)
		if (strcmp(a->keys[i], key) == 0)
			return a->vals[i];
	return NULL;
}
