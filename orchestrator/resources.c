/* resources.c — see include/sluice/resources.h. */
#include "sluice/resources.h"

#include "sluice/error.h"
#include "sluice/util.h"

#include <stdio.h>
#include <unistd.h>

void resource_pool_init(resource_pool *p, int jobs, double cpus, uint64_t memory)
{
	*p = (resource_pool){0};
	if (cpus <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		cpus = cores > 0 ? (double)cores : 1;
	}
	if (!memory) {
		long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
		memory = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : UINT64_MAX;
	}
	p->cpus_total = cpus;
	p->mem_total = memory;
	p->jobs = jobs > 0 ? jobs : (int)cpus;
	if (p->jobs < 1)
		p->jobs = 1;
}

int resource_check(const resource_pool *p, const resource_need *need, char *why, size_t size)
{
	if (need->cpus > p->cpus_total) {
		snprintf(why, size, "needs %g cpus; this machine has %g (resources.cpus)",
			 need->cpus, p->cpus_total);
		return -1;
	}
	if (need->memory > p->mem_total) {
		char want[32], have[32];
		format_size(need->memory, want, sizeof(want));
		format_size(p->mem_total, have, sizeof(have));
		snprintf(why, size, "needs %s of memory; this machine has %s (resources.memory)",
			 want, have);
		return -1;
	}
	return 0;
}

int resource_fits(const resource_pool *p, const resource_need *need)
{
	if (p->running >= p->jobs)
		return 0;
	return p->running == 0 || (p->cpus_used + need->cpus <= p->cpus_total + 1e-9 &&
				   p->mem_used + need->memory <= p->mem_total);
}

void resource_take(resource_pool *p, const resource_need *need)
{
	p->running++;
	p->cpus_used += need->cpus;
	p->mem_used += need->memory;
}

void resource_give(resource_pool *p, const resource_need *need)
{
	if (p->running <= 0)
		SL_BUG("resource_give with no step running");
	p->running--;
	p->cpus_used -= need->cpus;
	p->mem_used -= need->memory;
}
