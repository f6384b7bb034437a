/* SPDX-License-Identifier: MIT */
/*
 * atomic.h - the C11 atomic operations the runtime uses, on plain types.
 *
 * The runtime's shared fields are plain integers and pointers accessed
 * only through these macros (GCC/Clang __atomic builtins), not _Atomic
 * types: BTF generated from DWARF by pahole 1.24 (Debian 12) cannot
 * describe _Atomic and would type every such field "void", leaving
 * CO-RE eBPF programs nothing to read.  The names and semantics are
 * <stdatomic.h>'s, so the code reads the same; never include both.
 * A field written with these macros must never be accessed plainly
 * while other threads can reach it.
 */
#ifndef GORT_ATOMIC_H
#define GORT_ATOMIC_H

#define memory_order_relaxed	__ATOMIC_RELAXED
#define memory_order_acquire	__ATOMIC_ACQUIRE
#define memory_order_release	__ATOMIC_RELEASE
#define memory_order_acq_rel	__ATOMIC_ACQ_REL
#define memory_order_seq_cst	__ATOMIC_SEQ_CST

#define atomic_load_explicit(p, mo)		__atomic_load_n(p, mo)
#define atomic_load(p)				__atomic_load_n(p, __ATOMIC_SEQ_CST)
#define atomic_store_explicit(p, v, mo)		__atomic_store_n(p, v, mo)
#define atomic_store(p, v)			__atomic_store_n(p, v, __ATOMIC_SEQ_CST)
#define atomic_exchange_explicit(p, v, mo)	__atomic_exchange_n(p, v, mo)
#define atomic_exchange(p, v)			__atomic_exchange_n(p, v, __ATOMIC_SEQ_CST)
#define atomic_fetch_add_explicit(p, v, mo)	__atomic_fetch_add(p, v, mo)
#define atomic_fetch_add(p, v)			__atomic_fetch_add(p, v, __ATOMIC_SEQ_CST)
#define atomic_fetch_sub_explicit(p, v, mo)	__atomic_fetch_sub(p, v, mo)
#define atomic_fetch_sub(p, v)			__atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST)
#define atomic_compare_exchange_strong_explicit(p, e, d, s, f) \
	__atomic_compare_exchange_n(p, e, d, 0, s, f)
#define atomic_compare_exchange_strong(p, e, d) \
	__atomic_compare_exchange_n(p, e, d, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define atomic_compare_exchange_weak_explicit(p, e, d, s, f) \
	__atomic_compare_exchange_n(p, e, d, 1, s, f)
#define atomic_compare_exchange_weak(p, e, d) \
	__atomic_compare_exchange_n(p, e, d, 1, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

#endif /* GORT_ATOMIC_H */
