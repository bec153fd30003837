/*
 * The overlap table against a reference model of the rules in
 * fiob_overlap.h, plus directed cases for range edges.
 *
 * The model keeps, per id, a state and (for waiters) an arrival number; it
 * decides "may start" by scanning every entry, never a linked list.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "fiob_overlap.h"
#include "fiob_test.h"
#include "overlap_model.h"

static uint64_t rng = 0x0123456789abcdefull;

static uint64_t rnd(void)
{
	return ft_rand(&rng);
}

static void random_ops_match_reference_model(void)
{
	struct fiob_ovl t;
	int step, round;

	for (round = 0; round < 200; round++) {
		struct ovl_run run = { 0, 0 };

		FT_EQ(fiob_ovl_init(&t, NR), 0);
		memset(m, 0, sizeof(m));
		for (step = 0; step < 2000; step++) {
			int i = (int)(rnd() % NR);
			uint32_t file = (uint32_t)(rnd() % 3);
			uint64_t start = rnd() % 48;
			uint64_t end = rnd() % 8 == 0 ? UINT64_MAX :
				       start + 1 + rnd() % 16;
			int type = (int)(rnd() % 3);

			if (ovl_step(&t, &run, i, file, start, end, type,
				     rnd() % 4 == 0))
				FT_FAIL("round %d step %d (id %d): %s", round,
					step, i, ovl_msg);
		}
		if (ovl_finish(&t, &run))
			FT_FAIL("round %d end: %s", round, ovl_msg);
		fiob_ovl_exit(&t);
	}
}

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
	FT_RUN(random_ops_match_reference_model);
	FT_RUN(adjacent_ranges_do_not_conflict);
	FT_RUN(one_byte_overlap_conflicts);
	FT_RUN(different_files_do_not_conflict);
	FT_RUN(read_and_write_never_conflict_and_reads_leave_no_entry);
	FT_RUN(uint64_max_end_conflicts_with_the_last_bytes);
	FT_RUN(arrival_queues_behind_conflicting_waiter_not_only_active);
	FT_RUN(later_waiter_passes_earlier_one_it_does_not_conflict_with);
	FT_RUN(release_of_idle_or_twice_is_a_noop)
)
