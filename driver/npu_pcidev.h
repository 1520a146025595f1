/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The PCI NPU's state, shared by its files: npu_pci.c (hw ops, interrupts,
 * mailbox, loss), npu_pci_mmu.c (contexts and page tables) and
 * npu_pci_probe.c (the PCI driver).
 */
#ifndef __NPU_PCIDEV_H__
#define __NPU_PCIDEV_H__

#include <linux/pci.h>
#include <linux/unaligned.h>

#include "npu_drv.h"
#include "../firmware/include/npu_pci.h"

/**
 * struct npu_pci_core - one core of a PCI NPU, as the driver keeps it.
 * @core: the driver core's.
 * @np: the device.
 * @deliver_lock: held while jobs taken off the core are completed (by the
 *	interrupt thread, a reset or a loss), so each sees the others' done.
 * @lock: protects the ring, @jobs, the tags and the queue's head.
 * @ring: 16 entries, then the completion queue (@cq), in one DMA page.
 * @ring_dma: its bus address.
 * @cq: the completion queue.
 * @tail: entries written.
 * @cq_head: records consumed.
 * @next_tag: the tag of the next entry.
 * @done_tag: the tag the next valid record carries.
 * @jobs: jobs on the core by tag (ring references), until their record.
 * @reset_gen: the generation records must carry.
 * @resets: resets since boot.
 * @irq: the core's vector.
 */
struct npu_pci_core {
	struct npu_core *core;
	struct npu_pci *np;
	struct mutex deliver_lock;	/* taking jobs off the core and completing them */
	spinlock_t lock;	/* ring, jobs, tags, cq_head */
	u8 *ring;
	dma_addr_t ring_dma;
	u8 *cq;
	u32 tail;
	u32 cq_head;
	u64 next_tag;
	u64 done_tag;
	struct npu_job *jobs[NPU_PCI_RING_SIZE];
	u32 reset_gen;
	unsigned int resets;
	int irq;
};

enum { NPU_PCI_LOST };

/**
 * struct npu_pci - a PCI NPU (npu_device.hw_priv).
 * @pdev: the PCI device.
 * @ndev: its NPU.
 * @regs: BAR 0, ivshmem's registers (the doorbell).
 * @win: BAR 2, the window.
 * @peer: the device's ivshmem peer id.
 * @flags: NPU_PCI_LOST.
 * @booted: boot succeeded and shutdown has not run.
 * @cmd_lock: one mailbox command at a time.
 * @cmd_seq: the last command's sequence number.
 * @ack_wq: woken by the mailbox's vector and by loss.
 * @watchdog: reads the heartbeat.
 * @last_beat: the heartbeat last read, at @beat_at.
 * @beat_at: jiffies when it last changed.
 * @slots: context slots in use.
 * @cores: the cores.
 */
struct npu_pci {
	struct pci_dev *pdev;
	struct npu_device *ndev;
	void __iomem *regs;
	void __iomem *win;
	u32 peer;
	unsigned long flags;
	bool booted;
	struct mutex cmd_lock;	/* the mailbox */
	u32 cmd_seq;
	wait_queue_head_t ack_wq;
	struct delayed_work watchdog;
	u32 last_beat;
	unsigned long beat_at;
	struct ida slots;
	struct npu_pci_core cores[NPU_PCI_MAX_CORES];
};

/* A table page of the device MMU: the device's copy and the driver's children. */
struct npu_pt {
	__le64 *cpu;
	dma_addr_t dma;
	struct npu_pt *child[512];
};

/* A context's slot and table (npu_ctx.hw_ctx). */
struct npu_pci_ctx {
	int slot;
	struct npu_pt *root;
};

/* npu_pci.c */
int npu_pci_cmd(struct npu_pci *np, u32 cmd, u32 a0, u32 a1, u32 a2, u32 *value);
bool npu_pci_is_lost(struct npu_pci *np);
/* The device failed: its jobs end now, and it takes no more until probed again. */
void npu_pci_lose(struct npu_pci *np, const char *why);
/* Stop the device's cores and the watchdog (shutdown, reboot). */
void npu_pci_quiesce(struct npu_pci *np);
void npu_pci_watchdog(struct work_struct *work);

/* npu_pci_mmu.c */
int npu_pci_ctx_init(struct npu_ctx *ctx);
void npu_pci_ctx_fini(struct npu_ctx *ctx);
int npu_pci_map(struct npu_ctx *ctx, struct npu_mapping *m);
void npu_pci_unmap(struct npu_ctx *ctx, struct npu_mapping *m);

#endif
