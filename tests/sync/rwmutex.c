/* SPDX-License-Identifier: MIT */
/*
 * Description: gort_rwmutex readers/writers exclusion, writer priority,
 * try-variants and the fatal misuse messages.
 *
 * - stress: writers store a pair (a, b) with a == b in two steps under the
 *   write lock (yielding in between); readers check a == b and that no
 *   writer is inside; writers check that no reader and no other writer is
 *   inside.  Readers yield while holding the read lock, so several must be
 *   seen inside at once.
 * - writer_blocks_readers: while a reader holds the lock and a writer
 *   waits for it, new readers (rlock and tryrlock) are held off; the
 *   writer gets in as soon as the first reader leaves.
 * - try: trylock/tryrlock on a free, read-held and write-held lock.
 * - misuse: "fatal error: sync: RUnlock of unlocked RWMutex" and
 *   "fatal error: sync: Unlock of unlocked RWMutex", exit code 2.
 * Each on 1 and 2 Ps.
 */
#include "../gort_test.h"

FIXTURE(rwmutex) {
	struct gt_child child;
};

FIXTURE_VARIANT(rwmutex) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(rwmutex, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(rwmutex, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(rwmutex)
{
}

FIXTURE_TEARDOWN(rwmutex)
{
	gt_child_free(&self->child);
}

#define NR_READERS	8
#define NR_WRITERS	3
#define NR_READS	5000
#define NR_WRITES	2000

struct stress {
	struct gort_rwmutex rw;
	volatile long a, b;
	atomic_int readers_in, writers_in, max_readers;
	atomic_long reads, writes;
	uint32_t done;
};

static void stress_reader(void *arg)
{
	struct stress *s = arg;
	int i, in, max;

	for (i = 0; i < NR_READS; i++) {
		gort_rwmutex_rlock(&s->rw);
		in = atomic_fetch_add(&s->readers_in, 1) + 1;
		max = atomic_load(&s->max_readers);
		while (in > max &&
		       !atomic_compare_exchange_weak(&s->max_readers, &max, in))
			;
		if (atomic_load(&s->writers_in))
			GFAIL("reader inside with a writer");
		if (s->a != s->b)
			GFAIL("torn pair: a=%ld b=%ld", s->a, s->b);
		if (i % 4 == 0)
			gort_yield();	/* overlap with other readers */
		if (s->a != s->b)
			GFAIL("pair changed under the read lock");
		atomic_fetch_sub(&s->readers_in, 1);
		atomic_fetch_add(&s->reads, 1);
		gort_rwmutex_runlock(&s->rw);
	}
	gort_sema_release(&s->done);
}

static void stress_writer(void *arg)
{
	struct stress *s = arg;
	int i;

	for (i = 0; i < NR_WRITES; i++) {
		gort_rwmutex_lock(&s->rw);
		if (atomic_fetch_add(&s->writers_in, 1) != 0)
			GFAIL("two writers inside");
		if (atomic_load(&s->readers_in))
			GFAIL("writer inside with %d readers",
			      atomic_load(&s->readers_in));
		s->a = s->a + 1;
		if (i % 8 == 0)
			gort_yield();	/* readers must not see the half-write */
		s->b = s->b + 1;
		atomic_fetch_sub(&s->writers_in, 1);
		atomic_fetch_add(&s->writes, 1);
		gort_rwmutex_unlock(&s->rw);
		if (i % 16 == 0)
			gort_yield();
	}
	gort_sema_release(&s->done);
}

static int stress_main(void *arg)
{
	struct stress *s = arg;
	int i;

	for (i = 0; i < NR_READERS; i++)
		GCHECK(gort_go(stress_reader, s) > 0);
	for (i = 0; i < NR_WRITERS; i++)
		GCHECK(gort_go(stress_writer, s) > 0);
	gt_sema_wait(&s->done, NR_READERS + NR_WRITERS, 20000);
	return 0;
}

TEST_F(rwmutex, stress)
{
	static struct stress s;

	ASSERT_EQ(0, gt_run(stress_main, &s, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(NR_READERS * NR_READS, atomic_load(&s.reads));
	ASSERT_EQ(NR_WRITERS * NR_WRITES, atomic_load(&s.writes));
	ASSERT_EQ(NR_WRITERS * NR_WRITES, s.a);
	ASSERT_EQ(s.a, s.b);
	TH_LOG("at most %d readers inside at once", atomic_load(&s.max_readers));
	ASSERT_GT(atomic_load(&s.max_readers), 1);
}

struct prio {
	struct gort_rwmutex rw;
	atomic_int writer_in, late_reader_in;
	atomic_int writer_waiting;
	int order[2], n;	/* who got in after the first reader left */
	uint32_t done;
};

static void prio_writer(void *arg)
{
	struct prio *p = arg;

	atomic_store(&p->writer_waiting, 1);
	gort_rwmutex_lock(&p->rw);
	atomic_store(&p->writer_in, 1);
	p->order[p->n++] = 'W';
	gort_sleep(2 * GT_MS);
	atomic_store(&p->writer_in, 0);
	gort_rwmutex_unlock(&p->rw);
	gort_sema_release(&p->done);
}

static void prio_late_reader(void *arg)
{
	struct prio *p = arg;

	gort_rwmutex_rlock(&p->rw);
	GCHECK(!atomic_load(&p->writer_in));
	atomic_store(&p->late_reader_in, 1);
	p->order[p->n++] = 'R';
	gort_rwmutex_runlock(&p->rw);
	gort_sema_release(&p->done);
}

static int prio_main(void *arg)
{
	struct prio *p = arg;

	gort_rwmutex_rlock(&p->rw);
	GCHECK(gort_go(prio_writer, p) > 0);
	GCHECK(GT_WAIT_UNTIL(atomic_load(&p->writer_waiting), 1000));
	gort_sleep(5 * GT_MS);	/* the writer is parked in lock now */
	GCHECK(!atomic_load(&p->writer_in));
	/* A pending writer holds off new readers. */
	GCHECK(!gort_rwmutex_tryrlock(&p->rw));
	GCHECK(gort_go(prio_late_reader, p) > 0);
	gort_sleep(5 * GT_MS);
	GCHECK(!atomic_load(&p->late_reader_in));
	gort_rwmutex_runlock(&p->rw);
	gt_sema_wait(&p->done, 2, 5000);
	return 0;
}

TEST_F(rwmutex, writer_blocks_readers)
{
	struct prio p = { 0 };

	ASSERT_EQ(0, gt_run(prio_main, &p, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(2, p.n);
	ASSERT_EQ('W', p.order[0]);
	ASSERT_EQ('R', p.order[1]);
}

struct tryctx {
	struct gort_rwmutex rw;
	uint32_t done;
};

static void try_from_other(void *arg)
{
	struct tryctx *t = arg;

	/* main holds a read lock */
	GCHECK(!gort_rwmutex_trylock(&t->rw));
	GCHECK(gort_rwmutex_tryrlock(&t->rw));
	gort_rwmutex_runlock(&t->rw);
	gort_sema_release(&t->done);
}

static int try_main(void *arg)
{
	struct tryctx *t = arg;

	/* free */
	GCHECK(gort_rwmutex_trylock(&t->rw));
	/* write-held */
	GCHECK(!gort_rwmutex_trylock(&t->rw));
	GCHECK(!gort_rwmutex_tryrlock(&t->rw));
	gort_rwmutex_unlock(&t->rw);
	/* read-held, twice */
	GCHECK(gort_rwmutex_tryrlock(&t->rw));
	GCHECK(gort_rwmutex_tryrlock(&t->rw));
	GCHECK(!gort_rwmutex_trylock(&t->rw));
	GCHECK(gort_go(try_from_other, t) > 0);
	gt_sema_wait(&t->done, 1, 5000);
	gort_rwmutex_runlock(&t->rw);
	GCHECK(!gort_rwmutex_trylock(&t->rw));
	gort_rwmutex_runlock(&t->rw);
	/* free again */
	GCHECK(gort_rwmutex_trylock(&t->rw));
	gort_rwmutex_unlock(&t->rw);
	gort_rwmutex_lock(&t->rw);
	gort_rwmutex_unlock(&t->rw);
	gort_rwmutex_rlock(&t->rw);
	gort_rwmutex_runlock(&t->rw);
	return 0;
}

TEST_F(rwmutex, try)
{
	struct tryctx t = { 0 };

	ASSERT_EQ(0, gt_run(try_main, &t, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

enum misuse { RUNLOCK_FREE, UNLOCK_FREE, RUNLOCK_WRITE_HELD, DOUBLE_UNLOCK };

static enum misuse cur_misuse;
static int cur_procs;

static int misuse_main(void *arg)
{
	struct gort_rwmutex rw = GORT_RWMUTEX_INIT;

	(void)arg;
	switch (cur_misuse) {
	case RUNLOCK_FREE:
		gort_rwmutex_runlock(&rw);
		break;
	case UNLOCK_FREE:
		gort_rwmutex_unlock(&rw);
		break;
	case RUNLOCK_WRITE_HELD:
		gort_rwmutex_lock(&rw);
		gort_rwmutex_runlock(&rw);
		break;
	case DOUBLE_UNLOCK:
		gort_rwmutex_lock(&rw);
		gort_rwmutex_unlock(&rw);
		gort_rwmutex_unlock(&rw);
		break;
	}
	fprintf(stderr, "misuse returned\n");
	return 0;
}

static int misuse_child(void *arg)
{
	(void)arg;
	return gt_run(misuse_main, NULL, cur_procs);
}

static void check_misuse(struct __test_metadata *_metadata,
			 struct gt_child *c, enum misuse m, int procs,
			 const char *msg)
{
	cur_misuse = m;
	cur_procs = procs;
	ASSERT_EQ(0, gt_fork_capture(c, misuse_child, NULL, 10000));
	if (gt_exit_code(c) != 2 || !strstr(c->out, msg))
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	ASSERT_NE(NULL, strstr(c->out, msg));
	ASSERT_EQ(2, gt_exit_code(c));
}

TEST_F(rwmutex, runlock_unlocked)
{
	check_misuse(_metadata, &self->child, RUNLOCK_FREE, variant->maxprocs,
		     "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST_F(rwmutex, runlock_write_held)
{
	check_misuse(_metadata, &self->child, RUNLOCK_WRITE_HELD,
		     variant->maxprocs,
		     "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST_F(rwmutex, unlock_unlocked)
{
	check_misuse(_metadata, &self->child, UNLOCK_FREE, variant->maxprocs,
		     "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST_F(rwmutex, double_unlock)
{
	check_misuse(_metadata, &self->child, DOUBLE_UNLOCK, variant->maxprocs,
		     "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST_HARNESS_MAIN
