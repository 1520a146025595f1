/* SPDX-License-Identifier: MIT */
/*
 * What the test_kernels_* suites share: the kernels' and the firmware's
 * headers, and a thread pool to run the kernels through.
 */
#ifndef NPU_TEST_KERNELS_H
#define NPU_TEST_KERNELS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "../../swcore/kernels/kernels.h"
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

/*
 * A test run at each level that has a kernel of its own for it (@has
 * says which; NULL: every level), its state the level's npu_level.
 */
struct t_level_test {
	const char *name;
	CMUnitTestFunction f;
	int (*has)(const struct npu_level *l);
};

/* The level a test at levels runs at; skipped where this CPU lacks it. */
static inline const struct npu_level *t_level(void **state)
{
	const struct npu_level *l = *state;

	t_require_isa(l->isa);
	return l;
}

/*
 * Group @group: @plain, then each of @at_levels at each of this
 * architecture's levels above the scalar one that has its kernel, named
 * test_level ("attention_equals_reference_avx2", "_dotprod").
 */
static inline int t_run_at_levels(const char *group, const struct CMUnitTest *plain, size_t n_plain,
				  const struct t_level_test *at_levels, size_t n_levels)
{
	struct CMUnitTest *tests = calloc(n_plain + n_levels * NPU_ISA_COUNT, sizeof(*tests));
	size_t n = 0, i;
	enum npu_isa isa;
	int rc;

	assert_non_null(tests);
	for (i = 0; i < n_plain; i++)
		tests[n++] = plain[i];
	for (i = 0; i < n_levels; i++)
		for (isa = NPU_ISA_SCALAR + 1; isa < NPU_ISA_COUNT; isa++) {
			const struct npu_level *l = npu_level_of(isa);
			size_t len = strlen(at_levels[i].name) + strlen(npu_isa_name(isa)) + 2;
			char *name;

			if (!l || (at_levels[i].has && !at_levels[i].has(l)))
				continue;
			name = malloc(len);
			assert_non_null(name);
			snprintf(name, len, "%s_%s", at_levels[i].name, npu_isa_name(isa));
			tests[n++] = (struct CMUnitTest){ name, at_levels[i].f, NULL, NULL, (void *)l };
		}
	rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
	for (i = n_plain; i < n; i++)
		free((char *)tests[i].name);
	free(tests);
	return rc;
}

/* Whether @l has its own @hook, not the level below's. */
#define T_OWN(l, hook) \
	((l)->hook && ((l)->isa == NPU_ISA_SCALAR + 1 || !npu_level_of((l)->isa - 1) || \
		       npu_level_of((l)->isa - 1)->hook != (l)->hook))

#endif
