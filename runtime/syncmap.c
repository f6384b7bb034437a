// SPDX-License-Identifier: MIT
/*
 * syncmap.c - Go's sync.Map (Documentation/map.rst).
 *
 * Two gort maps from key to struct entry *:
 *  - read: a struct readonly published with release and never written
 *    after, so loads take no lock; @amended says dirty holds keys that
 *    read lacks.
 *  - dirty: under mu, a superset of read's live keys once it exists.
 * An entry is shared by both maps; its word p is the value:
 *
 *	DELETED		deleted (from read; dirty, if any, still has it)
 *	EXPUNGED	deleted, and absent from dirty (dirty was built
 *			without it): re-storing it needs mu, to add it there
 *	NILVAL		the value NULL
 *	other		the value
 *
 * Invariant: an entry is EXPUNGED only while dirty is non-NULL and lacks
 * it; it goes back to DELETED under mu, as the key returns to dirty.
 * A lookup that misses read and goes to dirty counts a miss; after as
 * many misses as dirty has entries, dirty becomes the new read.
 */
#include <stdint.h>

#include <gort/syncmap.h>
#include "internal.h"

struct readonly {
	struct gort_map *m;
	bool amended;
};

struct entry {
	void *p;
};

static char expunged_, nilval_;
#define DELETED		((void *)0)
#define EXPUNGED	((void *)&expunged_)
#define NILVAL		((void *)&nilval_)

static const struct readonly emptyread;

static inline void *encode(void *v)
{
	return v ? v : NILVAL;
}

static inline void *decode(void *p)
{
	return p == NILVAL ? NULL : p;
}

static inline bool live(void *p)
{
	return p != DELETED && p != EXPUNGED;
}

static void checktype(const struct gort_syncmap *m)
{
	if (unlikely(!m->t || m->t->valsize != sizeof(void *) ||
		     !(m->t->flags & GORT_MAP_VALPTRS)))
		fatal("gort_syncmap: key type needs valsize sizeof(void *) and GORT_MAP_VALPTRS");
}

static inline const struct readonly *loadread(struct gort_syncmap *m)
{
	const struct readonly *r = __atomic_load_n((struct readonly **)&m->read, __ATOMIC_ACQUIRE);

	return r ? r : &emptyread;
}

static void storeread(struct gort_syncmap *m, struct gort_map *map, bool amended)
{
	struct readonly *r = newobject(sizeof(*r), 0);

	r->m = map;
	r->amended = amended;
	__atomic_store_n((struct readonly **)&m->read, r, __ATOMIC_RELEASE);
}

static inline struct entry *lookup(struct gort_map *map, const void *key)
{
	struct entry **e = gort_map_get(map, key);

	return e ? *e : NULL;
}

static inline void *loadp(struct entry *e)
{
	return __atomic_load_n(&e->p, __ATOMIC_ACQUIRE);
}

static inline bool casp(struct entry *e, void **old, void *new)
{
	return __atomic_compare_exchange_n(&e->p, old, new, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

static struct entry *newentry(void *val)
{
	struct entry *e = newobject(sizeof(*e), 0);

	e->p = encode(val);
	return e;
}

/* A miss in read under mu: after len(dirty) of them, dirty becomes read. */
static void misslocked(struct gort_syncmap *m)
{
	if (++m->misses < gort_map_len(m->dirty))
		return;
	storeread(m, m->dirty, false);
	m->dirty = NULL;
	m->misses = 0;
}

/* Under mu: build dirty from read, expunging the deleted entries. */
static void dirtylocked(struct gort_syncmap *m)
{
	const struct readonly *r = loadread(m);
	struct gort_map_iter it;

	if (m->dirty)
		return;
	m->dirty = gort_map_make(m->t, gort_map_len(r->m));
	for (gort_map_iter_init(&it, r->m); gort_map_iter_next(&it);) {
		struct entry *e = *(struct entry **)it.val;
		void *p = loadp(e);

		while (p == DELETED)
			if (casp(e, &p, EXPUNGED))
				break;
		if (p != DELETED && p != EXPUNGED)
			*(struct entry **)gort_map_set(m->dirty, it.key) = e;
	}
}

/* Under mu, for an entry found in read: back into dirty if expunged. */
static void unexpungelocked(struct gort_syncmap *m, const void *key, struct entry *e)
{
	void *p = EXPUNGED;

	if (casp(e, &p, DELETED))
		*(struct entry **)gort_map_set(m->dirty, key) = e;
}

__export bool gort_syncmap_load(struct gort_syncmap *m, const void *key, void **val)
{
	const struct readonly *r;
	struct entry *e;
	void *p;

	checktype(m);
	r = loadread(m);
	e = lookup(r->m, key);
	if (!e && r->amended) {
		gort_mutex_lock(&m->mu);
		r = loadread(m);
		e = lookup(r->m, key);
		if (!e && r->amended) {
			e = lookup(m->dirty, key);
			misslocked(m);
		}
		gort_mutex_unlock(&m->mu);
	}
	if (!e || !live(p = loadp(e)))
		return false;
	if (val)
		*val = decode(p);
	return true;
}

/* Swap the value of a key found in read, unless expunged. */
static bool tryswap(struct entry *e, void *new, void **prev)
{
	void *p = loadp(e);

	do {
		if (p == EXPUNGED)
			return false;
	} while (!casp(e, &p, new));
	*prev = p;
	return true;
}

__export bool gort_syncmap_swap(struct gort_syncmap *m, const void *key, void *val, void **prev)
{
	const struct readonly *r;
	struct entry *e;
	void *p = DELETED, *v = encode(val);

	checktype(m);
	r = loadread(m);
	e = lookup(r->m, key);
	if (e && tryswap(e, v, &p))
		goto out;

	gort_mutex_lock(&m->mu);
	r = loadread(m);
	if ((e = lookup(r->m, key))) {
		unexpungelocked(m, key, e);
		p = __atomic_exchange_n(&e->p, v, __ATOMIC_ACQ_REL);
	} else if ((e = lookup(m->dirty, key))) {
		p = __atomic_exchange_n(&e->p, v, __ATOMIC_ACQ_REL);
	} else {
		if (!r->amended) {
			dirtylocked(m);
			storeread(m, r->m, true);
		}
		*(struct entry **)gort_map_set(m->dirty, key) = newentry(val);
		p = DELETED;
	}
	gort_mutex_unlock(&m->mu);
out:
	if (!live(p))
		return false;
	if (prev)
		*prev = decode(p);
	return true;
}

__export void gort_syncmap_store(struct gort_syncmap *m, const void *key, void *val)
{
	gort_syncmap_swap(m, key, val, NULL);
}

/*
 * Load, or store @v if deleted; false if expunged (the caller takes mu).
 * *@loaded: whether it loaded; *@actual: the value loaded or stored.
 */
static bool tryloadorstore(struct entry *e, void *v, bool *loaded, void **actual)
{
	void *p = loadp(e);

	for (;;) {
		if (p == EXPUNGED)
			return false;
		if (p != DELETED) {
			*loaded = true;
			*actual = decode(p);
			return true;
		}
		if (casp(e, &p, v)) {
			*loaded = false;
			*actual = decode(v);
			return true;
		}
	}
}

__export bool gort_syncmap_load_or_store(struct gort_syncmap *m, const void *key, void *val,
					 void **actual)
{
	const struct readonly *r;
	struct entry *e;
	void *v = encode(val), *a = val;
	bool loaded = false;

	checktype(m);
	r = loadread(m);
	e = lookup(r->m, key);
	if (e && tryloadorstore(e, v, &loaded, &a))
		goto out;

	gort_mutex_lock(&m->mu);
	r = loadread(m);
	if ((e = lookup(r->m, key))) {
		unexpungelocked(m, key, e);
		tryloadorstore(e, v, &loaded, &a);
	} else if ((e = lookup(m->dirty, key))) {
		tryloadorstore(e, v, &loaded, &a);
		misslocked(m);
	} else {
		if (!r->amended) {
			dirtylocked(m);
			storeread(m, r->m, true);
		}
		*(struct entry **)gort_map_set(m->dirty, key) = newentry(val);
		loaded = false;
		a = val;
	}
	gort_mutex_unlock(&m->mu);
out:
	if (actual)
		*actual = a;
	return loaded;
}

/* The entry of @key for a delete or compare: read, else dirty (a miss). */
static struct entry *find(struct gort_syncmap *m, const void *key, bool deletedirty)
{
	const struct readonly *r = loadread(m);
	struct entry *e = lookup(r->m, key);

	if (!e && r->amended) {
		gort_mutex_lock(&m->mu);
		r = loadread(m);
		e = lookup(r->m, key);
		if (!e && r->amended) {
			e = lookup(m->dirty, key);
			if (deletedirty)
				gort_map_delete(m->dirty, key);
			misslocked(m);
		}
		gort_mutex_unlock(&m->mu);
	}
	return e;
}

__export bool gort_syncmap_load_and_delete(struct gort_syncmap *m, const void *key, void **val)
{
	struct entry *e;
	void *p;

	checktype(m);
	e = find(m, key, true);
	if (!e)
		return false;
	p = loadp(e);
	do {
		if (!live(p))
			return false;
	} while (!casp(e, &p, DELETED));
	if (val)
		*val = decode(p);
	return true;
}

__export void gort_syncmap_delete(struct gort_syncmap *m, const void *key)
{
	gort_syncmap_load_and_delete(m, key, NULL);
}

/* Replace @e's value @o with @new (DELETED: delete it), atomically. */
static bool casvalue(struct entry *e, void *o, void *new)
{
	void *p = loadp(e);

	do {
		if (p != o)
			return false;
	} while (!casp(e, &p, new));
	return true;
}

__export bool gort_syncmap_compare_and_swap(struct gort_syncmap *m, const void *key, void *old,
					    void *new)
{
	struct entry *e;

	checktype(m);
	e = find(m, key, false);
	return e && casvalue(e, encode(old), encode(new));
}

__export bool gort_syncmap_compare_and_delete(struct gort_syncmap *m, const void *key, void *old)
{
	struct entry *e;

	checktype(m);
	e = find(m, key, false);
	return e && casvalue(e, encode(old), DELETED);
}

__export void gort_syncmap_range(struct gort_syncmap *m,
				 bool (*f)(const void *key, void *val, void *arg), void *arg)
{
	const struct readonly *r;
	struct gort_map_iter it;

	checktype(m);
	r = loadread(m);
	if (r->amended) {
		/* Promote dirty: a Range costs O(n) anyway. */
		gort_mutex_lock(&m->mu);
		r = loadread(m);
		if (r->amended) {
			storeread(m, m->dirty, false);
			r = loadread(m);
			m->dirty = NULL;
			m->misses = 0;
		}
		gort_mutex_unlock(&m->mu);
	}
	for (gort_map_iter_init(&it, r->m); gort_map_iter_next(&it);) {
		void *p = loadp(*(struct entry **)it.val);

		if (!live(p))
			continue;
		if (!f(it.key, decode(p), arg))
			break;
	}
}
