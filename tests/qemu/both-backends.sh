#!/bin/sh
# make qemu-check: the guest suite on emulated NPUs (make qemu-emu-check),
# then on PCI NPUs served by npu-devd (make qemu-pci-check); each boot's
# output and result, then one line for the two.
# usage: MAKE=make both-backends.sh (MAKEFLAGS pass through the environment)
set -u
passed=0
failed=0
skipped=0
out=$(mktemp)
for target in qemu-emu-check qemu-pci-check; do
	${MAKE:-make} --no-print-directory "$target" 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -1)
	if [ -z "$line" ]; then
		echo "qemu-check: make $target gave no result: one failure"
		failed=$((failed + 1))
		continue
	fi
	echo "qemu-check: make $target: $line"
	passed=$((passed + ${line%% passed*}))
	f=${line#*passed, }
	failed=$((failed + ${f%% failed*}))
	s=${line#*failed, }
	skipped=$((skipped + ${s%% skipped*}))
done
rm -f "$out"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
