// SPDX-License-Identifier: MIT
/* mm_block_g1.h at the AVX2 level: vpmaddubsw and vpmaddwd. */
#define MMB(name) name##_avx2
#define MMB_VNNI 0
#include "mm_block_g1.h"
