#!/bin/sh
# make install into a fresh DESTDIR with PREFIX=/usr, then build an
# application against the installed tree with pkg-config alone (shared
# and static), run it, check every installed part, and make uninstall,
# which must leave no file behind. Prints PASS/FAIL lines.
# usage: install-check.sh BUILD_DIR
set -u
build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
dest=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$dest" "$log"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; cat "$log"; }

if make -s --no-print-directory -C "$top" O="$build" DESTDIR="$dest" PREFIX=/usr install \
	>"$log" 2>&1; then
	pass make_install
else
	fail make_install
	exit 1
fi

# pkg-config sees only the DESTDIR tree (and libdrm, which npu.pc requires).
export PKG_CONFIG_SYSROOT_DIR="$dest"
export PKG_CONFIG_LIBDIR="$dest/usr/lib/pkgconfig:$(pkg-config --variable pc_path pkg-config)"
cflags=$(pkg-config --cflags npu) && libs=$(pkg-config --libs npu) &&
	static=$(pkg-config --static --libs npu)
# shellcheck disable=SC2086
if [ -n "$libs" ] && ${CC:-cc} -Wall -Werror $cflags "$top/tests/install/consumer.c" \
	-o "$dest/consumer" $libs >"$log" 2>&1 &&
	LD_LIBRARY_PATH="$dest/usr/lib" "$dest/consumer" >>"$log" 2>&1 &&
	LD_LIBRARY_PATH="$dest/usr/lib" ldd "$dest/consumer" | grep -q "$dest/usr/lib/libnpu.so.0"; then
	pass pkg_config_shared_build_runs
else
	fail pkg_config_shared_build_runs
fi
# shellcheck disable=SC2086
if ${CC:-cc} -Wall -Werror $cflags "$top/tests/install/consumer.c" -o "$dest/consumer-static" \
	-Wl,-Bstatic -lnpu -Wl,-Bdynamic $(echo "$static" | sed 's/-lnpu//') >"$log" 2>&1 &&
	"$dest/consumer-static" >>"$log" 2>&1 && ! ldd "$dest/consumer-static" | grep -q libnpu; then
	pass pkg_config_static_build_runs
else
	fail pkg_config_static_build_runs
fi

# The example in examples/: libnpu-llm through pkg-config alone, its text
# the same as npu-run's (both greedy, 32 tokens, the installed npu-run).
models=${NPU_MODELS:-$top/../shared/models}
prompt="Once upon a time"
llm_cflags=$(pkg-config --cflags npu-llm) && llm_libs=$(pkg-config --libs npu-llm)
# shellcheck disable=SC2086
if [ ! -f "$models/stories260K.bin" ]; then
	echo "no $models/stories260K.bin" >"$log"
	fail example_generate_runs
elif [ -n "$llm_libs" ] && ${CC:-cc} -Wall -Wextra -Werror $llm_cflags "$top/examples/generate.c" \
	-o "$dest/generate" $llm_libs >"$log" 2>&1 &&
	LD_LIBRARY_PATH="$dest/usr/lib" NPU_DEVICE=cpu "$dest/generate" "$models/stories260K.bin" \
		"$prompt" >"$dest/example.out" 2>>"$log" &&
	LD_LIBRARY_PATH="$dest/usr/lib" ldd "$dest/generate" | grep -q "$dest/usr/lib/libnpu-llm.so.1" &&
	LD_LIBRARY_PATH="$dest/usr/lib" "$dest/usr/bin/npu-run" --device cpu --model \
		"$models/stories260K.bin" --prompt "$prompt" --steps 32 2>/dev/null |
	sed '/^---$/,$d' >"$dest/run.out" &&
	{ printf '%s' "$prompt"; cat "$dest/example.out"; } | cmp -s - "$dest/run.out"; then
	pass example_generate_runs
else
	{ echo "example:"; cat "$dest/example.out"; echo "npu-run:"; cat "$dest/run.out"; } >>"$log" 2>&1
	fail example_generate_runs
fi
rm -f "$dest/generate" "$dest/example.out" "$dest/run.out"

missing=
for f in usr/bin/npu-info usr/bin/npu-run usr/bin/npu-bench usr/bin/npu-numerics \
	usr/bin/npu-gguf usr/bin/npu-usb-gadget usr/bin/npu-tokenize usr/bin/npu-server \
	usr/bin/npu-devd usr/share/man/man1/npu-devd.1 \
	usr/share/man/man1/npu-server.1 usr/share/man/man1/npu-tokenize.1 \
	usr/include/npu/npu.h usr/include/npu/model.h \
	usr/include/npu/llm.h usr/lib/libnpu-llm.a usr/lib/libnpu-llm.so.1 \
	usr/lib/pkgconfig/npu-llm.pc \
	usr/include/drm/npu_accel.h usr/include/drm/npu_cmd.h usr/share/man/man1/npu-usb-gadget.1 \
	usr/lib/libnpu.a usr/lib/libnpu.so.0 usr/share/man/man1/npu-run.1 \
	usr/share/man/man1/npu-info.1 lib/firmware/npu/npu_fw.bin lib/udev/rules.d/70-npu.rules; do
	[ -e "$dest/$f" ] || missing="$missing $f"
done
if [ -z "$missing" ] && man -l "$dest/usr/share/man/man1/npu-run.1" >/dev/null 2>&1 &&
	cmp -s "$dest/lib/firmware/npu/npu_fw.bin" "$build/firmware/npu_fw.bin"; then
	pass installed_parts
else
	echo "missing:$missing" >"$log"
	fail installed_parts
fi

# The Python package: imported from the DESTDIR, the installed libnpu-llm.so.1 found through
# LD_LIBRARY_PATH, and a synthetic model run.
py=python3
pydir="$dest/usr/lib/python3/dist-packages"
if PYTHONPATH="$pydir" PYTHONDONTWRITEBYTECODE=1 LD_LIBRARY_PATH="$dest/usr/lib" "$py" -c '
import sys, npu
assert npu.__file__.startswith(sys.argv[1]), npu.__file__
with npu.load(None, device="cpu") as m:
    g = m.generate("x", max_tokens=4)
    g.read()
    assert g.stats.prompt_tokens > 0 and m.info.name == "synthetic tiny", m.info
assert sys.argv[2] + "/libnpu-llm.so.1" in open("/proc/self/maps").read()
' "$pydir" "$dest/usr/lib" >"$log" 2>&1; then
	pass python_package_installed
else
	fail python_package_installed
fi

# The installed uapi headers stand alone: the command-stream format on
# <linux/types.h> alone, the ioctls with libdrm's drm.h (the system's).
uapi_builds() {
	# shellcheck disable=SC2086
	printf '#include <drm/%s>\nint main(void) { return DRM_NPU_OP_COUNT != 15; }\n' "$1" |
		${CC:-cc} -Wall -Werror -x c - -o "$dest/uapi" -I"$dest/usr/include" $2 &&
		"$dest/uapi"
}
if { uapi_builds npu_cmd.h "" &&
	uapi_builds npu_accel.h "$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --cflags libdrm)"; } \
	>"$log" 2>&1; then
	pass uapi_headers_standalone
else
	fail uapi_headers_standalone
fi

rm -f "$dest/consumer" "$dest/consumer-static" "$dest/uapi"
make -s --no-print-directory -C "$top" O="$build" DESTDIR="$dest" PREFIX=/usr uninstall \
	>"$log" 2>&1
left=$(find "$dest" \( -type f -o -type l \))
if [ -z "$left" ]; then
	pass make_uninstall_leaves_nothing
else
	echo "left behind: $left" >"$log"
	fail make_uninstall_leaves_nothing
fi
