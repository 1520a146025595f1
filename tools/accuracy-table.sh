#!/bin/sh
# Print docs/accuracy.md's table: each weight format against the float
# model, teacher-forced on the device's own greedy text and on a fixed
# story. The cpu backend is bit-identical to the emulated NPU (tested).
# usage: tools/accuracy-table.sh [MODELS_DIR]
set -eu
models=${1:-../shared/models}
run=build/bin/npu-run
text="Once upon a time, there was a little boy named Tim. Tim had a big red ball. He liked to play with it every day. One day, he went to the park with his mom. He saw a dog and the dog wanted to play too."

row() {
	name=$1; w=$2; shift 2
	"$run" "$@" --device cpu --weights "$w" --steps 200 --compare --text "$text" --json |
	python3 -c '
import json, sys
name, w = sys.argv[1], sys.argv[2]
j = json.load(sys.stdin); c = j["compare"]; t = c["text"]
print("| %s | %s | %d | %.1f%% | %.3g | %.3f / %.3f | %d | %.1f%% | %.3g | %.3f / %.3f |" % (
    name, w, c["positions"], 100 * c["top1_agreement"], c["mean_kl"], c["ppl_float"],
    c["ppl_device"], c["first_divergence"], 100 * t["top1_agreement"], t["mean_kl"],
    t["ppl_float"], t["ppl_device"]))' "$name" "$w"
}

echo "| model | weights | positions | top-1 | mean KL | ppl float / device | greedy diverges at | text top-1 | text KL | text ppl float / device |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for w in w8 w4g32 w4g64 w4g128; do
	row stories260K "$w" --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin"
done
for w in w8 w4g32 w4g64 w4g128; do
	row "synthetic tiny" "$w" --synthetic tiny --seed 1
done
