// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device counters in sysfs, readable by everyone: what monitoring tools
 * (npu-info --watch) show without debugfs. Documented in
 * docs/ABI/sysfs-driver-npu.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "npu_drv.h"

static ssize_t npu_counter_show(struct device *dev, char *buf, atomic64_t *counter)
{
	return sysfs_emit(buf, "%lld\n", atomic64_read(counter));
}

#define NPU_COUNTER_ATTR(name, field)						\
static ssize_t name##_show(struct device *dev, struct device_attribute *attr,	\
			   char *buf)						\
{										\
	struct npu_device *ndev = dev_get_drvdata(dev);				\
										\
	return npu_counter_show(dev, buf, &ndev->counters.field);		\
}										\
static DEVICE_ATTR_RO(name)

NPU_COUNTER_ATTR(jobs_submitted, submitted);
NPU_COUNTER_ATTR(jobs_completed, completed);
NPU_COUNTER_ATTR(jobs_failed, failed);
NPU_COUNTER_ATTR(jobs_cancelled, cancelled);
NPU_COUNTER_ATTR(job_timeouts, timeouts);
NPU_COUNTER_ATTR(mmu_faults, faults);
NPU_COUNTER_ATTR(core_resets, resets);
NPU_COUNTER_ATTR(memory_bytes, bo_bytes);

/* Busy time of all cores together, in microseconds (as ivpu reports it). */
static ssize_t npu_busy_time_us_show(struct device *dev, struct device_attribute *attr,
				     char *buf)
{
	struct npu_device *ndev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&ndev->counters.busy_ns) / NSEC_PER_USEC);
}
static DEVICE_ATTR_RO(npu_busy_time_us);

static ssize_t cores_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct npu_device *ndev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", ndev->n_cores);
}
static DEVICE_ATTR_RO(cores);

static struct attribute *npu_dev_attrs[] = {
	&dev_attr_jobs_submitted.attr,
	&dev_attr_jobs_completed.attr,
	&dev_attr_jobs_failed.attr,
	&dev_attr_jobs_cancelled.attr,
	&dev_attr_job_timeouts.attr,
	&dev_attr_mmu_faults.attr,
	&dev_attr_core_resets.attr,
	&dev_attr_memory_bytes.attr,
	&dev_attr_npu_busy_time_us.attr,
	&dev_attr_cores.attr,
	NULL,
};

static const struct attribute_group npu_dev_group = {
	.attrs = npu_dev_attrs,
};

const struct attribute_group *npu_dev_groups[] = {
	&npu_dev_group,
	NULL,
};
