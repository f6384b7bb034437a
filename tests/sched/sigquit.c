/* SPDX-License-Identifier: MIT */
/*
 * Description: SIGQUIT dumps every goroutine and exits with code 2.
 *
 * A child starts goroutines parked in different ways: sleeping, on a
 * semaphore, on a mutex (held by a sleeping goroutine), on a Cond and on a
 * WaitGroup.  It prints their ids, the parent sends SIGQUIT, and the dump
 * on stderr must contain a "goroutine <id> [<wait reason>...]:" header for
 * each of them (and for the main goroutine), with Go's wait reasons
 * "sleep", "semacquire" and "sync.Mutex.Lock" for the first three kinds.
 * Runs on 1 and 2 Ps.
 */
#include "../gort_test.h"

#define NR_EACH		3
#define READY		"gort-test ready:"

enum park { SLEEP, SEMA, MUTEX, COND, WAITGROUP, NR_PARK };

static const char *const reason[NR_PARK] = {
	[SLEEP] = "sleep",
	[SEMA] = "semacquire",
	[MUTEX] = "sync.Mutex.Lock",
	[COND] = NULL,		/* any reason: Go says "sync.Cond.Wait" */
	[WAITGROUP] = NULL,	/* Go says "sync.WaitGroup.Wait" */
};

FIXTURE(sigquit) {
	struct gt_child child;
};

FIXTURE_VARIANT(sigquit) {
	int maxprocs;
};

FIXTURE_VARIANT_ADD(sigquit, procs1) { .maxprocs = 1, };
FIXTURE_VARIANT_ADD(sigquit, procs2) { .maxprocs = 2, };

FIXTURE_SETUP(sigquit)
{
}

FIXTURE_TEARDOWN(sigquit)
{
	gt_child_free(&self->child);
}

static const FIXTURE_VARIANT(sigquit) *cur;
static uint32_t sema;
static struct gort_mutex mu, cmu;
static struct gort_cond cond = GORT_COND_INIT(&cmu);
static struct gort_waitgroup wg;
static atomic_int arrived;	/* parkers about to park */

static void parker(void *arg)
{
	atomic_fetch_add(&arrived, 1);
	switch ((enum park)(uintptr_t)arg) {
	case SLEEP:
		gort_sleep(60000 * GT_MS);
		break;
	case SEMA:
		gort_sema_acquire(&sema);
		break;
	case MUTEX:
		gort_mutex_lock(&mu);
		break;
	case COND:
		gort_mutex_lock(&cmu);
		gort_cond_wait(&cond);
		break;
	case WAITGROUP:
		gort_waitgroup_wait(&wg);
		break;
	default:
		break;
	}
}

static void holder(void *arg)
{
	(void)arg;
	gort_mutex_lock(&mu);
	atomic_fetch_add(&arrived, 1);
	gort_sleep(60000 * GT_MS);
}

static int sigquit_main(void *arg)
{
	char line[1024];
	int len, k, i;
	int64_t id;

	(void)arg;
	gort_waitgroup_add(&wg, 1);
	len = snprintf(line, sizeof(line), READY " main=%lld",
		       (long long)gort_goid());
	id = gort_go(holder, NULL);
	len += snprintf(line + len, sizeof(line) - len, " holder=%lld",
			(long long)id);
	/* The holder takes the mutex first. */
	if (!GT_WAIT_UNTIL(atomic_load(&arrived) == 1, 5000))
		return 3;
	for (k = 0; k < NR_PARK; k++) {
		for (i = 0; i < NR_EACH; i++) {
			id = gort_go(parker, (void *)(uintptr_t)k);
			len += snprintf(line + len, sizeof(line) - len, " %d=%lld",
					k, (long long)id);
		}
	}
	/* Let them all park, then tell the parent. */
	if (!GT_WAIT_UNTIL(atomic_load(&arrived) == 1 + NR_PARK * NR_EACH, 5000))
		return 3;
	gort_sleep(20 * GT_MS);
	len += snprintf(line + len, sizeof(line) - len, " ;\n");
	if (write(STDERR_FILENO, line, len) != len)
		return 3;
	gort_sleep(60000 * GT_MS);
	return 0;
}

static int child_fn(void *arg)
{
	(void)arg;
	return gt_run(sigquit_main, NULL, cur->maxprocs);
}

/* Check the header of goroutine @id; false with a log line if absent. */
static bool check_header(struct __test_metadata *_metadata, const char *out,
			 long long id, const char *why)
{
	char line[256];

	if (!gt_goroutine_header(out, id, line, sizeof(line))) {
		TH_LOG("no \"goroutine %lld [\" header in the dump", id);
		return false;
	}
	if (why && !strstr(line, why)) {
		TH_LOG("goroutine %lld: want reason \"%s\", got \"%s\"",
		       id, why, line);
		return false;
	}
	return true;
}

TEST_F(sigquit, dump_all)
{
	struct gt_child *c = &self->child;
	long long main_id, holder_id, id;
	const char *p;
	int k, n = 0, bad = 0;
	bool ready;

	cur = variant;
	ASSERT_EQ(0, gt_child_start(c, child_fn, NULL));
	ready = gt_child_wait_for(c, " ;\n", 5000) && strstr(c->out, READY);
	if (!ready)
		kill(c->pid, SIGKILL);
	ASSERT_EQ(0, ready ? kill(c->pid, SIGQUIT) : 0);
	gt_child_finish(c, 5000);
	if (!ready || gt_exit_code(c) != 2)
		gt_child_dump(c, "child");
	ASSERT_TRUE(ready);
	ASSERT_FALSE(c->timed_out);
	ASSERT_EQ(2, gt_exit_code(c));

	p = strstr(c->out, READY) + strlen(READY);
	ASSERT_EQ(2, sscanf(p, " main=%lld holder=%lld", &main_id, &holder_id));
	/* main may still be on its way from write() to its sleep */
	bad += !check_header(_metadata, c->out, main_id, NULL);
	bad += !check_header(_metadata, c->out, holder_id, "sleep");
	p = strstr(p, "holder=");
	while ((p = strchr(p + 1, ' ')) && sscanf(p, " %d=%lld", &k, &id) == 2) {
		ASSERT_GE(k, 0);
		ASSERT_LT(k, NR_PARK);
		ASSERT_GT(id, 0);
		bad += !check_header(_metadata, c->out, id, reason[k]);
		n++;
	}
	ASSERT_EQ(NR_PARK * NR_EACH, n);
	ASSERT_GE(gt_count_headers(c->out), 2 + NR_PARK * NR_EACH);
	ASSERT_NE(NULL, strstr(c->out, "sleep"));
	ASSERT_NE(NULL, strstr(c->out, "semacquire"));
	if (bad)
		gt_child_dump(c, "child");
	ASSERT_EQ(0, bad);
}

TEST_HARNESS_MAIN
