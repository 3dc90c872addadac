/* validate_data.c — placeholder until the data-steps work lands (issue 6). */
#include "sluice/builtin.h"

int builtin_validate_data_run(const builtin_args *args, sl_error **err)
{
	return sl_error_make(err, "built-in step '%s' is not available in this build", args->name);
}
