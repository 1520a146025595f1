#!/bin/bash
# SPDX-License-Identifier: MIT
# peer-bench.sh: npu-run (cpu backend) against llama.cpp's llama-bench on the
# same 1B-shaped GGUF files (npu-gguf --synthetic 1b, Q8_0 and Q4_0): decode,
# prefill of 64 tokens and time to ready, per thread count, in interleaved
# rounds (npu-run, llama-bench, npu-run, ...), printed as a markdown table.
# With --busy: decode with and without a busy loop pinned to the last CPU.
# With --isa avx2: both held to AVX2 (npu-run at NPU_CPU_ISA=avx2, llama-bench
# built for AVX2, FMA, F16C and BMI2 only), an AVX2-only host's kind of
# figures from a host that has more.
#
# llama.cpp is the source the npm package node-llama-cpp@VERSION bundles
# (package/llama/gitRelease.bundle), llama-bench alone built natively into
# $LLAMA_CACHE/llama-bench-VERSION/{src,build} (default ~/.cache/npu-llama);
# the model files go to $NPU_PERF_CACHE (default ~/.cache/npu-perf). Both are
# outside the clone and reused: a complete build ends build.log with "done 0".
# A benchmark, not a test: nothing in make test runs it.
set -eu -o pipefail
VERSION=3.22.1
me=peer-bench.sh
PROMPT=64
LLAMA_CACHE=${LLAMA_CACHE:-$HOME/.cache/npu-llama}
NPU_PERF_CACHE=${NPU_PERF_CACHE:-$HOME/.cache/npu-perf}

usage() {
	cat <<EOF
usage: tools/peer-bench.sh [O=DIR] [--threads LIST] [--rounds N] [--gen N] [--quick] [--busy]
                          [--isa avx2]
  O=DIR           the build whose bin/npu-run and bin/npu-gguf run (default: build)
  --threads LIST  thread counts, comma-separated (default: 1,2; with --busy: 2)
  --rounds N      interleaved rounds, each a sample of every figure (default: 2)
  --gen N         tokens generated for decode, both tools (default: 32)
  --quick         one round of 16 tokens
  --busy          decode only, quiet and with a busy loop on CPU \$(nproc - 1)
  --isa avx2      both tools held to AVX2 (llama-bench built so, into build-avx2)
Caches: LLAMA_CACHE (default ~/.cache/npu-llama), NPU_PERF_CACHE (default ~/.cache/npu-perf).
EOF
}

die() {
	echo "$me: $*" >&2
	exit 1
}

O=build threads='' rounds=2 gen=32 busy=0 level=native
while [ $# -gt 0 ]; do
	case $1 in
	O=*) O=${1#O=} ;;
	--threads) threads=${2:?--threads wants a list}; shift ;;
	--rounds) rounds=${2:?--rounds wants a number}; shift ;;
	--gen) gen=${2:?--gen wants a number}; shift ;;
	--quick) rounds=1 gen=16 ;;
	--busy) busy=1 ;;
	--isa) level=${2:?--isa wants avx2}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift
done
[ -n "$threads" ] || { [ $busy = 1 ] && threads=2 || threads=1,2; }
[[ $threads =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--threads '$threads': want N[,N...]"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds '$rounds': want a positive number"
[[ $gen =~ ^[1-9][0-9]*$ && $gen -ge 2 ]] || die "--gen '$gen': want 2 or more"
case $level in
native) flavour=build cmake_isa=(-DGGML_NATIVE=ON) ;;
avx2)
	flavour=build-avx2
	cmake_isa=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
		-DGGML_BMI2=ON -DGGML_AVX512=OFF)
	export NPU_CPU_ISA=avx2 ;;
*) die "--isa '$level': want avx2" ;;
esac
for tool in npu-run npu-gguf; do
	[ -x "$O/bin/$tool" ] || die "$O/bin/$tool is missing: make O=$O $O/bin/$tool"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peer-bench.XXXXXX")
busy_pid=
cleanup() {
	[ -z "$busy_pid" ] || kill "$busy_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# llama-bench, reused when an earlier build completed, else fetched and built.
dir=$LLAMA_CACHE/llama-bench-$VERSION
bench=$dir/$flavour/bin/llama-bench
if [ -x "$bench" ] && [ "$(tail -n 1 "$dir/$flavour.log" 2>/dev/null)" = "done 0" ]; then
	echo "$me: cached: $bench" >&2
else
	for tool in npm git tar cmake make c++ flock; do
		command -v $tool >/dev/null ||
			die "$tool is not installed (needed to build llama-bench)"
	done
	mkdir -p "$LLAMA_CACHE"
	exec 9>"$dir.lock"
	flock -n 9 || die "another peer-bench.sh is building $dir"
	echo "$me: building llama-bench ($flavour) in $dir" >&2
	rm -rf "${dir:?}/$flavour"
	mkdir -p "$dir"
	# The source once, for every flavour.
	if [ ! -d "$dir/src/.git" ]; then
		rm -rf "$dir/src"
		if ! npm pack --loglevel=error --pack-destination "$tmp" "node-llama-cpp@$VERSION" \
			>"$tmp/pack.log" 2>&1; then
			die "npm pack node-llama-cpp@$VERSION failed:" \
				"$(grep -m1 -i error "$tmp/pack.log" || tail -n 1 "$tmp/pack.log")"
		fi
		tar -xzf "$tmp/node-llama-cpp-$VERSION.tgz" -C "$tmp" \
			package/llama/gitRelease.bundle ||
			die "node-llama-cpp@$VERSION has no package/llama/gitRelease.bundle"
		git -c advice.detachedHead=false clone -q \
			"$tmp/package/llama/gitRelease.bundle" "$dir/src" ||
			die "git clone of node-llama-cpp@$VERSION's gitRelease.bundle failed"
	fi
	cmake -S "$dir/src" -B "$dir/$flavour" -DCMAKE_BUILD_TYPE=Release "${cmake_isa[@]}" \
		-DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
		-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
		>"$dir/cmake-$flavour.log" 2>&1 ||
		die "configuring llama.cpp failed: see $dir/cmake-$flavour.log"
	status=0
	cmake --build "$dir/$flavour" --target llama-bench -j"$(nproc)" >"$dir/$flavour.log" 2>&1 ||
		status=$?
	echo "done $status" >>"$dir/$flavour.log"
	[ $status = 0 ] || die "building llama-bench failed: see $dir/$flavour.log"
fi
llama_rev=$(git -C "$dir/src" rev-parse --short HEAD 2>/dev/null || echo unknown)

# The model files, written once into the cache (renamed when complete).
mkdir -p "$NPU_PERF_CACHE"
for type in q8_0 q4_0; do
	f=$NPU_PERF_CACHE/1b-$type.gguf
	[ -s "$f" ] && continue
	echo "$me: writing $f" >&2
	"$O/bin/npu-gguf" --synthetic 1b --type $type -o "$f.$$" >"$tmp/gguf.log" 2>&1 ||
		die "npu-gguf --synthetic 1b --type $type failed: $(tail -n 1 "$tmp/gguf.log")"
	mv "$f.$$" "$f"
done

now() { echo "$EPOCHREALTIME"; }
# A number after "KEY": in a JSON line on stdin.
jget() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" | head -n 1; }
# Results: one line each, "MODE TYPE THREADS TOOL FIGURE VALUE ROUND"; MODE
# full (every figure), or quiet and busy (decode only, for --busy).
res=$tmp/results
: >"$res"
put() { echo "$*" >>"$res"; }

# The byte tokenizer npu-gguf writes encodes BOS and one token a byte.
prompt=$(printf 'a%.0s' $(seq $((PROMPT - 1))))

# npu-run: prefill, decode and ready (process wall time less its token time).
npu() {	# MODE TYPE THREADS ROUND
	local f=$NPU_PERF_CACHE/1b-$2.gguf t0 t1 out n g pre dec ttft
	t0=$(now)
	out=$("$O/bin/npu-run" -m "$f" -d cpu --threads "$3" -p "$prompt" -n "$gen" --json \
		2>"$tmp/npu.err") || die "npu-run on $f failed: $(tail -n 1 "$tmp/npu.err")"
	t1=$(now)
	n=$(jget prompt_tokens <<<"$out") g=$(jget generated_tokens <<<"$out")
	pre=$(jget prefill_tok_s <<<"$out") dec=$(jget decode_tok_s <<<"$out")
	ttft=$(jget time_to_first_token_s <<<"$out")
	[ "$n" = $PROMPT ] || die "npu-run encoded the prompt as $n tokens, not $PROMPT"
	[ "$g" = "$gen" ] || die "npu-run generated $g tokens, not $gen (it stops at BOS)"
	put "$1 $2 $3 npu decode $dec $4"
	[ "$1" != full ] && return
	put "$1 $2 $3 npu prefill $pre $4"
	put "$1 $2 $3 npu ready $(awk -v w="$t1 - $t0" -v f="$ttft" -v g="$g" -v d="$dec" \
		'BEGIN { split(w, a, " - "); printf "%.3f", a[1] - a[2] - f - (g - 1) / d }') $4"
	echo "$me: $1 $2 t=$3 round $4: npu-run prefill $pre decode $dec tok/s," \
		"load $(jget load_s <<<"$out") s" >&2
}

# One llama-bench run of ARGS, its JSON line into $tmp/lb.out.
lb() {	# THREADS FILE ARGS...
	local t=$1 f=$2

	shift 2
	"$bench" -m "$f" -t "$t" -r 1 -o jsonl "$@" >"$tmp/lb.out" 2>"$tmp/lb.err" ||
		die "llama-bench on $f failed: $(grep -m1 -i error "$tmp/lb.err" ||
			tail -n 1 "$tmp/lb.err")"
}

# llama-bench: prefill of 64 tokens; decode after 64 (-d); ready, as the
# wall time of a run of one token without warmup less that token's time or,
# when shorter, one token at the decode rate (its own includes faulting the
# mapped file in, which is loading).
llama() {	# MODE TYPE THREADS ROUND
	local f=$NPU_PERF_CACHE/1b-$2.gguf t0 t1 pre dec ns

	lb "$3" "$f" -p 0 -n "$gen" -d $PROMPT
	dec=$(jget avg_ts <"$tmp/lb.out")
	put "$1 $2 $3 llama decode $dec $4"
	[ "$1" != full ] && return
	lb "$3" "$f" -p $PROMPT -n 0
	pre=$(jget avg_ts <"$tmp/lb.out")
	put "$1 $2 $3 llama prefill $pre $4"
	t0=$(now)
	lb "$3" "$f" -p 0 -n 1 --no-warmup
	t1=$(now)
	ns=$(jget avg_ns <"$tmp/lb.out")
	put "$1 $2 $3 llama ready $(awk -v w="$t1 - $t0" -v d="$dec" -v ns="$ns" 'BEGIN {
		split(w, a, " - "); tok = ns / 1e9 < 1 / d ? ns / 1e9 : 1 / d
		printf "%.3f", a[1] - a[2] - tok }') $4"
	echo "$me: $1 $2 t=$3 round $4: llama-bench prefill $pre decode $dec tok/s" >&2
}

busy_start() {
	taskset -c $(($(nproc) - 1)) bash -c 'while :; do :; done' &
	busy_pid=$!
}

busy_stop() {
	kill "$busy_pid"
	wait "$busy_pid" 2>/dev/null || true
	busy_pid=
}

one() {	# MODE TYPE THREADS ROUND: npu-run then llama-bench
	[ "$1" = busy ] && busy_start
	npu "$@"
	llama "$@"
	[ "$1" = busy ] && busy_stop
	[ "$1" = full ] || tail -n 2 "$res" | awk -v me="$me" '{ d[$4] = $6 } END {
		printf "%s: %s %s t=%s: decode npu-run %s, llama-bench %s tok/s\n",
		       me, $1, $2, $3, d["npu"], d["llama"] }' >&2
}

load0=$(cut -d ' ' -f 1 /proc/loadavg)
for round in $(seq "$rounds"); do
	for t in ${threads//,/ }; do
		for type in q8_0 q4_0; do
			if [ $busy = 0 ]; then
				one full $type "$t" "$round"
			else
				one quiet $type "$t" "$round"
				one busy $type "$t" "$round"
			fi
		done
	done
done
load1=$(cut -d ' ' -f 1 /proc/loadavg)

# The host: its name, family/model, and the SIMD levels that matter here.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
fam=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mod=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
flags=" $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1) "
has() { case $flags in *" $1 "*) echo "$2" ;; *) echo "no $2" ;; esac; }
isa="$(has avx2 AVX2), $(has avx512f AVX-512F), $(has avx512_vnni "AVX-512 VNNI"),"
isa="$isa $(has avx_vnni AVX-VNNI)"

echo "CPU: $cpu (family $fam, model $mod), $(nproc) CPUs; $isa"
[ "$level" = native ] || echo "Both tools held to $level: npu-run at NPU_CPU_ISA=$level," \
	"llama-bench built for it (GGML_NATIVE=OFF)"
echo "llama.cpp $llama_rev (node-llama-cpp@$VERSION's bundle), llama-bench -r 1 per round;" \
	"npu-run from $O; $rounds round(s), $gen tokens generated; load average $load0 -> $load1"
echo
# Ranges over the rounds; the ratio is per round (both tools in the same
# round), ranged; >1 means npu-run ahead (for ready, llama.cpp's time / ours).
sort -k1,1 -k2,2r -k3,3n -k5,5 -k7,7n "$res" | awk -v busy="$busy" '
function rng(lo, hi, fmt) {
	return sprintf(fmt, lo) (sprintf(fmt, lo) == sprintf(fmt, hi) ? "" : "–" sprintf(fmt, hi))
}
function upd(k, v) {
	if (!(k in lo) || v < lo[k]) lo[k] = v
	if (!(k in hi) || v > hi[k]) hi[k] = v
}
{
	key = $1 " " $2 " " $3 " " $5
	if (!(key in seen)) { seen[key] = 1; keys[n++] = key }
	upd(key " " $4, $6)
	v[key " " $4 " " $7] = $6
	rounds[$7] = 1
}
END {
	name["decode"] = "decode, tok/s"; name["prefill"] = "prefill, 64 tokens, tok/s"
	name["ready"] = "ready to generate, s"
	if (busy)
		print "| 1B-shaped model | threads | machine | npu-run (cpu) | llama.cpp | ratio |"
	else
		print "| 1B-shaped model | threads | figure | npu-run (cpu) | llama.cpp | ratio |"
	print "|---|---:|---|---:|---:|---:|"
	order["decode"] = 0; order["prefill"] = 1; order["ready"] = 2
	for (pass = 0; pass < 3; pass++)
	for (i = 0; i < n; i++) {
		split(keys[i], k, " ")
		if (order[k[4]] != pass)
			continue
		delete r
		for (rd in rounds) {
			a = v[keys[i] " npu " rd]; b = v[keys[i] " llama " rd]
			if (a == "" || b == "" || a <= 0 || b <= 0)
				continue
			x = k[4] == "ready" ? b / a : a / b
			if (!("lo" in r) || x < r["lo"]) r["lo"] = x
			if (!("hi" in r) || x > r["hi"]) r["hi"] = x
		}
		fmt = k[4] == "ready" ? "%.2f" : "%.1f"
		col = busy ? (k[1] == "busy" ? "busy loop on a core" : "no busy loop") : name[k[4]]
		printf "| %s | %s | %s | %s | %s | %s× |\n", toupper(k[2]), k[3], col,
		       rng(lo[keys[i] " npu"], hi[keys[i] " npu"], fmt),
		       rng(lo[keys[i] " llama"], hi[keys[i] " llama"], fmt),
		       rng(r["lo"], r["hi"], "%.2f")
	}
}'
