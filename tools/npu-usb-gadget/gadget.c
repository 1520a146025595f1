// SPDX-License-Identifier: MIT
/*
 * npu-usb-gadget: make this machine the USB NPU. It builds a configfs
 * gadget (libcomposite) with one FunctionFS function, writes the NPU
 * interface's descriptors, binds a UDC and serves the protocol of
 * docs/usb-protocol.md until SIGTERM or SIGINT, then takes it all down.
 */
#define _GNU_SOURCE	/* pthread_timedjoin_np */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/usb/functionfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gadget.h"
#include "../../firmware/include/npu_usb_proto.h"

/* FunctionFS takes little-endian descriptors: this host's own order. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npu-usb-gadget builds its descriptors for a little-endian host"
#endif

#define CONFIGFS "/sys/kernel/config"
#define GADGETS CONFIGFS "/usb_gadget"

static char gadget_dir[256];

/* The interface: vendor class, one bulk OUT and one bulk IN endpoint. */
struct intf_descs {
	struct usb_interface_descriptor intf;
	struct usb_endpoint_descriptor_no_audio out, in;
} __attribute__((packed));

static const struct {
	struct usb_functionfs_descs_head_v2 head;
	__le32 fs_count, hs_count;
	struct intf_descs fs, hs;
} __attribute__((packed)) descriptors = {
	.head = {
		.magic = (FUNCTIONFS_DESCRIPTORS_MAGIC_V2),
		.length = (sizeof(descriptors)),
		.flags = (FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC),
	},
	.fs_count = (3),
	.hs_count = (3),
#define INTF_DESCS(packet) {							\
		.intf = {							\
			.bLength = sizeof(struct usb_interface_descriptor),	\
			.bDescriptorType = USB_DT_INTERFACE,			\
			.bNumEndpoints = 2,					\
			.bInterfaceClass = NPU_USB_CLASS,			\
			.bInterfaceSubClass = NPU_USB_SUBCLASS,			\
			.bInterfaceProtocol = NPU_USB_PROTOCOL,			\
			.iInterface = 1,					\
		},								\
		.out = {							\
			.bLength = sizeof(struct usb_endpoint_descriptor_no_audio), \
			.bDescriptorType = USB_DT_ENDPOINT,			\
			.bEndpointAddress = 1 | USB_DIR_OUT,			\
			.bmAttributes = USB_ENDPOINT_XFER_BULK,			\
			.wMaxPacketSize = (packet),			\
		},								\
		.in = {								\
			.bLength = sizeof(struct usb_endpoint_descriptor_no_audio), \
			.bDescriptorType = USB_DT_ENDPOINT,			\
			.bEndpointAddress = 2 | USB_DIR_IN,			\
			.bmAttributes = USB_ENDPOINT_XFER_BULK,			\
			.wMaxPacketSize = (packet),			\
		},								\
	}
	.fs = INTF_DESCS(64),
	.hs = INTF_DESCS(512),
#undef INTF_DESCS
};

#define INTF_NAME "NPU"

static const struct {
	struct usb_functionfs_strings_head head;
	struct {
		__le16 code;
		char str[sizeof(INTF_NAME)];
	} __attribute__((packed)) lang0;
} __attribute__((packed)) strings = {
	.head = {
		.magic = (FUNCTIONFS_STRINGS_MAGIC),
		.length = (sizeof(strings)),
		.str_count = (1),
		.lang_count = (1),
	},
	.lang0 = { (0x0409), INTF_NAME },
};

static int put(const char *dir, const char *file, const char *value)
{
	char path[512];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "npu-usb-gadget: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	if (!ok)
		fprintf(stderr, "npu-usb-gadget: writing '%s' to %s: %s\n", value, path,
			strerror(errno));
	close(fd);
	return ok ? 0 : -1;
}

static int mkdirs(const char *dir, const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) && errno != EEXIST) {
		fprintf(stderr, "npu-usb-gadget: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The first UDC in /sys/class/udc, when none was named. */
static int first_udc(char *name, size_t size)
{
	DIR *d = opendir("/sys/class/udc");
	struct dirent *e;
	int found = 0;

	if (!d)
		return -1;
	while (!found && (e = readdir(d)))
		if (e->d_name[0] != '.' && strlen(e->d_name) < size) {
			memcpy(name, e->d_name, strlen(e->d_name) + 1);
			found = 1;
		}
	closedir(d);
	return found ? 0 : -1;
}

/* The configfs gadget: ids, strings, one configuration with our function. */
static int configfs_build(struct gadget *g)
{
	char fn[128], link[512], target[512];
	const char *d = gadget_dir;

	if (access(GADGETS, F_OK) && mount("none", CONFIGFS, "configfs", 0, NULL) &&
	    errno != EBUSY) {
		fprintf(stderr, "npu-usb-gadget: mounting configfs: %s\n", strerror(errno));
		return -1;
	}
	snprintf(gadget_dir, sizeof(gadget_dir), GADGETS "/%s", g->name);
	snprintf(fn, sizeof(fn), "functions/ffs.%s", g->name);
	if (mkdirs(GADGETS, g->name))
		return -1;
	g->configfs = 1;
	if (put(d, "idVendor", "0x1209") || put(d, "idProduct", "0x0001") ||
	    put(d, "bcdDevice", "0x0100") || put(d, "bcdUSB", "0x0200") ||
	    put(d, "max_speed", "high-speed") || mkdirs(d, "strings/0x409") ||
	    put(d, "strings/0x409/manufacturer", "NPU offload stack") ||
	    put(d, "strings/0x409/product", "USB NPU (npu-usb-gadget)") ||
	    put(d, "strings/0x409/serialnumber", "0001") || mkdirs(d, "configs/c.1") ||
	    mkdirs(d, "configs/c.1/strings/0x409") ||
	    put(d, "configs/c.1/strings/0x409/configuration", "NPU") ||
	    put(d, "configs/c.1/MaxPower", "100") || mkdirs(d, fn))
		return -1;
	snprintf(target, sizeof(target), "%s/%s", d, fn);
	snprintf(link, sizeof(link), "%s/configs/c.1/ffs.%s", d, g->name);
	if (symlink(target, link) && errno != EEXIST) {
		fprintf(stderr, "npu-usb-gadget: linking %s: %s\n", link, strerror(errno));
		return -1;
	}
	return 0;
}

static void configfs_teardown(const struct gadget *g)
{
	static const char *const dirs[] = {
		"configs/c.1/strings/0x409", "configs/c.1", "strings/0x409",
	};
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/configs/c.1/ffs.%s", gadget_dir, g->name);
	unlink(path);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", gadget_dir, dirs[i]);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/functions/ffs.%s", gadget_dir, g->name);
	rmdir(path);
	rmdir(gadget_dir);
}

/* Mount FunctionFS, give it our descriptors, open the two endpoints. */
static int ffs_open(struct gadget *g)
{
	char path[512];

	if (mkdir(g->ffs_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "npu-usb-gadget: mkdir %s: %s\n", g->ffs_dir, strerror(errno));
		return -1;
	}
	if (mount(g->name, g->ffs_dir, "functionfs", 0, NULL) && errno != EBUSY) {
		fprintf(stderr, "npu-usb-gadget: mounting functionfs '%s' on %s: %s\n", g->name,
			g->ffs_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ep0", g->ffs_dir);
	g->ep0 = open(path, O_RDWR);
	if (g->ep0 < 0 ||
	    write(g->ep0, &descriptors, sizeof(descriptors)) != (ssize_t)sizeof(descriptors) ||
	    write(g->ep0, &strings, sizeof(strings)) != (ssize_t)sizeof(strings)) {
		fprintf(stderr, "npu-usb-gadget: %s: descriptors not taken: %s\n", path,
			strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ep1", g->ffs_dir);
	g->ep_out = open(path, O_RDONLY);
	snprintf(path, sizeof(path), "%s/ep2", g->ffs_dir);
	g->ep_in = open(path, O_WRONLY);
	if (g->ep_out < 0 || g->ep_in < 0) {
		fprintf(stderr, "npu-usb-gadget: opening the endpoints: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void ffs_close(struct gadget *g)
{
	if (g->ep_in >= 0)
		close(g->ep_in);
	if (g->ep_out >= 0)
		close(g->ep_out);
	if (g->ep0 >= 0)
		close(g->ep0);
	umount(g->ffs_dir);
	rmdir(g->ffs_dir);
}

/* ep0's events: the link's state for the serving loop; no control requests. */
static void *ep0_events(void *arg)
{
	struct gadget *g = arg;
	struct usb_functionfs_event ev[4];

	for (;;) {
		ssize_t n = read(g->ep0, ev, sizeof(ev));
		size_t i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		for (i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			pthread_mutex_lock(&g->lock);
			switch (ev[i].type) {
			case FUNCTIONFS_ENABLE:
				g->enabled = 1;
				break;
			case FUNCTIONFS_DISABLE:
			case FUNCTIONFS_UNBIND:
				if (g->enabled)
					g->sessions++;
				g->enabled = 0;
				break;
			case FUNCTIONFS_SETUP:
				/* No vendor control requests: stall by the opposite direction. */
				if (ev[i].u.setup.bRequestType & USB_DIR_IN) {
					if (read(g->ep0, NULL, 0) < 0 && g->verbose)
						fprintf(stderr, "npu-usb-gadget: control request stalled\n");
				} else if (write(g->ep0, NULL, 0) < 0 && g->verbose) {
					fprintf(stderr, "npu-usb-gadget: control request stalled\n");
				}
				break;
			}
			if (g->verbose)
				fprintf(stderr, "npu-usb-gadget: ep0 event %u\n", ev[i].type);
			pthread_cond_broadcast(&g->cond);
			pthread_mutex_unlock(&g->lock);
		}
		if (g->stop)
			return NULL;
	}
}

static void *serve_thread(void *arg)
{
	return (void *)(long)gadget_serve(arg);
}

static void wake(int sig)
{
	(void)sig;
}

/*
 * Join the server, interrupting any endpoint I/O the unbind left blocked
 * (SIGUSR1 without SA_RESTART: the call returns EINTR). Its running op
 * finishes first; give up after 60 s rather than hang.
 */
static int stop_server(pthread_t server)
{
	struct timespec until;
	int i;

	for (i = 0; i < 600; i++) {
		pthread_kill(server, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (!pthread_timedjoin_np(server, NULL, &until))
			return 0;
	}
	fprintf(stderr, "npu-usb-gadget: the server did not stop in 60 s; exiting anyway\n");
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: npu-usb-gadget [--udc NAME] [--name NAME] [--ffs DIR] [--memory MIB] [--verbose]\n"
		"Make this machine the USB NPU (configfs + FunctionFS); serve until SIGTERM/SIGINT.\n"
		"  --udc NAME     UDC to bind (default: the first in /sys/class/udc)\n"
		"  --name NAME    configfs gadget and FunctionFS instance (default npu)\n"
		"  --ffs DIR      FunctionFS mount point (default /dev/ffs-NAME)\n"
		"  --memory MIB   device memory granted to the host (default 512)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "udc", required_argument, NULL, 'u' },
		{ "name", required_argument, NULL, 'n' },
		{ "ffs", required_argument, NULL, 'f' },
		{ "memory", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gadget g = { .name = "npu", .ep0 = -1, .ep_out = -1, .ep_in = -1,
			    .mem_limit = 512ull << 20 };
	char udc[128], ffs_dir[256] = "";
	pthread_t ep0_thread, server;
	int c, sig, rc = 1, ep0_started = 0, served = 0;
	sigset_t set;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			g.udc = optarg;
			break;
		case 'n':
			g.name = optarg;
			break;
		case 'f':
			snprintf(ffs_dir, sizeof(ffs_dir), "%s", optarg);
			break;
		case 'm':
			g.mem_limit = strtoull(optarg, &end, 10) << 20;
			if (*end || !g.mem_limit || g.mem_limit > (1ull << 40)) {
				fprintf(stderr, "npu-usb-gadget: --memory '%s': MiB, 1..1048576\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			g.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !*g.name || strchr(g.name, '/')) {
		usage(stderr);
		return 2;
	}
	if (!*ffs_dir)
		snprintf(ffs_dir, sizeof(ffs_dir), "/dev/ffs-%s", g.name);
	g.ffs_dir = ffs_dir;
	if (!g.udc) {
		if (first_udc(udc, sizeof(udc))) {
			fprintf(stderr, "npu-usb-gadget: no UDC in /sys/class/udc (load dummy_hcd or a real one)\n");
			return 1;
		}
		g.udc = udc;
	}
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	{
		struct sigaction sa = { .sa_handler = wake };

		sigaction(SIGUSR1, &sa, NULL);
	}
	/* Signals are taken by sigwait below, not by the worker threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (configfs_build(&g) || ffs_open(&g))
		goto out;
	if (pthread_create(&ep0_thread, NULL, ep0_events, &g))
		goto out;
	ep0_started = 1;
	if (pthread_create(&server, NULL, serve_thread, &g))
		goto out;
	served = 1;
	if (put(gadget_dir, "UDC", g.udc))
		goto out;
	fprintf(stderr, "npu-usb-gadget: serving on %s as %04x:%04x\n", g.udc, NPU_USB_VID,
		NPU_USB_PID);
	rc = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "npu-usb-gadget: %s: unplugging\n", strsignal(sig));
out:
	pthread_mutex_lock(&g.lock);
	g.stop = 1;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	/* Unbinding disables the endpoints: blocked reads and writes return. */
	if (g.configfs)
		put(gadget_dir, "UDC", "\n");
	if (served && stop_server(server))
		rc = 1;
	if (ep0_started) {
		pthread_cancel(ep0_thread);
		pthread_join(ep0_thread, NULL);
	}
	ffs_close(&g);
	if (g.configfs)
		configfs_teardown(&g);
	return rc;
}
