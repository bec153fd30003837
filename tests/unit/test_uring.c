/*
 * The ring layer's completion rules (fiob_uring.h): the CQ is sized for the
 * core's bound, completions the kernel had to hold back (CQ overflow) are
 * flushed and none is lost, the one rule for a failed io_uring_enter, and
 * the SQ-full and mid-reap submit counters. Real rings, NOPs only.
 */
#include <errno.h>
#include <string.h>

#include "fiob_core.h"
#include "fiob_test.h"
#include "fiob_uring.h"

static const struct fiob_ring_opts plain = { .sqpoll_cpu = -1 };

/* A ring of @sq SQ entries and a CQ for @cqes; skips if io_uring is off. */
static int ring_up(struct fiob_ring *r, struct fiob_stats *st, uint32_t sq,
		   uint32_t cqes)
{
	struct fiob_ring_opts o = plain;
	const char *what;

	o.sq_entries = sq;
	memset(st, 0, sizeof(*st));
	return fiob_ring_init(r, sq, cqes, &o, st, &what);
}

static bool prep_nop(struct fiob_ring *r, uint64_t tag)
{
	struct io_uring_sqe *sqe = fiob_ring_get_sqe(r);

	if (!sqe)
		return false;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, tag);
	return true;
}

static void cq_is_sized_for_the_bound(void)
{
	static const struct { uint32_t depth, slots, sq_hook; } cases[] = {
		{ 1, 1, 0 }, { 8, 0, 0 }, { 8, 1, 0 }, { 8, 8, 0 },
		{ 100, 7, 0 }, { 128, 128, 0 }, { 256, 16, 1 },
		{ 256, 256, 1 }, { 1000, 1000, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fiob_core_params p = {
			.depth = cases[i].depth, .nr_files = 1,
			.nr_slots = cases[i].slots, .slot_size = 8192,
			.ring = plain,
		};
		uint32_t rmw = cases[i].slots < cases[i].depth ?
			       cases[i].slots : cases[i].depth;
		uint32_t bound = cases[i].depth + rmw;
		static struct fiob_core c;
		int ret;

		p.ring.sq_entries = cases[i].sq_hook;
		ret = fiob_core_init(&c, &p);
		if (ret == -ENOSYS || ret == -EPERM)
			FT_SKIP("io_uring is not available");
		if (ret)
			FT_FAIL("case %u: init: %s", i, strerror(-ret));
		/* CQSIZE: no bigger than the bound needs (nor the SQ). */
		FT_ASSERT(c.ring.uring.cq.ring_entries >= bound);
		FT_ASSERT(c.ring.uring.cq.ring_entries <
			  2 * (bound > c.ring.uring.sq.ring_entries ?
			       bound : c.ring.uring.sq.ring_entries));
		FT_EQ(c.ring.uring.sq.ring_entries,
		      cases[i].sq_hook ? cases[i].sq_hook :
		      fiob_roundup_pow2(cases[i].depth));
		FT_ASSERT(c.ring.stats == &c.stats);
		fiob_core_exit(&c);
	}
}

static void overflowed_completions_are_flushed_and_none_is_lost(void)
{
	struct fiob_ring r;
	struct fiob_stats st;
	uint64_t tag, seen = 0;
	unsigned int i, n = 0;
	int res, ret;

	/* One SQ entry, one CQ entry: the 2nd to 12th NOPs overflow. */
	ret = ring_up(&r, &st, 1, 1);
	if (ret == -ENOSYS || ret == -EPERM)
		FT_SKIP("io_uring is not available");
	FT_EQ(ret, 0);
	FT_EQ(r.uring.cq.ring_entries, 1);
	if (!(r.uring.features & IORING_FEAT_NODROP)) {
		fiob_ring_exit(&r);
		FT_SKIP("kernel without IORING_FEAT_NODROP drops overflow");
	}
	for (i = 0; i < 12; i++)
		FT_ASSERT(prep_nop(&r, i));
	FT_ASSERT(io_uring_submit(&r.uring) >= 0);
	FT_ASSERT(io_uring_cq_has_overflow(&r.uring));
	while (fiob_ring_pop_cqe(&r, &tag, &res)) {
		FT_ASSERT(tag < 12 && !(seen & (1ull << tag)));
		FT_EQ(res, 0);
		seen |= 1ull << tag;
		n++;
	}
	FT_EQ(n, 12);
	FT_ASSERT(st.cq_overflows >= 1);
	FT_EQ(st.cq_dropped, 0);
	FT_ASSERT(!io_uring_cq_has_overflow(&r.uring));
	fiob_ring_exit(&r);
}

static void one_rule_for_failed_enters(void)
{
	struct fiob_ring r;
	struct fiob_stats st;
	int ret = ring_up(&r, &st, 4, 8);

	if (ret == -ENOSYS || ret == -EPERM)
		FT_SKIP("io_uring is not available");
	FT_EQ(ret, 0);
	FT_EQ(fiob_ring_enter_failed(&r, -EINTR), 0);
	FT_EQ(st.submit_retries, 0);
	FT_EQ(fiob_ring_enter_failed(&r, -EAGAIN), 0);
	FT_EQ(fiob_ring_enter_failed(&r, -EBUSY), 0);
	FT_EQ(st.submit_retries, 2);
	FT_EQ(fiob_ring_enter_failed(&r, -EBADR), -EBADR);
	FT_EQ(fiob_ring_enter_failed(&r, -EIO), -EIO);
	FT_EQ(fiob_ring_enter_failed(&r, -EINVAL), -EINVAL);
	FT_EQ(st.submit_retries, 2);
	fiob_ring_exit(&r);
}

static void full_sq_submits_count_as_mid_reap_only_while_reaping(void)
{
	struct fiob_ring r;
	struct fiob_stats st;
	unsigned int n = 0;
	uint64_t tag;
	int res, ret = ring_up(&r, &st, 1, 4);

	if (ret == -ENOSYS || ret == -EPERM)
		FT_SKIP("io_uring is not available");
	FT_EQ(ret, 0);
	FT_ASSERT(prep_nop(&r, 1));
	FT_EQ(st.sq_full_submits, 0);
	FT_ASSERT(prep_nop(&r, 2));		/* SQ full: submits #1 */
	FT_EQ(st.sq_full_submits, 1);
	FT_EQ(st.mid_reap_submits, 0);
	fiob_ring_reap_begin(&r);
	FT_ASSERT(prep_nop(&r, 3));		/* submits #2, mid-reap */
	fiob_ring_reap_end(&r);
	FT_EQ(st.sq_full_submits, 2);
	FT_EQ(st.mid_reap_submits, 1);
	FT_ASSERT(prep_nop(&r, 4));		/* submits #3, not mid-reap */
	FT_EQ(st.mid_reap_submits, 1);
	FT_ASSERT(io_uring_submit(&r.uring) >= 0);
	while (fiob_ring_pop_cqe(&r, &tag, &res))
		n++;
	FT_EQ(n, 4);
	FT_EQ(st.cq_overflows, 0);
	fiob_ring_exit(&r);
}

FT_MAIN(
	FT_RUN(cq_is_sized_for_the_bound);
	FT_RUN(overflowed_completions_are_flushed_and_none_is_lost);
	FT_RUN(one_rule_for_failed_enters);
	FT_RUN(full_sq_submits_count_as_mid_reap_only_while_reaping)
)
