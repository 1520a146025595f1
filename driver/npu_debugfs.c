// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs, per device (/sys/kernel/debug/accel/npu-emu.N/): firmware, cores,
 * counters, and fault injection for the next job.
 */
#include <drm/drm_debugfs.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "npu_drv.h"

static int npu_debugfs_firmware_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	unsigned int op;

	seq_printf(m, "build_id: %s\nabi: %u.%u\nops:", ndev->caps.fw_build_id,
		   ndev->caps.fw_abi_major, ndev->caps.fw_abi_minor);
	for (op = 0; op < DRM_NPU_OP_COUNT; op++)
		if (ndev->caps.op_mask & BIT_ULL(op))
			seq_printf(m, " %u", op);
	seq_puts(m, "\n");
	return 0;
}

static int npu_debugfs_cores_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	unsigned int i;

	for (i = 0; i < ndev->n_cores; i++) {
		struct npu_hw_core_status st;

		ndev->hw->core_status(&ndev->cores[i], &st);
		seq_printf(m, "core%u: %s ring %u/%u resets %u\n", i, st.state, st.queued,
			   st.ring_size, st.resets);
	}
	return 0;
}

static int npu_debugfs_counters_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	struct npu_counters *c = &ndev->counters;

	seq_printf(m, "submitted: %lld\ncompleted: %lld\nfailed: %lld\nfaults: %lld\n",
		   atomic64_read(&c->submitted), atomic64_read(&c->completed),
		   atomic64_read(&c->failed), atomic64_read(&c->faults));
	seq_printf(m, "timeouts: %lld\ncancelled: %lld\nresets: %lld\nbusy_ns: %lld\n",
		   atomic64_read(&c->timeouts), atomic64_read(&c->cancelled),
		   atomic64_read(&c->resets), atomic64_read(&c->busy_ns));
	seq_printf(m, "stop_max_ns: %lld\n", atomic64_read(&c->stop_max_ns));
	return 0;
}

/* The driver's live objects (all devices): a stress run must leave none. */
static int npu_debugfs_objects_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "contexts: %d\njobs: %d\nmappings: %d\ndeps: %d\n",
		   atomic_read(&npu_live_ctxs), atomic_read(&npu_live_jobs),
		   atomic_read(&npu_live_mappings), atomic_read(&npu_live_deps));
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(npu_debugfs_objects);
DEFINE_SHOW_ATTRIBUTE(npu_debugfs_firmware);
DEFINE_SHOW_ATTRIBUTE(npu_debugfs_cores);
DEFINE_SHOW_ATTRIBUTE(npu_debugfs_counters);

static const char *const npu_inject_names[] = {
	[NPU_INJECT_NONE] = "none",
	[NPU_INJECT_HANG] = "hang",
	[NPU_INJECT_FAIL] = "fail",
	[NPU_INJECT_FAULT] = "fault",
};

static int npu_debugfs_inject_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;

	spin_lock(&ndev->inject_lock);
	seq_printf(m, "%s %llu\n", npu_inject_names[ndev->inject], ndev->inject_client);
	spin_unlock(&ndev->inject_lock);
	return 0;
}

/*
 * "hang", "fail", "fault" or "none", optionally followed by a drm client id
 * (fdinfo's drm-client-id): what the next job (of that client) will meet.
 */
static ssize_t npu_debugfs_inject_write(struct file *file, const char __user *ubuf,
					size_t len, loff_t *off)
{
	struct npu_device *ndev = ((struct seq_file *)file->private_data)->private;
	char buf[48], *arg, *word;
	u64 client = 0;
	int i;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	arg = strim(buf);
	word = strsep(&arg, " ");
	if (arg && kstrtou64(skip_spaces(arg), 0, &client))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(npu_inject_names); i++) {
		if (!strcmp(word, npu_inject_names[i])) {
			spin_lock(&ndev->inject_lock);
			ndev->inject = i;
			ndev->inject_client = client;
			spin_unlock(&ndev->inject_lock);
			return len;
		}
	}
	return -EINVAL;
}

DEFINE_SHOW_STORE_ATTRIBUTE(npu_debugfs_inject);

/*
 * "WHAT CORE COUNT" (numbers, enum npu_pci_misbehave): the device spoils
 * its next COUNT records on CORE, or raises its vector COUNT times.
 */
static ssize_t npu_debugfs_misbehave_write(struct file *file, const char __user *ubuf,
					   size_t len, loff_t *off)
{
	struct npu_device *ndev = file->private_data;
	u32 what, core, count;
	char buf[48];
	int ret;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%u %u %u", &what, &core, &count) != 3)
		return -EINVAL;
	ret = ndev->hw->misbehave(ndev, what, core, count);
	return ret ? ret : len;
}

static const struct file_operations npu_debugfs_misbehave_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = npu_debugfs_misbehave_write,
};

#define NPU_RTT_RUNS 200

/* The doorbell's round trip: median and 99th percentile of 200, in microseconds. */
static int npu_debugfs_doorbell_rtt_show(struct seq_file *m, void *unused)
{
	struct npu_device *ndev = m->private;
	u64 *ns = kcalloc(NPU_RTT_RUNS, sizeof(*ns), GFP_KERNEL);
	int ret;

	if (!ns)
		return -ENOMEM;
	ret = ndev->hw->doorbell_rtt(ndev, ns, NPU_RTT_RUNS);
	if (!ret)
		seq_printf(m, "runs: %d\nmedian_us: %llu\np99_us: %llu\n", NPU_RTT_RUNS,
			   ns[NPU_RTT_RUNS / 2] / NSEC_PER_USEC,
			   ns[NPU_RTT_RUNS * 99 / 100] / NSEC_PER_USEC);
	kfree(ns);
	return ret;
}

DEFINE_SHOW_ATTRIBUTE(npu_debugfs_doorbell_rtt);

/* Files in /sys/kernel/debug/accel/<device>/, made before registration. */
void npu_debugfs_init(struct npu_device *ndev)
{
	struct dentry *root = ndev->drm.debugfs_root;

	debugfs_create_file("firmware", 0444, root, ndev, &npu_debugfs_firmware_fops);
	debugfs_create_file("cores", 0444, root, ndev, &npu_debugfs_cores_fops);
	debugfs_create_file("counters", 0444, root, ndev, &npu_debugfs_counters_fops);
	debugfs_create_file("objects", 0444, root, ndev, &npu_debugfs_objects_fops);
	debugfs_create_atomic_t("fail_alloc", 0600, root, &ndev->fail_nth);
	debugfs_create_u64("va_size", 0600, root, &ndev->va_size);
	debugfs_create_file("fault_inject", 0600, root, ndev, &npu_debugfs_inject_fops);
	if (ndev->hw->doorbell_rtt)
		debugfs_create_file("doorbell_rtt", 0400, root, ndev,
				    &npu_debugfs_doorbell_rtt_fops);
	if (ndev->hw->misbehave)
		debugfs_create_file("misbehave", 0200, root, ndev, &npu_debugfs_misbehave_fops);
}
