/*
 * The overlap table, directed cases: range edges, who waits for whom, the
 * sequential-write pattern, passing and its bound. (test_overlap_model.c
 * checks random operations against a reference model.)
 */
#include <stdbool.h>
#include <stdint.h>

#include "fiob_overlap.h"
#include "fiob_test.h"

static struct fiob_ovl T;

#define ACQ(id, f, s, e, ty)	fiob_ovl_acquire(&T, id, f, s, e, FIOB_OVL_##ty)

static void adjacent_ranges_do_not_conflict(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 100, 200, EXCL));
	FT_ASSERT(ACQ(1, 0, 200, 300, EXCL));	/* [b, c) after [a, b) */
	FT_ASSERT(ACQ(2, 0, 0, 100, EXCL));	/* [a0, a) before [a, b) */
	FT_ASSERT(ACQ(3, 0, 300, 301, WRITE));
	FT_EQ(T.nr_active, 4);
	FT_EQ(T.nr_active_excl, 3);
	fiob_ovl_exit(&T);
}

static void one_byte_overlap_conflicts(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 100, 200, EXCL));
	FT_ASSERT(!ACQ(1, 0, 199, 200, READ));
	FT_ASSERT(!ACQ(2, 0, 0, 101, WRITE));
	FT_EQ(T.nr_waiting, 2);
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_exit(&T);
}

static void different_files_do_not_conflict(void)
{
	FT_EQ(fiob_ovl_init(&T, 3), 0);
	FT_ASSERT(ACQ(0, 0, 0, 4096, EXCL));
	FT_ASSERT(ACQ(1, 1, 0, 4096, EXCL));
	FT_ASSERT(ACQ(2, 2, 0, UINT64_MAX, EXCL));
	fiob_ovl_exit(&T);
}

static void read_and_write_never_conflict_and_reads_leave_no_entry(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 100, WRITE));
	FT_ASSERT(ACQ(1, 0, 0, 100, WRITE));
	FT_ASSERT(ACQ(2, 0, 50, 60, READ));
	FT_EQ(T.e[2].state, FIOB_OVL_IDLE);	/* reads are not kept */
	FT_ASSERT(!fiob_ovl_busy(&T));
	fiob_ovl_release(&T, 0);
	fiob_ovl_release(&T, 1);
	/* An RMW write does not wait for a read in flight. */
	FT_ASSERT(ACQ(3, 0, 0, 100, EXCL));
	FT_ASSERT(fiob_ovl_busy(&T));
	fiob_ovl_release(&T, 2);		/* the read: a no-op */
	FT_EQ(T.nr_active, 1);
	fiob_ovl_exit(&T);
}

static void uint64_max_end_conflicts_with_the_last_bytes(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 4096, UINT64_MAX, EXCL));
	FT_ASSERT(!ACQ(1, 0, UINT64_MAX - 1, UINT64_MAX, WRITE));
	FT_ASSERT(ACQ(2, 0, 0, 4096, WRITE));	/* just below: free */
	FT_ASSERT(!ACQ(3, 0, 4095, 4097, READ));
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_exit(&T);
}

static void arrival_queues_behind_conflicting_waiter_not_only_active(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	FT_ASSERT(!ACQ(1, 0, 5, 20, EXCL));
	FT_ASSERT(!ACQ(2, 0, 15, 20, WRITE));	/* free of 0, not of 1 */
	FT_ASSERT(!ACQ(3, 0, 15, 16, READ));
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 2 and 3 conflict with 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.nr_waiting, 0);
	fiob_ovl_exit(&T);
}

static void later_waiter_passes_earlier_one_it_does_not_conflict_with(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	FT_ASSERT(ACQ(1, 0, 20, 30, EXCL));
	FT_ASSERT(!ACQ(2, 0, 0, 10, WRITE));	/* behind 0 */
	FT_ASSERT(!ACQ(3, 0, 20, 30, WRITE));	/* behind 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.wait_head, 2);
	FT_EQ(T.wait_tail, 2);
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(T.wait_head, -1);
	FT_EQ(T.wait_tail, -1);
	/* The tail moved back correctly: a new waiter links and pops. */
	FT_ASSERT(ACQ(0, 0, 0, 5, EXCL) == false);
	fiob_ovl_release(&T, 2);
	FT_EQ(fiob_ovl_pop_ready(&T), 0);
	fiob_ovl_exit(&T);
}

/* Sequential 1000-byte RMW writes on 4096-byte blocks, as fio queues them. */
#define SEQ_BS		1000
#define SEQ_BLOCK	4096

static bool acquire_seq_write(uint32_t id, uint32_t k)
{
	uint64_t off = (uint64_t)k * SEQ_BS;
	uint64_t ws = off / SEQ_BLOCK * SEQ_BLOCK;
	uint64_t we = (off + SEQ_BS + SEQ_BLOCK - 1) / SEQ_BLOCK * SEQ_BLOCK;

	return fiob_ovl_acquire_bytes(&T, id, 0, ws, we, off, off + SEQ_BS,
				      FIOB_OVL_EXCL);
}

/*
 * 32 sequential writes queued at once. Every write shares a block with the
 * next, so ordering windows would start exactly one; the writes that have
 * a block to themselves in flight start at once, one per block, and after
 * that every completion starts the next write of its block.
 */
static void sequential_writes_run_one_per_block_in_parallel(void)
{
	uint32_t k, started = 0, done = 0, rounds = 0;
	int w;

	FT_EQ(fiob_ovl_init(&T, 32), 0);
	for (k = 0; k < 32; k++)
		started += acquire_seq_write(k, k);
	/* 0, 5, 9, 13, 17, 21, 25, 29: the first write of blocks 0, 1, 2.. */
	FT_EQ(started, 8);
	FT_EQ(T.e[0].state, FIOB_OVL_ACTIVE);
	FT_EQ(T.e[5].state, FIOB_OVL_ACTIVE);
	FT_EQ(T.e[4].state, FIOB_OVL_WAITING);	/* blocks 0 and 1 */
	/* Complete everything in flight, round after round. */
	while (done < 32) {
		uint32_t active[32], n = 0, i;

		for (w = T.active_head; w != -1; w = T.e[w].next)
			active[n++] = (uint32_t)w;
		FT_ASSERT(n > 0);
		for (i = 0; i < n; i++) {
			fiob_ovl_release(&T, active[i]);
			done++;
			while (fiob_ovl_pop_ready(&T) >= 0)
				;
		}
		rounds++;
	}
	FT_EQ(T.nr_waiting, 0);
	/* One at a time would take 32 rounds; one block's chain is 5 long. */
	FT_ASSERT(rounds <= 12);
	fiob_ovl_exit(&T);
}

/*
 * The same stream in steady state: each unit of time, everything in flight
 * completes (one RMW each) and fio queues a new write in each freed place.
 * Writes done per unit is what scheduling allows, with a device of no
 * limit: ordering windows gave 1.0 at any depth; blocks in parallel give
 * about depth / 2.7 (3.5 at depth 8, 11.9 at 32; 1.0 at depth 1 and 2).
 */
static double seq_writes_per_unit(uint32_t depth)
{
	uint32_t id, n, i, units = 4000, next_k = 0, done = 0;
	uint32_t active[64];
	int w;

	if (fiob_ovl_init(&T, depth))
		return -1;
	for (id = 0; id < depth; id++)
		acquire_seq_write(id, next_k++);
	for (i = 0; i < units; i++) {
		n = 0;
		for (w = T.active_head; w != -1; w = T.e[w].next)
			active[n++] = (uint32_t)w;
		while (n--) {
			fiob_ovl_release(&T, active[n]);
			done++;
			while (fiob_ovl_pop_ready(&T) >= 0)
				;
			acquire_seq_write(active[n], next_k++);
		}
	}
	fiob_ovl_exit(&T);
	return (double)done / units;
}

static void sequential_writes_steady_state_scale_with_depth(void)
{
	double qd1 = seq_writes_per_unit(1), qd8 = seq_writes_per_unit(8);
	double qd32 = seq_writes_per_unit(32);

	if (qd1 != 1.0 || qd8 < 3.0 || qd32 < 10.0)
		FT_FAIL("writes per RMW time at QD1/8/32: %.2f %.2f %.2f, "
			"want 1, >= 3, >= 10", qd1, qd8, qd32);
}

/* A waiter is passed by what only shares its window, never by its bytes. */
static void later_write_passes_waiter_on_other_bytes_not_on_the_same(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 0, 1000,
					 FIOB_OVL_EXCL));
	/* 1 needs blocks 0 and 1; block 0 is busy. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 1, 0, 0, 8192, 4000, 5000,
					  FIOB_OVL_EXCL));
	/* 2 shares block 1 with waiter 1, none of its bytes: it goes. */
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 2, 0, 4096, 8192, 5000, 6000,
					 FIOB_OVL_EXCL));
	FT_EQ(T.e[1].passed, 1);
	/* 3 writes some of waiter 1's bytes: it queues behind 1. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 3, 0, 4096, 8192, 4500, 4600,
					  FIOB_OVL_EXCL));
	fiob_ovl_release(&T, 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 1 still needs block 0 */
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 3: block 1 held by 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	fiob_ovl_exit(&T);
}

/*
 * No starvation: a waiter needing two blocks, each kept busy by a stream of
 * writes that pass it, is passed max_pass times; then the streams queue
 * behind it and it starts as soon as the blocks drain.
 */
static void waiter_passed_max_pass_times_then_goes_first(void)
{
	/* Ids 0 and 2 take turns on blocks 0 and 1; 1 waits for both. */
	static const uint64_t blk[2] = { 0, 4096 };
	uint32_t n, held = 0;

	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_EQ(T.max_pass, 4);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 0, 100,
					 FIOB_OVL_EXCL));
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 1, 0, 0, 8192, 4000, 4100,
					  FIOB_OVL_EXCL));
	for (n = 0; n < 4; n++) {
		uint32_t next = held ^ 2;
		uint64_t at = blk[next / 2];

		/* One block is always busy: without the bound, forever. */
		FT_ASSERT(fiob_ovl_acquire_bytes(&T, next, 0, at, at + 4096,
						 at + 200 + n, at + 201 + n,
						 FIOB_OVL_EXCL));
		FT_EQ(T.e[1].passed, n + 1);
		fiob_ovl_release(&T, held);
		FT_EQ(fiob_ovl_pop_ready(&T), -1);
		held = next;
	}
	/* Passed max_pass times: the next one queues behind it. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, held ^ 2, 0, 4096, 8192,
					  4300, 4301, FIOB_OVL_EXCL));
	fiob_ovl_release(&T, held);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), (int)(held ^ 2));
	fiob_ovl_exit(&T);
}

/*
 * Two aligned writes need no exclusion from each other, but when the first
 * waits (behind an RMW window) a later one to the same bytes waits too, and
 * comes out after it.
 */
static void aligned_write_to_same_bytes_stays_behind_waiting_one(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 100, 200,
					 FIOB_OVL_EXCL));
	FT_ASSERT(!ACQ(1, 0, 0, 8192, WRITE));		/* behind 0 */
	FT_ASSERT(!ACQ(2, 0, 4096, 8192, WRITE));	/* behind 1: bytes */
	FT_ASSERT(ACQ(3, 0, 8192, 12288, WRITE));	/* nothing shared */
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.nr_active, 3);
	fiob_ovl_exit(&T);
}

static void release_of_idle_or_twice_is_a_noop(void)
{
	FT_EQ(fiob_ovl_init(&T, 2), 0);
	fiob_ovl_release(&T, 1);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	fiob_ovl_release(&T, 0);
	fiob_ovl_release(&T, 0);
	FT_EQ(T.nr_active, 0);
	FT_EQ(T.nr_active_excl, 0);
	fiob_ovl_exit(&T);
	FT_ASSERT(T.e == NULL);
}

FT_MAIN(
	FT_RUN(adjacent_ranges_do_not_conflict);
	FT_RUN(one_byte_overlap_conflicts);
	FT_RUN(different_files_do_not_conflict);
	FT_RUN(read_and_write_never_conflict_and_reads_leave_no_entry);
	FT_RUN(uint64_max_end_conflicts_with_the_last_bytes);
	FT_RUN(arrival_queues_behind_conflicting_waiter_not_only_active);
	FT_RUN(later_waiter_passes_earlier_one_it_does_not_conflict_with);
	FT_RUN(sequential_writes_run_one_per_block_in_parallel);
	FT_RUN(sequential_writes_steady_state_scale_with_depth);
	FT_RUN(later_write_passes_waiter_on_other_bytes_not_on_the_same);
	FT_RUN(waiter_passed_max_pass_times_then_goes_first);
	FT_RUN(aligned_write_to_same_bytes_stays_behind_waiting_one);
	FT_RUN(release_of_idle_or_twice_is_a_noop)
)
