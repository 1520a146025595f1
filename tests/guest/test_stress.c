// SPDX-License-Identifier: MIT
/*
 * Stress: 4 processes x 2 threads submit mixed jobs at mixed priorities
 * for $NPU_STRESS_SECONDS (default 8), wait for some and not others, and
 * now and then close their file with jobs still queued. Afterwards every
 * waited result is right, no object is left, and the counters add up:
 * submitted = completed + timed out + cancelled.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestlib.h"

#define PROCS 4
#define THREADS 2

struct worker {
	int id;
	int64_t deadline;
	long jobs, wrong;
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);

	while (g_now_ns() < w->deadline) {
		int fd = g_open((int)(next(&rng) % 2));
		struct g_bo cmd[8], buf = g_bo_new(fd, 65536);
		uint64_t ids[8];
		int32_t *p = buf.p;
		int n = 1 + (int)(next(&rng) % 8), i, k;

		for (i = 0; i < n; i++) {
			/* Job i copies its own 1 KiB slice; some are NOPs. */
			struct drm_npu_op op = g_copy_op(buf.addr + i * 4096, buf.addr + 32768 + i * 4096,
							 1, 256);

			if (next(&rng) % 4 == 0)
				memset(&op, 0, sizeof(op));
			for (k = 0; k < 256; k++)
				p[i * 1024 + k] = (int32_t)next(&rng);
			cmd[i] = g_bo_new(fd, 4096);
			if (g_submit(fd, cmd[i].handle, g_stream(&cmd[i], &op, 1),
				     (uint32_t)(next(&rng) % 3), NULL, 0, 0, &ids[i]))
				w->wrong++;
			w->jobs++;
		}
		/* Most rounds wait and check; some close with the jobs queued. */
		if (next(&rng) % 5) {
			for (i = 0; i < n; i++) {
				struct drm_npu_wait wt;

				if (g_wait(fd, ids[i], -1, &wt) || wt.status)
					w->wrong++;
			}
			for (i = 0; i < n; i++) {
				const struct drm_npu_op *op = (const void *)((char *)cmd[i].p + 24);

				if (op->opcode && memcmp(p + i * 1024, p + 8192 + i * 1024, 1024))
					w->wrong++;
			}
		}
		for (i = 0; i < n; i++)
			munmap(cmd[i].p, cmd[i].size);
		munmap(buf.p, buf.size);
		close(fd);
	}
	return NULL;
}

static long long total(const char *name)
{
	return g_counter(0, name) + g_counter(1, name);
}

static void stress(void **state)
{
	const char *env = getenv("NPU_STRESS_SECONDS");
	int64_t t0 = g_now_ns(), deadline = t0 + (env ? atol(env) : 8) * 1000000000ll;
	long long sub0, comp0, to0, can0, maps0, ctxs0, jobs = 0, sub, done;
	int pfd[2], i, status;
	pid_t pids[PROCS];

	(void)state;
	/* Count from when earlier programs' jobs, and what they hold, are gone. */
	g_jobs_freed(5000);
	sub0 = total("submitted");
	comp0 = total("completed");
	to0 = total("timeouts");
	can0 = total("cancelled");
	maps0 = g_debugfs_value(0, "objects", "mappings");
	ctxs0 = g_debugfs_value(0, "objects", "contexts");
	assert_int_equal(pipe(pfd), 0);
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (!pids[i]) {
			struct worker w[THREADS];
			pthread_t th[THREADS];
			long count = 0, wrong = 0;
			int t;

			for (t = 0; t < THREADS; t++) {
				w[t] = (struct worker){ .id = i * THREADS + t, .deadline = deadline };
				pthread_create(&th[t], NULL, worker, &w[t]);
			}
			for (t = 0; t < THREADS; t++) {
				pthread_join(th[t], NULL);
				count += w[t].jobs;
				wrong += w[t].wrong;
			}
			if (write(pfd[1], &count, sizeof(count)) != sizeof(count))
				wrong++;
			_exit(wrong ? 1 : 0);
		}
	}
	for (i = 0; i < PROCS; i++) {
		long count;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(read(pfd[0], &count, sizeof(count)), sizeof(count));
		jobs += count;
	}
	/* Jobs left queued at close finish or are dropped: wait until idle. */
	g_jobs_freed(10000);
	printf("BENCH stress: %lld jobs from %d processes x %d threads in %.1f s\n", jobs, PROCS,
	       THREADS, (g_now_ns() - t0) / 1e9);
	assert_int_equal(g_debugfs_value(0, "objects", "mappings"), maps0);
	assert_int_equal(g_debugfs_value(0, "objects", "contexts"), ctxs0);
	sub = total("submitted") - sub0;
	done = (total("completed") - comp0) + (total("timeouts") - to0) + (total("cancelled") - can0);
	assert_int_equal(sub, jobs);
	assert_int_equal(done, sub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stress),
	};

	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
