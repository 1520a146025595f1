// SPDX-License-Identifier: MIT
/* Devices: backend selection, open, close, query. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Hardware backends first: "auto" takes the first that opens. */
static const struct npu_backend_ops *const backends[] = {
	&npu_backend_accel,
	&npu_backend_usb,
	&npu_backend_cpu,
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

static const char *const backend_names[N_BACKENDS + 1] = { "accel", "usb", "cpu", NULL };

const char *const *npu_backends(void)
{
	return backend_names;
}

int64_t npu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Serials of the open devices. A serial is taken in turn, skipping those in
 * use: a handle or fence of one open device never names another, and a
 * closed device's serial comes back only after 2^20 - 1 other opens.
 */
static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t serial_used[(1u << NPU_SERIAL_BITS) / 64];
static uint32_t serial_next = 1;

static int serial_get(uint32_t *serial)
{
	const uint32_t mask = (1u << NPU_SERIAL_BITS) - 1;
	uint32_t i, s;
	int err = NPU_E_NOSPC;

	pthread_mutex_lock(&serial_lock);
	for (i = 0; i < mask; i++) {
		s = serial_next;
		serial_next = serial_next == mask ? 1 : serial_next + 1;
		if (!(serial_used[s / 64] & (1ull << s % 64))) {
			serial_used[s / 64] |= 1ull << s % 64;
			*serial = s;
			err = NPU_OK;
			break;
		}
	}
	pthread_mutex_unlock(&serial_lock);
	return err;
}

static void serial_put(uint32_t s)
{
	pthread_mutex_lock(&serial_lock);
	serial_used[s / 64] &= ~(1ull << s % 64);
	pthread_mutex_unlock(&serial_lock);
}

static int open_backend(const struct npu_backend_ops *ops, npu_device **out)
{
	npu_device *dev = calloc(1, sizeof(*dev));
	int err;

	if (!dev)
		return NPU_E_NOMEM;
	dev->ops = ops;
	err = serial_get(&dev->serial);
	if (err) {
		free(dev);
		return err;
	}
	pthread_mutex_init(&dev->lock, NULL);
	err = ops->open(dev);
	if (err) {
		pthread_mutex_destroy(&dev->lock);
		serial_put(dev->serial);
		free(dev);
		return err;
	}
	*out = dev;
	return NPU_OK;
}

int npu_open(const char *backend, npu_device **dev)
{
	const char *env = getenv("NPU_DEVICE");
	size_t i;
	int err = NPU_E_NODEV;

	if (!dev)
		return NPU_E_INVAL;
	*dev = NULL;
	if (env && *env)
		backend = env;
	if (!backend || !strcmp(backend, "auto")) {
		for (i = 0; i < N_BACKENDS; i++) {
			err = open_backend(backends[i], dev);
			if (!err)
				return NPU_OK;
		}
		return err;
	}
	for (i = 0; i < N_BACKENDS; i++)
		if (!strcmp(backend, backends[i]->name))
			return open_backend(backends[i], dev);
	return NPU_E_NODEV;
}

int npu_close(npu_device *dev)
{
	if (!dev)
		return NPU_E_INVAL;
	/* The backend runs its queued jobs, then releases every buffer. */
	dev->ops->close(dev);
	free(dev->bos);
	pthread_mutex_destroy(&dev->lock);
	serial_put(dev->serial);
	free(dev->priv);
	free(dev);
	return NPU_OK;
}

int npu_query(npu_device *dev, struct npu_info *info)
{
	if (!dev || !info)
		return NPU_E_INVAL;
	memset(info, 0, sizeof(*info));
	strncpy(info->backend, dev->ops->name, sizeof(info->backend) - 1);
	dev->ops->query(dev, info);
	return NPU_OK;
}
