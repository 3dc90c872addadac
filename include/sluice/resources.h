/*
 * resources.h — what the machine lends to running steps: parallel slots
 * (-j), cpus and memory (resources.cpus, resources.memory), counted, not
 * enforced (the sandbox's cgroups enforce).  The executor asks before it
 * starts a step and gives back when the step's attempt ends; GPU leases
 * belong here too.
 */
#ifndef SLUICE_RESOURCES_H
#define SLUICE_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

typedef struct resource_need {
	double cpus;     /* 0: none counted */
	uint64_t memory; /* bytes; 0: none counted */
} resource_need;

typedef struct resource_pool {
	int jobs, running;
	double cpus_total, cpus_used;
	uint64_t mem_total, mem_used;
} resource_pool;

/* jobs 0: one per cpu; cpus 0 and memory 0: this machine's (sysconf). */
void resource_pool_init(resource_pool *p, int jobs, double cpus, uint64_t memory);

/* 0 when a step with need can run here at all; -1 with why ("needs 4 cpus;
 * this machine has 2 (resources.cpus)") when it never can. */
int resource_check(const resource_pool *p, const resource_need *need, char *why, size_t size);

/* 1 when a step with need may start now.  A free slot is always needed; a
 * step bigger than what is free waits, except on an empty machine, where it
 * runs alone (it fits the machine: resource_check said so). */
int resource_fits(const resource_pool *p, const resource_need *need);

void resource_take(resource_pool *p, const resource_need *need);
void resource_give(resource_pool *p, const resource_need *need);

#endif
