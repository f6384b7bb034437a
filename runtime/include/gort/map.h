/* SPDX-License-Identifier: MIT */
/*
 * gort/map.h - Go's maps for C: hash tables of 8-slot buckets in the gort
 * heap, grown incrementally (Documentation/map.rst).
 *
 * A map is described by a struct gort_maptype (static storage): the key
 * and value sizes, how keys are hashed and compared, and whether keys or
 * values may hold pointers to gort memory (if neither does, the buckets
 * are noscan and the collector never reads them).
 *
 *	static const struct gort_maptype u64map = GORT_MAPTYPE_U64(uint64_t, 0);
 *	struct gort_map *m = gort_map_make(&u64map, 0);
 *	*(uint64_t *)gort_map_set_u64(m, 42) = 7;
 *	uint64_t *v = gort_map_get_u64(m, 42);		// NULL if absent
 *
 * The pointers gort_map_get() and gort_map_set() return are valid until
 * the map's next write (a write may move slots while the map grows).
 *
 * Like Go's, a map is not safe for concurrent use: a write while another
 * write or an iteration is running dies with "fatal error: concurrent map
 * writes" ("concurrent map iteration and map write", "concurrent map read
 * and map write") and a traceback.  Use a gort_mutex, or gort_syncmap.
 *
 * A NULL map is Go's nil map: it reads as empty, deletes are no-ops, and a
 * set panics with "assignment to entry in nil map".
 */
#ifndef GORT_MAP_H
#define GORT_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Go's string header: @len bytes at @ptr, compared and hashed by content.
 * As a map key the bytes are not copied: they must not change. */
struct gort_str {
	const char *ptr;
	size_t len;
};

/* GORT_STR("literal"), GORT_STRN(p, n) */
#define GORT_STR(lit)		((struct gort_str){ (lit), sizeof(lit) - 1 })
#define GORT_STRN(p, n)		((struct gort_str){ (p), (n) })

/* How keys are hashed and compared (struct gort_maptype.kind). */
enum gort_mapkey {
	GORT_MAPKEY_MEM,	/* keysize bytes: gort_memhash() and memcmp()
				 * (no padding bytes, no float keys) */
	GORT_MAPKEY_U32,	/* uint32_t / int32_t: fast paths _u32 */
	GORT_MAPKEY_U64,	/* uint64_t / int64_t / pointers: fast paths _u64 */
	GORT_MAPKEY_STR,	/* struct gort_str: fast paths _str */
	GORT_MAPKEY_FUNC,	/* t->hash and t->equal */
};

/* struct gort_maptype.flags */
#define GORT_MAP_KEYPTRS	0x1	/* keys may point into the gort heap */
#define GORT_MAP_VALPTRS	0x2	/* values may point into the gort heap */

/**
 * struct gort_maptype - a map's key and value types
 * @keysize: bytes of a key (1..; 4 for U32, 8 for U64, 16 for STR)
 * @valsize: bytes of a value (0 for a set)
 * @kind:    enum gort_mapkey
 * @flags:   GORT_MAP_KEYPTRS, GORT_MAP_VALPTRS (STR keys imply KEYPTRS)
 * @hash:    GORT_MAPKEY_FUNC: hash of @key under @seed (gort_memhash()
 *           and gort_strhash() are there to build one from)
 * @equal:   GORT_MAPKEY_FUNC: whether two keys are equal; must be
 *           reflexive (Go's NaN keys are not supported)
 * @name:    for messages; may be NULL
 *
 * Keys and values need at most 8-byte alignment.  Keys or values above
 * 128 bytes are stored out of line, as in Go.  Must outlive its maps.
 */
struct gort_maptype {
	uint32_t keysize;
	uint32_t valsize;
	uint32_t kind;
	uint32_t flags;
	uint64_t (*hash)(const void *key, uint64_t seed);
	bool (*equal)(const void *a, const void *b);
	const char *name;
};

#define GORT_MAPTYPE_U32(valtype, flags_)					\
	{ .keysize = 4, .valsize = sizeof(valtype), .kind = GORT_MAPKEY_U32,	\
	  .flags = (flags_) }
#define GORT_MAPTYPE_U64(valtype, flags_)					\
	{ .keysize = 8, .valsize = sizeof(valtype), .kind = GORT_MAPKEY_U64,	\
	  .flags = (flags_) }
#define GORT_MAPTYPE_STR(valtype, flags_)					\
	{ .keysize = sizeof(struct gort_str), .valsize = sizeof(valtype),	\
	  .kind = GORT_MAPKEY_STR, .flags = GORT_MAP_KEYPTRS | (flags_) }
#define GORT_MAPTYPE_MEM(keytype, valtype, flags_)				\
	{ .keysize = sizeof(keytype), .valsize = sizeof(valtype),		\
	  .kind = GORT_MAPKEY_MEM, .flags = (flags_) }

struct gort_map;

/**
 * gort_map_make() - Go's make(map[K]V, hint): room for @hint entries
 * before the first grow.
 *
 * Return: the map; a bad @t (sizes, kind) panics.
 */
struct gort_map *gort_map_make(const struct gort_maptype *t, size_t hint);

/** gort_map_len() - Go's len(m): the number of entries. */
size_t gort_map_len(const struct gort_map *m);

/** gort_map_get() - Go's v, ok := m[k]: the value's slot, NULL if absent. */
void *gort_map_get(struct gort_map *m, const void *key);

/**
 * gort_map_set() - the slot for @key's value, zeroed if @key is new; the
 * caller stores the value there (Go's mapassign).
 */
void *gort_map_set(struct gort_map *m, const void *key);

/** gort_map_store() - Go's m[k] = v: copies @val (valsize bytes). */
void gort_map_store(struct gort_map *m, const void *key, const void *val);

/** gort_map_delete() - Go's delete(m, k); true if @key was there. */
bool gort_map_delete(struct gort_map *m, const void *key);

/**
 * gort_map_clear() - remove every entry, keeping the buckets (Go 1.21's
 * clear(m)).  gort_map_shrink() gives memory back.
 */
void gort_map_clear(struct gort_map *m);

/**
 * gort_map_shrink() - rebuild the map in the fewest buckets that hold its
 * entries at Go's load factor (Go never shrinks a map; gort does when
 * asked).  Not while an iteration of @m is running.
 */
void gort_map_shrink(struct gort_map *m);

/* Fast paths for U32, U64 and STR maps (calling one on a map of another
 * kind is fatal). */
void *gort_map_get_u32(struct gort_map *m, uint32_t key);
void *gort_map_set_u32(struct gort_map *m, uint32_t key);
bool gort_map_delete_u32(struct gort_map *m, uint32_t key);
void *gort_map_get_u64(struct gort_map *m, uint64_t key);
void *gort_map_set_u64(struct gort_map *m, uint64_t key);
bool gort_map_delete_u64(struct gort_map *m, uint64_t key);
void *gort_map_get_str(struct gort_map *m, struct gort_str key);
void *gort_map_set_str(struct gort_map *m, struct gort_str key);
bool gort_map_delete_str(struct gort_map *m, struct gort_str key);

/**
 * struct gort_map_iter - Go's for k, v := range m
 * @key: the current entry's key
 * @val: its value (writable: Go's m[k] = v on the current key)
 *
 * The order is random (a random start bucket and slot, as Go).  The
 * iteration sees every entry present from start to end exactly once;
 * entries deleted before being reached are not seen; entries inserted
 * during it may or may not be.  Deleting and setting entries of @m during
 * its iteration is allowed.
 *
 *	struct gort_map_iter it;
 *	for (gort_map_iter_init(&it, m); gort_map_iter_next(&it);)
 *		use(it.key, it.val);
 */
struct gort_map_iter {
	void *key;
	void *val;
	/* private */
	struct gort_map *m;
	void *buckets;		/* the array when the iteration began */
	void *bptr;		/* bucket being walked */
	void *overflow[2];	/* keep noscan overflow buckets alive */
	size_t startbucket, bucket, checkbucket;
	uint8_t b, offset, mask, wrapped;	/* mask: slots of bptr left */
};

void gort_map_iter_init(struct gort_map_iter *it, struct gort_map *m);
bool gort_map_iter_next(struct gort_map_iter *it);

/**
 * gort_memhash() - the maps' hash of @n bytes at @p under @seed (not
 * cryptographic; a per-map random seed keeps collisions unpredictable).
 */
uint64_t gort_memhash(const void *p, size_t n, uint64_t seed);

/** gort_strhash() - gort_memhash() of a string's bytes. */
static inline uint64_t gort_strhash(struct gort_str s, uint64_t seed)
{
	return gort_memhash(s.ptr, s.len, seed);
}

#ifdef __cplusplus
}
#endif

#endif /* GORT_MAP_H */
