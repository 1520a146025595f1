// SPDX-License-Identifier: MIT
/*
 * The USB NPU from the host's side of dummy_hcd, with npu-usb-gadget
 * serving (NPU_GADGET_PID): malformed frames are refused with their cause
 * and the gadget keeps serving; the link's throughput and an op's round
 * trip are measured; unplugging the gadget during a job fails every waiter
 * with NPU_E_GONE, within bounded time. The unplug runs last.
 */
#include <libusb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/testlib.h"
#include "../../firmware/include/npu_usb_proto.h"

struct link {
	libusb_context *ctx;
	libusb_device_handle *h;
	unsigned char out, in;
	uint32_t tag;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void link_open(struct link *l)
{
	struct libusb_config_descriptor *cfg;
	const struct libusb_interface_descriptor *id;
	int i;

	memset(l, 0, sizeof(*l));
	assert_int_equal(libusb_init(&l->ctx), 0);
	l->h = libusb_open_device_with_vid_pid(l->ctx, NPU_USB_VID, NPU_USB_PID);
	assert_non_null(l->h);
	assert_int_equal(libusb_get_active_config_descriptor(libusb_get_device(l->h), &cfg), 0);
	id = cfg->interface[0].altsetting;
	assert_int_equal(id->bInterfaceClass, NPU_USB_CLASS);
	assert_int_equal(id->bInterfaceSubClass, NPU_USB_SUBCLASS);
	assert_int_equal(id->bInterfaceProtocol, NPU_USB_PROTOCOL);
	for (i = 0; i < id->bNumEndpoints; i++) {
		unsigned char a = id->endpoint[i].bEndpointAddress;

		if (a & LIBUSB_ENDPOINT_IN)
			l->in = a;
		else
			l->out = a;
	}
	libusb_free_config_descriptor(cfg);
	assert_int_equal(libusb_claim_interface(l->h, 0), 0);
}

static void link_close(struct link *l)
{
	libusb_release_interface(l->h, 0);
	libusb_close(l->h);
	libusb_exit(l->ctx);
}

static void send_raw(struct link *l, const void *p, int len)
{
	int n = 0;

	assert_int_equal(libusb_bulk_transfer(l->h, l->out, (unsigned char *)p, len, &n, 5000), 0);
	assert_int_equal(n, len);
}

/* One reply: its header, and its payload into @buf (NUL-terminated when text). */
static struct npu_usb_hdr recv_reply(struct link *l, void *buf, uint32_t max)
{
	struct npu_usb_hdr r;
	int n = 0;

	assert_int_equal(libusb_bulk_transfer(l->h, l->in, (unsigned char *)&r, sizeof(r), &n, 5000),
			 0);
	assert_int_equal(n, sizeof(r));
	assert_int_equal(r.magic, NPU_USB_REPLY_MAGIC);
	assert_true(r.len <= max);
	if (r.len) {
		assert_int_equal(libusb_bulk_transfer(l->h, l->in, buf, (int)r.len, &n, 5000), 0);
		assert_int_equal(n, (int)r.len);
	}
	if (r.len < max)
		((char *)buf)[r.len] = 0;
	return r;
}

static struct npu_usb_hdr request(struct link *l, uint16_t cmd, const void *payload,
				  uint32_t len, void *reply, uint32_t max)
{
	struct npu_usb_hdr h = {
		.magic = NPU_USB_REQ_MAGIC, .version = NPU_USB_VERSION, .cmd = cmd,
		.tag = ++l->tag, .len = len,
	};
	struct npu_usb_hdr r;

	send_raw(l, &h, sizeof(h));
	if (len)
		send_raw(l, payload, (int)len);
	r = recv_reply(l, reply, max);
	assert_int_equal(r.tag, h.tag);
	assert_int_equal(r.cmd, cmd);
	return r;
}

/* The gadget still answers: CAPS succeeds with the current protocol. */
static void still_serving(struct link *l)
{
	struct npu_usb_caps caps;
	struct npu_usb_hdr r = request(l, NPU_USB_CAPS, NULL, 0, &caps, sizeof(caps));

	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, sizeof(caps));
	assert_int_equal(caps.abi_major, DRM_NPU_ABI_MAJOR);
	assert_int_equal(caps.max_payload, NPU_USB_MAX_PAYLOAD);
}

static void expect_refusal(struct link *l, int32_t status, const char *cause)
{
	char msg[256];
	struct npu_usb_hdr r = recv_reply(l, msg, sizeof(msg));

	assert_int_equal(r.status, status);
	if (!strstr(msg, cause))
		fail_msg("refusal '%s' does not name '%s'", msg, cause);
	still_serving(l);
}

static void malformed_frames_refused(void **state)
{
	struct npu_usb_hdr h = { .magic = NPU_USB_REQ_MAGIC, .version = NPU_USB_VERSION };
	uint8_t junk[100];
	uint64_t args[2], addr = 0;
	char msg[256];
	struct link l;

	(void)state;
	link_open(&l);
	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(request(&l, NPU_USB_RESET, NULL, 0, msg, sizeof(msg)).status, 0);
	still_serving(&l);

	send_raw(&l, junk, 7);
	expect_refusal(&l, NPU_E_INVAL, "header transfer of 7 bytes");
	send_raw(&l, junk, sizeof(h));
	expect_refusal(&l, NPU_E_INVAL, "bad magic 0xa5a5a5a5");
	h.version = 9;
	send_raw(&l, &h, sizeof(h));
	expect_refusal(&l, NPU_E_INVAL, "protocol version 9");
	h.version = NPU_USB_VERSION;
	h.reserved = 1;
	send_raw(&l, &h, sizeof(h));
	expect_refusal(&l, NPU_E_INVAL, "reserved fields not zero");
	h.reserved = 0;
	h.len = NPU_USB_MAX_PAYLOAD + 9;
	send_raw(&l, &h, sizeof(h));
	expect_refusal(&l, NPU_E_INVAL, "at most");
	h.cmd = 99;
	h.len = 0;
	send_raw(&l, &h, sizeof(h));
	expect_refusal(&l, NPU_E_INVAL, "unknown command 99");
	/* A payload shorter than its header says: the short packet ends it. */
	h.cmd = NPU_USB_WRITE;
	h.len = 100;
	send_raw(&l, &h, sizeof(h));
	send_raw(&l, junk, 50);
	expect_refusal(&l, NPU_E_INVAL, "payload of 50 bytes, header says 100");
	h.cmd = NPU_USB_ALLOC;
	h.len = 4;
	send_raw(&l, &h, sizeof(h));
	send_raw(&l, junk, 4);
	expect_refusal(&l, NPU_E_INVAL, "command 3 with a 4-byte payload");

	/* Well-formed requests the device cannot honour. */
	args[0] = 0;
	assert_int_equal(request(&l, NPU_USB_ALLOC, args, 8, msg, sizeof(msg)).status, NPU_E_INVAL);
	args[0] = 1ull << 40;
	assert_int_equal(request(&l, NPU_USB_ALLOC, args, 8, msg, sizeof(msg)).status, NPU_E_NOSPC);
	assert_non_null(strstr(msg, "in use"));
	args[0] = 0x1234000;
	assert_int_equal(request(&l, NPU_USB_FREE, args, 8, msg, sizeof(msg)).status, NPU_E_HANDLE);
	args[1] = 64;
	assert_int_equal(request(&l, NPU_USB_READ, args, 16, msg, sizeof(msg)).status, NPU_E_RANGE);
	assert_non_null(strstr(msg, "not in one buffer"));
	args[0] = 4096;
	assert_int_equal(request(&l, NPU_USB_ALLOC, args, 8, &addr, 8).status, 0);
	args[0] = addr + 4000;
	args[1] = 200;	/* past the buffer's end */
	assert_int_equal(request(&l, NPU_USB_READ, args, 16, msg, sizeof(msg)).status, NPU_E_RANGE);
	args[1] = 0;
	assert_int_equal(request(&l, NPU_USB_READ, args, 16, msg, sizeof(msg)).status, NPU_E_INVAL);
	{
		struct npu_usb_wait w = { .seq = 12345 };
		struct npu_usb_submit s = { .addr = 0x7000000, .size = 4096, .prio = 7 };
		struct npu_usb_done d;
		uint64_t seq;

		assert_int_equal(request(&l, NPU_USB_WAIT, &w, sizeof(w), msg, sizeof(msg)).status,
				 NPU_E_INVAL);
		assert_non_null(strstr(msg, "no job 12345"));
		assert_int_equal(request(&l, NPU_USB_SUBMIT, &s, sizeof(s), msg, sizeof(msg)).status,
				 NPU_E_INVAL);
		/* A stream at an unmapped address: the firmware faults, the link lives on. */
		s.prio = NPU_PRIO_NORMAL;
		assert_int_equal(request(&l, NPU_USB_SUBMIT, &s, sizeof(s), &seq, 8).status, 0);
		w.seq = seq;
		w.timeout_ms = 100;
		while (request(&l, NPU_USB_WAIT, &w, sizeof(w), &d, sizeof(d) + 1).status ==
		       NPU_E_TIMEOUT)
			;
		assert_int_equal(d.status, NPU_JOB_FAULT);
		assert_int_equal(d.fault_addr, 0x7000000);
	}
	assert_int_equal(request(&l, NPU_USB_FREE, &addr, 8, msg, sizeof(msg)).status, 0);
	still_serving(&l);
	link_close(&l);
}

/* Bulk throughput both ways in 1 MiB frames, and a CAPS round trip. */
static void link_figures(void **state)
{
	const uint32_t n = NPU_USB_MAX_PAYLOAD, reps = 16;
	uint8_t *buf = malloc(n + 8), *back = malloc(n);
	uint64_t size = n, addr = 0, args[2];
	struct link l;
	double t, w_mbs, r_mbs, rtt_us;
	uint32_t i;

	(void)state;
	assert_non_null(buf);
	assert_non_null(back);
	link_open(&l);
	assert_int_equal(request(&l, NPU_USB_ALLOC, &size, 8, &addr, 8).status, 0);
	for (i = 0; i < n; i++)
		buf[8 + i] = (uint8_t)(i * 7 + 3);
	memcpy(buf, &addr, 8);
	t = now_s();
	for (i = 0; i < reps; i++)
		assert_int_equal(request(&l, NPU_USB_WRITE, buf, n + 8, NULL, 0).status, 0);
	w_mbs = reps * (double)n / (now_s() - t) / 1e6;
	args[0] = addr;
	args[1] = n;
	t = now_s();
	for (i = 0; i < reps; i++)
		assert_int_equal(request(&l, NPU_USB_READ, args, 16, back, n + 1).status, 0);
	r_mbs = reps * (double)n / (now_s() - t) / 1e6;
	assert_memory_equal(back, buf + 8, n);
	t = now_s();
	for (i = 0; i < 200; i++)
		still_serving(&l);
	rtt_us = (now_s() - t) / 200 * 1e6;
	assert_int_equal(request(&l, NPU_USB_FREE, &addr, 8, NULL, 0).status, 0);
	link_close(&l);
	printf("BENCH usb_write_mb_s %.1f\nBENCH usb_read_mb_s %.1f\nBENCH usb_caps_rtt_us %.0f\n",
	       w_mbs, r_mbs, rtt_us);
	free(buf);
	free(back);
}

/* An op's round trip through libnpu: sync, submit, wait, read back. */
static void op_round_trip(void **state)
{
	npu_device *dev;
	struct t_buf x, o;
	struct npu_tensor tx, to;
	npu_cmd *cmd;
	double t;
	int i, reps = 50;

	(void)state;
	assert_int_equal(npu_open("usb", &dev), NPU_OK);
	x = t_alloc(dev, 256);
	o = t_alloc(dev, 4);
	tx = npu_tensor_2d(x.bo, 0, 1, 256, NPU_I8);
	to = npu_tensor_2d(o.bo, 0, 1, 1, NPU_I32);
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	assert_int_equal(npu_op_argmax(cmd, &tx, &to), NPU_OK);
	t = now_s();
	for (i = 0; i < reps; i++) {
		memset(x.p, 0, 256);
		((int8_t *)x.p)[(i * 37) % 256] = 5;
		assert_int_equal(t_run(dev, cmd, NULL), NPU_JOB_OK);
		assert_int_equal(*(int32_t *)o.p, (i * 37) % 256);
	}
	printf("BENCH usb_op_round_trip_us %.0f\n", (now_s() - t) / reps * 1e6);
	npu_cmd_destroy(cmd);
	t_free(dev, &x);
	t_free(dev, &o);
	npu_close(dev);
}

/* Matmuls long enough under TCG that the unplug lands while they run. */
static void heavy_stream(npu_cmd *cmd, struct t_buf *b)
{
	const uint32_t m = 64, k = 1024, n = 1024;
	struct npu_tensor tx = npu_tensor_2d(b->bo, 0, m, k, NPU_I8);
	struct npu_tensor tw = npu_tensor_2d(b->bo, 65536, n, k, NPU_I8);
	struct npu_tensor to = npu_tensor_2d(b->bo, 65536 + 1048576 + 4096, m, n, NPU_I32);
	int i;

	assert_int_equal(npu_scale_from_double(1.0, &tx.scale), NPU_OK);
	tx.scale_mode = NPU_SCALE_TENSOR;
	assert_int_equal(npu_scale_from_double(1.0, &tw.scale), NPU_OK);
	tw.scale_mode = NPU_SCALE_GROUP;
	tw.scale_bo = b->bo;
	tw.scale_offset = 65536 + 1048576;
	assert_int_equal(npu_scale_from_double(1.0, &to.scale), NPU_OK);
	to.scale_mode = NPU_SCALE_TENSOR;
	memset(b->p, 1, 65536 + 1048576);
	for (i = 0; i < (int)n; i++)
		((uint16_t *)((char *)b->p + tw.scale_offset))[i] = 1;
	for (i = 0; i < 32; i++)
		assert_int_equal(npu_op_matmul(cmd, &tx, &tw, k, NULL, &to), NPU_OK);
}

static void unplug_during_job(void **state)
{
	const char *pid = getenv("NPU_GADGET_PID");
	struct npu_job_result res;
	npu_device *dev;
	npu_fence f1, f2;
	npu_cmd *cmd;
	struct t_buf b;
	npu_bo extra;
	double t;

	(void)state;
	if (!pid)
		fail_msg("NPU_GADGET_PID is not set: the guest's init starts the gadget");
	assert_int_equal(npu_open("usb", &dev), NPU_OK);
	b = t_alloc(dev, 65536 + 1048576 + 4096 + 262144);
	assert_int_equal(npu_cmd_create(dev, &cmd), NPU_OK);
	heavy_stream(cmd, &b);
	assert_int_equal(npu_submit(cmd, &f1), NPU_OK);
	assert_int_equal(npu_submit(cmd, &f2), NPU_OK);
	/* Still running: the unplug lands mid-job. */
	assert_int_equal(npu_fence_wait(dev, f1, 0, NULL), NPU_E_TIMEOUT);
	t = now_s();
	assert_int_equal(kill(atoi(pid), SIGTERM), 0);
	assert_int_equal(npu_fence_wait(dev, f1, -1, &res), NPU_E_GONE);
	assert_int_equal(npu_fence_wait(dev, f2, 5000000000ll, &res), NPU_E_GONE);
	printf("BENCH usb_unplug_to_error_ms %.0f\n", (now_s() - t) * 1e3);
	assert_true(now_s() - t < 10.0);
	/* Every later call fails the same way; nothing hangs, closing is clean. */
	assert_int_equal(npu_bo_alloc(dev, 4096, &extra), NPU_E_GONE);
	assert_int_equal(npu_submit(cmd, &f1), NPU_E_GONE);
	npu_cmd_destroy(cmd);
	t_free(dev, &b);
	assert_int_equal(npu_close(dev), NPU_OK);
	assert_int_equal(npu_open("usb", &dev), NPU_E_NODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(malformed_frames_refused),
		cmocka_unit_test(link_figures),
		cmocka_unit_test(op_round_trip),
		cmocka_unit_test(unplug_during_job),
	};

	return cmocka_run_group_tests_name("usb", tests, NULL, NULL);
}
