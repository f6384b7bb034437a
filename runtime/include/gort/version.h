/* SPDX-License-Identifier: MIT */
#ifndef GORT_VERSION_H
#define GORT_VERSION_H

#define GORT_MAJOR_VERSION 0
#define GORT_MINOR_VERSION 1

/* gort_version() - "MAJOR.MINOR" of the library actually loaded. */
const char *gort_version(void);

#endif /* GORT_VERSION_H */
