#!/bin/sh
# Generate the seed corpora of the fuzz harnesses (nothing binary is
# committed): OUT_DIR/fuzz_cmdstream, OUT_DIR/fuzz_image, OUT_DIR/fuzz_model,
# OUT_DIR/fuzz_vocab.
# usage: make-seeds.sh OUT_DIR [BUILD_DIR]
#   BUILD_DIR (default build): where firmware/npu_fw.bin and fuzz/seedgen
#   are. Without a built seedgen, tests/fuzz/seedgen.c is compiled with $CC
#   into OUT_DIR/.seedgen.
# Environment: NPU_FW_IMAGE (default BUILD_DIR/firmware/npu_fw.bin),
#   NPU_MODELS (default ../shared/models, beside the source tree),
#   SEEDGEN (default BUILD_DIR/fuzz/seedgen).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUT_DIR [BUILD_DIR]" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
build=${2:-$root/build}
image=${NPU_FW_IMAGE:-$build/firmware/npu_fw.bin}
models=${NPU_MODELS:-$root/../shared/models}
seedgen=${SEEDGEN:-$build/fuzz/seedgen}

rm -rf "$out/fuzz_cmdstream" "$out/fuzz_image" "$out/fuzz_model" "$out/fuzz_vocab"
mkdir -p "$out/fuzz_cmdstream" "$out/fuzz_image" "$out/fuzz_model" "$out/fuzz_vocab"

if [ ! -x "$seedgen" ]; then
	seedgen=$out/.seedgen
	drm=$(pkg-config --cflags libdrm 2>/dev/null || echo -I/usr/include/libdrm)
	# shellcheck disable=SC2086
	${CC:-cc} -std=gnu11 -O1 -Wall -Wextra $drm -o "$seedgen" "$root/tests/fuzz/seedgen.c"
fi
"$seedgen" "$out"

# Firmware images: the built one, its header alone, a truncated header.
if [ -f "$image" ]; then
	cp "$image" "$out/fuzz_image/npu_fw.bin"
	chmod 644 "$out/fuzz_image/npu_fw.bin"
	dd if="$image" of="$out/fuzz_image/npu_fw-header.bin" bs=192 count=1 2>/dev/null
	dd if="$image" of="$out/fuzz_image/npu_fw-truncated.bin" bs=100 count=1 2>/dev/null
else
	echo "make-seeds.sh: warning: no firmware image at $image; fuzz_image gets a stub seed" >&2
	printf 'NPFW' >"$out/fuzz_image/magic-only.bin"
fi

# Models: the first 4 KiB of a real checkpoint and its tokenizer when present
# (seedgen always writes a synthetic checkpoint, headers, a tokenizer, and
# GGUF models whole and broken: aliased tensors, duplicate keys and tensor
# names, many tensors, names that need escaping, a long text to encode).
if [ -f "$models/stories260K.bin" ]; then
	dd if="$models/stories260K.bin" of="$out/fuzz_model/stories260K-4k.bin" bs=4096 count=1 \
		2>/dev/null
fi
# GGUF: the metadata and tensor descriptors of the real file (its tensor
# data is past the harness's length limit).
if [ -f "$models/stories260K.gguf" ]; then
	dd if="$models/stories260K.gguf" of="$out/fuzz_model/stories260K-16k.gguf" bs=16384 count=1 \
		2>/dev/null
fi
if [ -f "$models/tok512.bin" ]; then
	cp "$models/tok512.bin" "$out/fuzz_model/tok512.bin"
	chmod 644 "$out/fuzz_model/tok512.bin"
fi

for d in fuzz_cmdstream fuzz_image fuzz_model fuzz_vocab; do
	echo "seeds: $out/$d: $(find "$out/$d" -type f | wc -l) files"
done
