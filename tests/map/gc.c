/* SPDX-License-Identifier: MIT */
/*
 * Description: maps and the collector.  Everything a test drops or
 * counts happens on goroutines of its own (gc_test.h): the goroutine that
 * calls gort_gc() never holds the heap addresses.
 *
 *   values_kept	a map[uint64]*obj (GORT_MAP_VALPTRS) held by a
 *			global keeps its 10,000 values alive and intact
 *			through collections, also when a collection runs
 *			right after an insert that started a grow (most
 *			entries then still in the old buckets); after half
 *			the keys are deleted those values are freed and the
 *			rest stay; after gort_map_clear() all are freed; the
 *			map itself stays usable.
 *   values_big	the same with 200-byte values holding the pointer
 *			(stored out of line).
 *   str_keys_kept	a map[string]uint64 keeps the bytes of its keys
 *			(gort heap objects that nothing else points to) and
 *			lets them go once the keys are deleted.
 *   dropped_map	a map of 100,000 entries (u64 -> u64, string keys
 *			whose bytes are in the heap, u64 -> pointer) that is
 *			dropped is freed: heap_alloc returns to the baseline,
 *			within 5 % of what the map held.
 *   shrink_frees	a map grown to 100,000 entries and emptied to 10
 *			keeps its buckets; gort_map_shrink() gives them back.
 *   noscan	a map with neither flag (map[uint64]uint64) whose keys
 *			and values are the addresses of heap objects does not
 *			keep them: its buckets are not scanned.
 *   str_churn	a map[string]uint64 whose key bytes are fresh heap
 *			objects that only the map holds, under GORT_DEBUG=
 *			gcstress (a concurrent cycle every few hundred
 *			allocations) and gccheckmark (every mark termination
 *			walks the heap again and dies on a reachable white
 *			object): inserts, deletes, updates that replace a
 *			key's bytes with a fresh copy, growth, clear and
 *			shrink, on 1 and 2 Ps.  Its large bucket arrays are
 *			untracked by the dirty-page look and kept correct by
 *			the map's own barrier (gc_wb); every key's bytes are
 *			checked against the model.
 */
#include "../gc/gc_test.h"

#include <gort/map.h>

#define NOBJ		10000
#define OBJSIZE		64
#define OMAGIC		0x0b1ec7ab1eULL

struct obj {
	uint64_t magic;		/* OMAGIC ^ key */
	uint64_t key;
	uint64_t pad[(OBJSIZE - 16) / 8];
};

struct bigval {
	uint64_t pad[12];
	void *p;		/* the only pointer */
	uint64_t more[12];
};

static const struct gort_maptype ptrmap = GORT_MAPTYPE_U64(void *, GORT_MAP_VALPTRS);
static const struct gort_maptype bigvalmap = {
	.keysize = 8, .valsize = sizeof(struct bigval), .kind = GORT_MAPKEY_U64,
	.flags = GORT_MAP_VALPTRS, .name = "map[uint64]bigval",
};
static const struct gort_maptype u64map = GORT_MAPTYPE_U64(uint64_t, 0);
static const struct gort_maptype strmap = GORT_MAPTYPE_STR(uint64_t, 0);

/* What the tests share: the map is a root (in .bss), the addresses are
 * hidden. */
static struct {
	struct gort_map *m;
	const struct gort_maptype *t;
	long n;
	uintptr_t hidden[NOBJ];
	long bad;
} G;

static void *val_of(void *slot)
{
	if (G.t == &bigvalmap)
		return ((struct bigval *)slot)->p;
	return *(void **)slot;
}

static void set_val(void *slot, void *p)
{
	if (G.t == &bigvalmap) {
		struct bigval *b = slot;

		memset(b, 0x5a, sizeof(*b));	/* no pointers but p */
		b->p = p;
	} else {
		*(void **)slot = p;
	}
}

/* Insert keys 0..n-1, each with a new object. */
static void fill(void *arg)
{
	long i;

	(void)arg;
	if (!G.m)
		G.m = gort_map_make(G.t, 0);
	for (i = 0; i < G.n; i++) {
		struct obj *o = gort_alloc(sizeof(*o), GORT_ALLOC_NOSCAN);

		if (!GCHECK(o != NULL))
			return;
		o->magic = OMAGIC ^ (uint64_t)i;
		o->key = (uint64_t)i;
		G.hidden[i] = GC_HIDE(o);
		set_val(gort_map_set_u64(G.m, (uint64_t)i), o);
	}
}

/* Keys below @arg present with their objects, alive and intact; the
 * others (up to G.n) absent. */
static void verify(void *arg)
{
	long upto = (long)(intptr_t)arg, i, bad = 0;

	for (i = 0; i < G.n; i++) {
		void *slot = gort_map_get_u64(G.m, (uint64_t)i);
		struct obj *o;

		if (i >= upto) {
			if (slot)
				bad++;
			continue;
		}
		if (!slot) {
			bad++;
			continue;
		}
		o = val_of(slot);
		if (o != GC_UNHIDE(G.hidden[i]) || !gc_alive(o) || o->magic != (OMAGIC ^ (uint64_t)i) ||
		    o->key != (uint64_t)i)
			bad++;
	}
	G.bad += bad;
	if (bad)
		GFAIL("%ld of %ld entries missing, extra or with a freed/damaged value", bad, G.n);
	if (!GCHECK_EQ(upto, gort_map_len(G.m)))
		G.bad++;
}

static void delete_upper_half(void *arg)
{
	long i;

	(void)arg;
	for (i = G.n / 2; i < G.n; i++)
		GCHECK(gort_map_delete_u64(G.m, (uint64_t)i));
}

static void clear_map(void *arg)
{
	(void)arg;
	gort_map_clear(G.m);
}

static void reuse(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		*(uint64_t *)gort_map_set_u64(G.m, (uint64_t)i) = 0;
	GCHECK_EQ(1000, gort_map_len(G.m));
}

static struct {
	long alive_full, alive_growing, alive_kept, alive_deleted, alive_cleared;
} V;

static int values_main(void *arg)
{
	long half;

	(void)arg;
	gc_pad_arena();
	/* A grow starts at the insert that takes a map past 6.5 entries per
	 * bucket (Go's load factor): with 2^10 buckets, the 6,657th.  A
	 * collection right then finds most entries in the old buckets. */
	G.n = 6657;
	if (!gc_in_goroutine(fill, NULL))
		return 1;
	gc_full(2);
	gc_in_goroutine(verify, (void *)(intptr_t)G.n);
	V.alive_growing = gc_count_alive(G.hidden, G.n);

	G.m = NULL;
	G.n = NOBJ;
	if (!gc_in_goroutine(fill, NULL))
		return 1;
	gc_full(3);
	gc_in_goroutine(verify, (void *)(intptr_t)G.n);
	V.alive_full = gc_count_alive(G.hidden, G.n);

	half = G.n / 2;
	gc_in_goroutine(delete_upper_half, NULL);
	gc_full(3);
	gc_in_goroutine(verify, (void *)(intptr_t)half);
	V.alive_kept = gc_count_alive(G.hidden, half);
	V.alive_deleted = gc_count_alive(G.hidden + half, G.n - half);

	gc_in_goroutine(clear_map, NULL);
	gc_full(3);
	V.alive_cleared = gc_count_alive(G.hidden, half);
	GCHECK_EQ(0, gort_map_len(G.m));
	gc_in_goroutine(reuse, NULL);
	return 0;
}

static void values_check(struct __test_metadata *_metadata)
{
	TH_LOG("alive: %ld/6657 while growing, %ld/%d, kept %ld/%d, deleted %ld/%d, cleared %ld/%d",
	       V.alive_growing, V.alive_full, NOBJ, V.alive_kept, NOBJ / 2, V.alive_deleted,
	       NOBJ / 2, V.alive_cleared, NOBJ / 2);
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, G.bad);
	ASSERT_EQ(6657, V.alive_growing);
	ASSERT_EQ(NOBJ, V.alive_full);
	ASSERT_EQ(NOBJ / 2, V.alive_kept);
	ASSERT_LE(V.alive_deleted, NOBJ / 2 * GC_MARGIN_PCT / 100);
	ASSERT_LE(V.alive_cleared, NOBJ / 2 * GC_MARGIN_PCT / 100);
}

TEST(values_kept)
{
	G.t = &ptrmap;
	ASSERT_EQ(0, gt_run(values_main, NULL, 2));
	values_check(_metadata);
}

TEST(values_big)
{
	G.t = &bigvalmap;
	ASSERT_EQ(0, gt_run(values_main, NULL, 2));
	values_check(_metadata);
}

/* ---- string keys ---- */

#define NSTR	5000

static struct {
	struct gort_map *m;
	uintptr_t hidden[NSTR];
	long alive_kept, alive_deleted, bad;
} K;

static size_t str_len(long i)
{
	return 8 + (size_t)i % 40;
}

static void str_fill(void *arg)
{
	long i;

	(void)arg;
	K.m = gort_map_make(&strmap, 0);
	for (i = 0; i < NSTR; i++) {
		size_t len = str_len(i);
		char *p = gort_alloc(len, GORT_ALLOC_NOSCAN);

		if (!GCHECK(p != NULL))
			return;
		memset(p, 'a' + i % 26, len);
		memcpy(p, &i, sizeof(i));
		K.hidden[i] = GC_HIDE(p);
		*(uint64_t *)gort_map_set_str(K.m, GORT_STRN(p, len)) = (uint64_t)i;
	}
}

/* Lookups by a copy of each key's bytes (on the stack, not the heap). */
static void str_verify(void *arg)
{
	long i, upto = (long)(intptr_t)arg;
	char buf[64];

	for (i = 0; i < NSTR; i++) {
		size_t len = str_len(i);
		uint64_t *v;

		memset(buf, 'a' + i % 26, len);
		memcpy(buf, &i, sizeof(i));
		v = gort_map_get_str(K.m, GORT_STRN(buf, len));
		if (i < upto ? !v || *v != (uint64_t)i : v != NULL)
			K.bad++;
	}
	if (K.bad)
		GFAIL("%ld string keys wrong after collections", K.bad);
}

static void str_delete(void *arg)
{
	long i;
	char buf[64];

	(void)arg;
	for (i = NSTR / 2; i < NSTR; i++) {
		size_t len = str_len(i);

		memset(buf, 'a' + i % 26, len);
		memcpy(buf, &i, sizeof(i));
		GCHECK(gort_map_delete_str(K.m, GORT_STRN(buf, len)));
	}
}

static int str_main(void *arg)
{
	(void)arg;
	gc_pad_arena();
	if (!gc_in_goroutine(str_fill, NULL))
		return 1;
	gc_full(3);
	gc_in_goroutine(str_verify, (void *)(intptr_t)NSTR);
	K.alive_kept = gc_count_alive(K.hidden, NSTR);
	gc_in_goroutine(str_delete, NULL);
	gc_full(3);
	gc_in_goroutine(str_verify, (void *)(intptr_t)(NSTR / 2));
	K.alive_deleted = gc_count_alive(K.hidden + NSTR / 2, NSTR / 2);
	return 0;
}

TEST(str_keys_kept)
{
	ASSERT_EQ(0, gt_run(str_main, NULL, 2));
	TH_LOG("key bytes alive: %ld/%d held, %ld/%d after their keys were deleted", K.alive_kept,
	       NSTR, K.alive_deleted, NSTR / 2);
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NSTR, K.alive_kept);
	ASSERT_LE(K.alive_deleted, NSTR / 2 * GC_MARGIN_PCT / 100);
}

/* ---- a dropped map ---- */

#define NBIG	100000

enum dropkind { DROP_U64, DROP_STR, DROP_PTR };

static struct {
	enum dropkind kind;
	struct gort_map *m;
	uint64_t base, held, after;
} D;

static void drop_fill(void *arg)
{
	long i;

	(void)arg;
	switch (D.kind) {
	case DROP_U64:
		D.m = gort_map_make(&u64map, 0);
		for (i = 0; i < NBIG; i++)
			*(uint64_t *)gort_map_set_u64(D.m, gc_mix((uint64_t)i)) = (uint64_t)i;
		break;
	case DROP_STR:
		D.m = gort_map_make(&strmap, 0);
		for (i = 0; i < NBIG; i++) {
			char *p = gort_alloc(16, GORT_ALLOC_NOSCAN);

			if (!GCHECK(p != NULL))
				return;
			snprintf(p, 16, "%015ld", i);
			*(uint64_t *)gort_map_set_str(D.m, GORT_STRN(p, 15)) = (uint64_t)i;
		}
		break;
	case DROP_PTR:
		D.m = gort_map_make(&ptrmap, 0);
		for (i = 0; i < NBIG; i++)
			*(void **)gort_map_set_u64(D.m, (uint64_t)i) = gort_alloc(32, GORT_ALLOC_NOSCAN);
		break;
	}
	GCHECK_EQ(NBIG, gort_map_len(D.m));
}

static void drop_drop(void *arg)
{
	(void)arg;
	D.m = NULL;
}

static int drop_main(void *arg)
{
	struct gort_memstats ms;

	(void)arg;
	gc_pad_arena();
	gc_full(2);
	GCHECK(gc_memstats(&ms));
	D.base = ms.heap_alloc;
	if (!gc_in_goroutine(drop_fill, NULL))
		return 1;
	gc_full(2);
	GCHECK(gc_memstats(&ms));
	D.held = ms.heap_alloc > D.base ? ms.heap_alloc - D.base : 0;
	gc_in_goroutine(drop_drop, NULL);
	gc_full(3);
	GCHECK(gc_memstats(&ms));
	D.after = ms.heap_alloc > D.base ? ms.heap_alloc - D.base : 0;
	return 0;
}

FIXTURE(dropped_map) {
};

FIXTURE_VARIANT(dropped_map) {
	enum dropkind kind;
	uint64_t min_held;	/* bytes the live map must account for */
};

FIXTURE_SETUP(dropped_map) { }
FIXTURE_TEARDOWN(dropped_map) { }

/* 100,000 entries at <= 6.5 a bucket: >= 2^14 buckets of 8 + 64 + 64 + 8 bytes. */
FIXTURE_VARIANT_ADD(dropped_map, u64) { .kind = DROP_U64, .min_held = 2 * MiB };
/* Buckets of 8 + 128 + 64 + 8 bytes, and 100,000 16-byte strings. */
FIXTURE_VARIANT_ADD(dropped_map, str) { .kind = DROP_STR, .min_held = 4 * MiB };
/* Buckets, and 100,000 32-byte objects. */
FIXTURE_VARIANT_ADD(dropped_map, ptr) { .kind = DROP_PTR, .min_held = 4 * MiB };

TEST_F(dropped_map, freed)
{
	D.kind = variant->kind;
	ASSERT_EQ(0, gt_run(drop_main, NULL, 2));
	TH_LOG("heap_alloc over baseline: %llu KiB with the map, %llu KiB after it was dropped",
	       (unsigned long long)(D.held >> 10), (unsigned long long)(D.after >> 10));
	ASSERT_EQ(0, gt_failed());
	ASSERT_GE(D.held, variant->min_held);
	ASSERT_LE(D.after, D.held * GC_MARGIN_PCT / 100);
}

/* ---- shrink ---- */

static struct {
	struct gort_map *m;
	uint64_t base, full, emptied, shrunk;
	long bad;
} H;

static void shrink_fill(void *arg)
{
	long i;

	(void)arg;
	H.m = gort_map_make(&u64map, 0);
	for (i = 0; i < NBIG; i++)
		*(uint64_t *)gort_map_set_u64(H.m, (uint64_t)i) = (uint64_t)i;
}

static void shrink_empty(void *arg)
{
	long i;

	(void)arg;
	for (i = 10; i < NBIG; i++)
		gort_map_delete_u64(H.m, (uint64_t)i);
	GCHECK_EQ(10, gort_map_len(H.m));
}

static void shrink_shrink(void *arg)
{
	long i;

	(void)arg;
	gort_map_shrink(H.m);
	GCHECK_EQ(10, gort_map_len(H.m));
	for (i = 0; i < 20; i++) {
		uint64_t *v = gort_map_get_u64(H.m, (uint64_t)i);

		if (i < 10 ? !v || *v != (uint64_t)i : v != NULL)
			H.bad++;
	}
}

static uint64_t heap_over(uint64_t base)
{
	struct gort_memstats ms;

	GCHECK(gc_memstats(&ms));
	return ms.heap_alloc > base ? ms.heap_alloc - base : 0;
}

static int shrink_main(void *arg)
{
	struct gort_memstats ms;

	(void)arg;
	gc_pad_arena();
	gc_full(2);
	GCHECK(gc_memstats(&ms));
	H.base = ms.heap_alloc;
	if (!gc_in_goroutine(shrink_fill, NULL))
		return 1;
	gc_full(2);
	H.full = heap_over(H.base);
	gc_in_goroutine(shrink_empty, NULL);
	gc_full(2);
	H.emptied = heap_over(H.base);
	gc_in_goroutine(shrink_shrink, NULL);
	gc_full(3);
	H.shrunk = heap_over(H.base);
	return 0;
}

TEST(shrink_frees)
{
	ASSERT_EQ(0, gt_run(shrink_main, NULL, 2));
	TH_LOG("heap_alloc over baseline: %llu KiB full, %llu KiB emptied to 10 keys, "
	       "%llu KiB shrunk", (unsigned long long)(H.full >> 10),
	       (unsigned long long)(H.emptied >> 10), (unsigned long long)(H.shrunk >> 10));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, H.bad);
	ASSERT_GE(H.full, 2 * MiB);
	/* Go never shrinks: deleting keeps the buckets. */
	ASSERT_GE(H.emptied, H.full / 2);
	ASSERT_LE(H.shrunk, H.full * GC_MARGIN_PCT / 100);
}

/* ---- noscan buckets ---- */

static struct {
	struct gort_map *m;
	uintptr_t hidden[2 * NOBJ];
	long alive;
} N;

static void noscan_fill(void *arg)
{
	long i;

	(void)arg;
	N.m = gort_map_make(&u64map, 0);
	for (i = 0; i < NOBJ; i++) {
		void *k = gort_alloc(48, GORT_ALLOC_NOSCAN);
		void *v = gort_alloc(48, GORT_ALLOC_NOSCAN);

		if (!GCHECK(k && v))
			return;
		N.hidden[2 * i] = GC_HIDE(k);
		N.hidden[2 * i + 1] = GC_HIDE(v);
		/* The addresses, as integers, as both key and value. */
		*(uint64_t *)gort_map_set_u64(N.m, (uintptr_t)k) = (uintptr_t)v;
	}
}

static void noscan_check(void *arg)
{
	long i, bad = 0;

	(void)arg;
	for (i = 0; i < NOBJ; i++) {
		uint64_t *v = gort_map_get_u64(N.m, (uintptr_t)GC_UNHIDE(N.hidden[2 * i]));

		if (!v || *v != (uintptr_t)GC_UNHIDE(N.hidden[2 * i + 1]))
			bad++;
	}
	if (bad)
		GFAIL("%ld of %d integer entries lost", bad, NOBJ);
}

static int noscan_main(void *arg)
{
	(void)arg;
	gc_pad_arena();
	if (!gc_in_goroutine(noscan_fill, NULL))
		return 1;
	gc_full(3);
	N.alive = gc_count_alive(N.hidden, 2 * NOBJ);
	gc_in_goroutine(noscan_check, NULL);
	return 0;
}

TEST(noscan)
{
	ASSERT_EQ(0, gt_run(noscan_main, NULL, 2));
	TH_LOG("%ld of %d objects whose addresses are keys or values survive", N.alive, 2 * NOBJ);
	ASSERT_EQ(0, gt_failed());
	ASSERT_LE(N.alive, 2 * NOBJ * GC_MARGIN_PCT / 100);
}

/* ---- string keys changing while the collector marks ---- */

#define CHURN_IDS	20000
#define CHURN_OPS	1010000
#define CHURN_CHECK	25000		/* ops between two full checks */
#define CHURN_PACE	10000		/* ops with at least one cycle ending */

static struct {
	struct gort_map *m;
	uint8_t present[CHURN_IDS];
	long n, bad, checks, updates;
	uint32_t cycles;
} C;

static size_t churn_len(uint64_t id)
{
	return 16 + id % 17;
}

static void churn_bytes(char *p, uint64_t id)
{
	size_t i, len = churn_len(id);

	memcpy(p, &id, sizeof(id));
	for (i = sizeof(id); i < len; i++)
		p[i] = (char)('A' + (id * 7 + i) % 26);
}

static bool churn_keyok(struct gort_str k, uint64_t id)
{
	char buf[64];

	if (id >= CHURN_IDS || k.len != churn_len(id))
		return false;
	churn_bytes(buf, id);
	return !memcmp(k.ptr, buf, k.len);
}

/* Every entry against the model, through the bytes the map holds. */
static void churn_check(void)
{
	struct gort_map_iter it;
	long seen = 0;

	C.checks++;
	for (gort_map_iter_init(&it, C.m); gort_map_iter_next(&it);) {
		uint64_t id = *(uint64_t *)it.val;

		seen++;
		if (!churn_keyok(*(struct gort_str *)it.key, id) || !C.present[id]) {
			if (++C.bad <= 5)
				GFAIL("entry %lu: key bytes or presence wrong", (unsigned long)id);
		}
	}
	if (seen != C.n || (long)gort_map_len(C.m) != C.n) {
		C.bad++;
		GFAIL("%ld entries seen, map len %zu, model %ld", seen, gort_map_len(C.m), C.n);
	}
}

static void churn_run(void *arg)
{
	uint64_t rng = 0x5eed, id;
	uint32_t c0 = gc_num(), cpace = c0;
	char buf[64];
	long op;

	(void)arg;
	C.m = gort_map_make(&strmap, 0);
	for (op = 0; op < gc_scale(CHURN_OPS) && !C.bad; op++) {
		unsigned int r = (unsigned int)(gc_rand(&rng) % 100);
		struct gort_str key;
		uint64_t *v;

		id = gc_rand(&rng) % CHURN_IDS;
		churn_bytes(buf, id);
		key = GORT_STRN(buf, churn_len(id));
		if (r < 50) {
			/* Insert, or replace the key's bytes with a fresh copy:
			 * the map then holds the only pointer to them. */
			char *p = gort_alloc(key.len, GORT_ALLOC_NOSCAN);

			if (!GCHECK(p != NULL))
				return;
			memcpy(p, buf, key.len);
			C.updates += C.present[id];
			*(uint64_t *)gort_map_set_str(C.m, GORT_STRN(p, key.len)) = id;
			C.n += !C.present[id];
			C.present[id] = 1;
		} else if (r < 75) {
			if (gort_map_delete_str(C.m, key) != C.present[id] && ++C.bad <= 5)
				GFAIL("delete of %lu: presence wrong", (unsigned long)id);
			C.n -= C.present[id];
			C.present[id] = 0;
		} else {
			v = gort_map_get_str(C.m, key);
			if ((v ? *v != id : C.present[id]) && ++C.bad <= 5)
				GFAIL("lookup of %lu wrong", (unsigned long)id);
		}
		if (!(op & 31))
			gort_yield();	/* one P: let the GC goroutine mark */
		if ((op + 1) % CHURN_PACE == 0) {
			/* A slow build (ASan) marks far slower than we write:
			 * wait for the cycle under way, so that many end. */
			int64_t until = gt_now_ns() + 2000000000LL;

			while (gc_num() == cpace && gt_now_ns() < until)
				gort_yield();
			cpace = gc_num();
		}
		if ((op + 1) % CHURN_CHECK == 0) {
			churn_check();
			/* Now and then start again small, or squeeze. */
			if ((op + 1) % (4 * CHURN_CHECK) == 0) {
				gort_map_clear(C.m);
				memset(C.present, 0, sizeof(C.present));
				C.n = 0;
			} else if ((op + 1) % (3 * CHURN_CHECK) == 0) {
				gort_map_shrink(C.m);
			}
		}
	}
	churn_check();
	C.cycles = gc_num() - c0;
}

static int churn_main(void *arg)
{
	(void)arg;
	return gc_in_goroutine(churn_run, NULL) ? 0 : 1;
}

FIXTURE(str_churn) {
	int unused;
};

FIXTURE_VARIANT(str_churn) {
	int procs;
};

FIXTURE_SETUP(str_churn) { }
FIXTURE_TEARDOWN(str_churn) { }

FIXTURE_VARIANT_ADD(str_churn, procs1) { .procs = 1 };
FIXTURE_VARIANT_ADD(str_churn, procs2) { .procs = 2 };

TEST_F_TIMEOUT(str_churn, keys_intact, 300)
{
	setenv("GORT_DEBUG", "gcstress=300,gcconcurrent=1,gccheckmark=1", 1);
	ASSERT_EQ(0, gt_run(churn_main, NULL, variant->procs));
	TH_LOG("%s: %ld checks, %ld key replacements, %u cycles, %ld entries at the end",
	       gc_mode(), C.checks, C.updates, C.cycles, C.n);
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, C.bad);
	ASSERT_GE((long)C.cycles, 100);
}

TEST_HARNESS_MAIN
