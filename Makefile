# NPU offload stack: userspace build (libnpu, firmware, tools, tests).
# The kernel module builds through Kbuild: make module.
#
#   make            libnpu (.a, .so, npu.pc), firmware image, tools, tests
#   make check      host tests, plain and under ASan+UBSan
#   make arm64-check   the same for arm64: cross-built, the host suites under
#                   qemu-aarch64 at every NEON level (make CROSS_COMPILE=aarch64-linux-gnu-
#                   builds for arm64; natively, plain make does)
#   make kernel-check  npu.ko at W=1 + sparse, checkpatch --strict
#   make qemu-check the guest suite: npu.ko in Debian's 6.12 under QEMU, on emulated
#                   and on PCI NPUs (qemu-emu-check, qemu-pci-check: one of them)
#                   (KERNEL=debug: in a KASAN/lockdep/kmemleak build of 6.12)
#   make fuzz-check libFuzzer on every parser, FUZZ_SECONDS each
#   make dkms-check npu.ko built by DKMS for the guest's kernel, smoke-tested
#   make llama-check the GGUF loader against llama.cpp's quantizer and ggml's
#                   dequantization, each architecture against its logits
#                   (fetched prebuilt into LLAMA_CACHE)
#   make test       all of them (what CI runs)
#   make install    libnpu, headers, npu.pc, tools, man pages, firmware, udev
#                   rule, the Python package npu (DESTDIR, PREFIX); make
#                   dkms-install registers npu.ko
#   make run        the main job
#   make server-bench  npu-server under load, on the cpu backend and in the guest
#   make numerics   measure every op against double precision
#
# O=DIR builds elsewhere; SAN=1 builds with ASan and UBSan.

O ?= build
SAN ?=
PREFIX ?= /usr/local

# The target is what $(CC) builds for: this machine, or arm64 with
# CROSS_COMPILE=aarch64-linux-gnu- (Debian's gcc-aarch64-linux-gnu and the
# arm64 -dev packages; make arm64-check). Build-time tools use HOSTCC.
CROSS_COMPILE ?=
CC ?= cc
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
LD := $(CROSS_COMPILE)ld
HOSTCC ?= gcc
TARGET := $(shell $(CC) -dumpmachine)
# The kernels' directory for the target's levels (swcore/kernels/x86, arm64).
ARCH_DIR := $(if $(filter x86_64-%,$(TARGET)),x86,$(if $(filter aarch64-%,$(TARGET)),arm64))
ifeq ($(ARCH_DIR),)
$(error the software core has kernels for x86-64 and arm64 only, not $(TARGET))
endif
# A cross build finds the target's libraries by Debian's multiarch paths.
PKG_CONFIG ?= $(if $(CROSS_COMPILE),env PKG_CONFIG_LIBDIR=/usr/lib/$(TARGET)/pkgconfig:/usr/share/pkgconfig \
	pkg-config,pkg-config)

VERSION := 0.1.0
# libnpu-llm's ABI: 1 since the model families (struct npu_model_config,
# npu_model and npu_tokenizer grew).
LLM_SOVERSION := 1
LLM_VERSION := $(LLM_SOVERSION).0.0
BUILD_ID := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fPIC -fvisibility=hidden
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(SAN),1)
BASE_CFLAGS += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
endif

# The firmware: freestanding, no libc, no floating point, no SIMD registers.
FW_COMMON_CFLAGS := $(BASE_CFLAGS) -Ifirmware/include -ffreestanding -fno-builtin \
	-nostdlib -fno-tree-loop-distribute-patterns -fno-stack-protector
FW_CFLAGS := $(FW_COMMON_CFLAGS) -mgeneral-regs-only $(if $(filter x86,$(ARCH_DIR)),-mno-red-zone)

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka libdrm libusb-1.0 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs libdrm libusb-1.0 2>/dev/null || echo -ldrm -lusb-1.0)
CFLAGS := $(BASE_CFLAGS) -Ilibnpu/include $(PKG_CFLAGS)

FW_SRCS := $(wildcard firmware/src/*.c)
FW_OBJS := $(patsubst firmware/src/%.c,$(O)/fw/%.o,$(FW_SRCS))
# The software NPU core (swcore/) runs the same firmware sources on the host CPU,
# built for it: the compiler may use SIMD registers in the firmware's own
# loops (row loads, products, rope, norms). Integer C, so the same results.
FW_LIB_OBJS := $(patsubst firmware/src/%.c,$(O)/lib/fw/%.o,$(FW_SRCS))
FW_LIB_CFLAGS := $(FW_COMMON_CFLAGS) -O3
# The software core as a component: its sources, its kernels, the firmware
# it runs and the image it boots. libnpu's cpu backend and npu-usb-gadget use it.
SWCORE_SRCS := $(wildcard swcore/*.c)
KERNEL_SRCS := $(wildcard swcore/kernels/*.c swcore/kernels/$(ARCH_DIR)/*.c)
SWCORE_OBJS := $(patsubst swcore/%.c,$(O)/lib/swcore/%.o,$(SWCORE_SRCS)) \
	$(patsubst swcore/kernels/%.c,$(O)/lib/kernels/%.o,$(KERNEL_SRCS)) \
	$(O)/lib/swcore/builtin_fw.o $(FW_LIB_OBJS)
LIB_SRCS := $(wildcard libnpu/src/*.c)
LIB_OBJS := $(patsubst libnpu/src/%.c,$(O)/lib/obj/%.o,$(LIB_SRCS))
# Each level's kernels compile for that level only; kernels.c picks at run time.
ISA_FLAGS_mm_avx2 := -mavx2
ISA_FLAGS_mm_block_avx2 := -mavx2 -mbmi2
ISA_FLAGS_mm_block_g1_avx2 := -mavx2 -mbmi2
ISA_FLAGS_mm_block_g1_avxvnni := -mavx2 -mbmi2 -mavxvnni
ISA_FLAGS_mm_block_g1_avx512 := -mavx2 -mbmi2 -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_requant_avx2 := -mavx2 -mbmi2
ISA_FLAGS_attention_avx2 := -mavx2 -mbmi2
ISA_FLAGS_eltwise_avx2 := -mavx2 -mbmi2
ISA_FLAGS_mm_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_mm_gemm_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_requant_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_attention_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_mm_packed_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512vnni
ISA_FLAGS_eltwise_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq
ISA_FLAGS_mm_dotprod := -march=armv8.2-a+dotprod
ISA_FLAGS_mm_i8mm := -march=armv8.2-a+dotprod+i8mm
# libnpu-llm: language models on libnpu. It sees libnpu's public header
# and the ABI header only, as an application does.
LLM_SRCS := $(wildcard libnpu-llm/src/*.c)
LLM_OBJS := $(patsubst libnpu-llm/src/%.c,$(O)/llm/obj/%.o,$(LLM_SRCS))
LLM_CFLAGS := $(CFLAGS) -Ilibnpu-llm/include -Iuapi
# Tools and tests link libnpu-llm before libnpu; its tokenizers' regexes are PCRE2's.
LIBS_LLM := $(O)/lib/libnpu-llm.a $(O)/lib/libnpu.a
LLM_LIBS := $(shell $(PKG_CONFIG) --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
TOOLS := $(O)/bin/npu-info $(O)/bin/npu-numerics $(O)/bin/npu-run $(O)/bin/npu-bench $(O)/bin/npu-gguf \
	$(O)/bin/npu-tokenize $(O)/bin/npu-usb-gadget $(O)/bin/npu-server $(O)/bin/npu-quantize \
	$(O)/bin/npu-devd
GADGET_SRCS := $(wildcard tools/npu-usb-gadget/*.c)
DEVD_SRCS := $(wildcard tools/npu-devd/*.c)
RUN_SRCS := $(wildcard tools/npu-run/*.c)
SERVER_SRCS := $(wildcard tools/npu-server/*.c)
# npu-server alone links libmicrohttpd and json-c.
SERVER_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd json-c 2>/dev/null)
SERVER_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd json-c 2>/dev/null || echo -lmicrohttpd -ljson-c)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
# test_backends also runs on the host: the cpu backend at each ISA level against its scalar level.
TESTS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(TEST_SRCS)) $(O)/tests/test_backends
GUEST_SRCS := $(wildcard tests/guest/test_*.c tests/guest/bench_*.c)
GUEST_TESTS := $(patsubst tests/guest/%.c,$(O)/guest/%,$(GUEST_SRCS))
HDRS := $(wildcard uapi/drm/*.h firmware/include/*.h firmware/src/*.h libnpu/include/npu/*.h \
	libnpu/src/*.h swcore/*.h swcore/kernels/*.h swcore/kernels/*/*.h libnpu-llm/include/npu/*.h libnpu-llm/src/*.h \
	tests/*.h tests/unit/*.h tests/guest/*.h tests/fuzz/*.h tests/llama/*.h tools/*.h \
	tools/npu-run/*.h)

.PHONY: all check test run deps numerics clean module module-clean qemu-check qemu-emu-check qemu-pci-check kernel-check \
	server-bench \
	kmod-sources fuzz-check install uninstall dkms-install dkms-uninstall dkms-check llama-check \
	arm64-check
.DELETE_ON_ERROR:

all: $(O)/lib/libnpu.a $(O)/lib/libnpu.so $(O)/lib/pkgconfig/npu.pc $(O)/lib/libnpu-llm.a \
	$(O)/lib/libnpu-llm.so $(O)/lib/pkgconfig/npu-llm.pc \
	$(O)/firmware/npu_fw.bin $(O)/fw/npu_fw.o $(TOOLS) $(TESTS) $(O)/host/host-cpu

deps:
	@tools/install-deps.sh

# ---- firmware --------------------------------------------------------
# The freestanding build's own <linux/types.h>, which the uapi headers include.
HDRS += firmware/include/linux/types.h

$(O)/fw/%.o: firmware/src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(FW_CFLAGS) -c $< -o $@

$(O)/lib/fw/%.o: firmware/src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(FW_LIB_CFLAGS) -c $< -o $@

# All firmware objects as one relocatable object: what the checks inspect.
$(O)/fw/npu_fw.o: $(FW_OBJS)
	$(LD) -r -o $@ $^

# The CPU's instruction-set levels, by libnpu's probe, for the test runners.
HOST_CPU_SRCS := tests/host-cpu.c swcore/kernels/isa.c swcore/kernels/$(ARCH_DIR)/cpu.c
$(O)/host/host-cpu: $(HOST_CPU_SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(HOST_CPU_SRCS) $(LDFLAGS)

# mkfw runs here, at build time: the build machine's compiler.
$(O)/host/mkfw: tools/mkfw.c firmware/src/image.c $(HDRS)
	@mkdir -p $(@D)
	$(HOSTCC) $(BASE_CFLAGS) -o $@ tools/mkfw.c firmware/src/image.c $(LDFLAGS) -lm

$(O)/firmware/npu_fw.bin $(O)/gen/builtin_fw.c &: $(O)/host/mkfw
	@mkdir -p $(O)/firmware $(O)/gen
	$(O)/host/mkfw -b "$(BUILD_ID)" -c $(O)/gen/builtin_fw.c $(O)/firmware/npu_fw.bin

# ---- the software core -------------------------------------------------
$(O)/lib/swcore/%.o: swcore/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/lib/kernels/%.o: swcore/kernels/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ISA_FLAGS_$(notdir $*)) -c $< -o $@

$(O)/lib/swcore/builtin_fw.o: $(O)/gen/builtin_fw.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/lib/libnpu-swcore.a: $(SWCORE_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

# ---- libnpu -----------------------------------------------------------
$(O)/lib/obj/%.o: libnpu/src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/lib/libnpu.a: $(LIB_OBJS) $(SWCORE_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/lib/libnpu.so: $(LIB_OBJS) $(SWCORE_OBJS)
	$(CC) -shared -Wl,-soname,libnpu.so.0 -Wl,--no-undefined -o $@ $^ $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

# npu.pc for PREFIX; make install writes it again for its own directories.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

$(O)/lib/pkgconfig/npu.pc: libnpu/npu.pc.in
	@mkdir -p $(@D)
	$(PC_SED) $< > $@

# ---- libnpu-llm -----------------------------------------------------------
$(O)/llm/obj/%.o: libnpu-llm/src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -c $< -o $@

$(O)/lib/libnpu-llm.a: $(LLM_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/lib/libnpu-llm.so: $(LLM_OBJS) $(O)/lib/libnpu.so
	$(CC) -shared -Wl,-soname,libnpu-llm.so.$(LLM_SOVERSION) -Wl,--no-undefined -o $@ $(LLM_OBJS) \
		$(O)/lib/libnpu.so $(LDFLAGS) $(LLM_LIBS) -lm

$(O)/lib/pkgconfig/npu-llm.pc: libnpu-llm/npu-llm.pc.in
	@mkdir -p $(@D)
	$(PC_SED) $< > $@

# ---- tools and tests ---------------------------------------------------
$(O)/bin/npu-run: $(RUN_SRCS) $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -DNPU_MODEL_DIR='"$(PREFIX)/share/npu/models"' -o $@ $(RUN_SRCS) \
		$(LIBS_LLM) $(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

# page.c includes page.html (.incbin, a path from the top of the tree).
$(O)/bin/npu-server: $(SERVER_SRCS) $(wildcard tools/npu-server/*.h) tools/npu-server/page.html \
		$(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) $(SERVER_CFLAGS) -o $@ $(SERVER_SRCS) $(LIBS_LLM) $(LLM_LIBS) \
		$(SERVER_LIBS) $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

# npu-bench's loops are the target architecture's own.
BENCH_SRCS := tools/npu-bench/main.c tools/npu-bench/simd_$(ARCH_DIR).c
$(O)/bin/npu-bench: $(BENCH_SRCS) tools/npu-bench/simd.h $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -o $@ $(BENCH_SRCS) $(LIBS_LLM) $(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

$(O)/bin/npu-gguf $(O)/bin/npu-tokenize $(O)/bin/npu-quantize: $(O)/bin/%: tools/%.c $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -o $@ $< $(LIBS_LLM) $(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

# The USB NPU's device side serves the software core; of libnpu, only its
# status texts (npu_strerror).
$(O)/bin/npu-usb-gadget: $(GADGET_SRCS) tools/npu-usb-gadget/gadget.h $(O)/lib/libnpu-swcore.a \
		$(O)/lib/obj/status.o $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(GADGET_SRCS) $(O)/lib/libnpu-swcore.a $(O)/lib/obj/status.o $(LDFLAGS) \
		-lpthread

# The PCI NPU's device (a host daemon) runs the software core's firmware and kernels.
$(O)/bin/npu-devd: $(DEVD_SRCS) tools/npu-devd/devd.h $(O)/lib/libnpu-swcore.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(DEVD_SRCS) $(O)/lib/libnpu-swcore.a $(LDFLAGS) -lpthread

NUMERICS_SRCS := $(wildcard tools/npu-numerics/*.c)
$(O)/bin/npu-numerics: $(NUMERICS_SRCS) tools/npu-numerics/numerics.h $(O)/lib/libnpu.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(NUMERICS_SRCS) $(O)/lib/libnpu.a $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

$(O)/bin/%: tools/%.c $(O)/lib/libnpu.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(O)/lib/libnpu.a $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

# A host test: its source, testlib, the libraries and cmocka.
LINK_TEST = $(CC) $(LLM_CFLAGS) -o $@ $< tests/unit/testlib.c $(LIBS_LLM) $(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) \
	$(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka) -lm -lpthread

$(O)/tests/%: tests/unit/%.c tests/unit/testlib.c $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(LINK_TEST)

$(O)/tests/test_backends: tests/guest/test_backends.c tests/unit/testlib.c $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(LINK_TEST)

# ---- llama.cpp as the GGUF oracle -----------------------------------------
# make llama-check: llama.cpp's own quantizer and dequantizer (node-llama-cpp's
# prebuilt libraries and the same release's headers, fetched by
# tests/llama/fetch.sh into LLAMA_CACHE, outside the clone) make and read
# files of each common GGUF type; the loader must hold ggml's values. Its
# logits on stories260K in each architecture's layout are the forward pass's.
LLAMA_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/npu-llama
LLAMA_DIR := $(LLAMA_CACHE)/node-llama-cpp-3.22.1

# Test tooling, not a library of ours: llama.cpp's headers, its libraries' rpath.
# The oracle loads the CPU backend's best variant from the same directory.
$(O)/llama/ggml-oracle: tests/llama/ggml-oracle.c $(LLAMA_DIR)/VERSIONS
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_FILE_OFFSET_BITS=64 -I$(LLAMA_DIR)/include \
		-DORACLE_LIB_DIR='"$(LLAMA_DIR)/lib"' -o $@ $< \
		-L$(LLAMA_DIR)/lib -l:libllama.v0.5.0.so -l:libggml-base.so -l:libggml.v0.5.0.so \
		-Wl,-rpath,$(LLAMA_DIR)/lib

# The per-architecture files, written with ggml's own GGUF writer.
$(O)/llama/make-arch: tests/llama/make-arch.c $(LLAMA_DIR)/VERSIONS
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g $(WARN) -I$(LLAMA_DIR)/include -o $@ $< \
		-L$(LLAMA_DIR)/lib -l:libggml-base.so -Wl,-rpath,$(LLAMA_DIR)/lib -lm

$(O)/llama/test_gguf_ggml $(O)/llama/test_vocab $(O)/llama/test_arch \
		$(O)/llama/test_chat_oracle: $(O)/llama/%: tests/llama/%.c $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -o $@ $< $(LIBS_LLM) $(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) -lm -lpthread

llama-check: deps
	@tests/llama/check.sh $(O) $(LLAMA_CACHE) $(MODELS)

# ---- kernel module --------------------------------------------------------
# KDIR: a kernel build tree; by default the Debian 6.12 headers that the
# QEMU harness fetches into $(QEMU_DIR)/kernel.
QEMU_DIR ?= $(O)/qemu
# Models are read from ../shared/models (never committed); NPU_MODELS for tests.
MODELS ?= ../shared/models
# KERNEL=debug: the guest kernel is built here from linux-source-6.12 with
# KASAN, lockdep, kmemleak and fault injection (long first build, cached).
KERNEL ?= debian
ifeq ($(KERNEL),debug)
KCACHE := $(QEMU_DIR)/kernel-debug
KERNEL_SH := tests/qemu/debug-kernel.sh
# KASAN under TCG runs the guest suite several times slower.
export QEMU_TIMEOUT ?= 2700
else
KCACHE := $(QEMU_DIR)/kernel
KERNEL_SH := tests/qemu/kernel.sh
endif
KVER = $(shell $(KERNEL_SH) $(KCACHE))
KDIR ?= $(KCACHE)/root/usr/src/linux-headers-$(KVER)
KFLAGS ?= W=1

# The module builds in a copy of its sources: kbuild's clean sweeps the
# whole M= tree, which must not be the one that holds build/. One copy per
# guest kernel, so neither build overwrites the other's npu.ko.
KMOD_DIR := $(abspath $(O))/kmod$(if $(filter debug,$(KERNEL)),-debug)

kmod-sources:
	@mkdir -p $(KMOD_DIR)
	@cp -ru --preserve=timestamps Kbuild driver firmware uapi $(KMOD_DIR)/

module: deps kmod-sources
	$(MAKE) -C $(KDIR) M=$(KMOD_DIR) O= $(KFLAGS) modules

module-clean:
	$(MAKE) -C $(KDIR) M=$(KMOD_DIR) O= clean

# In-guest tests: raw ioctls (guestlib) and libnpu (testlib).
$(O)/guest/%: tests/guest/%.c tests/guest/guestlib.c tests/unit/testlib.c $(LIBS_LLM) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(LLM_CFLAGS) -o $@ $< tests/guest/guestlib.c tests/unit/testlib.c $(LIBS_LLM) \
		$(LLM_LIBS) $(LDFLAGS) $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka) \
		-lm -lpthread

# The guest suite on both NPUs: emulated, then PCI (tests/qemu/both-backends.sh).
qemu-check: deps
	@MAKE="$(MAKE)" tests/qemu/both-backends.sh

# What the guest suite's initramfs holds: the model, npu.ko, llama.cpp's files.
GUEST_FILES = NPU_MODEL="$(wildcard $(MODELS)/stories260K.bin $(MODELS)/stories260K.gguf)" \
	NPU_TOKENIZER="$(wildcard $(MODELS)/tok512.bin)" NPU_KMOD=$(KMOD_DIR)/npu.ko \
	NPU_QUANT="$(wildcard $(addprefix $(LLAMA_CACHE)/files/,k256/Q*.gguf stories260K/Q*.gguf) \
		$(if $(1),$(addprefix $(LLAMA_CACHE)/arch/,qwen2.gguf qwen3-hd16.gguf gemma.gguf \
		phi3.gguf llama-yarn.gguf)))"

qemu-emu-check: deps
	@$(MAKE) --no-print-directory all $(GUEST_TESTS)
	@$(MAKE) --no-print-directory module
	$(call GUEST_FILES,arch) \
		tests/qemu/mkinitramfs.sh $(KCACHE) $(O) $(QEMU_DIR)/initramfs-$(KERNEL).cpio.gz
	NPU_SERVER_CLIENT="tests/guest-server-check.sh $(O)" tests/qemu/run.sh $(KCACHE) \
		$(QEMU_DIR)/initramfs-$(KERNEL).cpio.gz $(QEMU_DIR)/console-$(KERNEL).log

# The same guest suite on two PCI NPUs, each an npu-devd on this host
# (ivshmem-doorbell), then the device-loss and hostile-device cases.
qemu-pci-check: deps
	@$(MAKE) --no-print-directory all $(GUEST_TESTS)
	@$(MAKE) --no-print-directory module
	$(call GUEST_FILES,) \
		tests/qemu/mkinitramfs.sh $(KCACHE) $(O) $(QEMU_DIR)/pci-initramfs-$(KERNEL).cpio.gz
	NPU_DEVD=$(O)/bin/npu-devd tests/qemu/run.sh $(KCACHE) \
		$(QEMU_DIR)/pci-initramfs-$(KERNEL).cpio.gz $(QEMU_DIR)/console-pci-$(KERNEL).log pci

# make server-bench: npu-server under load (tools/server-bench.sh), on the
# cpu backend here, then on npu.ko in the guest (BENCH_STREAMS, BENCH_SECONDS).
server-bench: deps
	@$(MAKE) --no-print-directory all $(GUEST_TESTS)
	@$(MAKE) --no-print-directory module
	tools/server-bench.sh $(O) cpu
	NPU_MODEL="$(wildcard $(MODELS)/stories260K.gguf)" NPU_KMOD=$(KMOD_DIR)/npu.ko \
		tests/qemu/mkinitramfs.sh $(KCACHE) $(O) $(QEMU_DIR)/serve-initramfs.cpio.gz
	NPU_SERVER_CLIENT="tools/server-bench.sh $(O)" tests/qemu/run.sh $(KCACHE) \
		$(QEMU_DIR)/serve-initramfs.cpio.gz $(QEMU_DIR)/serve.log serve

# ---- DKMS ----------------------------------------------------------------
# dkms-install (root): register the module source with DKMS, which then
# rebuilds npu.ko for every kernel installed from now on. dkms-check: the
# same registration and build in private DKMS trees for the guest's kernel,
# then the guest's smoke suite on the module DKMS built.
# DKMS reads /usr/src itself: no DESTDIR here.
DKMS_SRC = /usr/src/npu-$(VERSION)

dkms-install:
	install -d $(DKMS_SRC)
	cp -r Kbuild driver firmware uapi $(DKMS_SRC)/
	sed 's|@VERSION@|$(VERSION)|' packaging/dkms.conf.in > $(DKMS_SRC)/dkms.conf
	dkms add -m npu -v $(VERSION)
	dkms install -m npu -v $(VERSION)

dkms-uninstall:
	-dkms remove -m npu -v $(VERSION) --all
	rm -rf $(DKMS_SRC)

dkms-check: deps
	@$(MAKE) --no-print-directory all $(GUEST_TESTS)
	tests/dkms-check.sh $(O) $(KDIR) $(KVER) $(VERSION)
	NPU_MODEL="$(wildcard $(MODELS)/stories260K.bin)" NPU_TOKENIZER="$(wildcard $(MODELS)/tok512.bin)" \
		NPU_KMOD=$(O)/dkms/npu.ko \
		tests/qemu/mkinitramfs.sh $(KCACHE) $(O) $(QEMU_DIR)/dkms-initramfs.cpio.gz
	tests/qemu/run.sh $(KCACHE) $(QEMU_DIR)/dkms-initramfs.cpio.gz $(QEMU_DIR)/dkms.log smoke

# ---- fuzzing (libFuzzer, clang) -----------------------------------------
# Harnesses for every parser of outside input; make test runs each for
# FUZZ_SECONDS, longer runs take a larger value. Found crashes are kept in
# tests/fuzz/regressions and replayed first.
FUZZ_SECONDS ?= 10
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FW_SRCS_ALL := $(wildcard firmware/src/*.c)

$(O)/fuzz/fuzz_cmdstream $(O)/fuzz/fuzz_image: $(O)/fuzz/%: tests/fuzz/%.c $(FW_SRCS_ALL) $(HDRS) \
		tests/fuzz/fuzz_cmdstream.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Ifirmware/include $< $(FW_SRCS_ALL) -o $@

# The model loaders alone: libnpu-llm's file parsers and libnpu's number formats.
FUZZ_MODEL_SRCS := $(addprefix libnpu-llm/src/,checkpoint.c tokenizer.c gguf.c gguf_arch.c gguf_vocab.c \
	gguf_tensors.c gguf_quants.c quantize.c parts.c vocab.c tokenizer_spm.c tokenizer_bpe.c \
	pretokenizer.c) \
	libnpu/src/format.c

$(O)/fuzz/fuzz_model: tests/fuzz/fuzz_model.c tests/fuzz/fuzz_file.h $(FUZZ_MODEL_SRCS) $(HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Ilibnpu/include -Ilibnpu-llm/include $< $(FUZZ_MODEL_SRCS) $(LLM_LIBS) -lm -o $@

# The GGUF vocabularies alone: the same sources, through npu_tokenizer_load_gguf.
$(O)/fuzz/fuzz_vocab: tests/fuzz/fuzz_vocab.c tests/fuzz/fuzz_file.h $(FUZZ_MODEL_SRCS) $(HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -Ilibnpu/include -Ilibnpu-llm/include $< $(FUZZ_MODEL_SRCS) $(LLM_LIBS) -lm -o $@

$(O)/fuzz/seedgen: tests/fuzz/seedgen.c tests/fuzz/fuzz_cmdstream.h tests/vocab_build.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -Wall -Wextra -Werror $(PKG_CFLAGS) $< -o $@

fuzz-check: deps
	@$(MAKE) --no-print-directory all $(O)/fuzz/fuzz_cmdstream $(O)/fuzz/fuzz_image \
		$(O)/fuzz/fuzz_model $(O)/fuzz/fuzz_vocab $(O)/fuzz/seedgen
	@tests/fuzz/run.sh $(O) $(FUZZ_SECONDS)

# ---- running -----------------------------------------------------------
# The kernels' thread pool also runs under ThreadSanitizer, in test_kernels_*, and
# npu-devd's threads in test_devd.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory O=$(O)/san SAN=1 all
	@$(MAKE) --no-print-directory O=$(O)/tsan SAN=1 SAN_FLAGS="$(TSAN_FLAGS)" \
		$(O)/tsan/tests/test_kernels_matmul $(O)/tsan/tests/test_kernels_ops \
		$(O)/tsan/tests/test_tokenizer $(O)/tsan/tests/test_llm $(O)/tsan/host/host-cpu \
		$(O)/tsan/tests/test_devd $(O)/tsan/bin/npu-devd $(O)/tsan/firmware/npu_fw.bin
	@tests/run-host-tests.sh $(O) $(O)/san $(O)/tsan

# First a line naming the CPU and the instruction-set levels the run tests.
test: deps
	@$(MAKE) --no-print-directory -s $(O)/host/host-cpu
	@$(O)/host/host-cpu
	@tests/run-all.sh O=$(O)

# ---- arm64 ----------------------------------------------------------------
# make arm64-check: the tree cross-built for arm64, plain and with ASan and
# UBSan, its host suites under QEMU's user mode, then the guest suite in
# an aarch64 guest on Debian's arm64 kernel with a drm.ko that has DRM
# accel (tests/qemu/arm64-kernel.sh, cached in ARM64_KCACHE, outside the
# clone), npu.ko cross-built against it (tests/arm64-check.sh).
ARM64_MAKE = $(MAKE) --no-print-directory CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc \
	AR=aarch64-linux-gnu-ar
ARM64_O := $(O)/arm64
ARM64_KCACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/npu-arm64-kernel
ARM64_KMOD := $(abspath $(ARM64_O))/kmod
ARM64_KBUILD = $(MAKE) -C $(ARM64_KCACHE)/root/usr/src/linux-headers-$$(cat $(ARM64_KCACHE)/version) \
	M=$(ARM64_KMOD) O= ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
	CONFIG_DRM_ACCEL=y KCFLAGS=-DCONFIG_DRM_ACCEL=1 KBUILD_EXTRA_SYMBOLS=$(ARM64_KCACHE)/drm.symvers

arm64-check: deps
	@$(MAKE) --no-print-directory all
	@$(ARM64_MAKE) O=$(ARM64_O) all $(patsubst $(O)/%,$(ARM64_O)/%,$(GUEST_TESTS))
	@$(ARM64_MAKE) O=$(ARM64_O)/san SAN=1 all
	@tests/qemu/arm64-kernel.sh $(ARM64_KCACHE) >/dev/null
	@mkdir -p $(ARM64_KMOD)
	@cp -ru --preserve=timestamps Kbuild driver firmware uapi $(ARM64_KMOD)/
	$(ARM64_KBUILD) $(KFLAGS) modules
	$(call GUEST_FILES,) NPU_KMOD=$(ARM64_KMOD)/npu.ko NPU_GUEST_ARCH=arm64 \
		tests/qemu/mkinitramfs.sh $(ARM64_KCACHE) $(ARM64_O) $(ARM64_O)/initramfs.cpio.gz
	@NPU_SERVER_CLIENT="tests/guest-server-check.sh $(O)" tests/arm64-check.sh $(ARM64_O) \
		$(ARM64_O)/san $(ARM64_KCACHE) $(ARM64_O)/initramfs.cpio.gz

kernel-check: deps kmod-sources
	@tests/kernel-checks.sh $(KDIR) $(KMOD_DIR) $(QEMU_DIR)/checkpatch

numerics: all
	$(O)/bin/npu-numerics

# make run: npu-run in the QEMU guest on the PCI NPU (npu-devd on this host),
# then on an emulated one, and both decode speeds (DEVICE=cpu or float: on
# this host instead). MODEL/TOKENIZER default to stories260K from
# ../shared/models when present, else the synthetic model.
MODEL ?= $(wildcard $(MODELS)/stories260K.bin)
TOKENIZER ?= $(if $(MODEL),$(wildcard $(MODELS)/tok512.bin))
DEVICE ?= accel
STEPS ?= 200
RUN_ARGS = --steps $(STEPS) $(if $(filter float,$(DEVICE)),,--compare) \
	$(if $(MODEL),--model $(1)$(notdir $(MODEL))) $(if $(TOKENIZER),--tokenizer $(1)$(notdir $(TOKENIZER)))

run: deps
	@$(MAKE) --no-print-directory all
ifeq ($(DEVICE),accel)
	@$(MAKE) --no-print-directory module
	NPU_MODEL="$(MODEL)" NPU_TOKENIZER="$(TOKENIZER)" NPU_RUN_ARGS="$(call RUN_ARGS,/models/)" \
		NPU_KMOD=$(KMOD_DIR)/npu.ko \
		tests/qemu/mkinitramfs.sh $(KCACHE) $(O) $(QEMU_DIR)/run-initramfs.cpio.gz
	NPU_DEVD=$(O)/bin/npu-devd tests/qemu/run.sh $(KCACHE) $(QEMU_DIR)/run-initramfs.cpio.gz \
		$(QEMU_DIR)/run.log run
else
	$(O)/bin/npu-run --device $(DEVICE) $(call RUN_ARGS,$(MODELS)/)
endif

# ---- install -------------------------------------------------------------
# DESTDIR and PREFIX are honoured; the firmware and the udev rule go where
# the kernel and udev look for them, under DESTDIR only.
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
FIRMWAREDIR ?= /lib/firmware
UDEVRULESDIR ?= /lib/udev/rules.d
INSTALL_TOOLS := npu-info npu-run npu-bench npu-numerics npu-gguf npu-tokenize npu-quantize npu-usb-gadget \
	npu-server npu-devd
INSTALL_HDRS := libnpu/include/npu/npu.h libnpu-llm/include/npu/model.h libnpu-llm/include/npu/llm.h
MAN_PAGES := $(wildcard docs/man/*.1)
# The Python package, where Debian's python3 looks (its dist-packages).
PYTHONDIR ?= $(PREFIX)/lib/python3/dist-packages
PY_SRCS := $(wildcard python/npu/*.py)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/npu \
		$(DESTDIR)$(INCLUDEDIR)/drm $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(FIRMWAREDIR)/npu \
		$(DESTDIR)$(UDEVRULESDIR)
	install -m 755 $(addprefix $(O)/bin/,$(INSTALL_TOOLS)) $(DESTDIR)$(BINDIR)/
	install -m 644 $(O)/lib/libnpu.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(O)/lib/libnpu.so $(DESTDIR)$(LIBDIR)/libnpu.so.$(VERSION)
	ln -sf libnpu.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libnpu.so.0
	ln -sf libnpu.so.0 $(DESTDIR)$(LIBDIR)/libnpu.so
	install -m 644 $(O)/lib/libnpu-llm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(O)/lib/libnpu-llm.so $(DESTDIR)$(LIBDIR)/libnpu-llm.so.$(LLM_VERSION)
	ln -sf libnpu-llm.so.$(LLM_VERSION) $(DESTDIR)$(LIBDIR)/libnpu-llm.so.$(LLM_SOVERSION)
	ln -sf libnpu-llm.so.$(LLM_SOVERSION) $(DESTDIR)$(LIBDIR)/libnpu-llm.so
	$(PC_SED) libnpu/npu.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/npu.pc
	$(PC_SED) libnpu-llm/npu-llm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/npu-llm.pc
	install -m 644 $(INSTALL_HDRS) $(DESTDIR)$(INCLUDEDIR)/npu/
	install -m 644 uapi/drm/npu_accel.h uapi/drm/npu_cmd.h $(DESTDIR)$(INCLUDEDIR)/drm/
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(O)/firmware/npu_fw.bin $(DESTDIR)$(FIRMWAREDIR)/npu/
	install -m 644 packaging/70-npu.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -d $(DESTDIR)$(PYTHONDIR)/npu
	install -m 644 $(PY_SRCS) $(DESTDIR)$(PYTHONDIR)/npu/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_TOOLS)) \
		$(addprefix $(DESTDIR)$(LIBDIR)/,libnpu.a libnpu.so libnpu.so.0 libnpu.so.$(VERSION)) \
		$(addprefix $(DESTDIR)$(LIBDIR)/,libnpu-llm.a libnpu-llm.so \
			libnpu-llm.so.$(LLM_SOVERSION) libnpu-llm.so.$(LLM_VERSION)) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/npu.pc $(DESTDIR)$(LIBDIR)/pkgconfig/npu-llm.pc \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/npu/,$(notdir $(INSTALL_HDRS))) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/drm/,npu_accel.h npu_cmd.h) \
		$(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN_PAGES))) \
		$(DESTDIR)$(FIRMWAREDIR)/npu/npu_fw.bin $(DESTDIR)$(UDEVRULESDIR)/70-npu.rules
	-rmdir $(DESTDIR)$(INCLUDEDIR)/npu $(DESTDIR)$(FIRMWAREDIR)/npu 2>/dev/null
	rm -rf $(addprefix $(DESTDIR)$(PYTHONDIR)/npu/,$(notdir $(PY_SRCS)) __pycache__)
	-rmdir $(DESTDIR)$(PYTHONDIR)/npu 2>/dev/null

clean:
	rm -rf $(O)
