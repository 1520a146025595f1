// SPDX-License-Identifier: MIT
/*
 * The software NPU core: boot the firmware image and the kernels, start the
 * worker (queue.c), describe the core, and take it all down again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swcore_internal.h"

static void release(struct npu_swcore *c)
{
	uint32_t i;

	for (i = 0; i < NPU_JOB_RECORDS; i++)
		free(c->ring[i].writes);
	free(c->writes);
	npu_kernels_destroy(c->kernels);
	free(c->scratch);
	free(c->image);
	free(c);
}

int npu_swcore_create(int track_writes, npu_swcore_retire_fn retire, void *ctx,
		      struct npu_swcore **out)
{
	struct npu_swcore *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;
	size_t size;
	int err, isa;

	if (!c)
		return NPU_E_NOMEM;
	err = npu_firmware_load(&c->image, &size);
	if (!err && npu_fw_image_verify(c->image, size, &c->tables) != NPU_FW_IMAGE_OK)
		err = NPU_E_FIRMWARE;
	/* $NPU_CPU_ISA lowers the kernels' level; a name it does not know is refused. */
	isa = npu_isa_select(getenv("NPU_CPU_ISA"));
	if (!err && isa < 0)
		err = NPU_E_INVAL;
	if (!err) {
		c->scratch = aligned_alloc(64, NPU_FW_SCRATCH_SIZE);
		c->kernels = npu_kernels_create(isa);
		if (!c->scratch || !c->kernels)
			err = NPU_E_NOMEM;
		else
			npu_kernels_set_store(c->kernels, swcore_aspace_packed_store, c);
	}
	if (err) {
		release(c);
		return err;
	}
	c->track_writes = track_writes;
	c->retire = retire;
	c->retire_ctx = ctx;
	c->va_next = NPU_VA_START;
	c->next_seq = 1;
	pthread_rwlock_init(&c->run_lock, NULL);
	pthread_mutex_init(&c->map_lock, NULL);
	pthread_mutex_init(&c->q_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->q_cond, NULL);
	pthread_cond_init(&c->done_cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&c->worker, NULL, swcore_queue_worker, c)) {
		release(c);
		return NPU_E_NOMEM;
	}
	*out = c;
	return NPU_OK;
}

void npu_swcore_destroy(struct npu_swcore *c, int cancel)
{
	/* Queued jobs still run (or end CANCELLED): stop is seen only when the queue is empty. */
	pthread_mutex_lock(&c->q_lock);
	__atomic_store_n(&c->cancel, cancel, __ATOMIC_RELAXED);
	c->stop = 1;
	pthread_cond_broadcast(&c->q_cond);
	pthread_mutex_unlock(&c->q_lock);
	pthread_join(c->worker, NULL);
	/* No job runs any more: release every buffer still mapped, and the dead. */
	swcore_aspace_release(c);
	pthread_rwlock_destroy(&c->run_lock);
	pthread_mutex_destroy(&c->map_lock);
	pthread_mutex_destroy(&c->q_lock);
	pthread_cond_destroy(&c->q_cond);
	pthread_cond_destroy(&c->done_cond);
	release(c);
}

void npu_swcore_query(const struct npu_swcore *c, struct npu_info *info)
{
	snprintf(info->name, sizeof(info->name), "software NPU core, matmul %s x%d threads",
		 npu_isa_name(npu_kernels_isa(c->kernels)), npu_kernels_threads(c->kernels));
	info->abi_major = DRM_NPU_ABI_MAJOR;
	info->abi_minor = DRM_NPU_ABI_MINOR;
	info->fw_abi_major = c->tables.abi_major;
	info->fw_abi_minor = c->tables.abi_minor;
	strncpy(info->fw_build_id, c->tables.build_id, sizeof(info->fw_build_id) - 1);
	info->op_mask = c->tables.op_mask;
	info->n_cores = 1;
	info->n_priorities = NPU_PRIORITIES;
	info->va_size = NPU_VA_SIZE;
	info->scratch_size = NPU_FW_SCRATCH_SIZE;
}
