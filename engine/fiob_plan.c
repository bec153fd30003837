#include "fiob_plan.h"

enum fiob_kind fiob_classify(const struct fiob_align *a, enum fiob_mode mode,
			     uint64_t off, uint64_t len, uintptr_t addr)
{
	uint64_t off_mask = a->off - 1;
	bool io_aligned = !((off | len) & off_mask);

	if (mode == FIOB_MODE_NEVER || !len)
		return FIOB_KIND_PASS;
	if (!io_aligned)
		return FIOB_KIND_WINDOW;
	/*
	 * The kernel checks every segment's address *and* length against the
	 * DMA alignment, so an odd length is a memory problem too.
	 */
	if (mode == FIOB_MODE_ALWAYS || ((addr | len) & (a->mem - 1)))
		return FIOB_KIND_MEM;
	return FIOB_KIND_PASS;
}

static void plan_rmw_reads(struct fiob_plan *p, uint32_t blk, uint64_t end)
{
	uint64_t win_end = p->win_off + p->win_len;
	bool head_partial = p->head != 0;
	bool tail_partial = (end & (blk - 1)) != 0;

	p->nr_rmw = 0;
	if (head_partial && tail_partial && p->win_len <= 2 * (uint64_t)blk) {
		/* Same or adjacent blocks: one read covers both. */
		p->rmw_off[0] = p->win_off;
		p->rmw_len[0] = p->win_len;
		p->nr_rmw = 1;
		return;
	}
	if (head_partial) {
		p->rmw_off[p->nr_rmw] = p->win_off;
		p->rmw_len[p->nr_rmw++] = blk;
	}
	if (tail_partial) {
		p->rmw_off[p->nr_rmw] = win_end - blk;
		p->rmw_len[p->nr_rmw++] = blk;
	}
}

void fiob_plan(struct fiob_plan *p, const struct fiob_align *a,
	       enum fiob_kind kind, uint64_t off, uint64_t len, bool is_write)
{
	uint64_t end = off + len;

	p->kind = kind;
	p->nr_rmw = 0;
	if (kind != FIOB_KIND_WINDOW) {
		p->win_off = off;
		p->win_len = len;
		p->head = 0;
		return;
	}
	p->win_off = fiob_round_down(off, a->off);
	p->win_len = fiob_round_up(end, a->off) - p->win_off;
	p->head = off - p->win_off;
	if (is_write)
		plan_rmw_reads(p, a->off, end);
}
