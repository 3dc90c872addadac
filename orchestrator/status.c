/* status.c — see include/sluice/status.h. */
#include "sluice/status.h"

#include "sluice/arena.h"
#include "sluice/strbuf.h"

#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <stdarg.h>

/* After a write, a stream nobody reads any more (EPIPE) is dropped: the run
 * goes on silently instead of failing on every line. */
static void check_stream(status_printer *sp)
{
	if (fflush(sp->out) != 0 && errno == EPIPE) {
		sp->out = NULL;
		sp->drawn = 0;
	}
}

void status_init(status_printer *sp, FILE *out, int live)
{
	*sp = (status_printer){.out = out, .live = live};
}

void status_release(status_printer *sp)
{
	strmap_release(&sp->said);
	arena_release(&sp->mem);
}

void status_clear(status_printer *sp)
{
	if (sp->out && sp->live && sp->drawn) {
		fputs("\r\x1b[K", sp->out);
		sp->drawn = 0;
	}
}

void status_step(status_printer *sp, size_t done, size_t total, const char *name, const char *text)
{
	if (!sp->out)
		return;
	status_clear(sp);
	fprintf(sp->out, "[%zu/%zu] %s %s\n", done, total, name, text);
	check_stream(sp);
}

void status_note(status_printer *sp, const char *fmt, ...)
{
	if (!sp->out)
		return;
	status_clear(sp);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(sp->out, fmt, ap);
	va_end(ap);
	check_stream(sp);
}

void status_warn(status_printer *sp, sl_error **err)
{
	if (!*err)
		return;
	if (strmap_has(&sp->said, (*err)->msg)) {
		sl_error_release(err);
		return;
	}
	strmap_put(&sp->said, arena_strdup(&sp->mem, (*err)->msg), (void *)1);
	status_clear(sp);
	sl_error_warn(sp->out ? sp->out : stderr, err);
}

void status_live(status_printer *sp, size_t done, size_t total, const status_running *run,
		 size_t nrun, int64_t now_ms)
{
	if (!sp->out || !sp->live)
		return;
	strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "\r[%zu/%zu]", done, total);
	for (size_t k = 0; k < nrun && k < 4; k++) {
		int64_t s = (now_ms - run[k].started_ms) / 1000;
		strbuf_addf(&sb, "%s %s %02lld:%02lld", k ? " |" : "", run[k].name,
			    (long long)(s / 60), (long long)(s % 60));
	}
	strbuf_addstr(&sb, "\x1b[K");
	fputs(strbuf_str(&sb), sp->out);
	sp->drawn = 1;
	check_stream(sp);
	strbuf_release(&sb);
}
