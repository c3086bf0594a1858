// test-headers.cc: the public headers compiled as C++ (see test-headers.c).
//
// SPDX-License-Identifier: LGPL-2.1-or-later
#include "test-headers.c"
