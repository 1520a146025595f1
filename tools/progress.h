/* SPDX-License-Identifier: MIT */
/*
 * A model's loading progress for the tools that load one (npu-run,
 * npu-bench): one updating line on a terminal, a line per layer in a log.
 */
#ifndef NPU_TOOLS_PROGRESS_H
#define NPU_TOOLS_PROGRESS_H

#include <stdio.h>
#include <unistd.h>

/* An npu_llm_model_params progress callback; quiet for a model of 8 layers or fewer. */
static inline void tool_progress(void *user, int done, int total)
{
	(void)user;
	if (total <= 8)
		return;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\rweights: layer %d/%d%s", done, total, done == total ? "\n" : "");
	else
		fprintf(stderr, "weights: layer %d/%d\n", done, total);
}

#endif
