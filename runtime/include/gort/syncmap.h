/* SPDX-License-Identifier: MIT */
/*
 * gort/syncmap.h - Go's sync.Map: a map safe for concurrent use, tuned
 * for keys written once and read many times (Documentation/map.rst).
 *
 * Loads of keys already promoted to the read-only view take no lock.
 * Keys are described by a struct gort_maptype whose values are pointers:
 *
 *	static const struct gort_maptype keys =
 *		GORT_MAPTYPE_U64(void *, GORT_MAP_VALPTRS);
 *	static struct gort_syncmap cache = GORT_SYNCMAP_INIT(&keys);
 *
 *	gort_syncmap_store(&cache, &(uint64_t){ 42 }, obj);
 *	if (gort_syncmap_load(&cache, &(uint64_t){ 42 }, &v)) ...
 *
 * Values are void pointers, compared by address in the compare-and-swap
 * calls (Go compares interface values; two pointers are equal when they
 * are the same).  NULL is a value like any other.
 */
#ifndef GORT_SYNCMAP_H
#define GORT_SYNCMAP_H

#include <stdbool.h>

#include <gort/map.h>
#include <gort/sync.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct gort_syncmap - Go's sync.Map
 * @t: the key type; its valsize must be sizeof(void *) and its flags
 *     include GORT_MAP_VALPTRS (checked at first use: fatal otherwise)
 *
 * Initialise with GORT_SYNCMAP_INIT(t) (or zero it and set @t).  It may
 * live anywhere the collector scans: static data, the gort heap, a
 * goroutine's stack.
 */
struct gort_syncmap {
	const struct gort_maptype *t;
	/* private */
	void *read;			/* struct readonly *, loaded atomically */
	struct gort_mutex mu;
	struct gort_map *dirty;		/* under mu */
	size_t misses;			/* under mu */
};

#define GORT_SYNCMAP_INIT(keytype)	{ .t = (keytype), .mu = GORT_MUTEX_INIT }

/** gort_syncmap_load() - Go's Load: true and *@val if @key is present. */
bool gort_syncmap_load(struct gort_syncmap *m, const void *key, void **val);

/** gort_syncmap_store() - Go's Store. */
void gort_syncmap_store(struct gort_syncmap *m, const void *key, void *val);

/**
 * gort_syncmap_load_or_store() - Go's LoadOrStore: *@actual is the value
 * present (return true) or @val, now stored (return false).
 */
bool gort_syncmap_load_or_store(struct gort_syncmap *m, const void *key, void *val,
				void **actual);

/** gort_syncmap_load_and_delete() - Go's LoadAndDelete. */
bool gort_syncmap_load_and_delete(struct gort_syncmap *m, const void *key, void **val);

/** gort_syncmap_delete() - Go's Delete. */
void gort_syncmap_delete(struct gort_syncmap *m, const void *key);

/**
 * gort_syncmap_swap() - Go's Swap: store @val; true and *@prev (may be
 * NULL) if @key was present.
 */
bool gort_syncmap_swap(struct gort_syncmap *m, const void *key, void *val, void **prev);

/** gort_syncmap_compare_and_swap() - Go's CompareAndSwap. */
bool gort_syncmap_compare_and_swap(struct gort_syncmap *m, const void *key, void *old,
				   void *new);

/** gort_syncmap_compare_and_delete() - Go's CompareAndDelete. */
bool gort_syncmap_compare_and_delete(struct gort_syncmap *m, const void *key, void *old);

/**
 * gort_syncmap_range() - Go's Range: call @f for each key and value until
 * it returns false.  Not a snapshot: as Go's, no key is visited twice, and
 * a key stored or deleted concurrently may or may not be visited.
 */
void gort_syncmap_range(struct gort_syncmap *m,
			bool (*f)(const void *key, void *val, void *arg), void *arg);

#ifdef __cplusplus
}
#endif

#endif /* GORT_SYNCMAP_H */
