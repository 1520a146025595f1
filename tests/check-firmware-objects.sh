#!/bin/sh
# The firmware must be freestanding integer code: no x87/SSE/AVX instruction
# and no reference to any symbol outside itself (libc, libgcc, the kernel).
# Checks the linked firmware object the build produced.
# usage: check-firmware-objects.sh BUILD_DIR
set -u
obj="$1/fw/npu_fw.o"
fail=0

if [ ! -f "$obj" ]; then
	echo "check-firmware-objects: $obj missing" >&2
	exit 1
fi

# Any reference to an x87, MMX or vector register, or an x87 mnemonic.
fp_re='%(xmm|ymm|zmm|mm)[0-9]|%st(\(|\b)|\bf(ld|st|add|mul|div|sub|ild|ist|comi|ucomi|xch|init|wait)[a-z]*\b'
fp=$(objdump -d --no-show-raw-insn "$obj" | grep -E "$fp_re" | head -5)
if [ -n "$fp" ]; then
	echo "FAIL firmware_no_fp_simd: floating-point or SIMD instructions in $obj:"
	echo "$fp"
	fail=1
else
	echo "PASS firmware_no_fp_simd ($(objdump -d "$obj" | grep -c '^ ') instructions inspected)"
fi

undef=$(nm -u "$obj")
if [ -n "$undef" ]; then
	echo "FAIL firmware_no_external_symbols: $obj references:"
	echo "$undef"
	fail=1
else
	echo "PASS firmware_no_external_symbols"
fi

# The check must be able to fail: a float function compiled the normal way trips it.
tmp=$(mktemp -d)
printf 'double f(double a, double b) { return a * b; }\n' > "$tmp/fp.c"
cc -O2 -c "$tmp/fp.c" -o "$tmp/fp.o"
if objdump -d --no-show-raw-insn "$tmp/fp.o" | grep -qE "$fp_re"; then
	echo "PASS firmware_check_detects_fp"
else
	echo "FAIL firmware_check_detects_fp: the detector missed SSE code"
	fail=1
fi
rm -rf "$tmp"
exit $fail
