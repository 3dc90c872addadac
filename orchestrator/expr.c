/* expr.c — placeholder; the expression module is being written. */
#include "sluice/expr.h"
