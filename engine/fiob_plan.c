/*
 * I/O plans (fiob_plan.h): the window and the RMW reads of a misaligned I/O.
 * Pure layer: arithmetic on fiob_align.h, no I/O.
 */
#include "fiob_plan.h"

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

void fiob_plan_window(struct fiob_plan *p, const struct fiob_align *a,
		      uint64_t off, uint64_t len, bool is_write)
{
	uint64_t end = off + len;

	p->kind = FIOB_KIND_WINDOW;
	p->nr_rmw = 0;
	p->win_off = fiob_round_down(off, a->off);
	p->win_len = fiob_round_up(end, a->off) - p->win_off;
	p->head = off - p->win_off;
	if (is_write)
		plan_rmw_reads(p, a->off, end);
}
