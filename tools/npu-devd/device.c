// SPDX-License-Identifier: MIT
/*
 * The device for one guest session: the window's fixed fields, the
 * heartbeat the driver watches, and the mailbox (boot, reset, context
 * locks, shutdown) served on the control doorbell. What the guest asks is
 * checked here; what cannot be done is answered with a status, never by
 * dying.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devd.h"

static uint32_t arg(struct devd *d, int i)
{
	return win_read(d, NPU_PCI_CMD_ARG(i));
}

static uint32_t cmd_boot(struct devd *d, uint32_t *value)
{
	uint64_t addr = (uint64_t)arg(d, 1) << 32 | arg(d, 0);
	uint32_t size = arg(d, 2);
	enum npu_fw_image_error err;
	unsigned int i;
	const void *src;
	void *image;

	if (d->booted)
		return NPU_PCI_ACK_STATE;
	/* QEMU has created the guest's RAM by the time its driver can ask. */
	if (!d->ram.base && guest_map(&d->ram, d->ram_path)) {
		devd_log(d, "cannot map the guest's RAM %s\n", d->ram_path);
		return NPU_PCI_ACK_BAD_ADDR;
	}
	/* Past the pc machine's low memory, guest addresses are not file offsets. */
	if (d->ram.size > DEVD_RAM_MAX) {
		devd_log(d, "guest RAM %s is %llu MiB: above 3.5 GiB, bus addresses are not offsets in it\n",
			 d->ram_path, (unsigned long long)(d->ram.size >> 20));
		guest_unmap(&d->ram);
		return NPU_PCI_ACK_BAD_ADDR;
	}
	if (!size || size > NPU_FW_MAX_IMAGE)
		return NPU_PCI_ACK_BAD_IMAGE;
	src = guest_ptr(&d->ram, addr, size);
	if (!src)
		return NPU_PCI_ACK_BAD_ADDR;
	/* Copied first: the guest may change its copy while it is checked. */
	image = malloc(size);
	if (!image)
		return NPU_PCI_ACK_STATE;
	memcpy(image, src, size);
	err = npu_fw_image_verify(image, size, &d->tables);
	if (err != NPU_FW_IMAGE_OK) {
		devd_log(d, "firmware rejected: %s\n", npu_fw_image_strerror(err));
		free(image);
		return NPU_PCI_ACK_BAD_IMAGE;
	}
	free(d->image);
	d->image = image;
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->n_cores; i++) {
		struct devd_core *c = &d->cores[i];
		uint32_t b = NPU_PCI_CORE(i);

		c->ring_base = (uint64_t)win_read(d, b + NPU_PCI_RING_BASE_HI) << 32 |
			       win_read(d, b + NPU_PCI_RING_BASE_LO);
		c->cq_base = (uint64_t)win_read(d, b + NPU_PCI_CQ_BASE_HI) << 32 |
			     win_read(d, b + NPU_PCI_CQ_BASE_LO);
		c->head = 0;
		c->cq_tail = 0;
		win_write(d, b + NPU_PCI_RING_HEAD, 0);
		win_write(d, b + NPU_PCI_CQ_TAIL, 0);
		win_write(d, b + NPU_PCI_CORE_STATE, NPU_PCI_CORE_IDLE);
	}
	memset(d->slot_locked, 0, sizeof(d->slot_locked));
	d->booted = 1;
	win_write(d, NPU_PCI_BOOTED, 1);
	pthread_mutex_unlock(&d->lock);
	*value = (uint32_t)d->tables.abi_major << 16 | d->tables.abi_minor;
	devd_log(d, "booted %u cores on firmware %s\n", d->n_cores, d->tables.build_id);
	return NPU_PCI_ACK_OK;
}

/* Stop every core's stream and forget the rings: the device waits for a BOOT. */
static void halt(struct devd *d)
{
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->n_cores; i++) {
		core_reset_locked(&d->cores[i]);
		win_write(d, NPU_PCI_CORE(i) + NPU_PCI_CORE_STATE, NPU_PCI_CORE_OFF);
	}
	d->booted = 0;
	win_write(d, NPU_PCI_BOOTED, 0);
	pthread_mutex_unlock(&d->lock);
}

static uint32_t cmd_misbehave(struct devd *d)
{
	uint32_t what = arg(d, 0), core = arg(d, 1), count = arg(d, 2);
	struct devd_core *c;

	if (core >= d->n_cores || !count || count > 1000000)
		return NPU_PCI_ACK_BAD_CMD;
	c = &d->cores[core];
	switch (what) {
	case NPU_PCI_BAD_TAG:
	case NPU_PCI_BAD_GEN:
	case NPU_PCI_BAD_STATUS:
		pthread_mutex_lock(&d->lock);
		c->misbehave = (int)what;
		c->misbehave_count = (int)count;
		pthread_mutex_unlock(&d->lock);
		return NPU_PCI_ACK_OK;
	case NPU_PCI_IRQ_STORM:
		while (count--)
			raise_irq(d, core);
		return NPU_PCI_ACK_OK;
	case NPU_PCI_BAD_TAIL:
		win_write(d, NPU_PCI_CORE(core) + NPU_PCI_CQ_TAIL,
			  win_read(d, NPU_PCI_CORE(core) + NPU_PCI_CQ_HEAD) + 1000);
		raise_irq(d, core);
		return NPU_PCI_ACK_OK;
	}
	return NPU_PCI_ACK_BAD_CMD;
}

static uint32_t run_cmd(struct devd *d, uint32_t cmd, uint32_t *value)
{
	uint32_t a0 = arg(d, 0);

	*value = 0;
	if (cmd == NPU_PCI_CMD_BOOT)
		return cmd_boot(d, value);
	if (cmd == NPU_PCI_CMD_NOP)
		return NPU_PCI_ACK_OK;
	if (cmd == NPU_PCI_CMD_SHUTDOWN) {
		halt(d);
		return NPU_PCI_ACK_OK;
	}
	if (!d->booted)
		return NPU_PCI_ACK_STATE;
	switch (cmd) {
	case NPU_PCI_CMD_RESET:
		if (a0 >= d->n_cores)
			return NPU_PCI_ACK_BAD_CMD;
		pthread_mutex_lock(&d->lock);
		core_reset_locked(&d->cores[a0]);
		*value = d->cores[a0].reset_gen;
		pthread_mutex_unlock(&d->lock);
		return NPU_PCI_ACK_OK;
	case NPU_PCI_CMD_LOCK:
	case NPU_PCI_CMD_UNLOCK:
		if (a0 >= NPU_PCI_CTX_SLOTS)
			return NPU_PCI_ACK_BAD_CMD;
		pthread_mutex_lock(&d->lock);
		d->slot_locked[a0] = cmd == NPU_PCI_CMD_LOCK;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return NPU_PCI_ACK_OK;
	case NPU_PCI_CMD_MISBEHAVE:
		return cmd_misbehave(d);
	}
	return NPU_PCI_ACK_BAD_CMD;
}

/*
 * The mailbox and the heartbeat run ahead of the cores where the host
 * allows (root): a reset is answered, and the device seen alive, while
 * the cores and QEMU keep every CPU busy. Refused, they run as the rest.
 */
static void run_ahead(void)
{
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10) && errno != EACCES &&
	    errno != EPERM)
		perror("npu-devd: setpriority");
}

/* The mailbox: one command per new CMD_SEQ, answered in order. */
static void *ctrl_thread(void *arg)
{
	struct devd *d = arg;
	struct pollfd pfd[2] = {
		{ .fd = d->doorbell[NPU_PCI_VEC_CTRL], .events = POLLIN },
		{ .fd = d->stop_fd, .events = POLLIN },
	};
	uint32_t done = win_read(d, NPU_PCI_ACK_SEQ);

	run_ahead();
	for (;;) {
		uint32_t seq, status, value;
		uint64_t n;

		while (poll(pfd, 2, -1) < 0)
			;
		if (pfd[1].revents)
			return NULL;
		if (read(pfd[0].fd, &n, sizeof(n)) < 0)
			continue;
		seq = win_read(d, NPU_PCI_CMD_SEQ);
		if (seq == done)
			continue;
		status = run_cmd(d, win_read(d, NPU_PCI_CMD), &value);
		win_write(d, NPU_PCI_ACK_STATUS, status);
		win_write(d, NPU_PCI_ACK_VALUE, value);
		/* Last, and a release store: the answer is whole when the driver sees it. */
		win_write(d, NPU_PCI_ACK_SEQ, seq);
		done = seq;
		raise_irq(d, NPU_PCI_VEC_CTRL);
	}
}

/* The driver's sign of life from the device: a counter that keeps moving. */
static void *beat_thread(void *arg)
{
	struct devd *d = arg;
	struct pollfd pfd = { .fd = d->stop_fd, .events = POLLIN };

	run_ahead();
	while (poll(&pfd, 1, NPU_PCI_HEARTBEAT_MS) <= 0)
		win_write(d, NPU_PCI_HEARTBEAT, win_read(d, NPU_PCI_HEARTBEAT) + 1);
	return NULL;
}

int device_start(struct devd *d)
{
	unsigned int i;

	d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->stop_fd < 0)
		return -ENOMEM;
	/* A new device: nothing of the previous one's window remains. */
	memset(d->win, 0, NPU_PCI_WINDOW_SIZE);
	memset(d->slot_locked, 0, sizeof(d->slot_locked));
	memset(d->slot_active, 0, sizeof(d->slot_active));
	d->booted = 0;
	d->stopping = 0;
	win_write(d, NPU_PCI_VER, NPU_PCI_VERSION);
	win_write(d, NPU_PCI_CORE_COUNT, d->n_cores);
	win_write(d, NPU_PCI_RING_ENTRIES, NPU_PCI_RING_SIZE);
	win_write(d, NPU_PCI_SCRATCH_SIZE, NPU_FW_SCRATCH_SIZE);
	win_write(d, NPU_PCI_CTX_COUNT, NPU_PCI_CTX_SLOTS);
	win_write(d, NPU_PCI_VA_SIZE_GB, (uint32_t)(d->va_size >> 30));
	win_write(d, NPU_PCI_PEER, DEVD_PEER);
	for (i = 0; i < d->n_cores; i++) {
		struct devd_core *c = &d->cores[i];

		c->d = d;
		c->index = i;
		c->scratch = aligned_alloc(64, NPU_FW_SCRATCH_SIZE);
		c->kernels = npu_kernels_create(d->isa);
		if (!c->scratch || !c->kernels || shadow_init(&c->sh, d->va_size, d->map_budget))
			goto err;
		c->slot = ~0u;
		c->abort = 0;
		c->busy = 0;
		c->reset_gen = 0;
		c->misbehave_count = 0;
		if (pthread_create(&c->thread, NULL, core_thread, c))
			goto err;
		c->started = 1;
	}
	/* Doorbells rung while no device ran are stale. */
	for (i = 0; i < NPU_PCI_VECTORS; i++) {
		uint64_t n;

		if (read(d->doorbell[i], &n, sizeof(n)) < 0 && errno != EAGAIN)
			devd_log(d, "doorbell %u: %s\n", i, strerror(errno));
	}
	if (pthread_create(&d->ctrl_thread, NULL, ctrl_thread, d))
		goto err;
	d->ctrl_up = 1;
	if (pthread_create(&d->beat_thread, NULL, beat_thread, d))
		goto err;
	d->beat_up = 1;
	/* Last: a driver that finds the magic finds a working device. */
	win_write(d, NPU_PCI_ID, NPU_PCI_MAGIC);
	return 0;

err:
	device_stop(d);
	return -ENOMEM;
}

/* The guest is gone (or this process stops): every thread ends, memory goes. */
void device_stop(struct devd *d)
{
	uint64_t one = 1, n;
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	for (i = 0; i < d->n_cores; i++)
		__atomic_store_n(&d->cores[i].abort, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->stop_fd >= 0 && write(d->stop_fd, &one, sizeof(one)) < 0)
		devd_log(d, "cannot stop the device's threads\n");
	for (i = 0; i < d->n_cores; i++) {
		struct devd_core *c = &d->cores[i];

		if (c->started)
			pthread_join(c->thread, NULL);
		c->started = 0;
		if (c->kernels)
			npu_kernels_destroy(c->kernels);
		c->kernels = NULL;
		free(c->scratch);
		c->scratch = NULL;
		free(c->part_acc);
		c->part_acc = NULL;
		c->part_acc_len = 0;
		shadow_free(&c->sh);
	}
	if (d->ctrl_up)
		pthread_join(d->ctrl_thread, NULL);
	if (d->beat_up)
		pthread_join(d->beat_thread, NULL);
	d->ctrl_up = 0;
	d->beat_up = 0;
	if (d->stop_fd >= 0 && read(d->stop_fd, &n, sizeof(n)) < 0)
		devd_log(d, "stop event not cleared\n");
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	d->stop_fd = -1;
	win_write(d, NPU_PCI_ID, 0);
	d->booted = 0;
	guest_unmap(&d->ram);
}
