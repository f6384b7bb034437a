/* SPDX-License-Identifier: MIT */
/*
 * Description: misuse of a map is fatal, in Go's words, each case in a
 * child process (exit status 2, a goroutine traceback).
 *
 *   race.writes_*	two goroutines on 2 Ps write one map (sets and
 *			deletes through the u64 fast path, the generic calls,
 *			the str fast path, and a clear against sets) until the
 *			runtime notices: "fatal error: concurrent map writes"
 *			(or, when both writers got past the check before
 *			either saw the other, "fatal error: runtime: bad map
 *			state" from the damaged bucket, as in Go).
 *   race.iter_write	one goroutine iterates the map over and over while
 *			another writes it: "fatal error: concurrent map
 *			iteration and map write" or "... concurrent map
 *			writes" (Go's check is best-effort; either is fine,
 *			one is required).
 *   race.read_write	one goroutine reads while another writes:
 *			"fatal error: concurrent map read and map write".
 *   kind.*		a fast path called on a map of another kind
 *			(gort_map_get_u64 on a STR map, ...) is a fatal
 *			error.
 *
 * The races run until the child dies, at most 20 s.
 */
#include "../gort_test.h"

#include <gort/map.h>

static const struct gort_maptype u64type = GORT_MAPTYPE_U64(uint64_t, 0);
static const struct gort_maptype strtype = GORT_MAPTYPE_STR(uint64_t, 0);
static const struct gort_maptype u32type = GORT_MAPTYPE_U32(uint32_t, 0);
struct k24 {
	uint64_t a, b, c;
};

static const struct gort_maptype memtype = GORT_MAPTYPE_MEM(struct k24, uint64_t, 0);

/* ---- races ---- */

enum race { W_U64, W_GENERIC, W_STR, W_CLEAR, ITER_WRITE, READ_WRITE };

static struct {
	enum race how;
	struct gort_map *m;
	char strs[4096][12];
	_Atomic int started;
} S;

static volatile uint64_t sink;	/* what the readers read goes here */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Sets and deletes over 4096 keys, forever. */
static void writer(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1, n;

	atomic_fetch_add(&S.started, 1);
	for (n = 0;; n++) {
		uint64_t k = rnd(&s) % 4096;

		switch (S.how) {
		case W_STR: {
			struct gort_str key = GORT_STRN(S.strs[k], strlen(S.strs[k]));

			if (n & 1)
				*(uint64_t *)gort_map_set_str(S.m, key) = n;
			else
				gort_map_delete_str(S.m, key);
			break;
		}
		case W_GENERIC:
			if (n & 1)
				gort_map_store(S.m, &k, &n);
			else
				gort_map_delete(S.m, &k);
			break;
		case W_CLEAR:
			if ((uintptr_t)arg == 1 && !(n & 255)) {
				gort_map_clear(S.m);
				break;
			}
			/* fall through */
		default:
			if (n & 1)
				*(uint64_t *)gort_map_set_u64(S.m, k) = n;
			else
				gort_map_delete_u64(S.m, k);
			break;
		}
		if (!(n & 1023))
			gort_maybe_yield();
	}
}

static void iterator(void *arg)
{
	struct gort_map_iter it;

	(void)arg;
	atomic_fetch_add(&S.started, 1);
	for (;;) {
		for (gort_map_iter_init(&it, S.m); gort_map_iter_next(&it);)
			sink += *(uint64_t *)it.val;
		gort_maybe_yield();
	}
}

static void reader(void *arg)
{
	uint64_t s = 12345, n;

	(void)arg;
	atomic_fetch_add(&S.started, 1);
	for (n = 0;; n++) {
		uint64_t *v = gort_map_get_u64(S.m, rnd(&s) % 4096);

		if (v)
			sink += *v;
		if (!(n & 1023))
			gort_maybe_yield();
	}
}

static int race_main(void *arg)
{
	uint64_t i;

	(void)arg;
	S.m = gort_map_make(S.how == W_STR ? &strtype : &u64type, 0);
	for (i = 0; i < 4096; i++) {
		snprintf(S.strs[i], sizeof(S.strs[i]), "k%llu", (unsigned long long)i);
		if (S.how == W_STR)
			*(uint64_t *)gort_map_set_str(S.m, GORT_STRN(S.strs[i], strlen(S.strs[i]))) = i;
		else
			*(uint64_t *)gort_map_set_u64(S.m, i) = i;
	}
	switch (S.how) {
	case ITER_WRITE:
		gort_go(iterator, NULL);
		gort_go(writer, (void *)1);
		break;
	case READ_WRITE:
		gort_go(reader, NULL);
		gort_go(writer, (void *)1);
		break;
	default:
		gort_go(writer, (void *)1);
		gort_go(writer, (void *)2);
		break;
	}
	/* Until the runtime kills the process; the parent kills it at 20 s. */
	for (;;)
		gort_sleep(1000 * GT_MS);
	return 0;
}

static int race_child(void *arg)
{
	(void)arg;
	return gt_run(race_main, NULL, 2);
}

FIXTURE(race) {
	struct gt_child child;
};

FIXTURE_VARIANT(race) {
	enum race how;
	const char *msg, *alt;	/* alt: also accepted, or NULL */
};

FIXTURE_SETUP(race) { memset(&self->child, 0, sizeof(self->child)); }
FIXTURE_TEARDOWN(race) { gt_child_free(&self->child); }

/*
 * Two writers can both pass the writing check (it is not atomic, in Go
 * either) and damage a bucket before either checks again; evacuation then
 * dies with Go's other message.  A death with a traceback either way.
 */
#define BADSTATE "fatal error: runtime: bad map state\n"

FIXTURE_VARIANT_ADD(race, writes_u64) {
	.how = W_U64, .msg = "fatal error: concurrent map writes\n",
	.alt = BADSTATE,
};
FIXTURE_VARIANT_ADD(race, writes_generic) {
	.how = W_GENERIC, .msg = "fatal error: concurrent map writes\n",
	.alt = BADSTATE,
};
FIXTURE_VARIANT_ADD(race, writes_str) {
	.how = W_STR, .msg = "fatal error: concurrent map writes\n",
	.alt = BADSTATE,
};
FIXTURE_VARIANT_ADD(race, writes_clear) {
	.how = W_CLEAR, .msg = "fatal error: concurrent map writes\n",
	.alt = BADSTATE,
};
FIXTURE_VARIANT_ADD(race, iter_write) {
	.how = ITER_WRITE, .msg = "fatal error: concurrent map iteration and map write\n",
	.alt = "fatal error: concurrent map writes\n",
};
FIXTURE_VARIANT_ADD(race, read_write) {
	.how = READ_WRITE, .msg = "fatal error: concurrent map read and map write\n",
};

TEST_F_TIMEOUT(race, dies, 60)
{
	struct gt_child *c = &self->child;
	const char *p;
	int64_t t0 = gt_now_ns();

	S.how = variant->how;
	ASSERT_EQ(0, gt_fork_capture(c, race_child, NULL, 20000));
	p = strstr(c->out, variant->msg);
	if (!p && variant->alt)
		p = strstr(c->out, variant->alt);
	if (gt_exit_code(c) != 2 || !p || !strstr(p, "goroutine "))
		gt_child_dump(c, "child");
	else
		TH_LOG("died after %.0f ms: %.*s", (gt_now_ns() - t0) / 1e6,
		       (int)(strchr(p, '\n') - p), p);
	ASSERT_FALSE(c->timed_out);
	ASSERT_EQ(2, gt_exit_code(c));
	ASSERT_NE(NULL, p);
	/* A traceback follows the message. */
	ASSERT_NE(NULL, strstr(p, "goroutine "));
}

/* ---- a fast path on a map of another kind ---- */

enum kind { GET_U64_ON_STR, SET_U64_ON_STR, DEL_U64_ON_STR, GET_STR_ON_U64, SET_STR_ON_U64,
	    GET_U32_ON_U64, GET_U64_ON_U32, GET_U64_ON_MEM, GET_STR_ON_MEM };

static enum kind kcur;

static int kind_main(void *arg)
{
	struct gort_map *str = gort_map_make(&strtype, 0);
	struct gort_map *u64 = gort_map_make(&u64type, 0);
	struct gort_map *u32 = gort_map_make(&u32type, 0);
	struct gort_map *mem = gort_map_make(&memtype, 0);
	void *p = NULL;

	(void)arg;
	/* Non-empty maps: the check may not hide behind an empty map's
	 * early return. */
	*(uint64_t *)gort_map_set_str(str, GORT_STR("12345678")) = 1;
	*(uint64_t *)gort_map_set_u64(u64, 1) = 1;
	*(uint32_t *)gort_map_set_u32(u32, 1) = 1;
	gort_map_store(mem, &(struct k24){ 1, 2, 3 }, &(uint64_t){ 1 });
	switch (kcur) {
	case GET_U64_ON_STR:
		p = gort_map_get_u64(str, 0x3837363534333231ULL);
		break;
	case SET_U64_ON_STR:
		p = gort_map_set_u64(str, 1);
		break;
	case DEL_U64_ON_STR:
		p = (void *)(uintptr_t)gort_map_delete_u64(str, 1);
		break;
	case GET_STR_ON_U64:
		p = gort_map_get_str(u64, GORT_STR("1"));
		break;
	case SET_STR_ON_U64:
		p = gort_map_set_str(u64, GORT_STR("1"));
		break;
	case GET_U32_ON_U64:
		p = gort_map_get_u32(u64, 1);
		break;
	case GET_U64_ON_U32:
		p = gort_map_get_u64(u32, 1);
		break;
	case GET_U64_ON_MEM:
		p = gort_map_get_u64(mem, 1);
		break;
	case GET_STR_ON_MEM:
		p = gort_map_get_str(mem, GORT_STR("1"));
		break;
	}
	fprintf(stderr, "wrong fast path was not fatal (%p)\n", p);
	return 4;
}

static int kind_child(void *arg)
{
	(void)arg;
	return gt_run(kind_main, NULL, 1);
}

FIXTURE(kind) {
	struct gt_child child;
};

FIXTURE_VARIANT(kind) {
	enum kind how;
};

FIXTURE_SETUP(kind) { memset(&self->child, 0, sizeof(self->child)); }
FIXTURE_TEARDOWN(kind) { gt_child_free(&self->child); }

FIXTURE_VARIANT_ADD(kind, get_u64_on_str) { .how = GET_U64_ON_STR };
FIXTURE_VARIANT_ADD(kind, set_u64_on_str) { .how = SET_U64_ON_STR };
FIXTURE_VARIANT_ADD(kind, delete_u64_on_str) { .how = DEL_U64_ON_STR };
FIXTURE_VARIANT_ADD(kind, get_str_on_u64) { .how = GET_STR_ON_U64 };
FIXTURE_VARIANT_ADD(kind, set_str_on_u64) { .how = SET_STR_ON_U64 };
FIXTURE_VARIANT_ADD(kind, get_u32_on_u64) { .how = GET_U32_ON_U64 };
FIXTURE_VARIANT_ADD(kind, get_u64_on_u32) { .how = GET_U64_ON_U32 };
FIXTURE_VARIANT_ADD(kind, get_u64_on_mem) { .how = GET_U64_ON_MEM };
FIXTURE_VARIANT_ADD(kind, get_str_on_mem) { .how = GET_STR_ON_MEM };

TEST_F(kind, fatal)
{
	struct gt_child *c = &self->child;
	const char *p;

	kcur = variant->how;
	ASSERT_EQ(0, gt_fork_capture(c, kind_child, NULL, 10000));
	p = strstr(c->out, "fatal error: ");
	if (gt_exit_code(c) != 2 || !p)
		gt_child_dump(c, "child");
	else
		TH_LOG("%.*s", (int)(strchr(p, '\n') ? strchr(p, '\n') - p : (long)strlen(p)), p);
	ASSERT_EQ(2, gt_exit_code(c));
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, strstr(p, "goroutine 1 [running]"));
	ASSERT_EQ(NULL, strstr(c->out, "was not fatal"));
}

TEST_HARNESS_MAIN
