# The PCI NPU's own cases, sourced by the guest's init after the suite ran
# on the PCI NPUs (npu.ko loaded, accel0 and accel1 served by npu-devd).
# A hostile device: records with a wrong tag, generation or status, a
# completion index far ahead, an interrupt storm; the driver must drop
# what is wrong, recover by its timeout and keep serving.

pci_start=$(cut -d' ' -f1 /proc/uptime)
# Both NPUs were PCI ones (test_unplug has unbound accel1 since).
check pci_npus_bound sh -c '[ "$(basename "$(readlink /sys/class/accel/accel0/device/driver)")" = npu-pci ] &&
	[ "$(dmesg | grep -c "cores (pci)")" -ge 2 ] && ! dmesg | grep -q "cores (emulated)"'
dmesg | grep -E 'cores \((pci|emulated)\)' | sed 's/^/guest: /'

run_args="--model /models/stories260K.bin --tokenizer /models/tok512.bin --steps 16"
# A short model run on $1; its text kept for comparison with the cpu backend's.
pci_run() { /bin/npu-run --device "$1" $run_args > "/tmp/pci-$1.txt" 2> "/tmp/pci-$1.err"; }
/bin/npu-run --device cpu $run_args > /tmp/pci-cpu.txt 2> /dev/null
check pci_run_same_tokens sh -c 'pci_ok() { /bin/npu-run --device accel0 '"$run_args"' > /tmp/pci-ok.txt 2>&1; }; pci_ok &&
	[ "$(sed "/^---$/q" /tmp/pci-ok.txt)" = "$(sed "/^---$/q" /tmp/pci-cpu.txt)" ]'

dbg=/sys/kernel/debug/accel/$(basename "$(readlink /sys/class/accel/accel0/device)")
# misbehave KIND COUNT NAME PATTERN: the device spoils its next COUNT records
# (KIND: npu_pci.h's enum npu_pci_misbehave) on accel0's core; a model run
# meets it; the driver logs PATTERN, and the next run gives the right tokens.
misbehave() {
	dmesg -c > /dev/null
	if ! echo "$1 0 $2" > "$dbg/misbehave"; then
		fail "pci_hostile_$3_armed"
		return
	fi
	pci_run accel0
	check "pci_hostile_$3_logged" sh -c "dmesg | grep -q '$4'"
	check "pci_hostile_$3_then_right_tokens" sh -c "pci_run() { /bin/npu-run --device accel0 $run_args > /tmp/pci-after.txt 2>&1; };
		pci_run && [ \"\$(sed '/^---$/q' /tmp/pci-after.txt)\" = \"\$(sed '/^---$/q' /tmp/pci-cpu.txt)\" ]"
}
misbehave 1 1 bad_tag 'bad completion record'
misbehave 2 1 bad_generation 'bad completion record'
misbehave 3 1 bad_status 'bad completion record'
misbehave 5 1 tail_past_head 'completion tail'
# An interrupt storm: 200,000 vectors with nothing behind them.
dmesg -c > /dev/null
check pci_irq_storm_armed sh -c "echo '4 0 200000' > $dbg/misbehave"
check pci_irq_storm_then_right_tokens sh -c "/bin/npu-run --device accel0 $run_args > /tmp/pci-storm.txt 2>&1 &&
	[ \"\$(sed '/^---$/q' /tmp/pci-storm.txt)\" = \"\$(sed '/^---$/q' /tmp/pci-cpu.txt)\" ]"
check pci_irq_storm_no_disabled_irq sh -c '! dmesg | grep -q "nobody cared"'
check pci_misbehave_refuses_bad_args sh -c "! echo '9 0 1' > $dbg/misbehave 2>/dev/null &&
	! echo '1 7 1' > $dbg/misbehave 2>/dev/null"
echo "guest: pci time $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $pci_start }") s"

# Device loss: accel0's device process killed on the host mid-job (run.sh
# does it when test_device_loss asks on the console); then rmmod, a new
# device process (SIGHUP to its npu-devd, asked the same way), a new probe,
# and accel0 serves again. Then accel1's device process stopped mid-job
# (SIGSTOP): only the heartbeat tells; it is killed after.
loss_start=$(cut -d' ' -f1 /proc/uptime)
run_test /tests/test_device_loss
check pci_lost_logged sh -c 'dmesg | grep -q "device lost"'
check pci_lost_rmmod rmmod npu
echo "NPU-RESTART-DEVICE 0" > /dev/console
# The new device process is up when its window has its magic again: probe
# until both NPUs are back, accel0 with its one core.
for i in $(seq 50); do
	insmod /modules/npu.ko 2>/dev/null && [ -e /dev/accel/accel1 ] &&
		[ "$(cat /sys/class/accel/accel0/device/cores 2>/dev/null)" = 1 ] && break
	rmmod npu 2>/dev/null
	sleep 0.2
done
check pci_reprobed_after_restart sh -c '[ -e /dev/accel/accel1 ] &&
	[ "$(cat /sys/class/accel/accel0/device/cores)" = 1 ] &&
	[ "$(basename "$(readlink /sys/class/accel/accel0/device/driver)")" = npu-pci ]'
check pci_reprobed_same_tokens sh -c "/bin/npu-run --device accel0 $run_args > /tmp/pci-again.txt 2>&1 &&
	[ \"\$(sed '/^---$/q' /tmp/pci-again.txt)\" = \"\$(sed '/^---$/q' /tmp/pci-cpu.txt)\" ]"
NPU_LOSS_ACCEL=1 NPU_LOSS_HOW=STOP NPU_MODELS=/models /tests/test_device_loss > /tmp/out 2>&1
tally /tmp/out guest test_device_loss@stopped $?
check pci_heartbeat_loss_logged sh -c 'dmesg | grep -q "device lost: no heartbeat"'
echo "NPU-KILL-DEVICE 1" > /dev/console
# The host's watcher acts within 50 ms; it must before the guest powers off.
sleep 1
echo "guest: device loss time $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $loss_start }") s"
