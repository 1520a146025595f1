// SPDX-License-Identifier: MIT
/*
 * The counters GET /metrics shows, in Prometheus's text format: the
 * server's own, its resident memory, and on npu.ko the NPU's counters
 * from the driver's sysfs files (docs/ABI/sysfs-driver-npu), which count
 * every client of the NPU, not only this server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/* A number from npu.ko's sysfs file @name for @node, or -1 when it cannot be read. */
static long long sysfs_value(const char *node, const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/accel/%s/device/%s", node, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The busy share of the NPU's cores since the previous scrape (the first: since start). */
static double utilisation(long long busy_us, long long cores)
{
	static double last_t;
	static long long last_busy = -1;
	double t = now_s(), u = 0;

	pthread_mutex_lock(&metrics.lock);
	if (last_busy >= 0 && t > last_t && cores > 0 && busy_us >= last_busy)
		u = (double)(busy_us - last_busy) * 1e-6 / ((t - last_t) * (double)cores);
	last_busy = busy_us;
	last_t = t;
	pthread_mutex_unlock(&metrics.lock);
	return u;
}

static void npu_metrics(FILE *f, const char *node)
{
	static const struct { const char *file, *help; } counters[] = {
		{ "jobs_submitted", "Jobs of all clients accepted by SUBMIT." },
		{ "jobs_completed", "Jobs a core finished, whatever their status." },
		{ "jobs_failed", "Jobs that finished with a status other than OK." },
		{ "jobs_cancelled", "Jobs dropped unrun (their file closed or banned)." },
		{ "mmu_faults", "Jobs that faulted outside their client's address space." },
		{ "job_timeouts", "Jobs that ran past the driver's job_timeout_ms." },
		{ "core_resets", "Core resets." },
	};
	long long busy = sysfs_value(node, "npu_busy_time_us"), v;
	long long cores = sysfs_value(node, "cores");
	size_t i;

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		v = sysfs_value(node, counters[i].file);
		if (v >= 0)
			fprintf(f, "# HELP npu_device_%s_total %s\n# TYPE npu_device_%s_total counter\n"
				"npu_device_%s_total{device=\"%s\"} %lld\n", counters[i].file,
				counters[i].help, counters[i].file, counters[i].file, node, v);
	}
	if (busy >= 0 && cores > 0)
		fprintf(f, "# HELP npu_device_busy_seconds_total Time the NPU's cores ran jobs, "
			"summed over cores.\n# TYPE npu_device_busy_seconds_total counter\n"
			"npu_device_busy_seconds_total{device=\"%s\"} %.6f\n"
			"# HELP npu_device_cores Cores of the NPU.\n# TYPE npu_device_cores gauge\n"
			"npu_device_cores{device=\"%s\"} %lld\n"
			"# HELP npu_device_utilisation Busy share of the NPU's cores since the "
			"previous scrape.\n# TYPE npu_device_utilisation gauge\n"
			"npu_device_utilisation{device=\"%s\"} %.4f\n", node, (double)busy * 1e-6,
			node, cores, node, utilisation(busy, cores));
	v = sysfs_value(node, "memory_bytes");
	if (v >= 0)
		fprintf(f, "# HELP npu_device_memory_bytes Buffer objects alive on the NPU, all "
			"clients.\n# TYPE npu_device_memory_bytes gauge\n"
			"npu_device_memory_bytes{device=\"%s\"} %lld\n", node, v);
}

/* This server's buffers on its device(s), and its resident memory. */
static void memory_metrics(FILE *f, struct server *srv)
{
	unsigned long long pages = 0, rss = 0;
	uint64_t buffers = 0;
	struct npu_memory mem;
	FILE *statm;
	int i;

	for (i = -1; i < srv->a.parallel; i++) {
		npu_device *d = i < 0 ? srv->dev : srv->devs ? srv->devs[i] : NULL;

		if (d && !npu_memory_usage(d, &mem))
			buffers += mem.buffers;
	}
	if (srv->dev)
		fprintf(f, "# HELP npu_server_device_buffer_bytes This server's buffers on its "
			"device: weights, KV caches, activations.\n"
			"# TYPE npu_server_device_buffer_bytes gauge\n"
			"npu_server_device_buffer_bytes %llu\n", (unsigned long long)buffers);
	statm = fopen("/proc/self/statm", "r");
	if (statm && fscanf(statm, "%llu %llu", &pages, &rss) == 2)
		fprintf(f, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			"# TYPE process_resident_memory_bytes gauge\n"
			"process_resident_memory_bytes %llu\n",
			rss * (unsigned long long)sysconf(_SC_PAGESIZE));
	if (statm)
		fclose(statm);
}

char *metrics_text(struct server *srv)
{
	struct pool *p = &srv->pool;
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
	memory_metrics(f, srv);
	if (srv->node[0])
		npu_metrics(f, srv->node);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
