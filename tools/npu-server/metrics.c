// SPDX-License-Identifier: MIT
/* The counters GET /metrics shows, in Prometheus's text format. */
#include <stdio.h>
#include <stdlib.h>

#include "npu-server.h"

struct metrics metrics = { .lock = PTHREAD_MUTEX_INITIALIZER };

void metrics_request(void)
{
	pthread_mutex_lock(&metrics.lock);
	metrics.c.requests++;
	pthread_mutex_unlock(&metrics.lock);
}

void metrics_error(void)
{
	pthread_mutex_lock(&metrics.lock);
	metrics.c.errors++;
	pthread_mutex_unlock(&metrics.lock);
}

void metrics_rejected(void)
{
	pthread_mutex_lock(&metrics.lock);
	metrics.c.rejected++;
	pthread_mutex_unlock(&metrics.lock);
}

void metrics_generation(const struct npu_llm_stats *s)
{
	pthread_mutex_lock(&metrics.lock);
	metrics.c.prompt_tokens += (uint64_t)s->prompt_tokens;
	metrics.c.generated_tokens += (uint64_t)s->generated_tokens;
	metrics.c.generation_s += s->total_s;
	pthread_mutex_unlock(&metrics.lock);
}

char *metrics_text(struct pool *p)
{
	struct counters m;
	int queued, busy;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	pthread_mutex_lock(&metrics.lock);
	m = metrics.c;
	pthread_mutex_unlock(&metrics.lock);
	pthread_mutex_lock(&p->lock);
	queued = p->queued;
	busy = p->busy;
	pthread_mutex_unlock(&p->lock);
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fprintf(f, "# HELP npu_server_requests_total HTTP requests received.\n"
		"# TYPE npu_server_requests_total counter\n"
		"npu_server_requests_total %llu\n"
		"# HELP npu_server_errors_total Requests answered with a 4xx or 5xx status.\n"
		"# TYPE npu_server_errors_total counter\n"
		"npu_server_errors_total %llu\n"
		"# HELP npu_server_rejected_total Requests refused with 503: the queue was full.\n"
		"# TYPE npu_server_rejected_total counter\n"
		"npu_server_rejected_total %llu\n"
		"# HELP npu_server_prompt_tokens_total Prompt tokens evaluated.\n"
		"# TYPE npu_server_prompt_tokens_total counter\n"
		"npu_server_prompt_tokens_total %llu\n"
		"# HELP npu_server_generated_tokens_total Tokens generated.\n"
		"# TYPE npu_server_generated_tokens_total counter\n"
		"npu_server_generated_tokens_total %llu\n"
		"# HELP npu_server_generation_seconds_total Seconds the sessions spent generating.\n"
		"# TYPE npu_server_generation_seconds_total counter\n"
		"npu_server_generation_seconds_total %.6f\n"
		"# HELP npu_server_tokens_per_second Generated tokens over generation seconds.\n"
		"# TYPE npu_server_tokens_per_second gauge\n"
		"npu_server_tokens_per_second %.3f\n"
		"# HELP npu_server_queue_depth Requests waiting for a session.\n"
		"# TYPE npu_server_queue_depth gauge\n"
		"npu_server_queue_depth %d\n"
		"# HELP npu_server_sessions_busy Sessions generating.\n"
		"# TYPE npu_server_sessions_busy gauge\n"
		"npu_server_sessions_busy %d\n"
		"# HELP npu_server_sessions Sessions in all (--parallel).\n"
		"# TYPE npu_server_sessions gauge\n"
		"npu_server_sessions %d\n",
		(unsigned long long)m.requests, (unsigned long long)m.errors,
		(unsigned long long)m.rejected, (unsigned long long)m.prompt_tokens,
		(unsigned long long)m.generated_tokens, m.generation_s,
		m.generation_s > 0 ? (double)m.generated_tokens / m.generation_s : 0.0,
		queued, busy, p->n);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
