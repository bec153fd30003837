/*
 * The request module: a request's life, from fiob_req_queue() to the done
 * queue, and the reaping that drives it (fiob_req.c).
 *
 * A request's life:
 *   queue -> [wait behind an overlapping RMW window] -> [RMW reads] ->
 *   main transfer -> done queue -> the caller picks it up with
 *   fiob_core_event() after fiob_req_reap().
 *
 * Direction: this module sits above the core (fiob_core.h) and below the
 * fio adapter. It calls down into the core's state and services and into
 * the ring layer (fiob_uring.h) for SQEs and CQEs; nothing below calls up
 * into it. Completions are dispatched here, from the CQEs it reaps itself.
 */
#ifndef FIOB_REQ_H
#define FIOB_REQ_H

#include <stdint.h>

#include "fiob_core.h"
#include "fiob_overlap.h"
#include "fiob_plan.h"
#include "fiob_uring.h"

enum fiob_queue_ret {
	FIOB_QUEUED = 0,	/* accepted; completes through _reap() */
	FIOB_BUSY,		/* no room now (no bounce slot): retry later */
};

/*
 * Every request the inline fast path below does not take, classified as
 * @kind (PASS for syncs). Its owner, buffer, offset, length, file and op are
 * stored already, with err 0.
 */
int fiob_req_queue_slow(struct fiob_core *c, uint32_t id, enum fiob_kind kind,
			struct fiob_sqe_attr attr);

/* The ring gave request @id no SQE at all: it ends now, with -EIO. */
void fiob_req_ring_failed(struct fiob_core *c, uint32_t id);

/*
 * Accept request @id; each of its SQEs carries @attr. Returns FIOB_QUEUED,
 * FIOB_BUSY, or -errno for a request that cannot be done at all (nothing
 * was started).
 *
 * Inline for a pass-through read or write with nothing in the overlap table
 * to conflict with: that is every I/O of an aligned job, so it stores only
 * what its completion (fiob_req.c, direct_done) and fiob_core_event() read,
 * and goes straight to its one SQE. Everything else is _slow().
 */
static inline __attribute__((always_inline))
int fiob_req_queue(struct fiob_core *c, uint32_t id, void *owner,
		   uint32_t file, enum fiob_op op, void *buf, uint64_t off,
		   uint64_t len, struct fiob_sqe_attr attr)
{
	struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[file];
	bool write = op == FIOB_OP_WRITE;
	enum fiob_kind kind = FIOB_KIND_PASS;

	r->owner = owner;
	r->buf = buf;
	r->off = off;
	r->len = len;
	r->err = 0;
	r->file = file;
	r->op = (uint8_t)op;
	if (op <= FIOB_OP_WRITE)
		kind = fiob_classify(&f->align, c->p.mode, off, len,
				     (uintptr_t)buf);
	if (kind != FIOB_KIND_PASS || op > FIOB_OP_WRITE ||
	    fiob_ovl_busy(&c->ovl))
		return fiob_req_queue_slow(c, id, kind, attr);
	r->plan.kind = FIOB_KIND_PASS;
	/* Writes stay visible to a later RMW write; reads need no entry. */
	if (write)
		fiob_ovl_acquire(&c->ovl, id, file, off, off + len,
				 FIOB_OVL_WRITE);
	c->stats.passthrough++;
	c->nr_busy++;
	if (!fiob_ring_prep_rw(&c->ring, f->fixed >= 0 ? f->fixed : f->fd,
			       f->fixed >= 0, id, 0, write, buf, off,
			       (uint32_t)len, fiob_ring_user_buf(&c->ring, id),
			       c->p.ring.vectored ? &r->iov[0] : NULL,
			       c->p.ring.rw_flags[write], attr))
		fiob_req_ring_failed(c, id);
	return FIOB_QUEUED;
}

/* fiob_req_submit() after its first submit returned @ret: retries, SQPOLL. */
int fiob_req_submit_slow(struct fiob_core *c, int ret);

/*
 * Hand prepared SQEs to the kernel. Returns 0 or -errno. Inline: one submit
 * takes everything, but for the retries and SQPOLL in _slow().
 */
static inline int fiob_req_submit(struct fiob_core *c)
{
	int ret;

	if (!fiob_ring_sq_ready(&c->ring))
		return 0;
	ret = fiob_ring_submit(&c->ring);
	if (ret >= 0 && !c->ring.sqpoll && !fiob_ring_sq_ready(&c->ring))
		return 0;
	return fiob_req_submit_slow(c, ret);
}

/*
 * Wait until at least @min requests are complete; return how many (at most
 * @max) are ready for fiob_core_event(0 .. n-1), or -errno.
 */
int fiob_req_reap(struct fiob_core *c, unsigned int min, unsigned int max);

/*
 * Finish every accepted request, however long the kernel takes. fio can stop
 * collecting completions (td->done at the end of an iolog replay) while
 * requests still wait in the engine; a stock engine's writes are in the
 * kernel by then, so ours must get there too. Finished requests stay on the
 * done queue. Returns 0 or -errno.
 */
int fiob_req_drain(struct fiob_core *c);

#endif
