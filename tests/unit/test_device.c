// SPDX-License-Identifier: MIT
/*
 * Opening devices: backend names and "accelN", NPU_DEVICE only where the
 * caller leaves the choice open, why "auto" fell back (npu_open_reason),
 * the cpu backend's NPU_CPU_ISA levels; and what a device reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

static void open_and_query(void **state)
{
	const char *const *b = npu_backends();
	/* This test sets NPU_DEVICE itself; the suite's choice is restored. */
	struct t_env env = t_env_set("NPU_DEVICE", NULL);
	struct npu_info info;
	npu_device *dev;

	(void)state;
	/* Hardware first (auto prefers it), the cpu backend last. */
	assert_string_equal(b[0], "accel");
	assert_string_equal(b[1], "usb");
	assert_string_equal(b[2], "cpu");
	assert_null(b[3]);
	assert_int_equal(npu_open(NULL, NULL), NPU_E_INVAL);
	assert_int_equal(npu_open("no-such-backend", &dev), NPU_E_NODEV);
	assert_null(dev);
	assert_int_equal(npu_open("cpu", &dev), NPU_OK);
	assert_int_equal(npu_query(dev, NULL), NPU_E_INVAL);
	assert_int_equal(npu_query(NULL, &info), NPU_E_INVAL);
	assert_int_equal(npu_query(dev, &info), NPU_OK);
	assert_string_equal(info.backend, "cpu");
	assert_int_equal(info.abi_major, DRM_NPU_ABI_MAJOR);
	assert_int_equal(info.fw_abi_major, DRM_NPU_ABI_MAJOR);
	assert_int_equal(info.op_mask, (1ull << DRM_NPU_OP_COUNT) - 1);
	assert_int_equal(info.n_priorities, 3);
	assert_true(strlen(info.fw_build_id) > 0);
	assert_int_equal(npu_close(dev), NPU_OK);
	assert_int_equal(npu_close(NULL), NPU_E_INVAL);

	/* NPU_DEVICE chooses only for a caller that leaves the choice open. */
	setenv("NPU_DEVICE", "no-such-backend", 1);
	assert_int_equal(npu_open("cpu", &dev), NPU_OK);
	assert_int_equal(npu_query(dev, &info), NPU_OK);
	assert_string_equal(info.backend, "cpu");
	assert_string_equal(npu_open_reason(), "");
	assert_int_equal(npu_close(dev), NPU_OK);
	assert_int_equal(npu_open(NULL, &dev), NPU_E_NODEV);
	assert_int_equal(npu_open("auto", &dev), NPU_E_NODEV);
	assert_string_equal(npu_open_reason(),
			    "no backend \"no-such-backend\" (auto, accel, accelN, usb or cpu)");
	/* A name from the environment or a user, escaped and cut in the reason. */
	assert_int_equal(npu_open("x\n\033[31m\"", &dev), NPU_E_NODEV);
	assert_string_equal(npu_open_reason(),
			    "no backend \"x\\x0a\\x1b[31m\\x22\" (auto, accel, accelN, usb or cpu)");
	assert_int_equal(npu_open("accelaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &dev), NPU_E_NODEV);
	assert_non_null(strstr(npu_open_reason(), "aaaaaaaaaaaaaaaaaaaaaaaaaaa...\""));
	setenv("NPU_DEVICE", "cpu", 1);
	assert_int_equal(npu_open("no-such-backend", &dev), NPU_E_NODEV);
	assert_int_equal(npu_open(NULL, &dev), NPU_OK);
	assert_int_equal(npu_query(dev, &info), NPU_OK);
	assert_string_equal(info.backend, "cpu");
	assert_int_equal(npu_close(dev), NPU_OK);
	t_env_restore(&env);
}

/* Whether @path could be opened as it would be by the accel backend. */
static int openable(const char *path)
{
	return access(path, R_OK | W_OK) == 0;
}

/*
 * "accelN" opens /dev/accel/accelN, and a node that cannot be used says
 * why (npu_open_reason) where the status alone would not: the host has no
 * accel nodes, so there the missing node's path stands for the rest; the
 * guest opens its second NPU by name.
 */
static void accel_names(void **state)
{
	static const char *const not_names[] = {
		"accel01", "accel256", "accel-1", "accel+1", "accel1x", "accel 1", "accelx", "acce",
	};
	struct t_env env = t_env_set("NPU_DEVICE", NULL);
	struct npu_info info;
	npu_device *dev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(not_names) / sizeof(not_names[0]); i++) {
		assert_int_equal(npu_open(not_names[i], &dev), NPU_E_NODEV);
		assert_true(!strncmp(npu_open_reason(), "no backend \"", 12));
	}
	assert_int_equal(access("/dev/accel/accel255", F_OK), -1);
	assert_int_equal(npu_open("accel255", &dev), NPU_E_NODEV);
	assert_string_equal(npu_open_reason(), "/dev/accel/accel255: No such file or directory");
	if (access("/dev/accel/accel1", F_OK)) {
		assert_int_equal(npu_open("accel1", &dev), NPU_E_NODEV);
		assert_string_equal(npu_open_reason(),
				    "/dev/accel/accel1: No such file or directory");
	} else if (openable("/dev/accel/accel1")) {
		assert_int_equal(npu_open("accel1", &dev), NPU_OK);
		assert_int_equal(npu_query(dev, &info), NPU_OK);
		assert_string_equal(info.backend, "accel");
		assert_true(!strncmp(info.name, "/dev/accel/accel1 ", 18));
		assert_string_equal(npu_open_reason(), "");
		assert_int_equal(npu_close(dev), NPU_OK);
	}
	t_env_restore(&env);
}

/*
 * "auto" with an npu node it may not open falls back, and says why. Only
 * where there is such a node and root can give up the right to open it
 * (the guest: devtmpfs makes accel nodes 0600): in a child, as nobody.
 */
static void auto_fallback_reason(void **state)
{
	struct t_env env = t_env_set("NPU_DEVICE", NULL);
	npu_device *dev;
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(npu_open("auto", &dev), NPU_OK);
	/* Nothing to say, or the fallback of a node this process cannot use. */
	assert_true(!npu_open_reason()[0] || strstr(npu_open_reason(), "; using the "));
	assert_int_equal(npu_close(dev), NPU_OK);
	t_env_restore(&env);
	if (geteuid() != 0 || access("/dev/accel/accel0", F_OK))
		return;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct npu_info info;
		char want[128];

		unsetenv("NPU_DEVICE");
		if (setgid(65534) || setuid(65534) || openable("/dev/accel/accel0"))
			_exit(3);
		if (npu_open("auto", &dev) || npu_query(dev, &info))
			_exit(1);
		/* The usb backend's node is likely closed to nobody too: cpu, or usb. */
		snprintf(want, sizeof(want), "%s; using the %s backend",
			 "/dev/accel/accel0: Permission denied", info.backend);
		st = strcmp(npu_open_reason(), want) ? 2 : 0;
		if (st)
			fprintf(stderr, "reason \"%s\", want \"%s\"\n", npu_open_reason(), want);
		npu_close(dev);
		_exit(st);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	/* 3: this node is open to everyone; nothing to fall back from. */
	if (WEXITSTATUS(st) != 3)
		assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * $NPU_CPU_ISA: a level names the cpu backend's (capped at this CPU's),
 * empty is unset, and a name it does not know is refused, never guessed.
 */
static void cpu_isa_names(void **state)
{
	static const char *const refused[] = { "avx-512", "AVX2", "avx512-vnni", "sse2" };
	/* t_open_at() opens what NPU_DEVICE names (accel, usb in the guest). */
	struct t_env device = t_env_set("NPU_DEVICE", NULL), isa_env;
	npu_device *dev;
	unsigned int i;
	enum npu_isa isa;

	(void)state;
	for (isa = NPU_ISA_SCALAR; isa < NPU_ISA_COUNT; isa++)
		npu_close(t_open_at("cpu", npu_isa_name(isa)));
	npu_close(t_open_at("cpu", ""));
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		isa_env = t_env_set("NPU_CPU_ISA", refused[i]);
		dev = NULL;
		assert_int_equal(npu_open("cpu", &dev), NPU_E_INVAL);
		assert_null(dev);
		t_env_restore(&isa_env);
	}
	t_env_restore(&device);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_and_query),
		cmocka_unit_test(accel_names),
		cmocka_unit_test(auto_fallback_reason),
		cmocka_unit_test(cpu_isa_names),
	};

	return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
