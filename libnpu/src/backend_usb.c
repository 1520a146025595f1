// SPDX-License-Identifier: MIT
/*
 * The usb backend: an NPU on the other end of a USB link (libusb), spoken
 * to in the frames of docs/usb-protocol.md. Every buffer has a host mirror
 * that npu_bo_map() returns; the two are kept in step at job boundaries,
 * so code written for the accel backend's shared memory runs unchanged:
 *
 *  - before a submit, every mirror page that differs from what the device
 *    holds (a 64-bit hash per 4 KiB page says so) is written to the device;
 *  - when a job is seen done, the ranges its ops mapped for writing (the
 *    device reports them) are read back into the mirrors.
 *
 * When a submit has pages to write in a buffer that existed when a job
 * still running was submitted, it first waits for the running jobs: the
 * page written could undo that job's work. New buffers need no wait.
 */
#include <libusb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "../../firmware/include/npu_device.h"
#include "../../firmware/include/npu_usb_proto.h"

#define PAGE NPU_USB_PAGE
#define RING NPU_JOB_RECORDS	/* job results kept on the host, as on the device */
#define LINK_TIMEOUT_MS 5000u	/* one transfer, plus 1 ms per KiB it carries */

struct usb_bo {
	uint64_t *hash;		/* per page: the device's bytes as last synced */
	uint64_t pages;
	uint64_t born;		/* submits before the buffer was allocated */
};

struct pending {
	uint64_t seq;
	uint64_t idx;		/* submits before this one */
	npu_bo owned;		/* npu_submit's stream copy, freed once done */
};

struct result {
	uint64_t seq;
	struct npu_job_result res;
};

struct usb {
	libusb_context *ctx;
	libusb_device_handle *h;
	int iface;
	unsigned char ep_out, ep_in;
	struct npu_usb_caps caps;
	uint64_t zero_hash;

	/* One frame exchange at a time; taken after dev->lock, never before. */
	pthread_mutex_t link;
	uint32_t tag;
	int lost;		/* NPU_E_GONE or NPU_E_IO: the link is out of step */
	uint8_t *tx;		/* a request's payload */

	/* Jobs: under dev->lock. */
	struct pending *pend;
	uint32_t n_pend, cap_pend;
	uint64_t submits;
	uint64_t last_seq;
	struct result done[RING];
	uint8_t *pages;		/* read-back staging, NPU_USB_MAX_PAYLOAD */
};

static uint64_t page_hash(const uint8_t *p)
{
	uint64_t h = 0x243f6a8885a308d3ull, w;
	unsigned int i;

	for (i = 0; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ (w * 0x9e3779b97f4a7c15ull));
		h = (h << 31 | h >> 33) * 0xbf58476d1ce4e5b9ull;
	}
	return h ^ h >> 29;
}

/*
 * A failed transfer: the device left (NPU_E_GONE) or the link broke
 * (NPU_E_IO). An unplug often fails the transfer in flight with a plain
 * I/O error before the hub reports the disconnect, so ask the device
 * itself for up to two seconds.
 */
static int link_error(struct usb *u, int e)
{
	int i, cfg;

	for (i = 0; i < 40 && e != LIBUSB_ERROR_NO_DEVICE; i++) {
		e = libusb_get_configuration(u->h, &cfg);
		if (e != LIBUSB_ERROR_NO_DEVICE) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	return e == LIBUSB_ERROR_NO_DEVICE ? NPU_E_GONE : NPU_E_IO;
}

static int bulk(struct usb *u, unsigned char ep, void *p, uint32_t len, unsigned int extra_ms,
		int *got)
{
	int n = 0, e;

	e = libusb_bulk_transfer(u->h, ep, p, (int)len, &n,
				 LINK_TIMEOUT_MS + extra_ms + len / 1024);
	if (got)
		*got = n;
	if (e)
		return link_error(u, e);
	return (uint32_t)n == len || got ? NPU_OK : NPU_E_IO;
}

/*
 * One request (u->tx holds its @len payload bytes) and its reply, whose
 * payload goes to @reply (at most @max bytes; its size to *rlen). Caller
 * holds u->link. Returns the reply's status; a broken link is permanent.
 */
static int exchange(struct usb *u, uint16_t cmd, uint32_t len, void *reply, uint32_t max,
		    uint32_t *rlen, unsigned int extra_ms)
{
	struct npu_usb_hdr h = {
		.magic = NPU_USB_REQ_MAGIC,
		.version = NPU_USB_VERSION,
		.cmd = cmd,
		.tag = ++u->tag,
		.len = len,
	};
	struct npu_usb_hdr r;
	int err, got;

	if (u->lost)
		return u->lost;
	err = bulk(u, u->ep_out, &h, sizeof(h), 0, NULL);
	if (!err && len)
		err = bulk(u, u->ep_out, u->tx, len, 0, NULL);
	if (!err)
		err = bulk(u, u->ep_in, &r, sizeof(r), extra_ms, &got);
	if (!err && (got != (int)sizeof(r) || r.magic != NPU_USB_REPLY_MAGIC ||
		     r.version != NPU_USB_VERSION || r.cmd != cmd || r.tag != h.tag))
		err = NPU_E_IO;
	/* A refusal's payload is its cause, for a person: not returned. */
	if (!err && r.len && (r.status || r.len > max))
		err = r.len > NPU_USB_MAX_PAYLOAD ? NPU_E_IO : bulk(u, u->ep_in, u->tx, r.len, 0, &got);
	else if (!err && r.len)
		err = bulk(u, u->ep_in, reply, r.len, 0, &got);
	if (!err && r.len && got != (int)r.len)
		err = NPU_E_IO;
	if (err) {
		u->lost = err;
		return err;
	}
	if (!r.status && r.len > max)
		return NPU_E_IO;
	if (rlen)
		*rlen = r.len;
	return r.status;
}

static int call(struct usb *u, uint16_t cmd, const void *req, uint32_t len, void *reply,
		uint32_t max, uint32_t *rlen)
{
	int err;

	pthread_mutex_lock(&u->link);
	if (len)
		memcpy(u->tx, req, len);
	err = exchange(u, cmd, len, reply, max, rlen, 0);
	pthread_mutex_unlock(&u->link);
	return err;
}

/* Bytes between the host and the device, a frame at a time. */
static int transfer(struct usb *u, int to_device, uint64_t addr, uint8_t *p, uint64_t len)
{
	int err = NPU_OK;

	while (len && !err) {
		uint32_t n = len < NPU_USB_MAX_PAYLOAD ? (uint32_t)len : NPU_USB_MAX_PAYLOAD;
		uint32_t got = 0;

		pthread_mutex_lock(&u->link);
		memcpy(u->tx, &addr, 8);
		if (to_device) {
			memcpy(u->tx + 8, p, n);
			err = exchange(u, NPU_USB_WRITE, n + 8, NULL, 0, NULL, 0);
		} else {
			uint64_t want = n;

			memcpy(u->tx + 8, &want, 8);
			err = exchange(u, NPU_USB_READ, 16, p, n, &got, 0);
			if (!err && got != n)
				err = NPU_E_IO;
		}
		pthread_mutex_unlock(&u->link);
		addr += n;
		p += n;
		len -= n;
	}
	return err;
}

/* Caller holds dev->lock. Write the buffer's changed pages to the device. */
static int push(struct usb *u, struct bo_slot *s)
{
	struct usb_bo *b = s->priv;
	uint64_t i = 0;

	while (i < b->pages) {
		uint64_t j, h = page_hash((uint8_t *)s->host + i * PAGE);
		int err;

		if (h == b->hash[i]) {
			i++;
			continue;
		}
		b->hash[i] = h;
		for (j = i + 1; j < b->pages && (j - i) * PAGE < NPU_USB_MAX_PAYLOAD; j++) {
			h = page_hash((uint8_t *)s->host + j * PAGE);
			if (h == b->hash[j])
				break;
			b->hash[j] = h;
		}
		err = transfer(u, 1, s->dev_addr + i * PAGE, (uint8_t *)s->host + i * PAGE,
			       (j - i) * PAGE);
		if (err)
			return err;
		i = j;
	}
	return NPU_OK;
}

/*
 * Caller holds dev->lock. Does a touched buffer that a pending job may
 * write (it existed at that job's submit) differ from the device?
 */
static int changes_under_jobs(npu_device *dev)
{
	struct usb *u = dev->priv;
	uint64_t p, last = 0;
	uint32_t i;

	for (i = 0; i < u->n_pend; i++)
		if (u->pend[i].idx >= last)
			last = u->pend[i].idx;
	for (i = 0; i < dev->n_bos; i++) {
		struct bo_slot *s = &dev->bos[i];
		struct usb_bo *b = s->priv;

		if (!s->live || !s->touched || b->born > last)
			continue;
		for (p = 0; p < b->pages; p++)
			if (page_hash((uint8_t *)s->host + p * PAGE) != b->hash[p])
				return 1;
	}
	return 0;
}

/*
 * Caller holds dev->lock. Read range @w, written by the job submitted
 * after @idx others, back into whichever mirror holds it: whole pages from
 * the device, of which only the range's bytes are taken, so the host's own
 * unsynced writes in those pages survive. A buffer allocated after that
 * job is skipped: the job wrote a freed buffer whose addresses it reuses.
 */
static int pull(npu_device *dev, const struct npu_usb_range *w, uint64_t idx)
{
	struct usb *u = dev->priv;
	uint32_t i;

	for (i = 0; i < dev->n_bos; i++) {
		struct bo_slot *s = &dev->bos[i];
		struct usb_bo *b = s->priv;
		uint64_t span, lo, hi, p0, p1;
		int err;

		if (!s->live || b->born > idx)
			continue;
		span = b->pages * PAGE;
		if (w->addr >= s->dev_addr + span || w->addr + w->len <= s->dev_addr)
			continue;
		lo = (w->addr > s->dev_addr ? w->addr : s->dev_addr) - s->dev_addr;
		hi = (w->addr + w->len < s->dev_addr + span ? w->addr + w->len :
							       s->dev_addr + span) - s->dev_addr;
		for (p0 = lo / PAGE; p0 * PAGE < hi; p0 = p1) {
			uint64_t p, a, e;

			p1 = (hi + PAGE - 1) / PAGE;
			if ((p1 - p0) * PAGE > NPU_USB_MAX_PAYLOAD)
				p1 = p0 + NPU_USB_MAX_PAYLOAD / PAGE;
			err = transfer(u, 0, s->dev_addr + p0 * PAGE, u->pages, (p1 - p0) * PAGE);
			if (err)
				return err;
			for (p = p0; p < p1; p++) {
				a = p * PAGE > lo ? p * PAGE : lo;
				e = (p + 1) * PAGE < hi ? (p + 1) * PAGE : hi;
				memcpy((uint8_t *)s->host + a, u->pages + (a - p0 * PAGE), e - a);
				b->hash[p] = page_hash(u->pages + (p - p0) * PAGE);
			}
		}
	}
	return NPU_OK;
}

/* WAIT once; on NPU_OK, *d and @w (NPU_USB_MAX_WRITES) hold the result. */
static int wait_once(struct usb *u, uint64_t seq, uint32_t ms, struct npu_usb_done *d,
		     struct npu_usb_range *w)
{
	struct npu_usb_wait req = { .seq = seq, .timeout_ms = ms };
	uint32_t rlen = 0;
	int err;

	pthread_mutex_lock(&u->link);
	memcpy(u->tx, &req, sizeof(req));
	/* The reply lands in the staging area past the done record. */
	err = exchange(u, NPU_USB_WAIT, sizeof(req), u->tx + 64,
		       sizeof(*d) + NPU_USB_MAX_WRITES * sizeof(*w), &rlen, ms);
	if (!err) {
		memcpy(d, u->tx + 64, sizeof(*d));
		if (rlen != sizeof(*d) + d->n_writes * sizeof(*w) || d->n_writes > NPU_USB_MAX_WRITES)
			err = u->lost = NPU_E_IO;
		else
			memcpy(w, u->tx + 64 + sizeof(*d), d->n_writes * sizeof(*w));
	}
	pthread_mutex_unlock(&u->link);
	return err;
}

/*
 * Caller holds dev->lock. Job @seq is done with *d: read its writes back,
 * keep its result, and hand its stream copy to *owned for freeing.
 */
static int retire(npu_device *dev, uint64_t seq, const struct npu_usb_done *d,
		  const struct npu_usb_range *w, npu_bo *owned)
{
	struct usb *u = dev->priv;
	struct result *r = &u->done[seq % RING];
	uint64_t idx;
	uint32_t i;
	int err = NPU_OK;

	for (i = 0; i < u->n_pend && u->pend[i].seq != seq; i++)
		;
	if (i == u->n_pend)
		return NPU_OK;	/* another thread was first */
	*owned = u->pend[i].owned;
	idx = u->pend[i].idx;
	/* Kept in submission order: reap() polls the oldest first. */
	memmove(&u->pend[i], &u->pend[i + 1], (u->n_pend - i - 1) * sizeof(*u->pend));
	u->n_pend--;
	for (i = 0; i < d->n_writes && !err; i++)
		err = pull(dev, &w[i], idx);
	r->seq = seq;
	r->res.status = d->status;
	r->res.op_index = d->op_index;
	r->res.fault_addr = d->fault_addr;
	return err;
}

/*
 * Caller holds dev->lock. Retire the finished jobs, oldest first, up to
 * the first still running (one poll per call, not one per job in flight);
 * with @all, wait for every job. Stream copies to free go to @owned.
 */
static int reap(npu_device *dev, int all, npu_bo *owned, uint32_t *n_owned,
		struct npu_usb_range *w)
{
	struct usb *u = dev->priv;
	while (u->n_pend) {
		struct npu_usb_done d;
		uint64_t seq = u->pend[0].seq;
		npu_bo o = 0;
		int err = wait_once(u, seq, all ? NPU_USB_MAX_WAIT_MS : 0, &d, w);

		if (err == NPU_E_TIMEOUT) {
			if (!all)
				break;
			continue;
		}
		if (err)
			return err;
		err = retire(dev, seq, &d, w, &o);
		if (o)
			owned[(*n_owned)++] = o;
		if (err)
			return err;
	}
	return NPU_OK;
}

static void free_owned(npu_device *dev, const npu_bo *owned, uint32_t n)
{
	while (n--)
		npu_bo_free(dev, owned[n]);
}

/* The first NPU interface libusb finds that we can claim. */
static int find_npu(struct usb *u)
{
	libusb_device **list;
	ssize_t n, i;
	int err = NPU_E_NODEV;

	n = libusb_get_device_list(u->ctx, &list);
	for (i = 0; i < n && err; i++) {
		struct libusb_device_descriptor dd;
		struct libusb_config_descriptor *cfg;
		int k;

		if (libusb_get_device_descriptor(list[i], &dd) || dd.idVendor != NPU_USB_VID ||
		    dd.idProduct != NPU_USB_PID || libusb_get_active_config_descriptor(list[i], &cfg))
			continue;
		for (k = 0; k < cfg->bNumInterfaces && err; k++) {
			const struct libusb_interface_descriptor *id = cfg->interface[k].altsetting;
			int e;

			if (!cfg->interface[k].num_altsetting || id->bInterfaceClass != NPU_USB_CLASS ||
			    id->bInterfaceSubClass != NPU_USB_SUBCLASS ||
			    id->bInterfaceProtocol != NPU_USB_PROTOCOL || id->bNumEndpoints != 2)
				continue;
			u->ep_out = u->ep_in = 0;
			for (e = 0; e < 2; e++) {
				const struct libusb_endpoint_descriptor *ep = &id->endpoint[e];

				if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
					continue;
				if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN)
					u->ep_in = ep->bEndpointAddress;
				else
					u->ep_out = ep->bEndpointAddress;
			}
			if (!u->ep_in || !u->ep_out || libusb_open(list[i], &u->h))
				continue;
			u->iface = id->bInterfaceNumber;
			if (libusb_claim_interface(u->h, u->iface)) {
				/* Another process has it: a USB NPU serves one host session. */
				libusb_close(u->h);
				u->h = NULL;
				err = NPU_E_BUSY;
				continue;
			}
			err = NPU_OK;
		}
		libusb_free_config_descriptor(cfg);
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	return err;
}

static void usb_release(struct usb *u)
{
	if (u->h) {
		libusb_release_interface(u->h, u->iface);
		libusb_close(u->h);
	}
	if (u->ctx)
		libusb_exit(u->ctx);
	pthread_mutex_destroy(&u->link);
	free(u->pend);
	free(u->tx);
	free(u->pages);
}

static int usb_open(npu_device *dev)
{
	struct usb *u = calloc(1, sizeof(*u));
	uint8_t zero[PAGE] = { 0 };
	uint32_t got = 0;
	int err;

	if (!u)
		return NPU_E_NOMEM;
	pthread_mutex_init(&u->link, NULL);
	u->tx = malloc(NPU_USB_MAX_PAYLOAD + 64 + sizeof(struct npu_usb_done));
	u->pages = malloc(NPU_USB_MAX_PAYLOAD);
	err = u->tx && u->pages ? NPU_OK : NPU_E_NOMEM;
	if (!err && libusb_init(&u->ctx)) {
		u->ctx = NULL;
		err = NPU_E_NODEV;
	}
	if (!err)
		err = find_npu(u);
	/* A fresh session: whatever an earlier host left there goes. */
	if (!err)
		err = call(u, NPU_USB_RESET, NULL, 0, NULL, 0, NULL);
	if (!err)
		err = call(u, NPU_USB_CAPS, NULL, 0, &u->caps, sizeof(u->caps), &got);
	if (!err && (got != sizeof(u->caps) || u->caps.abi_major != DRM_NPU_ABI_MAJOR))
		err = NPU_E_UNSUPPORTED;
	if (err) {
		usb_release(u);
		free(u);
		return err;
	}
	u->zero_hash = page_hash(zero);
	dev->priv = u;
	return NPU_OK;
}

static void usb_close(npu_device *dev)
{
	struct usb *u = dev->priv;
	struct npu_usb_range *w = malloc(NPU_USB_MAX_WRITES * sizeof(*w));
	uint32_t i, n_owned = 0;

	/* Queued jobs finish, as on the other backends; then the session ends. */
	pthread_mutex_lock(&dev->lock);
	if (w) {
		npu_bo *owned = malloc(u->n_pend * sizeof(*owned) + 1);

		if (owned)
			reap(dev, 1, owned, &n_owned, w);
		free(owned);	/* the RESET below frees them on the device */
	}
	free(w);
	call(u, NPU_USB_RESET, NULL, 0, NULL, 0, NULL);
	for (i = 0; i < dev->n_bos; i++) {
		struct bo_slot *s = &dev->bos[i];

		if (s->live && s->priv) {
			free(((struct usb_bo *)s->priv)->hash);
			free(s->priv);
			free(s->host);
		}
	}
	pthread_mutex_unlock(&dev->lock);
	usb_release(u);
}

static void usb_query(npu_device *dev, struct npu_info *info)
{
	struct usb *u = dev->priv;
	const struct npu_usb_caps *c = &u->caps;

	memcpy(info->name, c->name, sizeof(c->name) - 1);
	info->abi_major = c->abi_major;
	info->abi_minor = c->abi_minor;
	info->fw_abi_major = c->fw_abi_major;
	info->fw_abi_minor = c->fw_abi_minor;
	memcpy(info->fw_build_id, c->fw_build_id,
	       sizeof(c->fw_build_id) < sizeof(info->fw_build_id) - 1 ?
	       sizeof(c->fw_build_id) : sizeof(info->fw_build_id) - 1);
	info->op_mask = c->op_mask;
	info->n_cores = 1;
	info->n_priorities = c->n_priorities;
	info->va_size = c->va_size;
	info->scratch_size = c->scratch_size;
}

/* Called with dev->lock held. */
static int usb_bo_alloc(npu_device *dev, struct bo_slot *s, uint64_t size)
{
	struct usb *u = dev->priv;
	struct usb_bo *b;
	uint64_t addr = 0, p;
	uint32_t got = 0;
	int err;

	/* Refused before a mirror of that size is even tried. */
	if (size > u->caps.mem_limit)
		return NPU_E_NOSPC;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NPU_E_NOMEM;
	b->pages = (size + PAGE - 1) / PAGE;
	b->hash = malloc(b->pages * sizeof(*b->hash));
	s->host = b->hash && size <= SIZE_MAX - PAGE ? calloc(b->pages, PAGE) : NULL;
	err = s->host ? call(u, NPU_USB_ALLOC, &size, 8, &addr, 8, &got) : NPU_E_NOMEM;
	if (!err && got != 8)
		err = NPU_E_IO;
	if (err) {
		free(s->host);
		s->host = NULL;
		free(b->hash);
		free(b);
		return err;
	}
	/* Both sides start zeroed. */
	for (p = 0; p < b->pages; p++)
		b->hash[p] = u->zero_hash;
	b->born = u->submits;
	s->dev_addr = addr;
	s->size = size;
	s->priv = b;
	s->touched = 0;
	return NPU_OK;
}

/* Called with dev->lock held. */
static void usb_bo_free(npu_device *dev, struct bo_slot *s)
{
	struct usb *u = dev->priv;
	struct usb_bo *b = s->priv;

	/* A link already lost frees nothing on the device: its session is over. */
	call(u, NPU_USB_FREE, &s->dev_addr, 8, NULL, 0, NULL);
	free(b->hash);
	free(b);
	free(s->host);
	s->priv = NULL;
	s->host = NULL;
}

static int usb_submit(npu_device *dev, const struct bo_slot *stream, uint64_t offset,
		      uint32_t size, int prio, npu_bo owned, uint64_t *seq)
{
	struct usb *u = dev->priv;
	struct npu_usb_submit req = {
		.addr = stream->dev_addr + offset, .size = size, .prio = (uint32_t)prio,
	};
	struct npu_usb_range *w = malloc(NPU_USB_MAX_WRITES * sizeof(*w));
	npu_bo *done_owned = NULL;
	uint32_t i, n_owned = 0, got = 0;
	int err;

	if (!w)
		return NPU_E_NOMEM;
	pthread_mutex_lock(&dev->lock);
	done_owned = malloc((u->n_pend + 1) * sizeof(*done_owned));
	err = done_owned ? NPU_OK : NPU_E_NOMEM;
	if (!err && u->n_pend == u->cap_pend) {
		uint32_t cap = u->cap_pend ? u->cap_pend * 2 : 16;
		struct pending *n = realloc(u->pend, cap * sizeof(*n));

		if (n) {
			u->pend = n;
			u->cap_pend = cap;
		} else {
			err = NPU_E_NOMEM;
		}
	}
	/* Finished jobs' writes first: the pages pushed below must include them. */
	if (!err)
		err = reap(dev, 0, done_owned, &n_owned, w);
	/* The device keeps 1024 results: the oldest job in flight must keep its own. */
	if (!err && u->n_pend && u->last_seq + 1 - u->pend[0].seq >= RING)
		err = NPU_E_NOSPC;
	if (!err && u->n_pend && changes_under_jobs(dev))
		err = reap(dev, 1, done_owned, &n_owned, w);
	for (i = 0; !err && i < dev->n_bos; i++) {
		struct bo_slot *s = &dev->bos[i];

		if (!s->live || !s->touched)
			continue;
		err = push(u, s);
		if (!s->map_count)
			s->touched = 0;
	}
	if (!err)
		err = call(u, NPU_USB_SUBMIT, &req, sizeof(req), seq, 8, &got);
	if (!err && got != 8)
		err = NPU_E_IO;
	if (!err) {
		u->last_seq = *seq;
		u->pend[u->n_pend].seq = *seq;
		u->pend[u->n_pend].idx = u->submits++;
		u->pend[u->n_pend].owned = owned;
		u->n_pend++;
	}
	pthread_mutex_unlock(&dev->lock);
	if (done_owned)
		free_owned(dev, done_owned, n_owned);
	free(done_owned);
	free(w);
	return err;
}

static int usb_wait(npu_device *dev, uint64_t seq, int64_t timeout_ns, struct npu_job_result *res)
{
	struct usb *u = dev->priv;
	int64_t deadline = timeout_ns > 0 ? npu_now_ns() + timeout_ns : 0;
	struct npu_usb_range *w = malloc(NPU_USB_MAX_WRITES * sizeof(*w));
	struct npu_usb_done d;
	npu_bo owned = 0;
	int err;

	if (!w)
		return NPU_E_NOMEM;
	if (seq == 0) {
		free(w);
		return NPU_E_INVAL;
	}
	for (;;) {
		int64_t left = timeout_ns < 0 ? NPU_USB_MAX_WAIT_MS * 1000000ll :
			       timeout_ns == 0 ? 0 : deadline - npu_now_ns();
		uint32_t ms;

		/* Already retired: its result is kept here, its writes are in the mirrors. */
		pthread_mutex_lock(&dev->lock);
		if (u->done[seq % RING].seq == seq) {
			*res = u->done[seq % RING].res;
			pthread_mutex_unlock(&dev->lock);
			free(w);
			return NPU_OK;
		}
		pthread_mutex_unlock(&dev->lock);
		if (left < 0)
			left = 0;
		ms = left > NPU_USB_MAX_WAIT_MS * 1000000ll ? NPU_USB_MAX_WAIT_MS :
							      (uint32_t)((left + 999999) / 1000000);
		err = wait_once(u, seq, ms, &d, w);
		if (err != NPU_E_TIMEOUT || left == 0)
			break;
	}
	if (!err) {
		npu_bo *more;
		uint32_t n_more = 0;

		pthread_mutex_lock(&dev->lock);
		err = retire(dev, seq, &d, w, &owned);
		if (!err) {
			res->status = d.status;
			res->op_index = d.op_index;
			res->fault_addr = d.fault_addr;
		}
		/* Jobs done before it are visible too, as on a device sharing memory. */
		more = malloc((u->n_pend + 1) * sizeof(*more));
		if (!err && more)
			err = reap(dev, 0, more, &n_more, w);
		pthread_mutex_unlock(&dev->lock);
		if (owned)
			npu_bo_free(dev, owned);
		if (more)
			free_owned(dev, more, n_more);
		free(more);
	}
	free(w);
	return err;
}

const struct npu_backend_ops npu_backend_usb = {
	.name = "usb",
	.open = usb_open,
	.close = usb_close,
	.query = usb_query,
	.bo_alloc = usb_bo_alloc,
	.bo_free = usb_bo_free,
	.submit = usb_submit,
	.wait = usb_wait,
};
