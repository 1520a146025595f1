#!/bin/sh
# Quantization's cost as llama.cpp measures it: llama-perplexity's KL
# divergence against the F32 model, on held-out text, for llama-quantize's
# Q8_0, Q4_1 and Q4_0 and for npu-quantize's Q4_0 (GPTQ), then npu-run's
# device path (integer activations) on each file against the same F32
# model. llama.cpp is built once from node-llama-cpp@3.22.1's bundled
# source (CPU only) into ${XDG_CACHE_HOME:-~/.cache}/npu-llama/build,
# outside the clone. The held-out text is a story the F32 model samples
# with seeds from 4242 (npu-quantize's calibration uses seeds from 1).
# usage: tools/accuracy-peer.sh [BUILD_DIR] [MODELS_DIR]
# Prints one markdown table (docs/accuracy.md has it, with this command).
set -eu
O=${1:-build}
models=${2:-../shared/models}
version=$(sed -n 's/^VERSION=//p' tests/llama/fetch.sh)	# the pinned node-llama-cpp
cache=${XDG_CACHE_HOME:-$HOME/.cache}/npu-llama
src=$cache/llama.cpp-$version
bin=$src/build/bin
f32=$models/stories260K.gguf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in npm git cmake python3; do
	command -v $tool >/dev/null || { echo "accuracy-peer.sh: no $tool" >&2; exit 1; }
done
[ -f "$f32" ] || { echo "accuracy-peer.sh: no $f32" >&2; exit 1; }
[ -x "$O/bin/npu-run" ] && [ -x "$O/bin/npu-quantize" ] ||
	{ echo "accuracy-peer.sh: no $O/bin/npu-run or npu-quantize (make first)" >&2; exit 1; }

if [ ! -x "$bin/llama-perplexity" ] || [ ! -x "$bin/llama-quantize" ]; then
	echo "accuracy-peer.sh: building llama.cpp from node-llama-cpp@$version into $src" >&2
	npm pack --loglevel=error --pack-destination "$work" "node-llama-cpp@$version" >/dev/null
	tar -xzf "$work/node-llama-cpp-$version.tgz" -C "$work" package/llama/gitRelease.bundle
	rm -rf "$src"
	git clone -q "$work/package/llama/gitRelease.bundle" "$src"
	cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
		-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >&2
	cmake --build "$src/build" -j"$(nproc)" --target llama-perplexity llama-quantize >&2
fi

# The held-out text: stories the F32 model samples (seeds 4242 on), until
# about 1,200 tokens (5,000 bytes), one after another.
: >"$work/held.txt"
seed=4242
while [ "$(wc -c < "$work/held.txt")" -lt 5000 ]; do
	"$O/bin/npu-run" --model "$f32" --device float --prompt "Once upon a time" --steps 400 \
		--temperature 1 --seed $seed --json 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["text"])' >>"$work/held.txt"
	seed=$((seed + 1))
done

# llama-perplexity's figures for FILE against the F32 base: mean KL, same top-1.
"$bin/llama-perplexity" -m "$f32" -f "$work/held.txt" -c 128 -b 128 \
	--kl-divergence-base "$work/base.kld" >"$work/base.log" 2>&1 ||
	{ tail -5 "$work/base.log" >&2; exit 1; }
peer() {
	"$bin/llama-perplexity" -m "$1" -f "$work/held.txt" -c 128 -b 128 \
		--kl-divergence-base "$work/base.kld" --kl-divergence >"$work/kl.log" 2>&1 ||
		{ tail -5 "$work/kl.log" >&2; return 1; }
	kl=$(sed -n 's/^Mean *KLD: *\([0-9.e+-]*\).*/\1/p' "$work/kl.log")
	top=$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' "$work/kl.log")
	echo "$kl $top"
}
# npu-run's device path (cpu backend, bit-exact with the NPU) against the
# F32 model on the held-out text's first 480 tokens (the context is 512).
device() {
	"$O/bin/npu-run" --model "$1" --device cpu --steps 1 --compare --reference "$f32" \
		--text "$(head -c 2000 "$work/held.txt")" --json 2>/dev/null |
		python3 -c 'import json, sys; t = json.load(sys.stdin)["compare"]["text"]
print("%.3g %.1f" % (t["mean_kl"], 100 * t["top1_agreement"]))'
}

for t in Q8_0 Q4_1 Q4_0; do
	"$bin/llama-quantize" "$f32" "$work/$t.gguf" "$t" >"$work/q.log" 2>&1 ||
		{ tail -5 "$work/q.log" >&2; exit 1; }
done
"$O/bin/npu-quantize" -m "$f32" -o "$work/npu-Q4_0.gguf" >&2

echo "held-out text: $(wc -w < "$work/held.txt") words ($((seed - 4242)) stories); llama.cpp $(git -C "$src" describe --tags \
	--always 2>/dev/null); host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "| file | llama-perplexity mean KL | same top-1 | npu-run device KL | device top-1 |"
echo "|---|---:|---:|---:|---:|"
for f in Q8_0 Q4_1 Q4_0 npu-Q4_0; do
	name="llama-quantize $f"
	[ "$f" = npu-Q4_0 ] && name="npu-quantize Q4_0 (GPTQ)"
	p=$(peer "$work/$f.gguf") && d=$(device "$work/$f.gguf") ||
		{ echo "accuracy-peer.sh: $name could not be measured" >&2; exit 1; }
	# shellcheck disable=SC2086 # two figures each, split on purpose
	set -- $p $d
	echo "| $name | $1 | $2% | $3 | $4% |"
done
