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

enum fiob_queue_ret {
	FIOB_QUEUED = 0,	/* accepted; completes through _reap() */
	FIOB_BUSY,		/* no room now (no bounce slot): retry later */
};

/*
 * Accept request @id; each of its SQEs carries @attr. Returns FIOB_QUEUED,
 * FIOB_BUSY, or -errno for a request that cannot be done at all (nothing
 * was started).
 */
int fiob_req_queue(struct fiob_core *c, uint32_t id, void *owner,
		   uint32_t file, enum fiob_op op, void *buf, uint64_t off,
		   uint64_t len, struct fiob_sqe_attr attr);

/* Hand prepared SQEs to the kernel. Returns 0 or -errno. */
int fiob_req_submit(struct fiob_core *c);

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
