// SPDX-License-Identifier: MIT
/*
 * The software core's queue: jobs wait in one FIFO per priority, and a
 * worker thread runs the firmware's command processor on each in turn,
 * highest priority first, so that submit and wait behave as they do on a
 * device: asynchronous, prioritized, the last NPU_JOB_RECORDS results kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swcore_internal.h"

static struct job *pop(struct npu_swcore *c)
{
	int p;

	for (p = NPU_PRIORITIES - 1; p >= 0; p--) {
		struct job *j = c->head[p];

		if (j) {
			c->head[p] = j->next;
			if (!c->head[p])
				c->tail[p] = NULL;
			return j;
		}
	}
	return NULL;
}

/* Polled by the firmware between ops and inside long ones: a cancelled core stops its job. */
static int cancelled(void *ctx)
{
	struct npu_swcore *c = ctx;

	return __atomic_load_n(&c->cancel, __ATOMIC_RELAXED);
}

/* The core's clock for stream profiles: CLOCK_MONOTONIC, as the library's. */
static __u64 clock_ns(void *unused)
{
	struct timespec ts;

	(void)unused;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000 + (__u64)ts.tv_nsec;
}

void *swcore_queue_worker(void *arg)
{
	struct npu_swcore *c = arg;
	struct npu_fw_core core = {
		.tables = &c->tables,
		.mem = { swcore_aspace_translate, c },
		.scratch = c->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.clock_ns = clock_ns,
		.should_stop = cancelled,
		.stop_ctx = c,
	};

	npu_kernels_hooks(c->kernels, &core);
	for (;;) {
		struct npu_fw_result r;
		struct job_slot *slot;
		struct job *j;

		pthread_mutex_lock(&c->q_lock);
		while (!(j = pop(c)) && !c->stop)
			pthread_cond_wait(&c->q_cond, &c->q_lock);
		pthread_mutex_unlock(&c->q_lock);
		if (!j)
			return NULL;

		pthread_rwlock_rdlock(&c->run_lock);
		c->writes_failed = 0;
		if (cancelled(c)) {
			memset(&r, 0, sizeof(r));
			r.status = NPU_JOB_CANCELLED;
		} else {
			npu_fw_exec(&core, j->addr, j->size, &r);
		}
		pthread_rwlock_unlock(&c->run_lock);
		if (c->retire)
			c->retire(c->retire_ctx, j->cookie);

		pthread_mutex_lock(&c->q_lock);
		swcore_aspace_bury(c);
		slot = &c->ring[j->seq % NPU_JOB_RECORDS];
		swcore_wtrack_take(c, slot);
		slot->res.status = r.status;
		slot->res.op_index = r.op_index;
		slot->res.fault_addr = r.fault_addr;
		/* Without the list of what it wrote, a tracked job's result is lost. */
		if (c->writes_failed && r.status == NPU_JOB_OK)
			slot->res.status = NPU_JOB_CANCELLED;
		slot->done = 1;
		c->in_flight--;
		pthread_cond_broadcast(&c->done_cond);
		pthread_mutex_unlock(&c->q_lock);
		free(j);
	}
}

int npu_swcore_submit(struct npu_swcore *c, uint64_t addr, uint32_t size, int prio,
		      uint64_t cookie, uint64_t *seq)
{
	struct job *j = calloc(1, sizeof(*j));
	struct job_slot *slot;

	if (!j)
		return NPU_E_NOMEM;
	if (prio < 0 || prio >= NPU_PRIORITIES) {
		free(j);
		return NPU_E_INVAL;
	}
	j->addr = addr;
	j->size = size;
	j->cookie = cookie;
	pthread_mutex_lock(&c->q_lock);
	slot = &c->ring[c->next_seq % NPU_JOB_RECORDS];
	if (c->in_flight == NPU_JOB_RECORDS || (slot->seq && !slot->done)) {
		pthread_mutex_unlock(&c->q_lock);
		free(j);
		return NPU_E_NOSPC;
	}
	j->seq = c->next_seq++;
	slot->seq = j->seq;
	slot->done = 0;
	c->in_flight++;
	if (c->tail[prio])
		c->tail[prio]->next = j;
	else
		c->head[prio] = j;
	c->tail[prio] = j;
	*seq = j->seq;
	pthread_cond_signal(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
	return NPU_OK;
}

int npu_swcore_wait(struct npu_swcore *c, uint64_t seq, int64_t timeout_ns,
		    struct npu_job_result *res, struct npu_swcore_range *writes,
		    uint32_t max_writes, uint32_t *n_writes)
{
	struct job_slot *slot = &c->ring[seq % NPU_JOB_RECORDS];
	struct timespec deadline;
	int err = NPU_OK;

	if (timeout_ns > 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ns / 1000000000;
		deadline.tv_nsec += timeout_ns % 1000000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&c->q_lock);
	if (seq == 0 || seq >= c->next_seq) {
		err = NPU_E_INVAL;
	} else if (slot->seq != seq) {
		err = NPU_E_EXPIRED;
	} else {
		while (!slot->done && slot->seq == seq) {
			if (timeout_ns == 0) {
				err = NPU_E_TIMEOUT;
				break;
			}
			if (timeout_ns < 0) {
				pthread_cond_wait(&c->done_cond, &c->q_lock);
			} else if (pthread_cond_timedwait(&c->done_cond, &c->q_lock, &deadline) ==
				   ETIMEDOUT) {
				err = slot->done ? NPU_OK : NPU_E_TIMEOUT;
				break;
			}
		}
		if (!err) {
			*res = slot->res;
			swcore_wtrack_copy(slot, writes, max_writes, n_writes);
		}
	}
	pthread_mutex_unlock(&c->q_lock);
	return err;
}
