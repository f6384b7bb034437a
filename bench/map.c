/* SPDX-License-Identifier: MIT */
/*
 * bench/map.c - map and sync.Map micro-benchmarks for gort.
 *
 * A benchmark, not a test: it measures and prints one line per result,
 *
 *	<name> <metric>=<value> [<key>=<value>...]
 *
 * where the first key=value is the result that bench/run-map compares
 * with bench/go/map/main.go, which runs the same cases with the same keys,
 * counts, values and checks on Go, and check= a checksum that must be the
 * same on both sides (run-map compares them).  Lines starting with '#' are
 * comments.  Times come from gort_nanotime() (CLOCK_MONOTONIC); every case
 * runs BENCH_ROUNDS rounds after one untimed warm-up round and reports the
 * median (min= is the best); every round must give the same check= or the
 * program exits 1, as it does on any wrong value, so a broken runtime
 * cannot report a fast wrong number.  num_gc= counts the cycles completed
 * during the timed rounds.
 *
 * Keys are the outputs of splitmix64 from KEY_SEED: the first n are the
 * keys stored ("hit"), the next n the keys looked up and absent ("miss";
 * splitmix64 is a bijection of its counter, so all 2n are distinct).  A
 * string key is the key's 16 lower-case hex digits: one NOSCAN object in
 * the gort heap holds the bytes of all of them, and an array of struct
 * gort_str (typed: only .ptr is scanned, as Go's []string) points into
 * it, all made before timing.  Values are the key's index i.  The maps
 * are GORT_MAPKEY_U64 with uint64_t values (u64, Go's map[uint64]uint64)
 * and GORT_MAPKEY_STR with int64_t values (str, Go's map[string]int), at
 * n = 1000 (1k) and n = 1000000 (1m); GOMAXPROCS=1.  A round does reps
 * passes over the n keys, reps from size_1k and size_1m (a round takes
 * >= ~50 ms on Go).  The fast paths (gort_map_{get,set,delete}_{u64,str})
 * are used, as Go's compiler uses mapaccess2_fast64 and friends.
 *
 * map_<kind>_<size>_insert
 *		gort_map_make(t, 0), then set key i to i for the n keys,
 *		reps times (a new map each time; the make is timed, as in
 *		Go's own map benchmarks).  ns_per_op = elapsed / (reps * n).
 *		The last map's contents are checked after the round.
 * map_<kind>_<size>_insert_hint
 *		The same with gort_map_make(t, n).
 * map_<kind>_<size>_lookup_hit
 *		gort_map_get_*() of every stored key, in key order, on one map
 *		filled before the rounds (no hint), reps passes; check= the
 *		sum of the values found.
 * map_<kind>_<size>_lookup_miss
 *		The same for the n absent keys; none may be found.
 * map_<kind>_<size>_delete
 *		A map made with hint n and filled (untimed), then
 *		gort_map_delete_*() of every key (timed), reps times; every
 *		delete must find its key and the map must end empty.
 * map_<kind>_<size>_iterate
 *		gort_map_iter_init()/_next() over the filled map, reps passes;
 *		ns_per_op per entry; each pass must see n entries, the sum of
 *		the values and the xor of the keys (u64) or the total key
 *		length (str).
 * syncmap_load99_p2
 *		GOMAXPROCS=2.  A gort_syncmap holding SYNC_KEYS uint64_t keys
 *		with void * values, promoted to its read-only view before the
 *		rounds; SYNC_WORKERS goroutines each do SYNC_OPS operations on
 *		keys chosen by xorshift64: every SYNC_STORE_EVERY-th a store of
 *		the key's own value, the others a load, which must find it.
 *		ns_per_op = elapsed / (SYNC_WORKERS * SYNC_OPS), from starting
 *		the workers to joining them.
 *
 * Loops that neither allocate nor park call gort_maybe_yield() every
 * YIELD_EVERY operations (Documentation/gc.rst: a stop-the-world waits for
 * goroutines to reach a preemption point; Go preempts its loops with
 * signals for free).  The maps under test are kept in globals, so the
 * collector sees them whatever registers the compiler chose.
 *
 * Usage: map [u64_1k|u64_1m|str_1k|str_1m|syncmap...]   (default: all)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BENCH_NAME "map"
#include "bench.h"

#include <gort/map.h>
#include <gort/syncmap.h>

#define BENCH_ROUNDS		5
#define BENCH_PROCS		1
#define KEY_SEED		0x6a09e667f3bcc908ULL
#define KEY_LEN			16
#define YIELD_EVERY		4096
#define SYNC_KEY_BITS		10
#define SYNC_KEYS		(1 << SYNC_KEY_BITS)
#define SYNC_PROCS		2
#define SYNC_WORKERS		2
#define SYNC_OPS		4000000
#define SYNC_STORE_EVERY	100

/* A map size and the passes of a round in each case. */
struct size {
	const char *name;
	size_t n;
	long insert, insert_hint, lookup, del, iterate;
};

static const struct size size_1k = { "1k", 1000, 1000, 2000, 10000, 3000, 5000 };
static const struct size size_1m = { "1m", 1000000, 1, 1, 2, 1, 4 };

static const struct gort_maptype u64_type = GORT_MAPTYPE_U64(uint64_t, 0);
static const struct gort_maptype str_type = GORT_MAPTYPE_STR(int64_t, 0);

static const uint64_t str_ptrmask = GORT_PTRBIT(struct gort_str, ptr);
static const struct gort_type str_gctype = {
	.size = sizeof(struct gort_str), .ptrmask = &str_ptrmask, .name = "gort_str",
};

/*
 * The keys of a case, in the gort heap, as Go's are in its heap (so both
 * collectors pace against the same live data).  A global: the collector
 * scans it.
 */
static struct keys {
	size_t n;
	uint64_t *hit, *miss;
	struct gort_str *hitstr, *missstr;
	char *bytes;			/* the strings' bytes, 2n * KEY_LEN */
	uint64_t keyxor;		/* xor of hit[] */
	uint64_t valsum;		/* 0 + 1 + ... + n - 1 */
} K;

/* The map being filled or emptied, and the filled map of the lookups. */
static struct gort_map *cur, *fixture;

/* A map holds something it should not, or lacks something: the runtime
 * is broken. */
static void wrong(const char *bench, const char *what, unsigned long long got,
		  unsigned long long want)
{
	fprintf(stderr, "map: %s: wrong %s: got %llu, want %llu\n", bench, what,
		got, want);
	fflush(stdout);
	exit(1);
}

static uint32_t num_gc(void)
{
	static struct gort_gcstats st;	/* ~4 KiB: not on the stack */
	int err;

	st = (struct gort_gcstats){ .sz = sizeof(st) };
	err = gort_read_gcstats(&st);
	if (err)
		die("gort_read_gcstats", -err);
	return st.num_gc;
}

/* splitmix64: advances *@state and returns its next output. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void *alloc(size_t size, unsigned int flags)
{
	void *p = gort_alloc(size, flags);

	if (!p)
		die("gort_alloc", errno);
	return p;
}

/* Makes the 2 * @n keys, as integers and as strings. */
static void make_keys(size_t n)
{
	static const char hexdig[] = "0123456789abcdef";
	uint64_t state = KEY_SEED, x;
	size_t i;
	int j;

	K = (struct keys){ .n = n };
	K.hit = alloc(n * sizeof(uint64_t), GORT_ALLOC_NOSCAN);
	K.miss = alloc(n * sizeof(uint64_t), GORT_ALLOC_NOSCAN);
	K.bytes = alloc(2 * n * KEY_LEN, GORT_ALLOC_NOSCAN);
	K.hitstr = gort_alloc_typed(&str_gctype, n, 0);
	K.missstr = gort_alloc_typed(&str_gctype, n, 0);
	if (!K.hitstr || !K.missstr)
		die("gort_alloc_typed", errno);
	for (i = 0; i < n; i++) {
		K.hit[i] = splitmix64(&state);
		K.keyxor ^= K.hit[i];
		K.valsum += i;
	}
	for (i = 0; i < n; i++)
		K.miss[i] = splitmix64(&state);
	for (i = 0; i < 2 * n; i++) {
		x = i < n ? K.hit[i] : K.miss[i - n];
		for (j = KEY_LEN - 1; j >= 0; j--) {
			K.bytes[i * KEY_LEN + j] = hexdig[x & 15];
			x >>= 4;
		}
	}
	for (i = 0; i < n; i++) {
		K.hitstr[i] = GORT_STRN(K.bytes + i * KEY_LEN, KEY_LEN);
		K.missstr[i] = GORT_STRN(K.bytes + (n + i) * KEY_LEN, KEY_LEN);
	}
}

static struct gort_map *mkmap(const struct gort_maptype *t, size_t hint)
{
	struct gort_map *m = gort_map_make(t, hint);

	if (!m)
		die("gort_map_make", errno);
	return m;
}

/* The end of the chunk of keys starting at @i: loops call
 * gort_maybe_yield() between chunks. */
static inline size_t chunk_end(size_t i, size_t n)
{
	return n - i > YIELD_EVERY ? i + YIELD_EVERY : n;
}

/* One case: its line's name, its map size, its passes per round and the
 * function that runs (and times) one round, storing its checksum. */
struct mcase {
	char name[48];
	const struct size *sz;
	long reps;
	bool flag;		/* insert: with the hint; lookup: the misses */
	double (*round)(const struct mcase *c, uint64_t *check);
};

/* Runs @c's round once untimed, then BENCH_ROUNDS times; prints the line. */
static void report(const struct mcase *c, int procs, size_t n)
{
	double v[BENCH_ROUNDS], med;
	uint64_t check, chk;
	uint32_t gc0;
	int old, r;

	old = set_procs(procs);
	c->round(c, &check);
	gc0 = num_gc();
	for (r = 0; r < BENCH_ROUNDS; r++) {
		v[r] = c->round(c, &chk);
		if (chk != check)
			wrong(c->name, "check", chk, check);
	}
	med = median(v, BENCH_ROUNDS);
	printf("%s ns_per_op=%.2f min=%.2f n=%zu reps=%ld check=%llu num_gc=%u rounds=%d procs=%d\n",
	       c->name, med, v[0], n, c->reps, (unsigned long long)check,
	       num_gc() - gc0, BENCH_ROUNDS, gort_maxprocs(0));
	fflush(stdout);
	set_procs(old);
}

/* ---- u64: uint64_t keys and values ---- */

static void fill_u64(struct gort_map *m)
{
	size_t n = K.n, i = 0, end;

	while (i < n) {
		for (end = chunk_end(i, n); i < end; i++)
			*(uint64_t *)gort_map_set_u64(m, K.hit[i]) = i;
		gort_maybe_yield();
	}
}

/* Checks @m holds exactly the stored keys with their values. */
static void verify_u64(const char *name, struct gort_map *m)
{
	uint64_t *v;
	size_t i;

	if (gort_map_len(m) != K.n)
		wrong(name, "len", gort_map_len(m), K.n);
	for (i = 0; i < K.n; i++) {
		v = gort_map_get_u64(m, K.hit[i]);
		if (!v)
			wrong(name, "stored key found", 0, 1);
		if (*v != i)
			wrong(name, "value", *v, i);
	}
	for (i = 0; i < K.n; i++)
		if (gort_map_get_u64(m, K.miss[i]))
			wrong(name, "absent key found", 1, 0);
}

static double insert_u64(const struct mcase *c, uint64_t *check)
{
	size_t n = K.n, i, end;
	struct gort_map *m;
	int64_t t0, t1;
	uint64_t sum = 0;
	long r;

	t0 = gort_nanotime();
	for (r = 0; r < c->reps; r++) {
		m = mkmap(&u64_type, c->flag ? n : 0);
		cur = m;
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++)
				*(uint64_t *)gort_map_set_u64(m, K.hit[i]) = i;
			gort_maybe_yield();
		}
		sum += gort_map_len(m);
	}
	t1 = gort_nanotime();
	verify_u64(c->name, cur);
	cur = NULL;
	*check = sum;
	return (double)(t1 - t0) / ((double)c->reps * (double)n);
}

static double lookup_u64(const struct mcase *c, uint64_t *check)
{
	const uint64_t *keys = c->flag ? K.miss : K.hit;
	struct gort_map *m = fixture;
	uint64_t sum = 0, found = 0, want, *v;
	size_t n = K.n, i, end;
	int64_t t0, t1;
	long r;

	t0 = gort_nanotime();
	for (r = 0; r < c->reps; r++) {
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++) {
				v = gort_map_get_u64(m, keys[i]);
				if (v) {
					sum += *v;
					found++;
				}
			}
			gort_maybe_yield();
		}
	}
	t1 = gort_nanotime();
	want = c->flag ? 0 : (uint64_t)c->reps * n;
	if (found != want)
		wrong(c->name, "found", found, want);
	if (!c->flag && sum != (uint64_t)c->reps * K.valsum)
		wrong(c->name, "sum", sum, (uint64_t)c->reps * K.valsum);
	*check = sum;
	return (double)(t1 - t0) / ((double)c->reps * (double)n);
}

static double delete_u64(const struct mcase *c, uint64_t *check)
{
	size_t n = K.n, i, end, deleted;
	struct gort_map *m;
	int64_t t0, el = 0;
	uint64_t sum = 0;
	long r;

	for (r = 0; r < c->reps; r++) {
		m = mkmap(&u64_type, n);
		cur = m;
		fill_u64(m);
		deleted = 0;
		t0 = gort_nanotime();
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++)
				deleted += gort_map_delete_u64(m, K.hit[i]);
			gort_maybe_yield();
		}
		el += gort_nanotime() - t0;
		if (gort_map_len(m) != 0)
			wrong(c->name, "len", gort_map_len(m), 0);
		if (deleted != n)
			wrong(c->name, "deleted", deleted, n);
		sum += deleted;
	}
	cur = NULL;
	*check = sum;
	return (double)el / ((double)c->reps * (double)n);
}

static double iterate_u64(const struct mcase *c, uint64_t *check)
{
	uint64_t cnt, vsum, kx, sum = 0;
	struct gort_map_iter it;
	int64_t t0, el = 0;
	long r;

	for (r = 0; r < c->reps; r++) {
		cnt = vsum = kx = 0;
		t0 = gort_nanotime();
		for (gort_map_iter_init(&it, fixture); gort_map_iter_next(&it);) {
			vsum += *(const uint64_t *)it.val;
			kx ^= *(const uint64_t *)it.key;
			if (++cnt % YIELD_EVERY == 0)
				gort_maybe_yield();
		}
		el += gort_nanotime() - t0;
		if (cnt != K.n)
			wrong(c->name, "entries", cnt, K.n);
		if (vsum != K.valsum)
			wrong(c->name, "value sum", vsum, K.valsum);
		if (kx != K.keyxor)
			wrong(c->name, "key xor", kx, K.keyxor);
		sum += cnt;
	}
	*check = sum;
	return (double)el / ((double)c->reps * (double)K.n);
}

/* ---- str: struct gort_str keys, int64_t values ---- */

static void fill_str(struct gort_map *m)
{
	size_t n = K.n, i = 0, end;

	while (i < n) {
		for (end = chunk_end(i, n); i < end; i++)
			*(int64_t *)gort_map_set_str(m, K.hitstr[i]) = (int64_t)i;
		gort_maybe_yield();
	}
}

/* Checks @m holds exactly the stored keys with their values. */
static void verify_str(const char *name, struct gort_map *m)
{
	int64_t *v;
	size_t i;

	if (gort_map_len(m) != K.n)
		wrong(name, "len", gort_map_len(m), K.n);
	for (i = 0; i < K.n; i++) {
		v = gort_map_get_str(m, K.hitstr[i]);
		if (!v)
			wrong(name, "stored key found", 0, 1);
		if (*v != (int64_t)i)
			wrong(name, "value", (uint64_t)*v, i);
	}
	for (i = 0; i < K.n; i++)
		if (gort_map_get_str(m, K.missstr[i]))
			wrong(name, "absent key found", 1, 0);
}

static double insert_str(const struct mcase *c, uint64_t *check)
{
	size_t n = K.n, i, end;
	struct gort_map *m;
	int64_t t0, t1;
	uint64_t sum = 0;
	long r;

	t0 = gort_nanotime();
	for (r = 0; r < c->reps; r++) {
		m = mkmap(&str_type, c->flag ? n : 0);
		cur = m;
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++)
				*(int64_t *)gort_map_set_str(m, K.hitstr[i]) = (int64_t)i;
			gort_maybe_yield();
		}
		sum += gort_map_len(m);
	}
	t1 = gort_nanotime();
	verify_str(c->name, cur);
	cur = NULL;
	*check = sum;
	return (double)(t1 - t0) / ((double)c->reps * (double)n);
}

static double lookup_str(const struct mcase *c, uint64_t *check)
{
	const struct gort_str *keys = c->flag ? K.missstr : K.hitstr;
	struct gort_map *m = fixture;
	uint64_t sum = 0, found = 0, want;
	size_t n = K.n, i, end;
	int64_t t0, t1, *v;
	long r;

	t0 = gort_nanotime();
	for (r = 0; r < c->reps; r++) {
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++) {
				v = gort_map_get_str(m, keys[i]);
				if (v) {
					sum += (uint64_t)*v;
					found++;
				}
			}
			gort_maybe_yield();
		}
	}
	t1 = gort_nanotime();
	want = c->flag ? 0 : (uint64_t)c->reps * n;
	if (found != want)
		wrong(c->name, "found", found, want);
	if (!c->flag && sum != (uint64_t)c->reps * K.valsum)
		wrong(c->name, "sum", sum, (uint64_t)c->reps * K.valsum);
	*check = sum;
	return (double)(t1 - t0) / ((double)c->reps * (double)n);
}

static double delete_str(const struct mcase *c, uint64_t *check)
{
	size_t n = K.n, i, end, deleted;
	struct gort_map *m;
	int64_t t0, el = 0;
	uint64_t sum = 0;
	long r;

	for (r = 0; r < c->reps; r++) {
		m = mkmap(&str_type, n);
		cur = m;
		fill_str(m);
		deleted = 0;
		t0 = gort_nanotime();
		for (i = 0; i < n;) {
			for (end = chunk_end(i, n); i < end; i++)
				deleted += gort_map_delete_str(m, K.hitstr[i]);
			gort_maybe_yield();
		}
		el += gort_nanotime() - t0;
		if (gort_map_len(m) != 0)
			wrong(c->name, "len", gort_map_len(m), 0);
		if (deleted != n)
			wrong(c->name, "deleted", deleted, n);
		sum += deleted;
	}
	cur = NULL;
	*check = sum;
	return (double)el / ((double)c->reps * (double)n);
}

static double iterate_str(const struct mcase *c, uint64_t *check)
{
	uint64_t cnt, vsum, klen, sum = 0;
	struct gort_map_iter it;
	int64_t t0, el = 0;
	long r;

	for (r = 0; r < c->reps; r++) {
		cnt = vsum = klen = 0;
		t0 = gort_nanotime();
		for (gort_map_iter_init(&it, fixture); gort_map_iter_next(&it);) {
			vsum += (uint64_t)*(const int64_t *)it.val;
			klen += ((const struct gort_str *)it.key)->len;
			if (++cnt % YIELD_EVERY == 0)
				gort_maybe_yield();
		}
		el += gort_nanotime() - t0;
		if (cnt != K.n)
			wrong(c->name, "entries", cnt, K.n);
		if (vsum != K.valsum)
			wrong(c->name, "value sum", vsum, K.valsum);
		if (klen != K.n * KEY_LEN)
			wrong(c->name, "key length", klen, K.n * KEY_LEN);
		sum += cnt;
	}
	*check = sum;
	return (double)el / ((double)c->reps * (double)K.n);
}

/* ---- the six cases of a kind and size ---- */

/* A kind's round functions, and how to fill and check its fixture. */
struct kind {
	const char *name;
	const struct gort_maptype *t;
	double (*insert)(const struct mcase *c, uint64_t *check);
	double (*lookup)(const struct mcase *c, uint64_t *check);
	double (*del)(const struct mcase *c, uint64_t *check);
	double (*iterate)(const struct mcase *c, uint64_t *check);
	void (*fill)(struct gort_map *m);
	void (*verify)(const char *name, struct gort_map *m);
};

static const struct kind kind_u64 = {
	"u64", &u64_type, insert_u64, lookup_u64, delete_u64, iterate_u64,
	fill_u64, verify_u64,
};
static const struct kind kind_str = {
	"str", &str_type, insert_str, lookup_str, delete_str, iterate_str,
	fill_str, verify_str,
};

static void run_case(const struct kind *k, const struct size *sz,
		     const char *what, long reps, bool flag,
		     double (*round)(const struct mcase *c, uint64_t *check))
{
	struct mcase c = { .sz = sz, .reps = reps, .flag = flag, .round = round };

	snprintf(c.name, sizeof(c.name), "map_%s_%s_%s", k->name, sz->name, what);
	report(&c, BENCH_PROCS, sz->n);
}

static void bench_kind(const struct kind *k, const struct size *sz)
{
	char name[48];

	make_keys(sz->n);
	run_case(k, sz, "insert", sz->insert, false, k->insert);
	run_case(k, sz, "insert_hint", sz->insert_hint, true, k->insert);
	fixture = mkmap(k->t, 0);
	k->fill(fixture);
	snprintf(name, sizeof(name), "map_%s_%s_lookup", k->name, sz->name);
	k->verify(name, fixture);
	run_case(k, sz, "lookup_hit", sz->lookup, false, k->lookup);
	run_case(k, sz, "lookup_miss", sz->lookup, true, k->lookup);
	run_case(k, sz, "delete", sz->del, false, k->del);
	run_case(k, sz, "iterate", sz->iterate, false, k->iterate);
	fixture = NULL;
}

static void bench_u64_1k(void) { bench_kind(&kind_u64, &size_1k); }
static void bench_u64_1m(void) { bench_kind(&kind_u64, &size_1m); }
static void bench_str_1k(void) { bench_kind(&kind_str, &size_1k); }
static void bench_str_1m(void) { bench_kind(&kind_str, &size_1m); }

/* ---- sync.Map ---- */

static const struct gort_maptype sync_type =
	GORT_MAPTYPE_U64(void *, GORT_MAP_VALPTRS);
static struct gort_syncmap sync_map = GORT_SYNCMAP_INIT(&sync_type);
static uint64_t sync_vals[SYNC_KEYS];	/* key i's value is &sync_vals[i] */

struct sync_worker {
	uint64_t seed;
	uint64_t hits, bad;	/* loads that found the key's value, or not */
	struct gort_waitgroup *wg;
};

static void sync_worker(void *arg)
{
	struct sync_worker *w = arg;
	uint64_t x = w->seed, hits = 0, bad = 0, idx;
	int c = 0;
	void *v;
	long i;

	for (i = 0; i < SYNC_OPS; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		idx = x >> (64 - SYNC_KEY_BITS);
		if (++c == SYNC_STORE_EVERY) {
			c = 0;
			gort_syncmap_store(&sync_map, &K.hit[idx], &sync_vals[idx]);
		} else if (gort_syncmap_load(&sync_map, &K.hit[idx], &v) &&
			   v == &sync_vals[idx]) {
			hits++;
		} else {
			bad++;
		}
		if (i % YIELD_EVERY == YIELD_EVERY - 1)
			gort_maybe_yield();
	}
	w->hits = hits;
	w->bad = bad;
	gort_waitgroup_done(w->wg);
}

static double sync_round(const struct mcase *c, uint64_t *check)
{
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	struct sync_worker w[SYNC_WORKERS];
	uint64_t hits = 0;
	int64_t t0, t1;
	int i;

	t0 = gort_nanotime();
	gort_waitgroup_add(&wg, SYNC_WORKERS);
	for (i = 0; i < SYNC_WORKERS; i++) {
		w[i] = (struct sync_worker){
			.seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1), .wg = &wg,
		};
		go(sync_worker, &w[i]);
	}
	gort_waitgroup_wait(&wg);
	t1 = gort_nanotime();
	for (i = 0; i < SYNC_WORKERS; i++) {
		if (w[i].bad)
			wrong(c->name, "failed loads", w[i].bad, 0);
		hits += w[i].hits;
	}
	*check = hits;
	return (double)(t1 - t0) / ((double)SYNC_WORKERS * SYNC_OPS);
}

static void bench_syncmap(void)
{
	struct mcase c = {
		.name = "syncmap_load99_p2", .reps = SYNC_OPS, .round = sync_round,
	};
	void *v;
	int i, pass;

	make_keys(SYNC_KEYS);
	for (i = 0; i < SYNC_KEYS; i++) {
		sync_vals[i] = K.hit[i];
		gort_syncmap_store(&sync_map, &K.hit[i], &sync_vals[i]);
	}
	/* Enough misses to promote the dirty map to the read-only view. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < SYNC_KEYS; i++)
			if (!gort_syncmap_load(&sync_map, &K.hit[i], &v) ||
			    v != &sync_vals[i])
				wrong(c.name, "prestored key", 0, 1);
	report(&c, SYNC_PROCS, SYNC_KEYS);
}

/* ---- driver ---- */

static const struct bench benches[] = {
	{ "u64_1k", bench_u64_1k },
	{ "u64_1m", bench_u64_1m },
	{ "str_1k", bench_str_1k },
	{ "str_1m", bench_str_1m },
	{ "syncmap", bench_syncmap },
};

static int bench_main(void *arg)
{
	bench_header();
	bench_run(benches, NBENCH, arg);
	return 0;
}

BENCH_MAIN()
