/* SPDX-License-Identifier: MIT */
/*
 * gort/slice.h - Go's slices for C: a {ptr, len, cap} header passed by
 * value over a backing array in the gort heap (Documentation/slice.rst).
 *
 * The functions take the element size (and, where they allocate, flags:
 * GORT_ALLOC_NOSCAN for elements that hold no pointers, as Go allocates
 * those arrays noscan).  Misuse panics in Go's words, with a traceback
 * of every goroutine, and exits with status 2:
 *
 *   panic: runtime error: slice bounds out of range [:5] with capacity 3
 *   panic: runtime error: index out of range [7] with length 3
 *   panic: runtime error: makeslice: len out of range
 *   panic: runtime error: makeslice: cap out of range
 *   panic: runtime error: growslice: cap out of range
 *
 * Running out of memory is fatal ("fatal error: runtime: out of memory").
 */
#ifndef GORT_SLICE_H
#define GORT_SLICE_H

#include <stddef.h>
#include <string.h>

#include <gort/malloc.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gort_slice {
	void *ptr;
	size_t len, cap;
};

/** gort_slice_make() - Go's make([]T, len, cap): zeroed, a new array. */
struct gort_slice gort_slice_make(size_t elemsize, size_t len, size_t cap, unsigned int flags);

/**
 * gort_slice_growcap() - the capacity Go 1.19's growslice gives a slice
 * of capacity @oldcap that must hold @needed elements of @elemsize bytes:
 * double below 256 elements, then grow by (cap + 768) / 4 until it fits,
 * then round the bytes up to the heap's size class.  0 if it overflows.
 */
size_t gort_slice_growcap(size_t oldcap, size_t needed, size_t elemsize);

/* The slow path of gort_slice_append(): a new, bigger array. */
struct gort_slice gort_slice_grow(struct gort_slice s, size_t elemsize, const void *elems,
				  size_t n, unsigned int flags);

/**
 * gort_slice_append() - Go's append(s, elems[0..n)...): in place if the
 * capacity allows (the caller's other slices of the array see the new
 * elements, as in Go), else into a new array (growslice).  @elems may
 * point into @s's own array.
 */
static inline struct gort_slice gort_slice_append(struct gort_slice s, size_t elemsize,
						  const void *elems, size_t n, unsigned int flags)
{
	if (__builtin_expect(s.cap - s.len >= n, 1)) {
		if (n)
			memmove((char *)s.ptr + s.len * elemsize, elems, n * elemsize);
		s.len += n;
		return s;
	}
	return gort_slice_grow(s, elemsize, elems, n, flags);
}

/* GORT_APPEND(s, int64_t, 0, 1, 2, 3): append the listed values. */
#define GORT_APPEND(s, T, flags, ...)						\
	gort_slice_append((s), sizeof(T), (const T[]){ __VA_ARGS__ },		\
			  sizeof((const T[]){ __VA_ARGS__ }) / sizeof(T), (flags))

/** gort_slice_copy() - Go's copy(dst, src): min(len) elements, overlap
 * allowed; returns how many. */
size_t gort_slice_copy(struct gort_slice dst, struct gort_slice src, size_t elemsize);

/** gort_slice_sub() - Go's s[lo:hi]: shares the array, cap = cap - lo. */
struct gort_slice gort_slice_sub(struct gort_slice s, size_t elemsize, size_t lo, size_t hi);

/** gort_slice_sub3() - Go's s[lo:hi:max]: shares the array, cap = max - lo. */
struct gort_slice gort_slice_sub3(struct gort_slice s, size_t elemsize, size_t lo, size_t hi,
				  size_t max);

/** gort_slice_clone() - Go's slices.Clone: append(s[:0:0], s...), a new
 * array; the old one is no longer kept by the result. */
struct gort_slice gort_slice_clone(struct gort_slice s, size_t elemsize, unsigned int flags);

void gort_panic_index(size_t i, size_t len) __attribute__((noreturn, cold));

/** gort_slice_index() - &s[i], or Go's "index out of range" panic. */
static inline void *gort_slice_index(struct gort_slice s, size_t elemsize, size_t i)
{
	if (__builtin_expect(i >= s.len, 0))
		gort_panic_index(i, s.len);
	return (char *)s.ptr + i * elemsize;
}

/* GORT_AT(s, T, i): s[i] as an lvalue of type T, bounds-checked. */
#define GORT_AT(s, T, i) (*(T *)gort_slice_index((s), sizeof(T), (i)))

#ifdef __cplusplus
}
#endif

#endif /* GORT_SLICE_H */
