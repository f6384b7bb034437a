/* SPDX-License-Identifier: MIT */
/*
 * Description: regular files through the netpoller: gort_open,
 * gort_pwrite / gort_pread at offsets, gort_fsync, gort_read /
 * gort_write at the file position, end of file, gort_conn_from_fd.
 *
 * - round_trip: 8 goroutines gort_pwrite() a 1 MiB pattern as 256 chunks
 *   of 4 KiB in a seeded random order, then both gort_fsync() flavours;
 *   the file (plain fstat/pread(2) too) and gort_pread() in random-size
 *   pieces at random offsets must give the pattern back.  pread at and
 *   past end of file returns 0, across it short.
 * - position: gort_write() and gort_read() move the file position as
 *   write(2)/read(2) do (O_APPEND too); a read at end of file returns 0,
 *   again and again; gort_readv/gort_writev on a file; 1 MiB in one call.
 * - from_fd: gort_conn_from_fd() adopts an open(2) descriptor; gort_close
 *   closes it.  -EBADF for a descriptor that is not open.
 * - errors: gort_open of a missing file (-ENOENT), of a directory for
 *   writing (-EISDIR), with O_CREAT|O_EXCL of an existing one (-EEXIST);
 *   gort_pwrite on a read-only file (-EBADF, the kernel's answer).
 *
 * Variants: io_uring and epoll, on 2 Ps.
 */
#include "net_test.h"

#define NT_SEED		0x66696c652d6e7431ULL
#define FILE_SIZE	(1 << 20)
#define CHUNK		4096
#define NR_CHUNKS	(FILE_SIZE / CHUNK)
#define NR_WRITERS	8

FIXTURE(file) {
	char dir[PATH_MAX];
};

FIXTURE_VARIANT(file) {
	const char *poller, *mode;
	int maxprocs;
};

FIXTURE_VARIANT_ADD(file, uring) { .poller = "uring", .mode = "io_uring", .maxprocs = 2, };
FIXTURE_VARIANT_ADD(file, epoll) { .poller = "epoll", .mode = "epoll", .maxprocs = 2, };

static const char *dir;

FIXTURE_SETUP(file)
{
	NT_SETUP_POLLER(variant);
	ASSERT_NE(NULL, nt_mkdtemp(self->dir, sizeof(self->dir)));
	dir = self->dir;
}

FIXTURE_TEARDOWN(file)
{
	nt_rmtree(self->dir);
}

static uint64_t key;

/* ---- round_trip ---- */

static struct {
	struct gort_conn *f;
	int order[NR_CHUNKS];
	atomic_int next;
	uint32_t done;
} rt;

static void pwriter(void *arg)
{
	char *buf = malloc(CHUNK);
	int i;
	ssize_t r;

	if (!GCHECK(buf))
		goto out;
	while ((i = atomic_fetch_add(&rt.next, 1)) < NR_CHUNKS) {
		off_t off = (off_t)rt.order[i] * CHUNK;

		nt_fill(buf, CHUNK, key, (uint64_t)off);
		r = gort_pwrite(rt.f, buf, CHUNK, off);
		if (r != CHUNK) {
			GFAIL("gort_pwrite(%d, at %lld): %zd (%s)", CHUNK,
			      (long long)off, r, r < 0 ? strerror((int)-r) : "short");
			break;
		}
	}
out:
	free(buf);
	gort_sema_release(&rt.done);
}

static int round_trip_main(void *arg)
{
	char path[PATH_MAX + 16], *buf = malloc(FILE_SIZE);
	struct nt_rng rng;
	struct stat stb;
	ssize_t r, bad;
	int i, fd;

	if (!GCHECK(buf))
		return 1;
	snprintf(path, sizeof(path), "%s/round_trip", dir);
	if (!GCHECK_EQ(0, gort_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600, &rt.f)))
		return 1;
	fd = gort_conn_fd(rt.f);
	GCHECK(fd >= 0);
	/* A seeded shuffle of the chunks. */
	nt_seed(&rng, NT_SEED, 1);
	for (i = 0; i < NR_CHUNKS; i++)
		rt.order[i] = i;
	for (i = NR_CHUNKS - 1; i > 0; i--) {
		int j = (int)nt_below(&rng, (uint64_t)i + 1), t = rt.order[i];

		rt.order[i] = rt.order[j];
		rt.order[j] = t;
	}
	for (i = 0; i < NR_WRITERS; i++)
		GCHECK(gort_go(pwriter, NULL) > 0);
	if (!gt_sema_wait(&rt.done, NR_WRITERS, 10000))
		return 1;
	GCHECK_EQ(0, gort_fsync(rt.f, 0));
	GCHECK_EQ(0, gort_fsync(rt.f, 1));
	/* What the kernel has. */
	if (GCHECK_EQ(0, fstat(fd, &stb)))
		GCHECK_EQ(FILE_SIZE, stb.st_size);
	memset(buf, 0, FILE_SIZE);
	if (GCHECK_EQ(FILE_SIZE, pread(fd, buf, FILE_SIZE, 0)) &&
	    (bad = nt_check(buf, FILE_SIZE, key, 0)) >= 0)
		GFAIL("file byte %zd is wrong (pread(2))", bad);
	/* gort_pread of random pieces, seeded. */
	for (i = 0; i < 500; i++) {
		size_t n = nt_size(&rng, 256 << 10);
		off_t off = (off_t)nt_below(&rng, FILE_SIZE);
		size_t want = off + n > FILE_SIZE ? FILE_SIZE - (size_t)off : n;

		memset(buf, 0, n);
		r = gort_pread(rt.f, buf, n, off);
		/* A regular file gives all it has: no short reads before EOF. */
		if (r != (ssize_t)want) {
			GFAIL("gort_pread(%zu at %lld): %zd, want %zu", n,
			      (long long)off, r, want);
			break;
		}
		if ((bad = nt_check(buf, want, key, (uint64_t)off)) >= 0) {
			GFAIL("gort_pread(%zu at %lld): byte %zd is wrong", n,
			      (long long)off, bad);
			break;
		}
	}
	/* End of file. */
	GCHECK_EQ(0, gort_pread(rt.f, buf, 100, FILE_SIZE));
	GCHECK_EQ(0, gort_pread(rt.f, buf, 100, FILE_SIZE + 12345));
	GCHECK_EQ(10, gort_pread(rt.f, buf, 100, FILE_SIZE - 10));
	/* The whole file in one call. */
	memset(buf, 0, FILE_SIZE);
	if (GCHECK_EQ(FILE_SIZE, gort_pread(rt.f, buf, FILE_SIZE, 0)) &&
	    (bad = nt_check(buf, FILE_SIZE, key, 0)) >= 0)
		GFAIL("byte %zd is wrong (one gort_pread of it all)", bad);
	GCHECK_EQ(0, gort_close(rt.f));
	free(buf);
	return 0;
}

TEST_F(file, round_trip)
{
	key = nt_key(NT_SEED, 0);
	ASSERT_EQ(0, nt_run(round_trip_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- position ---- */

static int position_main(void *arg)
{
	char path[PATH_MAX + 16], buf[64], *big = malloc(FILE_SIZE);
	struct iovec iov[3];
	struct gort_conn *f;
	ssize_t bad;
	int fd, i;

	if (!GCHECK(big))
		return 1;
	snprintf(path, sizeof(path), "%s/position", dir);
	if (!GCHECK_EQ(0, gort_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600, &f)))
		return 1;
	fd = gort_conn_fd(f);
	GCHECK_EQ(6, gort_write(f, "hello ", 6));
	GCHECK_EQ(5, gort_write(f, "world", 5));
	GCHECK_EQ(11, lseek(fd, 0, SEEK_CUR));
	/* At end of file: 0, and again 0. */
	GCHECK_EQ(0, gort_read(f, buf, sizeof(buf)));
	GCHECK_EQ(0, gort_read(f, buf, sizeof(buf)));
	GCHECK_EQ(0, lseek(fd, 0, SEEK_SET));
	/* Reads move the position: three 4-byte reads, then the rest. */
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 3; i++)
		GCHECK_EQ(i < 2 ? 4 : 3, gort_read(f, buf + 4 * i, 4));
	GCHECK(!memcmp(buf, "hello world", 11));
	GCHECK_EQ(0, gort_read(f, buf, sizeof(buf)));
	/* pread does not move it. */
	GCHECK_EQ(5, gort_pread(f, buf, 5, 0));
	GCHECK_EQ(11, lseek(fd, 0, SEEK_CUR));
	/* Vectors, at the position. */
	iov[0] = (struct iovec){ .iov_base = "ab", .iov_len = 2 };
	iov[1] = (struct iovec){ .iov_base = "", .iov_len = 0 };
	iov[2] = (struct iovec){ .iov_base = "cde", .iov_len = 3 };
	GCHECK_EQ(5, gort_writev(f, iov, 3));
	GCHECK_EQ(16, lseek(fd, 0, SEEK_CUR));
	GCHECK_EQ(11, lseek(fd, 11, SEEK_SET));
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){ .iov_base = buf, .iov_len = 1 };
	iov[1] = (struct iovec){ .iov_base = buf + 1, .iov_len = 1 };
	iov[2] = (struct iovec){ .iov_base = buf + 2, .iov_len = 10 };
	GCHECK_EQ(5, gort_readv(f, iov, 3));
	GCHECK(!memcmp(buf, "abcde", 5));
	GCHECK_EQ(0, gort_readv(f, iov, 3));
	/* 1 MiB in one gort_write at the position, back in one gort_read. */
	GCHECK_EQ(0, lseek(fd, 0, SEEK_SET));
	nt_fill(big, FILE_SIZE, key, 0);
	GCHECK_EQ(FILE_SIZE, gort_write(f, big, FILE_SIZE));
	GCHECK_EQ(0, lseek(fd, 0, SEEK_SET));
	memset(big, 0, FILE_SIZE);
	if (GCHECK_EQ(FILE_SIZE, nt_read_full(f, big, FILE_SIZE)) &&
	    (bad = nt_check(big, FILE_SIZE, key, 0)) >= 0)
		GFAIL("byte %zd is wrong", bad);
	GCHECK_EQ(0, gort_close(f));
	/* O_APPEND: every write lands at the end. */
	if (GCHECK_EQ(0, gort_open(path, O_WRONLY | O_APPEND, 0, &f))) {
		GCHECK_EQ(3, gort_write(f, "END", 3));
		GCHECK_EQ(0, gort_close(f));
	}
	if (GCHECK_EQ(0, gort_open(path, O_RDONLY, 0, &f))) {
		GCHECK_EQ(3, gort_pread(f, buf, sizeof(buf), FILE_SIZE));
		GCHECK(!memcmp(buf, "END", 3));
		GCHECK_EQ(0, gort_close(f));
	}
	free(big);
	return 0;
}

TEST_F(file, position)
{
	key = nt_key(NT_SEED, 1);
	ASSERT_EQ(0, nt_run(position_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- from_fd ---- */

static int from_fd_main(void *arg)
{
	char path[PATH_MAX + 16], buf[8];
	struct stat before, after;
	struct gort_conn *f;
	int fd, hi;

	snprintf(path, sizeof(path), "%s/from_fd", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!GCHECK(fd >= 0) || !GCHECK_EQ(0, fstat(fd, &before)))
		return 1;
	if (!GCHECK_EQ(0, gort_conn_from_fd(fd, &f)))
		return 1;
	GCHECK_EQ(fd, gort_conn_fd(f));
	GCHECK_EQ(4, gort_pwrite(f, "gort", 4, 0));
	GCHECK_EQ(4, gort_pread(f, buf, sizeof(buf), 0));
	GCHECK(!memcmp(buf, "gort", 4));
	GCHECK_EQ(0, gort_fsync(f, 0));
	GCHECK_EQ(0, gort_close(f));
	/*
	 * gort_close() closed it: the number is free, or the runtime took
	 * it for something else since.
	 */
	if (!fstat(fd, &after) && after.st_dev == before.st_dev &&
	    after.st_ino == before.st_ino)
		GFAIL("fd %d still open after gort_close()", fd);
	/* Not an open descriptor. */
	GCHECK_EQ(-EBADF, gort_conn_from_fd(-1, &f));
	hi = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 900);
	if (GCHECK(hi >= 900)) {
		close(hi);
		GCHECK_EQ(-EBADF, gort_conn_from_fd(hi, &f));
	}
	return 0;
}

TEST_F(file, from_fd)
{
	ASSERT_EQ(0, nt_run(from_fd_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

/* ---- errors ---- */

static int errors_main(void *arg)
{
	char path[PATH_MAX + 16], buf[4];
	struct gort_conn *f;

	snprintf(path, sizeof(path), "%s/missing", dir);
	GCHECK_EQ(-ENOENT, gort_open(path, O_RDONLY, 0, &f));
	GCHECK_EQ(-EISDIR, gort_open(dir, O_RDWR, 0, &f));
	snprintf(path, sizeof(path), "%s/exists", dir);
	if (GCHECK_EQ(0, gort_open(path, O_WRONLY | O_CREAT, 0600, &f)))
		GCHECK_EQ(0, gort_close(f));
	GCHECK_EQ(-EEXIST, gort_open(path, O_WRONLY | O_CREAT | O_EXCL, 0600, &f));
	if (GCHECK_EQ(0, gort_open(path, O_RDONLY, 0, &f))) {
		GCHECK_EQ(-EBADF, gort_pwrite(f, "x", 1, 0));
		GCHECK_EQ(-EBADF, gort_write(f, "x", 1));
		GCHECK_EQ(0, gort_read(f, buf, sizeof(buf)));
		GCHECK_EQ(0, gort_close(f));
	}
	return 0;
}

TEST_F(file, errors)
{
	ASSERT_EQ(0, nt_run(errors_main, NULL, variant->maxprocs));
	ASSERT_EQ(0, gt_failed());
}

TEST_HARNESS_MAIN
