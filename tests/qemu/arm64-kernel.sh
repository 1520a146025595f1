#!/bin/sh
# Fetch (once) Debian 12's arm64 Linux 6.12 image, its exact headers and
# its busybox, as kernel.sh does for amd64, and give the image a drm.ko
# with DRM accel: Debian's arm64 kernel has CONFIG_DRM_ACCEL off (amd64
# has it on), so npu.ko would not load ("Unknown symbol accel_open").
# drm.ko is rebuilt from linux-source-6.12 of the image's own version,
# against the image's headers with DRM accel defined, as an external
# module (about a minute); the rest of the DRM stack stays Debian's. Its
# symbols go to drm.symvers, for npu.ko's build. The cache: version,
# root/ (boot/vmlinuz-V, lib/modules/V, usr/src/linux-headers-V),
# busybox, drm.symvers. Prints the kernel version.
#
# Why not an arm64 kernel built whole from linux-source-6.12 (as the debug
# lane builds its x86 one)? That is tens of minutes on two cores for
# every fresh cache; this is a minute, and it fails loudly (below) when
# the archive's image and linux-source-6.12 part ways.
# usage: arm64-kernel.sh CACHE_DIR
set -eu
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
cache=$(realpath -m "$1")
tarball=/usr/src/linux-source-6.12.tar.xz
cross=aarch64-linux-gnu-
mkdir -p "$cache"

if [ -f "$cache/version" ] && [ -f "$cache/drm.symvers" ] && [ -x "$cache/busybox" ] &&
	[ -f "$cache/root/lib/modules/$(cat "$cache/version")/modules.dep" ]; then
	cat "$cache/version"
	exit 0
fi
[ -f "$tarball" ] || { echo "arm64-kernel.sh: $tarball missing (apt-get install linux-source-6.12)" >&2; exit 1; }

# The image of linux-source-6.12's own version: drm.ko must match it exactly.
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12)	# 6.12.N-1~deb12u1
kabi=${srcver%%-*}+deb12					# 6.12.N+deb12
kver=$kabi-arm64
if ! apt-cache show "linux-image-$kver-unsigned:arm64" >/dev/null 2>&1; then
	apt-get update -q >&2
	apt-cache show "linux-image-$kver-unsigned:arm64" >/dev/null 2>&1 || {
		echo "arm64-kernel.sh: no linux-image-$kver-unsigned:arm64 in the apt sources, for linux-source-6.12 $srcver" >&2
		exit 1
	}
fi

rm -rf "$cache/debs" "$cache/root" "$cache/drm" "$cache/version"
mkdir -p "$cache/debs" "$cache/root" "$cache/drm"
chmod 777 "$cache/debs"
(cd "$cache/debs" && apt-get download -q "linux-image-$kver-unsigned:arm64" \
	"linux-headers-$kver:arm64" "linux-headers-$kabi-common" "linux-kbuild-$kabi" \
	busybox-static:arm64 >&2)
for deb in "$cache"/debs/linux-*.deb; do
	dpkg -x "$deb" "$cache/root"
done
dpkg -x "$cache"/debs/busybox-static_*.deb "$cache/debs/busybox"
cp "$cache/debs/busybox/bin/busybox" "$cache/busybox"
headers="$cache/root/usr/src/linux-headers-$kver"
sed -i "s|/usr/src/|$cache/root/usr/src/|" "$headers/Makefile"
rm -rf "$cache/debs"

# drm.ko: the objects drivers/gpu/drm/Makefile lists for it, with DRM accel.
echo "arm64-kernel.sh: building drm.ko with DRM accel for $kver" >&2
tar -C "$cache/drm" --strip-components=1 -xf "$tarball" \
	linux-source-6.12/drivers/gpu/drm linux-source-6.12/drivers/accel/drm_accel.c
d="$cache/drm/drivers/gpu/drm"
cp "$cache/drm/drivers/accel/drm_accel.c" "$d/"
# The trace header names itself by a path from the tree's include/trace.
mkdir -p "$cache/drm/include/trace"
{
	echo "CONFIG_DRM_ACCEL := y"
	echo "ccflags-y += -DCONFIG_DRM_ACCEL=1"
	echo "CFLAGS_drm_trace_points.o := -I\$(src)/../../../include/trace"
	sed -n '/^drm-y := /,/^obj-\$(CONFIG_DRM)/p' "$cache/drm/drivers/gpu/drm/Makefile" |
		sed 's|\.\./\.\./accel/drm_accel\.o|drm_accel.o|'
} > "$d/Kbuild"
make -C "$headers" M="$d" ARCH=arm64 CROSS_COMPILE=$cross -j"$(nproc)" modules >&2
mod="$cache/root/lib/modules/$kver"
drm=$(find "$mod/kernel/drivers/gpu/drm" -maxdepth 1 -name 'drm.ko*')
rm -f "$drm"
${cross}strip --strip-debug -o "$mod/kernel/drivers/gpu/drm/drm.ko" "$d/drm.ko"
cp "$d/Module.symvers" "$cache/drm.symvers"
grep -q 'accel_open' "$cache/drm.symvers" ||
	{ echo "arm64-kernel.sh: the rebuilt drm.ko exports no accel_open" >&2; exit 1; }
depmod -b "$cache/root" "$kver"
rm -rf "$cache/drm"
echo "$kver" > "$cache/version"
echo "$kver"
