/* SPDX-License-Identifier: MIT */
#ifndef TESTLIB_H
#define TESTLIB_H
#include <stdint.h>
#endif
