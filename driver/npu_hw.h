/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hardware interface: all the driver core knows of an NPU. The model
 * behind it (registers, ring, doorbell, interrupt, MMU) is docs/hw.md; the
 * first implementation is the emulated NPU in npu_emu.c.
 */
#ifndef __NPU_HW_H__
#define __NPU_HW_H__

struct npu_device;
struct npu_core;
struct npu_job;

/**
 * struct npu_hw_ops - what a hardware implementation provides.
 * @boot: start every core on the verified firmware image and wait for each
 *	one's READY handshake; 0 or a negative errno.
 * @shutdown: stop every core; no completion is raised afterwards.
 * @submit: write a ring entry for @job on @core and ring the doorbell. The
 *	ring never overflows: the scheduler hands a core NPU_SCHED_CREDITS
 *	jobs at a time, fewer than the ring holds.
 * @reset: stop @core, discard its ring (clearing each job's in_hw), and
 *	deliver (through
 *	npu_core_irq()) the completions it reported before the reset; the
 *	core accepts entries again afterwards.
 *
 * Completions come back through npu_core_irq(), the interrupt handler,
 * which the implementation calls from process context (a threaded
 * interrupt).
 */
struct npu_hw_ops {
	const char *name;
	int (*boot)(struct npu_device *ndev);
	void (*shutdown)(struct npu_device *ndev);
	void (*submit)(struct npu_core *core, struct npu_job *job);
	void (*reset)(struct npu_core *core);
};

extern const struct npu_hw_ops npu_emu_hw_ops;

#endif
