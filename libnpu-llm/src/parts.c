// SPDX-License-Identifier: MIT
/*
 * Work split into parts over the machine's CPUs, for the loader's and the
 * quantizer's passes over a matrix: each part on its own thread, the
 * first on the caller's, and any part whose thread cannot start on the
 * caller's too, so a failure to start a thread costs time, not results.
 */
#include <pthread.h>
#include <unistd.h>

#include "model_internal.h"

int llm_parts(int most)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > most ? most : (int)cpus;
}

void llm_run_parts(void *(*fn)(void *), void *parts, size_t size, int n)
{
	pthread_t th[LLM_MAX_PARTS];
	int started[LLM_MAX_PARTS], i;

	for (i = 1; i < n; i++)
		started[i] = !pthread_create(&th[i], NULL, fn, (char *)parts + size * i);
	fn(parts);
	for (i = 1; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fn((char *)parts + size * i);
	}
}
