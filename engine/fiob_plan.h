/*
 * I/O plans: which of the three kinds an I/O is, the enclosing aligned
 * window, the read-modify-write reads a write needs, and how window bytes
 * map back to user bytes. Pure arithmetic, no I/O; the alignment type and
 * its rounding helpers are fiob_align.h's.
 */
#ifndef FIOB_PLAN_H
#define FIOB_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fiob_align.h"

enum fiob_mode {
	FIOB_MODE_AUTO = 0,	/* bounce only what must be bounced */
	FIOB_MODE_ALWAYS,	/* bounce everything: measures copy overhead */
	FIOB_MODE_NEVER,	/* pass everything through, like stock io_uring */
};

enum fiob_kind {
	FIOB_KIND_PASS = 0,	/* aligned: straight to io_uring, no copy */
	FIOB_KIND_MEM,		/* only the memory is misaligned: copy all */
	FIOB_KIND_WINDOW,	/* offset or length misaligned: aligned window */
};

#define FIOB_MAX_RMW_READS	2
/* A zero-copy window transfer: [slot head] [user buffer] [slot tail]. */
#define FIOB_MAX_IOV		3

struct fiob_plan {
	uint64_t win_off;	/* first byte of the aligned window */
	uint64_t win_len;	/* window length, a multiple of align.off */
	uint32_t head;		/* user offset - win_off */
	uint8_t kind;		/* enum fiob_kind */
	uint8_t nr_rmw;		/* writes: reads of partial blocks needed */
	/* Partial head/tail blocks to read before a window write. */
	uint64_t rmw_off[FIOB_MAX_RMW_READS];
	uint32_t rmw_len[FIOB_MAX_RMW_READS];
};

/* Which kind an I/O of @len bytes at @off from/to @addr is under @mode. */
static inline enum fiob_kind fiob_classify(const struct fiob_align *a,
					   enum fiob_mode mode, uint64_t off,
					   uint64_t len, uintptr_t addr)
{
	if (mode == FIOB_MODE_NEVER || !len)
		return FIOB_KIND_PASS;
	if ((off | len) & (a->off - 1))
		return FIOB_KIND_WINDOW;
	/*
	 * The kernel checks every segment's address *and* length against the
	 * DMA alignment, so an odd length is a memory problem too.
	 */
	if (mode == FIOB_MODE_ALWAYS || ((addr | len) & (a->mem - 1)))
		return FIOB_KIND_MEM;
	return FIOB_KIND_PASS;
}

/*
 * fiob_classify()'s PASS test as two masks, for a caller that tests many
 * I/Os against one rule: an I/O with
 *     ((off | len) & off_mask) | ((addr | len) & mem_mask)
 * zero is PASS under @mode. (Not the converse: an I/O of length 0 is PASS
 * whatever its offset and address.)
 */
static inline void fiob_pass_masks(const struct fiob_align *a,
				   enum fiob_mode mode, uint64_t *off_mask,
				   uint64_t *mem_mask)
{
	*off_mask = mode == FIOB_MODE_NEVER ? 0 : a->off - 1;
	*mem_mask = mode == FIOB_MODE_NEVER ? 0 :
		    mode == FIOB_MODE_ALWAYS ? UINT64_MAX : a->mem - 1;
}

void fiob_plan_window(struct fiob_plan *p, const struct fiob_align *a,
		      uint64_t off, uint64_t len, bool is_write);

/*
 * Fill @p for an I/O classified as @kind. For a window write, also plan the
 * reads of the partial head and tail blocks: one read when they are the same
 * or adjacent blocks, two otherwise.
 */
static inline void fiob_plan(struct fiob_plan *p, const struct fiob_align *a,
			     enum fiob_kind kind, uint64_t off, uint64_t len,
			     bool is_write)
{
	if (kind == FIOB_KIND_WINDOW) {
		fiob_plan_window(p, a, off, len, is_write);
		return;
	}
	p->kind = kind;
	p->nr_rmw = 0;
	p->win_off = off;
	p->win_len = len;
	p->head = 0;
}

/*
 * User bytes covered by a window transfer that moved @res bytes (res >= 0):
 * clamp(res - head, 0, len). fio must see user bytes, never window bytes.
 */
static inline uint64_t fiob_user_bytes(const struct fiob_plan *p, uint64_t len,
				       uint64_t res)
{
	if (res <= p->head)
		return 0;
	res -= p->head;
	return res < len ? res : len;
}

/*
 * Can window I/O @p of @len bytes at @addr skip the copy, on a target whose
 * kernel takes vectored O_DIRECT segments that meet only the memory rule
 * (fiob_probe_vec)? Only if every segment does: the head (user offset -
 * window start), the user buffer's address and length, and so the tail
 * (the window is a multiple of a->off, itself a multiple of a->mem).
 */
static inline bool fiob_plan_zero_copy(const struct fiob_plan *p,
				       const struct fiob_align *a,
				       uintptr_t addr, uint64_t len)
{
	return p->kind == FIOB_KIND_WINDOW &&
	       !(((uint64_t)addr | len | p->head) & (a->mem - 1));
}

/*
 * The segments of zero-copy window transfer @p: the slot's bytes before the
 * user's, the user buffer @buf of @len bytes, the slot's bytes after it;
 * empty segments are left out. A write's head and tail sit at their window
 * positions in @slot, where its RMW reads put the old bytes. A read throws
 * them away, so its tail follows its head at the slot's start: a 4 KiB read
 * in an 8 KiB window then touches one slot page, not two (the kernel pins
 * every page of a READV). Returns how many of @iov it filled.
 */
static inline unsigned int fiob_plan_iov(const struct fiob_plan *p,
					 bool is_write, char *slot, void *buf,
					 uint64_t len,
					 struct iovec iov[FIOB_MAX_IOV])
{
	uint64_t tail = p->win_len - p->head - len;
	unsigned int n = 0;

	if (p->head)
		iov[n++] = (struct iovec){ slot, p->head };
	iov[n++] = (struct iovec){ buf, len };
	if (tail)
		iov[n++] = (struct iovec){ slot + p->head + (is_write ? len : 0),
					   tail };
	return n;
}

/*
 * Bytes one bounce slot needs so that any I/O up to @max_len fits with its
 * window: max_len plus two alignment blocks, rounded up to @page.
 */
static inline uint64_t fiob_slot_bytes(uint64_t max_len, uint32_t off_align,
				       uint32_t page)
{
	return fiob_round_up(max_len + 2 * (uint64_t)off_align, page);
}

#endif
