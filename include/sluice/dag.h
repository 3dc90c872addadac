/*
 * dag.h — the pipeline as a graph of step instances (docs/pipeline-reference.md).
 *
 * dag_build() expands matrices into instances (`train[lr=0.1,depth=4]`),
 * resolves the templates of inputs, outputs and metrics with what is known
 * before a run (params, env, matrix), normalises the paths (no absolute
 * paths, no `..` out of the workspace), and adds an edge for each `needs`
 * and for each input that another instance declares as an output (or that
 * is a directory holding one).  Cycles are reported as the whole cycle; two
 * instances may not declare one output; a `steps.X` reference needs X
 * upstream.  `order` is a topological order that is stable: among ready
 * instances, the one that comes first in the file goes first.
 */
#ifndef SLUICE_DAG_H
#define SLUICE_DAG_H

#include "sluice/arena.h"
#include "sluice/diag.h"
#include "sluice/expr.h"
#include "sluice/pipeline.h"

#include <stddef.h>
#include <stdio.h>

typedef struct dag_node {
	const char *name; /* the step's name, or NAME[k=v,...] for a matrix instance */
	const pstep *step;
	size_t nm;          /* matrix assignment: the step's axes in order */
	const char **mvals; /* the value of each axis as written */
	expr_type *mtypes;
	const char **inputs; /* resolved, normalised workspace-relative paths */
	size_t ninputs;
	const char **outputs;
	size_t noutputs;
	const char *metrics; /* resolved path, or NULL */
	size_t *deps;        /* nodes this one waits for (no duplicates) */
	size_t ndeps;
	size_t *rdeps; /* nodes that wait for this one */
	size_t nrdeps;
} dag_node;

typedef struct dag {
	arena mem;
	const pipeline *p;
	dag_node *nodes; /* in file order, instances of a step together */
	size_t n;
	size_t *order; /* topological */
} dag;

/* Every error goes to diags; returns 0 and *out, or -1 (*out NULL). */
int dag_build(const pipeline *p, dag **out, diag_list *diags);
void dag_free(dag *d);

/* Index of the node with this name, or -1. */
long dag_find(const dag *d, const char *name);

/* A lookup for the expressions known before a run: params, env (whose own
 * templates are rendered), and the matrix values of node (may be NULL). */
typedef struct dag_lookup_ctx {
	const pipeline *p;
	const dag_node *node;
	arena *a;
	int depth;
} dag_lookup_ctx;
int dag_plan_lookup(void *ctx, const char *const *parts, size_t n, expr_value *out, char *msg,
		    size_t msgsize);

/* The value of a matrix axis of a node as a typed expression value. */
expr_value dag_matrix_value(const dag_node *node, size_t axis);

int dag_write_dot(const dag *d, FILE *out);
int dag_write_mermaid(const dag *d, FILE *out);

#endif
