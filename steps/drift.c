/* drift.c — placeholder until the data-steps work lands (issue 6). */
#include "sluice/builtin.h"

int builtin_drift_run(const builtin_args *args, sl_error **err)
{
	return sl_error_make(err, "built-in step '%s' is not available in this build", args->name);
}
