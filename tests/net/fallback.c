// SPDX-License-Identifier: MIT
/*
 * fallback.c - the poller is chosen automatically: where io_uring is
 * blocked (a container's seccomp profile), gort falls back to epoll and
 * works; a forced io_uring that cannot work is a clear fatal error.
 *
 * Each case runs in a child that installs a seccomp filter making
 * io_uring_setup(2) fail with EPERM, as Docker's default profile does,
 * then starts the runtime.
 */
#include "../gort_test.h"

#include <gort/net.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif

static int block_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = GT_ARRAY_SIZE(f), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

struct pingctx {
	struct gort_conn *ln;
	int got;
};

static void pong(void *arg)
{
	struct pingctx *p = arg;
	struct gort_conn *c;
	char b;

	if (!GCHECK_EQ(0, gort_accept(p->ln, &c)))
		return;
	GCHECK_EQ(1, gort_read(c, &b, 1));
	GCHECK_EQ(1, gort_write(c, &b, 1));
	gort_close(c);
}

/* One byte there and back over loopback: the poller works. */
static int ping_main(void *arg)
{
	struct pingctx p = { 0 };
	struct gort_conn *c;
	char addr[64], b = 'x';

	(void)arg;
	fprintf(stderr, "mode=%s\n", gort_netpoll_mode());
	if (!GCHECK_EQ(0, gort_listen("tcp", "127.0.0.1:0", &p.ln)))
		return 1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", gort_local_port(p.ln));
	gort_go(pong, &p);
	if (!GCHECK_EQ(0, gort_dial("tcp", addr, 5 * 1000 * GT_MS, &c)))
		return 1;
	GCHECK_EQ(1, gort_write(c, &b, 1));
	b = 0;
	GCHECK_EQ(1, gort_read(c, &b, 1));
	GCHECK_EQ('x', b);
	gort_close(c);
	gort_close(p.ln);
	return gt_failed() ? 1 : 0;
}

static int blocked_child(void *arg)
{
	int err = block_io_uring();

	if (err) {
		fprintf(stderr, "seccomp: %s\n", strerror(-err));
		return 4;
	}
	return gort_main(ping_main, arg, NULL);
}

TEST(seccomp_blocks_io_uring)
{
	struct gt_child c;

	unsetenv("GORT_NETPOLL");
	setenv("GORT_DEBUG", "verbose=1", 1);
	ASSERT_EQ(0, gt_fork_capture(&c, blocked_child, NULL, 20000));
	TH_LOG("child said: %s", c.out);
	if (gt_exit_code(&c) == 4)
		SKIP(gt_child_free(&c); return, "cannot install a seccomp filter here");
	EXPECT_EQ(0, gt_exit_code(&c));
	EXPECT_NE(NULL, strstr(c.out, "mode=epoll"));
	/* The choice is reported, with the reason. */
	EXPECT_NE(NULL, strstr(c.out, "netpoll: epoll"));
	EXPECT_NE(NULL, strstr(c.out, "Operation not permitted"));
	gt_child_free(&c);
}

TEST(forced_uring_blocked_is_fatal)
{
	struct gt_child c;

	setenv("GORT_NETPOLL", "uring", 1);
	unsetenv("GORT_DEBUG");
	ASSERT_EQ(0, gt_fork_capture(&c, blocked_child, NULL, 20000));
	if (gt_exit_code(&c) == 4)
		SKIP(gt_child_free(&c); return, "cannot install a seccomp filter here");
	EXPECT_NE(0, gt_exit_code(&c));
	EXPECT_NE(NULL, strstr(c.out, "GORT_NETPOLL=uring: io_uring is not usable"));
	gt_child_free(&c);
}

TEST(bad_env_is_fatal)
{
	struct gt_child c;

	setenv("GORT_NETPOLL", "kqueue", 1);
	ASSERT_EQ(0, gt_fork_capture(&c, blocked_child, NULL, 20000));
	if (gt_exit_code(&c) == 4)
		SKIP(gt_child_free(&c); return, "cannot install a seccomp filter here");
	EXPECT_NE(0, gt_exit_code(&c));
	EXPECT_NE(NULL, strstr(c.out, "GORT_NETPOLL=kqueue: want uring or epoll"));
	gt_child_free(&c);
}

/* Unblocked, by default: io_uring, and it says so. */
static int free_child(void *arg)
{
	return gort_main(ping_main, arg, NULL);
}

TEST(default_is_io_uring)
{
	struct gt_child c;

	if (syscall(__NR_io_uring_setup, 0, NULL) == -1 && errno != EINVAL && errno != EFAULT)
		SKIP(return, "io_uring_setup: %s", strerror(errno));
	unsetenv("GORT_NETPOLL");
	setenv("GORT_DEBUG", "verbose=1", 1);
	ASSERT_EQ(0, gt_fork_capture(&c, free_child, NULL, 20000));
	EXPECT_EQ(0, gt_exit_code(&c));
	EXPECT_NE(NULL, strstr(c.out, "mode=io_uring"));
	EXPECT_NE(NULL, strstr(c.out, "netpoll: io_uring ("));
	gt_child_free(&c);
}

TEST_HARNESS_MAIN
