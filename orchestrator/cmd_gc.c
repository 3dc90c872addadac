/* cmd_gc.c — `sluice gc [--dry-run]`: remove cache objects no run references. */
#include "sluice/cache.h"
#include "sluice/cli.h"
#include "sluice/store.h"
#include "sluice/util.h"

#include <stdio.h>

static void print_removed(void *ctx, const char *path, uint64_t size)
{
	char sz[32];
	format_size(size, sz, sizeof(sz));
	printf("%s %s (%s)\n", *(int *)ctx ? "would remove" : "removed", path, sz);
}

int cmd_gc(const cli_args *a)
{
	sl_error *err = NULL;
	store *st = NULL;
	int dry = cli_flag(a, "dry-run") > 0;
	cache_gc_stats s;
	if (cli_open_existing_store(a, &st, &err) < 0 ||
	    cache_gc(st, dry, print_removed, &dry, &s, &err) < 0) {
		store_close(st);
		return cli_fail(&err);
	}
	char rb[32], kb[32];
	format_size(s.removed_bytes, rb, sizeof(rb));
	format_size(s.kept_bytes, kb, sizeof(kb));
	fprintf(stderr, "sluice: gc: %s %zu object%s (%s); kept %zu (%s)\n",
		dry ? "would remove" : "removed", s.removed, s.removed == 1 ? "" : "s", rb, s.kept,
		kb);
	store_close(st);
	return 0;
}
