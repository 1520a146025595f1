#!/bin/sh
# Build (once) a small 6.12 kernel with the kernel's own bug finders on,
# from Debian's linux-source-6.12, into a cache folder laid out like the
# one kernel.sh fills: version, root/boot/vmlinuz-V, root/lib/modules/V
# and root/usr/src/linux-headers-V (the build tree itself, for npu.ko).
# Prints the kernel version.
#
# The config is x86_64_defconfig minus what a serial-console QEMU guest
# never touches, plus KASAN, lockdep, kmemleak, fault injection and the DRM
# pieces npu.ko needs, as modules so the guest's init loads them as usual.
# usage: debug-kernel.sh CACHE_DIR
set -eu
# Called from make: its O= (make test passes O=build) must not reach the
# kernel's own make, which would take it for an out-of-tree build.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
cache=$(realpath -m "$1")
src="$cache/src"
tarball=/usr/src/linux-source-6.12.tar.xz
stamp="$cache/config.sha"

# The cache is valid for this script's config: a changed script rebuilds.
want=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$cache/version" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
	[ -f "$cache/root/lib/modules/$(cat "$cache/version")/modules.dep" ]; then
	cat "$cache/version"
	exit 0
fi
[ -f "$tarball" ] || { echo "debug-kernel.sh: $tarball missing (apt-get install linux-source-6.12)" >&2; exit 1; }

# A kernel build needs more than the module build: only this lane asks.
need=
for p in flex bison bc libelf-dev libssl-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
	echo "debug-kernel.sh: installing$need" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
fi

mkdir -p "$cache"
if [ ! -f "$src/Makefile" ]; then
	rm -rf "$src" "$cache/linux-source-6.12"
	echo "debug-kernel.sh: unpacking $tarball" >&2
	tar -C "$cache" -xf "$tarball"
	mv "$cache/linux-source-6.12" "$src"
fi

cd "$src"
make -s x86_64_defconfig >&2
cfg() { scripts/config --file .config "$@"; }
# Not needed by a guest on a serial console with an initramfs: the bulk of
# defconfig's build time (i915 alone is a quarter of it).
cfg -d DRM_I915 -d SOUND -d WLAN -d WIRELESS -d CFG80211 -d MAC80211 -d NETDEVICES \
	-d HID -d NETFILTER -d IPV6 -d EFI -d HIBERNATION -d SUSPEND \
	-d BLK_DEV_SD -d ATA -d SCSI -d MD -d EXT4_FS -d AGP -d FB -d DRM_FBDEV_EMULATION \
	-d LOGO -d INPUT_MOUSE -d INPUT_JOYSTICK -d INPUT_TABLET -d INPUT_TOUCHSCREEN \
	-d SECURITY_SELINUX -d AUDIT -d KVM -d XEN -d HYPERV
# npu-server's link to the host's clients: virtio-net alone of the network drivers.
cfg -e NETDEVICES -d ETHERNET -e VIRTIO_MENU -e VIRTIO_PCI -m VIRTIO_NET
# What npu.ko needs, as modules: vgem pulls in drm_shmem_helper, and
# panfrost (visible on x86 only with COMPILE_TEST) is the smallest driver that
# selects gpu-sched.
cfg -m DRM -e DRM_ACCEL -m DRM_VGEM -e COMPILE_TEST -m DRM_PANFROST -e DEBUG_FS \
	-e DMA_SHARED_BUFFER -e SYNC_FILE
# The USB NPU's link in the guest: dummy_hcd, configfs gadgets, FunctionFS.
cfg -e USB_SUPPORT -e USB -e USB_GADGET -m USB_DUMMY_HCD -m USB_LIBCOMPOSITE -m USB_F_FS \
	-m USB_CONFIGFS -e USB_CONFIGFS_F_FS -e CONFIGFS_FS
# The bug finders.
cfg -e KASAN -e KASAN_GENERIC -e KASAN_INLINE -e KASAN_VMALLOC \
	-e PROVE_LOCKING -e DEBUG_LOCK_ALLOC -e DEBUG_ATOMIC_SLEEP -e DEBUG_MUTEXES \
	-e DEBUG_SPINLOCK -e DEBUG_RWSEMS -e DEBUG_WW_MUTEX_SLOWPATH -e PROVE_RCU \
	-e DEBUG_KMEMLEAK -d DEBUG_KMEMLEAK_DEFAULT_OFF -e DEBUG_KMEMLEAK_AUTO_SCAN \
	--set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 64000 \
	-e FAULT_INJECTION -e FAILSLAB -e FAIL_PAGE_ALLOC -e FAULT_INJECTION_DEBUG_FS \
	-e DEBUG_OBJECTS -e DEBUG_OBJECTS_FREE -e DEBUG_OBJECTS_TIMERS -e DEBUG_OBJECTS_WORK \
	-e DEBUG_OBJECTS_RCU_HEAD -e DEBUG_LIST -e DEBUG_SG -e DEBUG_VM \
	-e SLUB_DEBUG -e DETECT_HUNG_TASK -e SOFTLOCKUP_DETECTOR \
	-d DEBUG_INFO_BTF -e DEBUG_INFO_NONE -d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
	--set-str LOCALVERSION -npudebug -d LOCALVERSION_AUTO
make -s olddefconfig >&2
# olddefconfig silently drops what it cannot satisfy: check the essentials.
for opt in KASAN PROVE_LOCKING DEBUG_KMEMLEAK FAULT_INJECTION FAILSLAB DRM_ACCEL; do
	grep -qx "CONFIG_$opt=y" .config ||
		{ echo "debug-kernel.sh: CONFIG_$opt did not stay enabled" >&2; exit 1; }
done
for opt in DRM DRM_SCHED DRM_GEM_SHMEM_HELPER USB_DUMMY_HCD USB_LIBCOMPOSITE USB_F_FS \
	VIRTIO_NET; do
	grep -qx "CONFIG_$opt=m" .config ||
		{ echo "debug-kernel.sh: CONFIG_$opt is not a module" >&2; exit 1; }
done

jobs=$(nproc)
start=$(date +%s)
echo "debug-kernel.sh: building with $jobs jobs (long: tens of minutes on 2 cores)" >&2
make -s -j"$jobs" bzImage modules >&2
kver=$(make -s kernelrelease)
rm -rf "$cache/root"
mkdir -p "$cache/root/boot" "$cache/root/usr/src"
cp arch/x86/boot/bzImage "$cache/root/boot/vmlinuz-$kver"
make -s INSTALL_MOD_PATH="$cache/root" INSTALL_MOD_STRIP=1 modules_install >&2
ln -sfn "$src" "$cache/root/usr/src/linux-headers-$kver"
echo "debug-kernel.sh: built $kver in $(($(date +%s) - start)) s" >&2
echo "$want" > "$stamp"
echo "$kver" > "$cache/version"
echo "$kver"
