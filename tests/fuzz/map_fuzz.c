/* SPDX-License-Identifier: MIT */
/*
 * Description: a libFuzzer target for gort maps.  The input is a program
 * of operations on one map, checked against the model of map_model.h
 * (an array indexed by key id); any mismatch aborts, and libFuzzer keeps
 * the input.
 *
 * Input: byte 0 picks the key kind (u32, u64, str, mem24, set24, func,
 * big: the kinds tests/map/random.c runs), byte 1 the calls (bits 0-1:
 * fast paths, generic calls, or either by a bit of each operation) and
 * the size hint (bits 2-7, squared), then 4 bytes per operation:
 * op, id low, id high, arg.  Ids are taken modulo 8192.
 *
 *	get, set, store, delete	of one id (set checks the slot: zeroed for a
 *				new key, the old value for an old one)
 *	get_absent		a key never stored
 *	bulk_set, bulk_delete	arg * 4 + 1 consecutive ids, for growth
 *	iter			no writes: every key once with its value
 *	iter_writes		deletes, inserts (the map may double under
 *				the iterator), updates and stores through
 *				it.val by arg's bits, driven by a generator
 *				seeded from the id: no key twice, every key
 *				produced is present with its current value,
 *				every key present throughout is produced
 *	clear, shrink, check	check: every present key is found
 *
 * gort_map_len() is compared after every operation.
 *
 * Built two ways.  With -DGORT_LIBFUZZER (the fuzz rule: clang
 * -fsanitize=fuzzer,address) it is a libFuzzer target whose inputs run on
 * a goroutine, as gort needs (see LLVMFuzzerTestOneInput()).  Without
 * it, a kselftest program that runs random inputs for 1.5 s (it
 * stays a working test if the tests' glob picks it up).
 */
#ifndef GORT_LIBFUZZER
#include "../gort_test.h"
#endif

#include <stdarg.h>

#include "../map/map_model.h"

#define FZ_KEYS		8192
#define FZ_IDMASK	(FZ_KEYS - 1)

enum { IT_DEL = 1, IT_INS = 2, IT_UPD = 4, IT_VALW = 8 };

enum fz_op {
	OP_GET, OP_SET, OP_STORE, OP_DEL, OP_GET_ABSENT, OP_BULK_SET, OP_BULK_DEL,
	OP_ITER, OP_ITER_WRITES, OP_CLEAR, OP_SHRINK, OP_CHECK, OP_NUM
};

static struct {
	enum mm_kind kind;
	int path;		/* MM_FAST, MM_GENERIC, MM_MIXED */
	bool fast;		/* for this operation */
	struct gort_map *m;	/* a root: in .bss */
	struct mm_ref ref;
	uint32_t seen[FZ_KEYS], deleted[FZ_KEYS], start[FZ_KEYS], epoch;
	size_t opno;
	uint64_t rng;
} F;

static void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "map_fuzz: kind %s, path %d, op %zu, model len %zu, map len %zu: ",
		mm_names[F.kind], F.path, F.opno, F.ref.n, gort_map_len(F.m));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void fz_key(uint64_t id, struct mm_key *k, bool stable)
{
	mm_key_make(F.kind, id, k, stable, (uint32_t)mm_rand(&F.rng));
}

static void check_len(void)
{
	if (gort_map_len(F.m) != F.ref.n)
		fz_fail("gort_map_len() %zu, model %zu", gort_map_len(F.m), F.ref.n);
}

static void fz_get(uint64_t id)
{
	uint32_t ver = id < FZ_KEYS ? F.ref.ver[id] : 0;
	struct mm_key k;
	void *v;

	fz_key(id, &k, false);
	v = mm_get(F.kind, F.fast, F.m, &k);
	if (!ver != !v)
		fz_fail("get %llu: %s", (unsigned long long)id, v ? "found an absent key" : "not found");
	if (ver && !mm_val_ok(F.kind, id, ver, v))
		fz_fail("get %llu: wrong value", (unsigned long long)id);
}

static void fz_set(uint64_t id, bool store)
{
	unsigned char val[MM_BIGVAL];
	uint32_t old = F.ref.ver[id];
	struct mm_key k;
	void *v;

	fz_key(id, &k, true);
	if (store) {
		mm_val_make(F.kind, id, mm_ref_set(&F.ref, id), val);
		gort_map_store(F.m, &k, val);
	} else {
		v = mm_set(F.kind, F.fast, F.m, &k);
		if (!v && mm_types[F.kind].valsize)
			fz_fail("set %llu: NULL slot", (unsigned long long)id);
		if (!old && !mm_val_zero(F.kind, v))
			fz_fail("set %llu: new key's slot not zeroed", (unsigned long long)id);
		if (old && !mm_val_ok(F.kind, id, old, v))
			fz_fail("set %llu: old key's slot without its value", (unsigned long long)id);
		mm_val_make(F.kind, id, mm_ref_set(&F.ref, id), v);
	}
	check_len();
}

static void fz_del(uint64_t id)
{
	bool was = F.ref.ver[id] != 0, got;
	struct mm_key k;

	fz_key(id, &k, false);
	got = mm_del(F.kind, F.fast, F.m, &k);
	if (got != was)
		fz_fail("delete %llu returned %d", (unsigned long long)id, got);
	mm_ref_del(&F.ref, id);
	check_len();
}

static int64_t fz_entry(struct gort_map_iter *it)
{
	uint64_t id;

	if (!it->key || (!it->val && mm_types[F.kind].valsize))
		fz_fail("iteration: NULL key or value");
	if (!mm_key_id(F.kind, it->key, &id) || id >= FZ_KEYS)
		fz_fail("iteration: a damaged key");
	if (F.seen[id] == F.epoch)
		fz_fail("iteration: key %llu twice", (unsigned long long)id);
	F.seen[id] = F.epoch;
	if (!F.ref.ver[id])
		fz_fail("iteration: key %llu is not in the map%s", (unsigned long long)id,
			F.deleted[id] == F.epoch ? " (deleted during the iteration)" : "");
	if (!mm_val_ok(F.kind, id, F.ref.ver[id], it->val))
		fz_fail("iteration: key %llu with a wrong value", (unsigned long long)id);
	return (int64_t)id;
}

static void fz_iter(void)
{
	struct gort_map_iter it;
	size_t n = 0;

	F.epoch++;
	for (gort_map_iter_init(&it, F.m); gort_map_iter_next(&it); n++)
		fz_entry(&it);
	if (n != F.ref.n)
		fz_fail("iteration produced %zu keys of %zu", n, F.ref.n);
}

static void fz_iter_writes(unsigned int mode, uint64_t seed)
{
	size_t n0 = F.ref.n, i, ins = 0;
	struct gort_map_iter it;
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
	int64_t id;

	F.epoch++;
	memcpy(F.start, F.ref.list, n0 * sizeof(F.start[0]));
	for (gort_map_iter_init(&it, F.m); gort_map_iter_next(&it);) {
		id = fz_entry(&it);
		if ((mode & IT_VALW) && mm_types[F.kind].valsize && !(mm_rand(&s) % 4))
			mm_val_make(F.kind, (uint64_t)id, mm_ref_set(&F.ref, (uint64_t)id), it.val);
		if ((mode & IT_DEL) && F.ref.n && !(mm_rand(&s) % 3)) {
			uint64_t d = F.ref.list[mm_rand(&s) % F.ref.n];

			F.deleted[d] = F.epoch;
			fz_del(d);
		}
		if ((mode & IT_UPD) && F.ref.n && !(mm_rand(&s) % 4))
			fz_set(F.ref.list[mm_rand(&s) % F.ref.n], mm_rand(&s) & 1);
		if (mode & IT_INS) {
			int k, nk = (int)(mm_rand(&s) % 4);

			for (k = 0; k < nk && ins <= n0 + 8; k++) {
				uint64_t nid = mm_rand(&s) & FZ_IDMASK;

				if (F.ref.ver[nid] || F.deleted[nid] == F.epoch)
					continue;
				fz_set(nid, false);
				ins++;
			}
		}
	}
	for (i = 0; i < n0; i++)
		if (F.deleted[F.start[i]] != F.epoch && F.seen[F.start[i]] != F.epoch)
			fz_fail("iteration with writes (mode %u) missed key %u, present throughout",
				mode, F.start[i]);
	check_len();
}

static void fz_check(void)
{
	size_t i;

	for (i = 0; i < F.ref.n; i++)
		fz_get(F.ref.list[i]);
	check_len();
}

static int fz_one(const uint8_t *data, size_t size)
{
	size_t i;

	if (size < 2)
		return 0;
	if (!F.ref.ver && !mm_ref_init(&F.ref, FZ_KEYS))
		abort();
	mm_ref_clear(&F.ref);
	F.kind = (enum mm_kind)(data[0] % MM_NKINDS);
	F.path = data[1] & 3;
	if (F.path > MM_MIXED)
		F.path = MM_MIXED;
	F.rng = 0x5eed ^ size;
	F.m = gort_map_make(&mm_types[F.kind], (size_t)(data[1] >> 2) * (data[1] >> 2));
	if (!F.m)
		fz_fail("gort_map_make() failed");
	for (i = 2, F.opno = 0; i + 4 <= size; i += 4, F.opno++) {
		unsigned int op = data[i] % OP_NUM, arg = data[i + 3], n;
		uint64_t id = ((uint64_t)data[i + 1] | (uint64_t)data[i + 2] << 8) & FZ_IDMASK;

		F.fast = mm_has_fast(F.kind) &&
			 (F.path == MM_FAST || (F.path == MM_MIXED && (data[i] & 0x80)));
		switch (op) {
		case OP_GET:
			fz_get(id);
			break;
		case OP_SET:
			fz_set(id, false);
			break;
		case OP_STORE:
			fz_set(id, true);
			break;
		case OP_DEL:
			fz_del(id);
			break;
		case OP_GET_ABSENT:
			fz_get(FZ_KEYS + id);
			break;
		case OP_BULK_SET:
			for (n = 0; n < arg * 4 + 1; n++)
				fz_set((id + n) & FZ_IDMASK, false);
			break;
		case OP_BULK_DEL:
			for (n = 0; n < arg * 4 + 1; n++)
				fz_del((id + n) & FZ_IDMASK);
			break;
		case OP_ITER:
			fz_iter();
			break;
		case OP_ITER_WRITES:
			fz_iter_writes(arg & 15, id);
			break;
		case OP_CLEAR:
			gort_map_clear(F.m);
			mm_ref_clear(&F.ref);
			check_len();
			break;
		case OP_SHRINK:
			gort_map_shrink(F.m);
			fz_check();
			break;
		case OP_CHECK:
			fz_check();
			break;
		}
		gort_maybe_yield();
	}
	fz_check();
	fz_iter();
	F.m = NULL;
	return 0;
}

#ifdef GORT_LIBFUZZER

/*
 * libFuzzer's thread calls LLVMFuzzerTestOneInput(); the input runs on
 * a goroutine, which a runtime started on a thread of its own (from
 * LLVMFuzzerInitialize()) keeps waiting for work.  libFuzzer's driver
 * itself stays on its plain thread: its per-thread state (LSan's
 * disable/enable pairs) would break on a goroutine that changes threads.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

static struct {
	const uint8_t *data;
	size_t size;
	_Atomic int pending;
	struct gort_g *_Atomic server;
	sem_t ready, done;
} J;

static int server_main(void *arg)
{
	(void)arg;
	gort_external_wakers(1);	/* libFuzzer's thread unparks us */
	atomic_store(&J.server, gort_self());
	sem_post(&J.ready);
	for (;;) {
		/* Pairs with the release store in LLVMFuzzerTestOneInput(). */
		while (!atomic_load_explicit(&J.pending, memory_order_acquire))
			gort_park();
		fz_one(J.data, J.size);
		atomic_store_explicit(&J.pending, 0, memory_order_release);
		sem_post(&J.done);
	}
	return 0;
}

static void *runtime_thread(void *arg)
{
	struct gort_opts opts = { .sz = sizeof(opts), .maxprocs = 2 };

	(void)arg;
	exit(gort_main(server_main, NULL, &opts));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pthread_t t;

	(void)argc, (void)argv;
	if (sem_init(&J.ready, 0, 0) || sem_init(&J.done, 0, 0) ||
	    pthread_create(&t, NULL, runtime_thread, NULL))
		abort();
	while (sem_wait(&J.ready))
		;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	J.data = data;
	J.size = size;
	atomic_store_explicit(&J.pending, 1, memory_order_release);
	gort_unpark(atomic_load(&J.server));
	while (sem_wait(&J.done))	/* EINTR */
		;
	return 0;
}

#else /* a kselftest program: random inputs */

#define RUN_NS		(1500 * GT_MS)	/* random inputs for 1.5 s */

static int random_inputs_main(void *arg)
{
	uint64_t s = (uint64_t)gt_now_ns() | 1, seed = s;
	uint8_t buf[2 + 4 * 512];
	int64_t end = gort_nanotime() + RUN_NS;
	int n;

	(void)arg;
	printf("# seed %llu\n", (unsigned long long)seed);
	fflush(stdout);
	for (n = 0; gort_nanotime() < end; n++) {
		size_t len = 2 + 4 * (mm_rand(&s) % 512), i;

		for (i = 0; i < len; i++) {
			uint64_t r = mm_rand(&s);

			buf[i] = (uint8_t)r;
			/* Keep ids in a small range now and then, for hits. */
			if (i >= 2 && (i - 2) % 4 == 2 && (r >> 40) % 4)
				buf[i] = 0;
			if (i >= 2 && (i - 2) % 4 == 1 && (r >> 50) % 2)
				buf[i] &= 63;
		}
		fz_one(buf, len);
	}
	printf("# %d random inputs\n", n);
	return 0;
}

TEST(random_inputs)
{
	ASSERT_EQ(0, gt_run(random_inputs_main, NULL, 2));
}

TEST_HARNESS_MAIN

#endif
