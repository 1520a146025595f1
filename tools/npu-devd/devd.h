/* SPDX-License-Identifier: MIT */
/*
 * npu-devd: the PCI NPU's device, as a host process. QEMU's
 * ivshmem-doorbell device is its PCI face; this process is the ivshmem
 * server QEMU connects to (server.c), owns the window (BAR 2) and the
 * mailbox behind it (device.c), runs one thread per core on the firmware
 * with the software core's kernels (core.c), and reaches the guest's
 * memory through a mapping of its RAM file, every address checked and
 * walked through the context's page table (guest.c).
 */
#ifndef NPU_DEVD_H
#define NPU_DEVD_H

#include <pthread.h>
#include <stdint.h>

#include "../../swcore/kernels/kernels.h"
#include "../../firmware/include/npu_fw.h"
#include "../../firmware/include/npu_pci.h"

/* Guest RAM beyond the pc machine's low memory is not one range of offsets. */
#define DEVD_RAM_MAX	0xe0000000ull

/* The device's own ivshmem peer id; QEMU is given another. */
#define DEVD_PEER	0
#define DEVD_GUEST_PEER	1

/* Multiply-adds between a core's looks for a reset: a few ms at most. */
#define DEVD_SLICE_WORK	(1ull << 25)

/* The guest's RAM as this process maps it: guest physical address = offset. */
struct guest_mem {
	int fd;
	uint8_t *base;
	uint64_t size;
};

/*
 * A core's view of device memory: device addresses map onto a reserved
 * window of this process, page by page as the running context's table
 * says, each page checked against the table at every translation (so a
 * new context or a changed table needs no flush).
 */
struct shadow {
	uint64_t size;		/* bytes of device address space, from NPU_VA_START */
	uint8_t *window;	/* @size bytes, for [NPU_VA_START, NPU_VA_START + @size) */
	uint64_t *pages;	/* per page: the guest page the window maps there, + 1 */
	uint64_t maps;		/* mmap calls into the window since it was last emptied */
	uint64_t budget;	/* how many before a job starts on an emptied window */
	int map_failed;		/* an mmap into the window failed (the job faulted) */
};

struct devd;

struct devd_core {
	struct devd *d;
	unsigned int index;
	pthread_t thread;
	int started;
	/* Under devd.lock: */
	uint32_t head, cq_tail, reset_gen;
	int busy;
	int abort;		/* read by the firmware's polls without the lock */
	uint64_t ring_base, cq_base;
	/* The core's own: */
	void *scratch;
	struct npu_kernels *kernels;
	const struct npu_fw_hooks *kernel_hooks;	/* theirs, NULL at scalar */
	struct npu_fw_hooks hooks;			/* the same, long calls sliced */
	__s64 *part_acc;	/* a sliced ATTENTION's later sums */
	uint64_t part_acc_len;
	struct shadow sh;
	uint32_t slot;		/* the context the running job translates in */
	int misbehave, misbehave_count;
};

struct devd {
	unsigned int n_cores;
	const char *ram_path;
	enum npu_isa isa;
	uint64_t map_budget;		/* each core's share of vm.max_map_count */
	uint64_t va_size;		/* device address space, bytes from NPU_VA_START */
	uint64_t slice_work;		/* multiply-adds between a core's looks for a reset */
	uint64_t poll_ns;		/* how long an idle core watches its ring before sleeping */

	int win_fd;
	uint8_t *win;			/* the window, NPU_PCI_WINDOW_SIZE */
	int doorbell[NPU_PCI_VECTORS];	/* QEMU writes them (the guest's doorbells) */
	int irq[NPU_PCI_VECTORS];	/* we write them: MSI-X vectors in the guest */
	int stop_fd;			/* an eventfd: threads stop */

	struct guest_mem ram;
	void *image;
	struct npu_fw_tables tables;

	pthread_mutex_t lock;		/* cores' state, booted, slots */
	pthread_cond_t cond;		/* any of them changed */
	int booted;
	int stopping;
	uint8_t slot_locked[NPU_PCI_CTX_SLOTS];
	uint16_t slot_active[NPU_PCI_CTX_SLOTS];
	struct devd_core cores[NPU_PCI_MAX_CORES];
	pthread_t ctrl_thread, beat_thread;
	int ctrl_up, beat_up;
};

/* The window's fields (npu_pci.h), each a little-endian u32. */
uint32_t win_read(struct devd *d, uint32_t off);
void win_write(struct devd *d, uint32_t off, uint32_t v);
void raise_irq(struct devd *d, unsigned int vector);
void devd_log(struct devd *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* device.c: a guest session, from QEMU's connection to its end. */
int device_start(struct devd *d);
void device_stop(struct devd *d);

/* core.c */
void *core_thread(void *arg);
/* Drop the ring and the running stream (RESET); caller holds d->lock. */
void core_reset_locked(struct devd_core *c);

/* guest.c */
int guest_map(struct guest_mem *g, const char *path);
void guest_unmap(struct guest_mem *g);
/* [gpa, gpa + len) in this process, or NULL when outside the guest's RAM. */
void *guest_ptr(struct guest_mem *g, uint64_t gpa, uint64_t len);
/*
 * A window over @size bytes of device addresses; @budget: its share of the
 * process's memory maps (vm.max_map_count).
 */
int shadow_init(struct shadow *sh, uint64_t size, uint64_t budget);
void shadow_free(struct shadow *sh);
/*
 * Between jobs: empty the window when it has used its budget of memory
 * maps (each run of guest pages is one; the kernel's count per process is
 * bounded), so that the next job's pages fit.
 */
void shadow_trim(struct shadow *sh);
/*
 * The MMU: a host pointer to [addr, addr + len) in the context whose root
 * table is at @root, or NULL with *@fault_addr the first address not
 * mapped (writable when @write).
 */
void *shadow_translate(struct shadow *sh, struct guest_mem *g, uint64_t root, uint64_t addr,
		       uint64_t len, int write, uint64_t *fault_addr);

#endif
