// SPDX-License-Identifier: MIT
/*
 * map.c - Go's maps: hmap and its 2^B buckets of 8 slots, grown
 * incrementally (Documentation/map.rst).
 *
 * A bucket is Go's bmap:
 *
 *	tophash[8]	top byte of each slot's hash, or a state below
 *			MIN_TOPHASH (empty, evacuated)
 *	keys[8]		keyslot bytes each (a pointer if the key is
 *			stored out of line)
 *	vals[8]		valslot bytes each
 *	overflow	next bucket of the chain
 *
 * 8 * keyslot is a multiple of 8, so the values and the overflow pointer
 * are 8-byte aligned whatever the key size.
 *
 * Invariants:
 *  - a slot whose tophash is EMPTY_REST is empty, and so is every later
 *    slot of its bucket and of the buckets chained after it: lookups stop
 *    there.  Hence a bucket holding any EMPTY_REST has it in slot 7.
 *  - while the map grows (oldbuckets != NULL) an old bucket is either
 *    evacuated (tophash[0] in EVAC_X..EVAC_EMPTY) and its entries live in
 *    the new array, or not, and its entries live only there.  Every old
 *    bucket below nevacuate is evacuated.
 *  - writing is set for the whole of a write; a second writer, a reader
 *    or an iterator that sees it dies (Go's best-effort check).
 *
 * When neither keys nor values hold pointers the bucket arrays are
 * NOSCAN; overflow buckets allocated on their own are then kept alive by
 * the list in mapextra (the collector never reads the overflow words).
 * Otherwise buckets are typed objects whose mask marks the pointer words.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <gort/map.h>
#include <gort/malloc.h>
#include "internal.h"
#include "mgc.h"

#define BUCKETCNT	8
#define MAXKEYSIZE	128	/* larger keys and values go out of line */
#define MAXVALSIZE	128

/* tophash states (Go's values) */
#define EMPTY_REST	0	/* empty, and so is everything after it */
#define EMPTY_ONE	1	/* empty */
#define EVAC_X		2	/* moved to the first half of the new array */
#define EVAC_Y		3	/* moved to the second half */
#define EVAC_EMPTY	4	/* empty, bucket evacuated */
#define MIN_TOPHASH	5

/* hmap flags */
#define ITERATOR	0x1	/* an iteration may be using buckets */
#define OLDITERATOR	0x2	/* an iteration may be using oldbuckets */
#define SAMESIZEGROW	0x8	/* the grow keeps B (too many overflows) */

/* hmap indirect */
#define INDKEY		0x1
#define INDVAL		0x2
#define CLEARKEY	0x4	/* delete clears the key: it may hold pointers */
#define CLEARVAL	0x8	/* ... and the value */
#define WBARRIER	0x10	/* bucket arrays untracked: pointer stores call gc_wb() */

/* Go's load factor, 6.5 entries per bucket on average. */
#define LOADNUM		13
#define LOADDEN		2

/* prefetchbucket(): bucket arrays from PREFETCH_MIN bytes, the first
 * PREFETCH_SPAN bytes of a bucket (a multiple of 8, below 2048). */
#define PREFETCH_MIN	(1u << 20)
#define PREFETCH_SPAN	256

/* A list of noscan overflow buckets, so the collector keeps them. */
struct ovflist {
	void **v;
	size_t n, cap;
};

struct mapextra {
	struct ovflist *overflow;	/* of buckets */
	struct ovflist *oldoverflow;	/* of oldbuckets */
};

/* Go's hmap.  Allocated typed: the collector reads buckets, oldbuckets
 * and extra only. */
struct gort_map {
	size_t count;
	uint8_t flags;			/* atomically */
	uint8_t B;			/* 2^B buckets */
	uint16_t noverflow;		/* overflow buckets, roughly */
	uint8_t indirect;		/* INDKEY, INDVAL (and CLEARKEY, CLEARVAL) */
	uint8_t kind;			/* enum gort_mapkey */
	uint8_t writing;		/* a write is running; atomically */
	uint8_t pfspan;			/* bytes of a bucket to prefetch / 8 */
	uint64_t seed;
	char *buckets;
	char *oldbuckets;		/* while growing */
	size_t nevacuate;		/* old buckets below are evacuated */
	struct mapextra *extra;
	char *nextoverflow;		/* preallocated overflow buckets */
	char *overflowend;
	const struct gort_maptype *t;
	const struct gort_type *btype;	/* NULL: noscan buckets */
	uint32_t keyslot, valslot, valoff, bucketsize;
};

static const uint64_t hmap_mask[] = {
	GORT_PTRBIT(struct gort_map, buckets) | GORT_PTRBIT(struct gort_map, oldbuckets) |
	GORT_PTRBIT(struct gort_map, extra)
};
static const struct gort_type hmap_type = { sizeof(struct gort_map), hmap_mask, "hmap" };

static const uint64_t ovflist_mask[] = { GORT_PTRBIT(struct ovflist, v) };
static const struct gort_type ovflist_type = { sizeof(struct ovflist), ovflist_mask, "ovflist" };

static const uint64_t mapextra_mask[] = {
	GORT_PTRBIT(struct mapextra, overflow) | GORT_PTRBIT(struct mapextra, oldoverflow)
};
static const struct gort_type mapextra_type = { sizeof(struct mapextra), mapextra_mask, "mapextra" };

/* ---- hashing ---- */

#define P0	0xa0761d6478bd642fULL
#define P1	0xe7037ed1a0b428dbULL
#define P2	0x8ebc6af09c88c6e3ULL

/* Fold of the 128-bit product: every input bit reaches both halves. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash64(uint64_t k, uint64_t seed)
{
	return mum(mum(k ^ seed, P0), seed ^ P1);
}

static inline uint64_t rd8(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t rd4(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t memhash(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *q = p;
	uint64_t a, b, s = seed ^ P0;

	if (n <= 16) {
		if (n >= 8) {
			a = rd8(q);
			b = rd8(q + n - 8);
		} else if (n >= 4) {
			a = rd4(q);
			b = rd4(q + n - 4);
		} else if (n) {
			a = (uint64_t)q[0] << 16 | (uint64_t)q[n >> 1] << 8 | q[n - 1];
			b = 0;
		} else {
			a = b = 0;
		}
	} else {
		size_t i = n;

		for (; i > 16; i -= 16, q += 16)
			s = mum(rd8(q) ^ P1, rd8(q + 8) ^ s);
		a = rd8(q + i - 16);
		b = rd8(q + i - 8);
	}
	return mum(P2 ^ n, mum(a ^ P1, b ^ s));
}

__export uint64_t gort_memhash(const void *p, size_t n, uint64_t seed)
{
	return memhash(p, n, seed);
}

/* ---- bucket access ---- */

static inline uint8_t *tophash(char *b)
{
	return (uint8_t *)b;
}

static inline char *keyat(const struct gort_map *h, char *b, unsigned int i)
{
	return b + BUCKETCNT + (size_t)i * h->keyslot;
}

/* keyat() when the kind is a constant: the fast paths' slot size is. */
static inline char *keyat_k(const struct gort_map *h, int kind, char *b, unsigned int i)
{
	switch (kind) {
	case GORT_MAPKEY_U32:
		return b + BUCKETCNT + i * 4;
	case GORT_MAPKEY_U64:
		return b + BUCKETCNT + i * 8;
	case GORT_MAPKEY_STR:
		return b + BUCKETCNT + i * sizeof(struct gort_str);
	default:
		return keyat(h, b, i);
	}
}

static inline char *valat(const struct gort_map *h, char *b, unsigned int i)
{
	return b + h->valoff + (size_t)i * h->valslot;
}

static inline char **ovfp(const struct gort_map *h, char *b)
{
	return (char **)(b + h->bucketsize - 8);
}

static inline char *bucketat(const struct gort_map *h, char *array, size_t i)
{
	return array + i * h->bucketsize;
}

static inline bool isempty(uint8_t top)
{
	return top <= EMPTY_ONE;
}

static inline bool evacuated(char *b)
{
	uint8_t h = tophash(b)[0];

	return h > EMPTY_ONE && h < MIN_TOPHASH;
}

static inline uint8_t tophash_of(uint64_t hash)
{
	uint8_t top = hash >> 56;

	return top < MIN_TOPHASH ? top + MIN_TOPHASH : top;
}

/* Bit i set if slot i's tophash is @top: one SSE2 compare of 8 bytes. */
static inline unsigned int matchtop(char *b, uint8_t top)
{
#ifdef __SSE2__
	__m128i v = _mm_loadl_epi64((const __m128i *)b);

	return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)top))) & 0xff;
#else
	unsigned int i, m = 0;

	for (i = 0; i < BUCKETCNT; i++)
		m |= (unsigned int)(tophash(b)[i] == top) << i;
	return m;
#endif
}

/* Bit i set if slot i is empty (EMPTY_REST or EMPTY_ONE). */
static inline unsigned int matchempty(char *b)
{
#ifdef __SSE2__
	__m128i v = _mm_loadl_epi64((const __m128i *)b);

	return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(EMPTY_ONE)), v)) &
	       0xff;
#else
	unsigned int i, m = 0;

	for (i = 0; i < BUCKETCNT; i++)
		m |= (unsigned int)isempty(tophash(b)[i]) << i;
	return m;
#endif
}

/*
 * The slots an iteration visits (neither empty nor EVAC_EMPTY), in its
 * order: bit j for slot (j + @off) % 8.  One mask per bucket, so the walk
 * branches per entry, not per slot (a slot is empty at random).
 */
static inline unsigned int matchvisit(char *b, unsigned int off)
{
	unsigned int m;
#ifdef __SSE2__
	__m128i v = _mm_loadl_epi64((const __m128i *)b);
	__m128i skip = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(EMPTY_ONE)), v),
				    _mm_cmpeq_epi8(v, _mm_set1_epi8(EVAC_EMPTY)));

	m = ~_mm_movemask_epi8(skip) & 0xff;
#else
	unsigned int i;

	for (i = 0, m = 0; i < BUCKETCNT; i++)
		m |= (unsigned int)(!isempty(tophash(b)[i]) && tophash(b)[i] != EVAC_EMPTY) << i;
#endif
	return (m >> off | m << (BUCKETCNT - off)) & 0xff;
}

/* Nothing after this bucket's last slot: the chain ends here. */
static inline bool restempty(char *b)
{
	return tophash(b)[BUCKETCNT - 1] == EMPTY_REST;
}

static inline size_t bucketmask(uint8_t B)
{
	return ((size_t)1 << B) - 1;
}

static inline bool growing(const struct gort_map *h)
{
	return h->oldbuckets != NULL;
}

static inline bool samesizegrow(const struct gort_map *h)
{
	return h->flags & SAMESIZEGROW;
}

/* Buckets in the old array. */
static inline size_t noldbuckets(const struct gort_map *h)
{
	uint8_t oldB = h->B;

	if (!samesizegrow(h))
		oldB--;
	return (size_t)1 << oldB;
}

/* Go's overLoadFactor: more than 6.5 entries per bucket on average. */
static inline bool overload(size_t count, uint8_t B)
{
	return count > BUCKETCNT && count > LOADNUM * (((size_t)1 << B) / LOADDEN);
}

static inline bool toomanyoverflow(uint16_t noverflow, uint8_t B)
{
	if (B > 15)
		B = 15;
	return noverflow >= (uint16_t)1 << (B & 15);
}

/* ---- keys by kind: constant-folded in the fast paths ---- */

static inline const void *slotkey(const struct gort_map *h, int kind, char *slot)
{
	if (kind != GORT_MAPKEY_U32 && kind != GORT_MAPKEY_U64 && kind != GORT_MAPKEY_STR &&
	    (h->indirect & INDKEY))
		return *(void **)slot;
	return slot;
}

static inline uint64_t hashkey(const struct gort_map *h, int kind, const void *key)
{
	const struct gort_str *s;

	switch (kind) {
	case GORT_MAPKEY_U32:
		return hash64(*(const uint32_t *)key, h->seed);
	case GORT_MAPKEY_U64:
		return hash64(*(const uint64_t *)key, h->seed);
	case GORT_MAPKEY_STR:
		s = key;
		return memhash(s->ptr, s->len, h->seed);
	case GORT_MAPKEY_MEM:
		return memhash(key, h->t->keysize, h->seed);
	default:
		return h->t->hash(key, h->seed);
	}
}

static inline bool keyeq(const struct gort_map *h, int kind, const void *a, const void *b)
{
	const struct gort_str *x, *y;

	switch (kind) {
	case GORT_MAPKEY_U32:
		return *(const uint32_t *)a == *(const uint32_t *)b;
	case GORT_MAPKEY_U64:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case GORT_MAPKEY_STR:
		x = a;
		y = b;
		return x->len == y->len &&
		       (x->ptr == y->ptr || !x->len || !memcmp(x->ptr, y->ptr, x->len));
	case GORT_MAPKEY_MEM:
		return !memcmp(a, b, h->t->keysize);
	default:
		return h->t->equal(a, b);
	}
}

/*
 * Map calls are preemption points for a stop-the-world, outside any write:
 * a loop of inserts that allocates nothing would otherwise hold up every
 * stop-the-world until it ends (gort preempts only at runtime calls).
 * One load of a global flag when nothing is asked.
 */
static inline void mapsafepoint(void)
{
	if (unlikely(__atomic_load_n(&sched.gcwaiting, __ATOMIC_RELAXED)))
		preemptcheck();
}

/* ---- the writing byte: Go's concurrent misuse checks ---- */

static inline uint8_t loadflags(const struct gort_map *h)
{
	return __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
}

static inline bool writing(const struct gort_map *h)
{
	return __atomic_load_n(&h->writing, __ATOMIC_RELAXED);
}

/*
 * Go keeps hashWriting in flags and toggles it with a read-modify-write.
 * Here it has a byte of its own, stored with constants: its loads feed
 * only the (predicted) misuse branches.  A read-modify-write chains each
 * write's flags to the previous write's, and the CPU holds that load
 * back until the previous write's slot store, whose address waits on a
 * cache miss, is resolved: on a 1 M-entry map that serialised the misses
 * of consecutive deletes (95 ns each, 27 ns with the byte).  A second
 * writer that slips past the start check still dies at one of the two
 * end checks.
 */
static inline void startwrite(struct gort_map *h)
{
	if (unlikely(writing(h)))
		fatal("concurrent map writes");
	__atomic_store_n(&h->writing, 1, __ATOMIC_RELAXED);
}

static inline void endwrite(struct gort_map *h)
{
	if (unlikely(!writing(h)))
		fatal("concurrent map writes");
	__atomic_store_n(&h->writing, 0, __ATOMIC_RELAXED);
}

static inline void setflags(struct gort_map *h, uint8_t set, uint8_t clear)
{
	__atomic_store_n(&h->flags, (loadflags(h) | set) & ~clear, __ATOMIC_RELAXED);
}

static void __cold __noreturn badkind(const struct gort_map *h, const char *fn)
{
	fatalf("%s: map%s%s has %s keys", fn, h->t->name ? " " : "", h->t->name ? h->t->name : "",
	       h->kind == GORT_MAPKEY_U32 ? "uint32" :
	       h->kind == GORT_MAPKEY_U64 ? "uint64" :
	       h->kind == GORT_MAPKEY_STR ? "string" : "other");
}

static inline void checkkind(const struct gort_map *h, int kind, const char *fn)
{
	if (unlikely(h->kind != kind))
		badkind(h, fn);
}

/* ---- memory ---- */

static uint64_t newseed(void)
{
	return (uint64_t)fastrand() << 32 | fastrand();
}


/*
 * The bucket type of a map type: one per gort_maptype, built at its first
 * map and kept for good (gort_type must outlive its objects).  A lock-free
 * list; two threads racing may both add one, which is harmless.
 */
struct btype {
	const struct gort_maptype *t;
	struct btype *next;
	struct gort_type type;
	uint64_t mask[];
};

static struct btype *btypes;
static char *btarena, *btarena_end;
static struct lock btlock;

static void setbits(uint64_t *mask, size_t off, size_t len, bool firstword)
{
	size_t w;

	for (w = off / 8; w * 8 < off + len; w++) {
		mask[w / 64] |= 1ULL << (w % 64);
		if (firstword)
			break;
	}
}

static const struct gort_type *buckettype(const struct gort_map *h)
{
	const struct gort_maptype *t = h->t;
	struct btype *bt;
	size_t words = h->bucketsize / 8, sz;
	bool kp = (t->flags & GORT_MAP_KEYPTRS) || t->kind == GORT_MAPKEY_STR;
	bool vp = t->flags & GORT_MAP_VALPTRS;
	unsigned int i;

	if (!kp && !vp && !(h->indirect & (INDKEY | INDVAL)))
		return NULL;
	for (bt = __atomic_load_n(&btypes, __ATOMIC_ACQUIRE); bt; bt = bt->next)
		if (bt->t == t)
			return &bt->type;

	sz = (sizeof(*bt) + (words + 63) / 64 * 8 + 15) & ~(size_t)15;
	lock(&btlock);
	if (btarena_end - btarena < (ptrdiff_t)sz) {
		size_t chunk = sz > 65536 ? sz : 65536;

		btarena = sysmap(chunk);
		if (!btarena)
			fatal("runtime: out of memory");
		btarena_end = btarena + chunk;
	}
	bt = (struct btype *)btarena;
	btarena += sz;
	unlock(&btlock);

	bt->t = t;
	for (i = 0; i < BUCKETCNT; i++) {
		size_t k = BUCKETCNT + (size_t)i * h->keyslot;
		size_t v = h->valoff + (size_t)i * h->valslot;

		if (h->indirect & INDKEY)
			setbits(bt->mask, k, 8, true);
		else if (kp)
			setbits(bt->mask, k, h->keyslot, t->kind == GORT_MAPKEY_STR);
		if (h->indirect & INDVAL)
			setbits(bt->mask, v, 8, true);
		else if (vp && h->valslot)
			setbits(bt->mask, v, h->valslot, false);
	}
	setbits(bt->mask, h->bucketsize - 8, 8, true);
	bt->type.size = h->bucketsize;
	bt->type.ptrmask = bt->mask;
	bt->type.name = t->name ? t->name : "bmap";
	do
		bt->next = __atomic_load_n(&btypes, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&btypes, &bt->next, bt, false, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	return &bt->type;
}

/*
 * A bucket array for 2^@B buckets, zeroed, with Go's preallocated overflow
 * buckets after them (2^(B-4) from B = 4 on, plus what the size class
 * rounding leaves room for); they become h->nextoverflow..overflowend.
 * @reuse: an array of the same B to clear instead (gort_map_clear()).
 */
static char *makebuckets(struct gort_map *h, uint8_t B, char *reuse)
{
	size_t base = (size_t)1 << B, nb = base, bs = h->bucketsize;
	char *a;

	/*
	 * prefetchbucket() pays for itself only where lines miss the
	 * caches: on this machine 1 M-entry lookups went from 57 to 42 ns,
	 * while 1 K-entry ones lost 5 % to the extra instructions.  At most
	 * PREFETCH_SPAN bytes: in a bucket of big slots a slot's key and
	 * value are too far apart to be worth it.
	 */
	h->pfspan = 0;
	if (base * bs >= PREFETCH_MIN)
		h->pfspan = (bs < PREFETCH_SPAN ? bs : PREFETCH_SPAN) / 8;

	if (B >= 4)
		nb += base >> 4;
	if (h->btype)
		nb = (gort_roundup_size(nb * bs + 8) - 8) / bs;
	else
		nb = gort_roundup_size(nb * bs) / bs;
	if (reuse) {
		a = reuse;
		memset(a, 0, nb * bs);
	} else if (h->btype) {
		a = newobject_typed_flags(h->btype, nb, h->indirect & WBARRIER ? ALLOC_UNTRACKED : 0);
	} else {
		a = newobject(nb * bs, GORT_ALLOC_NOSCAN);
	}
	h->nextoverflow = a + base * bs;
	h->overflowend = a + nb * bs;
	return a;
}

/* Pointer @p was just stored at @slot, in a bucket (see WBARRIER). */
static inline void bucketwb(const struct gort_map *h, const void *slot, const void *p)
{
	if (unlikely(__atomic_load_n(&gcmarking, __ATOMIC_RELAXED)) && (h->indirect & WBARRIER))
		gc_wb(slot, p);
}

static void ovflist_add(struct ovflist **lp, void *b)
{
	struct ovflist *l = *lp;

	if (!l)
		*lp = l = newobject_typed(&ovflist_type, 1);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void **v = newobject(cap * sizeof(void *), 0);

		if (l->n)
			memcpy(v, l->v, l->n * sizeof(void *));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = b;
}

static void incrnoverflow(struct gort_map *h)
{
	/* Above 2^15 buckets count with probability 2^15 / 2^B, as Go. */
	if (h->B < 16) {
		h->noverflow++;
		return;
	}
	if ((fastrand() & (((uint32_t)1 << (h->B - 15)) - 1)) == 0)
		h->noverflow++;
}

static char *newoverflow(struct gort_map *h, char *b)
{
	char *ovf;

	if (h->nextoverflow < h->overflowend) {
		ovf = h->nextoverflow;
		h->nextoverflow += h->bucketsize;
	} else if (h->btype) {
		ovf = newobject_typed(h->btype, 1);
	} else {
		ovf = newobject(h->bucketsize, GORT_ALLOC_NOSCAN);
		if (!h->extra)
			h->extra = newobject_typed(&mapextra_type, 1);
		ovflist_add(&h->extra->overflow, ovf);
	}
	incrnoverflow(h);
	*ovfp(h, b) = ovf;
	bucketwb(h, ovfp(h, b), ovf);
	return ovf;
}

/* ---- make ---- */

__export struct gort_map *gort_map_make(const struct gort_maptype *t, size_t hint)
{
	struct gort_map *h;
	uint8_t B = 0;

	if (!t || !t->keysize || t->kind > GORT_MAPKEY_FUNC ||
	    (t->kind == GORT_MAPKEY_U32 && t->keysize != 4) ||
	    (t->kind == GORT_MAPKEY_U64 && t->keysize != 8) ||
	    (t->kind == GORT_MAPKEY_STR && t->keysize != sizeof(struct gort_str)) ||
	    (t->kind == GORT_MAPKEY_FUNC && (!t->hash || !t->equal)))
		gopanicf("gort_map_make: bad map type %s", t && t->name ? t->name : "");
	if (hint > ((size_t)1 << 48))
		gopanic("runtime error: makemap: size out of range");

	h = newobject_typed(&hmap_type, 1);
	h->t = t;
	h->kind = t->kind;
	h->seed = newseed();
	if (t->keysize > MAXKEYSIZE)
		h->indirect |= INDKEY;
	if (t->valsize > MAXVALSIZE)
		h->indirect |= INDVAL;
	if ((h->indirect & INDKEY) || (t->flags & GORT_MAP_KEYPTRS) || t->kind == GORT_MAPKEY_STR)
		h->indirect |= CLEARKEY;
	if ((h->indirect & INDVAL) || (t->flags & GORT_MAP_VALPTRS))
		h->indirect |= CLEARVAL;
	h->keyslot = h->indirect & INDKEY ? 8 : t->keysize;
	h->valslot = h->indirect & INDVAL ? 8 : t->valsize;
	h->valoff = BUCKETCNT + BUCKETCNT * h->keyslot;
	h->bucketsize = h->valoff + BUCKETCNT * h->valslot + 8;
	h->btype = buckettype(h);
	/*
	 * String keys, pointer-free values: every pointer in a bucket is
	 * stored by this file (a key's bytes, an overflow bucket), never by
	 * the caller, so the arrays can skip dirty-page tracking and its
	 * write faults, which also split huge pages, for a barrier of ours.
	 */
	if (h->btype && t->kind == GORT_MAPKEY_STR && !(h->indirect & (INDKEY | CLEARVAL)))
		h->indirect |= WBARRIER;

	while (overload(hint, B))
		B++;
	h->B = B;
	if (B)
		h->buckets = makebuckets(h, B, NULL);
	return h;
}

__export size_t gort_map_len(const struct gort_map *m)
{
	return m ? m->count : 0;
}

/* ---- lookup ---- */

/*
 * Asks for the lines of bucket @b past its first, whose load (the
 * tophash bytes) comes next; h->pfspan says how much of it (makebuckets()).
 * A lookup's misses are otherwise serial: the tophash line, then the
 * matching key's, then its value's, each waiting for the one before; on
 * a map far bigger than the caches the three now overlap.
 */
static inline void prefetchbucket(const struct gort_map *h, const char *b)
{
	uintptr_t p, end;

	if (!h->pfspan)
		return;
	end = (uintptr_t)b + h->pfspan * 8u;
	for (p = ((uintptr_t)b | 63) + 1; p < end; p += 64)
		__builtin_prefetch((const void *)p);
}

/* The bucket @hash lives in now: the old one if not yet evacuated. */
static inline char *findbucket(const struct gort_map *h, uint64_t hash)
{
	size_t mask = bucketmask(h->B);
	char *b = bucketat(h, h->buckets, hash & mask), *ob;

	if (unlikely(growing(h))) {
		if (!samesizegrow(h))
			mask >>= 1;
		ob = bucketat(h, h->oldbuckets, hash & mask);
		if (!evacuated(ob))
			b = ob;
	}
	return b;
}

/* Go's mapaccessK: the slot of @key, *@kslot its key's slot; NULL if absent. */
static __attribute__((always_inline)) inline char *
access_impl(struct gort_map *h, int kind, const void *key, char **kslot)
{
	uint64_t hash;
	uint8_t top;
	char *b;

	if (!h || !h->count)
		return NULL;
	mapsafepoint();
	if (unlikely(writing(h)))
		fatal("concurrent map read and map write");
	hash = hashkey(h, kind, key);
	top = tophash_of(hash);
	b = findbucket(h, hash);
	prefetchbucket(h, b);
	do {
		unsigned int m = matchtop(b, top);

		while (m) {
			unsigned int i = __builtin_ctz(m);
			char *k = keyat_k(h, kind, b, i);

			if (keyeq(h, kind, slotkey(h, kind, k), key)) {
				if (kslot)
					*kslot = k;
				return valat(h, b, i);
			}
			m &= m - 1;
		}
		if (restempty(b))
			return NULL;
		b = *ovfp(h, b);
	} while (b);
	return NULL;
}

static inline void *valptr(const struct gort_map *h, char *v)
{
	if (v && (h->indirect & INDVAL))
		return *(void **)v;
	return v;
}

__export void *gort_map_get(struct gort_map *m, const void *key)
{
	if (!m)
		return NULL;
	switch (m->kind) {
	case GORT_MAPKEY_U32:
		return valptr(m, access_impl(m, GORT_MAPKEY_U32, key, NULL));
	case GORT_MAPKEY_U64:
		return valptr(m, access_impl(m, GORT_MAPKEY_U64, key, NULL));
	case GORT_MAPKEY_STR:
		return valptr(m, access_impl(m, GORT_MAPKEY_STR, key, NULL));
	case GORT_MAPKEY_MEM:
		return valptr(m, access_impl(m, GORT_MAPKEY_MEM, key, NULL));
	default:
		return valptr(m, access_impl(m, GORT_MAPKEY_FUNC, key, NULL));
	}
}

__export void *gort_map_get_u32(struct gort_map *m, uint32_t key)
{
	if (!m)
		return NULL;
	checkkind(m, GORT_MAPKEY_U32, "gort_map_get_u32");
	return valptr(m, access_impl(m, GORT_MAPKEY_U32, &key, NULL));
}

__export void *gort_map_get_u64(struct gort_map *m, uint64_t key)
{
	if (!m)
		return NULL;
	checkkind(m, GORT_MAPKEY_U64, "gort_map_get_u64");
	return valptr(m, access_impl(m, GORT_MAPKEY_U64, &key, NULL));
}

__export void *gort_map_get_str(struct gort_map *m, struct gort_str key)
{
	if (!m)
		return NULL;
	checkkind(m, GORT_MAPKEY_STR, "gort_map_get_str");
	return valptr(m, access_impl(m, GORT_MAPKEY_STR, &key, NULL));
}

/* ---- growth ---- */

__probe void gort_map_grow_start(struct gort_map *m, uint32_t oldB, uint32_t newB);
__probe void gort_map_grow_done(struct gort_map *m, uint32_t oldB, uint32_t newB);

/**
 * gort_map_grow_start() - probe point: @m starts growing from 2^@oldB to
 * 2^@newB buckets (equal for a same-size grow that packs overflow chains).
 */
__probe void gort_map_grow_start(struct gort_map *m, uint32_t oldB, uint32_t newB)
{
	PROBE_FRAME();
	(void)m, (void)oldB, (void)newB;
}

/**
 * gort_map_grow_done() - probe point: the last old bucket of @m has been
 * evacuated; the old array is garbage.
 */
__probe void gort_map_grow_done(struct gort_map *m, uint32_t oldB, uint32_t newB)
{
	PROBE_FRAME();
	(void)m, (void)oldB, (void)newB;
}

/* Go's hashGrow: the new array; evacuation happens in the writes after. */
static void hashgrow(struct gort_map *h)
{
	uint8_t oldB = h->B, bigger = 1, f = loadflags(h);
	char *old = h->buckets;

	if (!overload(h->count + 1, h->B)) {
		bigger = 0;
		f |= SAMESIZEGROW;
	} else {
		f &= ~SAMESIZEGROW;
	}
	/* Iterators of the current array now walk the old one. */
	f &= ~(ITERATOR | OLDITERATOR);
	if (loadflags(h) & ITERATOR)
		f |= OLDITERATOR;
	__atomic_store_n(&h->flags, f, __ATOMIC_RELAXED);

	h->B += bigger;
	h->buckets = makebuckets(h, h->B, NULL);
	h->oldbuckets = old;
	h->nevacuate = 0;
	h->noverflow = 0;
	if (h->extra) {
		h->extra->oldoverflow = h->extra->overflow;
		h->extra->overflow = NULL;
	}
	gort_map_grow_start(h, oldB, h->B);
}

struct evacdst {
	char *b;	/* destination bucket */
	unsigned int i;	/* next free slot in it */
};

static inline void evac_put(struct gort_map *h, struct evacdst *d, uint8_t top, char *k, char *v)
{
	if (d->i == BUCKETCNT) {
		d->b = newoverflow(h, d->b);
		d->i = 0;
	}
	tophash(d->b)[d->i] = top;
	memcpy(keyat(h, d->b, d->i), k, h->keyslot);
	memcpy(valat(h, d->b, d->i), v, h->valslot);
	if (h->indirect & WBARRIER)	/* first: only then is @k a string */
		bucketwb(h, keyat(h, d->b, d->i), ((const struct gort_str *)k)->ptr);
	d->i++;
}

static void advance_evacuation(struct gort_map *h, size_t newbit)
{
	size_t stop;

	h->nevacuate++;
	/* Bound the walk over buckets evacuated out of order (Go: 1024). */
	stop = h->nevacuate + 1024;
	if (stop > newbit)
		stop = newbit;
	while (h->nevacuate != stop && evacuated(bucketat(h, h->oldbuckets, h->nevacuate)))
		h->nevacuate++;
	if (h->nevacuate == newbit) {
		uint32_t oldB = samesizegrow(h) ? h->B : h->B - 1u;

		h->oldbuckets = NULL;
		if (h->extra)
			h->extra->oldoverflow = NULL;
		setflags(h, 0, SAMESIZEGROW);
		gort_map_grow_done(h, oldB, h->B);
	}
}

/* Go's evacuate: move old bucket @ob's chain into the new array. */
static void evacuate(struct gort_map *h, size_t ob)
{
	char *b = bucketat(h, h->oldbuckets, ob), *c;
	size_t newbit = noldbuckets(h);
	bool same = samesizegrow(h);

	if (!evacuated(b)) {
		struct evacdst xy[2];

		xy[0].b = bucketat(h, h->buckets, ob);
		xy[0].i = 0;
		if (!same) {
			xy[1].b = bucketat(h, h->buckets, ob + newbit);
			xy[1].i = 0;
		}
		for (c = b; c; c = *ovfp(h, c)) {
			unsigned int i;

			for (i = 0; i < BUCKETCNT; i++) {
				uint8_t top = tophash(c)[i];
				char *k = keyat(h, c, i);
				unsigned int y = 0;

				if (isempty(top)) {
					tophash(c)[i] = EVAC_EMPTY;
					continue;
				}
				if (unlikely(top < MIN_TOPHASH))
					throw("runtime: bad map state");
				if (!same)
					y = (hashkey(h, h->kind, slotkey(h, h->kind, k)) & newbit) != 0;
				tophash(c)[i] = EVAC_X + y;
				evac_put(h, &xy[y], top, k, valat(h, c, i));
			}
		}
		/* Help the collector: drop the old chain's pointers, unless an
		 * iteration may still walk it (tophash stays: "evacuated"). */
		if (!(loadflags(h) & OLDITERATOR) && h->btype)
			memset(b + BUCKETCNT, 0, h->bucketsize - BUCKETCNT);
	}
	if (ob == h->nevacuate)
		advance_evacuation(h, newbit);
}

/* Go's growWork: the bucket about to be written, and one more. */
static inline void growwork(struct gort_map *h, size_t bucket)
{
	evacuate(h, bucket & (noldbuckets(h) - 1));
	if (growing(h))
		evacuate(h, h->nevacuate);
}

/* ---- assign ---- */

static inline void storekey(struct gort_map *h, int kind, char *slot, const void *key)
{
	if (kind == GORT_MAPKEY_U64) {
		memcpy(slot, key, 8);
	} else if (kind == GORT_MAPKEY_U32) {
		memcpy(slot, key, 4);
	} else if (kind == GORT_MAPKEY_STR) {
		memcpy(slot, key, sizeof(struct gort_str));
		bucketwb(h, slot, ((const struct gort_str *)key)->ptr);
	} else if (h->indirect & INDKEY) {
		void *k = newobject(h->t->keysize,
				   h->t->flags & GORT_MAP_KEYPTRS ? 0 : GORT_ALLOC_NOSCAN);

		memcpy(k, key, h->t->keysize);
		*(void **)slot = k;
	} else {
		memcpy(slot, key, h->t->keysize);
	}
}

static inline void newval(struct gort_map *h, char *slot)
{
	if (h->indirect & INDVAL)
		*(void **)slot = newobject(h->t->valsize,
					  h->t->flags & GORT_MAP_VALPTRS ? 0 : GORT_ALLOC_NOSCAN);
	else if (h->valslot)
		memset(slot, 0, h->valslot);
}

/* Go's mapassign: the value slot of @key, a new zeroed one if absent. */
static __attribute__((always_inline)) inline void *assign_impl(struct gort_map *h, int kind,
							       const void *key)
{
	uint64_t hash;
	uint8_t top;
	char *b, *insb, *v;
	unsigned int insi = 0;

	if (unlikely(!h))
		gopanic("assignment to entry in nil map");
	mapsafepoint();
	hash = hashkey(h, kind, key);
	startwrite(h);
	if (unlikely(!h->buckets))
		h->buckets = makebuckets(h, h->B, NULL);
	top = tophash_of(hash);
again:
	if (growing(h))
		growwork(h, hash & bucketmask(h->B));
	b = bucketat(h, h->buckets, hash & bucketmask(h->B));
	prefetchbucket(h, b);
	insb = NULL;
	for (;;) {
		unsigned int m = matchtop(b, top), e;

		while (m) {
			unsigned int i = __builtin_ctz(m);
			char *k = keyat_k(h, kind, b, i);

			if (keyeq(h, kind, slotkey(h, kind, k), key)) {
				/* Go updates string keys: the map keeps the
				 * newest bytes, the caller may free the old. */
				if (kind == GORT_MAPKEY_STR) {
					memcpy(k, key, sizeof(struct gort_str));
					bucketwb(h, k, ((const struct gort_str *)key)->ptr);
				}
				v = valat(h, b, i);
				goto done;
			}
			m &= m - 1;
		}
		if (!insb && (e = matchempty(b))) {
			insb = b;
			insi = __builtin_ctz(e);
		}
		if (restempty(b) || !*ovfp(h, b))
			break;
		b = *ovfp(h, b);
	}

	/* Absent.  Grow first if full (and not already growing). */
	if (!growing(h) && (overload(h->count + 1, h->B) || toomanyoverflow(h->noverflow, h->B))) {
		hashgrow(h);
		goto again;
	}
	if (!insb) {
		insb = newoverflow(h, b);
		insi = 0;
	}
	storekey(h, kind, keyat(h, insb, insi), key);
	v = valat(h, insb, insi);
	newval(h, v);
	tophash(insb)[insi] = top;
	h->count++;
done:
	endwrite(h);
	return v;
}

__export void *gort_map_set(struct gort_map *m, const void *key)
{
	if (!m)
		gopanic("assignment to entry in nil map");
	switch (m->kind) {
	case GORT_MAPKEY_U32:
		return valptr(m, assign_impl(m, GORT_MAPKEY_U32, key));
	case GORT_MAPKEY_U64:
		return valptr(m, assign_impl(m, GORT_MAPKEY_U64, key));
	case GORT_MAPKEY_STR:
		return valptr(m, assign_impl(m, GORT_MAPKEY_STR, key));
	case GORT_MAPKEY_MEM:
		return valptr(m, assign_impl(m, GORT_MAPKEY_MEM, key));
	default:
		return valptr(m, assign_impl(m, GORT_MAPKEY_FUNC, key));
	}
}

__export void gort_map_store(struct gort_map *m, const void *key, const void *val)
{
	void *v = gort_map_set(m, key);

	if (m->t->valsize)
		memmove(v, val, m->t->valsize);
}

__export void *gort_map_set_u32(struct gort_map *m, uint32_t key)
{
	if (!m)
		gopanic("assignment to entry in nil map");
	checkkind(m, GORT_MAPKEY_U32, "gort_map_set_u32");
	return valptr(m, assign_impl(m, GORT_MAPKEY_U32, &key));
}

__export void *gort_map_set_u64(struct gort_map *m, uint64_t key)
{
	if (!m)
		gopanic("assignment to entry in nil map");
	checkkind(m, GORT_MAPKEY_U64, "gort_map_set_u64");
	return valptr(m, assign_impl(m, GORT_MAPKEY_U64, &key));
}

__export void *gort_map_set_str(struct gort_map *m, struct gort_str key)
{
	if (!m)
		gopanic("assignment to entry in nil map");
	checkkind(m, GORT_MAPKEY_STR, "gort_map_set_str");
	return valptr(m, assign_impl(m, GORT_MAPKEY_STR, &key));
}

/* ---- delete ---- */

/* Slot @i of @b emptied: mark it and every empty slot before it that is
 * now followed by nothing EMPTY_REST (Go's mapdelete tail). */
static void markrest(struct gort_map *h, char *borig, char *b, unsigned int i)
{
	if (i == BUCKETCNT - 1) {
		char *n = *ovfp(h, b);

		if (n && tophash(n)[0] != EMPTY_REST)
			return;
	} else if (tophash(b)[i + 1] != EMPTY_REST) {
		return;
	}
	for (;;) {
		tophash(b)[i] = EMPTY_REST;
		if (i == 0) {
			char *c = b;

			if (b == borig)
				return;
			for (b = borig; *ovfp(h, b) != c; b = *ovfp(h, b))
				;
			i = BUCKETCNT - 1;
		} else {
			i--;
		}
		if (tophash(b)[i] != EMPTY_ONE)
			return;
	}
}

static __attribute__((always_inline)) inline bool delete_impl(struct gort_map *h, int kind,
							      const void *key)
{
	uint64_t hash;
	uint8_t top;
	char *b, *borig;
	bool found = false;

	if (!h || !h->count) {
		if (h && writing(h))
			fatal("concurrent map writes");
		return false;
	}
	mapsafepoint();
	hash = hashkey(h, kind, key);
	startwrite(h);
	if (growing(h))
		growwork(h, hash & bucketmask(h->B));
	borig = b = bucketat(h, h->buckets, hash & bucketmask(h->B));
	prefetchbucket(h, b);
	top = tophash_of(hash);
	do {
		unsigned int m = matchtop(b, top);

		while (m) {
			unsigned int i = __builtin_ctz(m);
			char *k = keyat_k(h, kind, b, i);

			if (keyeq(h, kind, slotkey(h, kind, k), key)) {
				/* Clear what the collector would read. */
				if (unlikely(h->indirect & (CLEARKEY | CLEARVAL))) {
					if (h->indirect & CLEARKEY)
						memset(k, 0, h->keyslot);
					if (h->indirect & CLEARVAL)
						memset(valat(h, b, i), 0, h->valslot);
				}
				tophash(b)[i] = EMPTY_ONE;
				if (i == BUCKETCNT - 1 || tophash(b)[i + 1] == EMPTY_REST)
					markrest(h, borig, b, i);
				if (--h->count == 0)
					h->seed = newseed();	/* Go: issue 25237 */
				found = true;
				goto done;
			}
			m &= m - 1;
		}
		if (restempty(b))
			break;
		b = *ovfp(h, b);
	} while (b);
done:
	endwrite(h);
	return found;
}

__export bool gort_map_delete(struct gort_map *m, const void *key)
{
	if (!m)
		return false;
	switch (m->kind) {
	case GORT_MAPKEY_U32:
		return delete_impl(m, GORT_MAPKEY_U32, key);
	case GORT_MAPKEY_U64:
		return delete_impl(m, GORT_MAPKEY_U64, key);
	case GORT_MAPKEY_STR:
		return delete_impl(m, GORT_MAPKEY_STR, key);
	case GORT_MAPKEY_MEM:
		return delete_impl(m, GORT_MAPKEY_MEM, key);
	default:
		return delete_impl(m, GORT_MAPKEY_FUNC, key);
	}
}

__export bool gort_map_delete_u32(struct gort_map *m, uint32_t key)
{
	if (!m)
		return false;
	checkkind(m, GORT_MAPKEY_U32, "gort_map_delete_u32");
	return delete_impl(m, GORT_MAPKEY_U32, &key);
}

__export bool gort_map_delete_u64(struct gort_map *m, uint64_t key)
{
	if (!m)
		return false;
	checkkind(m, GORT_MAPKEY_U64, "gort_map_delete_u64");
	return delete_impl(m, GORT_MAPKEY_U64, &key);
}

__export bool gort_map_delete_str(struct gort_map *m, struct gort_str key)
{
	if (!m)
		return false;
	checkkind(m, GORT_MAPKEY_STR, "gort_map_delete_str");
	return delete_impl(m, GORT_MAPKEY_STR, &key);
}

/* ---- clear and shrink ---- */

static void markempty(struct gort_map *h, char *array, size_t n)
{
	size_t i;
	char *b;

	for (i = 0; i < n; i++)
		for (b = bucketat(h, array, i); b; b = *ovfp(h, b))
			memset(tophash(b), EMPTY_REST, BUCKETCNT);
}

__export void gort_map_clear(struct gort_map *m)
{
	if (!m)
		return;
	startwrite(m);
	/* An iteration still walking the old array must see it empty. */
	if (m->oldbuckets)
		markempty(m, m->oldbuckets, noldbuckets(m));
	setflags(m, 0, SAMESIZEGROW);
	m->oldbuckets = NULL;
	m->nevacuate = 0;
	m->noverflow = 0;
	m->count = 0;
	m->seed = newseed();
	if (m->extra) {
		m->extra->overflow = NULL;
		m->extra->oldoverflow = NULL;
	}
	if (m->buckets)
		m->buckets = makebuckets(m, m->B, m->buckets);
	endwrite(m);
}

/* Insert a key slot and value slot known absent, without growing. */
static void insert_moved(struct gort_map *h, char *k, char *v)
{
	uint64_t hash = hashkey(h, h->kind, slotkey(h, h->kind, k));
	char *b = bucketat(h, h->buckets, hash & bucketmask(h->B));
	struct evacdst d;
	unsigned int e;

	while (*ovfp(h, b))
		b = *ovfp(h, b);
	/* The array is new: slots fill in order, the first empty is free. */
	e = matchempty(b);
	d.b = b;
	d.i = e ? (unsigned int)__builtin_ctz(e) : BUCKETCNT;
	evac_put(h, &d, tophash_of(hash), k, v);
}

__export void gort_map_shrink(struct gort_map *m)
{
	char *old, *b;
	uint8_t B = 0, oldB;
	size_t nold, i;

	if (!m || !m->buckets)
		return;
	startwrite(m);
	while (growing(m))
		evacuate(m, m->nevacuate);
	while (overload(m->count, B))
		B++;
	if (B >= m->B) {
		endwrite(m);
		return;
	}
	old = m->buckets;
	oldB = m->B;
	nold = (size_t)1 << oldB;
	m->B = B;
	m->noverflow = 0;
	m->seed = newseed();
	m->buckets = makebuckets(m, B, NULL);
	/* Noscan maps: the old chains stay alive through oldoverflow while
	 * they are walked (a cycle now must not free and recycle them). */
	m->oldbuckets = old;	/* a field the collector reads, not a register */
	if (m->extra) {
		m->extra->oldoverflow = m->extra->overflow;
		m->extra->overflow = NULL;
	}
	for (i = 0; i < nold; i++) {
		for (b = bucketat(m, old, i); b; b = *ovfp(m, b)) {
			unsigned int j;

			for (j = 0; j < BUCKETCNT; j++)
				if (!isempty(tophash(b)[j]))
					insert_moved(m, keyat(m, b, j), valat(m, b, j));
		}
	}
	m->oldbuckets = NULL;
	if (m->extra)
		m->extra->oldoverflow = NULL;
	gort_map_grow_start(m, oldB, B);
	gort_map_grow_done(m, oldB, B);
	endwrite(m);
}

/* ---- iteration (Go's mapiterinit / mapiternext) ---- */

#define NOCHECK	((size_t)-1)

__export void gort_map_iter_init(struct gort_map_iter *it, struct gort_map *m)
{
	uint64_t r;

	memset(it, 0, sizeof(*it));
	if (!m || !m->count)
		return;
	it->m = m;
	it->b = m->B;
	it->buckets = m->buckets;
	if (m->extra) {
		/* Noscan arrays: keep their overflow buckets alive. */
		it->overflow[0] = m->extra->overflow;
		it->overflow[1] = m->extra->oldoverflow;
	}
	r = newseed();
	it->startbucket = r & bucketmask(m->B);
	it->offset = (r >> 56) & (BUCKETCNT - 1);
	it->bucket = it->startbucket;
	it->checkbucket = NOCHECK;
	if ((loadflags(m) & (ITERATOR | OLDITERATOR)) != (ITERATOR | OLDITERATOR))
		__atomic_fetch_or(&m->flags, ITERATOR | OLDITERATOR, __ATOMIC_RELAXED);
}

__export bool gort_map_iter_next(struct gort_map_iter *it)
{
	struct gort_map *h = it->m;
	char *b = it->bptr;
	size_t bucket, check;
	unsigned int m = it->mask;

	if (!h)
		return false;
	if (unlikely(writing(h)))
		fatal("concurrent map iteration and map write");
	/*
	 * The common case first: the next slot of the bucket being walked
	 * that was full when the walk reached it, still full, no grow in the
	 * way.  A slot emptied since is not returned (deleted before being
	 * reached); one filled since may be missed (inserted during the
	 * iteration: Go's rules allow both).
	 */
	while (m && it->checkbucket == NOCHECK) {
		unsigned int o = (__builtin_ctz(m) + it->offset) & (BUCKETCNT - 1);
		uint8_t top = tophash(b)[o];

		if (top < MIN_TOPHASH)
			break;		/* emptied, or moved by a grow: below */
		it->mask = m & (m - 1);
		it->key = (void *)slotkey(h, h->kind, keyat(h, b, o));
		it->val = valptr(h, valat(h, b, o));
		return true;
	}
	bucket = it->bucket;
	check = it->checkbucket;
	for (;;) {
		if (!b) {
			if (bucket == it->startbucket && it->wrapped) {
				it->key = it->val = NULL;
				it->m = NULL;
				return false;
			}
			if (growing(h) && it->b == h->B) {
				/* Walking the new array while the old one is
				 * being evacuated: an old bucket not evacuated
				 * yet stands for this one and its sibling;
				 * keep only the entries that go here. */
				char *ob = bucketat(h, h->oldbuckets, bucket & (noldbuckets(h) - 1));

				if (!evacuated(ob)) {
					b = ob;
					check = bucket;
				} else {
					b = bucketat(h, it->buckets, bucket);
					check = NOCHECK;
				}
			} else {
				b = bucketat(h, it->buckets, bucket);
				check = NOCHECK;
			}
			if (++bucket == ((size_t)1 << it->b)) {
				bucket = 0;
				it->wrapped = 1;
			}
			m = matchvisit(b, it->offset);
		}
		for (; m; m &= m - 1) {
			unsigned int o = (__builtin_ctz(m) + it->offset) & (BUCKETCNT - 1);
			uint8_t top = tophash(b)[o];
			char *k = keyat(h, b, o), *v = valat(h, b, o);

			if (isempty(top) || top == EVAC_EMPTY)
				continue;	/* emptied since the mask was taken */
			if (check != NOCHECK && !samesizegrow(h)) {
				uint64_t hash = hashkey(h, h->kind, slotkey(h, h->kind, k));

				if ((hash & bucketmask(it->b)) != check)
					continue;
			}
			if (top == EVAC_X || top == EVAC_Y) {
				/* Moved by a grow since the iteration began:
				 * the map has the current value, or none. */
				char *kslot;

				v = access_impl(h, h->kind, slotkey(h, h->kind, k), &kslot);
				if (!v)
					continue;
				k = kslot;
			}
			it->key = (void *)slotkey(h, h->kind, k);
			it->val = valptr(h, v);
			it->bucket = bucket;
			it->bptr = b;
			it->mask = m & (m - 1);
			it->checkbucket = check;
			return true;
		}
		b = *ovfp(h, b);
		if (b)
			m = matchvisit(b, it->offset);
	}
}
