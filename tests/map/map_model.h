/* SPDX-License-Identifier: MIT */
/*
 * map_model.h - the key and value kinds that tests/map/random.c and the
 * fuzz target tests/fuzz/map_fuzz.c drive gort maps with, and the
 * trivially correct model they compare the maps against.
 *
 * Every key is made from an integer id in [0, nkeys), and the id can be
 * read back from a key (an iterator's), so the model is a plain array
 * indexed by id: ver[id] is 0 when the key is absent, else the version
 * of its value (each store takes a new version from a counter).  A
 * value's bytes are a function of (id, version), so any stale or mixed-up
 * value is seen.  The kinds:
 *
 *   MM_U32	4-byte keys (an odd multiple of the id), 4-byte values
 *   MM_U64	8-byte keys (an odd multiple of the id: 0 and high bits too),
 *		8-byte values
 *   MM_STR	struct gort_str keys: "" for id 0, else the id in hex, '.',
 *		and a filler of 0..22 letters; every 101st id is 300 bytes
 *		long.  Lookups and deletes use a copy of the bytes on the
 *		stack (compared by content, not address); stores use the
 *		key's own stable copy, which outlives the map.  12-byte values
 *   MM_MEM24	24-byte keys, GORT_MAPKEY_MEM: the first 16 bytes are shared
 *		by groups of 16 ids (a compare of fewer bytes conflates
 *		them); 24-byte values
 *   MM_SET24	the same keys with no value (a set: valsize 0)
 *   MM_FUNC	GORT_MAPKEY_FUNC: { id, junk, x } where equal() looks at id
 *		and x only and junk is random in every copy (a memcmp()
 *		would fail), and hash() gives groups of 4 ids the same full
 *		hash (equal() must tell them apart); 8-byte values
 *   MM_BIG	160-byte keys and 200-byte values, above the 128 bytes that
 *		are stored out of line; keys of a group of 8 ids differ only
 *		in the last word
 *
 * No kselftest dependency: the fuzz target includes it too.
 */
#ifndef MAP_MODEL_H
#define MAP_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gort.h>
#include <gort/map.h>

enum mm_kind { MM_U32, MM_U64, MM_STR, MM_MEM24, MM_SET24, MM_FUNC, MM_BIG, MM_NKINDS };

/* Which calls reach the map: the kind's fast paths, the generic calls,
 * or either at random (MM_MIXED).  Kinds without fast paths use
 * generic calls whatever is asked. */
enum mm_path { MM_FAST, MM_GENERIC, MM_MIXED };

struct mm_k24 {
	uint64_t a, b, c;
};

struct mm_kfunc {
	uint32_t id;
	uint32_t junk;		/* not part of the key */
	uint64_t x;
};

#define MM_BIGKEY_WORDS	20	/* 160 bytes */
#define MM_BIGVAL	200

struct mm_kbig {
	uint64_t w[MM_BIGKEY_WORDS];
};

#define MM_STRMAX	320

/* A key of any kind, with room for a transient copy of a string's bytes. */
struct mm_key {
	union {
		uint32_t u32;
		uint64_t u64;
		struct gort_str s;
		struct mm_k24 k24;
		struct mm_kfunc f;
		struct mm_kbig big;
	};
	char sbuf[MM_STRMAX];
};

static inline uint64_t mm_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t mm_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

#define MM_MUL64	0x9e3779b97f4a7c15ULL	/* odd: id -> key is a bijection */
#define MM_MUL32	0x9e3779b1U

/* The inverse of an odd @a modulo 2^64 (Newton: each step doubles the bits). */
static inline uint64_t mm_inv64(uint64_t a)
{
	uint64_t x = a;
	int i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

static uint64_t mm_func_hash(const void *key, uint64_t seed)
{
	const struct mm_kfunc *k = key;
	uint64_t h = k->id >> 2;	/* groups of 4 ids collide fully */

	return gort_memhash(&h, sizeof(h), seed);
}

static bool mm_func_equal(const void *a, const void *b)
{
	const struct mm_kfunc *x = a, *y = b;

	return x->id == y->id && x->x == y->x;
}

static const struct gort_maptype mm_types[MM_NKINDS] = {
	[MM_U32] = GORT_MAPTYPE_U32(uint32_t, 0),
	[MM_U64] = GORT_MAPTYPE_U64(uint64_t, 0),
	[MM_STR] = { .keysize = sizeof(struct gort_str), .valsize = 12,
		     .kind = GORT_MAPKEY_STR, .flags = GORT_MAP_KEYPTRS, .name = "map[string][12]byte" },
	[MM_MEM24] = GORT_MAPTYPE_MEM(struct mm_k24, struct mm_k24, 0),
	[MM_SET24] = { .keysize = sizeof(struct mm_k24), .valsize = 0,
		       .kind = GORT_MAPKEY_MEM, .name = "map[k24]struct{}" },
	[MM_FUNC] = { .keysize = sizeof(struct mm_kfunc), .valsize = 8, .kind = GORT_MAPKEY_FUNC,
		      .hash = mm_func_hash, .equal = mm_func_equal, .name = "map[kfunc]uint64" },
	[MM_BIG] = { .keysize = sizeof(struct mm_kbig), .valsize = MM_BIGVAL,
		     .kind = GORT_MAPKEY_MEM, .name = "map[[160]byte][200]byte" },
};

static const char *const mm_names[MM_NKINDS] = {
	"u32", "u64", "str", "mem24", "set24", "func", "big",
};

static inline bool mm_has_fast(enum mm_kind k)
{
	return k == MM_U32 || k == MM_U64 || k == MM_STR;
}

/* ---- strings ---- */

/* mm_str_text() - the bytes of string key @id into @buf; its length. */
static inline size_t mm_str_text(uint64_t id, char *buf)
{
	size_t n, len, i;

	if (!id)
		return 0;
	for (n = 0; n < 16 && id >> (4 * n); n++)	/* hex digits, high first */
		;
	for (i = 0; i < n; i++)
		buf[i] = "0123456789abcdef"[(id >> (4 * (n - 1 - i))) & 15];
	buf[n++] = '.';
	len = id % 101 == 7 ? 300 : n + id % 23;
	for (i = n; i < len; i++)
		buf[i] = (char)('a' + (id * 7 + i) % 26);
	return len;
}

/* Stable copies of string keys, made on first use, kept until mm_fini(). */
static char **mm_strs;
static size_t mm_nstrs;

static inline struct gort_str mm_str_stable(uint64_t id)
{
	char buf[MM_STRMAX];
	size_t len;

	if (id >= mm_nstrs)
		abort();
	if (mm_strs[id])	/* its length is in the two bytes before it */
		return GORT_STRN(mm_strs[id] + 2, (size_t)(uint8_t)mm_strs[id][0] |
						      (size_t)(uint8_t)mm_strs[id][1] << 8);
	len = mm_str_text(id, buf);
	{
		/* Two bytes of length before the text, one byte after it (not
		 * part of the key, so even "" has an address of its own). */
		mm_strs[id] = malloc(len + 3);
		if (!mm_strs[id])
			abort();
		mm_strs[id][0] = (char)(len & 255);
		mm_strs[id][1] = (char)(len >> 8);
		memcpy(mm_strs[id] + 2, buf, len);
		mm_strs[id][len + 2] = 'Z';
	}
	return GORT_STRN(mm_strs[id] + 2, len);
}

/* mm_str_id() - the id of a string key's bytes; false if none matches. */
static inline bool mm_str_id(struct gort_str s, uint64_t *id)
{
	char buf[MM_STRMAX];
	uint64_t v = 0;
	size_t i;

	if (s.len == 0) {
		*id = 0;
		return true;
	}
	if (!s.ptr || s.len > MM_STRMAX)
		return false;
	for (i = 0; i < s.len && s.ptr[i] != '.'; i++) {
		char c = s.ptr[i];

		if (i >= 16)
			return false;
		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (!v || v >= mm_nstrs || mm_str_text(v, buf) != s.len || memcmp(buf, s.ptr, s.len))
		return false;
	*id = v;
	return true;
}

/* ---- keys ---- */

/*
 * mm_key_make() - key @id of kind @k into @key.  @stable: a string key
 * points to its stable copy (for stores), else to key->sbuf.  @junk
 * fills the bytes of a FUNC key that are not part of it.
 */
static inline void mm_key_make(enum mm_kind k, uint64_t id, struct mm_key *key, bool stable,
			       uint32_t junk)
{
	int i;

	switch (k) {
	case MM_U32:
		key->u32 = (uint32_t)id * MM_MUL32;
		break;
	case MM_U64:
		key->u64 = id * MM_MUL64;
		break;
	case MM_STR:
		if (stable)
			key->s = mm_str_stable(id);
		else
			key->s = GORT_STRN(key->sbuf, mm_str_text(id, key->sbuf));
		break;
	case MM_MEM24:
	case MM_SET24:
		key->k24.a = 0x0123456789abcdefULL;
		key->k24.b = id >> 4;
		key->k24.c = (mm_mix(id >> 4) & ~15ULL) | (id & 15);
		break;
	case MM_FUNC:
		key->f.id = (uint32_t)id;
		key->f.junk = junk;
		key->f.x = mm_mix(id);
		break;
	case MM_BIG:
		for (i = 0; i < MM_BIGKEY_WORDS - 1; i++)
			key->big.w[i] = mm_mix((id >> 3) * 64 + (uint64_t)i);
		key->big.w[MM_BIGKEY_WORDS - 1] = id;
		break;
	default:
		abort();
	}
}

/* mm_key_id() - the id of a key found in a map; false if it is no key
 * this model makes (a damaged key). */
static inline bool mm_key_id(enum mm_kind k, const void *p, uint64_t *id)
{
	struct mm_key key;

	switch (k) {
	case MM_U32: {
		uint32_t v;

		memcpy(&v, p, 4);
		*id = (uint32_t)(v * (uint32_t)mm_inv64(MM_MUL32));
		return true;
	}
	case MM_U64: {
		uint64_t v;

		memcpy(&v, p, 8);
		*id = v * mm_inv64(MM_MUL64);
		return true;
	}
	case MM_STR: {
		struct gort_str s;

		memcpy(&s, p, sizeof(s));
		return mm_str_id(s, id);
	}
	case MM_MEM24:
	case MM_SET24: {
		struct mm_k24 v;

		memcpy(&v, p, sizeof(v));
		*id = v.b << 4 | (v.c & 15);
		break;
	}
	case MM_FUNC: {
		struct mm_kfunc v;

		memcpy(&v, p, sizeof(v));
		*id = v.id;
		mm_key_make(k, *id, &key, false, 0);
		return v.x == key.f.x;
	}
	case MM_BIG:
		memcpy(id, (const char *)p + (MM_BIGKEY_WORDS - 1) * 8, 8);
		break;
	default:
		return false;
	}
	mm_key_make(k, *id, &key, false, 0);
	return !memcmp(&key, p, mm_types[k].keysize);
}

/* ---- values ---- */

static inline void mm_val_make(enum mm_kind k, uint64_t id, uint32_t ver, void *p)
{
	uint32_t n = mm_types[k].valsize, i;

	for (i = 0; i < n; i += 8) {
		uint64_t w = mm_mix(id << 24 ^ (uint64_t)ver << 5 ^ i);

		memcpy((char *)p + i, &w, n - i < 8 ? n - i : 8);
	}
}

static inline bool mm_val_ok(enum mm_kind k, uint64_t id, uint32_t ver, const void *p)
{
	unsigned char want[MM_BIGVAL];

	mm_val_make(k, id, ver, want);
	return !memcmp(want, p, mm_types[k].valsize);
}

static inline bool mm_val_zero(enum mm_kind k, const void *p)
{
	const unsigned char *c = p;
	uint32_t i;

	for (i = 0; i < mm_types[k].valsize; i++)
		if (c[i])
			return false;
	return true;
}

/* ---- the map calls ---- */

static inline void *mm_get(enum mm_kind k, bool fast, struct gort_map *m, const struct mm_key *key)
{
	if (fast && k == MM_U32)
		return gort_map_get_u32(m, key->u32);
	if (fast && k == MM_U64)
		return gort_map_get_u64(m, key->u64);
	if (fast && k == MM_STR)
		return gort_map_get_str(m, key->s);
	return gort_map_get(m, key);
}

static inline void *mm_set(enum mm_kind k, bool fast, struct gort_map *m, const struct mm_key *key)
{
	if (fast && k == MM_U32)
		return gort_map_set_u32(m, key->u32);
	if (fast && k == MM_U64)
		return gort_map_set_u64(m, key->u64);
	if (fast && k == MM_STR)
		return gort_map_set_str(m, key->s);
	return gort_map_set(m, key);
}

static inline bool mm_del(enum mm_kind k, bool fast, struct gort_map *m, const struct mm_key *key)
{
	if (fast && k == MM_U32)
		return gort_map_delete_u32(m, key->u32);
	if (fast && k == MM_U64)
		return gort_map_delete_u64(m, key->u64);
	if (fast && k == MM_STR)
		return gort_map_delete_str(m, key->s);
	return gort_map_delete(m, key);
}

/* ---- the model: present ids, their versions, a dense list of them ---- */

struct mm_ref {
	size_t nkeys;
	uint32_t *ver;		/* [id]: 0 = absent, else the value's version */
	uint32_t *pos;		/* [id]: index in list, if present */
	uint32_t *list;		/* the present ids, in no order */
	size_t n;
	uint32_t nextver;
};

static inline bool mm_ref_init(struct mm_ref *r, size_t nkeys)
{
	memset(r, 0, sizeof(*r));
	r->nkeys = nkeys;
	r->ver = calloc(nkeys, sizeof(*r->ver));
	r->pos = calloc(nkeys, sizeof(*r->pos));
	r->list = calloc(nkeys, sizeof(*r->list));
	if (!mm_strs) {
		mm_nstrs = nkeys;
		mm_strs = calloc(nkeys, sizeof(*mm_strs));
	}
	return r->ver && r->pos && r->list && mm_strs && mm_nstrs >= nkeys;
}

static inline void mm_ref_fini(struct mm_ref *r)
{
	free(r->ver);
	free(r->pos);
	free(r->list);
	memset(r, 0, sizeof(*r));
}

/* mm_fini() - free the stable string copies (no map may use them after). */
static inline void mm_fini(void)
{
	size_t i;

	for (i = 0; mm_strs && i < mm_nstrs; i++)
		free(mm_strs[i]);
	free(mm_strs);
	mm_strs = NULL;
	mm_nstrs = 0;
}

/* mm_ref_set() - @id now has a new version; returns it. */
static inline uint32_t mm_ref_set(struct mm_ref *r, uint64_t id)
{
	if (!r->ver[id]) {
		r->pos[id] = (uint32_t)r->n;
		r->list[r->n++] = (uint32_t)id;
	}
	if (++r->nextver == 0)
		r->nextver = 1;
	r->ver[id] = r->nextver;
	return r->nextver;
}

static inline void mm_ref_del(struct mm_ref *r, uint64_t id)
{
	uint32_t p, last;

	if (!r->ver[id])
		return;
	p = r->pos[id];
	last = r->list[--r->n];
	r->list[p] = last;
	r->pos[last] = p;
	r->ver[id] = 0;
}

static inline void mm_ref_clear(struct mm_ref *r)
{
	while (r->n)
		r->ver[r->list[--r->n]] = 0;
}

#endif /* MAP_MODEL_H */
