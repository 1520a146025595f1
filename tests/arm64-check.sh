#!/bin/sh
# make arm64-check's runner: the arm64 build's tests under QEMU's user
# mode, then the guest suite on an aarch64 guest. Under "-cpu max" (NEON, SDOT and SMMLA: every arm64 level) the
# plain build's suites and the ASan+UBSan build's, side by side (one core
# each), at the best level: its MATMUL kernels, the firmware's own loops
# (built for arm64) for the rest. The kernel and backend suites test
# every level themselves, against the definitions and the scalar level.
# Then CPUs without SMMLA (Cortex-A76) and without SDOT (Cortex-A57) run
# those suites, which must pass with exactly the missing levels' tests
# skipped. Then npu-run's text on stories260K at each level must be the
# scalar level's. Then the guest suite (tests/qemu/init: npu.ko's emulated
# NPUs, the USB NPU, npu-server for NPU_SERVER_CLIENT on this host) in
# qemu-system-aarch64 on arm64-kernel.sh's kernel. One closing line
# "N passed, N failed, N skipped".
# usage: arm64-check.sh BUILD_DIR SAN_BUILD_DIR KERNEL_CACHE INITRAMFS
set -u
plain=$1
san=$2
kcache=$3
initramfs=$4
passed=0
failed=0
skipped=0
start=$(date +%s)
log=$(mktemp)
models=${NPU_MODELS:-../shared/models}

# The lines of a runner's output in $1, and its closing line added to the totals.
add_run() {
	grep -v '^[0-9]* passed, ' "$1"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -1)
	set -- ${line:-0 passed, 1 failed, 0 skipped}
	passed=$((passed + $1))
	failed=$((failed + $3))
	skipped=$((skipped + $5))
}

echo "== arm64 suites under qemu-aarch64 -cpu max, at i8mm: $plain and $san"
export NPU_TEST_FOREIGN=1
NPU_TEST_WRAP="qemu-aarch64 -cpu max" NPU_TEST_LEVELS=i8mm \
	tests/run-unit-tests.sh "$plain" >"$log.plain" 2>&1 &
# LeakSanitizer cannot run under QEMU's user mode (it stops the threads
# as a debugger would); leaks are the host build's check (make check).
ASAN_OPTIONS=detect_leaks=0 NPU_TEST_WRAP="qemu-aarch64 -cpu max" NPU_TEST_LEVELS=i8mm \
	tests/run-unit-tests.sh "$san" >"$log.san" 2>&1
wait
add_run "$log.plain"
add_run "$log.san"

echo "== arm64 CPUs without SMMLA and without SDOT: $plain"
. tests/emulated-cpu.sh
dir=$plain
# The suites that test levels, at every level each CPU has; each its own scratch log.
export NPU_TEST_LEVELS=
(log=$log.a76-out; emulated qemu-aarch64 cortex-a76 'NEON SMMLA' no_i8mm) >"$log.a76" &
(log=$log.a57-out; emulated qemu-aarch64 cortex-a57 'NEON SDOT|NEON SMMLA' no_dotprod) >"$log.a57"
wait
for cpu in a76 a57; do
	cat "$log.$cpu"
	rm -f "$log.$cpu-out"
	passed=$((passed + $(grep -c '^PASS' "$log.$cpu")))
	failed=$((failed + $(grep -c '^FAIL' "$log.$cpu")))
done

echo "== npu-run under qemu-aarch64 -cpu max: stories260K at each level, the scalar one's text"
if [ ! -f "$models/stories260K.bin" ]; then
	echo "FAIL npu_run_arm64 (no $models/stories260K.bin)"
	failed=$((failed + 1))
else
	for level in scalar neon dotprod i8mm; do
		# The text before "---": bit-exact levels write the same tokens.
		if NPU_CPU_ISA=$level qemu-aarch64 -cpu max "$plain/bin/npu-run" --device cpu \
			--steps 40 --compare --model "$models/stories260K.bin" \
			--tokenizer "$models/tok512.bin" >"$log" 2>&1 &&
			grep -q "matmul $level " "$log"; then
			sed '/^---$/q' "$log" >"$log.$level"
			if cmp -s "$log.$level" "$log.scalar"; then
				echo "PASS npu_run_arm64_$level ($(grep -m1 'top-1 agreement' "$log"))"
				passed=$((passed + 1))
				continue
			fi
			diff "$log.scalar" "$log.$level" | head -5
		fi
		tail -5 "$log"
		echo "FAIL npu_run_arm64_$level"
		failed=$((failed + 1))
	done
fi
echo "== make install of the arm64 build, and an application built on it by pkg-config"
# The installed tree as an arm64 application finds it: the cross compiler,
# pkg-config over the DESTDIR and the arm64 multiarch .pc files, and the
# program run under qemu-aarch64 on the installed libnpu.so.0.
dest=$(mktemp -d)
pc="env PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config"
if make -s --no-print-directory CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc \
	AR=aarch64-linux-gnu-ar O="$plain" DESTDIR="$dest" PREFIX=/usr install >"$log" 2>&1 &&
	aarch64-linux-gnu-gcc -Wall -Werror $($pc --cflags npu) tests/install/consumer.c \
		-o "$dest/consumer" $($pc --libs npu) >>"$log" 2>&1 &&
	LD_LIBRARY_PATH="$dest/usr/lib" qemu-aarch64 "$dest/consumer" >>"$log" 2>&1 &&
	aarch64-linux-gnu-readelf -d "$dest/consumer" | grep -q 'libnpu.so.0' &&
	aarch64-linux-gnu-readelf -h "$dest/usr/bin/npu-run" | grep -q AArch64 &&
	aarch64-linux-gnu-readelf -h "$dest/usr/lib/libnpu.so.0" | grep -q AArch64; then
	echo "PASS arm64_install_pkg_config_app ($(tail -1 "$log"))"
	passed=$((passed + 1))
else
	tail -20 "$log"
	echo "FAIL arm64_install_pkg_config_app"
	failed=$((failed + 1))
fi
rm -rf "$dest"

rm -f "$log" "$log".*
echo "arm64 host suites: $(($(date +%s) - start)) s"

echo "== the guest suite in qemu-system-aarch64: $(cat "$kcache/version")"
guest_start=$(date +%s)
NPU_GUEST_ARCH=arm64 tests/qemu/run.sh "$kcache" "$initramfs" "$plain/console.log" >"$log" 2>&1
add_run "$log"
rm -f "$log"
echo "arm64 guest suite: $(($(date +%s) - guest_start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
