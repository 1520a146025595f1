#!/bin/sh
# Pack the guest's initramfs: busybox, the kernel's DRM, USB gadget and
# virtio network modules (with their dependencies, decompressed for
# busybox's insmod), npu.ko, the npu-usb-gadget, npu-server, the firmware
# image, the test binaries and the shared libraries they need.
# usage: mkinitramfs.sh KERNEL_CACHE BUILD_DIR OUT.cpio.gz
# NPU_KMOD: the npu.ko to pack (default BUILD_DIR/kmod/npu.ko).
# NPU_GUEST_ARCH=arm64: BUILD_DIR is an arm64 build, KERNEL_CACHE
# arm64-kernel.sh's (with its arm64 busybox); libraries are found by the
# binaries' ELF headers, as ldd cannot run them here.
set -eu
kcache=$(realpath "$1")
build=$(realpath "$2")
out=$(realpath -m "$3")
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(cat "$kcache/version")
kroot="$kcache/root"
moddir="$kroot/lib/modules/$kver"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/lib/firmware/npu" "$work/modules" "$work/tests" \
	"$work/proc" "$work/sys" "$work/dev" "$work/tmp" "$work/etc"
arch=${NPU_GUEST_ARCH:-x86_64}
if [ "$arch" = arm64 ]; then
	cp "$kcache/busybox" "$work/bin/busybox"
else
	cp /bin/busybox "$work/bin/busybox"
fi
# The applets of this host's busybox: Debian builds both alike.
for app in $(/bin/busybox --list); do
	[ -e "$work/bin/$app" ] || ln -s busybox "$work/bin/$app"
done

# Module dependencies from the image's own modules.dep, in load order.
[ -f "$moddir/modules.dep" ] || depmod -b "$kroot" "$kver"
order="$work/modules/order"
: > "$order"
add_module() {
	local path dep file name
	path=$(grep -E "^[^:]*/$1\.ko(\.xz)?:" "$moddir/modules.dep" | head -1)
	[ -n "$path" ] || { echo "mkinitramfs: module $1 not in $kver" >&2; exit 1; }
	for dep in $(echo "${path#*:}" | tr ' ' '\n' | tac); do
		add_module "$(basename "$dep" | sed 's/\.ko\(\.xz\)\?$//')"
	done
	file=${path%%:*}
	name=$(basename "$file" | sed 's/\.ko\(\.xz\)\?$//')
	grep -qx "$name" "$order" && return 0
	case "$file" in
	*.xz) xz -dc "$moddir/$file" > "$work/modules/$name.ko" ;;
	*) cp "$moddir/$file" "$work/modules/$name.ko" ;;
	esac
	echo "$name" >> "$order"
}
# What npu.ko itself depends on, by its own modinfo.
kmod=${NPU_KMOD:-$build/kmod/npu.ko}
for m in $(modinfo -F depends "$kmod" | tr ',' ' '); do
	add_module "$m"
done
# The USB NPU's link: dummy_hcd's UDC, configfs gadgets, FunctionFS; vgem,
# a second DRM driver whose fences the unplug test waits on; virtio_net,
# the link npu-server's host clients come in on.
for m in dummy_hcd libcomposite usb_f_fs vgem virtio_net; do
	add_module "$m"
done
cp "$kmod" "$work/modules/npu.ko"
cp "$build/firmware/npu_fw.bin" "$work/lib/firmware/npu/npu_fw.bin"

# Test binaries and the libraries they load.
for t in "$build"/guest/* "$build"/tests/test_*; do
	[ -x "$t" ] && cp "$t" "$work/tests/"
done
cp "$build/bin/npu-info" "$build/bin/npu-run" "$build/bin/npu-usb-gadget" \
	"$build/bin/npu-server" "$work/bin/"
# The model npu-run and the model tests use, when there is one.
mkdir -p "$work/models"
for f in ${NPU_MODEL:-} ${NPU_TOKENIZER:-}; do
	[ -f "$f" ] && cp "$f" "$work/models/"
done
# llama.cpp's quantizations of small models (make llama-check), as MODEL-TYPE.gguf,
# and its architectures' files (arch-NAME.gguf), checked there against llama.cpp.
mkdir -p "$work/models/quant"
for f in ${NPU_QUANT:-}; do
	cp "$f" "$work/models/quant/$(basename "$(dirname "$f")")-$(basename "$f")"
done
# What "make run" asks the guest to run (kernel command line npu.run=1).
printf '%s\n' "${NPU_RUN_ARGS:-}" > "$work/run-args"
# An arm64 binary's libraries: its NEEDED entries, found in the multiarch
# directories, and theirs in turn; and the loader.
arm64_libs() {
	aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
		while read -r name; do
			for d in /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu; do
				if [ -e "$d/$name" ]; then
					echo "$d/$name"
					arm64_libs "$d/$name"
					break
				fi
			done
		done
}
for t in "$work"/tests/* "$work"/bin/npu-*; do
	if [ "$arch" = arm64 ]; then
		echo /lib/ld-linux-aarch64.so.1
		arm64_libs "$t"
	else
		ldd "$t" 2>/dev/null | grep -o '/[^ ]*' || true
	fi
done | sort -u | while read -r lib; do
	mkdir -p "$work$(dirname "$lib")"
	cp -L "$lib" "$work$lib"
done

cp "$top/tests/qemu/init" "$work/init"
cp "$top/tests/tally.sh" "$work/tally.sh"
cp "$top/tests/qemu/pci-checks.sh" "$work/pci-checks.sh"
cp "$top/tests/qemu/token-trace.sh" "$work/token-trace.sh"
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
