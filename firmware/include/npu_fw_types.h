/* SPDX-License-Identifier: MIT */
/*
 * Fixed-width types for the freestanding firmware build. They match the
 * kernel's asm-generic/int-ll64.h definitions so that the same sources
 * compile unchanged into npu.ko.
 */
#ifndef NPU_FW_TYPES_H
#define NPU_FW_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;

#endif
