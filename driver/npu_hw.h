/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hardware interface: all the driver core knows of an NPU. The model
 * behind it (registers, ring, doorbell, interrupt, MMU) is docs/hw.md; an
 * implementation keeps its own state behind npu_device.hw_priv.
 */
#ifndef __NPU_HW_H__
#define __NPU_HW_H__

struct npu_device;
struct npu_core;
struct npu_job;
struct npu_ctx;
struct npu_mapping;

/**
 * struct npu_hw_core_status - what a core is doing, as debugfs "cores" shows it.
 * @state: "booting", "idle", "running" or "hung".
 * @queued: ring entries written and not yet fetched by the core.
 * @ring_size: entries the ring holds.
 * @resets: resets of the core since boot.
 */
struct npu_hw_core_status {
	const char *state;
	unsigned int queued;
	unsigned int ring_size;
	unsigned int resets;
};

/**
 * struct npu_hw_ops - what a hardware implementation provides.
 * @name: the implementation's name.
 * @boot: set up the implementation's state (npu_device.hw_priv), start
 *	every core on the verified firmware image and wait for each one's
 *	READY handshake; 0 or a negative errno.
 * @shutdown: stop every core; no completion is raised afterwards.
 * @submit: write a ring entry for @job on @core and ring the doorbell. The
 *	ring never overflows: the scheduler hands a core NPU_SCHED_CREDITS
 *	jobs at a time, fewer than the ring holds.
 * @reset: stop @core, discard its ring (clearing each job's in_hw), and
 *	deliver (through npu_job_done()) the completions it reported before
 *	the reset; the core accepts entries again afterwards.
 * @core_status: fill @st with what @core is doing. Valid from a successful
 *	@boot until the device is freed, also after @shutdown.
 * @ctx_init: optional: give a new context its device state (npu_ctx.hw_ctx),
 *	for hardware whose MMU has tables in memory; 0 or a negative errno.
 * @ctx_fini: optional: release it; no job of the context runs. May run
 *	after the device was unbound.
 * @map: optional: enter mapping @m (its range and object set) in the
 *	context's table; 0 or a negative errno, the table unchanged.
 * @unmap: optional: remove it, once no core runs a job of the context
 *	(docs/hw.md §9.6). May run after the device was unbound.
 * @misbehave: optional, for tests: make the device misbehave (debugfs
 *	"misbehave": enum npu_pci_misbehave, a core, a count).
 * @doorbell_rtt: optional, for measurements: time @n round trips of a
 *	doorbell to the device and its interrupt back, their nanoseconds
 *	sorted into @ns; 0 or a negative errno.
 *
 * Completions come back through npu_job_done(), called for every job a
 * core reported finished from process context (the threaded half of the
 * completion interrupt).
 */
struct npu_hw_ops {
	const char *name;
	int (*boot)(struct npu_device *ndev);
	void (*shutdown)(struct npu_device *ndev);
	void (*submit)(struct npu_core *core, struct npu_job *job);
	void (*reset)(struct npu_core *core);
	void (*core_status)(struct npu_core *core, struct npu_hw_core_status *st);
	int (*ctx_init)(struct npu_ctx *ctx);
	void (*ctx_fini)(struct npu_ctx *ctx);
	int (*map)(struct npu_ctx *ctx, struct npu_mapping *m);
	void (*unmap)(struct npu_ctx *ctx, struct npu_mapping *m);
	int (*misbehave)(struct npu_device *ndev, u32 what, u32 core, u32 count);
	int (*doorbell_rtt)(struct npu_device *ndev, u64 *ns, unsigned int n);
};

extern const struct npu_hw_ops npu_emu_hw_ops;
extern const struct npu_hw_ops npu_pci_hw_ops;

#endif
