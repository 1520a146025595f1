// SPDX-License-Identifier: MIT
/*
 * The cpu backend: a software NPU core (swcore/) in-process. Buffers are
 * the core's own memory, so a mapping is the device's bytes themselves.
 */
#include "internal.h"
#include "../../swcore/swcore.h"

/* The worker is done with npu_submit's copy of a stream: free it. */
static void retire(void *ctx, uint64_t owned)
{
	if (owned)
		npu_bo_free(ctx, owned);
}

static int cpu_open(npu_device *dev)
{
	struct npu_swcore *c;
	int err = npu_swcore_create(0, retire, dev, &c);

	if (!err)
		dev->priv = c;
	return err;
}

static void cpu_close(npu_device *dev)
{
	npu_swcore_destroy(dev->priv, 0);
	/* The core freed itself: npu_close must not free it again. */
	dev->priv = NULL;
}

static void cpu_query(npu_device *dev, struct npu_info *info)
{
	npu_swcore_query(dev->priv, info);
}

static int cpu_bo_alloc(npu_device *dev, struct bo_slot *bo, uint64_t size)
{
	int err = npu_swcore_alloc(dev->priv, size, &bo->dev_addr, &bo->host);

	if (!err)
		bo->size = size;
	return err;
}

static void cpu_bo_free(npu_device *dev, struct bo_slot *bo)
{
	npu_swcore_free(dev->priv, bo->dev_addr);
	bo->host = NULL;
}

static int cpu_bo_seal(npu_device *dev, struct bo_slot *bo)
{
	return npu_swcore_seal(dev->priv, bo->dev_addr);
}

static uint64_t cpu_packed_bytes(npu_device *dev)
{
	return npu_swcore_packed_bytes(dev->priv);
}

static int cpu_submit(npu_device *dev, const struct bo_slot *stream, uint64_t offset,
		      uint32_t size, int prio, npu_bo owned, uint64_t *seq)
{
	return npu_swcore_submit(dev->priv, stream->dev_addr + offset, size, prio, owned, seq);
}

static int cpu_wait(npu_device *dev, uint64_t seq, int64_t timeout_ns, struct npu_job_result *res)
{
	return npu_swcore_wait(dev->priv, seq, timeout_ns, res, NULL, 0, NULL);
}

const struct npu_backend_ops npu_backend_cpu = {
	.name = "cpu",
	.open = cpu_open,
	.close = cpu_close,
	.query = cpu_query,
	.bo_alloc = cpu_bo_alloc,
	.bo_free = cpu_bo_free,
	.bo_seal = cpu_bo_seal,
	.packed_bytes = cpu_packed_bytes,
	.submit = cpu_submit,
	.wait = cpu_wait,
};
