#include "sluice/cli.h"
int cmd_graph(const cli_args *a) { return 0; }
