// SPDX-License-Identifier: MIT
/* mm_block_g1.h at the AVX-VNNI level: vpdpbusd and vpdpwssd, VEX-encoded. */
#define MMB(name) name##_avxvnni
#define MMB_VNNI 1
#define MMB_DPBUSD _mm256_dpbusd_avx_epi32
#define MMB_DPWSSD _mm256_dpwssd_avx_epi32
#include "mm_block_g1.h"
