#!/bin/sh
# Boot the guest kernel with the initramfs under QEMU (TCG: KVM does not
# work on these machines), stream its console, and turn the guest's result
# line into this script's exit status. Any WARN or oops panics the guest
# (panic_on_warn, oops=panic), which then has no result line: a failure.
# usage: run.sh KERNEL_CACHE INITRAMFS LOG [run|smoke|serve|pci]
# QEMU_TIMEOUT: seconds before the guest is killed (default 900); QEMU_SMP: its
# vCPUs (default 2, round-robin on one host thread: TCG, thread=single).
# NPU_GUEST_ARCH=arm64: an aarch64 guest (QEMU's virt machine, its max CPU)
# on arm64-kernel.sh's kernel, emulated NPUs only.
# NPU_DEVD: npu-devd; with it the guest gets two PCI NPUs (1 and 2 cores),
# each served by its own npu-devd started here before QEMU and stopped
# after it, and npu.ko drives those instead of emulated ones. Mode "pci" is
# the suite on them, with the device-loss and hostile-device cases; there
# accel0's daemon cuts its matmuls and attention into slices of 256
# multiply-adds (--slice), so the suite's token checks on accel0 (against
# the cpu backend's) cover the sliced paths too, and accel1's cores watch
# their rings 400 us before they sleep (--poll), as make run's do.
# With "run", the guest runs npu-run (make run) instead of the suite; with
# "smoke", a short suite (make dkms-check); with "serve", only npu-server.
# The suite and "serve" start npu-server in the guest, reached from here on
# a forwarded port: once the guest says so, NPU_SERVER_CLIENT (a command,
# given the server's URL) runs here and its output goes back to the guest
# on a second forwarded port, where its PASS/FAIL/SKIP lines are counted.
set -u
kcache=$(realpath "$1")
initrd=$2
log=$3
mode=${4:-suite}
extra=
[ "$mode" = run ] && extra=npu.run=1
[ "$mode" = smoke ] && extra=npu.smoke=1
kver=$(cat "$kcache/version")
start=$(date +%s)

# The PCI NPUs: guest RAM in a file the daemons map, one daemon per NPU.
pci=
devd_pids=
work=$(mktemp -d)
ram=/dev/shm/npu-guest-ram-$$
# A device process the loss test left stopped is woken, so it hears SIGTERM.
stop_daemons() {
	for p in $devd_pids; do
		pkill -CONT -P "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
}
cleanup() {
	stop_daemons
	rm -rf "$work" "$ram"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -n "${NPU_DEVD:-}" ]; then
	# Each daemon's own options: make run's, or the suite's (above).
	opts0="--poll 400" opts1="--poll 400"
	[ "$mode" = pci ] && opts0="--slice 256"
	for n in 0 1; do
		eval "opts=\$opts$n"
		# shellcheck disable=SC2086
		"$NPU_DEVD" --socket "$work/npu$n.sock" --guest-ram "$ram" --cores $((n + 1)) \
			$opts 2> "$log.devd$n" &
		devd_pids="$devd_pids $!"
	done
	for n in 0 1; do
		for i in $(seq 50); do [ -S "$work/npu$n.sock" ] && break; sleep 0.1; done
		pci="$pci -chardev socket,id=npu$n,path=$work/npu$n.sock"
		pci="$pci -device ivshmem-doorbell,chardev=npu$n,vectors=9"
	done
	pci="-object memory-backend-file,id=ram,size=2048M,mem-path=$ram,share=on -machine pc,memory-backend=ram $pci"
	extra="$extra npu.pci=1"
fi
[ "$mode" = pci ] && extra="$extra npu.pcisuite=1"

# Two free ports on the host's loopback: the server's, and the way back.
http=
net="-nic none"
if [ "$mode" = suite ] || [ "$mode" = serve ]; then
	# shellcheck disable=SC2046 # two numbers, split on purpose
	set -- $(python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s:
	x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
	http=$1
	back=$2
	net="-nic user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$http-:8080,hostfwd=tcp:127.0.0.1:$back-:8081"
	extra="npu.server=$([ "$mode" = serve ] && echo 2 || echo 1)"
fi

# Single-threaded TCG: two vCPUs, one host thread. Multi-threaded TCG has
# been seen to trap on the kernel's own boot-time code patching (an int3
# oops in sched_clock_cpu before /init); round-robin vCPUs do not race it.
# The aarch64 guest: pointer authentication by QEMU's cheaper algorithm
# (its default costs TCG dearly), and a host thread per vCPU: round-robin
# vCPUs left test_api's process unscheduled for a whole 0.38 s job there.
machine="qemu-system-x86_64 -accel tcg,thread=single -cpu max"
console=ttyS0
if [ "${NPU_GUEST_ARCH:-}" = arm64 ]; then
	machine="qemu-system-aarch64 -M virt -accel tcg,thread=multi -cpu max,pauth-impdef=on"
	console=ttyAMA0
fi
boot() {
	# shellcheck disable=SC2086 # $machine, $net and $pci are lists of arguments
	timeout "${QEMU_TIMEOUT:-900}" $machine -smp ${QEMU_SMP:-2} -m 2048 \
		-nographic -no-reboot $net $pci \
		-kernel "$kcache/root/boot/vmlinuz-$kver" -initrd "$initrd" \
		-append "console=$console panic=-1 panic_on_warn=1 oops=panic slub_debug=FZPU hung_task_panic=1 quiet loglevel=6 $extra" \
		</dev/null 2>&1 | tee "$log" | grep --line-buffered -vE '^\[ *[0-9.]+\] '
}
# An old log's NPU-SERVER-READY must not be taken for this boot's.
rm -f "$log" "$log.host"
boot &
qemu=$!
if [ -n "$http" ]; then
	while kill -0 $qemu 2>/dev/null && ! grep -qa NPU-SERVER-READY "$log" 2>/dev/null; do
		sleep 1
	done
	if grep -qa NPU-SERVER-READY "$log"; then
		# A client that dies before its own FAIL lines is one failure more.
		if [ -z "${NPU_SERVER_CLIENT:-}" ]; then
			echo "FAIL guest_server_client: no NPU_SERVER_CLIENT given" > "$log.host"
		elif ! $NPU_SERVER_CLIENT "http://127.0.0.1:$http" > "$log.host" 2>&1 &&
			! grep -q '^FAIL ' "$log.host"; then
			echo "FAIL guest_server_client: it exited with an error" >> "$log.host"
		fi
		python3 -c 'import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30) as s:
	s.sendall(open(sys.argv[2], "rb").read())' "$back" "$log.host" ||
			echo "qemu: could not hand the host clients' lines to the guest"
	fi
fi
# The guest's device-loss tests ask, on its console, for an NPU's device
# process (npu-devd's child) to be killed or stopped, or for a new one.
if [ "$mode" = pci ]; then
	(
		handled=0
		while kill -0 $qemu 2>/dev/null; do
			reqs=$(grep -ao 'NPU-[A-Z]*-DEVICE [01]' "$log" 2>/dev/null)
			n=$(printf '%s\n' "$reqs" | grep -c .)
			if [ "$n" -gt "$handled" ]; then
				printf '%s\n' "$reqs" | tail -n +$((handled + 1)) | while read -r what i; do
					# shellcheck disable=SC2086 # the pids, one per field
					pid=$(echo $devd_pids | cut -d' ' -f$((i + 1)))
					case $what in
					NPU-KILL-DEVICE) pkill -KILL -P "$pid" ;;
					NPU-STOP-DEVICE) pkill -STOP -P "$pid" ;;
					NPU-RESTART-DEVICE) kill -HUP "$pid" ;;
					esac
					echo "qemu: $what $i: npu-devd $pid"
				done
				handled=$n
			fi
			sleep 0.05
		done
	) &
fi
wait $qemu
echo "qemu: $(($(date +%s) - start)) s in all"

# The daemons outlived the guest; each must stop cleanly on SIGTERM, within 10 s.
devd_ok=1
stop_daemons
for p in $devd_pids; do
	for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$p" 2>/dev/null; then
		echo "qemu: npu-devd $p still runs 10 s after SIGTERM: killed"
		kill -KILL "$p"
	fi
	wait "$p" || devd_ok=0
done
devd_pids=
if [ -n "${NPU_DEVD:-}" ]; then
	cat "$log.devd0" "$log.devd1"
	[ $devd_ok = 1 ] || echo "qemu: an npu-devd did not exit 0 on SIGTERM"
fi

if [ "$mode" = run ]; then
	[ $devd_ok = 1 ] || exit 1
	# Both backends' decode speeds, and their ratio (make run with NPU_DEVD):
	# greedy bursts as npu-run chooses them, and one job per token.
	awk '/NPU-RUN-BACKEND: pci/ { b = "pci" } /NPU-RUN-BACKEND: emulated/ { b = "emu" }
		/NPU-RUN-BURST1: pci/ { b = "pci1" } /NPU-RUN-BURST1: emulated/ { b = "emu1" }
		b && match($0, /decode [0-9.]+ tok\/s/) {
			v[b] = substr($0, RSTART + 7, RLENGTH - 13) + 0 }
		END { if (v["pci"] && v["emu"])
			printf "qemu: decode on the PCI NPU %.1f tok/s, on the emulated NPU %.1f tok/s: x%.1f\n",
				v["pci"], v["emu"], v["pci"] / v["emu"]
		      if (v["pci1"] && v["emu1"])
			printf "qemu: one job per token (--burst 1): %.1f tok/s and %.1f tok/s: x%.1f\n",
				v["pci1"], v["emu1"], v["pci1"] / v["emu1"] }' "$log" | tr -d '\r'
	rc=$(grep -a 'NPU-RUN-EXIT:' "$log" | tail -1 | sed 's/.*NPU-RUN-EXIT: //' | tr -d '\r')
	[ "$rc" = 0 ] && exit 0
	echo "qemu: npu-run did not finish well (exit '${rc:-none}'); the log is $log"
	exit 1
fi

result=$(grep -a 'NPU-QEMU-RESULT:' "$log" | tail -1 | sed 's/.*NPU-QEMU-RESULT: //' | tr -d '\r')
if [ -z "$result" ]; then
	echo "qemu: the guest gave no result (panic, WARN or hang); its log:"
	tail -80 "$log"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
if [ $devd_ok = 0 ]; then
	result=$(echo "$result" | awk '{ $3 = $3 + 1; print }')
fi
echo "$result"
case "$result" in
*" 0 failed, "*) exit 0 ;;
*) exit 1 ;;
esac
