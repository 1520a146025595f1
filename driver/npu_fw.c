// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firmware loading: request npu/npu_fw.bin, verify it with the firmware's
 * own verifier (header, ABI, size, CRC, capabilities, tables), and keep it
 * for the tables the op kernels read. A missing or bad image fails probe.
 */
#include <drm/drm_print.h>
#include <linux/firmware.h>

#include "npu_drv.h"

#define NPU_FW_NAME "npu/npu_fw.bin"

int npu_fw_load(struct npu_device *ndev)
{
	struct device *dev = ndev->drm.dev;
	enum npu_fw_image_error err;
	int ret;

	ret = request_firmware(&ndev->fw, NPU_FW_NAME, dev);
	if (ret) {
		dev_err(dev, "firmware %s not loaded (%d): the NPU cannot run\n", NPU_FW_NAME, ret);
		return ret;
	}
	err = npu_fw_image_verify(ndev->fw->data, ndev->fw->size, &ndev->fw_tables);
	if (err != NPU_FW_IMAGE_OK) {
		dev_err(dev, "firmware %s rejected: %s\n", NPU_FW_NAME, npu_fw_image_strerror(err));
		npu_fw_release(ndev);
		return -EINVAL;
	}
	return 0;
}

void npu_fw_release(struct npu_device *ndev)
{
	release_firmware(ndev->fw);
	ndev->fw = NULL;
}
