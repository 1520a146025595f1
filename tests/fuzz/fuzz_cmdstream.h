/* SPDX-License-Identifier: MIT */
/*
 * The input format of fuzz_cmdstream, shared with seedgen.
 *
 * An input is a 4-byte prefix, then the command stream:
 *	[0] flags (FUZZ_F_*)
 *	[1] bits 0-4: op_count - 1 when FUZZ_F_PATCH; bits 5-7: the
 *	    should_stop() call that cancels the stream when FUZZ_F_CANCEL
 *	[2] [3] scratch selector (LE): scratch_size = 8 * (1 + sel) when
 *	    FUZZ_F_SMALL_SCRATCH, else NPU_FW_SCRATCH_SIZE
 *	[4...] the stream: header + ops. With FUZZ_F_PATCH the header's magic,
 *	    version_major, op_size and op_count are rewritten, a nonzero
 *	    profile_addr is folded into buffer C (or just past it), the
 *	    stream is cut or zero-padded to header + op_count * op_size, and
 *	    the input bytes past it become the initial contents of buffer A.
 *
 * The device address space: the stream at FUZZ_STREAM_ADDR (read-only
 * unless FUZZ_F_RW_STREAM), and three read-write data buffers of
 * FUZZ_BUF_SIZE bytes; B and C are adjacent, so a range that crosses from
 * one into the other must fault.
 */
#ifndef NPU_FUZZ_CMDSTREAM_H
#define NPU_FUZZ_CMDSTREAM_H

#define FUZZ_PREFIX 4

#define FUZZ_F_PATCH		0x01	/* fix up the stream header */
#define FUZZ_F_RW_STREAM	0x02	/* ops may write over the stream */
#define FUZZ_F_SMALL_SCRATCH	0x04	/* scratch of 8..512 KiB, exactly sized */
#define FUZZ_F_CANCEL		0x08	/* should_stop() fires at some call */
#define FUZZ_F_PATTERN		0x10	/* B and C start with a fixed pattern */
#define FUZZ_F_EXTRA_SHIFT	5	/* PATCH: op_size = 256 + 8 * (flags >> 5);
					 * raw: bit 5 passes a stream_size 256 bytes
					 * past the mapping */

#define FUZZ_STREAM_ADDR	0x100000000ull
#define FUZZ_A_ADDR		0x200000000ull
#define FUZZ_B_ADDR		0x300000000ull
#define FUZZ_C_ADDR		0x300010000ull
#define FUZZ_BUF_SIZE		0x10000ull

#define FUZZ_MAX_PATCH_OPS	32

#endif
