/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_syncmap, Go's sync.Map.
 *
 *   semantics	each call on its own, as Go's documentation has it:
 *		Load, Store (and overwrite), LoadOrStore (loaded or
 *		stored), LoadAndDelete, Delete (present, absent, twice),
 *		Swap (absent: false; present: the old value), CompareAndSwap
 *		and CompareAndDelete (absent, mismatch, match; NULL as the
 *		old value of an absent key does not match), NULL as a value
 *		like any other; Range visits every key once with its value
 *		and stops when f returns false; f may call any method of the
 *		map (it deletes, stores and loads), for u64 and string keys;
 *		a deleted key's expunged entry comes back when stored again.
 *   promotion	keys stored while the read view has them not are in
 *		dirty: a Load of one takes the mutex (it waits while the
 *		test holds mu).  After as many misses as dirty has keys,
 *		dirty is promoted (dirty == NULL, misses == 0) and Loads,
 *		Loads of absent keys, Stores to present keys and Deletes of
 *		them take no lock: they finish while the test holds mu.
 *   counters	4 goroutines on 2 Ps increment 16 per-key counters with
 *		Load + CompareAndSwap loops while a 5th stores fresh keys
 *		(so dirty is built and promoted all along) and a 6th
 *		Ranges: every count is exact at the end; no Range sees a
 *		key twice or a counter go backwards; loads never see a
 *		counter go backwards.
 *   swaps	4 goroutines Swap unique values into 16 keys: every value
 *		stored is handed back exactly once, by a Swap or as the
 *		final value.
 *   races	4 goroutines LoadOrStore their own value into each of 256
 *		fresh keys: one wins each key and all see its value; then
 *		all CompareAndDelete with their own value: only the winner
 *		succeeds, and every key is gone.
 */
#include "../gort_test.h"

#include <gort/syncmap.h>

static const struct gort_maptype u64keys = GORT_MAPTYPE_U64(void *, GORT_MAP_VALPTRS);
static const struct gort_maptype strkeys = GORT_MAPTYPE_STR(void *, GORT_MAP_VALPTRS);

#define V(x)	((void *)(uintptr_t)(x))
#define U(p)	((uintptr_t)(p))

/* ---- semantics ---- */

/* Keys of either type from a number: a u64 or a string in a table. */
struct skey {
	uint64_t u;
	struct gort_str s;
};

static const void *sk(struct skey *k, bool str, uint64_t n)
{
	static char strs[1024][24];	/* stable bytes for stored string keys */

	if (!str) {
		k->u = n;
		return &k->u;
	}
	snprintf(strs[n % 1024], sizeof(strs[0]), "key-%llu", (unsigned long long)n);
	k->s = GORT_STRN(strs[n % 1024], strlen(strs[n % 1024]));
	return &k->s;
}

struct range_ctx {
	bool str;
	int calls, stop_after;
	int seen[64];
	long bad;
	struct gort_syncmap *m;
	bool mutate;
};

static bool key_num(bool str, const void *key, uint64_t *n)
{
	const struct gort_str *s = key;
	char buf[32];

	if (!str) {
		*n = *(const uint64_t *)key;
		return true;
	}
	if (s->len >= sizeof(buf) - 1)
		return false;
	memcpy(buf, s->ptr, s->len);
	buf[s->len] = 0;
	return sscanf(buf, "key-%llu", (unsigned long long *)n) == 1;
}

static bool range_fn(const void *key, void *val, void *arg)
{
	struct range_ctx *c = arg;
	uint64_t n;
	struct skey k;
	void *v;

	c->calls++;
	if (!key_num(c->str, key, &n) || n >= 64) {
		c->bad++;
		return true;
	}
	if (c->seen[n]++)
		GFAIL("Range visited key %llu twice", (unsigned long long)n);
	if (U(val) != n * 10 + 1 && !c->mutate)
		GFAIL("Range: key %llu with value %lu", (unsigned long long)n, (unsigned long)U(val));
	if (c->mutate) {
		/* f may call any method of the map. */
		gort_syncmap_delete(c->m, sk(&k, c->str, n));
		gort_syncmap_store(c->m, sk(&k, c->str, n + 32), V(7));
		GCHECK(gort_syncmap_load(c->m, sk(&k, c->str, n + 32), &v) && v == V(7));
	}
	return c->calls != c->stop_after;
}

static void sem_run(bool str)
{
	struct gort_syncmap m = GORT_SYNCMAP_INIT(str ? &strkeys : &u64keys);
	struct range_ctx rc;
	struct skey k;
	void *v, *old;
	int i;

	/* Load of a missing key. */
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 1), &v));
	/* Store, Load, overwrite. */
	gort_syncmap_store(&m, sk(&k, str, 1), V(10));
	v = NULL;
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 1), &v) && v == V(10));
	gort_syncmap_store(&m, sk(&k, str, 1), V(11));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 1), &v) && v == V(11));
	/* LoadOrStore: stored, then loaded (not overwritten). */
	GCHECK(!gort_syncmap_load_or_store(&m, sk(&k, str, 2), V(20), &v) && v == V(20));
	GCHECK(gort_syncmap_load_or_store(&m, sk(&k, str, 2), V(21), &v) && v == V(20));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 2), &v) && v == V(20));
	/* LoadAndDelete: present, then absent. */
	GCHECK(gort_syncmap_load_and_delete(&m, sk(&k, str, 2), &v) && v == V(20));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 2), &v));
	GCHECK(!gort_syncmap_load_and_delete(&m, sk(&k, str, 2), &v));
	/* Delete: present, absent, twice. */
	gort_syncmap_delete(&m, sk(&k, str, 1));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 1), &v));
	gort_syncmap_delete(&m, sk(&k, str, 1));
	gort_syncmap_delete(&m, sk(&k, str, 99));
	/* Swap: absent (false, stored), present (true, the old value). */
	GCHECK(!gort_syncmap_swap(&m, sk(&k, str, 3), V(30), &old));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 3), &v) && v == V(30));
	GCHECK(gort_syncmap_swap(&m, sk(&k, str, 3), V(31), &old) && old == V(30));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 3), &v) && v == V(31));
	/* CompareAndSwap: absent key (even with old NULL), mismatch, match. */
	GCHECK(!gort_syncmap_compare_and_swap(&m, sk(&k, str, 4), NULL, V(40)));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 4), &v));
	GCHECK(!gort_syncmap_compare_and_swap(&m, sk(&k, str, 3), V(30), V(32)));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 3), &v) && v == V(31));
	GCHECK(gort_syncmap_compare_and_swap(&m, sk(&k, str, 3), V(31), V(33)));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 3), &v) && v == V(33));
	/* CompareAndDelete: absent, mismatch, match. */
	GCHECK(!gort_syncmap_compare_and_delete(&m, sk(&k, str, 4), NULL));
	GCHECK(!gort_syncmap_compare_and_delete(&m, sk(&k, str, 3), V(31)));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 3), &v) && v == V(33));
	GCHECK(gort_syncmap_compare_and_delete(&m, sk(&k, str, 3), V(33)));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 3), &v));
	GCHECK(!gort_syncmap_compare_and_delete(&m, sk(&k, str, 3), V(33)));
	/* NULL is a value: stored, loaded, compared. */
	gort_syncmap_store(&m, sk(&k, str, 5), NULL);
	v = V(1);
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 5), &v) && v == NULL);
	GCHECK(gort_syncmap_load_or_store(&m, sk(&k, str, 5), V(50), &v) && v == NULL);
	GCHECK(gort_syncmap_compare_and_swap(&m, sk(&k, str, 5), NULL, V(51)));
	GCHECK(gort_syncmap_swap(&m, sk(&k, str, 5), NULL, &old) && old == V(51));
	GCHECK(gort_syncmap_compare_and_delete(&m, sk(&k, str, 5), NULL));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 5), &v));
	/* Lookups by an equal key elsewhere: strings compare by content. */
	if (str) {
		char buf[16] = "key-1";

		gort_syncmap_store(&m, sk(&k, str, 1), V(12));
		k.s = GORT_STRN(buf, 5);
		GCHECK(gort_syncmap_load(&m, &k.s, &v) && v == V(12));
		gort_syncmap_delete(&m, sk(&k, str, 1));
	}

	/* Range: keys 0..15 with values n*10+1, each once. */
	for (i = 0; i < 16; i++)
		gort_syncmap_store(&m, sk(&k, str, (uint64_t)i), V(i * 10 + 1));
	/* Some in read, some in dirty: promote, then add more. */
	for (i = 0; i < 40; i++)
		gort_syncmap_load(&m, sk(&k, str, 100), &v);
	for (i = 16; i < 24; i++)
		gort_syncmap_store(&m, sk(&k, str, (uint64_t)i), V(i * 10 + 1));
	memset(&rc, 0, sizeof(rc));
	rc.str = str;
	rc.stop_after = -1;
	gort_syncmap_range(&m, range_fn, &rc);
	GCHECK_EQ(24, rc.calls);
	GCHECK_EQ(0, rc.bad);
	for (i = 0; i < 24; i++)
		GCHECK_EQ(1, rc.seen[i]);
	/* Early stop: exactly 5 calls. */
	memset(&rc, 0, sizeof(rc));
	rc.str = str;
	rc.stop_after = 5;
	gort_syncmap_range(&m, range_fn, &rc);
	GCHECK_EQ(5, rc.calls);
	/* f calls methods: deletes its key, stores key+32, loads it. */
	for (i = 0; i < 24; i++)
		gort_syncmap_delete(&m, sk(&k, str, (uint64_t)i));
	for (i = 0; i < 16; i++)
		gort_syncmap_store(&m, sk(&k, str, (uint64_t)i), V(i * 10 + 1));
	memset(&rc, 0, sizeof(rc));
	rc.str = str;
	rc.stop_after = -1;
	rc.m = &m;
	rc.mutate = true;
	gort_syncmap_range(&m, range_fn, &rc);
	GCHECK_EQ(0, rc.bad);
	for (i = 0; i < 16; i++) {
		GCHECK_EQ(1, rc.seen[i]);
		GCHECK(!gort_syncmap_load(&m, sk(&k, str, (uint64_t)i), &v));
		GCHECK(gort_syncmap_load(&m, sk(&k, str, (uint64_t)i + 32), &v) && v == V(7));
	}
	/* Added during the Range: seen at most once each (checked in f). */
	for (i = 32; i < 64; i++)
		GCHECK(rc.seen[i] <= 1);

	/* Expunged: a key deleted from read, then a new key stored (dirty is
	 * rebuilt without it), then the key stored again. */
	for (i = 0; i < 40; i++)
		gort_syncmap_load(&m, sk(&k, str, 100), &v);	/* promote */
	gort_syncmap_delete(&m, sk(&k, str, 32));
	gort_syncmap_store(&m, sk(&k, str, 200), V(2000));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 32), &v));
	gort_syncmap_store(&m, sk(&k, str, 32), V(320));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 32), &v) && v == V(320));
	GCHECK(!gort_syncmap_load_or_store(&m, sk(&k, str, 33 + 64), V(1), &v));
	for (i = 0; i < 40; i++)
		gort_syncmap_load(&m, sk(&k, str, 100), &v);	/* promote again */
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 32), &v) && v == V(320));
	GCHECK(gort_syncmap_load(&m, sk(&k, str, 200), &v) && v == V(2000));
	GCHECK(gort_syncmap_load_and_delete(&m, sk(&k, str, 32), &v) && v == V(320));
	GCHECK(!gort_syncmap_load(&m, sk(&k, str, 32), &v));
}

static int sem_main(void *arg)
{
	(void)arg;
	sem_run(false);
	sem_run(true);
	return 0;
}

TEST(semantics)
{
	ASSERT_EQ(0, gt_run(sem_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

/* ---- promotion of dirty to read ---- */

enum pop { P_LOAD, P_LOAD_ABSENT, P_STORE, P_DELETE, P_LOAD_OR_STORE };

static struct {
	struct gort_syncmap m;
	enum pop op;
	uint64_t key;
	_Atomic int done;
	bool found;
	void *val;
} P = { .m = GORT_SYNCMAP_INIT(&u64keys) };

static void pop_fn(void *arg)
{
	(void)arg;
	switch (P.op) {
	case P_LOAD:
	case P_LOAD_ABSENT:
		P.found = gort_syncmap_load(&P.m, &P.key, &P.val);
		break;
	case P_STORE:
		gort_syncmap_store(&P.m, &P.key, V(999));
		break;
	case P_DELETE:
		gort_syncmap_delete(&P.m, &P.key);
		break;
	case P_LOAD_OR_STORE:
		P.found = gort_syncmap_load_or_store(&P.m, &P.key, V(5), &P.val);
		break;
	}
	atomic_store(&P.done, 1);
}

/* Run one op on another goroutine while this one holds mu; whether it
 * finished within @ms (then mu is released, and it finishes anyway). */
static bool op_under_lock(enum pop op, uint64_t key, int ms)
{
	bool fin;

	P.op = op;
	P.key = key;
	atomic_store(&P.done, 0);
	gort_mutex_lock(&P.m.mu);
	gort_go(pop_fn, NULL);
	fin = GT_WAIT_UNTIL(atomic_load(&P.done), ms);
	gort_mutex_unlock(&P.m.mu);
	GCHECK(GT_WAIT_UNTIL(atomic_load(&P.done), 5000));
	return fin;
}

static int promo_main(void *arg)
{
	uint64_t i;
	void *v;

	(void)arg;
	for (i = 1; i <= 8; i++)
		gort_syncmap_store(&P.m, &i, V(i * 100));
	/* Only in dirty: a Load must take the mutex. */
	GCHECK(P.m.dirty != NULL);
	GCHECK(!op_under_lock(P_LOAD, 1, 50));
	GCHECK(P.found && P.val == V(100));
	/* That was a miss; 7 more (len(dirty) = 8) promote dirty. */
	for (i = 0; i < 6; i++)
		GCHECK(gort_syncmap_load(&P.m, &(uint64_t){ 2 }, &v) && v == V(200));
	GCHECK(P.m.dirty != NULL);
	GCHECK(gort_syncmap_load(&P.m, &(uint64_t){ 3 }, &v) && v == V(300));
	GCHECK(P.m.dirty == NULL);
	GCHECK_EQ(0, P.m.misses);
	/* Now in read: no lock for loads, absent loads (not amended),
	 * stores to present keys, deletes. */
	for (i = 1; i <= 8; i++) {
		GCHECK(op_under_lock(P_LOAD, i, 5000));
		GCHECK(P.found && P.val == V(i * 100));
	}
	GCHECK(op_under_lock(P_LOAD_ABSENT, 77, 5000));
	GCHECK(!P.found);
	GCHECK(op_under_lock(P_STORE, 4, 5000));
	GCHECK(gort_syncmap_load(&P.m, &(uint64_t){ 4 }, &v) && v == V(999));
	GCHECK(op_under_lock(P_LOAD_OR_STORE, 5, 5000));
	GCHECK(P.found && P.val == V(500));
	GCHECK(op_under_lock(P_DELETE, 6, 5000));
	GCHECK(!gort_syncmap_load(&P.m, &(uint64_t){ 6 }, &v));
	/* A new key goes to a new dirty map, under the lock again. */
	gort_syncmap_store(&P.m, &(uint64_t){ 9 }, V(900));
	GCHECK(P.m.dirty != NULL);
	GCHECK(!op_under_lock(P_LOAD, 9, 50));
	GCHECK(P.found && P.val == V(900));
	GCHECK(!op_under_lock(P_LOAD_ABSENT, 77, 50));	/* amended: checks dirty */
	GCHECK(!P.found);
	return 0;
}

TEST(promotion)
{
	ASSERT_EQ(0, gt_run(promo_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- counters ---- */

#define NCOUNT		16
#define NWORK		4
#define INCS		50000	/* per worker */

static struct {
	struct gort_syncmap m;
	uint32_t done, gate;
	_Atomic bool stop;
	long incs[NWORK][NCOUNT];
	long ranges;
	_Atomic long cas_fail;
} C = { .m = GORT_SYNCMAP_INIT(&u64keys) };

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void count_worker(void *arg)
{
	long w = (long)(intptr_t)arg, i;
	uint64_t s = (uint64_t)w * 7919 + 17;
	uintptr_t last[NCOUNT] = { 0 };

	gort_sema_acquire(&C.gate);
	for (i = 0; i < INCS; i++) {
		uint64_t k = xs(&s) % NCOUNT;
		void *v;

		for (;;) {
			if (!gort_syncmap_load(&C.m, &k, &v)) {
				GFAIL("counter %llu missing", (unsigned long long)k);
				goto out;
			}
			if (U(v) < last[k])
				GFAIL("counter %llu went back from %lu to %lu", (unsigned long long)k,
				      (unsigned long)last[k], (unsigned long)U(v));
			last[k] = U(v);
			/* Now and then let another worker in between: a CAS that
			 * must fail. */
			if (!(xs(&s) & 15))
				gort_yield();
			if (gort_syncmap_compare_and_swap(&C.m, &k, v, V(U(v) + 1)))
				break;
			atomic_fetch_add_explicit(&C.cas_fail, 1, memory_order_relaxed);
		}
		C.incs[w][k]++;
		if (!(i & 63))
			gort_yield();
	}
out:
	gort_sema_release(&C.done);
}

/* Fresh keys all along: dirty is rebuilt and promoted under the workers. */
static void count_storer(void *arg)
{
	uint64_t k = 1000;
	void *v;

	(void)arg;
	while (!atomic_load(&C.stop)) {
		gort_syncmap_store(&C.m, &k, V(k));
		if (!(k % 3))
			gort_syncmap_delete(&C.m, &(uint64_t){ k - 1 });
		gort_syncmap_load(&C.m, &(uint64_t){ k + 5 }, &v);
		k++;
		gort_yield();
	}
	gort_sema_release(&C.done);
}

struct cr {
	uint8_t seen[NCOUNT];
	uintptr_t last[NCOUNT];
};

static bool count_range_fn(const void *key, void *val, void *arg)
{
	struct cr *c = arg;
	uint64_t k = *(const uint64_t *)key;

	if (k >= NCOUNT)
		return true;
	if (c->seen[k]++)
		GFAIL("Range visited counter %llu twice", (unsigned long long)k);
	if (U(val) < c->last[k])
		GFAIL("Range: counter %llu went back from %lu to %lu", (unsigned long long)k,
		      (unsigned long)c->last[k], (unsigned long)U(val));
	c->last[k] = U(val);
	return true;
}

static void count_ranger(void *arg)
{
	struct cr c;
	int k;

	(void)arg;
	memset(&c, 0, sizeof(c));
	while (!atomic_load(&C.stop)) {
		memset(c.seen, 0, sizeof(c.seen));
		gort_syncmap_range(&C.m, count_range_fn, &c);
		for (k = 0; k < NCOUNT; k++)
			if (c.seen[k] != 1)
				GFAIL("Range saw counter %d %d times (never deleted)", k, c.seen[k]);
		C.ranges++;
		gort_yield();
	}
	gort_sema_release(&C.done);
}

static int count_main(void *arg)
{
	uint64_t k;
	long w;
	int64_t t0 = gort_nanotime();

	(void)arg;
	for (k = 0; k < NCOUNT; k++)
		gort_syncmap_store(&C.m, &k, V(0));
	for (w = 0; w < NWORK; w++)
		gort_go(count_worker, (void *)(intptr_t)w);
	gort_go(count_storer, NULL);
	gort_go(count_ranger, NULL);
	for (w = 0; w < NWORK; w++)
		gort_sema_release(&C.gate);
	gt_sema_wait(&C.done, NWORK, 60000);
	atomic_store(&C.stop, true);
	gt_sema_wait(&C.done, 2, 10000);
	for (k = 0; k < NCOUNT; k++) {
		long want = 0;
		void *v = NULL;

		for (w = 0; w < NWORK; w++)
			want += C.incs[w][k];
		GCHECK(gort_syncmap_load(&C.m, &k, &v));
		if (U(v) != (uintptr_t)want)
			GFAIL("counter %llu: %lu, %ld increments", (unsigned long long)k,
			      (unsigned long)U(v), want);
	}
	printf("# %d increments, %ld CAS retries, %ld Ranges in %.2f s\n", NWORK * INCS,
	       atomic_load(&C.cas_fail),
	       C.ranges, (gort_nanotime() - t0) / 1e9);
	return 0;
}

TEST(counters)
{
	ASSERT_EQ(0, gt_run(count_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- swaps ---- */

#define NSWAPKEYS	16
#define SWAPS		20000	/* per worker */

static struct {
	struct gort_syncmap m;
	uint32_t done;
	uint8_t *handed;	/* [value]: times handed back */
} W = { .m = GORT_SYNCMAP_INIT(&u64keys) };

/* Value of worker w's i-th swap: unique, never 0. */
static uintptr_t swap_val(long w, long i)
{
	return (uintptr_t)(1 + NSWAPKEYS + w * SWAPS + i);
}

static void swap_worker(void *arg)
{
	long w = (long)(intptr_t)arg, i;
	uint64_t s = (uint64_t)w * 31 + 5;

	for (i = 0; i < SWAPS; i++) {
		uint64_t k = xs(&s) % NSWAPKEYS;
		void *prev = NULL;

		if (!gort_syncmap_swap(&W.m, &k, V(swap_val(w, i)), &prev))
			GFAIL("Swap of key %llu: not present", (unsigned long long)k);
		else
			W.handed[U(prev)]++;	/* one goroutine at a time owns prev */
		if (!(i & 63))
			gort_yield();
	}
	gort_sema_release(&W.done);
}

static int swap_main(void *arg)
{
	size_t nvals = 1 + NSWAPKEYS + NWORK * SWAPS, i;
	uint64_t k;
	long w;

	(void)arg;
	W.handed = calloc(nvals, 1);
	if (!GCHECK(W.handed))
		return 1;
	for (k = 0; k < NSWAPKEYS; k++)
		gort_syncmap_store(&W.m, &k, V(1 + k));
	for (w = 0; w < NWORK; w++)
		gort_go(swap_worker, (void *)(intptr_t)w);
	gt_sema_wait(&W.done, NWORK, 60000);
	for (k = 0; k < NSWAPKEYS; k++) {
		void *v;

		if (GCHECK(gort_syncmap_load(&W.m, &k, &v)) && GCHECK(U(v) < nvals))
			W.handed[U(v)]++;
	}
	for (i = 1; i < nvals; i++)
		if (W.handed[i] != 1)
			GFAIL("value %zu handed back %d times", i, W.handed[i]);
	free(W.handed);
	return 0;
}

TEST(swaps)
{
	ASSERT_EQ(0, gt_run(swap_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

/* ---- races for fresh keys ---- */

#define NRACE	256

static struct {
	struct gort_syncmap m;
	uint32_t done, go;
	int wins[NRACE];
	int deletes[NRACE];
	uintptr_t seen[NWORK][NRACE];
} L = { .m = GORT_SYNCMAP_INIT(&strkeys) };

static char race_keys[NRACE][16];

static void race_worker(void *arg)
{
	long w = (long)(intptr_t)arg;
	uint64_t k;
	void *v;

	for (k = 0; k < NRACE; k++) {
		struct gort_str s = GORT_STRN(race_keys[k], strlen(race_keys[k]));

		if (!gort_syncmap_load_or_store(&L.m, &s, V(w + 1), &v)) {
			__atomic_fetch_add(&L.wins[k], 1, __ATOMIC_RELAXED);
			if (v != V(w + 1))
				GFAIL("LoadOrStore stored but returned %p", v);
		}
		L.seen[w][k] = U(v);
		if (!(k & 7))
			gort_yield();
	}
	gort_sema_release(&L.done);
	gort_sema_acquire(&L.go);
	for (k = 0; k < NRACE; k++) {
		struct gort_str s = GORT_STRN(race_keys[k], strlen(race_keys[k]));

		if (gort_syncmap_compare_and_delete(&L.m, &s, V(w + 1)))
			__atomic_fetch_add(&L.deletes[k], 1, __ATOMIC_RELAXED);
		if (!(k & 7))
			gort_yield();
	}
	gort_sema_release(&L.done);
}

static bool count_fn(const void *key, void *val, void *arg)
{
	(*(int *)arg)++;
	return true;
}

static int race_main(void *arg)
{
	long w, k;
	int n = 0;

	(void)arg;
	for (k = 0; k < NRACE; k++)
		snprintf(race_keys[k], sizeof(race_keys[k]), "race-%ld", k);
	for (w = 0; w < NWORK; w++)
		gort_go(race_worker, (void *)(intptr_t)w);
	gt_sema_wait(&L.done, NWORK, 30000);
	for (k = 0; k < NRACE; k++) {
		if (L.wins[k] != 1)
			GFAIL("key %ld: %d LoadOrStore stored", k, L.wins[k]);
		for (w = 1; w < NWORK; w++)
			if (L.seen[w][k] != L.seen[0][k])
				GFAIL("key %ld: goroutines saw %lu and %lu", k,
				      (unsigned long)L.seen[0][k], (unsigned long)L.seen[w][k]);
	}
	for (w = 0; w < NWORK; w++)
		gort_sema_release(&L.go);
	gt_sema_wait(&L.done, NWORK, 30000);
	for (k = 0; k < NRACE; k++)
		if (L.deletes[k] != 1)
			GFAIL("key %ld: %d CompareAndDelete succeeded", k, L.deletes[k]);
	gort_syncmap_range(&L.m, count_fn, &n);
	GCHECK_EQ(0, n);
	return 0;
}

TEST(races)
{
	ASSERT_EQ(0, gt_run(race_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
