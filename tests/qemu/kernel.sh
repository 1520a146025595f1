#!/bin/sh
# Fetch (once) the newest Debian 12 Linux 6.12 kernel image and its exact
# headers into a cache folder, without installing them: apt-get download +
# dpkg -x, so no initramfs hook runs. Prints the kernel version.
# usage: kernel.sh CACHE_DIR
set -eu
cache=$(realpath -m "$1")
mkdir -p "$cache"

if [ -f "$cache/version" ] && [ -f "$cache/root/lib/modules/$(cat "$cache/version")/modules.order" ]; then
	cat "$cache/version"
	exit 0
fi

# apt-cache only knows packages after an update; an old list may miss 6.12.
if ! apt-cache show 'linux-image-6.12.*+deb12-amd64-unsigned' >/dev/null 2>&1; then
	apt-get update -q >&2
fi
pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
	awk '{print $1}' | sort -V | tail -1)
if [ -z "$pkg" ]; then
	echo "kernel.sh: no linux-image-6.12.*+deb12-amd64-unsigned in the apt sources" >&2
	exit 1
fi
kver=${pkg#linux-image-}
kver=${kver%-unsigned}
kabi=${kver%-amd64}		# 6.12.N+deb12

rm -rf "$cache/debs" "$cache/root"
mkdir -p "$cache/debs" "$cache/root"
# apt's sandbox user cannot write into root-owned build folders.
chmod 777 "$cache/debs"
(cd "$cache/debs" && apt-get download -q "$pkg" "linux-headers-$kver" \
	"linux-headers-$kabi-common" "linux-kbuild-$kabi" >&2)
for deb in "$cache"/debs/*.deb; do
	dpkg -x "$deb" "$cache/root"
done
# The headers' Makefile includes the common part by absolute path.
sed -i "s|/usr/src/|$cache/root/usr/src/|" "$cache/root/usr/src/linux-headers-$kver/Makefile"
rm -rf "$cache/debs"
echo "$kver" > "$cache/version"
echo "$kver"
