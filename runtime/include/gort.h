/* SPDX-License-Identifier: MIT */
/*
 * gort.h - umbrella header for libgort, a Go-style runtime for C on Linux.
 *
 * Include this one header; the pieces live in gort/<area>.h.
 */
#ifndef GORT_H
#define GORT_H

#include <gort/version.h>
#include <gort/sched.h>
#include <gort/sync.h>
#include <gort/malloc.h>
#include <gort/chan.h>
#include <gort/gc.h>
#include <gort/slice.h>
#include <gort/map.h>
#include <gort/syncmap.h>
#include <gort/net.h>

#endif /* GORT_H */
