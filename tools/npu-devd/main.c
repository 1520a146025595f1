// SPDX-License-Identifier: MIT
/*
 * npu-devd: the PCI NPU's device, for a QEMU guest started with
 *	-object memory-backend-file,id=ram,size=S,mem-path=RAM,share=on
 *	-machine memory-backend=ram
 *	-chardev socket,id=npu,path=SOCKET -device ivshmem-doorbell,chardev=npu,vectors=9
 * It is the ivshmem server at SOCKET: it hands QEMU the window (BAR 2) and
 * the eventfds of the doorbells and interrupts, serves one guest at a
 * time, outlives a guest's reboot or crash (QEMU's reconnection is a new
 * session) and exits 0 on SIGTERM or SIGINT. The device itself runs in a
 * child process: killed, the guest sees its NPU lost; SIGHUP starts a new
 * one, which the guest's driver uses once it probes the device again.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devd.h"
#include "../../swcore/kernels/isa.h"

uint32_t win_read(struct devd *d, uint32_t off)
{
	return le32toh(__atomic_load_n((uint32_t *)(d->win + off), __ATOMIC_ACQUIRE));
}

void win_write(struct devd *d, uint32_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(d->win + off), htole32(v), __ATOMIC_RELEASE);
}

void raise_irq(struct devd *d, unsigned int vector)
{
	uint64_t one = 1;

	/* A full counter (the guest not reading) only delays: the vector is pending. */
	if (write(d->irq[vector], &one, sizeof(one)) < 0 && errno != EAGAIN)
		devd_log(d, "interrupt %u: %s\n", vector, strerror(errno));
}

/* At most this many lines a second: a guest that keeps asking for errors fills no disk. */
#define LOG_PER_SECOND 20

void devd_log(struct devd *d, const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t second;
	static unsigned int lines, dropped;
	time_t now = time(NULL);
	va_list ap;

	(void)d;
	pthread_mutex_lock(&lock);
	if (now != second) {
		if (dropped)
			fprintf(stderr, "npu-devd: %u lines not shown\n", dropped);
		second = now;
		lines = 0;
		dropped = 0;
	}
	if (lines++ < LOG_PER_SECOND) {
		fputs("npu-devd: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	} else {
		dropped++;
	}
	pthread_mutex_unlock(&lock);
}

/*
 * Each core's share of the process's memory maps: the kernel's bound less
 * room for everything else, and each run of guest pages in a window may
 * split a reservation in two.
 */
static uint64_t map_budget(unsigned int n_cores)
{
	unsigned long max = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 65530;
		fclose(f);
	}
	return max > 8192 ? (max - 4096) / 2 / n_cores : 1024;
}

/* One ivshmem server message: a little-endian int64, maybe with a descriptor. */
static int send_msg(int sock, int64_t value, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	int64_t le = (int64_t)htole64((uint64_t)value);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(le) ? 0 : -1;
}

/*
 * The ivshmem handshake (QEMU's docs/specs/ivshmem-spec): protocol 0, the
 * guest's id, the window; then this device as a connected peer (the
 * doorbells the guest rings) and the guest's own vectors (its interrupts).
 */
static int handshake(struct devd *d, int sock)
{
	unsigned int v;

	if (send_msg(sock, 0, -1) || send_msg(sock, DEVD_GUEST_PEER, -1) ||
	    send_msg(sock, -1, d->win_fd))
		return -1;
	for (v = 0; v < NPU_PCI_VECTORS; v++)
		if (send_msg(sock, DEVD_PEER, d->doorbell[v]))
			return -1;
	for (v = 0; v < NPU_PCI_VECTORS; v++)
		if (send_msg(sock, DEVD_GUEST_PEER, d->irq[v]))
			return -1;
	return 0;
}

/* A window of its own for each guest: nothing an earlier QEMU maps reaches it. */
static int open_window(struct devd *d)
{
	d->win_fd = memfd_create("npu-window", MFD_CLOEXEC);
	if (d->win_fd < 0)
		return -1;
	if (ftruncate(d->win_fd, NPU_PCI_WINDOW_SIZE) == 0) {
		d->win = mmap(NULL, NPU_PCI_WINDOW_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			      d->win_fd, 0);
		if (d->win != MAP_FAILED)
			return 0;
	}
	close(d->win_fd);
	d->win_fd = -1;
	d->win = NULL;
	return -1;
}

static void close_window(struct devd *d)
{
	munmap(d->win, NPU_PCI_WINDOW_SIZE);
	close(d->win_fd);
	d->win = NULL;
	d->win_fd = -1;
}

static void close_events(struct devd *d)
{
	unsigned int v;

	for (v = 0; v < NPU_PCI_VECTORS; v++) {
		if (d->doorbell[v] >= 0)
			close(d->doorbell[v]);
		if (d->irq[v] >= 0)
			close(d->irq[v]);
		d->doorbell[v] = d->irq[v] = -1;
	}
}

/* Fresh eventfds for each guest: an old QEMU's copies reach nothing. */
static int open_events(struct devd *d)
{
	unsigned int v;

	for (v = 0; v < NPU_PCI_VECTORS; v++) {
		d->doorbell[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		d->irq[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->doorbell[v] < 0 || d->irq[v] < 0) {
			close_events(d);
			return -1;
		}
	}
	return 0;
}

/*
 * The device process: the cores, the mailbox and the heartbeat, until
 * SIGTERM (or this server's end). Killing it is the device's loss; the
 * server keeps QEMU's connection, window and eventfds, and starts a new
 * one on SIGHUP.
 */
static pid_t start_device(struct devd *d, int sigfd)
{
	pid_t pid = fork();
	struct signalfd_siginfo si;

	if (pid)
		return pid;
	d->map_budget = map_budget(d->n_cores);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0);
	if (device_start(d)) {
		devd_log(d, "cannot start the device: out of memory\n");
		_exit(1);
	}
	while (read(sigfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGTERM &&
	       si.ssi_signo != SIGINT)
		;
	device_stop(d);
	_exit(0);
}

/* SIGTERM (a stopped one woken to hear it), then SIGKILL after 10 s. */
static void stop_device(pid_t pid)
{
	int status, i;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	kill(pid, SIGCONT);
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/*
 * A guest from QEMU's connection to its end; 1 when a signal asks to
 * stop. The device runs in a child process (start_device); its death
 * reads as a lost device in the guest, whose driver re-probes once
 * SIGHUP has started another.
 */
static int session(struct devd *d, int sock, int listener, int sigfd)
{
	struct pollfd pfd[3] = {
		{ .fd = sock, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = listener, .events = POLLIN },
	};
	pid_t dev = -1;
	int stop = 0;

	if (open_window(d)) {
		devd_log(d, "no window: %s\n", strerror(errno));
		return 0;
	}
	if (open_events(d)) {
		devd_log(d, "no eventfds: %s\n", strerror(errno));
		close_window(d);
		return 0;
	}
	if (handshake(d, sock)) {
		devd_log(d, "QEMU left during the handshake\n");
		close_events(d);
		close_window(d);
		return 0;
	}
	devd_log(d, "guest connected: %u cores, guest RAM %s\n", d->n_cores, d->ram_path);
	dev = start_device(d, sigfd);
	for (;;) {
		struct signalfd_siginfo si;
		char buf[64];
		int status;

		if (poll(pfd, 3, -1) < 0)
			continue;
		if (pfd[1].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD) {
				if (dev > 0 && waitpid(dev, &status, WNOHANG) == dev) {
					devd_log(d, "device process %d ended (%s %d): the guest's NPU is lost until SIGHUP starts another\n",
						 (int)dev, WIFSIGNALED(status) ? "signal" : "status",
						 WIFSIGNALED(status) ? WTERMSIG(status) :
						 WEXITSTATUS(status));
					dev = -1;
					/* The driver's watchdog sees the window empty. */
					win_write(d, NPU_PCI_ID, 0);
				}
			} else if (si.ssi_signo == SIGHUP) {
				if (dev < 0) {
					dev = start_device(d, sigfd);
					devd_log(d, "device process %d started\n", (int)dev);
				}
			} else {
				stop = 1;
				break;
			}
		}
		/* QEMU never writes: readable means it has gone (its successor waits). */
		if (pfd[0].revents && recv(sock, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
		/* One guest at a time: another QEMU is turned away, unless ours just left. */
		if (pfd[2].revents) {
			int other;

			if (recv(sock, buf, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
				break;
			other = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

			if (other >= 0) {
				devd_log(d, "a second QEMU connected: refused\n");
				close(other);
			}
		}
	}
	devd_log(d, "guest disconnected\n");
	stop_device(dev);
	win_write(d, NPU_PCI_ID, 0);
	close_events(d);
	close_window(d);
	return stop;
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "npu-devd: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4)) {
		fprintf(stderr, "npu-devd: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fputs("usage: npu-devd --socket PATH --guest-ram PATH [--cores N] [--threads N]\n"
	      "                [--va-size GIB] [--slice MACS] [--poll US] [--isa LEVEL]\n"
	      "  --socket PATH     the ivshmem server socket QEMU's chardev connects to\n"
	      "  --guest-ram PATH  the guest's RAM file (memory-backend-file, share=on)\n"
	      "  --cores N         NPU cores, 1..8 (default 2)\n"
	      "  --threads N       host threads per core for its kernels, 1..64 (default 1:\n"
	      "                    the cores are the device's parallelism)\n"
	      "  --va-size GIB     device addresses the cores reach, 1..1024 GiB (default 1024:\n"
	      "                    the driver's whole space; less costs less address space\n"
	      "                    here, and the driver gives its contexts no more)\n"
	      "  --slice MACS      multiply-adds a core does between looks for a reset,\n"
	      "                    256..2^30 (default 2^25: a few ms, the reset's latency)\n"
	      "  --poll US         how long an idle core watches its ring before it sleeps,\n"
	      "                    0..10000 us (default 0: at once; make run uses 400)\n"
	      "  --isa LEVEL       the kernels' level: scalar, avx2, avxvnni, avx512\n"
	      "                    (default: the best this CPU has)\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "guest-ram", required_argument, NULL, 'r' },
		{ "cores", required_argument, NULL, 'c' },
		{ "isa", required_argument, NULL, 'i' },
		{ "threads", required_argument, NULL, 't' },
		{ "va-size", required_argument, NULL, 'v' },
		{ "slice", required_argument, NULL, 'w' },
		{ "poll", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct devd d = { .n_cores = 2, .win_fd = -1, .stop_fd = -1, .ram = { .fd = -1 },
				 .va_size = 1ull << 40, .slice_work = DEVD_SLICE_WORK };
	const char *sock_path = NULL, *isa = NULL, *threads = "1";
	int o, listener, sigfd, isa_level;
	sigset_t mask;
	char *end;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock_path = optarg;
			break;
		case 'r':
			d.ram_path = optarg;
			break;
		case 'c':
			d.n_cores = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || d.n_cores < 1 || d.n_cores > NPU_PCI_MAX_CORES) {
				fprintf(stderr, "npu-devd: --cores %s: not a number from 1 to 8\n",
					optarg);
				return 2;
			}
			break;
		case 'i':
			isa = optarg;
			break;
		case 'v':
			d.va_size = strtoull(optarg, &end, 10);
			if (*end || d.va_size < 1 || d.va_size > 1024) {
				fprintf(stderr, "npu-devd: --va-size %s: not a number of GiB from 1 to 1024\n",
					optarg);
				return 2;
			}
			d.va_size <<= 30;
			break;
		case 'w':
			d.slice_work = strtoull(optarg, &end, 10);
			if (*end || d.slice_work < 256 || d.slice_work > 1ull << 30) {
				fprintf(stderr, "npu-devd: --slice %s: not a number from 256 to 2^30\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			d.poll_ns = strtoull(optarg, &end, 10);
			if (*end || !*optarg || d.poll_ns > 10000) {
				fprintf(stderr, "npu-devd: --poll %s: not a number of us from 0 to 10000\n",
					optarg);
				return 2;
			}
			d.poll_ns *= 1000;
			break;
		case 't':
			o = (int)strtol(optarg, &end, 10);
			if (*end || o < 1 || o > 64) {
				fprintf(stderr, "npu-devd: --threads %s: not a number from 1 to 64\n",
					optarg);
				return 2;
			}
			threads = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !sock_path || !d.ram_path) {
		fprintf(stderr, "npu-devd: %s\n", optind < argc ? "unexpected argument" :
			"--socket and --guest-ram are required");
		usage(stderr);
		return 2;
	}
	isa_level = npu_isa_select(isa);
	if (isa_level < 0) {
		fprintf(stderr, "npu-devd: --isa %s: not a level (scalar, avx2, avxvnni, avx512)\n",
			isa);
		return 2;
	}
	d.isa = (enum npu_isa)isa_level;
	/* The kernels size their thread pool from $NPU_THREADS. */
	setenv("NPU_THREADS", threads, 1);

	/* Signals arrive on a descriptor; the threads started later never see them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "npu-devd: %s\n", strerror(errno));
		return 1;
	}
	for (o = 0; o < NPU_PCI_VECTORS; o++)
		d.doorbell[o] = d.irq[o] = -1;
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	listener = listen_on(sock_path);
	if (listener < 0)
		return 1;
	fprintf(stderr, "npu-devd: listening on %s (%u cores, kernels %s x%s threads)\n",
		sock_path, d.n_cores, npu_isa_name(d.isa), threads);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = listener, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		int sock;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			/* Between guests only SIGTERM and SIGINT count (SIGCHLD: a device that ended). */
			if (read(sigfd, &si, sizeof(si)) == sizeof(si) &&
			    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT))
				break;
			continue;
		}
		sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (sock < 0)
			continue;
		o = session(&d, sock, listener, sigfd);
		close(sock);
		if (o)
			break;
	}
	fprintf(stderr, "npu-devd: stopped\n");
	close(listener);
	unlink(sock_path);
	free(d.image);
	return 0;
}
