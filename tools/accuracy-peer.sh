#!/bin/sh
# Quantization's cost as llama.cpp measures it: llama-perplexity's KL
# divergence against the F32 model, on held-out text, for llama-quantize's
# Q8_0, Q4_1 and Q4_0 and for npu-quantize's Q4_0 (three calibration
# texts), then npu-run's device path (integer activations) on each file
# and the device's own W8 against the same F32 model. llama.cpp is built
# once from node-llama-cpp@3.22.1's bundled source (CPU only) into
# ${XDG_CACHE_HOME:-~/.cache}/npu-llama/llama.cpp-VERSION, outside the
# clone. The held-out text is stories the F32 model samples with seeds
# from 4242 (npu-quantize's calibration samples from seeds 1 to 3).
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

# Not -march=native: a host may list AMX (or another extension) that its
# hypervisor does not enable (SIGILL in ggml's AMX kernels on such a VM), and
# a cache may outlive the machine that built it. AVX2 runs on every x86-64
# host this project supports.
flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
if [ ! -x "$bin/llama-perplexity" ] || [ ! -x "$bin/llama-quantize" ] ||
	[ "$(cat "$src/build/npu-flags" 2>/dev/null)" != "$flags" ]; then
	echo "accuracy-peer.sh: building llama.cpp from node-llama-cpp@$version into $src" >&2
	npm pack --loglevel=error --pack-destination "$work" "node-llama-cpp@$version" >/dev/null
	tar -xzf "$work/node-llama-cpp-$version.tgz" -C "$work" package/llama/gitRelease.bundle
	rm -rf "$src"
	git clone -q "$work/package/llama/gitRelease.bundle" "$src"
	# shellcheck disable=SC2086 # the flags are words
	cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
		$flags -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >&2
	cmake --build "$src/build" -j"$(nproc)" --target llama-perplexity llama-quantize >&2
	echo "$flags" >"$src/build/npu-flags"
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
	# Now and then llama-perplexity exits 0 with its log's last lines (the
	# summary) lost: its logger's thread is not drained at exit. Try again.
	for try in 1 2 3 4 5; do
		"$bin/llama-perplexity" -m "$1" -f "$work/held.txt" -c 128 -b 128 \
			--kl-divergence-base "$work/base.kld" --kl-divergence \
			>"$work/kl.log" 2>&1 || { tail -5 "$work/kl.log" >&2; return 1; }
		kl=$(sed -n 's/^Mean *KLD: *\([0-9.e+-]*\).*/\1/p' "$work/kl.log")
		top=$(sed -n 's/^Same top p: *\([0-9.]*\).*/\1/p' "$work/kl.log")
		[ -n "$kl" ] && [ -n "$top" ] && { echo "$kl $top"; return 0; }
		echo "accuracy-peer.sh: llama-perplexity's summary missing (try $try)" >&2
	done
	return 1
}
# npu-run's device path (cpu backend, bit-exact with the NPU) against the
# F32 model: over llama-perplexity's own windows (128-token chunks, the
# second half of each), then over one window, the held-out text's first
# 480 tokens (the context is 512), where later positions see longer
# contexts. $2...: more npu-run arguments (--weights w8).
device() {
	f=$1
	shift
	"$O/bin/npu-run" --model "$f" "$@" --device cpu --steps 1 --compare --reference "$f32" \
		--text "$(cat "$work/held.txt")" --chunks 128 --json >"$work/d1.json" 2>/dev/null &&
	"$O/bin/npu-run" --model "$f" "$@" --device cpu --steps 1 --compare --reference "$f32" \
		--text "$(head -c 2000 "$work/held.txt")" --json >"$work/d2.json" 2>/dev/null &&
	python3 -c 'import json, sys
a, b = (json.load(open(f))["compare"]["text"] for f in sys.argv[1:])
print("%.3g %.1f %.3g" % (a["mean_kl"], 100 * a["top1_agreement"], b["mean_kl"]))' \
		"$work/d1.json" "$work/d2.json"
}

for t in Q8_0 Q4_1 Q4_0; do
	"$bin/llama-quantize" "$f32" "$work/$t.gguf" "$t" >"$work/q.log" 2>&1 ||
		{ tail -5 "$work/q.log" >&2; exit 1; }
done
# Three calibration texts (seeds 1, 2 and 3): how much the choice moves it.
for s in 1 2 3; do
	"$O/bin/npu-quantize" -m "$f32" --seed $s -o "$work/npu-Q4_0-$s.gguf" >&2
done

echo "held-out text: $(wc -w < "$work/held.txt") words ($((seed - 4242)) stories);" \
	"llama.cpp $(git -C "$src" describe --tags --always 2>/dev/null);" \
	"host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "| file | llama-perplexity mean KL | same top-1 | device KL, same windows," \
	"int8 norms | the same, int16 norms | device top-1 (default norms) |" \
	"device KL, one 480-token window (default norms) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
# Each file's row; the device's own W8 (int8 per output channel) from the
# F32 file last, no llama.cpp file's.
for f in Q8_0 Q4_1 Q4_0 npu-Q4_0-1 npu-Q4_0-2 npu-Q4_0-3 w8; do
	case $f in
	npu-*) name="npu-quantize Q4_0, calibration seed ${f##*-}" ;;
	w8) name="F32 file, the device's W8" ;;
	*) name="llama-quantize $f" ;;
	esac
	if [ $f = w8 ]; then
		p="- -" file=$f32 w="--weights w8"
	else
		p=$(peer "$work/$f.gguf") || p=
		file=$work/$f.gguf w=
	fi
	# shellcheck disable=SC2086 # $w: words
	d8=$(device "$file" $w --norm-act int8) && d16=$(device "$file" $w --norm-act int16) &&
		[ -n "$p" ] || { echo "accuracy-peer.sh: $name could not be measured" >&2; exit 1; }
	# The default width (npu-run --norm-act auto): int16 over a file's
	# blocks, int8 over W8.
	# shellcheck disable=SC2086 # figures, split on purpose
	if [ $f = w8 ]; then set -- $p $d8 $d16; else set -- $p $d16 $d8; fi
	[ "$1" = - ] || set -- "$1" "$2%" "$3" "$4" "$5" "$6" "$7" "$8"
	if [ $f = w8 ]; then k8=$3 k16=$6; else k8=$6 k16=$3; fi
	echo "| $name | $1 | $2 | $k8 | $k16 | $4% | $5 |"
done
