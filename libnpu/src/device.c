// SPDX-License-Identifier: MIT
/* Devices: backend selection, open, close, query. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "../../firmware/include/npu_fw.h"

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

/* npu_open_reason(): per thread, as npu_open() is called from any thread. */
static __thread char open_reason[192];
static int reason_printed;

void npu_open_why(npu_device *dev, const char *fmt, ...)
{
	va_list ap;

	if (dev->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(dev->why, sizeof(dev->why), fmt, ap);
	va_end(ap);
}

const char *npu_open_reason(void)
{
	return open_reason;
}

/* On failure, the backend's reason becomes the thread's (the first one stays). */
static int open_backend(const struct npu_backend_ops *ops, int node, npu_device **out)
{
	npu_device *dev = calloc(1, sizeof(*dev));
	int err;

	if (!dev)
		return NPU_E_NOMEM;
	dev->ops = ops;
	dev->node = node;
	err = serial_get(&dev->serial);
	if (err) {
		free(dev);
		return err;
	}
	pthread_mutex_init(&dev->lock, NULL);
	err = ops->open(dev);
	if (err) {
		if (!open_reason[0])
			snprintf(open_reason, sizeof(open_reason), "%s", dev->why);
		pthread_mutex_destroy(&dev->lock);
		serial_put(dev->serial);
		free(dev);
		return err;
	}
	*out = dev;
	return NPU_OK;
}

/*
 * "auto": the first backend that opens. A hardware device that is there
 * but unusable (no permission, no firmware) is a fallback the user would
 * not guess: npu_open_reason() says why, and NPU_DEBUG prints it once.
 */
static int open_auto(npu_device **dev)
{
	size_t i;
	int err = NPU_E_NODEV;

	for (i = 0; i < N_BACKENDS; i++) {
		err = open_backend(backends[i], -1, dev);
		if (!err)
			break;
	}
	if (err || !open_reason[0])
		return err;
	snprintf(open_reason + strlen(open_reason), sizeof(open_reason) - strlen(open_reason),
		 "; using the %s backend", backends[i]->name);
	if (getenv("NPU_DEBUG") && !__atomic_exchange_n(&reason_printed, 1, __ATOMIC_RELAXED))
		fprintf(stderr, "npu: %s\n", open_reason);
	return NPU_OK;
}

/* A backend's name, or "accelN" (node N of the accel backend); NULL if neither. */
static const struct npu_backend_ops *backend_named(const char *name, int *node)
{
	const char *d = name + strlen("accel");
	size_t i;
	char *end;
	unsigned long n;

	*node = -1;
	for (i = 0; i < N_BACKENDS; i++)
		if (!strcmp(name, backends[i]->name))
			return backends[i];
	if (strncmp(name, "accel", strlen("accel")) || *d < '0' || *d > '9' ||
	    (d[0] == '0' && d[1]))
		return NULL;
	n = strtoul(d, &end, 10);
	if (*end || n >= NPU_ACCEL_MINORS)
		return NULL;
	*node = (int)n;
	return &npu_backend_accel;
}

/* @s for a message: other than printable ASCII as \xNN, cut after 32 bytes. */
static const char *printable(const char *s, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; s[i] && i < 32 && o + 5 < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	snprintf(out + o, len - o, "%s", s[i] ? "..." : "");
	return out;
}

int npu_open(const char *backend, npu_device **dev)
{
	const char *env = getenv("NPU_DEVICE");
	const struct npu_backend_ops *ops;
	int node;

	open_reason[0] = '\0';
	if (!dev)
		return NPU_E_INVAL;
	*dev = NULL;
	/* The environment chooses only what the caller left to the library. */
	if ((!backend || !strcmp(backend, "auto")) && env && *env)
		backend = env;
	if (!backend || !strcmp(backend, "auto"))
		return open_auto(dev);
	ops = backend_named(backend, &node);
	if (!ops) {
		char name[4 * 32 + 4];

		snprintf(open_reason, sizeof(open_reason),
			 "no backend \"%s\" (auto, accel, accelN, usb or cpu)",
			 printable(backend, name, sizeof(name)));
		return NPU_E_NODEV;
	}
	return open_backend(ops, node, dev);
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

int npu_attention_rows(npu_device *dev, uint32_t n_heads, uint32_t q_cols, uint32_t kv_cols,
		       uint64_t *rows)
{
	uint64_t fixed, per_row;
	struct npu_info info;
	int err;

	if (!rows || !n_heads)
		return NPU_E_INVAL;
	err = npu_query(dev, &info);
	if (err)
		return err;
	/* The firmware's own formula: a fixed part, then the same bytes per row. */
	fixed = npu_fw_attention_scratch(q_cols, kv_cols, n_heads, 0);
	per_row = npu_fw_attention_scratch(q_cols, kv_cols, n_heads, 1) - fixed;
	*rows = info.scratch_size < fixed ? 0 : (info.scratch_size - fixed) / per_row;
	return NPU_OK;
}
