/* SPDX-License-Identifier: MIT */
/* npu-usb-gadget: the USB NPU's device side. */
#ifndef NPU_USB_GADGET_H
#define NPU_USB_GADGET_H

#include <pthread.h>
#include <stdint.h>

struct gadget {
	const char *name;	/* configfs gadget and FunctionFS instance */
	const char *udc;	/* UDC to bind, or NULL for the first one */
	const char *ffs_dir;	/* where FunctionFS is mounted */
	int configfs;		/* we built the configfs gadget: tear it down */
	int ep0, ep_out, ep_in;
	uint64_t mem_limit;
	int verbose;

	/* The link as ep0's events tell it, for the serving loop. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int enabled;		/* host configured us: endpoints usable */
	unsigned int sessions;	/* bumped at every disable: the host's state is gone */
	int stop;
};

/* serve.c: answer frames on the endpoints until g->stop. */
int gadget_serve(struct gadget *g);

#endif
