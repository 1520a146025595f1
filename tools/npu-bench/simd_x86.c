// SPDX-License-Identifier: MIT
/*
 * npu-bench's loops on x86-64: the memory read at the widest vectors this
 * CPU has, and the int8 peak of each level the cpu backend's kernels run.
 */
#include <immintrin.h>
#include <string.h>

#include "simd.h"

__attribute__((target("avx2"))) static void *read_all_avx2(void *arg)
{
	struct bw_arg *a = arg;
	__m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
	size_t i;

	for (i = 0; i + 128 <= a->len; i += 128) {
		s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(a->p + i)));
		s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(a->p + i + 32)));
		s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(a->p + i + 64)));
		s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(a->p + i + 96)));
	}
	s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
	a->sink = (uint64_t)_mm256_extract_epi64(s0, 0);
	return NULL;
}

/* The same in baseline x86-64 (SSE2), for a CPU without AVX2. */
static void *read_all_sse2(void *arg)
{
	struct bw_arg *a = arg;
	__m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
	size_t i;

	for (i = 0; i + 64 <= a->len; i += 64) {
		s0 = _mm_add_epi64(s0, _mm_load_si128((const __m128i *)(a->p + i)));
		s1 = _mm_add_epi64(s1, _mm_load_si128((const __m128i *)(a->p + i + 16)));
		s2 = _mm_add_epi64(s2, _mm_load_si128((const __m128i *)(a->p + i + 32)));
		s3 = _mm_add_epi64(s3, _mm_load_si128((const __m128i *)(a->p + i + 48)));
	}
	s0 = _mm_add_epi64(_mm_add_epi64(s0, s1), _mm_add_epi64(s2, s3));
	a->sink = (uint64_t)_mm_cvtsi128_si64(s0);
	return NULL;
}

/*
 * The peak loops keep their operands opaque to the compiler (an empty asm
 * that "changes" them every iteration) and start every chain at its own
 * value: otherwise it may merge identical chains into one or hoist the
 * products out of the loop, and the loop would time one instruction while
 * counting eight (an earlier version of this file did exactly that and
 * reported twice the real peak).
 */
#define OPAQUE(v) __asm__ volatile("" : "+v"(v))

/* 12 independent accumulators, named so they stay in registers. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static uint64_t peak_vnni(long iters)
{
	__m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
	__m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2);
	__m512i c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5);
	__m512i c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8);
	__m512i c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
	long i;

#define VNNI(c) ((c) = _mm512_dpbusd_epi32((c), a, b))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		OPAQUE(b);
		VNNI(c0), VNNI(c1), VNNI(c2), VNNI(c3), VNNI(c4), VNNI(c5);
		VNNI(c6), VNNI(c7), VNNI(c8), VNNI(c9), VNNI(c10), VNNI(c11);
	}
#undef VNNI
	c0 = _mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3));
	c4 = _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7));
	c8 = _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11));
	return (uint64_t)_mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c4), c8));
}

__attribute__((target("avx2"))) static uint64_t peak_avx2(long iters)
{
	__m256i a = _mm256_set1_epi16(3);
	__m256i c0 = _mm256_set1_epi32(0), c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2);
	__m256i c3 = _mm256_set1_epi32(3), c4 = _mm256_set1_epi32(4), c5 = _mm256_set1_epi32(5);
	__m256i c6 = _mm256_set1_epi32(6), c7 = _mm256_set1_epi32(7);
	long i;

	/* Each chain feeds its products back in: no two madds are the same. */
#define MADD(c) ((c) = _mm256_madd_epi16((c), a))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		MADD(c0), MADD(c1), MADD(c2), MADD(c3), MADD(c4), MADD(c5), MADD(c6), MADD(c7);
	}
#undef MADD
	c0 = _mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3));
	c4 = _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7));
	return (uint64_t)_mm256_extract_epi32(_mm256_add_epi32(c0, c4), 0);
}

/* The cpu backend's scalar level has no SIMD kernels: SSE2, which every x86-64 CPU has. */
static uint64_t peak_sse2(long iters)
{
	__m128i a = _mm_set1_epi16(3);
	__m128i c0 = _mm_set1_epi32(0), c1 = _mm_set1_epi32(1), c2 = _mm_set1_epi32(2);
	__m128i c3 = _mm_set1_epi32(3), c4 = _mm_set1_epi32(4), c5 = _mm_set1_epi32(5);
	__m128i c6 = _mm_set1_epi32(6), c7 = _mm_set1_epi32(7);
	long i;

#define MADD(c) ((c) = _mm_madd_epi16((c), a))
	for (i = 0; i < iters; i++) {
		OPAQUE(a);
		MADD(c0), MADD(c1), MADD(c2), MADD(c3), MADD(c4), MADD(c5), MADD(c6), MADD(c7);
	}
#undef MADD
	c0 = _mm_add_epi32(_mm_add_epi32(c0, c1), _mm_add_epi32(c2, c3));
	c4 = _mm_add_epi32(_mm_add_epi32(c4, c5), _mm_add_epi32(c6, c7));
	return (uint64_t)_mm_cvtsi128_si32(_mm_add_epi32(c0, c4));
}

void *bench_read_all(void *arg)
{
	return __builtin_cpu_supports("avx2") ? read_all_avx2(arg) : read_all_sse2(arg);
}

const struct bench_peak *bench_peak_for(const char *backend)
{
	/* VNNI: 12 x 64 MACs per iteration; AVX2 madd: 8 x 16 MACs; SSE2: 8 x 8. */
	static const struct bench_peak vnni = { "avx512", "AVX-512 VNNI", 12 * 64, peak_vnni };
	static const struct bench_peak avx2 = { "avx2", "AVX2", 8 * 16, peak_avx2 };
	static const struct bench_peak sse2 = { "scalar", "SSE2", 8 * 8, peak_sse2 };

	/* AVX-VNNI's MATMUL kernels are AVX2's. */
	if (strstr(backend, "matmul avx512 "))
		return &vnni;
	if (strstr(backend, "matmul avx2 ") || strstr(backend, "matmul avxvnni "))
		return &avx2;
	return &sse2;
}
