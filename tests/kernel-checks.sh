#!/bin/sh
# The kernel side's static checks: npu.ko builds with no warning at W=1 and
# none from sparse (C=1), the driver, the ABI headers and the firmware
# (which is compiled into npu.ko) are clean under checkpatch.pl --strict,
# and every header that documents an interface (uapi, firmware, driver,
# the libraries' public ones) is clean under kernel-doc -Wall.
# checkpatch and kernel-doc come from Debian's linux-source-6.12, extracted
# once.
# usage: kernel-checks.sh KDIR MODULE_SOURCE_COPY CACHE_DIR
set -u
kdir=$1
kmod=$(realpath "$2")
cache=$(realpath -m "$3")
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0
result() {
	if [ "$2" = 0 ]; then
		echo "PASS $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		failed=$((failed + 1))
	fi
}

# The kernel's make must not inherit ours (O= would mean its output dir).
unset MAKEFLAGS MFLAGS MAKELEVEL
log=$(mktemp)
make -s -C "$kdir" M="$kmod" clean >/dev/null 2>&1
make -C "$kdir" M="$kmod" W=1 C=1 modules >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -qE 'warning:|error:|WARNING:' "$log"; then
	grep -E 'warning:|error:|WARNING:' "$log" | head -40
	[ $rc -ne 0 ] && tail -20 "$log"
	result kernel_build_w1_sparse_clean 1
else
	result kernel_build_w1_sparse_clean 0
fi

cp=$cache/scripts/checkpatch.pl
kd=$cache/scripts/kernel-doc
if [ ! -x "$cp" ] || [ ! -x "$kd" ]; then
	src=$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -1)
	if [ -z "$src" ]; then
		echo "kernel-checks: /usr/src/linux-source-6.12.tar.* missing (package linux-source-6.12)"
	else
		mkdir -p "$cache"
		tar -xf "$src" -C "$cache" --strip-components=1 --wildcards \
			'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch' '*/scripts/kernel-doc'
	fi
fi
if [ -x "$cp" ]; then
	"$cp" --strict --no-tree --terse --show-types -f \
		"$top"/driver/*.c "$top"/driver/*.h "$top"/uapi/drm/*.h \
		"$top"/firmware/src/*.c "$top"/firmware/src/*.h "$top"/firmware/include/*.h \
		"$top"/firmware/include/linux/*.h \
		>"$log" 2>&1
	if grep -qE ': (ERROR|WARNING|CHECK):' "$log"; then
		grep -E ': (ERROR|WARNING|CHECK):' "$log" | head -40
		result checkpatch_strict_clean 1
	else
		result checkpatch_strict_clean 0
	fi
else
	result checkpatch_strict_clean 1
fi

# Whole directories, so a new header is covered; a directory that does not
# exist (yet) adds nothing.
if [ -x "$kd" ]; then
	set --
	for f in "$top"/uapi/drm/*.h "$top"/firmware/include/*.h "$top"/firmware/include/linux/*.h \
		"$top"/driver/*.h "$top"/libnpu/include/npu/*.h "$top"/libnpu-llm/include/npu/*.h; do
		[ -f "$f" ] && set -- "$@" "${f#"$top"/}"
	done
	(cd "$top" && "$kd" -Wall -none "$@") >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || grep -qE 'warning:|error:' "$log"; then
		head -20 "$log"
		echo "kernel-doc warnings per file:"
		grep -E 'warning:|error:' "$log" | cut -d: -f1 | sort | uniq -c
		result kernel_doc_clean 1
	else
		result kernel_doc_clean 0
	fi
else
	result kernel_doc_clean 1
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
