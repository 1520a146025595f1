#!/bin/sh
# make llama-check: llama.cpp as the oracle of the GGUF loader. Fetches
# node-llama-cpp's prebuilt llama.cpp (fetch.sh), builds ggml-oracle on it,
# makes each common type's file from our F16 files with llama.cpp's own
# quantizer, and checks that npu_model_load_gguf holds ggml's values for
# every weight (test_gguf_ggml), then generates from each file on the cpu
# backend (npu-run); npu-quantize's Q4_0 file, read by ggml to the same
# values, and run by llama.cpp. Then each architecture: stories260K written in each
# one's GGUF layout (make-arch), run by llama.cpp (ggml-oracle logits) and
# by libnpu-llm on the same tokens (test_arch). The chat templates as
# llama.cpp renders them (test_chat_oracle). When llama.cpp cannot be
# fetched the check is skipped, named and counted; with CI=true that is a
# failure.
# usage: check.sh BUILD_DIR CACHE_DIR MODELS
set -u
O=$1
cache=$2
models=$3
here=$(dirname "$0")
dir=$cache/node-llama-cpp-3.22.1
start=$(date +%s)

now() { date +%s.%N; }
secs() { echo "$(now) $1" | awk '{ printf "%.1f s", $1 - $2 }'; }
fail() {
	echo "FAIL llama-check: $1"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

t0=$(now)
if ! "$here/fetch.sh" "$cache"; then
	[ "${CI:-}" = true ] && fail "llama.cpp could not be fetched into $cache"
	echo "SKIP llama-check: llama.cpp could not be fetched into $cache (above);" \
		"not tested (with CI=true this fails)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
echo "llama-check: fetch $(secs "$t0")"
t0=$(now)
# The oracle always (0.2 s): its rpath names this cache.
${MAKE:-make} --no-print-directory -s O="$O" "$O/llama/test_gguf_ggml" "$O/bin/npu-gguf" \
	"$O/bin/npu-run" "$O/bin/npu-quantize" "$O/llama/test_arch" ||
	fail "build"
${MAKE:-make} --no-print-directory -s -B O="$O" LLAMA_CACHE="$cache" "$O/llama/ggml-oracle" \
	"$O/llama/make-arch" ||
	fail "build of ggml-oracle and make-arch"
echo "llama-check: build $(secs "$t0")"
t0=$(now)
"$here/make-files.sh" "$O/llama/ggml-oracle" "$O/bin/npu-gguf" "$models" "$cache/files" \
	"$dir/VERSIONS" || fail "make-files.sh: llama.cpp could not make the test files"
echo "llama-check: files $(secs "$t0")"
t0=$(now)
# shellcheck disable=SC2046
"$O/llama/test_gguf_ggml" $("$here/make-files.sh" --list |
	while read -r f; do echo "$cache/files/$f.gguf $cache/files/$f.bin"; done) |
	tee "$O/llama/exact.log"
echo "llama-check: exactness $(secs "$t0")"
passed=0
failed=0
skipped=0
# add_log NAME LOG: LOG's closing "N passed, N failed[, N skipped]" line
# counted; none (the test crashed) is a failure of NAME.
add_log() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$2" | tail -1)
	if [ -z "$line" ]; then
		echo "FAIL $1: no summary (it crashed?)"
		line="0 passed, 1 failed"
	fi
	# shellcheck disable=SC2086
	set -- $line
	passed=$((passed + $1))
	failed=$((failed + $3))
	skipped=$((skipped + ${5:-0}))
}
add_log test_gguf_ggml "$O/llama/exact.log"
# npu-quantize's Q4_0 file (GPTQ, stories260K): ggml dequantizes it to the
# values the loader holds, bit for bit (and below, llama.cpp runs it).
q=$cache/files/npu-quantize-q4_0
rm -f "$q".*	# no earlier run's file stands in for this one's
if "$O/bin/npu-quantize" -m "$models/stories260K.gguf" -o "$q.gguf" --calib-tokens 2048 &&
	"$O/llama/ggml-oracle" dequant "$q.gguf" "$q.bin"; then
	"$O/llama/test_gguf_ggml" "$q.gguf" "$q.bin" | tee "$O/llama/npu-quantize.log"
	add_log "test_gguf_ggml (npu-quantize's file)" "$O/llama/npu-quantize.log"
else
	echo "FAIL npu-quantize's file: not written, or ggml could not read it"
	failed=$((failed + 1))
fi
# Every file generates on the cpu backend (the guest suite runs k256 and
# stories260K's on npu.ko and over USB too), its weights taking on the
# device what they take in the file, within 5% (the F32 norms are int16
# there; the file's tensor bytes are ggml's own count). stories260K's
# ffn_down (172 columns, not whole blocks) stays F16 in every file, and is
# int8 on the device: its ratio is printed, not held to that.
t0=$(now)
for f in $("$here/make-files.sh" --list); do
	run=$O/llama/run.json
	if ! "$O/bin/npu-run" --device cpu --model "$cache/files/$f.gguf" --steps 8 -p Once \
		--json > "$run" 2> "$run.err"; then
		echo "FAIL $f generates:"
		cat "$run.err"
		failed=$((failed + 1))
		continue
	fi
	file=$("$O/llama/ggml-oracle" types "$cache/files/$f.gguf" | awk '{ n += $3 } END { print n }')
	dev=$(sed -n 's/.*"weight_device_bytes": \([0-9]*\).*/\1/p' "$run")
	bpw=$(sed -n 's/.*"weight_count": \([0-9]*\).*/\1/p' "$run")
	case $f in
	stories260K/*) exact=0 ;;
	*) exact=1 ;;
	esac
	if awk -v f="$file" -v d="$dev" -v n="$bpw" -v name="$f" -v exact=$exact 'BEGIN {
		r = d / f
		ok = !exact || (r >= 0.95 && r <= 1.05)
		printf "%s %s generates; device weights %.2f MiB for the file'"'"'s %.2f MiB:" \
			" %.3f%s, %.2f bits per weight\n", ok ? "PASS" : "FAIL", name,
			d / 1048576, f / 1048576, r, exact ? "" : " (F16 matrices: int8)", d * 8 / n
		exit !ok }'; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "llama-check: generation $(secs "$t0")"
# llama.cpp's tokenizer test vectors: every llama and gpt2 vocabulary gives its ids.
t0=$(now)
if ${MAKE:-make} --no-print-directory -s O="$O" "$O/llama/test_vocab"; then
	"$O/llama/test_vocab" "$dir/vocab" | tee "$O/llama/vocab.log"
	add_log test_vocab "$O/llama/vocab.log"
else
	echo "FAIL build of test_vocab"
	failed=$((failed + 1))
fi
echo "llama-check: vocab $(secs "$t0"), all $(($(date +%s) - start)) s"

# The chat templates: each family's name and each of llama.cpp's
# models/templates, rendered by llama_chat_apply_template, detected and
# rendered by libnpu-llm.
t0=$(now)
chat=$O/llama/chat.log
if ${MAKE:-make} --no-print-directory -s O="$O" "$O/llama/test_chat_oracle"; then
	# shellcheck disable=SC2046
	if "$O/llama/ggml-oracle" chat $("$O/llama/test_chat_oracle" --names) \
		"$dir"/templates/*.jinja > "$O/llama/chat.txt"; then
		"$O/llama/test_chat_oracle" "$O/llama/chat.txt" | tee "$chat"
	else
		echo "FAIL ggml-oracle chat: llama.cpp could not render the templates" | tee "$chat"
	fi
	add_log test_chat_oracle "$chat"
else
	echo "FAIL build of test_chat_oracle"
	failed=$((failed + 1))
fi
echo "llama-check: chat $(secs "$t0"), all $(($(date +%s) - start)) s"

# The architectures: 128 teacher-forced positions of a short story (BOS,
# then its stories260K tokens), every position's logits from llama.cpp.
t0=$(now)
arch=$cache/arch
story="Once upon a time, there was a little girl named Lily. She loved to play outside in \
the park with her friends. One day, she saw a big red ball under a tree. She ran to the ball \
and picked it up. It was soft and round. Lily wanted to share the ball with her friend Tom. \
Tom was sad because he lost his toy. Lily said, \"Tom, do you want to play with my ball?\" \
Tom smiled and said yes. They played together all day and had lots of fun."
mkdir -p "$arch"
rm -f "$arch"/*.gguf "$arch"/*.bin "$arch/tokens.txt"
"$O/llama/make-arch" "$models/stories260K.gguf" "$arch" ||
	fail "make-arch: the architectures' files could not be written"
"$O/llama/ggml-oracle" tokenize "$arch/llama-plain.gguf" "$story" "$arch/tokens.txt" ||
	fail "ggml-oracle tokenize: llama.cpp could not tokenize the story"
[ "$(wc -l < "$arch/tokens.txt")" -eq 128 ] ||
	fail "the story is $(wc -l < "$arch/tokens.txt") tokens, not 128"
# A file llama.cpp cannot run has no logits: test_arch fails it, named.
for f in $("$O/llama/make-arch" --list); do
	"$O/llama/ggml-oracle" logits "$arch/$f.gguf" "$arch/tokens.txt" "$arch/$f.bin" ||
		echo "ggml-oracle logits: llama.cpp could not run $f"
done
# shellcheck disable=SC2046
"$O/llama/test_arch" --greedy llama-plain qwen2-zero --greedy llama-plain phi3 "$arch" \
	$("$O/llama/make-arch" --list) | tee "$O/llama/arch.log"
echo "llama-check: architectures $(secs "$t0"), all $(($(date +%s) - start)) s"
add_log test_arch "$O/llama/arch.log"
# npu-quantize's file on the architectures' story: llama.cpp runs it.
if "$O/llama/ggml-oracle" logits "$q.gguf" "$arch/tokens.txt" "$q.logits" >/dev/null; then
	echo "PASS npu-quantize's file runs in llama.cpp"
	passed=$((passed + 1))
else
	echo "FAIL npu-quantize's file does not run in llama.cpp"
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
