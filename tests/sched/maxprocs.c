/* SPDX-License-Identifier: MIT */
/*
 * Description: GOMAXPROCS and the other scheduler queries.
 *
 * - set_sequence: gort_maxprocs() returns the previous value when set to
 *   1, 2, 3, GORT_MAXPROCS_LIMIT and back, <= 0 only queries, too large a
 *   value is -EINVAL and changes nothing; work started after every change
 *   completes.
 * - change_under_load: the value changes many times while goroutines are
 *   busy yielding and sleeping; none is lost.
 * - env: $GORT_MAXPROCS is used when opts.maxprocs is 0, an explicit
 *   opts.maxprocs wins over it, and without either the default is
 *   gort_num_cpu(), which lies between 1 and the affinity mask's CPUs.
 * - goid: the main goroutine is goroutine 1, every goroutine sees the id
 *   gort_go() returned, ids are unique and > 0, and a thread outside the
 *   runtime sees 0.
 * - num_goroutine: counts the goroutines that exist.
 */
#include "../gort_test.h"

#define NR_BATCH	200

struct batch {
	atomic_int ran;
	uint32_t done;
};

static void batch_worker(void *arg)
{
	struct batch *b = arg;

	gort_yield();
	gort_sleep(100 * GT_US);
	atomic_fetch_add(&b->ran, 1);
	gort_sema_release(&b->done);
}

/* Start NR_BATCH goroutines and wait for them; false if any is missing. */
static bool run_batch(void)
{
	struct batch b = { 0 };
	int i;

	for (i = 0; i < NR_BATCH; i++)
		GCHECK(gort_go(batch_worker, &b) > 0);
	if (!gt_sema_wait(&b.done, NR_BATCH, 10000))
		return false;
	return GCHECK_EQ(atomic_load(&b.ran), NR_BATCH);
}

static int set_sequence_main(void *arg)
{
	static const int seq[] = { 1, 2, 3, GORT_MAXPROCS_LIMIT, 2, 1, 4 };
	int prev = gort_maxprocs(0), initial = prev;
	size_t i;

	(void)arg;
	GCHECK_EQ(initial, 2);
	GCHECK_EQ(gort_maxprocs(-1), initial);
	for (i = 0; i < GT_ARRAY_SIZE(seq); i++) {
		int r = gort_maxprocs(seq[i]);

		if (!GCHECK_EQ(r, prev))
			fprintf(stderr, "# gort_maxprocs(%d)\n", seq[i]);
		GCHECK_EQ(gort_maxprocs(0), seq[i]);
		if (!run_batch())
			fprintf(stderr, "# work stalled at maxprocs %d\n", seq[i]);
		prev = seq[i];
	}
	/* Invalid values leave it alone. */
	GCHECK_EQ(gort_maxprocs(GORT_MAXPROCS_LIMIT + 1), -EINVAL);
	GCHECK_EQ(gort_maxprocs(1 << 30), -EINVAL);
	GCHECK_EQ(gort_maxprocs(0), prev);
	GCHECK_EQ(gort_maxprocs(initial), prev);
	GCHECK_EQ(gort_maxprocs(0), initial);
	GCHECK(run_batch());
	return 0;
}

TEST(set_sequence)
{
	ASSERT_EQ(0, gt_run(set_sequence_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
}

#define NR_BUSY		16

struct load {
	atomic_bool stop;
	atomic_long steps;
	uint32_t done;
};

static void busy(void *arg)
{
	struct load *l = arg;
	unsigned long n = 0;

	while (!atomic_load(&l->stop)) {
		if (++n % 8 == 0)
			gort_sleep(50 * GT_US);
		else
			gort_yield();
		atomic_fetch_add(&l->steps, 1);
	}
	gort_sema_release(&l->done);
}

static int load_main(void *arg)
{
	struct load *l = arg;
	int i, n;
	long before;

	for (i = 0; i < NR_BUSY; i++)
		GCHECK(gort_go(busy, l) > 0);
	for (i = 0; i < 40; i++) {
		n = 1 + i % 4;
		GCHECK(gort_maxprocs(n) > 0);
		GCHECK_EQ(gort_maxprocs(0), n);
		before = atomic_load(&l->steps);
		/* Still making progress with the new number of Ps. */
		if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&l->steps) > before + 100, 5000)))
			break;
	}
	atomic_store(&l->stop, true);
	gt_sema_wait(&l->done, NR_BUSY, 5000);
	return 0;
}

TEST(change_under_load)
{
	struct load l = { 0 };

	ASSERT_EQ(0, gt_run(load_main, &l, 2));
	ASSERT_EQ(0, gt_failed());
}

FIXTURE(env) {
	int seen, ncpu;
};

FIXTURE_VARIANT(env) {
	const char *env;	/* NULL: unset */
	int opt;		/* opts.maxprocs */
	int expect;		/* 0: gort_num_cpu() */
};

FIXTURE_VARIANT_ADD(env, default_is_num_cpu) { .env = NULL, .opt = 0, .expect = 0, };
FIXTURE_VARIANT_ADD(env, env_3) { .env = "3", .opt = 0, .expect = 3, };
FIXTURE_VARIANT_ADD(env, env_1) { .env = "1", .opt = 0, .expect = 1, };
FIXTURE_VARIANT_ADD(env, opt_wins_over_env) { .env = "3", .opt = 2, .expect = 2, };
FIXTURE_VARIANT_ADD(env, opt_5) { .env = NULL, .opt = 5, .expect = 5, };

FIXTURE_SETUP(env)
{
}

FIXTURE_TEARDOWN(env)
{
}

static int env_main(void *arg)
{
	FIXTURE_DATA(env) *self = arg;

	self->seen = gort_maxprocs(0);
	self->ncpu = gort_num_cpu();
	GCHECK(run_batch());
	return 0;
}

TEST_F(env, maxprocs)
{
	cpu_set_t set;
	int n;

	/* Each test runs in its own process: the environment is ours. */
	if (variant->env) {
		ASSERT_EQ(0, setenv("GORT_MAXPROCS", variant->env, 1));
	} else {
		ASSERT_EQ(0, unsetenv("GORT_MAXPROCS"));
	}
	ASSERT_EQ(0, gt_run(env_main, self, variant->opt));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(set), &set));
	n = CPU_COUNT(&set);
	ASSERT_GE(self->ncpu, 1);
	ASSERT_LE(self->ncpu, n);
	ASSERT_EQ(self->ncpu, gort_num_cpu());
	ASSERT_EQ(variant->expect ? variant->expect : self->ncpu, self->seen);
}

#define NR_IDS	1000

struct ids {
	int64_t main_id;
	int64_t returned[NR_IDS];
	int64_t seen[NR_IDS];
	uint32_t done;
};

static struct ids ids;

static void id_worker(void *arg)
{
	ids.seen[(uintptr_t)arg] = gort_goid();
	gort_sema_release(&ids.done);
}

static int goid_main(void *arg)
{
	uintptr_t i;

	(void)arg;
	ids.main_id = gort_goid();
	for (i = 0; i < NR_IDS; i++)
		ids.returned[i] = gort_go(id_worker, (void *)i);
	gt_sema_wait(&ids.done, NR_IDS, 10000);
	return 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

TEST(goid)
{
	int i;

	ASSERT_EQ(0, gort_goid());
	ASSERT_EQ(0, gt_run(goid_main, NULL, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, gort_goid());
	ASSERT_EQ(1, ids.main_id);
	for (i = 0; i < NR_IDS; i++) {
		ASSERT_GT(ids.returned[i], 1);
		ASSERT_EQ(ids.returned[i], ids.seen[i]);
	}
	qsort(ids.seen, NR_IDS, sizeof(ids.seen[0]), cmp64);
	for (i = 1; i < NR_IDS; i++)
		ASSERT_NE(ids.seen[i - 1], ids.seen[i]);
}

#define NR_PARKED	25

struct num {
	uint32_t gate, done;
	int alone, with_parked, after;
};

static void parked(void *arg)
{
	struct num *n = arg;

	gort_sema_acquire(&n->gate);
	gort_sema_release(&n->done);
}

static int num_main(void *arg)
{
	struct num *n = arg;
	int i;

	n->alone = gort_num_goroutine();
	for (i = 0; i < NR_PARKED; i++)
		GCHECK(gort_go(parked, n) > 0);
	gort_sleep(10 * GT_MS);
	n->with_parked = gort_num_goroutine();
	for (i = 0; i < NR_PARKED; i++)
		gort_sema_release(&n->gate);
	gt_sema_wait(&n->done, NR_PARKED, 5000);
	/* Released goroutines exit right after their last release. */
	GT_WAIT_UNTIL(gort_num_goroutine() == 1, 2000);
	n->after = gort_num_goroutine();
	return 0;
}

TEST(num_goroutine)
{
	struct num n = { 0 };

	ASSERT_EQ(0, gt_run(num_main, &n, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(1, n.alone);
	ASSERT_EQ(1 + NR_PARKED, n.with_parked);
	ASSERT_EQ(1, n.after);
}

TEST_HARNESS_MAIN
