#!/bin/sh
# Install the Debian packages the build and the tests need, once.
# Idempotent: it asks apt only for what dpkg says is missing.
set -eu

PKGS="build-essential pkg-config libdrm-dev libusb-1.0-0-dev libudev-dev libcmocka-dev libpcre2-dev binutils dwarves sparse qemu-system-x86 qemu-user busybox-static cpio xz-utils kmod linux-source-6.12 valgrind clang libclang-rt-14-dev dkms git tmux python3-pytest libmicrohttpd-dev libjson-c-dev curl chromium"

# make arm64-check: the cross compiler, the arm64 -dev packages and
# sanitizer runtimes (Debian's multiarch), and QEMU for an aarch64 guest.
ARM64_PKGS="gcc-aarch64-linux-gnu libc6-dev:arm64 libdrm-dev:arm64 libusb-1.0-0-dev:arm64 libudev-dev:arm64 libcmocka-dev:arm64 libpcre2-dev:arm64 libmicrohttpd-dev:arm64 libjson-c-dev:arm64 libasan8:arm64 libubsan1:arm64 qemu-system-arm"
PKGS="$PKGS $ARM64_PKGS"
arm64_known=1
dpkg --print-foreign-architectures | grep -qx arm64 || arm64_known=0

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# npm (make llama-check's fetch): Debian's, unless one came with Node.js.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
[ "$arm64_known" = 1 ] || $SUDO dpkg --add-architecture arm64
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
