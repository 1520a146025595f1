/* SPDX-License-Identifier: MIT */
/*
 * npu-bench's instruction-set loops, one file per architecture
 * (simd_x86.c, simd_arm64.c): a plain read of memory, and the int8
 * multiply-add peak of the level the cpu backend runs at.
 */
#ifndef NPU_BENCH_SIMD_H
#define NPU_BENCH_SIMD_H

#include <stddef.h>
#include <stdint.h>

/* One thread's share of a read: @len bytes from @p, 64-byte aligned. */
struct bw_arg {
	const uint8_t *p;
	size_t len;
	uint64_t sink;
};

/* Read @arg's bytes (a struct bw_arg) at the widest loads this CPU has; a thread's body. */
void *bench_read_all(void *arg);

/* A level's int8 peak loop: @macs multiply-adds per iteration, for @iters iterations. */
struct bench_peak {
	const char *name, *title;
	double macs;
	uint64_t (*loop)(long iters);
};

/* The peak loop of the level the backend named @backend ("... matmul avx512 ...") runs. */
const struct bench_peak *bench_peak_for(const char *backend);

#endif
