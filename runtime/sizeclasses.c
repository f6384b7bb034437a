// SPDX-License-Identifier: MIT
/*
 * sizeclasses.c - Go's size classes (Go 1.19, runtime/sizeclasses.go).
 *
 * The facts carry over exactly: 67 classes from 8 bytes to 32 KiB, 8 KiB
 * pages, and for each class the span size that Go's generator chose to
 * keep tail waste and per-object waste under 12.5 %.  Rounding therefore
 * matches Go's: gort_roundup_size(n) equals Go's roundupsize(n) for every
 * n.  Lookup is a table indexed by size/8 up to 1 KiB and (size-1024)/128
 * above, built once from the class sizes.
 *
 * Object index from an offset uses Go's 32-bit "divmagic": for every
 * offset inside a span, off * (2^32 / size + 1) >> 32 == off / size.
 */
#include "mheap.h"

const uint16_t class_to_size[NUM_SIZE_CLASSES] = {
	0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
	1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
	4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
	28672, 32768,
};

/* Pages per span, per class. */
const uint8_t class_to_allocnpages[NUM_SIZE_CLASSES] = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3,
	4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

uint32_t class_to_divmagic[NUM_SIZE_CLASSES];
uint16_t class_nelems[NUM_SIZE_CLASSES];

uint8_t size_to_class8[SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
uint8_t size_to_class128[(MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];

void sizeclasses_init(void)
{
	size_t i;
	uint8_t c;

	for (c = 1; c < NUM_SIZE_CLASSES; c++) {
		class_to_divmagic[c] = (uint32_t)(UINT32_MAX / class_to_size[c] + 1);
		class_nelems[c] = (uint16_t)(class_to_allocnpages[c] * PAGE_SIZE /
					     class_to_size[c]);
	}
	/* Smallest class that fits; sizes are multiples of the divisors. */
	for (i = 0, c = 1; i < ARRAY_SIZE(size_to_class8); i++) {
		while (class_to_size[c] < i * SMALL_SIZE_DIV)
			c++;
		size_to_class8[i] = i ? c : 0;
	}
	for (i = 0; i < ARRAY_SIZE(size_to_class128); i++) {
		size_t size = SMALL_SIZE_MAX + i * LARGE_SIZE_DIV;

		while (class_to_size[c] < size)
			c++;
		size_to_class128[i] = c;
	}
}
