// SPDX-License-Identifier: MIT
/*
 * The protocol server: frames from the bulk OUT endpoint, replies on bulk
 * IN, each request carried out on a software NPU core (swcore/:
 * the firmware's command processor over this gadget's own memory).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gadget.h"
#include "../../swcore/swcore.h"
#include "../../firmware/include/npu_usb_proto.h"

#define CHUNK (64u * 1024)	/* bytes per endpoint read or write */
#define PACKET 512u		/* a high-speed bulk packet: one header read */

struct buffer {
	uint64_t addr, size;
};

struct server {
	struct gadget *g;
	struct npu_swcore *core;
	unsigned int session;
	struct buffer *bufs;	/* live allocations, for FREE and the limit */
	size_t n_bufs, cap_bufs;
	uint64_t mem_used;
	uint8_t *in, *out;	/* payloads: NPU_USB_MAX_PAYLOAD each */
	unsigned long frames, rejected;
};

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = write(fd, b, len < CHUNK ? len : CHUNK);

		/* EINTR too: the only signal is npu-usb-gadget's stop. */
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int reply(struct server *s, const struct npu_usb_hdr *req, int32_t status,
		 const void *payload, uint32_t len)
{
	struct npu_usb_hdr h = {
		.magic = NPU_USB_REPLY_MAGIC,
		.version = NPU_USB_VERSION,
		.cmd = req ? req->cmd : 0,
		.tag = req ? req->tag : 0,
		.status = status,
		.len = len,
	};
	int err = write_all(s->g->ep_in, &h, sizeof(h));

	if (!err && len)
		err = write_all(s->g->ep_in, payload, len);
	return err;
}

/* A request refused: the status, and the cause as the reply's payload. */
static int refuse(struct server *s, const struct npu_usb_hdr *req, int32_t status,
		  const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	s->rejected++;
	if (s->g->verbose)
		fprintf(stderr, "npu-usb-gadget: refused: %s\n", msg);
	return reply(s, req, status, msg, (uint32_t)n);
}

/*
 * Drop the session and start a new one. With @cancel (RESET, or the host
 * gone) the running job stops at the firmware's next poll and the queue ends unrun:
 * nobody is left to want the results.
 */
static int new_core(struct server *s, int cancel)
{
	if (s->core)
		npu_swcore_destroy(s->core, cancel);
	s->core = NULL;
	s->n_bufs = 0;
	s->mem_used = 0;
	return npu_swcore_create(1, NULL, NULL, &s->core);
}

static int do_caps(struct server *s, const struct npu_usb_hdr *h)
{
	struct npu_usb_caps caps;
	struct npu_info info;

	memset(&info, 0, sizeof(info));
	npu_swcore_query(s->core, &info);
	memset(&caps, 0, sizeof(caps));
	caps.abi_major = (uint16_t)info.abi_major;
	caps.abi_minor = (uint16_t)info.abi_minor;
	caps.fw_abi_major = (uint16_t)info.fw_abi_major;
	caps.fw_abi_minor = (uint16_t)info.fw_abi_minor;
	caps.op_mask = info.op_mask;
	caps.n_priorities = info.n_priorities;
	caps.va_size = info.va_size;
	caps.scratch_size = info.scratch_size;
	caps.mem_limit = s->g->mem_limit;
	caps.max_payload = NPU_USB_MAX_PAYLOAD;
	caps.max_writes = NPU_USB_MAX_WRITES;
	memcpy(caps.name, info.name, sizeof(caps.name) - 1);
	memcpy(caps.fw_build_id, info.fw_build_id, sizeof(caps.fw_build_id) - 1);
	return reply(s, h, 0, &caps, sizeof(caps));
}

static int do_alloc(struct server *s, const struct npu_usb_hdr *h, uint64_t size)
{
	uint64_t span = (size + NPU_USB_PAGE - 1) & ~(uint64_t)(NPU_USB_PAGE - 1);
	uint64_t addr;
	void *host;
	int err;

	if (size == 0 || size > s->g->mem_limit || span > s->g->mem_limit - s->mem_used)
		return refuse(s, h, size ? NPU_E_NOSPC : NPU_E_INVAL,
			      "ALLOC of %llu bytes: %llu of %llu in use", (unsigned long long)size,
			      (unsigned long long)s->mem_used,
			      (unsigned long long)s->g->mem_limit);
	if (s->n_bufs == s->cap_bufs) {
		size_t cap = s->cap_bufs ? s->cap_bufs * 2 : 64;
		struct buffer *n = realloc(s->bufs, cap * sizeof(*n));

		if (!n)
			return refuse(s, h, NPU_E_NOMEM, "ALLOC: out of gadget memory");
		s->bufs = n;
		s->cap_bufs = cap;
	}
	err = npu_swcore_alloc(s->core, size, &addr, &host);
	if (err)
		return refuse(s, h, err, "ALLOC of %llu bytes failed", (unsigned long long)size);
	s->bufs[s->n_bufs].addr = addr;
	s->bufs[s->n_bufs].size = span;
	s->n_bufs++;
	s->mem_used += span;
	return reply(s, h, 0, &addr, sizeof(addr));
}

static int do_free(struct server *s, const struct npu_usb_hdr *h, uint64_t addr)
{
	size_t i;

	for (i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].addr == addr)
			break;
	if (i == s->n_bufs)
		return refuse(s, h, NPU_E_HANDLE, "FREE: no buffer starts at 0x%llx",
			      (unsigned long long)addr);
	/*
	 * The link does not wait for a running job that may still read it (the
	 * host's timeouts are for the link): its memory goes when the job ends.
	 */
	npu_swcore_free_async(s->core, addr);
	s->mem_used -= s->bufs[i].size;
	s->bufs[i] = s->bufs[--s->n_bufs];
	return reply(s, h, 0, NULL, 0);
}

static int do_wait(struct server *s, const struct npu_usb_hdr *h, const struct npu_usb_wait *w)
{
	struct npu_usb_done *d = (struct npu_usb_done *)s->out;
	struct npu_job_result res;
	uint32_t ms = w->timeout_ms < NPU_USB_MAX_WAIT_MS ? w->timeout_ms : NPU_USB_MAX_WAIT_MS;
	uint32_t n = 0;
	int err;

	_Static_assert(sizeof(struct npu_usb_range) == sizeof(struct npu_swcore_range),
		       "one range layout on both sides");
	if (w->reserved)
		return refuse(s, h, NPU_E_INVAL, "WAIT: reserved field is %u", w->reserved);
	err = npu_swcore_wait(s->core, w->seq, (int64_t)ms * 1000000, &res,
			      (struct npu_swcore_range *)(d + 1), NPU_USB_MAX_WRITES, &n);
	if (err == NPU_E_TIMEOUT)
		return reply(s, h, err, NULL, 0);
	if (err)
		return refuse(s, h, err, "WAIT: no job %llu", (unsigned long long)w->seq);
	memset(d, 0, sizeof(*d));
	d->status = res.status;
	d->op_index = res.op_index;
	d->fault_addr = res.fault_addr;
	d->n_writes = n;
	return reply(s, h, 0, d, (uint32_t)(sizeof(*d) + n * sizeof(struct npu_usb_range)));
}

/* Payload sizes each request must have: exact, or at least (WRITE); -1: no such command. */
static int payload_ok(const struct npu_usb_hdr *h)
{
	switch (h->cmd) {
	case NPU_USB_RESET:
	case NPU_USB_CAPS:
		return h->len == 0;
	case NPU_USB_ALLOC:
	case NPU_USB_FREE:
		return h->len == 8;
	case NPU_USB_WRITE:
		return h->len > 8;
	case NPU_USB_READ:
		return h->len == 16;
	case NPU_USB_SUBMIT:
		return h->len == sizeof(struct npu_usb_submit);
	case NPU_USB_WAIT:
		return h->len == sizeof(struct npu_usb_wait);
	}
	return -1;
}

static int dispatch(struct server *s, const struct npu_usb_hdr *h)
{
	uint64_t a, b;
	void *p;
	int err;

	memcpy(&a, s->in, 8);
	switch (h->cmd) {
	case NPU_USB_RESET:
		err = new_core(s, 1);
		return err ? refuse(s, h, err, "RESET: the core did not restart") :
			     reply(s, h, 0, NULL, 0);
	case NPU_USB_CAPS:
		return do_caps(s, h);
	case NPU_USB_ALLOC:
		return do_alloc(s, h, a);
	case NPU_USB_FREE:
		return do_free(s, h, a);
	case NPU_USB_WRITE:
		p = npu_swcore_host(s->core, a, h->len - 8);
		if (!p)
			return refuse(s, h, NPU_E_RANGE, "WRITE of %u bytes at 0x%llx: not in one buffer",
				      h->len - 8, (unsigned long long)a);
		memcpy(p, s->in + 8, h->len - 8);
		return reply(s, h, 0, NULL, 0);
	case NPU_USB_READ:
		memcpy(&b, s->in + 8, 8);
		if (b == 0 || b > NPU_USB_MAX_PAYLOAD)
			return refuse(s, h, NPU_E_INVAL, "READ of %llu bytes: 1..%u per frame",
				      (unsigned long long)b, NPU_USB_MAX_PAYLOAD);
		p = npu_swcore_host(s->core, a, b);
		if (!p)
			return refuse(s, h, NPU_E_RANGE, "READ of %llu bytes at 0x%llx: not in one buffer",
				      (unsigned long long)b, (unsigned long long)a);
		return reply(s, h, 0, p, (uint32_t)b);
	case NPU_USB_SUBMIT: {
		struct npu_usb_submit sub;
		uint64_t seq;

		memcpy(&sub, s->in, sizeof(sub));
		if (sub.prio > NPU_PRIO_HIGH)
			return refuse(s, h, NPU_E_INVAL, "SUBMIT: priority %u", sub.prio);
		err = npu_swcore_submit(s->core, sub.addr, sub.size, (int)sub.prio, 0, &seq);
		return err ? refuse(s, h, err, "SUBMIT: queue full") :
			     reply(s, h, 0, &seq, sizeof(seq));
	}
	default: {	/* NPU_USB_WAIT: payload_ok() admitted no other command */
		struct npu_usb_wait w;

		memcpy(&w, s->in, sizeof(w));
		return do_wait(s, h, &w);
	}
	}
}

/* Read exactly @len payload bytes; a short transfer ends it early. */
static ssize_t read_payload(int fd, uint8_t *p, uint32_t len)
{
	uint32_t got = 0;

	while (got < len) {
		uint32_t want = len - got < CHUNK ? len - got : CHUNK;
		ssize_t n = read(fd, p + got, want);

		if (n < 0)
			return -errno;
		got += (uint32_t)n;
		if ((uint32_t)n < want)
			break;
	}
	return got;
}

/* One request and its reply. < 0: the link failed (errno). */
static int serve_frame(struct server *s)
{
	uint8_t pkt[PACKET];
	struct npu_usb_hdr h;
	ssize_t n;

	n = read(s->g->ep_out, pkt, sizeof(pkt));
	if (n < 0)
		return -errno;
	s->frames++;
	if (n != sizeof(h))
		return refuse(s, NULL, NPU_E_INVAL, "header transfer of %zd bytes, not %zu", n,
			      sizeof(h));
	memcpy(&h, pkt, sizeof(h));
	if (h.magic != NPU_USB_REQ_MAGIC)
		return refuse(s, NULL, NPU_E_INVAL, "bad magic 0x%08x", h.magic);
	if (h.version != NPU_USB_VERSION)
		return refuse(s, &h, NPU_E_INVAL, "protocol version %u, not %u", h.version,
			      NPU_USB_VERSION);
	if (h.status || h.reserved)
		return refuse(s, &h, NPU_E_INVAL, "status/reserved fields not zero");
	if (h.len > NPU_USB_MAX_PAYLOAD + 8)
		return refuse(s, &h, NPU_E_INVAL, "payload of %u bytes: at most %u", h.len,
			      NPU_USB_MAX_PAYLOAD + 8);
	if (h.len) {
		n = read_payload(s->g->ep_out, s->in, h.len);
		if (n < 0)
			return (int)n;
		if ((uint32_t)n != h.len)
			return refuse(s, &h, NPU_E_INVAL, "payload of %zd bytes, header says %u", n,
				      h.len);
	}
	if (payload_ok(&h) < 0)
		return refuse(s, &h, NPU_E_INVAL, "unknown command %u", h.cmd);
	if (!payload_ok(&h))
		return refuse(s, &h, NPU_E_INVAL, "command %u with a %u-byte payload", h.cmd, h.len);
	return dispatch(s, &h);
}

int gadget_serve(struct gadget *g)
{
	struct server s = { .g = g };
	int err;

	s.in = malloc(NPU_USB_MAX_PAYLOAD + 8);
	s.out = malloc(NPU_USB_MAX_PAYLOAD);
	err = s.in && s.out ? new_core(&s, 0) : NPU_E_NOMEM;
	if (err) {
		fprintf(stderr, "npu-usb-gadget: the NPU core did not start: %s\n",
			npu_strerror(err));
		free(s.in);
		free(s.out);
		return 1;
	}
	for (;;) {
		unsigned int session;

		pthread_mutex_lock(&g->lock);
		while (!g->enabled && !g->stop)
			pthread_cond_wait(&g->cond, &g->lock);
		session = g->sessions;
		pthread_mutex_unlock(&g->lock);
		if (g->stop)
			break;
		/* The host went away since the last frame: its buffers and jobs go. */
		if (session != s.session) {
			if (g->verbose)
				fprintf(stderr, "npu-usb-gadget: host reconnected: new session\n");
			err = new_core(&s, 1);
			if (err)
				break;
			s.session = session;
		}
		err = serve_frame(&s);
		if (err < 0) {
			if (g->verbose)
				fprintf(stderr, "npu-usb-gadget: link: %s\n", strerror(-err));
			/* Not yet seen as disabled by ep0: do not spin. */
			usleep(10000);
		}
	}
	fprintf(stderr, "npu-usb-gadget: served %lu frames, refused %lu\n", s.frames, s.rejected);
	if (s.core)
		npu_swcore_destroy(s.core, 1);
	free(s.bufs);
	free(s.in);
	free(s.out);
	return 0;
}
