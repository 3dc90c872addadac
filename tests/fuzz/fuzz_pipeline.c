/*
 * fuzz_pipeline.c — libFuzzer harness for the pipeline loader and the DAG:
 * any byte string must give either a pipeline or diagnostics, never a
 * crash, a leak or unbounded memory.
 */
#include "sluice/dag.h"
#include "sluice/pipeline.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	diag_list d = DIAG_LIST_INIT;
	pipeline *p = NULL;
	static const param_override ov[] = {{"n", "5"}, {"data", "x.csv"}};
	pipeline_load_text("fuzz.yaml", "/ws", (const char *)data, size, ov, 2, &p, &d);
	if (p) { /* partial pipelines go through the DAG checks too, as in validate */
		dag *g = NULL;
		if (dag_build(p, &g, &d) == 0)
			dag_free(g);
		pipeline_free(p);
	}
	diag_release(&d);
	return 0;
}
