/* SPDX-License-Identifier: MIT */
/*
 * Description: the collector's dirty-page modes that the host kernel
 * lacks run in the guest.  The host (6.18) has userfaultfd WP_ASYNC but
 * is built without CONFIG_MEM_SOFT_DIRTY, so the soft-dirty fallback can
 * only be tested here, in Debian's cloud kernel, which has both.
 *
 * Each TEST forces a mode with GORT_GCMODE, runs a cycle every few
 * hundred allocations (GORT_DEBUG=gcstress) while goroutines replace the
 * nodes of linked lists until CYCLES cycles have run, and checks that
 * the mode really ran and that every list still adds up: a live node freed
 * by mistake is poisoned (0xa5) by gcstress and breaks its list's sum.
 * Every eighth new node is linked in by read() from a pipe into an old
 * node, so the only write to that word is the kernel's.  gccheckmark=1
 * also re-walks the heap at each mark termination: a reachable object
 * the mark missed is a fatal error there, before the sweep can free it.
 *
 * Runs only inside the guest (tools/numa-guest); elsewhere it skips.
 */
#include "../gort_test.h"

#define LISTS		4
#define NODES		512
/* Under ASan, in the emulator, a cycle here takes half a second. */
#if defined(__SANITIZE_ADDRESS__)
#define CYCLES		8u		/* run until this many cycles */
#else
#define CYCLES		20u
#endif
#define DEADLINE_MS	30000

struct node {
	struct node *next;
	uint64_t val;
	uint64_t pad[2];
};

struct list {
	struct node *head;
	uint64_t sum;		/* what the nodes must add up to */
	int fd[2];
	struct gort_waitgroup *wg;
	uint64_t seed;
	int bad;
	long rounds;
};

static atomic_int stop;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct node *mknode(uint64_t v)
{
	struct node *n = gort_alloc(sizeof(*n), 0);

	if (n)
		n->val = v;
	return n;
}

static uint64_t listsum(const struct list *l, int *count)
{
	const struct node *n;
	uint64_t s = 0;

	*count = 0;
	for (n = l->head; n && *count <= NODES; n = n->next, (*count)++)
		s += n->val;
	return s;
}

static void mutate(void *arg)
{
	struct list *l = arg;
	int r, i, count;

	for (i = 0; i < NODES; i++) {
		struct node *n = mknode(rnd(&l->seed) & 0xffff);

		n->next = l->head;
		l->head = n;
		l->sum += n->val;
	}
	for (r = 0; !atomic_load(&stop); r++) {
		struct node **pp = &l->head, *old, *n;
		int k = (int)(rnd(&l->seed) % NODES);

		while (k--)
			pp = &(*pp)->next;
		old = *pp;
		n = mknode(rnd(&l->seed) & 0xffff);
		n->next = old->next;
		l->sum += n->val - old->val;
		if (r % 8 == 0) {
			/*
			 * Link n in with read(): the kernel is the only writer
			 * of *pp.  n stays on our stack until the read is done
			 * (a pointer inside the pipe is nobody's root); after
			 * that, only the kernel-written word holds it.
			 */
			struct node *volatile keep = n;

			GCHECK_EQ(write(l->fd[1], &n, sizeof(n)), (ssize_t)sizeof(n));
			*pp = NULL;
			GCHECK_EQ(read(l->fd[0], pp, sizeof(*pp)), (ssize_t)sizeof(*pp));
			keep = NULL;
			(void)keep;
		} else {
			*pp = n;
		}
		if (r % 256 == 0 && listsum(l, &count) != l->sum)
			l->bad++;
		gort_maybe_yield();
	}
	if (listsum(l, &count) != l->sum || count != NODES)
		l->bad++;
	l->rounds = r;
	gort_waitgroup_done(l->wg);
}

struct run {
	char mode[16];
	uint32_t cycles;
	int bad;
};

static int stress_main(void *arg)
{
	struct run *run = arg;
	struct gort_waitgroup wg = GORT_WAITGROUP_INIT;
	static struct list lists[LISTS];		/* a root: .data */
	struct gort_gcstats st = { .sz = sizeof(st) };
	int i;

	gort_waitgroup_add(&wg, LISTS);
	for (i = 0; i < LISTS; i++) {
		lists[i] = (struct list){ .wg = &wg, .seed = 0x9e3779b97f4a7c15ULL * (i + 1) };
		GCHECK_EQ(0, pipe(lists[i].fd));
		GCHECK(gort_go(mutate, &lists[i]) > 0);
	}
	for (i = 0; i < DEADLINE_MS / 10; i++) {
		GCHECK_EQ(0, gort_read_gcstats(&st));
		if (st.num_gc >= CYCLES)
			break;
		gort_sleep(10 * 1000 * 1000);
	}
	atomic_store(&stop, 1);
	gort_waitgroup_wait(&wg);
	for (i = 0; i < LISTS; i++)
		run->bad += lists[i].bad;
	GCHECK_EQ(0, gort_read_gcstats(&st));
	snprintf(run->mode, sizeof(run->mode), "%s", st.mode);
	run->cycles = st.num_gc;
	printf("# mode %s: %u cycles, %ld list updates, %llu dirty pages re-scanned, %llu rounds\n",
	       st.mode, st.num_gc, lists[0].rounds + lists[1].rounds + lists[2].rounds + lists[3].rounds,
	       (unsigned long long)st.dirty_pages, (unsigned long long)st.mark_rounds);
	return 0;
}

static void run_mode(struct __test_metadata *_metadata, const char *mode, const char *want)
{
	struct run run = { 0 };

	if (!getenv("GORT_NUMA_EXPECT_NODES"))
		SKIP(return, "not in a numa-guest (no GORT_NUMA_EXPECT_NODES)");
	ASSERT_EQ(0, setenv("GORT_GCMODE", mode, 1));
	ASSERT_EQ(0, setenv("GORT_DEBUG", "gcstress=300,gccheckmark=1,gcconcurrent=1", 1));
	ASSERT_EQ(0, gt_run(stress_main, &run, 2));
	ASSERT_EQ(0, gt_failed());
	ASSERT_STREQ(want, run.mode);
	ASSERT_LE(CYCLES, run.cycles);
	ASSERT_EQ(0, run.bad);
}

TEST(softdirty)
{
	run_mode(_metadata, "softdirty", "soft-dirty");
}

TEST(uffd)
{
	run_mode(_metadata, "uffd", "uffd-wp");
}

TEST(stw)
{
	run_mode(_metadata, "stw", "stw");
}

TEST_HARNESS_MAIN
