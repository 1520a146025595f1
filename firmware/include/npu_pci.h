/* SPDX-License-Identifier: MIT */
/*
 * The PCI NPU's window (docs/hw.md §3.7): what npu.ko's PCI backend and the
 * device behind it (tools/npu-devd, the host daemon QEMU's ivshmem-doorbell
 * device connects to) share. The window is the device's BAR 2, plain
 * memory: no access has a side effect. Each field has one writer, the
 * driver or the device, and a write that asks for work is followed by a
 * doorbell (a write of the ivshmem Doorbell register, BAR 0 + 12, with the
 * device's peer id and a vector). The device answers with MSI-X vectors.
 * Every field is a little-endian u32; a 64-bit address is a _LO/_HI pair.
 */
#ifndef NPU_PCI_H
#define NPU_PCI_H

#define NPU_PCI_VENDOR		0x1af4	/* ivshmem */
#define NPU_PCI_DEVICE		0x1110
#define NPU_PCI_WINDOW_SIZE	0x10000	/* BAR 2: 64 KiB */

#define NPU_PCI_MAGIC		0x5055504eu	/* "NPUP" */
#define NPU_PCI_VERSION		1
#define NPU_PCI_MAX_CORES	8
#define NPU_PCI_RING_SIZE	16	/* entries per ring and per completion queue */
#define NPU_PCI_CTX_SLOTS	1024	/* MMU contexts */
/* Doorbell and MSI-X vectors: n for core n, NPU_PCI_VEC_CTRL for the mailbox. */
#define NPU_PCI_VEC_CTRL	8
#define NPU_PCI_VECTORS		9
/* The device bumps NPU_PCI_HEARTBEAT this often; the driver calls it lost when it stops. */
#define NPU_PCI_HEARTBEAT_MS	50

/* Global fields: written by the device unless marked (driver). */
#define NPU_PCI_ID		0x000	/* NPU_PCI_MAGIC once the device is up */
#define NPU_PCI_VER		0x004	/* NPU_PCI_VERSION */
#define NPU_PCI_CORE_COUNT	0x008
#define NPU_PCI_RING_ENTRIES	0x00c	/* NPU_PCI_RING_SIZE */
#define NPU_PCI_SCRATCH_SIZE	0x010
#define NPU_PCI_CTX_COUNT	0x014	/* NPU_PCI_CTX_SLOTS */
#define NPU_PCI_PEER		0x018	/* the device's ivshmem peer id */
#define NPU_PCI_HEARTBEAT	0x01c	/* +1 every NPU_PCI_HEARTBEAT_MS */
#define NPU_PCI_BOOTED		0x020	/* 1 from a BOOT to a SHUTDOWN (or the device's end) */
/* GiB of device addresses from NPU_VA_START the cores reach; the contexts get no more. */
#define NPU_PCI_VA_SIZE_GB	0x024

/*
 * The mailbox: the driver writes CMD and ARGn, then CMD_SEQ (+1), and rings
 * NPU_PCI_VEC_CTRL. The device carries the command out, writes ACK_STATUS
 * and ACK_VALUE, then ACK_SEQ = CMD_SEQ, and raises NPU_PCI_VEC_CTRL.
 */
#define NPU_PCI_CMD_SEQ		0x040	/* (driver) */
#define NPU_PCI_CMD		0x044	/* (driver) enum npu_pci_cmd */
#define NPU_PCI_CMD_ARG(i)	(0x048 + 4 * (i))	/* (driver) i < 4 */
#define NPU_PCI_ACK_SEQ		0x060
#define NPU_PCI_ACK_STATUS	0x064	/* enum npu_pci_ack */
#define NPU_PCI_ACK_VALUE	0x068

/*
 * enum npu_pci_cmd - what the mailbox asks.
 * @NPU_PCI_CMD_BOOT: ARG0/1 the bus address of the firmware image, ARG2 its
 *	size. The device copies and verifies the image, then starts every
 *	core on the rings and queues their blocks give (indices 0). ACK_VALUE:
 *	(abi_major << 16) | abi_minor of the image, the READY handshake.
 * @NPU_PCI_CMD_RESET: ARG0 a core. The core stops its stream at the
 *	firmware's next poll, bumps RESET_GEN and drops what its ring holds
 *	(RING_HEAD = RING_TAIL) and what it was running: no record for either.
 *	Records written before stay in the queue.
 * @NPU_PCI_CMD_LOCK: ARG0 a context slot: no core starts a job of it from
 *	the acknowledgment on (cores that reach one wait).
 * @NPU_PCI_CMD_UNLOCK: ARG0 a context slot: its jobs may run again.
 * @NPU_PCI_CMD_SHUTDOWN: every core stops; the device waits for a BOOT.
 * @NPU_PCI_CMD_MISBEHAVE: testing only: ARG0 an enum npu_pci_misbehave,
 *	ARG1 a core, ARG2 a count.
 * @NPU_PCI_CMD_NOP: nothing: the doorbell's round trip, for measurements.
 */
enum npu_pci_cmd {
	NPU_PCI_CMD_BOOT = 1,
	NPU_PCI_CMD_RESET = 2,
	NPU_PCI_CMD_LOCK = 3,
	NPU_PCI_CMD_UNLOCK = 4,
	NPU_PCI_CMD_SHUTDOWN = 5,
	NPU_PCI_CMD_MISBEHAVE = 6,
	NPU_PCI_CMD_NOP = 7,
};

enum npu_pci_ack {
	NPU_PCI_ACK_OK = 0,
	NPU_PCI_ACK_BAD_CMD = 1,	/* unknown command or argument */
	NPU_PCI_ACK_BAD_ADDR = 2,	/* an address outside the guest's memory */
	NPU_PCI_ACK_BAD_IMAGE = 3,	/* the firmware image failed verification */
	NPU_PCI_ACK_STATE = 4,		/* not now: not booted, or already */
};

/*
 * enum npu_pci_misbehave - a hostile device, for the driver's tests: what
 * the next completion(s) of core ARG1 do.
 */
enum npu_pci_misbehave {
	NPU_PCI_BAD_TAG = 1,	/* a record with a tag the driver never gave */
	NPU_PCI_BAD_GEN = 2,	/* a record of another reset generation */
	NPU_PCI_BAD_STATUS = 3,	/* a status no firmware reports */
	NPU_PCI_IRQ_STORM = 4,	/* ARG2 interrupts with nothing to deliver */
	NPU_PCI_BAD_TAIL = 5,	/* CQ_TAIL far past CQ_HEAD */
};

/* Core n's block at NPU_PCI_CORE(n); fields relative to it. */
#define NPU_PCI_CORE(n)		(0x1000 + 0x100 * (n))
#define NPU_PCI_CORE_STATE	0x00	/* enum npu_pci_core_state */
#define NPU_PCI_CORE_RESET_GEN	0x04
#define NPU_PCI_RING_BASE_LO	0x10	/* (driver) before BOOT */
#define NPU_PCI_RING_BASE_HI	0x14	/* (driver) */
#define NPU_PCI_RING_TAIL	0x18	/* (driver) then the core's doorbell */
#define NPU_PCI_RING_HEAD	0x1c
#define NPU_PCI_CQ_BASE_LO	0x20	/* (driver) before BOOT */
#define NPU_PCI_CQ_BASE_HI	0x24	/* (driver) */
#define NPU_PCI_CQ_HEAD		0x28	/* (driver) */
#define NPU_PCI_CQ_TAIL		0x2c

enum npu_pci_core_state {
	NPU_PCI_CORE_OFF = 0,
	NPU_PCI_CORE_IDLE = 2,
	NPU_PCI_CORE_RUNNING = 3,
	NPU_PCI_CORE_HUNG = 4,
};

/*
 * Context slot s at NPU_PCI_CTX(s). To change a slot's table the driver
 * sends LOCK, waits for ACTIVE to read 0 (no job of the slot started after
 * the LOCK's acknowledgment, and those before have ended), changes the
 * table and sends UNLOCK.
 */
#define NPU_PCI_CTX(s)		(0x4000 + 16 * (s))
#define NPU_PCI_CTX_TABLE_LO	0x0	/* (driver) the root table's bus address */
#define NPU_PCI_CTX_TABLE_HI	0x4	/* (driver) */
#define NPU_PCI_CTX_VALID	0x8	/* (driver) 1: jobs of the slot may run */
#define NPU_PCI_CTX_ACTIVE	0xc	/* cores running a job of the slot */

/*
 * Ring entry (32 bytes, in guest memory at RING_BASE): TAG u64,
 * STREAM_ADDR u64, STREAM_SIZE u32, CTX u32 (a slot), INJECT u32 (enum
 * npu_pci_inject: the fault injection this job meets), reserved u32.
 * Completion record (32 bytes, at CQ_BASE): TAG u64, STATUS u32,
 * OP_INDEX u32, FAULT_ADDR u64, RESET_GEN u32, BUSY_US u32 (the core's
 * time on the stream in microseconds, for the driver's accounting).
 */
#define NPU_PCI_ENTRY_SIZE	32
enum npu_pci_inject {
	NPU_PCI_INJECT_NONE = 0,
	NPU_PCI_INJECT_HANG = 1,
	NPU_PCI_INJECT_FAIL = 2,
	NPU_PCI_INJECT_FAULT = 3,
};

/*
 * The device MMU's table: four levels of 512 little-endian u64 entries,
 * one 4 KiB page each, indexed by device address bits [47:39], [38:30],
 * [29:21] and [20:12]. An entry: bit 0 VALID, bit 1 WRITE (last level),
 * bits [51:12] the bus address of the next level's page, or of the page
 * mapped.
 */
#define NPU_PCI_PTE_VALID	0x1ull
#define NPU_PCI_PTE_WRITE	0x2ull
#define NPU_PCI_PTE_ADDR	0x000ffffffffff000ull
#define NPU_PCI_PT_LEVELS	4

#endif
