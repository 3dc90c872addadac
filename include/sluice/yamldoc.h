/*
 * yamldoc.h — a YAML document as a tree of located nodes, built with
 * libyaml's event parser into an arena.
 *
 * Why not use libyaml's document API: we need (1) duplicate keys rejected
 * with both positions, (2) aliases shared, not copied, with a bound on how
 * large the expanded document may grow (a "billion laughs" file fails fast
 * in bounded memory), and (3) whether a scalar was quoted, to type it.
 */
#ifndef SLUICE_YAMLDOC_H
#define SLUICE_YAMLDOC_H

#include "sluice/arena.h"
#include "sluice/diag.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP } ynode_kind;

enum yscalar_style { YSTYLE_PLAIN, YSTYLE_SINGLE, YSTYLE_DOUBLE, YSTYLE_LITERAL, YSTYLE_FOLDED };

typedef struct ynode ynode;
struct ynode {
	ynode_kind kind;
	int line, col; /* 1-based position of the node's first character */
	/* scalar */
	const char *str;
	size_t len;
	enum yscalar_style style;
	/* sequence items / map values */
	ynode **items;
	size_t n;
	/* map keys (scalars only; a complex key is an error) */
	const char **keys;
	int *key_line, *key_col;
	uint64_t expanded; /* nodes in the subtree with aliases expanded (saturating) */
};

/* Default bound on the expanded size of a document, in nodes. */
#define YAMLDOC_MAX_EXPANDED 2000000u

/* Parse text (not necessarily NUL-terminated) into *root (NULL for an empty
 * document).  Errors go to diags with file and position; returns -1 when
 * the document could not be built. */
int yamldoc_parse(arena *a, const char *file, const char *text, size_t len, uint64_t max_expanded,
		  ynode **root, diag_list *diags);

/* Scalar typing (YAML 1.2 core schema, plus yes/no as in 1.1 is NOT done:
 * "no" stays a string).  Quoted scalars are always strings. */
int ynode_is_null(const ynode *n);
int ynode_bool(const ynode *n, int *out);      /* 0 when true/false, else -1 */
int ynode_number(const ynode *n, double *out); /* 0 when a plain number, else -1 */
const char *ynode_kind_name(const ynode *n);   /* "a string", "a list", "a map", "a number"... */
/* The value of key in a map, or NULL. */
const ynode *ynode_get(const ynode *map, const char *key);

#endif
