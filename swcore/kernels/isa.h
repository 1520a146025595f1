/* SPDX-License-Identifier: MIT */
/*
 * The instruction-set levels of the software core's kernels, and which of
 * them this CPU has. One probe serves the kernels, the tests and the test
 * runner, so that what runs and what is reported as tested cannot differ.
 */
#ifndef LIBNPU_ISA_H
#define LIBNPU_ISA_H

#include <stddef.h>

#define NPU_HIDDEN __attribute__((visibility("hidden")))

/*
 * Each architecture's levels, above the scalar C every CPU runs.
 *
 * x86-64: every level needs AVX2 and BMI2. AVX-VNNI (the VNNI
 * instructions on 256-bit registers, VEX-encoded: Alder Lake, Zen 5) and
 * AVX-512 stand apart: a CPU may have either (Zen 4 has AVX-512 only) or
 * both.
 * arm64: NEON (Advanced SIMD, on every arm64 CPU: Cortex-A53, A72), then
 * the dot product (sdot: Cortex-A55, A76, Apple M1), then the int8
 * matrix multiply (smmla: Cortex-A510, A710, X2, Neoverse V1), each with
 * the ones before it.
 * A level runs the kernels of the highest level below it where it has
 * none of its own.
 */
#if defined(__x86_64__)
enum npu_isa { NPU_ISA_SCALAR, NPU_ISA_AVX2, NPU_ISA_AVXVNNI, NPU_ISA_AVX512, NPU_ISA_COUNT };
#elif defined(__aarch64__)
enum npu_isa { NPU_ISA_SCALAR, NPU_ISA_NEON, NPU_ISA_DOTPROD, NPU_ISA_I8MM, NPU_ISA_COUNT };
#else
enum npu_isa { NPU_ISA_SCALAR, NPU_ISA_COUNT };
#endif

/* Whether this CPU (and its OS, which must save the registers) runs @isa. */
NPU_HIDDEN int npu_isa_host_has(enum npu_isa isa);
/* The highest level this CPU has. */
NPU_HIDDEN enum npu_isa npu_isa_host_best(void);
/* The level as $NPU_CPU_ISA spells it: "scalar", "avx2", "avxvnni", "avx512"; "neon", "dotprod", "i8mm". */
NPU_HIDDEN const char *npu_isa_name(enum npu_isa isa);
/* The instructions the level needs, for a person: "AVX-512 VNNI", "NEON SDOT". */
NPU_HIDDEN const char *npu_isa_title(enum npu_isa isa);
/*
 * The level the software core runs at: @request (a name; NULL or "" for
 * the best), or the highest level below it this CPU has, since a missing
 * ISA would fault.
 * -1 when @request names no level.
 */
NPU_HIDDEN int npu_isa_select(const char *request);
/* This CPU for a person: its brand string, family and model. */
NPU_HIDDEN void npu_isa_host_cpu(char *buf, size_t size);

#endif
