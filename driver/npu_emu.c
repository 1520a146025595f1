// SPDX-License-Identifier: GPL-2.0-only
/*
 * The emulated NPU. Each core is a kernel thread: it waits on its doorbell,
 * fetches ring entries, runs the command stream with the firmware code
 * compiled into this module (every access translated by the submitting
 * context's MMU table), writes a completion and raises the completion
 * interrupt, whose handler runs as a work item like a threaded interrupt
 * of real hardware would. docs/hw.md is the register-level model.
 */
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/delay.h>
#include <linux/vmalloc.h>

#include "npu_drv.h"

#define NPU_BOOT_TIMEOUT_MS 2000
/*
 * A reset waits this long for its core to stop before saying so. The
 * firmware polls for a stop every FW_POLL_WORK of work (about 1 ms under
 * TCG), so a core that takes longer is broken, not busy.
 */
#define NPU_STOP_WARN_MS 1000
#define NPU_RING_SIZE		16	/* entries per core ring */

/* One entry of a core's ring: what the driver asks the core to run. */
struct npu_ring_entry {
	struct npu_job *job;
	u64 stream_addr;
	u32 stream_size;
};

/**
 * struct npu_emu_core - the emulation of one core: a kernel thread.
 * @core: the driver's core.
 * @lock: protects the ring, @state, @busy and @reset_gen.
 * @ring: entries written by the driver, fetched by the core.
 * @head: next entry the core fetches.
 * @tail: next entry the driver writes.
 * @doorbell: wakes the core when the driver writes an entry or resets it.
 * @thread: the emulated core.
 * @scratch: the core's local memory, handed to the firmware.
 * @state: what the core is doing (debugfs "cores").
 * @reset_gen: bumped by every reset; a core finishing a job of an older
 *	generation drops the result.
 * @abort: set by a reset: the running stream stops at the firmware's next poll.
 * @done_lock: protects @done.
 * @done: finished jobs, as the core reports them, waiting for the interrupt.
 * @irq: the completion interrupt's handler, run as a work item (the
 *	threaded half of an interrupt) so that it may sleep.
 * @busy: a job is being executed (or hangs) on the core.
 * @idle: woken when @busy clears.
 * @booted: completed by the core's READY handshake.
 * @booted_abi: the firmware ABI version the core reported in it
 *	(major << 16 | minor).
 */
struct npu_emu_core {
	struct npu_core *core;
	spinlock_t lock;	/* ring, head, tail, state, busy, reset_gen */
	struct npu_ring_entry ring[NPU_RING_SIZE];
	unsigned int head, tail;
	wait_queue_head_t doorbell;
	struct task_struct *thread;
	void *scratch;
	const char *state;
	unsigned int reset_gen;
	atomic_t abort;
	spinlock_t done_lock;	/* done */
	struct list_head done;
	struct work_struct irq;
	bool busy;
	wait_queue_head_t idle;
	struct completion booted;
	u32 booted_abi;
};

/**
 * struct npu_emu - the emulation of one NPU (npu_device.hw_priv). It lives
 * as long as the device, so debugfs may still read it after shutdown.
 * @irq_wq: runs the cores' completion handlers (may reclaim memory).
 * @cores: the cores, as many as npu_device.n_cores.
 */
struct npu_emu {
	struct workqueue_struct *irq_wq;
	struct npu_emu_core cores[NPU_MAX_CORES];
};

static struct npu_emu_core *npu_emu_core(struct npu_core *core)
{
	struct npu_emu *emu = core->ndev->hw_priv;

	return &emu->cores[core->index];
}

/* The interrupt's work: hand every finished job the core reported to the driver. */
static void npu_emu_deliver(struct npu_emu_core *ec)
{
	struct npu_job *job, *tmp;
	LIST_HEAD(done);

	spin_lock(&ec->done_lock);
	list_splice_init(&ec->done, &done);
	spin_unlock(&ec->done_lock);

	list_for_each_entry_safe(job, tmp, &done, link) {
		list_del_init(&job->link);
		npu_job_done(job);
	}
}

static void npu_emu_irq(struct work_struct *work)
{
	npu_emu_deliver(container_of(work, struct npu_emu_core, irq));
}

/*
 * The firmware asks between ops and every slice of work inside long ones:
 * the core gives up the CPU here (one op may run for minutes) and stops
 * its stream when a reset or unload asks.
 */
static int npu_emu_should_stop(void *data)
{
	struct npu_emu_core *ec = data;

	cond_resched();
	return atomic_read(&ec->abort) || kthread_should_stop();
}

/* Take the next ring entry, or return false if the ring is empty. */
static bool npu_emu_fetch(struct npu_emu_core *ec, struct npu_ring_entry *e, unsigned int *gen)
{
	bool got = false;

	spin_lock(&ec->lock);
	if (ec->head != ec->tail) {
		*e = ec->ring[ec->head % NPU_RING_SIZE];
		ec->head++;
		*gen = ec->reset_gen;
		ec->busy = true;
		got = true;
	}
	spin_unlock(&ec->lock);
	return got;
}

static bool npu_emu_reset_since(struct npu_emu_core *ec, unsigned int gen)
{
	bool reset;

	spin_lock(&ec->lock);
	reset = ec->reset_gen != gen;
	spin_unlock(&ec->lock);
	return reset;
}

/* The core's clock for stream profiles: the kernel's monotonic clock. */
static u64 npu_emu_clock_ns(void *unused)
{
	return ktime_get_ns();
}

static void npu_emu_execute(struct npu_emu_core *ec, struct npu_job *job)
{
	struct npu_device *ndev = ec->core->ndev;
	struct npu_fw_core fw = {
		.tables = &ndev->fw_tables,
		.mem = { npu_mmu_translate, job->ctx },
		.scratch = ec->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.should_stop = npu_emu_should_stop,
		.stop_ctx = ec,
		.clock_ns = npu_emu_clock_ns,
	};

	/*
	 * A core waiting behind an unmap of this context stays resettable:
	 * it polls for the lock and gives up when a reset asks it to stop.
	 */
	while (!down_read_trylock(&job->ctx->vm_lock)) {
		if (npu_emu_should_stop(ec)) {
			job->result.status = DRM_NPU_STATUS_CANCELLED;
			job->result.op_index = 0;
			job->result.fault_addr = 0;
			return;
		}
		usleep_range(100, 200);
	}
	npu_fw_exec(&fw, job->stream_addr, job->stream_size, &job->result);
	up_read(&job->ctx->vm_lock);
}

static int npu_emu_thread(void *data)
{
	struct npu_emu_core *ec = data;
	struct npu_device *ndev = ec->core->ndev;
	struct npu_emu *emu = ndev->hw_priv;

	/* The READY handshake: report the firmware ABI this core runs. */
	ec->booted_abi = (u32)ndev->fw_tables.abi_major << 16 | ndev->fw_tables.abi_minor;
	ec->state = "idle";
	complete(&ec->booted);

	while (!kthread_should_stop()) {
		struct npu_ring_entry e;
		unsigned int gen;
		u64 start, busy;

		wait_event_interruptible(ec->doorbell, kthread_should_stop() ||
					 READ_ONCE(ec->head) != READ_ONCE(ec->tail));
		if (!npu_emu_fetch(ec, &e, &gen))
			continue;

		start = ktime_get_ns();
		ec->state = "running";
		switch (npu_take_injection(ndev, e.job)) {
		case NPU_INJECT_HANG:
			/* Stop answering until the driver resets the core. */
			ec->state = "hung";
			wait_event(ec->doorbell, kthread_should_stop() ||
				   npu_emu_reset_since(ec, gen));
			break;
		case NPU_INJECT_FAIL:
			e.job->result.status = DRM_NPU_STATUS_BAD_OPCODE;
			e.job->result.op_index = 0;
			e.job->result.fault_addr = 0;
			break;
		case NPU_INJECT_FAULT:
			e.job->result.status = DRM_NPU_STATUS_FAULT;
			e.job->result.op_index = 0;
			e.job->result.fault_addr = e.stream_addr;
			break;
		default:
			npu_emu_execute(ec, e.job);
			break;
		}
		busy = ktime_get_ns() - start;
		atomic64_add(busy, &e.job->ctx->busy_ns);
		atomic64_add(busy, &ndev->counters.busy_ns);

		spin_lock(&ec->lock);
		ec->busy = false;
		ec->state = "idle";
		if (ec->reset_gen == gen) {
			/* The completion record; the ring's job reference goes with it. */
			spin_lock(&ec->done_lock);
			list_add_tail(&e.job->link, &ec->done);
			spin_unlock(&ec->done_lock);
			e.job = NULL;
		} else {
			/*
			 * Reset while running: dropped, no longer on the core,
			 * before the reset sees the core idle and the job is
			 * resubmitted (run_job must not take it for running).
			 */
			WRITE_ONCE(e.job->in_hw, false);
		}
		spin_unlock(&ec->lock);
		wake_up_all(&ec->idle);
		if (e.job)
			npu_job_put(e.job);
		else
			queue_work(emu->irq_wq, &ec->irq);
	}
	return 0;
}

static void npu_emu_submit(struct npu_core *core, struct npu_job *job)
{
	struct npu_emu_core *ec = npu_emu_core(core);

	spin_lock(&ec->lock);
	ec->ring[ec->tail % NPU_RING_SIZE] = (struct npu_ring_entry){
		.job = job,
		.stream_addr = job->stream_addr,
		.stream_size = job->stream_size,
	};
	ec->tail++;
	spin_unlock(&ec->lock);
	wake_up_all(&ec->doorbell);	/* the doorbell */
}

/* Read under the lock: the core clears in_hw before busy, and run_job reads in_hw. */
static bool npu_emu_idle(struct npu_emu_core *ec)
{
	bool idle;

	spin_lock(&ec->lock);
	idle = !ec->busy;
	spin_unlock(&ec->lock);
	return idle;
}

/*
 * Stop the running stream at its next poll (within FW_POLL_WORK of work,
 * whatever the op), drop the ring, accept new work.
 */
static void npu_emu_reset(struct npu_core *core)
{
	struct npu_emu_core *ec = npu_emu_core(core);
	struct npu_job *dropped[NPU_RING_SIZE];
	unsigned int n = 0;
	u64 start = ktime_get_ns();

	spin_lock(&ec->lock);
	ec->reset_gen++;
	while (ec->head != ec->tail)
		dropped[n++] = ec->ring[ec->head++ % NPU_RING_SIZE].job;
	atomic_set(&ec->abort, 1);
	spin_unlock(&ec->lock);
	wake_up_all(&ec->doorbell);
	if (!wait_event_timeout(ec->idle, npu_emu_idle(ec),
				msecs_to_jiffies(NPU_STOP_WARN_MS))) {
		drm_err(&core->ndev->drm, "core %u: not stopped %u ms after a reset\n",
			core->index, NPU_STOP_WARN_MS);
		wait_event(ec->idle, npu_emu_idle(ec));
	}
	npu_note_stop(core->ndev, ktime_get_ns() - start);
	atomic_set(&ec->abort, 0);
	while (n) {
		WRITE_ONCE(dropped[--n]->in_hw, false);
		npu_job_put(dropped[n]);
	}
	/* Completions written before the reset are still delivered. */
	flush_work(&ec->irq);
	npu_emu_deliver(ec);
}

static void npu_emu_core_status(struct npu_core *core, struct npu_hw_core_status *st)
{
	struct npu_emu_core *ec = npu_emu_core(core);

	spin_lock(&ec->lock);
	st->state = ec->state;
	st->queued = ec->tail - ec->head;
	st->ring_size = NPU_RING_SIZE;
	st->resets = ec->reset_gen;
	spin_unlock(&ec->lock);
}

static void npu_emu_shutdown(struct npu_device *ndev)
{
	struct npu_emu *emu = ndev->hw_priv;
	unsigned int i;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_emu_core *ec = &emu->cores[i];

		if (ec->thread) {
			kthread_stop(ec->thread);
			ec->thread = NULL;
			flush_work(&ec->irq);
			npu_emu_deliver(ec);
		}
		vfree(ec->scratch);
		ec->scratch = NULL;
	}
	if (emu->irq_wq) {
		destroy_workqueue(emu->irq_wq);
		emu->irq_wq = NULL;
	}
}

static int npu_emu_boot(struct npu_device *ndev)
{
	u32 want = (u32)ndev->fw_tables.abi_major << 16 | ndev->fw_tables.abi_minor;
	struct npu_emu *emu;
	unsigned int i;

	/* Freed with the device: debugfs "cores" reads it until then. */
	emu = drmm_kzalloc(&ndev->drm, sizeof(*emu), GFP_KERNEL);
	if (!emu)
		return -ENOMEM;
	ndev->hw_priv = emu;
	emu->irq_wq = alloc_workqueue("npu%d-irq", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0, ndev->id);
	if (!emu->irq_wq)
		return -ENOMEM;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_emu_core *ec = &emu->cores[i];

		ec->core = &ndev->cores[i];
		spin_lock_init(&ec->lock);
		spin_lock_init(&ec->done_lock);
		INIT_LIST_HEAD(&ec->done);
		init_waitqueue_head(&ec->doorbell);
		init_waitqueue_head(&ec->idle);
		init_completion(&ec->booted);
		INIT_WORK(&ec->irq, npu_emu_irq);
		ec->state = "booting";
		ec->scratch = vmalloc(NPU_FW_SCRATCH_SIZE);
		if (!ec->scratch)
			goto err;
		ec->thread = kthread_run(npu_emu_thread, ec, "%s", ec->core->name);
		if (IS_ERR(ec->thread)) {
			ec->thread = NULL;
			goto err;
		}
		if (!wait_for_completion_timeout(&ec->booted,
						 msecs_to_jiffies(NPU_BOOT_TIMEOUT_MS)) ||
		    ec->booted_abi != want) {
			drm_err(&ndev->drm, "core %u: no READY handshake from the firmware\n", i);
			goto err;
		}
	}
	return 0;

err:
	npu_emu_shutdown(ndev);
	return -EIO;
}

const struct npu_hw_ops npu_emu_hw_ops = {
	.name = "emulated",
	.boot = npu_emu_boot,
	.shutdown = npu_emu_shutdown,
	.submit = npu_emu_submit,
	.reset = npu_emu_reset,
	.core_status = npu_emu_core_status,
};
