// SPDX-License-Identifier: MIT
/*
 * Buffer handles. A handle packs the device serial (20 bits), the slot's
 * generation (20 bits) and the slot index + 1 (24 bits), so a handle of
 * another device, a freed buffer or a made-up value is told apart and
 * rejected without touching memory it does not name. A generation never
 * repeats: a slot whose next one would wrap is retired, never used again,
 * so a freed handle stays dead. A slot serves 2^20 buffers and the table
 * grows to 2^23 slots: a device allocates 2^43 buffers before NPU_E_NOSPC.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IDX_BITS 24
#define GEN_BITS 20
#define MAX_BOS ((1u << IDX_BITS) - 1)
#define GEN_MASK ((1u << GEN_BITS) - 1)
#define RETIRED (GEN_MASK + 1)	/* the generation of a slot used up */

_Static_assert(IDX_BITS + GEN_BITS == NPU_SERIAL_SHIFT, "a handle is 64 bits");

static npu_bo make_handle(const npu_device *dev, uint32_t idx, uint32_t gen)
{
	return (uint64_t)dev->serial << NPU_SERIAL_SHIFT | (uint64_t)gen << IDX_BITS | (idx + 1);
}

/* Caller holds dev->lock. */
static struct bo_slot *find(npu_device *dev, npu_bo bo, int *err)
{
	uint32_t serial = (uint32_t)(bo >> NPU_SERIAL_SHIFT);
	uint32_t gen = (uint32_t)(bo >> IDX_BITS) & GEN_MASK;
	uint32_t idx = (uint32_t)(bo & MAX_BOS);
	struct bo_slot *s;

	if (serial != dev->serial) {
		*err = bo ? NPU_E_XDEV : NPU_E_HANDLE;
		return NULL;
	}
	if (idx == 0 || idx > dev->n_bos) {
		*err = NPU_E_HANDLE;
		return NULL;
	}
	s = &dev->bos[idx - 1];
	if (!s->live || s->gen != gen) {
		*err = NPU_E_HANDLE;
		return NULL;
	}
	return s;
}

int npu_bo_lookup(npu_device *dev, npu_bo bo, struct bo_slot *slot)
{
	struct bo_slot *s;
	int err = NPU_OK;

	pthread_mutex_lock(&dev->lock);
	s = find(dev, bo, &err);
	if (s)
		*slot = *s;
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_bo_alloc(npu_device *dev, uint64_t size, npu_bo *bo)
{
	struct bo_slot *s = NULL;
	uint32_t i;
	int err;

	if (!dev || !bo || size == 0)
		return NPU_E_INVAL;
	*bo = 0;
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < dev->n_bos; i++)
		if (!dev->bos[i].live && dev->bos[i].gen != RETIRED) {
			s = &dev->bos[i];
			break;
		}
	if (!s) {
		if (dev->n_bos == dev->cap_bos) {
			uint32_t cap = dev->cap_bos ? dev->cap_bos * 2 : 64;
			struct bo_slot *n;

			if (cap > MAX_BOS) {
				pthread_mutex_unlock(&dev->lock);
				return NPU_E_NOSPC;
			}
			n = realloc(dev->bos, cap * sizeof(*n));
			if (!n) {
				pthread_mutex_unlock(&dev->lock);
				return NPU_E_NOMEM;
			}
			dev->bos = n;
			dev->cap_bos = cap;
		}
		s = &dev->bos[dev->n_bos++];
		memset(s, 0, sizeof(*s));
	}
	err = dev->ops->bo_alloc(dev, s, size);
	if (!err) {
		s->live = 1;
		s->map_count = 0;
		*bo = make_handle(dev, (uint32_t)(s - dev->bos), s->gen);
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_bo_free(npu_device *dev, npu_bo bo)
{
	struct bo_slot *s;
	int err = NPU_OK;

	if (!dev)
		return NPU_E_INVAL;
	pthread_mutex_lock(&dev->lock);
	s = find(dev, bo, &err);
	if (s && s->map_count)
		err = NPU_E_BUSY;
	else if (s) {
		dev->ops->bo_free(dev, s);
		s->live = 0;
		s->gen++;	/* RETIRED after generation GEN_MASK */
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_bo_map(npu_device *dev, npu_bo bo, void **ptr)
{
	struct bo_slot *s;
	int err = NPU_OK;

	if (!dev || !ptr)
		return NPU_E_INVAL;
	pthread_mutex_lock(&dev->lock);
	s = find(dev, bo, &err);
	if (s) {
		s->map_count++;
		s->touched = 1;
		*ptr = s->host;
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_bo_unmap(npu_device *dev, npu_bo bo)
{
	struct bo_slot *s;
	int err = NPU_OK;

	if (!dev)
		return NPU_E_INVAL;
	pthread_mutex_lock(&dev->lock);
	s = find(dev, bo, &err);
	if (s) {
		if (s->map_count > 0)
			s->map_count--;
		else
			err = NPU_E_INVAL;
	}
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_bo_info(npu_device *dev, npu_bo bo, uint64_t *dev_addr, uint64_t *size)
{
	struct bo_slot s = { 0 };
	int err;

	if (!dev)
		return NPU_E_INVAL;
	err = npu_bo_lookup(dev, bo, &s);
	if (err)
		return err;
	if (dev_addr)
		*dev_addr = s.dev_addr;
	if (size)
		*size = s.size;
	return NPU_OK;
}

int npu_bo_seal(npu_device *dev, npu_bo bo)
{
	struct bo_slot *s;
	int err = NPU_OK;

	if (!dev)
		return NPU_E_INVAL;
	pthread_mutex_lock(&dev->lock);
	s = find(dev, bo, &err);
	if (s && dev->ops->bo_seal)
		err = dev->ops->bo_seal(dev, s);
	pthread_mutex_unlock(&dev->lock);
	return err;
}

int npu_memory_usage(npu_device *dev, struct npu_memory *mem)
{
	uint32_t i;

	if (!dev || !mem)
		return NPU_E_INVAL;
	memset(mem, 0, sizeof(*mem));
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < dev->n_bos; i++)
		if (dev->bos[i].live)
			mem->buffers += dev->bos[i].size;
	pthread_mutex_unlock(&dev->lock);
	if (dev->ops->packed_bytes)
		mem->packed = dev->ops->packed_bytes(dev);
	return NPU_OK;
}
