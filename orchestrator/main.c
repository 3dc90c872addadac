/* main.c — the sluice binary: everything happens in cli_main(). */
#include "sluice/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
