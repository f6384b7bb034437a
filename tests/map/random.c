/* SPDX-License-Identifier: MIT */
/*
 * Description: gort maps against a trivially correct model, on long
 * random sequences of operations (map_model.h has the key kinds and the
 * model: an array indexed by key id).
 *
 *   random	one variant per key kind and call path: u32, u64 and str
 *		through their fast paths, the generic calls, or both at
 *		random on one map; 24-byte MEM keys with values and as a
 *		set; FUNC keys whose hash collides in groups of 4 and whose
 *		equal() ignores junk bytes; 160-byte keys with 200-byte
 *		values (stored out of line).  Each run: churn on a small
 *		map (<= 64 keys) with frequent iterations, clears and
 *		shrinks; growth from empty to 100,000 entries (20,000 for
 *		the big kind) and back to a handful, with shrinks on the
 *		way down; clear and reuse.  Every get, set (a new key's
 *		slot is zeroed, an old key's holds its value), store and
 *		delete (its result) and gort_map_len() after every write
 *		is checked against the model; at milestones every key is
 *		looked up and the map iterated.
 *   Iteration	with no writes, every key exactly once with its value;
 *		with writes during it (deletes, inserts that at least
 *		double the map, so it grows under the iterator, updates,
 *		stores through it.val): no key twice, every key produced
 *		is present then with its current value, every key present
 *		from start to end is produced; a key deleted before it
 *		was reached is not.
 *   start_order	iterations of one map start at different keys and
 *		go in different orders (8 keys: one bucket; 1,000 keys).
 *   nil_map	NULL reads as empty (len, get, fast paths), deletes and
 *		clear are no-ops, iterates over nothing.
 *   nil_set	a set on NULL panics "assignment to entry in nil map"
 *		(exit status 2, a traceback), through every set call.
 *
 * The seed is printed; GT_MAP_SEED=n repeats a run's operation sequence
 * (the maps' own hash seeds differ from run to run).  A mismatch prints
 * the last operations; a run stuck for 20 s prints the call it is in.
 */
#include "../gc/gc_test.h"

#include <stdarg.h>

#include <gort/map.h>

#include "map_model.h"

#define NKEYS		(1 << 19)
#define LOGN		32

enum { IT_DEL = 1, IT_INS = 2, IT_UPD = 4, IT_VALW = 8, IT_ALL = 15 };

struct rt {
	enum mm_kind kind;
	enum mm_path path;
	size_t target;
	uint64_t seed, rng, ops;
	struct gort_map *m;
	struct mm_ref ref;
	bool failed;
	const char *phase;
	/* iteration bookkeeping, by id: the epoch of the last mark */
	uint32_t *seen, *deleted, epoch;
	uint32_t *start_ids;
	/* the last operations, for a failure report */
	struct {
		char op;
		uint64_t id;
		size_t len;
	} log[LOGN];
	unsigned int logn;
	/* what ran, for the summary */
	size_t peak, iters, ins_under_iter;
};

static void rt_log(struct rt *r, char op, uint64_t id)
{
	unsigned int i = r->logn++ % LOGN;

	r->log[i].op = op;
	r->log[i].id = id;
	r->log[i].len = r->ref.n;
	r->ops++;
}

static void rt_fail(struct rt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rt_fail(struct rt *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	unsigned int i;

	if (r->failed)
		return;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	GFAIL("%s/%s seed %llu, op %llu (%s), model len %zu, map len %zu: %s", mm_names[r->kind],
	      r->path == MM_FAST ? "fast" : r->path == MM_GENERIC ? "generic" : "mixed",
	      (unsigned long long)r->seed, (unsigned long long)r->ops, r->phase, r->ref.n,
	      gort_map_len(r->m), msg);
	fprintf(stderr, "# last operations (op id len-before), oldest first:\n");
	for (i = r->logn > LOGN ? r->logn - LOGN : 0; i < r->logn; i++)
		fprintf(stderr, "#   %c %llu %zu\n", r->log[i % LOGN].op,
			(unsigned long long)r->log[i % LOGN].id, r->log[i % LOGN].len);
}

static uint64_t rt_rand(struct rt *r)
{
	return mm_rand(&r->rng);
}

static bool rt_fast(struct rt *r)
{
	if (!mm_has_fast(r->kind) || r->path == MM_GENERIC)
		return false;
	return r->path == MM_FAST || (rt_rand(r) & 1);
}

static void rt_key(struct rt *r, uint64_t id, struct mm_key *k, bool stable)
{
	mm_key_make(r->kind, id, k, stable, (uint32_t)rt_rand(r));
}

static void check_len(struct rt *r)
{
	size_t n = gort_map_len(r->m);

	if (n != r->ref.n)
		rt_fail(r, "gort_map_len() %zu, model %zu", n, r->ref.n);
}

static void op_get(struct rt *r, uint64_t id)
{
	struct mm_key k;
	uint32_t ver = id < NKEYS ? r->ref.ver[id] : 0;
	void *v;

	rt_log(r, 'g', id);
	rt_key(r, id, &k, false);
	v = mm_get(r->kind, rt_fast(r), r->m, &k);
	if (!ver && v)
		rt_fail(r, "get %llu: found a key that is absent", (unsigned long long)id);
	else if (ver && !v)
		rt_fail(r, "get %llu: not found (version %u)", (unsigned long long)id, ver);
	else if (ver && !mm_val_ok(r->kind, id, ver, v))
		rt_fail(r, "get %llu: wrong value (want version %u)", (unsigned long long)id, ver);
}

static void op_set(struct rt *r, uint64_t id)
{
	unsigned char val[MM_BIGVAL];
	const struct gort_maptype *t = &mm_types[r->kind];
	uint32_t old = r->ref.ver[id], ver;
	bool fast = rt_fast(r);
	struct mm_key k;
	void *v;

	rt_log(r, 's', id);
	rt_key(r, id, &k, true);
	if (!fast && !(rt_rand(r) % 3)) {
		ver = mm_ref_set(&r->ref, id);
		mm_val_make(r->kind, id, ver, val);
		gort_map_store(r->m, &k, val);
		check_len(r);
		return;
	}
	v = mm_set(r->kind, fast, r->m, &k);
	if (!v && t->valsize) {
		rt_fail(r, "set %llu: NULL slot", (unsigned long long)id);
		return;
	}
	if (!old && !mm_val_zero(r->kind, v))
		rt_fail(r, "set %llu: new key's slot not zeroed", (unsigned long long)id);
	else if (old && !mm_val_ok(r->kind, id, old, v))
		rt_fail(r, "set %llu: old key's slot does not hold its value (version %u)",
			(unsigned long long)id, old);
	ver = mm_ref_set(&r->ref, id);
	mm_val_make(r->kind, id, ver, v);
	check_len(r);
}

static void op_del(struct rt *r, uint64_t id)
{
	struct mm_key k;
	bool was = r->ref.ver[id] != 0, got;

	rt_log(r, 'd', id);
	rt_key(r, id, &k, false);
	got = mm_del(r->kind, rt_fast(r), r->m, &k);
	if (got != was)
		rt_fail(r, "delete %llu returned %d, key was %s", (unsigned long long)id, got,
			was ? "present" : "absent");
	mm_ref_del(&r->ref, id);
	check_len(r);
}

static uint64_t rand_present(struct rt *r)
{
	return r->ref.list[rt_rand(r) % r->ref.n];
}

static uint64_t rand_id(struct rt *r, uint64_t lim)
{
	return rt_rand(r) % lim;
}

/* ---- iteration ---- */

/* iter_entry() - check the entry the iterator produced; its id or -1. */
static int64_t iter_entry(struct rt *r, struct gort_map_iter *it)
{
	uint64_t id;
	uint32_t ver;

	if (!it->key || (!it->val && mm_types[r->kind].valsize)) {
		rt_fail(r, "iteration: entry with key %p, value %p", it->key, it->val);
		return -1;
	}
	if (!mm_key_id(r->kind, it->key, &id) || id >= NKEYS) {
		rt_fail(r, "iteration produced a damaged key");
		return -1;
	}
	ver = r->ref.ver[id];
	if (r->seen[id] == r->epoch) {
		rt_fail(r, "iteration produced key %llu twice", (unsigned long long)id);
		return -1;
	}
	r->seen[id] = r->epoch;
	if (!ver) {
		rt_fail(r, "iteration produced key %llu, which is not in the map%s",
			(unsigned long long)id,
			r->deleted[id] == r->epoch ? " (deleted during the iteration)" : "");
		return -1;
	}
	if (!mm_val_ok(r->kind, id, ver, it->val)) {
		rt_fail(r, "iteration: key %llu with a wrong value (want version %u)",
			(unsigned long long)id, ver);
		return -1;
	}
	return (int64_t)id;
}

/* iter_plain() - no writes: every key exactly once. */
static void iter_plain(struct rt *r)
{
	struct gort_map_iter it;
	size_t n = 0;

	r->epoch++;
	r->iters++;
	for (gort_map_iter_init(&it, r->m); gort_map_iter_next(&it);) {
		if (iter_entry(r, &it) < 0)
			return;
		n++;
		if (!(n & 1023))
			gort_maybe_yield();
	}
	if (n != r->ref.n)
		rt_fail(r, "iteration produced %zu keys of %zu", n, r->ref.n);
}

/*
 * iter_writes() - iterate while writing (@mode: IT_*).  Inserts add up
 * to as many keys as there were at the start (plus a few), so the map
 * at least doubles and grows while the iteration runs.
 */
static void iter_writes(struct rt *r, unsigned int mode)
{
	size_t n0 = r->ref.n, i, ins = 0, maxins = n0 + 16, produced = 0;
	uint32_t *start = r->start_ids;
	struct gort_map_iter it;
	int64_t id;

	if (n0 > 30000)
		maxins = 30000;
	r->epoch++;
	r->iters++;
	memcpy(start, r->ref.list, n0 * sizeof(*start));
	for (gort_map_iter_init(&it, r->m); gort_map_iter_next(&it);) {
		size_t before = gort_map_len(r->m);

		rt_log(r, 'i', 0);
		if ((id = iter_entry(r, &it)) < 0)
			return;
		produced++;
		/* A store through it.val first: the pointer is good until the next write. */
		if ((mode & IT_VALW) && mm_types[r->kind].valsize && !(rt_rand(r) % 4)) {
			rt_log(r, 'w', (uint64_t)id);
			mm_val_make(r->kind, (uint64_t)id, mm_ref_set(&r->ref, (uint64_t)id), it.val);
		}
		if ((mode & IT_DEL) && r->ref.n && !(rt_rand(r) % 3)) {
			uint64_t d = rand_present(r);

			r->deleted[d] = r->epoch;
			op_del(r, d);
		}
		if ((mode & IT_DEL) && r->ref.n && !(rt_rand(r) % 8)) {
			/* The key just produced. */
			if (r->ref.ver[id]) {
				r->deleted[id] = r->epoch;
				op_del(r, (uint64_t)id);
			}
		}
		if ((mode & IT_UPD) && r->ref.n && !(rt_rand(r) % 4))
			op_set(r, rand_present(r));
		if (mode & IT_INS) {
			int k, nk = (int)(rt_rand(r) % 4);

			for (k = 0; k < nk && ins < maxins; k++) {
				uint64_t nid = rand_id(r, NKEYS);

				/* Never bring back a key deleted during this iteration. */
				if (r->ref.ver[nid] || r->deleted[nid] == r->epoch)
					continue;
				op_set(r, nid);
				ins++;
			}
		}
		if (r->failed)
			return;
		if (gort_map_len(r->m) > before)
			r->ins_under_iter += gort_map_len(r->m) - before;
		if (!(produced & 255))
			gort_maybe_yield();
	}
	for (i = 0; i < n0; i++) {
		uint64_t s = start[i];

		if (r->deleted[s] != r->epoch && r->seen[s] != r->epoch) {
			rt_fail(r, "iteration with writes (mode %u) missed key %llu, present from start to end",
				mode, (unsigned long long)s);
			return;
		}
	}
	check_len(r);
}

/* full_check() - every present key found, a few absent ones not, and
 * an iteration without writes. */
static void full_check(struct rt *r)
{
	size_t i, n = r->ref.n;

	check_len(r);
	for (i = 0; i < n && !r->failed; i++) {
		op_get(r, r->ref.list[i]);
		if (!(i & 1023))
			gort_maybe_yield();
	}
	for (i = 0; i < 64 && !r->failed; i++)
		op_get(r, NKEYS + rand_id(r, NKEYS));
	if (!r->failed)
		iter_plain(r);
}

static void op_clear(struct rt *r)
{
	size_t i, n = r->ref.n;
	uint32_t *was = r->start_ids;

	rt_log(r, 'c', 0);
	memcpy(was, r->ref.list, n * sizeof(*was));
	gort_map_clear(r->m);
	mm_ref_clear(&r->ref);
	check_len(r);
	for (i = 0; i < n && i < 4096 && !r->failed; i++)
		op_get(r, was[i]);
	if (!r->failed)
		iter_plain(r);
}

static void op_shrink(struct rt *r)
{
	rt_log(r, 'k', 0);
	gort_map_shrink(r->m);
	full_check(r);
}

/* ---- phases ---- */

/* One random operation; @grow: biased towards inserts, else deletes. */
static void step(struct rt *r, bool grow, uint64_t idlim)
{
	unsigned int p = (unsigned int)(rt_rand(r) % 100);
	bool any = r->ref.n > 0;

	if (grow) {
		if (p < 50)
			op_set(r, rand_id(r, idlim));
		else if (p < 62 && any)
			op_set(r, rand_present(r));
		else if (p < 80 && any)
			op_get(r, rand_present(r));
		else if (p < 88)
			op_get(r, rand_id(r, idlim));
		else if (p < 93 && any)
			op_del(r, rand_present(r));
		else if (p < 98)
			op_del(r, rand_id(r, idlim));
		else
			op_get(r, NKEYS + rand_id(r, NKEYS));
	} else {
		if (p < 55 && any)
			op_del(r, rand_present(r));
		else if (p < 65)
			op_del(r, rand_id(r, idlim));
		else if (p < 72)
			op_set(r, rand_id(r, idlim));
		else if (p < 77 && any)
			op_set(r, rand_present(r));
		else if (p < 92 && any)
			op_get(r, rand_present(r));
		else
			op_get(r, rand_id(r, idlim));
	}
	if (!(r->ops & 255))
		gort_maybe_yield();
}

/* A small map (ids < 64): iterations, clears and shrinks all the time. */
static void phase_small(struct rt *r, long nops)
{
	long i;

	r->phase = "small";
	for (i = 0; i < nops && !r->failed; i++) {
		step(r, (i / 500) % 2 == 0, 64);
		if (i % 50 == 49)
			iter_plain(r);
		if (i % 200 == 199)
			iter_writes(r, (unsigned int)(rt_rand(r) % IT_ALL) + 1);
		if (i % 2000 == 1999)
			op_clear(r);
		else if (i % 500 == 499)
			op_shrink(r);
	}
}

static bool crossed(size_t before, size_t after, size_t mark)
{
	return (before < mark && after >= mark) || (before > mark && after <= mark);
}

static void at_mark(struct rt *r, bool grow)
{
	full_check(r);
	if (!grow && !r->failed)
		op_shrink(r);
	if (!r->failed)
		iter_writes(r, IT_DEL | IT_UPD | IT_VALW);
	if (!r->failed)
		iter_writes(r, IT_ALL);
	if (!r->failed)
		full_check(r);
}

static void phase_grow(struct rt *r)
{
	static const size_t marks[] = { 9, 100, 1000, 10000, 100000 };
	size_t i, before;
	unsigned int done = 0;	/* each mark once */

	r->phase = "grow";
	while (r->ref.n < r->target && !r->failed) {
		before = r->ref.n;
		step(r, true, NKEYS);
		for (i = 0; i < GT_ARRAY_SIZE(marks); i++)
			if (!(done & 1u << i) && marks[i] < r->target &&
			    crossed(before, r->ref.n, marks[i])) {
				done |= 1u << i;
				at_mark(r, true);
			}
	}
	if (r->ref.n > r->peak)
		r->peak = r->ref.n;
	if (!r->failed)
		at_mark(r, true);
}

static void phase_shrink(struct rt *r)
{
	static const size_t marks[] = { 50000, 5000, 500, 20 };
	size_t i, before;
	unsigned int done = 0;	/* each mark once */

	r->phase = "shrink";
	while (r->ref.n > 8 && !r->failed) {
		before = r->ref.n;
		step(r, false, NKEYS);
		for (i = 0; i < GT_ARRAY_SIZE(marks); i++)
			if (!(done & 1u << i) && marks[i] < r->target &&
			    crossed(before, r->ref.n, marks[i])) {
				done |= 1u << i;
				at_mark(r, false);
			}
	}
}

static void phase_clear(struct rt *r)
{
	int round;

	r->phase = "clear";
	for (round = 0; round < 3 && !r->failed; round++) {
		while (r->ref.n < 3000 && !r->failed)
			step(r, true, NKEYS);
		if (!r->failed)
			op_clear(r);
		if (round == 1 && !r->failed)
			op_shrink(r);
	}
	/* Empty it key by key, then shrink the empty map. */
	r->phase = "empty";
	while (r->ref.n < 500 && !r->failed)
		step(r, true, NKEYS);
	while (r->ref.n && !r->failed)
		op_del(r, rand_present(r));
	if (!r->failed)
		op_shrink(r);
	if (!r->failed)
		full_check(r);
	/* Still usable. */
	while (r->ref.n < 200 && !r->failed)
		step(r, true, NKEYS);
	if (!r->failed)
		full_check(r);
}

static uint64_t test_seed(void)
{
	const char *s = getenv("GT_MAP_SEED");

	if (s && *s)
		return strtoull(s, NULL, 0);
	return (uint64_t)gt_now_ns() ^ (uint64_t)getpid() << 32;
}

static struct rt R;

/*
 * A run takes about 2 s under ASan; one still going after WATCHDOG_S is
 * stuck in a map call (an endless loop in the runtime): say which call,
 * and where in the run, before the harness' timeout kills it unheard.
 */
#define WATCHDOG_S	20

static void watchdog(int sig)
{
	char buf[256];
	unsigned int i = (R.logn + LOGN - 1) % LOGN;
	int n;

	(void)sig;
	n = snprintf(buf, sizeof(buf),
		     "# %s: stuck for %d s: seed %llu, phase %s, op %llu ('%c' %llu at len %zu)\n",
		     mm_names[R.kind], WATCHDOG_S, (unsigned long long)R.seed, R.phase,
		     (unsigned long long)R.ops, R.log[i].op, (unsigned long long)R.log[i].id,
		     R.log[i].len);
	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0)
		n = 0;
	_exit(1);
}

static int random_main(void *arg)
{
	struct rt *r = arg;
	int64_t t0 = gort_nanotime();

	r->m = gort_map_make(&mm_types[r->kind], 0);
	if (!GCHECK(r->m != NULL))
		return 1;
	phase_small(r, 20000);
	if (!r->failed)
		phase_grow(r);
	if (!r->failed)
		phase_shrink(r);
	if (!r->failed)
		phase_clear(r);
	/* The map lives through a few collections with all of this garbage. */
	if (!r->failed) {
		r->phase = "gc";
		GCHECK_EQ(0, gort_gc());
		full_check(r);
	}
	printf("# %s: seed %llu: %llu ops, peak %zu keys, %zu iterations (%zu keys inserted "
	       "under one), %.2f s\n",
	       mm_names[r->kind], (unsigned long long)r->seed, (unsigned long long)r->ops, r->peak,
	       r->iters, r->ins_under_iter, (gort_nanotime() - t0) / 1e9);
	return 0;
}

FIXTURE(random) {
};

FIXTURE_VARIANT(random) {
	enum mm_kind kind;
	enum mm_path path;
	size_t target;
};

FIXTURE_SETUP(random) { }
FIXTURE_TEARDOWN(random) { }

FIXTURE_VARIANT_ADD(random, u32_mixed) { .kind = MM_U32, .path = MM_MIXED, .target = 100000 };
FIXTURE_VARIANT_ADD(random, u64_fast) { .kind = MM_U64, .path = MM_FAST, .target = 100000 };
FIXTURE_VARIANT_ADD(random, u64_generic) { .kind = MM_U64, .path = MM_GENERIC, .target = 100000 };
FIXTURE_VARIANT_ADD(random, u64_mixed) { .kind = MM_U64, .path = MM_MIXED, .target = 100000 };
FIXTURE_VARIANT_ADD(random, str_fast) { .kind = MM_STR, .path = MM_FAST, .target = 100000 };
FIXTURE_VARIANT_ADD(random, str_generic) { .kind = MM_STR, .path = MM_GENERIC, .target = 100000 };
FIXTURE_VARIANT_ADD(random, mem24) { .kind = MM_MEM24, .path = MM_GENERIC, .target = 100000 };
FIXTURE_VARIANT_ADD(random, set24) { .kind = MM_SET24, .path = MM_GENERIC, .target = 100000 };
FIXTURE_VARIANT_ADD(random, func) { .kind = MM_FUNC, .path = MM_GENERIC, .target = 100000 };
FIXTURE_VARIANT_ADD(random, big) { .kind = MM_BIG, .path = MM_GENERIC, .target = 20000 };

TEST_F(random, ops)
{
	struct rt *r = &R;

	r->kind = variant->kind;
	r->path = variant->path;
	r->target = variant->target;
	r->seed = test_seed();
	r->rng = r->seed | 1;
	/* Printed first: a run that hangs says its seed too. */
	printf("# %s: GT_MAP_SEED=%llu\n", _metadata->name, (unsigned long long)r->seed);
	fflush(stdout);
	ASSERT_TRUE(mm_ref_init(&r->ref, NKEYS));
	r->seen = calloc(NKEYS, sizeof(*r->seen));
	r->deleted = calloc(NKEYS, sizeof(*r->deleted));
	r->start_ids = calloc(NKEYS, sizeof(*r->start_ids));
	ASSERT_TRUE(r->seen && r->deleted && r->start_ids);
	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S);
	ASSERT_EQ(0, gt_run(random_main, r, 2));
	alarm(0);
	if (r->failed)
		TH_LOG("repeat: GT_MAP_SEED=%llu ./random -r %s", (unsigned long long)r->seed,
		       _metadata->name);
	ASSERT_FALSE(r->failed);
	ASSERT_EQ(0, gt_failed());
}

/* ---- iteration order ---- */

static const struct gort_maptype u64type = GORT_MAPTYPE_U64(uint64_t, 0);

static struct {
	int nfirst[2];		/* distinct first keys, for 8 and 1000 keys */
	int norders[2];		/* distinct orders (by a hash of the sequence) */
} O;

static int order_main(void *arg)
{
	static const int sizes[2] = { 8, 1000 };
	int s, i, j;

	(void)arg;
	for (s = 0; s < 2; s++) {
		struct gort_map *m = gort_map_make(&u64type, 0);
		uint64_t first[64], order[64];

		for (i = 0; i < sizes[s]; i++)
			*(uint64_t *)gort_map_set_u64(m, (uint64_t)i * 3 + 1) = (uint64_t)i;
		for (i = 0; i < 64; i++) {
			struct gort_map_iter it;
			uint64_t h = 0;
			int n = 0;

			for (gort_map_iter_init(&it, m); gort_map_iter_next(&it); n++) {
				uint64_t k = *(uint64_t *)it.key;

				if (!n)
					first[i] = k;
				h = mm_mix(h ^ k);
			}
			GCHECK_EQ(sizes[s], n);
			order[i] = h;
		}
		for (i = 0; i < 64; i++) {
			for (j = 0; j < i && first[j] != first[i]; j++)
				;
			O.nfirst[s] += j == i;
			for (j = 0; j < i && order[j] != order[i]; j++)
				;
			O.norders[s] += j == i;
		}
	}
	return 0;
}

TEST(start_order)
{
	ASSERT_EQ(0, gt_run(order_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
	TH_LOG("64 iterations: %d/%d first keys, %d/%d orders (8 keys/1000 keys)", O.nfirst[0],
	       O.nfirst[1], O.norders[0], O.norders[1]);
	/* A random start bucket and slot: 64 tries that all agree would be
	 * chance of at most 8^-63 (one bucket of 8) or less. */
	ASSERT_GE(O.nfirst[0], 2);
	ASSERT_GE(O.norders[0], 2);
	ASSERT_GE(O.nfirst[1], 8);
	ASSERT_GE(O.norders[1], 8);
}

/* ---- nil maps ---- */

static int nil_main(void *arg)
{
	struct gort_map_iter it;
	uint64_t k = 42;
	int n = 0;

	(void)arg;
	GCHECK_EQ(0, gort_map_len(NULL));
	GCHECK(gort_map_get(NULL, &k) == NULL);
	GCHECK(gort_map_get_u32(NULL, 42) == NULL);
	GCHECK(gort_map_get_u64(NULL, 42) == NULL);
	GCHECK(gort_map_get_str(NULL, GORT_STR("42")) == NULL);
	GCHECK(!gort_map_delete(NULL, &k));
	GCHECK(!gort_map_delete_u32(NULL, 42));
	GCHECK(!gort_map_delete_u64(NULL, 42));
	GCHECK(!gort_map_delete_str(NULL, GORT_STR("42")));
	gort_map_clear(NULL);
	for (gort_map_iter_init(&it, NULL); gort_map_iter_next(&it);)
		n++;
	GCHECK_EQ(0, n);
	GCHECK_EQ(0, gort_map_len(NULL));
	/* An empty map (made, never written) reads the same way. */
	{
		struct gort_map *m = gort_map_make(&u64type, 0);

		GCHECK(m != NULL);
		GCHECK_EQ(0, gort_map_len(m));
		GCHECK(gort_map_get_u64(m, 42) == NULL);
		GCHECK(!gort_map_delete_u64(m, 42));
		for (gort_map_iter_init(&it, m); gort_map_iter_next(&it);)
			n++;
		GCHECK_EQ(0, n);
		/* A hint far above what is used, then a shrink. */
		m = gort_map_make(&u64type, 100000);
		*(uint64_t *)gort_map_set_u64(m, 7) = 8;
		gort_map_shrink(m);
		GCHECK_EQ(1, gort_map_len(m));
		GCHECK(gort_map_get_u64(m, 7) && *(uint64_t *)gort_map_get_u64(m, 7) == 8);
	}
	return 0;
}

TEST(nil_map)
{
	ASSERT_EQ(0, gt_run(nil_main, NULL, 1));
	ASSERT_EQ(0, gt_failed());
}

enum nilset { NIL_SET, NIL_STORE, NIL_SET_U32, NIL_SET_U64, NIL_SET_STR };

static enum nilset ncur;

static int nilset_main(void *arg)
{
	uint64_t k = 1, v = 2;
	void *p = NULL;

	(void)arg;
	switch (ncur) {
	case NIL_SET:
		p = gort_map_set(NULL, &k);
		break;
	case NIL_STORE:
		gort_map_store(NULL, &k, &v);
		break;
	case NIL_SET_U32:
		p = gort_map_set_u32(NULL, 1);
		break;
	case NIL_SET_U64:
		p = gort_map_set_u64(NULL, 1);
		break;
	case NIL_SET_STR:
		p = gort_map_set_str(NULL, GORT_STR("1"));
		break;
	}
	fprintf(stderr, "set on a nil map was not fatal (%p)\n", p);
	return 4;
}

static int nilset_child(void *arg)
{
	return gt_run(nilset_main, arg, 1);
}

FIXTURE(nil_set) {
	struct gt_child child;
};

FIXTURE_VARIANT(nil_set) {
	enum nilset how;
};

FIXTURE_SETUP(nil_set) { memset(&self->child, 0, sizeof(self->child)); }
FIXTURE_TEARDOWN(nil_set) { gt_child_free(&self->child); }

FIXTURE_VARIANT_ADD(nil_set, set) { .how = NIL_SET };
FIXTURE_VARIANT_ADD(nil_set, store) { .how = NIL_STORE };
FIXTURE_VARIANT_ADD(nil_set, set_u32) { .how = NIL_SET_U32 };
FIXTURE_VARIANT_ADD(nil_set, set_u64) { .how = NIL_SET_U64 };
FIXTURE_VARIANT_ADD(nil_set, set_str) { .how = NIL_SET_STR };

TEST_F(nil_set, panics)
{
	struct gt_child *c = &self->child;
	const char *p;

	ncur = variant->how;
	ASSERT_EQ(0, gt_fork_capture(c, nilset_child, NULL, 10000));
	p = strstr(c->out, "panic: assignment to entry in nil map\n");
	if (gt_exit_code(c) != 2 || !p || !strstr(p, "goroutine 1 [running]"))
		gt_child_dump(c, "child");
	ASSERT_EQ(2, gt_exit_code(c));
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, strstr(p, "goroutine 1 [running]"));
	ASSERT_EQ(NULL, strstr(c->out, "was not fatal"));
}

TEST_HARNESS_MAIN
