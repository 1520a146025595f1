#!/bin/sh
# The oracle's test files: each input model written F16 by npu-gguf, then
# quantized by llama.cpp (ggml-oracle quantize, as llama-quantize) into each
# type, and each type's tensors dequantized by ggml (ggml-oracle dequant).
# Outputs are reused while the F16 input and the oracle's version are
# unchanged. Prints one line per file made or reused, with times.
# usage: make-files.sh ORACLE NPU_GGUF MODELS OUT_DIR VERSIONS_FILE
#        make-files.sh --list: the files' names (MODEL/TYPE), one a line
# Leaves OUT_DIR/MODEL/{f16.gguf,TYPE.gguf,TYPE.bin} for MODEL in 110m
# (synthetic: widths 768 and 2048, multiples of 256 for the K-quants), k256
# (synthetic, widths 256 and 768: small enough to run in the QEMU guest) and
# stories260K (MODELS/stories260K.bin, tok512.bin: widths 64 and 172, where
# llama.cpp falls back to other types for some tensors).
set -eu
TYPES="Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K"
if [ "${1:-}" = --list ]; then
	for m in 110m k256 stories260K; do
		for t in $TYPES; do echo "$m/$t"; done
	done
	exit 0
fi
oracle=$1
npu_gguf=$2
models=$3
out=$4
versions=$5

now() { date +%s.%N; }
# Seconds from $1 to $2 (default: now).
secs() { echo "${2:-$(now)} $1" | awk '{ printf "%.1f s", $1 - $2 }'; }

# make_model NAME NPU_GGUF_ARGS...
make_model() {
	name=$1
	shift
	dir=$out/$name
	mkdir -p "$dir"
	t0=$(now)
	"$npu_gguf" "$@" --type f16 -o "$dir/f16.gguf.new"
	# A new input or another llama.cpp: every output goes.
	if ! cmp -s "$dir/f16.gguf.new" "$dir/f16.gguf" ||
		! cmp -s "$versions" "$dir/VERSIONS"; then
		rm -f "$dir"/*.done "$dir"/Q*.gguf "$dir"/Q*.bin
		mv "$dir/f16.gguf.new" "$dir/f16.gguf"
		cp "$versions" "$dir/VERSIONS"
		echo "make-files: $name/f16.gguf written ($(secs "$t0"))"
	else
		rm "$dir/f16.gguf.new"
		echo "make-files: $name/f16.gguf unchanged ($(secs "$t0"))"
	fi
	for type in $TYPES; do
		if [ -f "$dir/$type.done" ]; then
			echo "make-files: $name/$type reused"
			continue
		fi
		t0=$(now)
		"$oracle" quantize "$dir/f16.gguf" "$dir/$type.gguf" "$type"
		t1=$(now)
		"$oracle" dequant "$dir/$type.gguf" "$dir/$type.bin"
		touch "$dir/$type.done"
		echo "make-files: $name/$type: quantize $(secs "$t0" "$t1"), dequant $(secs "$t1")"
	done
}

for f in stories260K.bin tok512.bin; do
	if [ ! -f "$models/$f" ]; then
		echo "make-files: $models/$f is missing (NPU_MODELS, MODELS=)" >&2
		exit 1
	fi
done
make_model 110m --synthetic 110m
make_model k256 --synthetic k256
make_model stories260K --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin"
