// SPDX-License-Identifier: MIT
/* The firmware image a host-side core boots: $NPU_FIRMWARE, else built in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swcore.h"
#include "../firmware/include/npu_fw_image.h"

extern const unsigned char npu_builtin_fw[] NPU_HIDDEN;
extern const size_t npu_builtin_fw_size NPU_HIDDEN;

int npu_firmware_load(void **image, size_t *size)
{
	const char *path = getenv("NPU_FIRMWARE");
	void *buf;
	long n;
	FILE *f;

	if (!path || !*path) {
		buf = malloc(npu_builtin_fw_size);
		if (!buf)
			return NPU_E_NOMEM;
		memcpy(buf, npu_builtin_fw, npu_builtin_fw_size);
		*image = buf;
		*size = npu_builtin_fw_size;
		return NPU_OK;
	}
	f = fopen(path, "rb");
	if (!f)
		return NPU_E_FIRMWARE;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > NPU_FW_MAX_IMAGE ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return NPU_E_FIRMWARE;
	}
	/* malloc aligns for any type: the tables are read in place. */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf) {
		fclose(f);
		return NPU_E_NOMEM;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NPU_E_FIRMWARE;
	}
	fclose(f);
	*image = buf;
	*size = (size_t)n;
	return NPU_OK;
}
