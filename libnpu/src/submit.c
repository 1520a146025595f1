// SPDX-License-Identifier: MIT
/* Submission: streams to device memory, jobs, fences, graphs. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "cmd.h"

/*
 * A fence is the device's serial over the low 44 bits of the backend's job
 * number: waited on with another device it is refused (NPU_E_XDEV), never
 * taken for that device's job of the same number. The number is restored
 * as the newest job handed out with those low bits.
 */
#define FENCE_SEQ_MASK ((1ull << NPU_SERIAL_SHIFT) - 1)

struct npu_graph {
	npu_device *dev;
	npu_bo bo;
	uint32_t size;
	int prio;
};

/* Write cmd's stream into a new buffer; a stream holding an encoder error is refused. */
static int upload(npu_cmd *cmd, npu_bo *bo, uint32_t *size)
{
	struct drm_npu_cmd_header h;
	uint64_t bytes;
	void *p;
	int err;

	if (cmd->err)
		return cmd->err;
	if (cmd->n_ops == 0)
		return NPU_E_INVAL;
	memset(&h, 0, sizeof(h));
	if (cmd->profile) {
		struct bo_slot s = { 0 };

		err = npu_bo_lookup(cmd->dev, cmd->profile_bo, &s);
		if (err)
			return err;
		if (cmd->profile_offset > s.size || s.size - cmd->profile_offset < 8ull * cmd->n_ops)
			return NPU_E_RANGE;
		h.profile_addr = s.dev_addr + cmd->profile_offset;
	}
	bytes = sizeof(h) + (uint64_t)cmd->n_ops * sizeof(struct drm_npu_op);
	err = npu_bo_alloc(cmd->dev, bytes, bo);
	if (err)
		return err;
	h.magic = DRM_NPU_CMD_MAGIC;
	h.version_major = DRM_NPU_ABI_MAJOR;
	h.version_minor = DRM_NPU_ABI_MINOR;
	h.op_count = cmd->n_ops;
	h.op_size = sizeof(struct drm_npu_op);
	err = npu_bo_map(cmd->dev, *bo, &p);
	if (!err) {
		memcpy(p, &h, sizeof(h));
		memcpy((char *)p + sizeof(h), cmd->ops, bytes - sizeof(h));
		err = npu_bo_unmap(cmd->dev, *bo);
	}
	if (err) {
		npu_bo_free(cmd->dev, *bo);
		return err;
	}
	*size = (uint32_t)bytes;
	return NPU_OK;
}

static npu_fence make_fence(npu_device *dev, uint64_t seq)
{
	uint64_t last = __atomic_load_n(&dev->last_seq, __ATOMIC_RELAXED);

	while (seq > last && !__atomic_compare_exchange_n(&dev->last_seq, &last, seq, 1,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return (uint64_t)dev->serial << NPU_SERIAL_SHIFT | (seq & FENCE_SEQ_MASK);
}

static int fence_seq(npu_device *dev, npu_fence fence, uint64_t *seq)
{
	uint32_t serial = (uint32_t)(fence >> NPU_SERIAL_SHIFT);
	uint64_t last = __atomic_load_n(&dev->last_seq, __ATOMIC_RELAXED);

	if (!serial)
		return NPU_E_INVAL;
	if (serial != dev->serial)
		return NPU_E_XDEV;
	*seq = (last & ~FENCE_SEQ_MASK) | (fence & FENCE_SEQ_MASK);
	/* Above the newest: an older number (or a future one, which the backend refuses). */
	if (*seq > last && *seq > FENCE_SEQ_MASK)
		*seq -= FENCE_SEQ_MASK + 1;
	return NPU_OK;
}

/* Queue a stream that lives in @bo; @owned is freed with the job. */
static int submit_bo(npu_device *dev, npu_bo bo, uint64_t offset, uint32_t size, int prio,
		     npu_bo owned, npu_fence *fence)
{
	struct bo_slot s = { 0 };
	int err = npu_bo_lookup(dev, bo, &s);
	uint64_t seq;

	if (err)
		return err;
	if (offset > s.size || size > s.size - offset)
		return NPU_E_RANGE;
	/* What a driver rejects before any firmware sees the stream. */
	if (offset % 8 || size < sizeof(struct drm_npu_cmd_header))
		return NPU_E_INVAL;
	err = dev->ops->submit(dev, &s, offset, size, prio, owned, &seq);
	if (!err)
		*fence = make_fence(dev, seq);
	return err;
}

int npu_submit(npu_cmd *cmd, npu_fence *fence)
{
	uint32_t size;
	npu_bo bo;
	int err;

	if (!cmd || !fence)
		return NPU_E_INVAL;
	err = upload(cmd, &bo, &size);
	if (err)
		return err;
	err = submit_bo(cmd->dev, bo, 0, size, cmd->prio, bo, fence);
	if (err)
		npu_bo_free(cmd->dev, bo);
	return err;
}

int npu_submit_stream(npu_device *dev, npu_bo bo, uint64_t offset, uint32_t size,
		      enum npu_priority prio, npu_fence *fence)
{
	if (!dev || !fence || (unsigned int)prio > NPU_PRIO_HIGH)
		return NPU_E_INVAL;
	return submit_bo(dev, bo, offset, size, prio, 0, fence);
}

int npu_fence_wait(npu_device *dev, npu_fence fence, int64_t timeout_ns,
		   struct npu_job_result *result)
{
	struct npu_job_result r;
	uint64_t seq;
	int err;

	if (!dev)
		return NPU_E_INVAL;
	err = fence_seq(dev, fence, &seq);
	if (!err)
		err = dev->ops->wait(dev, seq, timeout_ns, &r);
	if (err)
		return err;
	if (result)
		*result = r;
	return r.status == NPU_JOB_OK ? NPU_OK : NPU_E_JOB;
}

int npu_graph_create(npu_cmd *cmd, npu_graph **graph)
{
	npu_graph *g;
	int err;

	if (!cmd || !graph)
		return NPU_E_INVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NPU_E_NOMEM;
	err = upload(cmd, &g->bo, &g->size);
	if (err) {
		free(g);
		return err;
	}
	g->dev = cmd->dev;
	g->prio = cmd->prio;
	*graph = g;
	return NPU_OK;
}

int npu_graph_launch(npu_graph *graph, npu_fence *fence)
{
	if (!graph || !fence)
		return NPU_E_INVAL;
	return submit_bo(graph->dev, graph->bo, 0, graph->size, graph->prio, 0, fence);
}

int npu_graph_set_priority(npu_graph *graph, enum npu_priority prio)
{
	if (!graph || (unsigned int)prio > NPU_PRIO_HIGH)
		return NPU_E_INVAL;
	graph->prio = prio;
	return NPU_OK;
}

int npu_graph_destroy(npu_graph *graph)
{
	if (!graph)
		return NPU_E_INVAL;
	npu_bo_free(graph->dev, graph->bo);
	free(graph);
	return NPU_OK;
}
