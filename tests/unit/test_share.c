/*
 * Cross-job serialization (fiob_share.c): two jobs' writes of one file, in
 * the process table and with lock files; what crosses jobs (grants), what
 * does not (other files, adjacent ranges), order on the same bytes, and
 * cleanup of what a job leaves behind.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "fiob_share.h"
#include "fiob_test.h"

#define DEPTH 4
#define BLK 4096

struct two {
	struct fiob_share_job a, b;
	struct fiob_share_member ma, mb;
};

/* Two jobs on one file; OFD files are named by this process (unique). */
static int open_two(struct two *t, enum fiob_share_kind kind)
{
	uint64_t dev = 0xf10b, ino = (uint64_t)getpid();
	int ret;

	memset(t, 0, sizeof(*t));
	ret = fiob_share_open(&t->a, DEPTH, 2 * DEPTH, kind, dev, ino, &t->ma);
	if (!ret)
		ret = fiob_share_open(&t->b, DEPTH, 2 * DEPTH, kind, dev, ino,
				      &t->mb);
	return ret;
}

static void close_two(struct two *t, enum fiob_share_kind kind)
{
	char path[96];

	fiob_share_close(&t->a, &t->ma);
	fiob_share_close(&t->b, &t->mb);
	fiob_share_job_exit(&t->a);
	fiob_share_job_exit(&t->b);
	if (kind == FIOB_SHARE_OFD &&
	    !fiob_share_lock_path(path, sizeof(path), 0xf10b, getpid()))
		unlink(path);
}

/* A's RMW window holds; B's write into the same block waits until A ends. */
static void rmw_window_excludes_other_job(enum fiob_share_kind kind)
{
	struct two t;

	FT_EQ(open_two(&t, kind), 0);
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 0, 0, BLK, 0, 1000, true));
	FT_ASSERT(!fiob_share_acquire(&t.b, &t.mb, 2, 0, BLK, 1000, 2000,
				      true));
	FT_ASSERT(fiob_share_waiting(&t.b));
	FT_EQ(fiob_share_collect(&t.b), 0);
	fiob_share_release(&t.a, 0);
	FT_EQ(fiob_share_collect(&t.b), 1);
	FT_EQ(t.b.ready[0], 2);
	FT_ASSERT(!fiob_share_waiting(&t.b));
	/* Held now: asking again (start() does) is a yes, not a second lock. */
	FT_ASSERT(fiob_share_acquire(&t.b, &t.mb, 2, 0, BLK, 1000, 2000, true));
	fiob_share_release(&t.b, 2);
	/* Both gone: A gets the block again at once. */
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 1, 0, BLK, 0, 1000, true));
	fiob_share_release(&t.a, 1);
	close_two(&t, kind);
}

static void table_rmw_window_excludes_other_job(void)
{
	rmw_window_excludes_other_job(FIOB_SHARE_TABLE);
}

static void ofd_rmw_window_excludes_other_job(void)
{
	rmw_window_excludes_other_job(FIOB_SHARE_OFD);
}

/* Adjacent windows of two jobs never exclude each other. */
static void adjacent_windows_run_together(enum fiob_share_kind kind)
{
	struct two t;

	FT_EQ(open_two(&t, kind), 0);
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 0, 0, BLK, 0, 1000, true));
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 1, BLK, 2 * BLK, BLK,
				     BLK + 1000, true));
	FT_ASSERT(fiob_share_acquire(&t.b, &t.mb, 0, 2 * BLK, 3 * BLK,
				     2 * BLK, 2 * BLK + 1000, true));
	/* Releasing A's first window leaves its second held (OFD: split). */
	fiob_share_release(&t.a, 0);
	FT_ASSERT(fiob_share_acquire(&t.b, &t.mb, 1, 0, BLK, 0, 1000, true));
	FT_ASSERT(!fiob_share_acquire(&t.b, &t.mb, 2, BLK, 2 * BLK, BLK,
				      BLK + 1000, true));
	fiob_share_release(&t.a, 1);
	FT_EQ(fiob_share_collect(&t.b), 1);
	fiob_share_release(&t.b, 0);
	fiob_share_release(&t.b, 1);
	fiob_share_release(&t.b, 2);
	close_two(&t, kind);
}

static void table_adjacent_windows_run_together(void)
{
	adjacent_windows_run_together(FIOB_SHARE_TABLE);
}

static void ofd_adjacent_windows_run_together(void)
{
	adjacent_windows_run_together(FIOB_SHARE_OFD);
}

/* Another file (another inode) never conflicts. */
static void table_other_file_is_independent(void)
{
	struct fiob_share_job a = { 0 }, b = { 0 };
	struct fiob_share_member ma, mb;

	FT_EQ(fiob_share_open(&a, DEPTH, 2 * DEPTH, FIOB_SHARE_TABLE, 7, 1,
			      &ma), 0);
	FT_EQ(fiob_share_open(&b, DEPTH, 2 * DEPTH, FIOB_SHARE_TABLE, 7, 2,
			      &mb), 0);
	FT_ASSERT(fiob_share_acquire(&a, &ma, 0, 0, BLK, 0, 1000, true));
	FT_ASSERT(fiob_share_acquire(&b, &mb, 0, 0, BLK, 0, 1000, true));
	fiob_share_release(&a, 0);
	fiob_share_release(&b, 0);
	fiob_share_close(&a, &ma);
	fiob_share_close(&b, &mb);
	fiob_share_job_exit(&a);
	fiob_share_job_exit(&b);
}

/*
 * Same bytes keep their order across jobs: B's write waits behind A's RMW;
 * A's later plain write of the same bytes must not pass B's waiting one.
 */
static void table_same_bytes_keep_order(void)
{
	struct two t;

	FT_EQ(open_two(&t, FIOB_SHARE_TABLE), 0);
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 0, 0, BLK, 0, 1000, true));
	FT_ASSERT(!fiob_share_acquire(&t.b, &t.mb, 0, 0, BLK, 500, 1500,
				      true));
	FT_ASSERT(!fiob_share_acquire(&t.a, &t.ma, 1, 1000, 1500, 1000, 1500,
				      false));
	fiob_share_release(&t.a, 0);
	FT_EQ(fiob_share_collect(&t.a), 0);	/* B's goes first */
	FT_EQ(fiob_share_collect(&t.b), 1);
	fiob_share_release(&t.b, 0);
	FT_EQ(fiob_share_collect(&t.a), 1);
	FT_EQ(t.a.ready[0], 1);
	fiob_share_release(&t.a, 1);
	close_two(&t, FIOB_SHARE_TABLE);
}

/* A job that ends with a write still waiting does not block the others. */
static void table_exit_with_waiter_unblocks_others(void)
{
	struct two t;

	FT_EQ(open_two(&t, FIOB_SHARE_TABLE), 0);
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 0, 0, BLK, 0, 1000, true));
	FT_ASSERT(!fiob_share_acquire(&t.b, &t.mb, 0, 0, BLK, 500, 1500,
				      true));
	/* B goes away with its write queued behind A's. */
	fiob_share_close(&t.b, &t.mb);
	fiob_share_job_exit(&t.b);
	fiob_share_release(&t.a, 0);
	/* Without the cancel, A's write of B's bytes would wait forever. */
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 1, 0, BLK, 500, 1500,
				     true));
	fiob_share_release(&t.a, 1);
	fiob_share_close(&t.a, &t.ma);
	fiob_share_job_exit(&t.a);
}

/* The process table has room for the jobs it was sized for, no more. */
static void table_refuses_more_ids_than_sized(void)
{
	struct fiob_share_job a = { 0 }, b = { 0 };
	struct fiob_share_member ma, mb;

	FT_EQ(fiob_share_open(&a, DEPTH, DEPTH + 1, FIOB_SHARE_TABLE, 9, 9,
			      &ma), 0);
	FT_EQ(fiob_share_open(&b, DEPTH, DEPTH + 1, FIOB_SHARE_TABLE, 9, 9,
			      &mb), -ENOSPC);
	fiob_share_job_exit(&b);
	fiob_share_close(&a, &ma);
	fiob_share_job_exit(&a);
	/* Once the last job left, the table is made again at the new size. */
	FT_EQ(fiob_share_open(&a, DEPTH, 2 * DEPTH, FIOB_SHARE_TABLE, 9, 9,
			      &ma), 0);
	FT_EQ(fiob_share_open(&b, DEPTH, 2 * DEPTH, FIOB_SHARE_TABLE, 9, 9,
			      &mb), 0);
	fiob_share_close(&a, &ma);
	fiob_share_close(&b, &mb);
	fiob_share_job_exit(&a);
	fiob_share_job_exit(&b);
}

/* A lock to the end of any file (a window write past EOF) blocks beyond. */
static void ofd_window_past_eof_owns_the_rest(void)
{
	struct two t;

	FT_EQ(open_two(&t, FIOB_SHARE_OFD), 0);
	FT_ASSERT(fiob_share_acquire(&t.a, &t.ma, 0, BLK, UINT64_MAX, BLK,
				     BLK + 10, true));
	FT_ASSERT(!fiob_share_acquire(&t.b, &t.mb, 0, 1ull << 40,
				      (1ull << 40) + BLK, 1ull << 40,
				      (1ull << 40) + 10, true));
	FT_ASSERT(fiob_share_acquire(&t.b, &t.mb, 1, 0, BLK, 0, 10, true));
	fiob_share_release(&t.a, 0);
	FT_EQ(fiob_share_collect(&t.b), 1);
	fiob_share_release(&t.b, 0);
	fiob_share_release(&t.b, 1);
	close_two(&t, FIOB_SHARE_OFD);
}

FT_MAIN(
	FT_RUN(table_rmw_window_excludes_other_job);
	FT_RUN(ofd_rmw_window_excludes_other_job);
	FT_RUN(table_adjacent_windows_run_together);
	FT_RUN(ofd_adjacent_windows_run_together);
	FT_RUN(table_other_file_is_independent);
	FT_RUN(table_same_bytes_keep_order);
	FT_RUN(table_exit_with_waiter_unblocks_others);
	FT_RUN(table_refuses_more_ids_than_sized);
	FT_RUN(ofd_window_past_eof_owns_the_rest)
)
