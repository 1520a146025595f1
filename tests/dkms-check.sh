#!/bin/sh
# Build npu.ko the way DKMS does on a user's machine: the module source
# registered as npu/VERSION (dkms add) and built for the guest's kernel
# (dkms build), in private DKMS trees under BUILD_DIR/dkms so the host's
# own /usr/src and /var/lib/dkms stay untouched. Leaves the module at
# BUILD_DIR/dkms/npu.ko for the guest's smoke run.
# usage: dkms-check.sh BUILD_DIR KERNEL_DIR KERNEL_VERSION VERSION
set -eu
# DKMS runs its own make: variables of the make that called this script
# (O=build from make test) must not leak into the kernel's build.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
build=$(realpath "$1")
kdir=$(realpath "$2")
kver=$3
version=$4
top=$(cd "$(dirname "$0")/.." && pwd)
base=$build/dkms
src=$base/src/npu-$version

rm -rf "$base"
mkdir -p "$src" "$base/tree"
cp -r "$top/Kbuild" "$top/driver" "$top/firmware" "$top/uapi" "$src/"
sed "s|@VERSION@|$version|" "$top/packaging/dkms.conf.in" > "$src/dkms.conf"
dkms add -m npu -v "$version" --sourcetree "$base/src" --dkmstree "$base/tree"
dkms build -m npu -v "$version" -k "$kver" --kernelsourcedir "$kdir" \
	--sourcetree "$base/src" --dkmstree "$base/tree" || {
	cat "$base/tree/npu/$version/build/make.log" 2>/dev/null | tail -30
	exit 1
}
ko=$(find "$base/tree/npu/$version/$kver" -name 'npu.ko*' | head -1)
[ -n "$ko" ] || { echo "dkms-check: dkms build left no npu.ko" >&2; exit 1; }
case $ko in
*.xz) xz -dc "$ko" > "$base/npu.ko" ;;
*.zst) zstd -qdc "$ko" > "$base/npu.ko" ;;
*) cp "$ko" "$base/npu.ko" ;;
esac
dkms status -m npu --sourcetree "$base/src" --dkmstree "$base/tree"
echo "dkms-check: npu/$version built for $kver by dkms: $ko"
