// SPDX-License-Identifier: GPL-2.0-only
/*
 * The PCI NPU: the device behind QEMU's ivshmem-doorbell (npu-devd on the
 * host), reached through its window (BAR 2, docs/hw.md §3.7), doorbells
 * (BAR 0) and MSI-X vectors. Rings, completion queues, the firmware and
 * the MMU's tables live in DMA memory; buffers are mapped for the device
 * with their GEM scatter lists. Every record the device writes is checked
 * before the driver believes it, and a device that stops its heartbeat is
 * lost: its jobs fail at once and nothing waits for it any more.
 */
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/firmware.h>
#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/sort.h>

#include "npu_pcidev.h"

#define IVSHMEM_DOORBELL	12	/* BAR 0: (peer << 16) | vector */
#define NPU_PCI_CMD_TIMEOUT_MS	2000
#define NPU_PCI_WATCHDOG_MS	250
/* No heartbeat for this long and the device is lost. */
#define NPU_PCI_LOST_MS		500

/* Ring (16 entries) and completion queue (16 records) share one page. */
#define NPU_PCI_CQ_OFFSET	(NPU_PCI_RING_SIZE * NPU_PCI_ENTRY_SIZE)

static struct npu_pci *npu_pci_of(struct npu_device *ndev)
{
	return ndev->hw_priv;
}

static u32 win_read(struct npu_pci *np, u32 off)
{
	return ioread32(np->win + off);
}

static void win_write(struct npu_pci *np, u32 off, u32 v)
{
	iowrite32(v, np->win + off);
}

static void doorbell(struct npu_pci *np, unsigned int vector)
{
	iowrite32(np->peer << 16 | vector, np->regs + IVSHMEM_DOORBELL);
}

bool npu_pci_is_lost(struct npu_pci *np)
{
	return test_bit(NPU_PCI_LOST, &np->flags);
}

/* ---- completions ------------------------------------------------------ */

/*
 * Take the records the core wrote since the last call, checking each:
 * the tag must be the oldest entry still on the core, the generation the
 * current one and the status one the firmware reports. Records that fail
 * are logged and dropped (their jobs time out and the core is reset).
 */
static void npu_pci_take(struct npu_pci_core *pc, struct list_head *done)
{
	struct npu_device *ndev = pc->core->ndev;
	u32 tail;

	tail = win_read(pc->np, NPU_PCI_CORE(pc->core->index) + NPU_PCI_CQ_TAIL);
	if (tail - pc->cq_head > NPU_PCI_RING_SIZE) {
		drm_err_ratelimited(&ndev->drm, "core %u: completion tail %u is %u past head %u: ignored\n",
				    pc->core->index, tail, tail - pc->cq_head, pc->cq_head);
		return;
	}
	/* The records are read after the index that published them. */
	dma_rmb();
	while (pc->cq_head != tail) {
		u8 rec[NPU_PCI_ENTRY_SIZE];
		struct npu_job *job;
		u32 status, gen;
		u64 tag, busy;

		/* One copy, then checked: the device may rewrite the record meanwhile. */
		memcpy(rec, pc->cq + (pc->cq_head % NPU_PCI_RING_SIZE) * NPU_PCI_ENTRY_SIZE,
		       sizeof(rec));
		tag = get_unaligned_le64(rec);
		status = get_unaligned_le32(rec + 8);
		gen = get_unaligned_le32(rec + 24);
		job = pc->jobs[tag % NPU_PCI_RING_SIZE];
		pc->cq_head++;
		if (tag != pc->done_tag || gen != pc->reset_gen || !job ||
		    status >= DRM_NPU_STATUS_COUNT) {
			drm_err_ratelimited(&ndev->drm,
					    "core %u: bad completion record (tag %#llx, expected %#llx; generation %u of %u; status %u): dropped\n",
					    pc->core->index, tag, pc->done_tag, gen, pc->reset_gen,
					    status);
			continue;
		}
		pc->jobs[tag % NPU_PCI_RING_SIZE] = NULL;
		pc->done_tag++;
		busy = (u64)get_unaligned_le32(rec + 28) * NSEC_PER_USEC;
		atomic64_add(busy, &job->ctx->busy_ns);
		atomic64_add(busy, &ndev->counters.busy_ns);
		job->result.status = status;
		job->result.op_index = get_unaligned_le32(rec + 12);
		job->result.fault_addr = get_unaligned_le64(rec + 16);
		list_add_tail(&job->link, done);
	}
	mb();	/* the records read before the index that frees their slots */
	win_write(pc->np, NPU_PCI_CORE(pc->core->index) + NPU_PCI_CQ_HEAD, pc->cq_head);
}

/*
 * Deliver what the core reported; the caller holds deliver_lock, so a job
 * taken off the core is completed before a reset or a loss looks at it.
 */
static void npu_pci_deliver_locked(struct npu_pci_core *pc)
{
	struct npu_job *job, *tmp;
	LIST_HEAD(done);

	lockdep_assert_held(&pc->deliver_lock);
	spin_lock(&pc->lock);
	if (!npu_pci_is_lost(pc->np))
		npu_pci_take(pc, &done);
	spin_unlock(&pc->lock);
	list_for_each_entry_safe(job, tmp, &done, link) {
		list_del_init(&job->link);
		npu_job_done(job);
	}
}

static void npu_pci_deliver(struct npu_pci_core *pc)
{
	mutex_lock(&pc->deliver_lock);
	npu_pci_deliver_locked(pc);
	mutex_unlock(&pc->deliver_lock);
}

/* The threaded half of a core's vector; a vector with nothing to deliver is harmless. */
static irqreturn_t npu_pci_core_irq(int irq, void *data)
{
	npu_pci_deliver(data);
	return IRQ_HANDLED;
}

static irqreturn_t npu_pci_ctrl_irq(int irq, void *data)
{
	struct npu_pci *np = data;

	wake_up_all(&np->ack_wq);
	return IRQ_HANDLED;
}

/* Every job still on a core ends now, as a completion with @status. */
static void npu_pci_fail_all(struct npu_pci_core *pc, u32 status)
{
	struct npu_job *jobs[NPU_PCI_RING_SIZE];
	unsigned int i, n = 0;

	mutex_lock(&pc->deliver_lock);
	spin_lock(&pc->lock);
	for (i = 0; i < NPU_PCI_RING_SIZE; i++) {
		if (pc->jobs[i])
			jobs[n++] = pc->jobs[i];
		pc->jobs[i] = NULL;
	}
	pc->done_tag = pc->next_tag;
	spin_unlock(&pc->lock);
	for (i = 0; i < n; i++) {
		jobs[i]->result.status = status;
		jobs[i]->result.op_index = 0;
		jobs[i]->result.fault_addr = 0;
		npu_job_done(jobs[i]);
	}
	mutex_unlock(&pc->deliver_lock);
}

/*
 * The device is gone (its daemon killed, say): the jobs on its cores fail
 * as cancelled, later submissions fail at once, mailbox waits end, and
 * the device reads as lost until it is probed again.
 */
void npu_pci_lose(struct npu_pci *np, const char *why)
{
	struct npu_device *ndev = np->ndev;
	unsigned int i;

	if (test_and_set_bit(NPU_PCI_LOST, &np->flags))
		return;
	drm_err(&ndev->drm, "device lost: %s; its jobs fail until it is probed again\n", why);
	wake_up_all(&np->ack_wq);
	for (i = 0; i < ndev->n_cores; i++)
		npu_pci_fail_all(&np->cores[i], DRM_NPU_STATUS_CANCELLED);
}

void npu_pci_watchdog(struct work_struct *work)
{
	struct npu_pci *np = container_of(to_delayed_work(work), struct npu_pci, watchdog);
	u32 beat = win_read(np, NPU_PCI_HEARTBEAT);

	if (win_read(np, NPU_PCI_ID) != NPU_PCI_MAGIC) {
		npu_pci_lose(np, "the device left its window");
		return;
	}
	/* A device that started again since (its daemon restarted) knows nothing of ours. */
	if (win_read(np, NPU_PCI_BOOTED) != 1) {
		npu_pci_lose(np, "the device is no longer booted");
		return;
	}
	if (beat != np->last_beat) {
		np->last_beat = beat;
		np->beat_at = jiffies;
	} else if (time_after(jiffies, np->beat_at + msecs_to_jiffies(NPU_PCI_LOST_MS))) {
		npu_pci_lose(np, "no heartbeat");
		return;
	}
	schedule_delayed_work(&np->watchdog, msecs_to_jiffies(NPU_PCI_WATCHDOG_MS));
}

/* ---- the mailbox -------------------------------------------------------- */

static const char *const npu_pci_ack_text[] = {
	[NPU_PCI_ACK_BAD_CMD] = "bad command",
	[NPU_PCI_ACK_BAD_ADDR] = "address outside guest memory",
	[NPU_PCI_ACK_BAD_IMAGE] = "firmware image rejected",
	[NPU_PCI_ACK_STATE] = "not in that state",
};

/* One command, answered within NPU_PCI_CMD_TIMEOUT_MS or the device is lost. */
int npu_pci_cmd(struct npu_pci *np, u32 cmd, u32 a0, u32 a1, u32 a2, u32 *value)
{
	int ret = 0;
	u32 seq, status;

	mutex_lock(&np->cmd_lock);
	if (npu_pci_is_lost(np)) {
		ret = -ENODEV;
		goto out;
	}
	win_write(np, NPU_PCI_CMD, cmd);
	win_write(np, NPU_PCI_CMD_ARG(0), a0);
	win_write(np, NPU_PCI_CMD_ARG(1), a1);
	win_write(np, NPU_PCI_CMD_ARG(2), a2);
	seq = ++np->cmd_seq;
	wmb();	/* the arguments before the sequence number that publishes them */
	win_write(np, NPU_PCI_CMD_SEQ, seq);
	doorbell(np, NPU_PCI_VEC_CTRL);
	if (!wait_event_timeout(np->ack_wq, win_read(np, NPU_PCI_ACK_SEQ) == seq ||
				npu_pci_is_lost(np), msecs_to_jiffies(NPU_PCI_CMD_TIMEOUT_MS))) {
		mutex_unlock(&np->cmd_lock);
		npu_pci_lose(np, "a command went unanswered");
		return -ETIMEDOUT;
	}
	if (win_read(np, NPU_PCI_ACK_SEQ) != seq) {
		ret = -ENODEV;
		goto out;
	}
	rmb();	/* the answer is read after the sequence number that published it */
	status = win_read(np, NPU_PCI_ACK_STATUS);
	if (value)
		*value = win_read(np, NPU_PCI_ACK_VALUE);
	if (status) {
		drm_err(&np->ndev->drm, "device refused command %u: %s\n", cmd,
			status < ARRAY_SIZE(npu_pci_ack_text) && npu_pci_ack_text[status] ?
			npu_pci_ack_text[status] : "unknown status");
		ret = -EIO;
	}
out:
	mutex_unlock(&np->cmd_lock);
	return ret;
}

/* Testing: the device spoils its next records or storms a vector (debugfs "misbehave"). */
static int npu_pci_misbehave(struct npu_device *ndev, u32 what, u32 core, u32 count)
{
	return npu_pci_cmd(npu_pci_of(ndev), NPU_PCI_CMD_MISBEHAVE, what, core, count, NULL);
}

static int npu_pci_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The mailbox's no-op, @n times: doorbell, device, MSI-X and back. */
static int npu_pci_doorbell_rtt(struct npu_device *ndev, u64 *ns, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		u64 t0 = ktime_get_ns();
		int ret = npu_pci_cmd(npu_pci_of(ndev), NPU_PCI_CMD_NOP, 0, 0, 0, NULL);

		if (ret)
			return ret;
		ns[i] = ktime_get_ns() - t0;
	}
	sort(ns, n, sizeof(*ns), npu_pci_cmp_u64, NULL);
	return 0;
}

/* ---- hw ops --------------------------------------------------------------- */

static_assert(NPU_INJECT_HANG == (int)NPU_PCI_INJECT_HANG &&
	      NPU_INJECT_FAIL == (int)NPU_PCI_INJECT_FAIL &&
	      NPU_INJECT_FAULT == (int)NPU_PCI_INJECT_FAULT);

static void npu_pci_submit(struct npu_core *core, struct npu_job *job)
{
	struct npu_pci *np = npu_pci_of(core->ndev);
	struct npu_pci_core *pc = &np->cores[core->index];
	struct npu_pci_ctx *hc = job->ctx->hw_ctx;
	u32 inject = npu_take_injection(core->ndev, job);
	u8 *e;
	u64 tag;

	spin_lock(&pc->lock);
	if (npu_pci_is_lost(np)) {
		spin_unlock(&pc->lock);
		job->result.status = DRM_NPU_STATUS_CANCELLED;
		job->result.op_index = 0;
		job->result.fault_addr = 0;
		npu_job_done(job);
		return;
	}
	tag = pc->next_tag++;
	pc->jobs[tag % NPU_PCI_RING_SIZE] = job;
	e = pc->ring + (pc->tail % NPU_PCI_RING_SIZE) * NPU_PCI_ENTRY_SIZE;
	put_unaligned_le64(tag, e);
	put_unaligned_le64(job->stream_addr, e + 8);
	put_unaligned_le32(job->stream_size, e + 16);
	put_unaligned_le32(hc->slot, e + 20);
	put_unaligned_le32(inject, e + 24);
	put_unaligned_le32(0, e + 28);
	dma_wmb();	/* the entry before the index that publishes it */
	pc->tail++;
	win_write(np, NPU_PCI_CORE(core->index) + NPU_PCI_RING_TAIL, pc->tail);
	spin_unlock(&pc->lock);
	doorbell(np, core->index);
}

static void npu_pci_reset(struct npu_core *core)
{
	struct npu_pci *np = npu_pci_of(core->ndev);
	struct npu_pci_core *pc = &np->cores[core->index];
	struct npu_job *dropped[NPU_PCI_RING_SIZE];
	unsigned int i, n = 0;
	u64 start = ktime_get_ns();
	bool bad_tail;
	u32 gen = 0;
	int ret;

	/* Answered once the core has stopped: the firmware's next poll. */
	ret = npu_pci_cmd(np, NPU_PCI_CMD_RESET, core->index, 0, 0, &gen);
	npu_note_stop(core->ndev, ktime_get_ns() - start);
	/* A device that cannot reset its core may still be running the job. */
	if (ret == -EIO)
		npu_pci_lose(np, "a core reset was refused");
	/*
	 * Records written before the reset are delivered now, once; under
	 * deliver_lock, a late interrupt thread finds none of them.
	 */
	mutex_lock(&pc->deliver_lock);
	npu_pci_deliver_locked(pc);
	spin_lock(&pc->lock);
	if (!ret)
		pc->reset_gen = gen;
	for (i = 0; i < NPU_PCI_RING_SIZE; i++) {
		if (pc->jobs[i])
			dropped[n++] = pc->jobs[i];
		pc->jobs[i] = NULL;
	}
	pc->done_tag = pc->next_tag;
	pc->resets++;
	bad_tail = win_read(np, NPU_PCI_CORE(core->index) + NPU_PCI_CQ_TAIL) - pc->cq_head >
		   NPU_PCI_RING_SIZE;
	spin_unlock(&pc->lock);
	mutex_unlock(&pc->deliver_lock);
	if (bad_tail && !ret)
		npu_pci_lose(np, "its completion index is still out of range after a reset");
	while (n) {
		WRITE_ONCE(dropped[--n]->in_hw, false);
		npu_job_put(dropped[n]);
	}
}

static void npu_pci_core_status(struct npu_core *core, struct npu_hw_core_status *st)
{
	static const char *const names[] = {
		[NPU_PCI_CORE_OFF] = "off", [NPU_PCI_CORE_IDLE] = "idle",
		[NPU_PCI_CORE_RUNNING] = "running", [NPU_PCI_CORE_HUNG] = "hung",
	};
	struct npu_pci *np = npu_pci_of(core->ndev);
	struct npu_pci_core *pc = &np->cores[core->index];
	u32 base = NPU_PCI_CORE(core->index);
	u32 state = win_read(np, base + NPU_PCI_CORE_STATE);

	spin_lock(&pc->lock);
	st->queued = min_t(u32, pc->tail - win_read(np, base + NPU_PCI_RING_HEAD),
			   NPU_PCI_RING_SIZE);
	st->resets = pc->resets;
	spin_unlock(&pc->lock);
	st->ring_size = NPU_PCI_RING_SIZE;
	if (npu_pci_is_lost(np))
		st->state = "lost";
	else
		st->state = state < ARRAY_SIZE(names) && names[state] ? names[state] : "unknown";
}

/* The vectors in use: each core's, and the mailbox's. Others stay masked. */
static void npu_pci_free_irqs(struct npu_pci *np, unsigned int cores, bool ctrl)
{
	if (ctrl)
		free_irq(pci_irq_vector(np->pdev, NPU_PCI_VEC_CTRL), np);
	while (cores--)
		free_irq(np->cores[cores].irq, &np->cores[cores]);
}

static int npu_pci_request_irqs(struct npu_pci *np)
{
	struct npu_device *ndev = np->ndev;
	unsigned int i;
	int ret;

	ret = request_irq(pci_irq_vector(np->pdev, NPU_PCI_VEC_CTRL), npu_pci_ctrl_irq, 0,
			  "npu-ctrl", np);
	if (ret)
		return ret;
	for (i = 0; i < ndev->n_cores; i++) {
		np->cores[i].irq = pci_irq_vector(np->pdev, i);
		ret = request_threaded_irq(np->cores[i].irq, NULL, npu_pci_core_irq, IRQF_ONESHOT,
					   ndev->cores[i].name, &np->cores[i]);
		if (ret) {
			npu_pci_free_irqs(np, i, true);
			return ret;
		}
	}
	return 0;
}

void npu_pci_quiesce(struct npu_pci *np)
{
	if (!np->booted)
		return;
	cancel_delayed_work_sync(&np->watchdog);
	npu_pci_cmd(np, NPU_PCI_CMD_SHUTDOWN, 0, 0, 0, NULL);
}

static void npu_pci_shutdown(struct npu_device *ndev)
{
	struct npu_pci *np = npu_pci_of(ndev);
	unsigned int i;

	if (!np->booted)
		return;
	npu_pci_quiesce(np);
	for (i = 0; i < ndev->n_cores; i++)
		npu_pci_deliver(&np->cores[i]);
	npu_pci_free_irqs(np, ndev->n_cores, true);
	for (i = 0; i < ndev->n_cores; i++)
		dma_free_coherent(&np->pdev->dev, PAGE_SIZE, np->cores[i].ring,
				  np->cores[i].ring_dma);
	np->booted = false;
}

/* The image the driver verified, copied into DMA memory, verified again by the device. */
static int npu_pci_load_firmware(struct npu_pci *np, u32 *abi)
{
	const struct firmware *fw = np->ndev->fw;
	dma_addr_t dma;
	void *buf;
	int ret;

	buf = dma_alloc_coherent(&np->pdev->dev, fw->size, &dma, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, fw->data, fw->size);
	ret = npu_pci_cmd(np, NPU_PCI_CMD_BOOT, lower_32_bits(dma), upper_32_bits(dma), fw->size,
			  abi);
	dma_free_coherent(&np->pdev->dev, fw->size, buf, dma);
	return ret;
}

static int npu_pci_boot(struct npu_device *ndev)
{
	u32 want = (u32)ndev->fw_tables.abi_major << 16 | ndev->fw_tables.abi_minor;
	struct npu_pci *np = npu_pci_of(ndev);
	u64 reach = (u64)win_read(np, NPU_PCI_VA_SIZE_GB) << 30;
	unsigned int i;
	u32 abi = 0;
	int ret;

	/* Contexts get the addresses the device's cores reach, no more. */
	if (reach < NPU_VA_MIN_SIZE) {
		drm_err(&ndev->drm, "the device reaches %llu bytes of addresses, under %llu\n",
			reach, (u64)NPU_VA_MIN_SIZE);
		return -EIO;
	}
	ndev->va_max = min_t(u64, ndev->va_max, reach);
	ndev->va_size = min_t(u64, ndev->va_size, ndev->va_max);

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_pci_core *pc = &np->cores[i];
		u32 base = NPU_PCI_CORE(i);
		dma_addr_t cq_dma;

		pc->ring = dma_alloc_coherent(&np->pdev->dev, PAGE_SIZE, &pc->ring_dma, GFP_KERNEL);
		if (!pc->ring) {
			ret = -ENOMEM;
			goto err_mem;
		}
		pc->cq = pc->ring + NPU_PCI_CQ_OFFSET;
		pc->tail = 0;
		pc->cq_head = 0;
		pc->next_tag = 1;
		pc->done_tag = 1;
		win_write(np, base + NPU_PCI_RING_BASE_LO, lower_32_bits(pc->ring_dma));
		win_write(np, base + NPU_PCI_RING_BASE_HI, upper_32_bits(pc->ring_dma));
		cq_dma = pc->ring_dma + NPU_PCI_CQ_OFFSET;
		win_write(np, base + NPU_PCI_CQ_BASE_LO, lower_32_bits(cq_dma));
		win_write(np, base + NPU_PCI_CQ_BASE_HI, upper_32_bits(cq_dma));
		win_write(np, base + NPU_PCI_RING_TAIL, 0);
		win_write(np, base + NPU_PCI_CQ_HEAD, 0);
	}
	ret = npu_pci_request_irqs(np);
	if (ret)
		goto err_mem;
	np->last_beat = win_read(np, NPU_PCI_HEARTBEAT);
	np->beat_at = jiffies;
	np->cmd_seq = win_read(np, NPU_PCI_ACK_SEQ);
	np->booted = true;
	/* A device still booted by a kernel before this one (a reboot, a crash) stops first. */
	ret = npu_pci_cmd(np, NPU_PCI_CMD_SHUTDOWN, 0, 0, 0, NULL);
	if (!ret)
		ret = npu_pci_load_firmware(np, &abi);
	if (ret || abi != want) {
		drm_err(&ndev->drm, "core 0: no READY handshake from the firmware\n");
		npu_pci_shutdown(ndev);
		return -EIO;
	}
	/* The generation the cores' records carry from now on (the SHUTDOWN bumped it). */
	for (i = 0; i < ndev->n_cores; i++)
		np->cores[i].reset_gen = win_read(np, NPU_PCI_CORE(i) + NPU_PCI_CORE_RESET_GEN);
	schedule_delayed_work(&np->watchdog, msecs_to_jiffies(NPU_PCI_WATCHDOG_MS));
	return 0;

err_mem:
	while (i--)
		dma_free_coherent(&np->pdev->dev, PAGE_SIZE, np->cores[i].ring,
				  np->cores[i].ring_dma);
	return ret;
}

const struct npu_hw_ops npu_pci_hw_ops = {
	.name = "pci",
	.boot = npu_pci_boot,
	.shutdown = npu_pci_shutdown,
	.submit = npu_pci_submit,
	.reset = npu_pci_reset,
	.core_status = npu_pci_core_status,
	.ctx_init = npu_pci_ctx_init,
	.ctx_fini = npu_pci_ctx_fini,
	.map = npu_pci_map,
	.unmap = npu_pci_unmap,
	.misbehave = npu_pci_misbehave,
	.doorbell_rtt = npu_pci_doorbell_rtt,
};
