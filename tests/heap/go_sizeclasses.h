/* SPDX-License-Identifier: MIT */
/*
 * go_sizeclasses.h - the expected data of the heap tests: Go 1.19's
 * size classes (runtime/sizeclasses.go), written out independently of
 * runtime/sizeclasses.c so a wrong runtime table cannot check itself.
 */
#ifndef GORT_TEST_GO_SIZECLASSES_H
#define GORT_TEST_GO_SIZECLASSES_H

#include <stdint.h>

#define NCLASSES	68
#define PAGE		8192

static const uint32_t go_class_to_size[NCLASSES] = {
	0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
	1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
	4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
	28672, 32768,
};

static const uint8_t go_class_to_allocnpages[NCLASSES] __attribute__((unused)) = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
	4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

#endif
