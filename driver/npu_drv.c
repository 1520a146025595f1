// SPDX-License-Identifier: GPL-2.0-only
/*
 * npu.ko: module and device lifetime, the DRM driver, GET_CAPS and fdinfo.
 */
#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>

#include "npu_drv.h"

static unsigned int npus = 1;
module_param(npus, uint, 0444);
MODULE_PARM_DESC(npus, "Number of emulated NPUs (default 1)");

static int emulated = -1;
module_param(emulated, int, 0444);
MODULE_PARM_DESC(emulated, "Emulated NPUs: 1 always, 0 never, -1 only when no PCI NPU is found (default -1)");

static unsigned int cores[16] = { [0 ... 15] = 2 };
static unsigned int n_cores_set;
module_param_array(cores, uint, &n_cores_set, 0444);
MODULE_PARM_DESC(cores, "Cores of each emulated NPU, e.g. 1,2 (default 2, at most 8); the last value given applies to the NPUs after it");

static unsigned int job_timeout_ms = 2000;
module_param(job_timeout_ms, uint, 0444);
MODULE_PARM_DESC(job_timeout_ms, "Job timeout in milliseconds (default 2000)");

static struct platform_device *npu_pdevs[NPU_MAX_DEVICES];
static bool platform_registered;

atomic_t npu_live_ctxs, npu_live_jobs, npu_live_mappings, npu_live_deps;

static int npu_ioctl_get_caps(struct drm_device *dev, void *data, struct drm_file *file)
{
	struct npu_ctx *ctx = file->driver_priv;
	struct drm_npu_caps *caps = data;

	*caps = to_npu_device(dev)->caps;
	caps->va_size = ctx->va_end - NPU_VA_START;
	return 0;
}

/* What GET_CAPS reports, copied while the firmware image is held. */
static void npu_fill_caps(struct npu_device *ndev)
{
	struct drm_npu_caps *caps = &ndev->caps;

	caps->abi_major = DRM_NPU_ABI_MAJOR;
	caps->abi_minor = DRM_NPU_ABI_MINOR;
	caps->fw_abi_major = ndev->fw_tables.abi_major;
	caps->fw_abi_minor = ndev->fw_tables.abi_minor;
	caps->op_mask = ndev->fw_tables.op_mask;
	caps->n_cores = ndev->n_cores;
	caps->n_priorities = NPU_PRIORITIES;
	caps->va_size = NPU_VA_SIZE;
	caps->scratch_size = NPU_FW_SCRATCH_SIZE;
	strscpy(caps->fw_build_id, ndev->fw_tables.build_id, sizeof(caps->fw_build_id));
}

static void npu_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct npu_ctx *ctx = file->driver_priv;

	drm_printf(p, "drm-engine-npu:\t%llu ns\n", (u64)atomic64_read(&ctx->busy_ns));
	drm_printf(p, "drm-engine-capacity-npu:\t%u\n", ctx->ndev->n_cores);
	drm_show_memory_stats(p, file);
}

static const struct drm_ioctl_desc npu_ioctls[] = {
	DRM_IOCTL_DEF_DRV(NPU_GET_CAPS, npu_ioctl_get_caps, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_BO_CREATE, npu_ioctl_bo_create, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_BO_INFO, npu_ioctl_bo_info, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_SUBMIT, npu_ioctl_submit, DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(NPU_WAIT, npu_ioctl_wait, DRM_RENDER_ALLOW),
};

static const struct file_operations npu_fops = {
	.owner = THIS_MODULE,
	.open = accel_open,
	.release = npu_ctx_file_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = drm_gem_mmap,
	.show_fdinfo = drm_show_fdinfo,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver npu_drm_driver = {
	.driver_features = DRIVER_COMPUTE_ACCEL | DRIVER_GEM | DRIVER_SYNCOBJ,
	.open = npu_ctx_open,
	.postclose = npu_ctx_postclose,
	.gem_create_object = npu_gem_create_object,
	.gem_prime_import_sg_table = npu_gem_prime_import_sg_table,
	.ioctls = npu_ioctls,
	.num_ioctls = ARRAY_SIZE(npu_ioctls),
	.fops = &npu_fops,
	.show_fdinfo = npu_show_fdinfo,
	.name = "npu",
	.desc = "NPU offload stack (PCI or emulated NPU)",
	.date = "20261122",
	.major = DRM_NPU_ABI_MAJOR,
	.minor = DRM_NPU_ABI_MINOR,
};

static void npu_sched_release(struct drm_device *drm, void *unused)
{
	npu_sched_fini(to_npu_device(drm));
}

struct npu_device *npu_device_alloc(struct device *parent)
{
	return devm_drm_dev_alloc(parent, &npu_drm_driver, struct npu_device, drm);
}

/* The longest a reset has waited for its core to stop (debugfs "counters"). */
void npu_note_stop(struct npu_device *ndev, u64 ns)
{
	s64 old = atomic64_read(&ndev->counters.stop_max_ns);

	while ((s64)ns > old && !atomic64_try_cmpxchg(&ndev->counters.stop_max_ns, &old, ns))
		;
}

/* The armed injection, if it is meant for @job (once). */
enum npu_inject npu_take_injection(struct npu_device *ndev, struct npu_job *job)
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

/**
 * npu_device_probe() - bring up an NPU, whatever implements it
 * @ndev: from npu_device_alloc(), its drvdata set; hw_priv set when @hw's
 *	boot expects it.
 * @hw: the hardware implementation.
 * @id: the NPU's number (its cores' names).
 * @n_cores: cores, 1..NPU_MAX_CORES.
 *
 * Loads and verifies the firmware, boots the cores, starts the schedulers
 * and registers the accel node. Return: 0 or a negative errno, everything
 * undone.
 */
int npu_device_probe(struct npu_device *ndev, const struct npu_hw_ops *hw, int id,
		     unsigned int n_cores)
{
	unsigned int i;
	int ret;

	ndev->id = id;
	ndev->n_cores = clamp(n_cores, 1u, (unsigned int)NPU_MAX_CORES);
	ndev->job_timeout_ms = max(job_timeout_ms, 10u);
	ndev->va_size = NPU_VA_SIZE;
	ndev->va_max = NPU_VA_SIZE;
	ndev->hw = hw;
	init_waitqueue_head(&ndev->jobs_drained);
	spin_lock_init(&ndev->deps_lock);
	INIT_LIST_HEAD(&ndev->deps);
	spin_lock_init(&ndev->inject_lock);
	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_core *core = &ndev->cores[i];

		core->ndev = ndev;
		core->index = i;
		snprintf(core->name, sizeof(core->name), "npu%d-core%u", ndev->id, i);
		mutex_init(&core->reset_lock);
	}

	ret = npu_fw_load(ndev);
	if (ret)
		return ret;
	npu_fill_caps(ndev);
	ret = ndev->hw->boot(ndev);
	if (ret)
		goto err_fw;
	ret = npu_sched_init(ndev);
	if (ret)
		goto err_hw;
	/* Files may outlive an unbind: schedulers go with the last of them. */
	ret = drmm_add_action_or_reset(&ndev->drm, npu_sched_release, NULL);
	if (ret)
		goto err_hw;
	npu_debugfs_init(ndev);
	ret = drm_dev_register(&ndev->drm, 0);
	if (ret)
		goto err_hw;
	drm_info(&ndev->drm, "%u cores (%s), firmware %s (ABI %u.%u)\n", ndev->n_cores,
		 ndev->hw->name, ndev->fw_tables.build_id, ndev->fw_tables.abi_major,
		 ndev->fw_tables.abi_minor);
	return 0;

err_hw:
	ndev->hw->shutdown(ndev);
err_fw:
	npu_fw_release(ndev);
	return ret;
}

/* Unbind: the NPU's users see it gone, its jobs end, its cores stop. */
void npu_device_remove(struct npu_device *ndev)
{
	unsigned int i;

	/*
	 * New ioctls fail with -ENODEV from here on; open files stay valid
	 * until closed. Queued jobs are cancelled: the ones waiting for
	 * in-fences stop waiting, and none reaches a core any more
	 * (npu_job_run); running ones stop at the firmware's next poll.
	 */
	drm_dev_unplug(&ndev->drm);
	npu_deps_cancel(ndev);
	for (i = 0; i < ndev->n_cores; i++)
		npu_core_cancel(&ndev->cores[i]);
	wait_event(ndev->jobs_drained, !atomic_read(&ndev->jobs_in_flight));
	ndev->hw->shutdown(ndev);
	npu_fw_release(ndev);
}

static int npu_probe(struct platform_device *pdev)
{
	struct npu_device *ndev;
	unsigned int n;
	int ret;

	ndev = npu_device_alloc(&pdev->dev);
	if (IS_ERR(ndev))
		return PTR_ERR(ndev);
	platform_set_drvdata(pdev, ndev);
	/* PRIME import maps dma-bufs through this device. */
	ret = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	n = n_cores_set ? cores[min_t(unsigned int, pdev->id, n_cores_set - 1)] : cores[0];
	return npu_device_probe(ndev, &npu_emu_hw_ops, pdev->id, n);
}

static void npu_remove(struct platform_device *pdev)
{
	npu_device_remove(platform_get_drvdata(pdev));
}

static struct platform_driver npu_platform_driver = {
	.probe = npu_probe,
	.remove = npu_remove,
	.driver = {
		.name = "npu-emu",
		.dev_groups = npu_dev_groups,
	},
};

static void npu_unregister_devices(void)
{
	int i;

	for (i = NPU_MAX_DEVICES - 1; i >= 0; i--) {
		if (!IS_ERR_OR_NULL(npu_pdevs[i]))
			platform_device_unregister(npu_pdevs[i]);
		npu_pdevs[i] = NULL;
	}
}

static int __init npu_init(void)
{
	unsigned int i;
	int ret;

	if (npus < 1 || npus > NPU_MAX_DEVICES) {
		pr_err("npu: npus=%u out of range 1..%d\n", npus, NPU_MAX_DEVICES);
		return -EINVAL;
	}
	ret = npu_pci_register();
	if (ret)
		return ret;
	/* PCI NPUs present at load are probed by now. */
	if (!emulated || (emulated < 0 && npu_pci_count()))
		return 0;
	ret = platform_driver_register(&npu_platform_driver);
	if (ret)
		goto err_pci;
	platform_registered = true;
	for (i = 0; i < npus; i++) {
		npu_pdevs[i] = platform_device_register_simple("npu-emu", i, NULL, 0);
		if (IS_ERR(npu_pdevs[i])) {
			ret = PTR_ERR(npu_pdevs[i]);
			goto err;
		}
		/* A failed probe leaves the device unbound: fail the load. */
		if (!platform_get_drvdata(npu_pdevs[i])) {
			ret = -ENODEV;
			goto err;
		}
	}
	return 0;

err:
	npu_unregister_devices();
	platform_driver_unregister(&npu_platform_driver);
	platform_registered = false;
err_pci:
	npu_pci_unregister();
	return ret;
}

static void __exit npu_exit(void)
{
	if (platform_registered) {
		npu_unregister_devices();
		platform_driver_unregister(&npu_platform_driver);
	}
	npu_pci_unregister();
	/* Every file is closed and every device gone: nothing may remain. */
	if (atomic_read(&npu_live_ctxs) || atomic_read(&npu_live_jobs) ||
	    atomic_read(&npu_live_mappings) || atomic_read(&npu_live_deps))
		pr_err("npu: leak at unload: %d contexts, %d jobs, %d mappings, %d in-fence proxies\n",
		       atomic_read(&npu_live_ctxs), atomic_read(&npu_live_jobs),
		       atomic_read(&npu_live_mappings), atomic_read(&npu_live_deps));
}

module_init(npu_init);
module_exit(npu_exit);

MODULE_DESCRIPTION("NPU offload stack: DRM accel driver for the PCI NPU and an emulated one");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE("npu/npu_fw.bin");
MODULE_IMPORT_NS(DMA_BUF);
