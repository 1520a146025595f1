// SPDX-License-Identifier: GPL-2.0-only
/*
 * The emulated NPU. Each core is a kernel thread: it waits on its doorbell,
 * fetches ring entries, runs the command stream with the firmware code
 * compiled into this module (every access translated by the submitting
 * context's MMU table), writes a completion and raises the completion
 * interrupt, whose handler runs as a work item like a threaded interrupt
 * of real hardware would. docs/hw.md is the register-level model.
 */
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

static void npu_emu_irq(struct work_struct *work)
{
	npu_core_irq(container_of(work, struct npu_core, irq));
}

/*
 * The firmware asks between ops and every slice of work inside long ones:
 * the core gives up the CPU here (one op may run for minutes) and stops
 * its stream when a reset or unload asks.
 */
static int npu_emu_should_stop(void *data)
{
	struct npu_core *core = data;

	cond_resched();
	return atomic_read(&core->abort) || kthread_should_stop();
}

/* Take the next ring entry, or return false if the ring is empty. */
static bool npu_emu_fetch(struct npu_core *core, struct npu_ring_entry *e, unsigned int *gen)
{
	bool got = false;

	spin_lock(&core->lock);
	if (core->head != core->tail) {
		*e = core->ring[core->head % NPU_RING_SIZE];
		core->head++;
		*gen = core->reset_gen;
		core->busy = true;
		got = true;
	}
	spin_unlock(&core->lock);
	return got;
}

static bool npu_emu_reset_since(struct npu_core *core, unsigned int gen)
{
	bool reset;

	spin_lock(&core->lock);
	reset = core->reset_gen != gen;
	spin_unlock(&core->lock);
	return reset;
}

/* The armed injection, if it is meant for @job (once). */
static enum npu_inject npu_emu_take_injection(struct npu_device *ndev, struct npu_job *job)
{
	enum npu_inject what = NPU_INJECT_NONE;

	spin_lock(&ndev->inject_lock);
	if (ndev->inject != NPU_INJECT_NONE &&
	    (!ndev->inject_client || ndev->inject_client == job->ctx->client_id)) {
		what = ndev->inject;
		ndev->inject = NPU_INJECT_NONE;
	}
	spin_unlock(&ndev->inject_lock);
	return what;
}

/* The core's clock for stream profiles: the kernel's monotonic clock. */
static u64 npu_emu_clock_ns(void *unused)
{
	return ktime_get_ns();
}

static void npu_emu_execute(struct npu_core *core, struct npu_job *job)
{
	struct npu_device *ndev = core->ndev;
	struct npu_fw_core fw = {
		.tables = &ndev->fw_tables,
		.mem = { npu_mmu_translate, job->ctx },
		.scratch = core->scratch,
		.scratch_size = NPU_FW_SCRATCH_SIZE,
		.should_stop = npu_emu_should_stop,
		.stop_ctx = core,
		.clock_ns = npu_emu_clock_ns,
	};

	/*
	 * A core waiting behind an unmap of this context stays resettable:
	 * it polls for the lock and gives up when a reset asks it to stop.
	 */
	while (!down_read_trylock(&job->ctx->vm_lock)) {
		if (npu_emu_should_stop(core)) {
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
	struct npu_core *core = data;
	struct npu_device *ndev = core->ndev;

	/* The READY handshake: report the firmware ABI this core runs. */
	core->booted_abi = (u32)ndev->fw_tables.abi_major << 16 | ndev->fw_tables.abi_minor;
	core->state = "idle";
	complete(&core->booted);

	while (!kthread_should_stop()) {
		struct npu_ring_entry e;
		unsigned int gen;
		u64 start, busy;

		wait_event_interruptible(core->doorbell, kthread_should_stop() ||
					 READ_ONCE(core->head) != READ_ONCE(core->tail));
		if (!npu_emu_fetch(core, &e, &gen))
			continue;

		start = ktime_get_ns();
		core->state = "running";
		switch (npu_emu_take_injection(ndev, e.job)) {
		case NPU_INJECT_HANG:
			/* Stop answering until the driver resets the core. */
			core->state = "hung";
			wait_event(core->doorbell, kthread_should_stop() ||
				   npu_emu_reset_since(core, gen));
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
			npu_emu_execute(core, e.job);
			break;
		}
		busy = ktime_get_ns() - start;
		atomic64_add(busy, &e.job->ctx->busy_ns);
		atomic64_add(busy, &ndev->counters.busy_ns);

		spin_lock(&core->lock);
		core->busy = false;
		core->state = "idle";
		if (core->reset_gen == gen) {
			/* The completion record; the ring's job reference goes with it. */
			spin_lock(&core->done_lock);
			list_add_tail(&e.job->link, &core->done);
			spin_unlock(&core->done_lock);
			e.job = NULL;
		} else {
			/*
			 * Reset while running: dropped, no longer on the core,
			 * before the reset sees the core idle and the job is
			 * resubmitted (run_job must not take it for running).
			 */
			WRITE_ONCE(e.job->in_hw, false);
		}
		spin_unlock(&core->lock);
		wake_up_all(&core->idle);
		if (e.job)
			npu_job_put(e.job);
		else
			queue_work(ndev->irq_wq, &core->irq);
	}
	return 0;
}

static void npu_emu_submit(struct npu_core *core, struct npu_job *job)
{
	spin_lock(&core->lock);
	core->ring[core->tail % NPU_RING_SIZE] = (struct npu_ring_entry){
		.job = job,
		.stream_addr = job->stream_addr,
		.stream_size = job->stream_size,
	};
	core->tail++;
	spin_unlock(&core->lock);
	wake_up_all(&core->doorbell);	/* the doorbell */
}

/* Read under the lock: the core clears in_hw before busy, and run_job reads in_hw. */
static bool npu_emu_idle(struct npu_core *core)
{
	bool idle;

	spin_lock(&core->lock);
	idle = !core->busy;
	spin_unlock(&core->lock);
	return idle;
}

/* The longest a reset has waited for its core to stop (debugfs "counters"). */
static void npu_emu_note_stop(struct npu_device *ndev, u64 ns)
{
	s64 old = atomic64_read(&ndev->counters.stop_max_ns);

	while ((s64)ns > old && !atomic64_try_cmpxchg(&ndev->counters.stop_max_ns, &old, ns))
		;
}

/*
 * Stop the running stream at its next poll (within FW_POLL_WORK of work,
 * whatever the op), drop the ring, accept new work.
 */
static void npu_emu_reset(struct npu_core *core)
{
	struct npu_job *dropped[NPU_RING_SIZE];
	unsigned int n = 0;
	u64 start = ktime_get_ns();

	spin_lock(&core->lock);
	core->reset_gen++;
	while (core->head != core->tail)
		dropped[n++] = core->ring[core->head++ % NPU_RING_SIZE].job;
	atomic_set(&core->abort, 1);
	spin_unlock(&core->lock);
	wake_up_all(&core->doorbell);
	if (!wait_event_timeout(core->idle, npu_emu_idle(core),
				msecs_to_jiffies(NPU_STOP_WARN_MS))) {
		drm_err(&core->ndev->drm, "core %u: not stopped %u ms after a reset\n",
			core->index, NPU_STOP_WARN_MS);
		wait_event(core->idle, npu_emu_idle(core));
	}
	npu_emu_note_stop(core->ndev, ktime_get_ns() - start);
	atomic_set(&core->abort, 0);
	while (n) {
		WRITE_ONCE(dropped[--n]->in_hw, false);
		npu_job_put(dropped[n]);
	}
	/* Completions written before the reset are still delivered. */
	flush_work(&core->irq);
	npu_core_irq(core);
}

static void npu_emu_shutdown(struct npu_device *ndev)
{
	unsigned int i;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_core *core = &ndev->cores[i];

		if (core->thread) {
			kthread_stop(core->thread);
			core->thread = NULL;
			flush_work(&core->irq);
			npu_core_irq(core);
		}
		vfree(core->scratch);
		core->scratch = NULL;
	}
}

static int npu_emu_boot(struct npu_device *ndev)
{
	u32 want = (u32)ndev->fw_tables.abi_major << 16 | ndev->fw_tables.abi_minor;
	unsigned int i;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_core *core = &ndev->cores[i];

		snprintf(core->name, sizeof(core->name), "npu%d-core%u", ndev->id, i);
		spin_lock_init(&core->lock);
		spin_lock_init(&core->done_lock);
		INIT_LIST_HEAD(&core->done);
		init_waitqueue_head(&core->doorbell);
		init_waitqueue_head(&core->idle);
		init_completion(&core->booted);
		INIT_WORK(&core->irq, npu_emu_irq);
		core->state = "booting";
		core->scratch = vmalloc(NPU_FW_SCRATCH_SIZE);
		if (!core->scratch)
			goto err;
		core->thread = kthread_run(npu_emu_thread, core, "%s", core->name);
		if (IS_ERR(core->thread)) {
			core->thread = NULL;
			goto err;
		}
		if (!wait_for_completion_timeout(&core->booted,
						 msecs_to_jiffies(NPU_BOOT_TIMEOUT_MS)) ||
		    core->booted_abi != want) {
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
};
