/* SPDX-License-Identifier: MIT */
/*
 * The NPU device model's figures (docs/hw.md), one copy for every
 * implementation of it: npu.ko (the PCI NPU), the software core (swcore/:
 * libnpu's cpu backend and the USB NPU's device side) and libnpu's usb
 * backend, which keeps the USB device's results on the host.
 */
#ifndef NPU_DEVICE_H
#define NPU_DEVICE_H

/* A context's device addresses: none near 0, where a stray integer points. */
#define NPU_VA_START		0x100000000ull
#define NPU_VA_SIZE		0x10000000000ull	/* 1 TiB */
/* Unmapped bytes after every buffer: a job that runs off its end faults. */
#define NPU_VA_GUARD		4096ull

/* Results of a context's last jobs kept for waiters; also its most jobs in flight. */
#define NPU_JOB_RECORDS		1024

/* Submit priorities: 0 (low) to NPU_PRIORITIES - 1 (high). */
#define NPU_PRIORITIES		3

#endif
