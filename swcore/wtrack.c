// SPDX-License-Identifier: MIT
/*
 * Write tracking: the ranges each job maps for writing, merged, kept with
 * its result. The USB gadget sends them back so that the host reads back
 * only what a job may have changed.
 */
#include <stdlib.h>
#include <string.h>

#include "swcore_internal.h"

void swcore_wtrack_note(struct npu_swcore *c, uint64_t addr, uint64_t len)
{
	if (c->n_writes == c->cap_writes) {
		uint32_t cap = c->cap_writes ? c->cap_writes * 2 : 64;
		struct npu_swcore_range *n = realloc(c->writes, cap * sizeof(*n));

		if (!n) {
			c->writes_failed = 1;
			return;
		}
		c->writes = n;
		c->cap_writes = cap;
	}
	c->writes[c->n_writes].addr = addr;
	c->writes[c->n_writes].len = len;
	c->n_writes++;
}

static int range_cmp(const void *a, const void *b)
{
	const struct npu_swcore_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void swcore_wtrack_take(struct npu_swcore *c, struct job_slot *slot)
{
	uint32_t i, n = 0;

	free(slot->writes);
	slot->writes = NULL;
	slot->n_writes = 0;
	if (!c->n_writes)
		return;
	qsort(c->writes, c->n_writes, sizeof(*c->writes), range_cmp);
	for (i = 1; i < c->n_writes; i++) {
		struct npu_swcore_range *last = &c->writes[n];
		uint64_t end = c->writes[i].addr + c->writes[i].len;

		if (c->writes[i].addr <= last->addr + last->len) {
			if (end > last->addr + last->len)
				last->len = end - last->addr;
		} else {
			c->writes[++n] = c->writes[i];
		}
	}
	n++;
	slot->writes = malloc(n * sizeof(*slot->writes));
	if (slot->writes) {
		memcpy(slot->writes, c->writes, n * sizeof(*slot->writes));
		slot->n_writes = n;
	} else {
		c->writes_failed = 1;
	}
	c->n_writes = 0;
}

void swcore_wtrack_copy(const struct job_slot *slot, struct npu_swcore_range *w, uint32_t max,
			uint32_t *n)
{
	uint32_t i, k = slot->n_writes;

	if (!n)
		return;
	if (k > max && max) {
		const struct npu_swcore_range *last = &slot->writes[k - 1];

		memcpy(w, slot->writes, (max - 1) * sizeof(*w));
		w[max - 1].addr = slot->writes[max - 1].addr;
		w[max - 1].len = last->addr + last->len - w[max - 1].addr;
		*n = max;
		return;
	}
	for (i = 0; i < k && i < max; i++)
		w[i] = slot->writes[i];
	*n = i;
}
