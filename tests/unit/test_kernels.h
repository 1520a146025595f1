/* SPDX-License-Identifier: MIT */
/*
 * What the test_kernels_* suites share: the kernels' and the firmware's
 * headers, and a thread pool to run the kernels through.
 */
#ifndef NPU_TEST_KERNELS_H
#define NPU_TEST_KERNELS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "../../swcore/kernels/kernels.h"
#include "../../swcore/kernels/udiv_avx512.h"
#include "../../swcore/swcore.h"
#include "../../firmware/include/npu_fw_image.h"
#include "../../firmware/src/fixed.h"

/* A pool of three threads at @isa. */
static inline struct npu_kernels *pool_create(enum npu_isa isa)
{
	struct npu_kernels *k;

	setenv("NPU_THREADS", "3", 1);
	k = npu_kernels_create(isa);
	unsetenv("NPU_THREADS");
	assert_non_null(k);
	assert_int_equal(npu_kernels_threads(k), 3);
	assert_int_equal(npu_kernels_isa(k), isa);
	return k;
}

#endif
