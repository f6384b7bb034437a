/* SPDX-License-Identifier: MIT */
/*
 * Description: closing a channel, its misuse, and NULL channels.
 *
 * - drain: values buffered before close are received first, in order,
 *   then recv returns false with the element zeroed and tryrecv -1.
 *   Cap 0, 1 and 16.
 * - wakes_receivers: 16 goroutines blocked in recv, one close: every one
 *   returns false with a zeroed element.  Cap 0 and 4, on 1 and 2 Ps.
 * - misuse: in a forked child, each of these ends the program with Go's
 *   words, a goroutine traceback and exit code 2:
 *     send on a closed channel, trysend on a closed channel, a sender
 *     blocked when the channel is closed ("panic: send on closed
 *     channel"), close of a closed channel, close of a NULL channel.
 * - nil_deadlock: a goroutine receiving from a NULL channel while main
 *   sends to one is "all goroutines are asleep - deadlock!", exit 2, and
 *   the dump shows "chan receive (nil chan)" / "chan send (nil chan)".
 * - nil_sigquit: SIGQUIT's dump shows the wait reason of goroutines
 *   blocked on a NULL channel, on real channels and in select.
 */
#include "../gort_test.h"

#define DEADLOCK_MSG	"fatal error: all goroutines are asleep - deadlock!"

/* ---- drain ---- */

FIXTURE(drain) {
};

FIXTURE_VARIANT(drain) {
	size_t cap;
};

FIXTURE_VARIANT_ADD(drain, cap0) { .cap = 0, };
FIXTURE_VARIANT_ADD(drain, cap1) { .cap = 1, };
FIXTURE_VARIANT_ADD(drain, cap16) { .cap = 16, };

FIXTURE_SETUP(drain)
{
}

FIXTURE_TEARDOWN(drain)
{
}

struct drain_ctx {
	size_t cap;
	size_t drained;
};

struct big {
	uint64_t w[5];
};

static int drain_main(void *arg)
{
	struct drain_ctx *x = arg;
	struct gort_chan *c = gort_chan_make(sizeof(struct big), x->cap, 0);
	struct big v;
	size_t i;
	int k;

	if (!GCHECK(c))
		return 1;
	for (i = 0; i < x->cap; i++) {
		for (k = 0; k < 5; k++)
			v.w[k] = i * 10 + k + 1;
		GCHECK(gort_chan_trysend(c, &v));
	}
	gort_chan_close(c);
	GCHECK_EQ(x->cap, gort_chan_len(c));
	for (i = 0; i < x->cap; i++) {
		memset(&v, 0, sizeof(v));
		if (!GCHECK(gort_chan_recv(c, &v)))
			break;
		for (k = 0; k < 5; k++)
			GCHECK_EQ(i * 10 + k + 1, v.w[k]);
		x->drained++;
	}
	GCHECK_EQ(0, gort_chan_len(c));
	/* Drained: ok = false and a zero value, every time. */
	for (k = 0; k < 3; k++) {
		memset(&v, 0xff, sizeof(v));
		GCHECK(!gort_chan_recv(c, &v));
		GCHECK_EQ(0, v.w[0] | v.w[1] | v.w[2] | v.w[3] | v.w[4]);
		memset(&v, 0xff, sizeof(v));
		GCHECK_EQ(-1, gort_chan_tryrecv(c, &v));
		GCHECK_EQ(0, v.w[0] | v.w[1] | v.w[2] | v.w[3] | v.w[4]);
	}
	GCHECK(!gort_chan_recv(c, NULL));
	GCHECK_EQ(x->cap, gort_chan_cap(c));
	gort_chan_free(c);
	return 0;
}

TEST_F(drain, buffered_first)
{
	struct drain_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(drain_main, &x, 1));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(variant->cap, x.drained);
}

/* ---- wakes_receivers ---- */

#define NR_RECEIVERS	16

FIXTURE(wake) {
};

FIXTURE_VARIANT(wake) {
	size_t cap;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(wake, cap0_procs1) { .cap = 0, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(wake, cap0_procs2) { .cap = 0, .maxprocs = 2, };
FIXTURE_VARIANT_ADD(wake, cap4_procs1) { .cap = 4, .maxprocs = 1, };
FIXTURE_VARIANT_ADD(wake, cap4_procs2) { .cap = 4, .maxprocs = 2, };

FIXTURE_SETUP(wake)
{
}

FIXTURE_TEARDOWN(wake)
{
}

struct wake_ctx {
	size_t cap;
	struct gort_chan *c;
	_Atomic int arrived, closed, falses, early;
	uint32_t done;
};

static void blocked_receiver(void *arg)
{
	struct wake_ctx *x = arg;
	uint64_t v = ~0ull;
	bool ok;

	atomic_fetch_add(&x->arrived, 1);
	ok = gort_chan_recv(x->c, &v);
	if (!atomic_load(&x->closed))
		atomic_fetch_add(&x->early, 1);
	if (!ok && GCHECK_EQ(0, v))
		atomic_fetch_add(&x->falses, 1);
	gort_sema_release(&x->done);
}

static int wake_main(void *arg)
{
	struct wake_ctx *x = arg;
	int i;

	x->c = gort_chan_make(sizeof(uint64_t), x->cap, 0);
	if (!GCHECK(x->c))
		return 1;
	for (i = 0; i < NR_RECEIVERS; i++)
		gort_go(blocked_receiver, x);
	if (!GCHECK(GT_WAIT_UNTIL(atomic_load(&x->arrived) == NR_RECEIVERS, 5000)))
		return 1;
	gort_sleep(10 * GT_MS);		/* let them all park */
	atomic_store(&x->closed, 1);
	gort_chan_close(x->c);
	if (!gt_sema_wait(&x->done, NR_RECEIVERS, 5000))
		return 1;
	gort_chan_free(x->c);
	return 0;
}

TEST_F(wake, all_receivers)
{
	struct wake_ctx x = { .cap = variant->cap };

	ASSERT_EQ(0, gt_run(wake_main, &x, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, atomic_load(&x.early));
	ASSERT_EQ(NR_RECEIVERS, atomic_load(&x.falses));
}

/* ---- misuse ---- */

enum misuse {
	SEND_CLOSED,
	TRYSEND_CLOSED,
	BLOCKED_SENDER,
	CLOSE_CLOSED,
	CLOSE_NIL,
};

FIXTURE(misuse) {
	struct gt_child child;
};

FIXTURE_VARIANT(misuse) {
	enum misuse kind;
	size_t cap;
	int maxprocs;
	const char *msg;
};

#define SEND_MSG	"panic: send on closed channel"
#define CLOSE_MSG	"panic: close of closed channel"
#define NIL_MSG		"panic: close of nil channel"

#define MISUSE(name, k, c, procs, m)					\
	FIXTURE_VARIANT_ADD(misuse, name) {				\
		.kind = k, .cap = c, .maxprocs = procs, .msg = m,	\
	}

MISUSE(send_closed_cap0, SEND_CLOSED, 0, 1, SEND_MSG);
MISUSE(send_closed_cap4, SEND_CLOSED, 4, 1, SEND_MSG);
MISUSE(trysend_closed, TRYSEND_CLOSED, 4, 1, SEND_MSG);
MISUSE(blocked_sender_cap0_procs1, BLOCKED_SENDER, 0, 1, SEND_MSG);
MISUSE(blocked_sender_cap0_procs2, BLOCKED_SENDER, 0, 2, SEND_MSG);
MISUSE(blocked_sender_cap2_procs1, BLOCKED_SENDER, 2, 1, SEND_MSG);
MISUSE(blocked_sender_cap2_procs2, BLOCKED_SENDER, 2, 2, SEND_MSG);
MISUSE(close_closed, CLOSE_CLOSED, 0, 1, CLOSE_MSG);
MISUSE(close_closed_procs2, CLOSE_CLOSED, 1, 2, CLOSE_MSG);
MISUSE(close_nil, CLOSE_NIL, 0, 1, NIL_MSG);

FIXTURE_SETUP(misuse)
{
}

FIXTURE_TEARDOWN(misuse)
{
	gt_child_free(&self->child);
}

static const FIXTURE_VARIANT(misuse) *mcur;
static _Atomic int sender_arrived;

static void doomed_sender(void *arg)
{
	uint64_t v = 1;
	size_t i;

	for (i = 0; i < mcur->cap; i++)
		gort_chan_send(arg, &v);
	atomic_store(&sender_arrived, 1);
	gort_chan_send(arg, &v);
	/* Must not get here: the send panics. */
	fprintf(stderr, "blocked send returned after close\n");
	_exit(5);
}

static int misuse_main(void *arg)
{
	struct gort_chan *c = gort_chan_make(sizeof(uint64_t), mcur->cap, 0);
	uint64_t v = 1;

	(void)arg;
	if (!c)
		return 3;
	switch (mcur->kind) {
	case SEND_CLOSED:
		gort_chan_close(c);
		gort_chan_send(c, &v);
		break;
	case TRYSEND_CLOSED:
		gort_chan_close(c);
		gort_chan_trysend(c, &v);
		break;
	case BLOCKED_SENDER:
		gort_go(doomed_sender, c);
		if (!GT_WAIT_UNTIL(atomic_load(&sender_arrived), 5000))
			return 3;
		gort_sleep(10 * GT_MS);		/* let it park in send */
		gort_chan_close(c);
		/* The sender's panic ends the program meanwhile. */
		gort_sleep(5000 * GT_MS);
		break;
	case CLOSE_CLOSED:
		gort_chan_close(c);
		gort_chan_close(c);
		break;
	case CLOSE_NIL:
		gort_chan_close(NULL);
		break;
	}
	fprintf(stderr, "misuse was not fatal\n");
	return 4;
}

static int misuse_child(void *arg)
{
	(void)arg;
	return gt_run(misuse_main, NULL, mcur->maxprocs);
}

TEST_F(misuse, fatal)
{
	struct gt_child *c = &self->child;
	const char *p;

	mcur = variant;
	ASSERT_EQ(0, gt_fork_capture(c, misuse_child, NULL, 10000));
	p = strstr(c->out, variant->msg);
	if (gt_exit_code(c) != 2 || !p || !strstr(c->out, "goroutine "))
		gt_child_dump(c, "child");
	ASSERT_FALSE(c->timed_out);
	ASSERT_EQ(2, gt_exit_code(c));
	ASSERT_NE(NULL, p);
	/* At the start of a line, and a traceback after it. */
	ASSERT_TRUE(p == c->out || p[-1] == '\n');
	ASSERT_NE(NULL, strstr(p, "goroutine "));
	ASSERT_GE(gt_count_headers(p), 1);
	/* The first goroutine shown is the one that panicked. */
	p = strstr(p, "\ngoroutine ");
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, strncmp(strchr(p, '['), "[running]", 9));
	if (variant->kind == BLOCKED_SENDER)
		ASSERT_NE(0, strncmp(p, "\ngoroutine 1 ", 13));
	ASSERT_EQ(NULL, strstr(c->out, "was not fatal"));
	ASSERT_EQ(NULL, strstr(c->out, "returned after close"));
}

/* ---- nil_deadlock ---- */

#define READY	"gort-test ready:"

static void nil_receiver(void *arg)
{
	uint64_t v;

	(void)arg;
	gort_chan_recv(NULL, &v);
	fprintf(stderr, "receive from a NULL channel returned\n");
	_exit(5);
}

static int nil_deadlock_main(void *arg)
{
	uint64_t v = 1;
	int64_t id;

	(void)arg;
	id = gort_go(nil_receiver, NULL);
	fprintf(stderr, READY " main=%lld recv=%lld ;\n",
		(long long)gort_goid(), (long long)id);
	gort_yield();
	gort_chan_send(NULL, &v);
	fprintf(stderr, "send to a NULL channel returned\n");
	return 4;
}

static int nil_deadlock_child(void *arg)
{
	return gt_run(nil_deadlock_main, NULL, (int)(intptr_t)arg);
}

static void nil_deadlock(struct __test_metadata *_metadata, int maxprocs)
{
	struct gt_child c;
	char line[256];
	long long main_id = 0, recv_id = 0;
	const char *p;

	ASSERT_EQ(0, gt_fork_capture(&c, nil_deadlock_child,
				     (void *)(intptr_t)maxprocs, 10000));
	if (gt_exit_code(&c) != 2 || !strstr(c.out, DEADLOCK_MSG))
		gt_child_dump(&c, "child");
	ASSERT_FALSE(c.timed_out);
	ASSERT_EQ(2, gt_exit_code(&c));
	ASSERT_NE(NULL, strstr(c.out, DEADLOCK_MSG));
	ASSERT_NE(NULL, (p = strstr(c.out, READY)));
	ASSERT_EQ(2, sscanf(p + strlen(READY), " main=%lld recv=%lld",
			    &main_id, &recv_id));
	ASSERT_TRUE(gt_goroutine_header(c.out, recv_id, line, sizeof(line)));
	TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "chan receive (nil chan)"));
	ASSERT_TRUE(gt_goroutine_header(c.out, main_id, line, sizeof(line)));
	TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, "chan send (nil chan)"));
	gt_child_free(&c);
}

TEST(nil_deadlock_procs1)
{
	nil_deadlock(_metadata, 1);
}

TEST(nil_deadlock_procs2)
{
	nil_deadlock(_metadata, 2);
}

/* ---- nil_sigquit ---- */

enum blockon {
	NIL_RECV, NIL_SEND, CHAN_RECV, CHAN_SEND, SELECT, SELECT_NONE,
	NR_BLOCKON
};

static const char *const blockreason[NR_BLOCKON] = {
	[NIL_RECV] = "chan receive (nil chan)",
	[NIL_SEND] = "chan send (nil chan)",
	[CHAN_RECV] = "chan receive",
	[CHAN_SEND] = "chan send",
	[SELECT] = "select",
	[SELECT_NONE] = "select (no cases)",
};

static struct gort_chan *sq_chan;
static _Atomic int sq_arrived;

static void sq_blocker(void *arg)
{
	struct gort_select_case cs[2];
	uint64_t v = 0;

	atomic_fetch_add(&sq_arrived, 1);
	switch ((enum blockon)(uintptr_t)arg) {
	case NIL_RECV:
		gort_chan_recv(NULL, &v);
		break;
	case NIL_SEND:
		gort_chan_send(NULL, &v);
		break;
	case CHAN_RECV:
		gort_chan_recv(sq_chan, &v);
		break;
	case CHAN_SEND:
		gort_chan_send(sq_chan, &v);
		break;
	case SELECT:
		cs[0] = (struct gort_select_case){ .c = sq_chan, .dir = GORT_SELECT_RECV, .elem = &v };
		cs[1] = (struct gort_select_case){ .c = NULL, .dir = GORT_SELECT_SEND, .elem = &v };
		gort_select(cs, 2, true);
		break;
	case SELECT_NONE:
		gort_select(NULL, 0, true);
		break;
	default:
		break;
	}
	fprintf(stderr, "blocker %d returned\n", (int)(uintptr_t)arg);
	_exit(5);
}

static int sq_main(void *arg)
{
	char line[512];
	int len, k;

	(void)arg;
	len = snprintf(line, sizeof(line), READY);
	for (k = 0; k < NR_BLOCKON; k++) {
		int64_t id;

		/* A channel of its own, so the blockers do not meet. */
		sq_chan = gort_chan_make(sizeof(uint64_t), 0, 0);
		if (!sq_chan)
			return 3;
		id = gort_go(sq_blocker, (void *)(uintptr_t)k);
		len += snprintf(line + len, sizeof(line) - len, " %d=%lld", k, (long long)id);
		if (!GT_WAIT_UNTIL(atomic_load(&sq_arrived) == k + 1, 5000))
			return 3;
		gort_sleep(GT_MS);
	}
	gort_sleep(10 * GT_MS);
	len += snprintf(line + len, sizeof(line) - len, " ;\n");
	if (write(STDERR_FILENO, line, len) != len)
		return 3;
	gort_sleep(60000 * GT_MS);
	return 0;
}

static int sq_child(void *arg)
{
	return gt_run(sq_main, NULL, (int)(intptr_t)arg);
}

static void nil_sigquit(struct __test_metadata *_metadata, int maxprocs)
{
	struct gt_child c;
	char line[256];
	const char *p;
	long long id;
	int k, n = 0, bad = 0;
	bool ready;

	ASSERT_EQ(0, gt_child_start(&c, sq_child, (void *)(intptr_t)maxprocs));
	ready = gt_child_wait_for(&c, " ;\n", 5000) && strstr(c.out, READY);
	if (!ready)
		kill(c.pid, SIGKILL);
	else
		kill(c.pid, SIGQUIT);
	gt_child_finish(&c, 5000);
	if (!ready || gt_exit_code(&c) != 2)
		gt_child_dump(&c, "child");
	ASSERT_TRUE(ready);
	ASSERT_EQ(2, gt_exit_code(&c));
	p = strstr(c.out, READY) + strlen(READY);
	while ((p = strchr(p, ' ')) && sscanf(p, " %d=%lld", &k, &id) == 2) {
		p++;
		ASSERT_GE(k, 0);
		ASSERT_LT(k, NR_BLOCKON);
		if (!gt_goroutine_header(c.out, id, line, sizeof(line))) {
			TH_LOG("no header for goroutine %lld", id);
			bad++;
		} else if (!strstr(line, blockreason[k]) ||
			   /* "chan receive" must not be "(nil chan)" or vice versa */
			   ((k == CHAN_RECV || k == CHAN_SEND || k == SELECT) &&
			    strstr(line, "nil chan")) ||
			   (k == SELECT && strstr(line, "no cases"))) {
			TH_LOG("goroutine %lld: want \"%s\", got \"%s\"", id,
			       blockreason[k], line);
			bad++;
		}
		n++;
	}
	ASSERT_EQ(NR_BLOCKON, n);
	if (bad)
		gt_child_dump(&c, "child");
	ASSERT_EQ(0, bad);
	gt_child_free(&c);
}

TEST(nil_sigquit_procs1)
{
	nil_sigquit(_metadata, 1);
}

TEST(nil_sigquit_procs2)
{
	nil_sigquit(_metadata, 2);
}

TEST_HARNESS_MAIN
