/* SPDX-License-Identifier: MIT */
/*
 * <linux/types.h> of the freestanding firmware build, found first through
 * -Ifirmware/include: the uapi headers name only these fixed-width types.
 * They match the kernel's asm-generic/int-ll64.h, whose own header npu.ko
 * and userspace get instead, so the same sources build in all three.
 */
#ifndef NPU_FW_LINUX_TYPES_H
#define NPU_FW_LINUX_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;

#endif
