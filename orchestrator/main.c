/* main.c — the sluice binary: everything happens in cli_main(). */
#include "sluice/cli.h"

#include <signal.h>

int main(int argc, char **argv)
{
	/* a reader that went away (`sluice run | head -1`) must not kill a run:
	 * writes to it fail with EPIPE instead, and the run goes on.  Steps get
	 * SIGPIPE back at its default (runners/plain.c, sandbox_child.c). */
	signal(SIGPIPE, SIG_IGN);
	return cli_main(argc, argv);
}
