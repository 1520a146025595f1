#!/bin/sh
# npu-run's command line: every numeric option refuses what is not a
# number in its range, non-regular files are refused rather than waited
# on (or opened at all), a prompt longer than the context gets one clean
# line (fast), --compare --reference measures against another file's
# floats, paths in errors are escaped, limits of the device are named,
# npu-quantize's mistakes likewise, and, in a sanitized build, no error
# exit leaks.
# Each failure path must exit with its status (2 bad arguments, 1 a
# model, tokenizer or device that fails) and one line on stderr.
# Prints PASS/FAIL lines.
# usage: cli-check.sh BUILD_DIR
set -u
dir=$1
run=$dir/bin/npu-run
models=${NPU_MODELS:-../shared/models}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export NPU_FW_IMAGE="$dir/firmware/npu_fw.bin"
# A sanitized build's LeakSanitizer reports a leak at exit.
export ASAN_OPTIONS=detect_leaks=1

if [ ! -x "$run" ]; then
	echo "FAIL cli_check: no $run"
	exit 1
fi

# npu-run ARGS under a timeout: $rc, $tmp/out, $tmp/err.
npu_run() {
	timeout "${limit:-60}" "$run" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# Why the last run is not a clean error exit with status $1 and one
# stderr line matching the extended regex $2 (nothing when it is).
why_not() {
	if grep -q LeakSanitizer "$tmp/err"; then
		echo "$(grep -m1 'SUMMARY: AddressSanitizer' "$tmp/err"), first: $(grep -m1 -A3 \
			'leak of' "$tmp/err" | grep -m1 -v 'malloc\|calloc\|realloc\|leak of' | tr -s ' ')"
	elif [ "$rc" -eq 124 ]; then
		echo "still running after ${limit:-60} s"
	elif [ "$rc" -ne "$1" ]; then
		echo "exit status $rc, not $1: $(head -c 300 "$tmp/err")"
	elif [ "$(grep -vc '^quantizing layer' "$tmp/err")" -ne 1 ]; then
		echo "not one line on stderr: $(head -c 300 "$tmp/err")"
	elif ! grep -Eq -- "$2" "$tmp/err"; then
		echo "stderr '$(head -c 300 "$tmp/err")' does not match '$2'"
	fi
}

. tests/check-lib.sh

# expect NAME STATUS REGEX ARGS...: one error path.
expect() {
	name=$1
	status=$2
	re=$3
	shift 3
	npu_run "$@"
	result "$name" "$(why_not "$status" "$re")"
}

# expect_ok NAME ARGS...: a run that must succeed (and not leak).
expect_ok() {
	name=$1
	shift
	npu_run "$@"
	if [ "$rc" -ne 0 ] || grep -q LeakSanitizer "$tmp/err"; then
		result "$name" "exit status $rc: $(grep -v '^quantizing' "$tmp/err" | head -c 300)"
	else
		result "$name" ""
	fi
}

# expect_safe NAME STATUS REGEX ARGS...: as expect, and the line is
# printable ASCII only (a path with control bytes is escaped).
expect_safe() {
	name=$1
	status=$2
	re=$3
	shift 3
	npu_run "$@"
	w=$(why_not "$status" "$re")
	if [ -z "$w" ] && tr -d '\n' <"$tmp/err" | LC_ALL=C grep -q '[^ -~]'; then
		w="a byte other than printable ASCII: $(od -An -c "$tmp/err" | head -3 | tr -s ' ')"
	fi
	result "$name" "$w"
}

# numbers OPTION GOOD BAD...: each BAD value refused naming the option and
# the value, each of the blank-separated GOOD accepted.
numbers() {
	opt=$1
	good=$2
	shift 2
	err=
	for v in "$@"; do
		npu_run --device float --steps 1 "--$opt" "$v"
		w=$(why_not 2 "^npu-run: --$opt '")
		[ -z "$w" ] && ! grep -qF -- "'$v'" "$tmp/err" && w="the value is not named"
		[ -n "$w" ] && err="$err [--$opt '$v': $w]"
	done
	for v in $good; do
		npu_run --device float --steps 1 "--$opt" "$v"
		[ "$rc" -ne 0 ] && err="$err [--$opt '$v' refused: $(head -c 200 "$tmp/err")]"
	done
	result "cli_numbers_$opt" "$err"
}

# le32 N: N as 4 little-endian bytes.
le32() {
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}

# checkpoint FILE DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ_LEN: a llama2.c
# checkpoint whose every float is 0x3c3c3c3c (0.0115).
checkpoint() {
	f=$1 d=$2 h=$3 l=$4 nh=$5 nkv=$6 v=$7 s=$8
	kv=$((d * nkv / nh))
	floats=$((v * d + l * (2 * d + 2 * d * d + 2 * kv * d + 3 * h * d) + d + s * (d / nh)))
	{
		for x in "$d" "$h" "$l" "$nh" "$nkv" "$v" "$s"; do le32 "$x"; done
		head -c $((4 * floats)) /dev/zero | tr '\000' '\074'
	} >"$f"
}

echo "== npu-run's command line: $dir"

# Numbers: empty, blank, trailing junk, out of range, signs, NaN and inf,
# hex; the range holds the value before it is rounded to float (1.00000001
# is above 1), and values too small for a float are still numbers.
numbers steps 1 '' ' 1' '1x' '0' '-1' '+1' '1048577' '99999999999999999999' '0x10'
numbers seed 18446744073709551615 '' ' 1' '1x' '-1' '+1' '18446744073709551616' '1.5'
numbers temperature '100 0 .5 1e-38 1e-40 1e-400' '' ' ' '1x' '-1' '-0' '+1' '100.5' \
	'100.00001' 'nan' 'inf' '-inf' '1e999' '0x10' '0X1p0' '.' 'e5'
numbers topp '1 .5 1e-50 1e-400' '' ' ' '0' '0e5' '-0.5' '+0.5' '1.5' '1.00000001' 'nan' \
	'inf' '0.5x' '0x0.8'

# Arguments and names.
expect cli_unknown_option 2 'unrecognized|unknown' --bogus
expect cli_bad_device_name 2 "^npu-run: --device 'bogus'" --device bogus
expect cli_bad_weights 2 "^npu-run: --weights 'w3'" --weights w3
expect cli_stray_argument 2 "^npu-run: unexpected argument 'stray'" stray
# A value for an option that takes none: named as given, not as '-c'.
err=
for o in compare=1 help=x json=yes verbose=1 profile= comp=1; do
	npu_run "--$o"
	w=$(why_not 2 "^npu-run: option '--${o%%=*}[a-z]*' takes no value")
	[ -n "$w" ] && err="$err [--$o: $w]"
done
result cli_option_takes_no_value "$err"

# A value that is an option: the option before it has none, not "--steps".
expect cli_missing_value_not_swallowed 2 "^npu-run: --model wants a value, not the option '--steps'" \
	--model --steps 5
expect cli_missing_short_value 2 "^npu-run: -p wants a value|^npu-run: --prompt wants a value" \
	-p -n 5
expect cli_threads_range 2 "^npu-run: --threads '0'" --threads 0
expect cli_text_without_compare 2 "^npu-run: --text: only with --compare" --text hello
expect cli_reference_without_compare 2 "^npu-run: --reference: only with --compare" \
	--reference "$models/stories260K.bin"
# --reference: another model of another shape is refused; the same floats
# from another file (the checkpoint the GGUF was written from) measure the
# same as the model's own.
expect cli_reference_other_shape 1 "^npu-run: compare: teacher forcing: the reference model has" \
	--synthetic k256 --device cpu --steps 4 --compare --reference "$models/stories260K.gguf"
kl() {
	npu_run --model "$models/stories260K.gguf" --device cpu --weights w4g32 --steps 24 \
		--compare --json "$@"
	sed -n 's/.*"mean_kl": \([^,]*\),.*/\1/p' "$tmp/out"
}
own=$(kl)
other=$(kl --reference "$models/stories260K.bin")
result cli_reference_same_floats "$([ -n "$own" ] && [ "$own" = "$other" ] ||
	echo "mean KL against its own floats '$own', against stories260K.bin's '$other'")"
# --chunks: llama-perplexity's windows. Its mistakes, one line each; a
# text longer than the context is compared in whole chunks, the second
# half of each (63 positions for 128 tokens).
expect cli_chunks_without_text 2 "^npu-run: --chunks: only with --text" --chunks 64
expect cli_chunks_range 2 "^npu-run: --chunks '3': want an integer in 4\.\.1048576" \
	--chunks 3 --compare --text hello
expect cli_chunks_past_context 1 "^npu-run: --chunks 1024: the context holds 512" \
	--model "$models/stories260K.bin" --device cpu --steps 1 --compare --text hello \
	--chunks 1024
expect cli_chunks_short_text 1 "^npu-run: --text is [0-9]+ tokens, shorter than one chunk \(64\)" \
	--model "$models/stories260K.bin" --device cpu --steps 1 --compare --text hello \
	--chunks 64
long=
for i in 1 2 3 4 5 6 7 8; do	# 32 sentences of about 20 tokens: 600 or more
	long="$long Once upon a time, there was a little girl named Lily. She loved to play."
	long="$long One day, she saw a big, red ball in the park. She was very happy."
	long="$long Her mom said they could go to the park after lunch, and Lily smiled."
	long="$long The sun was warm and the birds sang in the tall green trees all day."
done
npu_run --model "$models/stories260K.bin" --device cpu --steps 1 --compare --json \
	--text "$long" --chunks 128
p=$(sed -n 's/.*"text": {"positions": \([0-9]*\),.*"chunks": 128}.*/\1/p' "$tmp/out")
result cli_chunks_outrun_context "$([ "$rc" -eq 0 ] && [ -n "$p" ] && [ "$p" -ge $((4 * 63)) ] &&
	[ $((p % 63)) -eq 0 ] || echo "status $rc, positions '$p' (want 63 per chunk, 4+ chunks)")"
# --norm-act: a bad width refused; int16 norms' outputs make W8 closer to
# the float model than int8 (its default) does.
expect cli_norm_act_bad 2 "^npu-run: --norm-act 'int4': want auto, int8 or int16" \
	--norm-act int4
w8kl() {
	npu_run --model "$models/stories260K.gguf" --device cpu --weights w8 --steps 48 \
		--compare --json "$@"
	sed -n 's/.*"mean_kl": \([^,]*\),.*/\1/p' "$tmp/out"
}
k8=$(w8kl)
k8b=$(w8kl --norm-act int8)
k16=$(w8kl --norm-act int16)
result cli_norm_act_int16 "$([ -n "$k8" ] && [ "$k8" = "$k8b" ] && [ -n "$k16" ] &&
	awk -v a="$k16" -v b="$k8" 'BEGIN { exit !(a < b) }' ||
	echo "W8 mean KL: default '$k8', int8 '$k8b', int16 '$k16' (want int16 below int8)")"
# --burst: out of range or on the float model refused; the text the same
# at one token a job, 16, 5 (bursts of 4 and 1) and the automatic size,
# to the story's end (inside a burst of 16 and of 5).
expect cli_burst_range 2 "^npu-run: --burst '17': want an integer in 0..16" --burst 17
expect cli_burst_float 2 "^npu-run: --burst sizes device jobs: not with --device float" \
	--burst 2 --device float
why=
for b in 1 16 5 0; do
	npu_run --model "$models/stories260K.bin" --device cpu --steps 300 --burst $b
	[ "$rc" -eq 0 ] || why="$why --burst $b: status $rc;"
	sed '/^---/,$d' "$tmp/out" > "$tmp/text$b"
	[ $b = 1 ] || cmp -s "$tmp/text1" "$tmp/text$b" || why="$why --burst $b: another text;"
done
grep -q 'generated 248 tokens' "$tmp/out" || why="$why not the 248 tokens to BOS;"
result cli_burst_same_text "$why"
# --chat and --ctx-size: their mistakes, one line each.
expect cli_ctx_size_range 2 "^npu-run: --ctx-size '0': want an integer" --ctx-size 0
expect cli_ctx_size_past_file 2 "^npu-run: --ctx-size '513': the model's context is 512" \
	--model "$models/stories260K.bin" --ctx-size 513 --device cpu
expect cli_chat_template_unknown 2 "^npu-run: --chat-template 'jinja': want one of chatml," \
	--chat --chat-template jinja
expect cli_chat_no_template 1 "^npu-run: the model has no chat template .*--chat-template NAME" \
	--model "$models/stories260K.bin" --device cpu --chat
expect cli_system_without_chat 2 "^npu-run: --system: only with --chat" --system hi
expect cli_chat_not_json 2 "^npu-run: --json: not with --chat" --chat --json
# The usual short options, and accelN names a device (absent here: status 1).
expect_ok cli_short_options -m "$models/stories260K.bin" -p "Once" -n 3 -t 0 -s 1 -d cpu -c
npu_run -h
result cli_short_help "$([ "$rc" -eq 0 ] && grep -q '^usage: npu-run' "$tmp/out" || echo "status $rc")"
npu_run --device accel7 --model "$models/stories260K.bin" --steps 1
result cli_device_accel_n "$([ "$rc" -eq 0 ] || why_not 1 "^npu-run: device 'accel7': ")"

# Defaults a newcomer meets: a real model when one is kept where models are,
# the synthetic one said so, the tokenizer found beside the model, a
# missing one said so, and --json carries the text.
npu_run --device cpu --steps 8 --threads 1
w=
[ "$rc" -ne 0 ] && w="status $rc"
grep -q "^npu-run: no --model: using .*stories260K.bin" "$tmp/err" || w="$w, no note: $(head -c 200 "$tmp/err")"
grep -q "Once upon a time" "$tmp/out" && ! grep -q '<extra' "$tmp/out" || w="$w, text: $(head -c 100 "$tmp/out")"
result cli_default_model_found "$w"
mkdir "$tmp/empty" "$tmp/tokdir" "$tmp/lone"
# From a directory with no ../shared/models: $run made absolute first.
abs_run=$(cd "$(dirname "$run")" && pwd)/npu-run
(cd "$tmp/empty" && NPU_MODELS="$tmp/empty" timeout 60 "$abs_run" --device float --steps 2 \
	>"$tmp/out" 2>"$tmp/err")
result cli_synthetic_said "$(grep -q '^npu-run: no --model, and no stories260K.bin.*synthetic' "$tmp/err" || echo "stderr: $(head -c 200 "$tmp/err")")"
cp "$models/stories260K.bin" "$models/tok512.bin" "$tmp/tokdir/"
cp "$models/stories260K.bin" "$tmp/lone/"
npu_run --model "$tmp/tokdir/stories260K.bin" --device cpu --steps 8
result cli_tokenizer_beside "$([ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] && ! grep -q '<extra' "$tmp/out" || echo "status $rc: $(head -c 200 "$tmp/err")")"
npu_run --model "$tmp/lone/stories260K.bin" --device cpu --steps 8
result cli_tokenizer_bytes_said "$([ "$rc" -eq 0 ] && grep -q '^npu-run: no --tokenizer.*byte tokens' "$tmp/err" || echo "status $rc: $(head -c 200 "$tmp/err")")"
npu_run --model "$models/stories260K.bin" --device cpu --steps 8 --json
result cli_json_has_text "$(grep -q '"text": "Once upon a time' "$tmp/out" || echo "$(head -c 300 "$tmp/out")")"

# Files: missing, malformed, not regular (a FIFO never written must not hang).
limit=5
mkfifo "$tmp/fifo"
mkdir "$tmp/dir"
expect cli_model_missing 1 '^npu-run: model: .*nonexistent' --model "$tmp/nonexistent"
head -c 20 "$models/stories260K.bin" >"$tmp/short.bin"
expect cli_model_malformed 1 '^npu-run: model: .*header' --model "$tmp/short.bin"
expect cli_model_fifo 1 "^npu-run: model: .*fifo.*regular" --model "$tmp/fifo"
expect cli_model_directory 1 "^npu-run: model: .*dir.*regular" --model "$tmp/dir"
expect cli_tokenizer_missing 1 '^npu-run: tokenizer: .*nonexistent' \
	--model "$models/stories260K.bin" --tokenizer "$tmp/nonexistent"
checkpoint "$tmp/v600.bin" 8 8 1 2 2 600 16
expect cli_tokenizer_other_vocab 1 '^npu-run: tokenizer: ' \
	--model "$tmp/v600.bin" --tokenizer "$models/tok512.bin"
# The loader's own check (libnpu/model/tokenizer.c), not npu-run's.
expect cli_tokenizer_fifo 1 "^npu-run: tokenizer: .*fifo.*regular" \
	--model "$models/stories260K.bin" --tokenizer "$tmp/fifo"
# Not opened at all (opening a device can act): a writer waiting in
# open() on a FIFO is let through by any open for reading.
mkfifo "$tmp/wfifo"
(: >"$tmp/wfifo" && echo opened >"$tmp/wopened") 2>/dev/null &
writer=$!
sleep 1
npu_run --model "$tmp/wfifo"
npu_run --model "$models/stories260K.bin" --tokenizer "$tmp/wfifo"
sleep 1
if [ -e "$tmp/wopened" ]; then
	result cli_fifo_not_opened "npu-run opened the FIFO: its writer's open() returned"
else
	result cli_fifo_not_opened ""
fi
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
limit=60

# Paths in errors, from each loader: escaped, one line, cut after 256.
odd=$(printf 'no\nsuch\033[31m')
expect_safe cli_path_escaped_model 1 '^npu-run: model: .*/no\\x0asuch\\x1b\[31m: No such' \
	--model "$tmp/$odd"
expect_safe cli_path_escaped_tokenizer 1 '^npu-run: tokenizer: .*/no\\x0asuch\\x1b\[31m: ' \
	--model "$models/stories260K.bin" --tokenizer "$tmp/$odd"
printf 'GGUF\003\000\000\000' >"$tmp/$odd.gguf"
expect_safe cli_path_escaped_gguf 1 '^npu-run: model: .*/no\\x0asuch\\x1b\[31m\.gguf: 8 bytes' \
	--model "$tmp/$odd.gguf"
long=$(head -c 300 /dev/zero | tr '\0' x)
expect_safe cli_path_cut 1 '^npu-run: model: .{250,260}\.\.\.: ' --model "$tmp/$long$odd"
expect cli_native_without_quantized 2 '^npu-run: --weights native' --weights native
# No hardware here: accel and usb fail to open (or, where present, run).
for d in accel usb; do
	npu_run --device $d --steps 1
	if [ "$rc" -eq 0 ]; then
		result "cli_device_${d}_missing" "$(grep -m1 LeakSanitizer "$tmp/err")"
	else
		result "cli_device_${d}_missing" "$(why_not 1 "^npu-run: device '$d': ")"
	fi
done

# The prompt: counted in tokens against the context; a long one refused
# before it is encoded when no encoding could fit, and fast in any case.
limit=10
prompt=$(head -c 128000 /dev/zero | tr '\0' a)
start=$(date +%s)
expect cli_prompt_128k 1 '^npu-run: the prompt is at least [0-9]+ tokens .*the context holds 512' \
	--model "$models/stories260K.bin" --tokenizer "$models/tok512.bin" --prompt "$prompt"
echo "   (128000 bytes refused in $(($(date +%s) - start)) s)"
# Synthetic tiny: byte tokens, no dummy space: 600 bytes are 1 + 600 tokens.
expect cli_prompt_counted 1 '^npu-run: the prompt is 601 tokens, the context holds 512' \
	--synthetic tiny --device float --prompt "$(head -c 600 /dev/zero | tr '\0' a)"
# 600 bytes that are 152 tokens: bytes alone must not refuse it.
expect_ok cli_prompt_long_but_fits --model "$models/stories260K.bin" --tokenizer \
	"$models/tok512.bin" --device cpu --steps 1 --prompt "$(yes ' the' | head -150 | tr -d '\n')"
# A tokenizer whose byte tokens have empty pieces: they merge into one
# token of any length of text (40 bytes are BOS and one token): its
# longest piece (1 byte) bounds nothing, bytes alone must not refuse them.
{
	le32 1
	head -c $((259 * 8)) /dev/zero
	le32 0
	le32 1
	printf a
} >"$tmp/empty-bytes.tok"
checkpoint "$tmp/v260.bin" 8 8 1 2 2 260 16
expect_ok cli_prompt_empty_byte_pieces --model "$tmp/v260.bin" --tokenizer \
	"$tmp/empty-bytes.tok" --device float --steps 1 --prompt "$(head -c 40 /dev/zero | tr '\0' b)"
# A context of 20000: the 128000 bytes are encoded (at least 18287
# tokens could fit), then refused by their count.
checkpoint "$tmp/ctx20k.bin" 8 8 1 2 2 512 20000
expect cli_prompt_128k_encoded 1 '^npu-run: the prompt is [0-9]+ tokens, the context holds 20000' \
	--model "$tmp/ctx20k.bin" --tokenizer "$models/tok512.bin" --device float --prompt \
	"$(yes ' the' | head -32000 | tr -d '\n')"
limit=60

# The device's limits: a context of 2^20 runs the positions a run needs,
# its default context is the device's attention limit, and a --ctx-size
# past what attention's scratch holds is refused up front with the limit
# named; 250 layers (4,503 ops a step) run.
checkpoint "$tmp/ctx1m.bin" 64 64 1 8 4 512 1048576
expect_ok cli_context_1m_runs --model "$tmp/ctx1m.bin" --device cpu --steps 8
grep -Eq "^context: ([0-9]+) positions \(file 1048576; device allows \1: its attention limit\)" \
	"$tmp/out" && w= || w="no context line: $(grep '^context' "$tmp/out")"
result cli_context_1m_default_device "$w"
expect cli_context_1m_needs_too_many 1 \
	"^npu-run: .*needs [0-9]+ positions.*attention.* [0-9]+ positions" \
	--model "$tmp/ctx1m.bin" --device cpu --steps 1 --ctx-size 1000000
checkpoint "$tmp/l250.bin" 16 16 250 2 2 260 32
expect_ok cli_250_layers_run --model "$tmp/l250.bin" --device cpu --steps 4

# npu-quantize's command line: each mistake one line, and a run that writes
# a file npu-run loads (in a sanitized build: no leak).
run=$dir/bin/npu-quantize
expect quantize_no_out 2 "^npu-quantize: --model FILE and --out FILE: both are required" \
	--model "$models/stories260K.bin"
expect quantize_bad_method 2 "^npu-quantize: --method 'awq': want gptq or rtn" --method awq
expect quantize_bad_tokens 2 "^npu-quantize: --calib-tokens '0'" --calib-tokens 0
expect quantize_missing_model 1 "^npu-quantize: .*" --model "$tmp/none.gguf" --out "$tmp/q.gguf"
expect quantize_missing_calibration 1 "^npu-quantize: --calibration '$tmp/none.txt': cannot" \
	--model "$models/stories260K.bin" --tokenizer "$models/tok512.bin" --out "$tmp/q.gguf" \
	--calibration "$tmp/none.txt"
printf 'Once upon a time, there was a cat. The cat liked to sleep in the sun.\n' >"$tmp/cal.txt"
expect_ok quantize_writes --model "$models/stories260K.bin" --tokenizer "$models/tok512.bin" \
	--out "$tmp/q.gguf" --calibration "$tmp/cal.txt"
run=$dir/bin/npu-run
expect_ok quantize_file_runs --model "$tmp/q.gguf" --device cpu --steps 8
