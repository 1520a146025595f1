// SPDX-License-Identifier: MIT
/*
 * mm_block_g1.h at the AVX-512 level: vpdpbusd and vpdpwssd on 256-bit
 * registers, EVEX-encoded (AVX-512 VL and VNNI). The same instructions as
 * the AVX-VNNI level's, so its tests run this level's twin of that code.
 */
#define MMB(name) name##_avx512
#define MMB_VNNI 1
#define MMB_DPBUSD _mm256_dpbusd_epi32
#define MMB_DPWSSD _mm256_dpwssd_epi32
#include "mm_block_g1.h"
