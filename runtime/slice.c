// SPDX-License-Identifier: MIT
/*
 * slice.c - Go's slices: make, growslice, copy, sub-slices, clone
 * (Documentation/slice.rst).
 *
 * Growth is Go 1.19's growslice to the element: from capacity c, needing
 * n, the new capacity is n if n > 2c, else 2c below 256 elements, else c
 * grown by (c + 3 * 256) / 4 until it reaches n; the bytes are then rounded
 * up to the heap's size class (whole 8 KiB pages above 32 KiB), and the
 * capacity is what fits.  The heap has Go's classes and page size, so the
 * capacities come out as Go's.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <gort/slice.h>
#include "internal.h"

#define MAXALLOC	(1ULL << 48)	/* Go's maxAlloc on linux/amd64 */

/* Go's zerobase: what zero-byte arrays point to. */
static uint64_t zerobase;

static void *newarray(size_t bytes, unsigned int flags)
{
	return bytes ? newobject(bytes, flags) : &zerobase;
}

__export struct gort_slice gort_slice_make(size_t elemsize, size_t len, size_t cap,
					   unsigned int flags)
{
	struct gort_slice s = { .len = len, .cap = cap };

	if ((elemsize && cap > MAXALLOC / elemsize) || len > cap) {
		if (elemsize && len > MAXALLOC / elemsize)
			gopanic("runtime error: makeslice: len out of range");
		gopanic("runtime error: makeslice: cap out of range");
	}
	s.ptr = newarray(elemsize * cap, flags & ~GORT_ALLOC_NOZERO);
	return s;
}

__export size_t gort_slice_growcap(size_t oldcap, size_t needed, size_t elemsize)
{
	size_t newcap = oldcap, mem;

	if (needed > 2 * oldcap || oldcap > SIZE_MAX / 2) {
		newcap = needed;
	} else if (oldcap < 256) {
		newcap = 2 * oldcap;
	} else {
		while (newcap < needed) {
			newcap += (newcap + 3 * 256) / 4;
			if (newcap > SIZE_MAX / 2) {	/* Go's int went negative */
				newcap = needed;
				break;
			}
		}
	}
	if (!elemsize)
		return newcap;
	if (newcap > MAXALLOC / elemsize)
		return 0;
	mem = gort_roundup_size(newcap * elemsize);
	return mem / elemsize;
}

__export struct gort_slice gort_slice_grow(struct gort_slice s, size_t elemsize,
					   const void *elems, size_t n, unsigned int flags)
{
	size_t needed = s.len + n, cap;
	struct gort_slice r;

	if (needed < s.len)
		gopanic("runtime error: growslice: cap out of range");
	if (needed <= s.cap) {
		if (n)
			memmove((char *)s.ptr + s.len * elemsize, elems, n * elemsize);
		s.len = needed;
		return s;
	}
	if (!elemsize) {	/* Go: no memory, just the new length */
		s.ptr = &zerobase;
		s.len = s.cap = needed;
		return s;
	}
	cap = gort_slice_growcap(s.cap, needed, elemsize);
	if (!cap)
		gopanic("runtime error: growslice: cap out of range");
	/*
	 * Pointer-free arrays are not zeroed where they are about to be
	 * written (Go's memclrNoHeapPointers of the tail only); others are
	 * zeroed whole, so the collector never scans stale words.
	 */
	if (flags & GORT_ALLOC_NOSCAN) {
		r.ptr = newarray(cap * elemsize, GORT_ALLOC_NOSCAN | GORT_ALLOC_NOZERO);
		memset((char *)r.ptr + needed * elemsize, 0, (cap - needed) * elemsize);
	} else {
		r.ptr = newarray(cap * elemsize, flags & ~GORT_ALLOC_NOZERO);
	}
	if (s.len)
		memcpy(r.ptr, s.ptr, s.len * elemsize);
	/* @elems may lie in the old array: it is still there. */
	if (n)
		memcpy((char *)r.ptr + s.len * elemsize, elems, n * elemsize);
	r.len = needed;
	r.cap = cap;
	return r;
}

__export size_t gort_slice_copy(struct gort_slice dst, struct gort_slice src, size_t elemsize)
{
	size_t n = dst.len < src.len ? dst.len : src.len;

	if (n && elemsize)
		memmove(dst.ptr, src.ptr, n * elemsize);
	return n;
}

__export struct gort_slice gort_slice_sub3(struct gort_slice s, size_t elemsize, size_t lo,
					   size_t hi, size_t max)
{
	struct gort_slice r;

	if (max > s.cap)
		gopanicf("runtime error: slice bounds out of range [::%zu] with capacity %zu", max, s.cap);
	if (hi > max)
		gopanicf("runtime error: slice bounds out of range [:%zu:%zu]", hi, max);
	if (lo > hi)
		gopanicf("runtime error: slice bounds out of range [%zu:%zu:]", lo, hi);
	r.len = hi - lo;
	r.cap = max - lo;
	/* As Go: an empty-capacity result keeps the old pointer rather than
	 * one past the array (which could be the next object's address). */
	r.ptr = r.cap ? (char *)s.ptr + lo * elemsize : s.ptr;
	return r;
}

__export struct gort_slice gort_slice_sub(struct gort_slice s, size_t elemsize, size_t lo,
					  size_t hi)
{
	struct gort_slice r;

	if (hi > s.cap)
		gopanicf("runtime error: slice bounds out of range [:%zu] with capacity %zu", hi, s.cap);
	if (lo > hi)
		gopanicf("runtime error: slice bounds out of range [%zu:%zu]", lo, hi);
	r.len = hi - lo;
	r.cap = s.cap - lo;
	r.ptr = r.cap ? (char *)s.ptr + lo * elemsize : s.ptr;
	return r;
}

__export struct gort_slice gort_slice_clone(struct gort_slice s, size_t elemsize,
					    unsigned int flags)
{
	struct gort_slice empty = { .ptr = s.ptr };

	return gort_slice_grow(empty, elemsize, s.ptr, s.len, flags);
}

__export void gort_panic_index(size_t i, size_t len)
{
	gopanicf("runtime error: index out of range [%zu] with length %zu", i, len);
}
