// SPDX-License-Identifier: MIT
/*
 * The chat page served at /: tools/npu-server/page.html as it is, built
 * into the binary (the assembler includes the file, NUL-terminated), so
 * the server needs nothing beside it.
 */
#include "npu-server.h"

__asm__(".section .rodata\n"
	".global npu_server_page\n"
	".type npu_server_page, @object\n"
	"npu_server_page:\n"
	".incbin \"tools/npu-server/page.html\"\n"
	".byte 0\n"
	".size npu_server_page, . - npu_server_page\n"
	".previous\n");
