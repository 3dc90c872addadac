/* cmd_help.c — `sluice help [CMD]` and `sluice version`. */
#include "sluice/builtin.h"
#include "sluice/cli.h"
#include "sluice/util.h"

#include <stdio.h>
#include <string.h>

int cmd_version(const cli_args *a)
{
	printf("sluice %s\n", SLUICE_VERSION);
	return EXIT_OK;
}

int cmd_help(const cli_args *a)
{
	if (a->npos == 1) {
		const cli_cmd *cmd = cli_find(a->pos[0]);
		if (!cmd) {
			fprintf(stderr, "sluice: no such command '%s' (see 'sluice help')\n",
				a->pos[0]);
			return EXIT_USAGE;
		}
		cli_print_help(cmd);
		if (strcmp(cmd->name, "step") == 0) {
			printf("\nbuilt-in steps:\n");
			builtin_print_list(stdout, "  ");
		}
		return EXIT_OK;
	}
	size_t n;
	const cli_cmd *cmds = cli_commands(&n);
	printf("sluice %s — reproducible, sandboxed ML pipelines\n\n"
	       "usage: sluice COMMAND [ARGS]\n\ncommands:\n",
	       SLUICE_VERSION);
	for (size_t i = 0; i < n; i++)
		printf("  %-10s %s\n", cmds[i].name, cmds[i].summary);
	printf("\n'sluice help COMMAND' or 'sluice COMMAND --help' explains one command.\n"
	       "Documentation: docs/ (user guide, pipeline reference, CLI reference).\n");
	return EXIT_OK;
}
