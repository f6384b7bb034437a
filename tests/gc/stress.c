/* SPDX-License-Identifier: MIT */
/*
 * Description: the collector's acceptance test.  Goroutines mutate
 * linked lists and binary trees while cycles run back to back, and move
 * pointers around in exactly the ways that lose objects when a
 * concurrent collector's write barrier (here: the kernel's dirty-page
 * tracking) has a hole.  No live object may be freed, moved or damaged.
 *
 * GORT_DEBUG=gcstress=STRESS_N asks for a cycle every STRESS_N
 * allocations and poisons what the sweep frees with 0xa5 bytes, so a
 * live object freed by mistake shows at once as a broken magic number
 * or checksum (or, reused, as somebody else's node).  Each variant runs
 * until (TARGET_CYCLES + 5) / 6 cycles have completed (num_gc from
 * gort_read_gcstats(), printed) and each mutator did MIN_STEPS steps;
 * the six variants add their counts to a page shared across the
 * harness's forks, and total.cycles checks that at least TARGET_CYCLES
 * ran in all.  During the first BALLAST_CYCLES cycles a ballast of
 * pointer-dense objects (24 MiB, scanned before the mutators' state,
 * most likely) makes each mark phase last ~35 ms, so that the mutators
 * run inside it even with one P: the GC goroutine yields only when sysmon
 * asks it to, after 10 ms.
 *
 * The test paces its allocation itself: under gcstress the heap stays
 * far below the goal, where the collector holds no allocating goroutine
 * back, yet the sweep (which poisons all it frees) is slower than four
 * goroutines allocating.  A mutator that has allocated PACE_ALLOCS
 * objects since it last saw a cycle complete waits for one, and
 * meanwhile keeps changing the heap without allocating (list moves, tree
 * rotations, value updates, traveller hops), then checks its travellers:
 * marking never runs without mutators.
 *
 * Each of NMUT mutators owns:
 *
 *   a list	a singly linked list of nodes (56 bytes .. 40 KiB, payload
 *		derived from a serial number); steps insert, delete, replace
 *		(a fresh copy linked in place of the old node) and update
 *		nodes at random positions;
 *   a tree	an unbalanced binary search tree with the same steps, by key
 *		(delete with two children splices the successor);
 *   an inbox	a scanned channel: a step sends its list's head to the next
 *		mutator's inbox, or takes one from its own and links it in,
 *		so nodes live for a while in channel buffers only;
 *   travellers	objects moved by the three lost-object races, below.
 *
 * Every structure keeps a count and a sum of its nodes' hashes, updated
 * with each step; every walk checks each node before following it (it
 * must be the start of an allocated object with its magic), and a full
 * check every VERIFY_EVERY steps and at the end recomputes count, sum,
 * every payload word and the search-tree order.  The total over all
 * structures and inboxes must match what was created minus what was
 * deleted.
 *
 * The races, each a traveller object whose only reference hops from
 * place to place; after every hop the mutator allocates 2 * STRESS_N
 * objects (so at least one cycle is requested) and checks all of its
 * travellers (magic and payload); hops made while waiting for a cycle
 * allocate nothing, and the check follows the cycle:
 *
 *   (a) heap	  the only pointer moves from a not-yet-scanned place to
 *		  an already-scanned one and the original is cleared: from a
 *		  holder at the end of a DEEP-long chain (marked late) into
 *		  the mutator's anchor (an old object right behind the
 *		  roots, marked early), then into a holder allocated at the
 *		  hop (during the cycle), then back to the chain's end.  Half
 *		  of the hops store an interior pointer.
 *   (b) stack	  the pointer is taken out of the anchor into a local
 *		  variable (a register, or the stack: the compiler's choice,
 *		  hidden from it by an empty asm), the anchor slot cleared,
 *		  2 * STRESS_N allocations and a yield made with it held only
 *		  there (waiting for a cycle: four yields and list moves);
 *		  then it is stored into the old anchor and the local dropped.
 *   (c) kernel	  the pointer's bytes go through a pipe: write() them, and
 *		  read() them into a slot of an old, large "kernel anchor"
 *		  that only the kernel ever writes (slots are cleared by
 *		  reading zeros from the pipe too), then the local is dropped:
 *		  only the kernel wrote that page.  Then back to the anchor.
 *
 * Variants: uffd-wp (the default), soft-dirty and stw (GORT_GCMODE), each
 * on 1 and 2 Ps; but in stw mode with GORT_DEBUG=gcconcurrent=1, so that
 * the small heap is marked concurrently, not in a pause, gchelper=1,
 * so that the last look is shared with the helper thread as on a big
 * heap, and gcassist=1, so that the mutators' allocations assist the
 * mark in every cycle (far below the goal, where they otherwise would
 * not): gray objects go back and forth between the GC goroutine and
 * assists that are then stopped for mark termination mid-drain.  soft-dirty falls back to stw where the kernel lacks it;
 * the mode that ran is printed, not asserted.  GT_GC_SCALE=percent scales
 * the cycle target and the step minimum.  Sanitizer builds, several
 * times slower, run the 10,000 cycles too (about 150 s here), with
 * longer time limits.
 */
#include "gc_test.h"

#include <sys/mman.h>

#define NMUT		4		/* mutator goroutines */
#define STRESS_N	256		/* GORT_DEBUG=gcstress=N */
#define TARGET_CYCLES	10000		/* over the NVARIANTS tests */
#define NVARIANTS	6
#define BALLAST_CYCLES	50
#define BALLAST_OBJS	6144		/* of 4 KiB: 24 MiB of pointers */
#define MIN_STEPS	3000		/* per mutator */
#define LIST_TARGET	300
#define TREE_TARGET	300
#define NTRAV		9		/* travellers per mutator, 3 per race */
#define DEEP		2000		/* chain links before the deep holder */
#define KSLOTS		64		/* slots of the kernel anchor */
#define VERIFY_EVERY	256
/* Escapes (a test that needs them has failed): slower under sanitizers. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifdef SANITIZED
#define STRESS_LIMIT_MS	240000		/* for the cycles, per variant */
#define STRESS_TIMEOUT	330		/* the harness's, seconds */
#else
#define STRESS_LIMIT_MS	100000
#define STRESS_TIMEOUT	150
#endif
#define MAX_DEPTH	4096		/* a deeper tree has a cycle: corrupt */
#define PACE_ALLOCS	(4 * STRESS_N)
#define PACE_WAIT_MS	200

#define SMAGIC		0x5e1f5eedc0ffee00ULL
#define TMAGIC		0x7a4e11e4b0a710adULL
#define POISON		0xa5a5a5a5a5a5a5a5ULL

/*
 * Cycles run by the variants, each in its own forked child: a shared
 * page, mapped before the harness forks.
 */
static struct tally {
	_Atomic long cycles;
	_Atomic int runs;
} *tally;

__attribute__((constructor)) static void tally_map(void)
{
	void *p = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	tally = p == MAP_FAILED ? NULL : p;
}

FIXTURE(stress) {
};

FIXTURE_VARIANT(stress) {
	const char *gcmode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(stress, uffd_2p) { .gcmode = NULL, .maxprocs = 2 };
FIXTURE_VARIANT_ADD(stress, uffd_1p) { .gcmode = NULL, .maxprocs = 1 };
FIXTURE_VARIANT_ADD(stress, softdirty_2p) { .gcmode = "softdirty", .maxprocs = 2 };
FIXTURE_VARIANT_ADD(stress, softdirty_1p) { .gcmode = "softdirty", .maxprocs = 1 };
FIXTURE_VARIANT_ADD(stress, stw_2p) { .gcmode = "stw", .maxprocs = 2 };
FIXTURE_VARIANT_ADD(stress, stw_1p) { .gcmode = "stw", .maxprocs = 1 };

FIXTURE_SETUP(stress)
{
}

FIXTURE_TEARDOWN(stress)
{
}

/* ---- nodes ---- */

struct snode {
	uint64_t magic;		/* SMAGIC ^ serial */
	uint64_t serial;
	uint64_t key, val;
	struct snode *next;	/* list: next; tree: left */
	struct snode *right;	/* tree: right */
	uint32_t nwords, pad;
	uint64_t pay[];		/* gc_mix(serial << 16 | k) */
};

static _Atomic uint64_t serials;
static _Atomic long total_count;	/* nodes created - deleted */
static _Atomic uint64_t total_sum;	/* of node_hash() over them */

static uint64_t node_hash(uint64_t key, uint64_t val)
{
	return gc_mix(key * 0x9e3779b97f4a7c15ULL + val);
}

static uint32_t nwords_of(uint64_t serial)
{
	uint64_t h = gc_mix(serial);

	if (h % 997 == 0)
		return 5000;	/* 40 KiB: a large object */
	return (uint32_t)(h >> 32) % 25;
}

static struct snode *node_new(uint64_t key, uint64_t val)
{
	uint64_t serial = atomic_fetch_add(&serials, 1) + 1;
	uint32_t nw = nwords_of(serial), k;
	struct snode *n = gort_alloc(sizeof(*n) + nw * 8, serial % 5 ? 0 : GORT_ALLOC_NOZERO);

	if (!GCHECK(n != NULL))
		return NULL;
	n->magic = SMAGIC ^ serial;
	n->serial = serial;
	n->key = key;
	n->val = val;
	n->next = n->right = NULL;
	n->nwords = nw;
	n->pad = 0;
	for (k = 0; k < nw; k++)
		n->pay[k] = gc_mix(serial << 16 | k);
	atomic_fetch_add(&total_count, 1);
	atomic_fetch_add(&total_sum, node_hash(key, val));
	return n;
}

/* A node leaves the books (deleted, not handed over). */
static void node_gone(const struct snode *n)
{
	atomic_fetch_sub(&total_count, 1);
	atomic_fetch_sub(&total_sum, node_hash(n->key, n->val));
}

/* @n gets value @val; @sum (its structure's) and the books follow. */
static void node_setval(struct snode *n, uint64_t *sum, uint64_t val)
{
	atomic_fetch_sub(&total_sum, node_hash(n->key, n->val));
	*sum -= node_hash(n->key, n->val);
	n->val = val;
	*sum += node_hash(n->key, n->val);
	atomic_fetch_add(&total_sum, node_hash(n->key, n->val));
}

/* Say why @n is not a valid node, for the failure message. */
static void node_blame(const char *where, const struct snode *n)
{
	void *base = NULL;
	size_t size = 0;
	int r = gort_heap_object(n, &base, &size);

	if (!r)
		GFAIL("%s: %p is not an allocated object (freed while reachable)", where,
		      (const void *)n);
	else if (base != n)
		GFAIL("%s: %p is inside object %p (%zu bytes): reused after a premature free",
		      where, (const void *)n, base, size);
	else if (n->magic == POISON)
		GFAIL("%s: %p is poisoned (0xa5): freed by the sweep while reachable", where,
		      (const void *)n);
	else
		GFAIL("%s: %p has magic %#llx, serial %llu: damaged or reused", where,
		      (const void *)n, (unsigned long long)n->magic,
		      (unsigned long long)n->serial);
}

/* node_ok() - cheap check before following @n: allocated, magic. */
static bool node_ok(const struct snode *n)
{
	return gc_alive(n) && n->magic == (SMAGIC ^ n->serial) && n->nwords == nwords_of(n->serial);
}

/* node_full_ok() - and every payload word. */
static bool node_full_ok(const struct snode *n)
{
	uint32_t k;

	if (!node_ok(n))
		return false;
	for (k = 0; k < n->nwords; k++)
		if (n->pay[k] != gc_mix(n->serial << 16 | k))
			return false;
	return true;
}

/* ---- per-mutator state, in the gort heap (scanned) ---- */

struct trav {
	uint64_t magic;		/* TMAGIC ^ id */
	uint64_t id;
	uint64_t pay[14];	/* gc_mix(id << 20 | round << 4 | k) */
	uint64_t round;
};

enum where { AT_DEEP, AT_ANCHOR, AT_FRESH, AT_KERNEL };

struct holder {
	void *slot[NTRAV];	/* pointers, or interior pointers */
};

struct link {
	struct link *next;
	struct holder *holder;	/* at the end of the chain */
};

struct mstate {
	int id;
	uint64_t rng;
	/* the list */
	struct snode *head;
	long lcount;
	uint64_t lsum;
	/* the tree */
	struct snode *root;
	long tcount;
	uint64_t tsum;
	/* travellers: where each one is, and at which offset */
	struct holder *anchor;		/* old, near the roots */
	struct link *chain;		/* DEEP links, then a holder */
	struct holder *fresh[NTRAV];	/* allocated at the hop */
	void **kanchor;			/* large, written only by read() */
	int where[NTRAV], kslot[NTRAV];
	size_t off[NTRAV];
	int pipe[2];
	/* counts */
	long steps, hops[3], verifies, sent, received, paced;
	long since;			/* allocations since the last pace() */
	long idle_steps;
	uint32_t last_gc;
	bool pacing;
	bool held[NTRAV];		/* in a race_stack() local (they nest) */
	bool broken;			/* a failure was seen: stop checking books */
};

static struct {
	const FIXTURE_VARIANT(stress) *v;
	struct mstate *m[NMUT];		/* roots: the data segment */
	struct gort_chan *inbox[NMUT];
	void **ballast;
	_Atomic bool stop;
	uint32_t done;
	long target, min_steps;
	_Atomic long failures_seen;
	uint32_t cycles;		/* run by this test */
} S;

static uint64_t rnd(struct mstate *m)
{
	return gc_rand(&m->rng);
}

static void pace(struct mstate *m);

/* churn() - @n garbage objects; a yield now and then (1 P: the GC). */
static void churn(struct mstate *m, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		uint64_t r = rnd(m);
		size_t sz = r % 256 == 0 ? 4096 + r % 32768 : 16 + r % 256;
		char *p;

		pace(m);
		p = gort_alloc(sz, r & 1 ? GORT_ALLOC_NOSCAN : GORT_ALLOC_NOZERO);
		if (!GCHECK(p != NULL))
			return;
		p[0] = (char)r;
		p[sz - 1] = (char)r;
		if (!(i & 63))
			gort_yield();
	}
}

/* Stop trusting the books of @m after a failure (it is reported). */
static void broke(struct mstate *m)
{
	m->broken = true;
	atomic_fetch_add(&S.failures_seen, 1);
}

/* ---- the list ---- */

static struct snode **list_at(struct mstate *m, long pos)
{
	struct snode **link = &m->head;
	long i;

	for (i = 0; i < pos && *link; i++) {
		if (!node_ok(*link)) {
			node_blame("list walk", *link);
			broke(m);
			m->head = NULL;
			m->lcount = 0;
			return NULL;
		}
		link = &(*link)->next;
	}
	if (*link && !node_ok(*link)) {
		node_blame("list walk", *link);
		broke(m);
		m->head = NULL;
		m->lcount = 0;
		return NULL;
	}
	return link;
}

static void list_insert_node(struct mstate *m, struct snode *n, long pos)
{
	struct snode **link = list_at(m, pos);

	if (!link)
		return;
	n->next = *link;
	*link = n;
	m->lcount++;
	m->lsum += node_hash(n->key, n->val);
}

static void list_step(struct mstate *m)
{
	uint64_t r = rnd(m);
	long pos = m->lcount ? (long)(r % (uint64_t)m->lcount) : 0;
	struct snode **link, *n, *x;

	if (m->lcount < LIST_TARGET / 2 || (m->lcount < 2 * LIST_TARGET && r % 4 == 0)) {
		n = node_new(rnd(m), rnd(m));
		if (n)
			list_insert_node(m, n, pos);
		return;
	}
	link = list_at(m, pos);
	if (!link || !*link)
		return;
	n = *link;
	switch ((r >> 32) % 3) {
	case 0:		/* delete */
		*link = n->next;
		m->lcount--;
		m->lsum -= node_hash(n->key, n->val);
		node_gone(n);
		break;
	case 1:		/* replace with a copy */
		x = node_new(n->key, n->val);
		if (!x)
			return;
		x->next = n->next;
		*link = x;
		/* The copy is on the books twice until the old one goes. */
		node_gone(n);
		break;
	default:
		node_setval(n, &m->lsum, rnd(m));
		break;
	}
}

static void list_verify(struct mstate *m, const char *when)
{
	const struct snode *n = m->head;
	uint64_t sum = 0;
	long count = 0;

	while (n && count <= m->lcount) {
		if (!node_full_ok(n)) {
			node_blame(when, n);
			broke(m);
			m->head = NULL;
			m->lcount = 0;
			return;
		}
		sum += node_hash(n->key, n->val);
		count++;
		n = n->next;
	}
	if (!m->broken && (count != m->lcount || sum != m->lsum || n)) {
		GFAIL("%s: mutator %d's list: %ld nodes, sum %#llx; books say %ld, %#llx", when,
		      m->id, count, (unsigned long long)sum, m->lcount,
		      (unsigned long long)m->lsum);
		broke(m);
	}
}

/* ---- the tree ---- */

/* tree_find() - the link that holds @key, or the NULL link where it
 * would go; NULL if a bad node was met. */
static bool tree_too_deep(struct mstate *m, int depth)
{
	if (depth < MAX_DEPTH)
		return false;
	GFAIL("mutator %d's tree is %d deep: a cycle (a node freed and reused?)", m->id, depth);
	broke(m);
	m->root = NULL;
	m->tcount = 0;
	return true;
}

static struct snode **tree_find(struct mstate *m, uint64_t key)
{
	struct snode **link = &m->root;
	int depth = 0;

	while (*link) {
		struct snode *n = *link;

		if (tree_too_deep(m, ++depth))
			return NULL;
		if (!node_ok(n)) {
			node_blame("tree walk", n);
			broke(m);
			m->root = NULL;
			m->tcount = 0;
			return NULL;
		}
		if (key == n->key)
			break;
		link = key < n->key ? &n->next : &n->right;
	}
	return link;
}

/* A key that is in the tree: the last node on a random path. */
static uint64_t tree_some_key(struct mstate *m)
{
	struct snode *n = m->root, *last = NULL;
	int depth = 0;

	while (n) {
		if (tree_too_deep(m, ++depth))
			return 0;
		if (!node_ok(n)) {
			node_blame("tree walk", n);
			broke(m);
			m->root = NULL;
			m->tcount = 0;
			return 0;
		}
		last = n;
		n = rnd(m) & 1 ? n->next : n->right;
	}
	return last ? last->key : 0;
}

static void tree_step(struct mstate *m)
{
	uint64_t r = rnd(m), key;
	struct snode **link, *n, *x, **slink, *s;
	int depth;

	if (m->tcount < TREE_TARGET / 2 || (m->tcount < 2 * TREE_TARGET && r % 4 == 0)) {
		key = rnd(m);
		link = tree_find(m, key);
		if (!link || *link)
			return;
		n = node_new(key, rnd(m));
		if (!n)
			return;
		*link = n;
		m->tcount++;
		m->tsum += node_hash(n->key, n->val);
		return;
	}
	key = tree_some_key(m);
	link = tree_find(m, key);
	if (!link || !*link)
		return;
	n = *link;
	switch ((r >> 32) % 3) {
	case 0:		/* delete */
		m->tcount--;
		m->tsum -= node_hash(n->key, n->val);
		node_gone(n);
		if (!n->next) {
			*link = n->right;
		} else if (!n->right) {
			*link = n->next;
		} else {
			/* Splice out the successor, put it in n's place. */
			for (slink = &n->right, depth = 0;; slink = &s->next) {
				s = *slink;
				if (tree_too_deep(m, ++depth))
					return;
				if (!node_ok(s)) {
					node_blame("tree successor", s);
					broke(m);
					m->root = NULL;
					m->tcount = 0;
					return;
				}
				if (!s->next)
					break;
			}
			*slink = s->right;
			s->next = n->next;
			s->right = n->right;
			*link = s;
		}
		break;
	case 1:		/* replace with a copy */
		x = node_new(n->key, n->val);
		if (!x)
			return;
		x->next = n->next;
		x->right = n->right;
		*link = x;
		node_gone(n);
		break;
	default:
		node_setval(n, &m->tsum, rnd(m));
		break;
	}
}

struct tacc {
	long count;
	uint64_t sum;
	bool bad;
};

static void tree_walk(struct mstate *m, const struct snode *n, uint64_t lo, uint64_t hi,
		      struct tacc *acc, const char *when)
{
	if (!n || acc->bad)
		return;
	if (!node_full_ok(n)) {
		node_blame(when, n);
		acc->bad = true;
		return;
	}
	if (n->key < lo || n->key > hi) {
		GFAIL("%s: mutator %d's tree out of order at key %#llx", when, m->id,
		      (unsigned long long)n->key);
		acc->bad = true;
		return;
	}
	acc->count++;
	acc->sum += node_hash(n->key, n->val);
	if (acc->count > m->tcount + 1) {
		GFAIL("%s: mutator %d's tree has more nodes than its books", when, m->id);
		acc->bad = true;
		return;
	}
	if (n->key > 0)
		tree_walk(m, n->next, lo, n->key - 1, acc, when);
	if (n->key < UINT64_MAX)
		tree_walk(m, n->right, n->key + 1, hi, acc, when);
}

static void tree_verify(struct mstate *m, const char *when)
{
	struct tacc acc = { 0 };

	tree_walk(m, m->root, 0, UINT64_MAX, &acc, when);
	if (acc.bad) {
		broke(m);
		m->root = NULL;
		m->tcount = 0;
		return;
	}
	if (!m->broken && (acc.count != m->tcount || acc.sum != m->tsum)) {
		GFAIL("%s: mutator %d's tree: %ld nodes, sum %#llx; books say %ld, %#llx", when,
		      m->id, acc.count, (unsigned long long)acc.sum, m->tcount,
		      (unsigned long long)m->tsum);
		broke(m);
	}
}

/* ---- steps that allocate nothing (while a cycle is awaited) ---- */

/* Move a node from one position of the list to another. */
static void list_move(struct mstate *m)
{
	struct snode **link, *n;

	if (m->lcount < 2)
		return;
	link = list_at(m, (long)(rnd(m) % (uint64_t)m->lcount));
	if (!link || !*link)
		return;
	n = *link;
	*link = n->next;
	m->lcount--;
	m->lsum -= node_hash(n->key, n->val);
	n->next = NULL;
	list_insert_node(m, n, (long)(rnd(m) % (uint64_t)(m->lcount + 1)));
}

/* Rotate the tree at a random node (the order stays). */
static void tree_rotate(struct mstate *m)
{
	struct snode **link = &m->root, *n, *c;
	int depth = 0;

	while ((n = *link)) {
		if (tree_too_deep(m, ++depth))
			return;
		if (!node_ok(n)) {
			node_blame("tree rotation", n);
			broke(m);
			m->root = NULL;
			m->tcount = 0;
			return;
		}
		if (rnd(m) % 4 == 0)
			break;
		link = rnd(m) & 1 ? &n->next : &n->right;
	}
	if (!n)
		return;
	if (rnd(m) & 1) {
		c = n->next;		/* right rotation */
		if (!c || !node_ok(c))
			return;
		n->next = c->right;
		c->right = n;
	} else {
		c = n->right;		/* left rotation */
		if (!c || !node_ok(c))
			return;
		n->right = c->next;
		c->next = n;
	}
	*link = c;
}

/* A new value for some node of the list or the tree. */
static void node_update(struct mstate *m)
{
	struct snode **link, *n;
	bool list = rnd(m) & 1;

	if (list) {
		link = m->lcount ? list_at(m, (long)(rnd(m) % (uint64_t)m->lcount)) : NULL;
	} else {
		link = tree_find(m, tree_some_key(m));
	}
	if (!link || !(n = *link))
		return;
	atomic_fetch_sub(&total_sum, node_hash(n->key, n->val));
	if (list)
		m->lsum -= node_hash(n->key, n->val);
	else
		m->tsum -= node_hash(n->key, n->val);
	n->val = rnd(m);
	if (list)
		m->lsum += node_hash(n->key, n->val);
	else
		m->tsum += node_hash(n->key, n->val);
	atomic_fetch_add(&total_sum, node_hash(n->key, n->val));
}

/* ---- hand-over through channels ---- */

static void handover_step(struct mstate *m)
{
	struct snode *n;

	if (rnd(m) & 1) {
		/* Send our list's head to the next mutator. */
		n = m->head;
		if (!n || m->lcount < LIST_TARGET / 2)
			return;
		if (!node_ok(n)) {
			node_blame("hand-over", n);
			broke(m);
			return;
		}
		m->head = n->next;
		m->lcount--;
		m->lsum -= node_hash(n->key, n->val);
		n->next = NULL;
		if (gort_chan_trysend(S.inbox[(m->id + 1) % NMUT], &n)) {
			m->sent++;
		} else {
			list_insert_node(m, n, 0);
		}
		n = NULL;
		return;
	}
	if (gort_chan_tryrecv(S.inbox[m->id], &n) == 1) {
		if (!node_full_ok(n)) {
			node_blame("received node", n);
			broke(m);
			return;
		}
		m->received++;
		list_insert_node(m, n, (long)(rnd(m) % (uint64_t)(m->lcount + 1)));
	}
}

/* ---- travellers ---- */

static void trav_fill(struct trav *t, uint64_t id)
{
	int k;

	t->magic = TMAGIC ^ id;
	t->id = id;
	t->round++;
	for (k = 0; k < 14; k++)
		t->pay[k] = gc_mix(id << 20 | (t->round & 0xffff) << 4 | (uint64_t)k);
}

static bool trav_ok(const struct trav *t, uint64_t id)
{
	int k;

	if (!gc_alive(t) || t->magic != (TMAGIC ^ id) || t->id != id)
		return false;
	for (k = 0; k < 14; k++)
		if (t->pay[k] != gc_mix(id << 20 | (t->round & 0xffff) << 4 | (uint64_t)k))
			return false;
	return true;
}

static uint64_t trav_id(const struct mstate *m, int t)
{
	return (uint64_t)m->id << 8 | (uint64_t)t;
}

/* The slot where traveller @t is now. */
static void **trav_slot(struct mstate *m, int t)
{
	struct link *l;
	int i;

	switch (m->where[t]) {
	case AT_DEEP:
		/* The chain only ever holds DEEP links: a longer one is corrupt. */
		for (l = m->chain, i = 0; l->next && i < DEEP; i++)
			l = l->next;
		return &l->holder->slot[t];
	case AT_ANCHOR:
		return &m->anchor->slot[t];
	case AT_FRESH:
		return &m->fresh[t]->slot[t];
	default:
		return &m->kanchor[m->kslot[t]];
	}
}

static struct trav *trav_get(struct mstate *m, int t)
{
	return (struct trav *)((char *)*trav_slot(m, t) - m->off[t]);
}

/* Store @x in @slot, as an interior pointer every other time. */
static void trav_put(struct mstate *m, int t, void **slot, struct trav *x)
{
	m->off[t] = rnd(m) & 1 ? 8 * (1 + rnd(m) % 14) : 0;
	*slot = (char *)x + m->off[t];
}

static void trav_check_all(struct mstate *m, const char *when)
{
	int t;

	for (t = 0; t < NTRAV; t++) {
		struct trav *x;

		if (m->held[t])
			continue;	/* race_stack() checks it itself */
		x = trav_get(m, t);
		if (!trav_ok(x, trav_id(m, t))) {
			void *base = NULL;

			gort_heap_object(x, &base, NULL);
			GFAIL("%s: mutator %d traveller %d (race %c, at %s) %p lost: %s", when,
			      m->id, t, "abc"[t % 3],
			      (const char *[]){ "deep holder", "anchor", "fresh holder",
						"kernel anchor" }[m->where[t]], (void *)x,
			      !base ? "freed" : base != x ? "reused" :
			      x->magic == POISON ? "poisoned" : "damaged");
			broke(m);
			/* Give it a new body so the test goes on. */
			x = gort_alloc(sizeof(*x), 0);
			if (!x)
				return;
			trav_fill(x, trav_id(m, t));
			trav_put(m, t, trav_slot(m, t), x);
		}
	}
}

/* Write 8 bytes through the pipe and read them back into @dst: the kernel
 * writes @dst's page, nobody else. */
static void kernel_copy(struct mstate *m, void **dst, const void *src)
{
	ssize_t w = write(m->pipe[1], src, sizeof(void *));
	ssize_t r = read(m->pipe[0], dst, sizeof(void *));

	if (!GCHECK_EQ(sizeof(void *), w) || !GCHECK_EQ(sizeof(void *), r))
		broke(m);
}

/* (a): deep holder -> anchor -> fresh holder -> deep holder. */
static __attribute__((noinline)) void race_heap(struct mstate *m, int t)
{
	void **from = trav_slot(m, t), **to;
	struct trav *x = trav_get(m, t);
	int was = m->where[t];
	struct holder *h;

	if (was == AT_DEEP) {
		m->where[t] = AT_ANCHOR;
	} else if (was == AT_ANCHOR) {
		h = gort_alloc(sizeof(*h), 0);
		if (!GCHECK(h != NULL))
			return;
		m->fresh[t] = h;
		m->where[t] = AT_FRESH;
	} else {
		m->where[t] = AT_DEEP;
	}
	to = trav_slot(m, t);
	trav_put(m, t, to, x);
	*from = NULL;
	if (was == AT_FRESH)
		m->fresh[t] = NULL;	/* the holder is garbage now */
	x = NULL;
	__asm__ volatile("" : "+r"(x) : : "memory");
	m->hops[0]++;
}

/* (b): anchor -> a local only, across allocations -> anchor. */
static __attribute__((noinline)) void race_stack(struct mstate *m, int t, bool idle)
{
	struct trav *x = trav_get(m, t);
	int k;

	m->anchor->slot[t] = NULL;
	m->held[t] = true;
	/* Only x holds it now; keep the compiler from reloading it. */
	__asm__ volatile("" : "+r"(x) : : "memory");
	if (idle) {
		/* Parked and rescheduled while the cycle goes on. */
		for (k = 0; k < 4; k++) {
			list_move(m);
			gort_yield();
		}
	} else {
		churn(m, 2 * STRESS_N);
		gort_yield();
	}
	__asm__ volatile("" : "+r"(x) : : "memory");
	if (!trav_ok(x, trav_id(m, t))) {
		GFAIL("race b: mutator %d traveller %d, held in a local, lost (%s)", m->id, t,
		      gc_alive(x) ? "damaged" : "freed");
		broke(m);
		x = gort_alloc(sizeof(*x), 0);
		if (!x)
			return;
		x->round = 0;
		trav_fill(x, trav_id(m, t));
	}
	trav_put(m, t, &m->anchor->slot[t], x);
	m->held[t] = false;
	x = NULL;
	__asm__ volatile("" : "+r"(x) : : "memory");
	m->hops[1]++;
}

/* (c): anchor -> (pipe) -> kernel anchor -> anchor. */
static __attribute__((noinline)) void race_kernel(struct mstate *m, int t)
{
	static const void *const zero;
	struct trav *x = trav_get(m, t);
	void *p;

	if (m->where[t] == AT_ANCHOR) {
		/* The next of the KSLOTS / NTRAV slots that are t's alone. */
		m->kslot[t] = t * (KSLOTS / NTRAV) +
			      (m->kslot[t] - t * (KSLOTS / NTRAV) + 1) % (KSLOTS / NTRAV);
		p = m->anchor->slot[t];			/* with its offset */
		m->anchor->slot[t] = NULL;
		kernel_copy(m, &m->kanchor[m->kslot[t]], &p);
		m->where[t] = AT_KERNEL;
	} else {
		p = m->kanchor[m->kslot[t]];
		m->anchor->slot[t] = p;
		/* Clear the kernel slot the same way: by read(). */
		kernel_copy(m, &m->kanchor[m->kslot[t]], &zero);
		m->where[t] = AT_ANCHOR;
	}
	p = NULL;
	x = NULL;
	__asm__ volatile("" : "+r"(x), "+r"(p) : : "memory");
	m->hops[2]++;
}

/*
 * race_step() - one hop of a random traveller.  Then, normally, allocate
 * enough for a cycle to be requested and check every traveller; @idle
 * (waiting for a cycle in pace()): no allocation, pace() checks them
 * once the cycle is over.
 */
static void race_step(struct mstate *m, bool idle)
{
	int t = (int)(rnd(m) % NTRAV);

	if (m->held[t])
		return;		/* in an outer race_stack()'s hands */
	switch (t % 3) {
	case 0:
		race_heap(m, t);
		break;
	case 1:
		race_stack(m, t, idle);
		break;
	default:
		race_kernel(m, t);
		break;
	}
	if (!idle) {
		churn(m, 2 * STRESS_N);
		trav_check_all(m, "after a hop");
	}
}

/*
 * pace() - mark assists hold a goroutine back only past the heap goal,
 * which gcstress's small heap never reaches (gcassist=1's assists only
 * mark what they can take, then return): goroutines that allocate
 * faster than the sweep would grow the heap without bound.  After
 * PACE_ALLOCS allocations of its own, a mutator that has seen no cycle
 * complete since its last look keeps changing the heap without
 * allocating (moves, rotations, updates, traveller hops; a yield every
 * few) until one has, at most PACE_WAIT_MS; then checks its travellers.
 */
static void pace(struct mstate *m)
{
	int64_t end;
	uint32_t now;
	long k = 0;

	if (++m->since < PACE_ALLOCS || m->pacing)
		return;
	m->since = 0;
	now = gc_num();
	if (now == m->last_gc) {
		m->pacing = true;
		end = gort_nanotime() + PACE_WAIT_MS * GT_MS;
		/* gort_read_gcstats() takes the collector's lock: not every step. */
		while (k % 8 || ((now = gc_num()) == m->last_gc && gort_nanotime() < end)) {
			switch (rnd(m) % 5) {
			case 0:
				list_move(m);
				break;
			case 1:
				tree_rotate(m);
				break;
			case 2:
				node_update(m);
				break;
			default:
				race_step(m, true);
				break;
			}
			if (++k % 4 == 0)
				gort_yield();
		}
		m->paced++;
		m->idle_steps += k;
		m->pacing = false;
		trav_check_all(m, "after a cycle");
	}
	m->last_gc = now;
}

/* ---- set-up ---- */

static struct mstate *mstate_new(int id)
{
	struct mstate *m = gort_alloc(sizeof(*m), 0);
	struct link *l = NULL;
	int i, t;

	if (!GCHECK(m != NULL))
		return NULL;
	m->id = id;
	m->rng = gc_mix((uint64_t)id + 12345) | 1;
	if (!GCHECK_EQ(0, pipe(m->pipe)))
		return NULL;
	m->anchor = gort_alloc(sizeof(struct holder), 0);
	/* Large: page-aligned, its own pages, written by the kernel only. */
	m->kanchor = gort_alloc(40 << 10, 0);
	if (!GCHECK(m->anchor && m->kanchor))
		return NULL;
	for (i = 0; i < DEEP; i++) {
		struct link *n = gort_alloc(sizeof(*n), 0);

		if (!GCHECK(n != NULL))
			return NULL;
		n->next = l;
		l = n;
	}
	m->chain = l;
	while (l->next)
		l = l->next;
	l->holder = gort_alloc(sizeof(struct holder), 0);
	if (!GCHECK(l->holder != NULL))
		return NULL;
	for (t = 0; t < NTRAV; t++) {
		struct trav *x = gort_alloc(sizeof(*x), 0);

		if (!GCHECK(x != NULL))
			return NULL;
		trav_fill(x, trav_id(m, t));
		m->kslot[t] = t * (KSLOTS / NTRAV);
		/* Race a starts deep, b and c in the anchor. */
		m->where[t] = t % 3 == 0 ? AT_DEEP : AT_ANCHOR;
		trav_put(m, t, trav_slot(m, t), x);
	}
	return m;
}

static void mutator(void *arg)
{
	struct mstate *m = arg;

	while (m->steps < S.min_steps || !atomic_load(&S.stop)) {
		uint64_t r = rnd(m) % 100;

		if (r < 30)
			list_step(m);
		else if (r < 60)
			tree_step(m);
		else if (r < 70)
			race_step(m, false);
		else if (r < 80)
			handover_step(m);
		else
			churn(m, 16);
		if (++m->steps % VERIFY_EVERY == 0) {
			list_verify(m, "periodic check");
			tree_verify(m, "periodic check");
			trav_check_all(m, "periodic check");
			m->verifies++;
		}
		gort_maybe_yield();
	}
	gort_sema_release(&S.done);
}

/* Pointer-dense ballast: every word points into some ballast object. */
static void ballast_make(void *unused)
{
	uint64_t r = 99;
	long i, k;

	(void)unused;
	S.ballast = gort_alloc(BALLAST_OBJS * sizeof(void *), 0);
	if (!GCHECK(S.ballast != NULL))
		return;
	for (i = 0; i < BALLAST_OBJS; i++) {
		S.ballast[i] = gort_alloc(4096, 0);
		if (!GCHECK(S.ballast[i] != NULL))
			return;
	}
	for (i = 0; i < BALLAST_OBJS; i++)
		for (k = 0; k < 4096 / 8; k++)
			((char **)S.ballast[i])[k] =
				(char *)S.ballast[gc_rand(&r) % BALLAST_OBJS] + 8 * (k % 16);
}

static void ballast_drop(void *unused)
{
	(void)unused;
	S.ballast = NULL;
}

/* At the end, with the mutators gone: inboxes into the lists, checks. */
static void final_check(void *arg)
{
	long *totals = arg, count = 0;
	uint64_t sum = 0;
	int i;

	for (i = 0; i < NMUT; i++) {
		struct mstate *m = S.m[i];
		struct snode *n;

		while (gort_chan_tryrecv(S.inbox[i], &n) == 1) {
			if (!node_full_ok(n)) {
				node_blame("node left in an inbox", n);
				broke(m);
				continue;
			}
			list_insert_node(m, n, 0);
		}
	}
	for (i = 0; i < NMUT; i++) {
		struct mstate *m = S.m[i];

		list_verify(m, "final check");
		tree_verify(m, "final check");
		trav_check_all(m, "final check");
		count += m->lcount + m->tcount;
		sum += m->lsum + m->tsum;
	}
	totals[0] = count;
	totals[1] = (long)(sum != atomic_load(&total_sum));
}

static int stress_main(void *arg)
{
	struct gort_gcstats st0, st;
	int64_t t0, t1, tb = 0, end;
	long totals[2] = { 0, 0 }, steps = 0, hops[3] = { 0 }, sent = 0, verifies = 0;
	long idle = 0, paced = 0;
	uint32_t cycles0;
	bool broken = false;
	int i;

	(void)arg;
	t0 = gort_nanotime();
	GCHECK(gc_stats(&st0));
	cycles0 = st0.num_gc;
	for (i = 0; i < NMUT; i++) {
		S.m[i] = mstate_new(i);
		S.inbox[i] = gort_chan_make(sizeof(void *), 8, 0);
		if (!GCHECK(S.m[i] && S.inbox[i]))
			return 1;
	}
	if (!gc_in_goroutine(ballast_make, NULL))
		return 1;
	for (i = 0; i < NMUT; i++)
		if (!GCHECK(gort_go(mutator, S.m[i]) > 0))
			return 1;
	/* Long marks first, then as many short ones as it takes. */
	end = gort_nanotime() + STRESS_LIMIT_MS * GT_MS;
	while (gc_num() < cycles0 + BALLAST_CYCLES && gort_nanotime() < end)
		gort_sleep(GT_MS);
	tb = gort_nanotime();
	gc_in_goroutine(ballast_drop, NULL);
	while (gc_num() < cycles0 + (uint32_t)S.target && gort_nanotime() < end)
		gort_sleep(GT_MS);
	atomic_store(&S.stop, true);
	if (!gt_sema_wait(&S.done, NMUT, 20000))
		return 1;
	t1 = gort_nanotime();
	gc_in_goroutine(final_check, totals);
	GCHECK(gc_stats(&st));
	for (i = 0; i < NMUT; i++) {
		steps += S.m[i]->steps;
		hops[0] += S.m[i]->hops[0];
		hops[1] += S.m[i]->hops[1];
		hops[2] += S.m[i]->hops[2];
		sent += S.m[i]->sent;
		verifies += S.m[i]->verifies;
		idle += S.m[i]->idle_steps;
		paced += S.m[i]->paced;
		broken |= S.m[i]->broken;
	}
	/* The books balance unless a failure (reported) broke them. */
	if (!broken) {
		GCHECK_EQ(atomic_load(&total_count), totals[0]);
		if (!GCHECK_EQ(0, totals[1]))
			fprintf(stderr, "# node hash sums over all structures do not add up\n");
	}
	S.cycles = st.num_gc - cycles0;
	if (!GCHECK(S.cycles >= (uint32_t)S.target))
		fprintf(stderr, "# only %u cycles in %lld ms\n", S.cycles,
			(long long)((t1 - t0) / GT_MS));
	printf("# %s, %d P: %u cycles (%d with ballast, %.1f s) in %.1f s, "
	       "%llu dirty pages, %llu extra mark rounds, %llu without the last look\n",
	       st.mode, S.v->maxprocs, S.cycles, BALLAST_CYCLES, (double)(tb - t0) / 1e9,
	       (double)(t1 - t0) / 1e9, (unsigned long long)st.dirty_pages,
	       (unsigned long long)st.mark_rounds,
	       (unsigned long long)(st.quiet_looks - st0.quiet_looks));
	printf("# %ld steps (+%ld without allocating, in %ld waits for a cycle), %ld checks, "
	       "race hops a/b/c %ld/%ld/%ld, %ld nodes handed over, %ld live nodes, "
	       "pauses %.1f ms in total\n",
	       steps, idle, paced, verifies, hops[0], hops[1], hops[2], sent, totals[0],
	       (double)st.pause_total_ns / 1e6);
	printf("# %llu assists, which marked %llu KB\n",
	       (unsigned long long)(st.assists - st0.assists),
	       (unsigned long long)((st.assist_bytes - st0.assist_bytes) >> 10));
	/*
	 * gcassist=1: every concurrent cycle has them.  They mark beside the
	 * GC goroutine on 2 Ps; on 1 P only what it shared before yielding,
	 * often nothing new.
	 */
	if (strcmp(st.mode, "stw") && S.v->maxprocs > 1 &&
	    !GCHECK(st.assists > st0.assists && st.assist_bytes > st0.assist_bytes))
		fprintf(stderr, "# no assist marked anything\n");
	return 0;
}

TEST_F_TIMEOUT(stress, lost_objects, STRESS_TIMEOUT)
{
	char dbg[64];

	S.v = variant;
	/* Rounded up after scaling: 6 x 833 fell short of ASan's 5,000. */
	S.target = (gc_scale(TARGET_CYCLES) + NVARIANTS - 1) / NVARIANTS;
	if (S.target < BALLAST_CYCLES + 10)
		S.target = BALLAST_CYCLES + 10;
	S.min_steps = gc_scale(MIN_STEPS);
	/* Concurrent marking even of a small heap, but in stw mode. */
	snprintf(dbg, sizeof(dbg), "gcstress=%d%s", STRESS_N,
		 variant->gcmode && !strcmp(variant->gcmode, "stw") ? "" :
		 ",gcconcurrent=1,gchelper=1,gcassist=1");
	setenv("GORT_DEBUG", dbg, 1);
	if (variant->gcmode)
		setenv("GORT_GCMODE", variant->gcmode, 1);
	else
		unsetenv("GORT_GCMODE");	/* the best the kernel has */
	unsetenv("GORT_GC");
	ASSERT_EQ(0, gt_run(stress_main, NULL, variant->maxprocs));
	if (tally) {
		atomic_fetch_add(&tally->cycles, S.cycles);
		atomic_fetch_add(&tally->runs, 1);
	}
	ASSERT_EQ(0, gt_failed());
	ASSERT_EQ(0, atomic_load(&S.failures_seen));
}

/*
 * The sum over the variants, each of which added its cycles to the
 * shared tally.  A fixture of its own, defined after "stress": fixtures
 * run in the order they are defined (TEST()s' "global" one runs first).
 */
FIXTURE(total) {
};

FIXTURE_SETUP(total)
{
}

FIXTURE_TEARDOWN(total)
{
}

TEST_F(total, cycles)
{
	long want = gc_scale(TARGET_CYCLES);

	ASSERT_NE(NULL, tally);
	if (atomic_load(&tally->runs) < NVARIANTS)
		SKIP(return, "only %d of the %d variants ran", atomic_load(&tally->runs),
		     NVARIANTS);
	printf("# %ld cycles in all %d variants (want %ld)\n", atomic_load(&tally->cycles),
	       NVARIANTS, want);
	ASSERT_GE(atomic_load(&tally->cycles), want);
}

TEST_HARNESS_MAIN
