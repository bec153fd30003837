/*
 * The request module: a request's life, from fiob_req_queue() to the done
 * queue, and the reaping that drives it (fiob_req.c).
 *
 * A request's life:
 *   queue -> [wait behind an overlapping RMW window] -> [RMW reads] ->
 *   main transfer -> done queue -> the caller picks it up with
 *   fiob_req_event() after fiob_req_reap().
 * A lean read (an aligned read queued inline) skips the done queue while
 * nothing but lean reads is in flight: the reap hands its CQE out in place
 * and fiob_req_event() / fiob_req_lean_event() complete it.
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
 * Accept request @id; each of its SQEs carries @attr. Returns FIOB_QUEUED,
 * FIOB_BUSY, or -errno for a request that cannot be done at all (nothing
 * was started).
 */
int fiob_req_queue(struct fiob_core *c, uint32_t id, void *owner,
		   uint32_t file, enum fiob_op op, void *buf, uint64_t off,
		   uint64_t len, struct fiob_sqe_attr attr);

/*
 * fiob_req_queue() for the I/O of an aligned job, inline in the caller:
 * a read or write (@write) that needs no bounce, with nothing in the
 * overlap table to conflict with and a free SQE. It does all of it or
 * nothing: false means nothing was touched, and the caller queues the
 * request with fiob_req_queue() instead. It stores only what the
 * completion (fiob_req.c, direct_done, or fiob_req_lean_event) and
 * fiob_req_event() read.
 */
static inline __attribute__((always_inline))
bool fiob_req_queue_pass(struct fiob_core *c, uint32_t id, void *owner,
			 uint32_t file, bool write, void *buf, uint64_t off,
			 uint64_t len, struct fiob_sqe_attr attr)
{
	const struct fiob_file *f = &c->files[file];
	struct io_uring_sqe *sqe;
	struct fiob_req *r;

	/* fiob_classify() says PASS; its masks are the file's. */
	if ((((off | len) & f->pass_off_mask) |
	     (((uintptr_t)buf | len) & f->pass_mem_mask)) ||
	    fiob_ovl_busy(&c->ovl) || (write && f->share.kind))
		return false;
	sqe = fiob_ring_try_sqe(&c->ring);
	if (!sqe)
		return false;
	r = &c->reqs[id];
	r->owner = owner;
	r->off = off;
	r->len = len;
	r->err = 0;
	r->file = file;
	r->op = write ? FIOB_OP_WRITE : FIOB_OP_READ;
	r->plan.kind = FIOB_KIND_PASS;
	r->lean = !write;
	c->nr_lean += !write;
	/* Writes stay visible to a later RMW write; reads need no entry. */
	if (write)
		fiob_ovl_acquire_now(&c->ovl, id, file, off, off + len,
				     FIOB_OVL_WRITE);
	c->stats.passthrough++;
	c->nr_busy++;
	fiob_ring_fill_rw(sqe, f->sqe_fd, f->sqe_fixed,
			  id, 0, write, buf, off, (uint32_t)len,
			  fiob_ring_user_buf(&c->ring, id),
			  c->p.ring.vectored ? &r->iov[0] : NULL,
			  c->p.ring.rw_flags[write], attr);
	return true;
}

/* fiob_req_submit() after its first submit returned @ret: retries, SQPOLL. */
int fiob_req_submit_slow(struct fiob_core *c, int ret);

/*
 * Hand prepared SQEs to the kernel. Returns 0 or -errno. Inline: one submit
 * takes everything, but for the retries and SQPOLL in _slow().
 */
static inline int fiob_req_submit(struct fiob_core *c)
{
	unsigned int ready = fiob_ring_sq_ready(&c->ring);
	int ret;

	if (!ready)
		return 0;
	ret = fiob_ring_submit(&c->ring);
	/* Without SQPOLL the kernel took all it was handed, or stopped. */
	if (ret == (int)ready && !c->ring.sqpoll)
		return 0;
	return fiob_req_submit_slow(c, ret);
}

/*
 * Bytes a transfer moved on the device and for the user, per direction
 * (the device's: RMW reads count as reads). Their ratio is the alignment
 * amplification.
 */
static inline void fiob_req_count_bytes(struct fiob_core *c, bool write,
					uint64_t device, uint64_t user)
{
	if (write) {
		c->stats.device_bytes_write += device;
		c->stats.user_bytes_write += user;
	} else {
		c->stats.device_bytes_read += device;
		c->stats.user_bytes_read += user;
	}
}

/*
 * A single transfer of @len user bytes (no window) came back with @res >= 0:
 * the bytes it moved, clamped to @len, counted, and a short one counted.
 */
static inline uint64_t fiob_req_count_done(struct fiob_core *c, bool write,
					   int res, uint64_t len)
{
	uint64_t done = (uint64_t)res < len ? (uint64_t)res : len;

	fiob_req_count_bytes(c, write, done, done);
	if (done < len)
		c->stats.short_done++;
	return done;
}

/* fiob_req_reap() whenever anything but lean reads is in the engine. */
int fiob_req_reap_any(struct fiob_core *c, unsigned int min, unsigned int max);

/*
 * Only lean reads in flight, and nothing else in the engine: no request
 * done and waiting, none waiting for a slot or a range (they are busy and
 * not lean), and no SQE left unsubmitted.
 */
static inline bool fiob_req_all_lean(const struct fiob_core *c)
{
	return c->nr_lean == c->nr_busy && !fiob_ring_sq_unflushed(&c->ring);
}

/*
 * Hand out up to @max of the @ready lean reads' CQEs from CQ position @head
 * where they lie, and give their entries back to the kernel now. Nothing is
 * dispatched and nothing submitted before fiob_req_event() reads them, and
 * each request in flight owes one CQE, so those entries stay intact
 * (fiob_ring_cq_head).
 */
static inline int fiob_req_lean_hand_out(struct fiob_core *c,
					 unsigned int head, unsigned int ready,
					 unsigned int max)
{
	unsigned int n = ready < max ? ready : max;

	c->lean_head = head;
	c->lean_n = n;
	fiob_ring_cq_release(&c->ring, head + n);
	c->nr_lean -= n;
	c->nr_busy -= n;
	return (int)n;
}

/*
 * fiob_req_reap_lean() when fewer than @min lean reads are ready from CQ
 * position @head (or none, for a poll): enter the kernel until @min are, and
 * hand them out. Out of line: the wait costs a system call anyway, and the
 * caller's fast path keeps its registers.
 */
int fiob_req_reap_lean_wait(struct fiob_core *c, unsigned int head,
			    unsigned int min, unsigned int max);

/*
 * The reap of a job whose I/O is all lean reads (an aligned read job): as
 * fio's io_uring reaps, count the CQEs, and complete each request only when
 * fiob_req_event() / fiob_req_lean_event() is asked for it. Returns false,
 * having done nothing, when anything else is in the engine (the caller then
 * reaps with fiob_req_reap_any()); true with @n set to the reads handed out
 * or -errno. With enough ready it is no call and no wait: it inlines into
 * the caller's fast path.
 */
static inline bool fiob_req_reap_lean(struct fiob_core *c, unsigned int min,
				      unsigned int max, int *n)
{
	unsigned int head, ready;

	c->lean_n = 0;
	/* A bounced job never gets further (and forgets in _reap_any()). */
	if (!c->nr_lean)
		return false;
	if (c->returned)
		fiob_core_forget_returned(c);
	if (!fiob_req_all_lean(c))
		return false;
	head = fiob_ring_cq_head(&c->ring);
	ready = fiob_ring_cq_ready_from(&c->ring, head);
	if (ready < min || !(ready | min))
		*n = fiob_req_reap_lean_wait(c, head, min, max);
	else
		*n = fiob_req_lean_hand_out(c, head, ready, max);
	return true;
}

/*
 * Wait until at least @min requests are complete; return how many (at most
 * @max) are ready for fiob_req_event(0 .. n-1), or -errno. A poll (@min 0)
 * enters the kernel once if nothing is ready: DEFER_TASKRUN posts nothing
 * until then.
 */
static inline int fiob_req_reap(struct fiob_core *c, unsigned int min,
				unsigned int max)
{
	int n;

	if (fiob_req_reap_lean(c, min, max, &n))
		return n;
	return fiob_req_reap_any(c, min, max);
}

/*
 * The @i-th lean read the last fiob_req_reap() handed out in place: its
 * request, and its result in @res (bytes read, or -errno), counted as
 * direct_done() (fiob_req.c) counts. A lean read has no slot, no overlap
 * entry and no waiters, so nothing else depended on its completion; its
 * request is not written (only fiob_req_event() fills it in).
 */
static inline struct fiob_req *fiob_req_lean_event(struct fiob_core *c,
						   unsigned int i, int *res)
{
	const struct io_uring_cqe *cqe = fiob_ring_cqe_at(&c->ring,
							  c->lean_head + i);
	struct fiob_req *r = &c->reqs[fiob_ring_tag_id(cqe->user_data)];

	*res = cqe->res;
	if (*res >= 0)
		*res = (int)fiob_req_count_done(c, false, *res, r->len);
	return r;
}

/* Whether the last fiob_req_reap() handed out lean reads. */
static inline bool fiob_req_lean_reaped(const struct fiob_core *c)
{
	return c->lean_n;
}

/* The @i-th request the last fiob_req_reap() handed out. */
static inline struct fiob_req *fiob_req_event(struct fiob_core *c,
					      unsigned int i)
{
	struct fiob_req *r;
	int res;

	if (!fiob_req_lean_reaped(c))
		return fiob_core_event(c, i);
	r = fiob_req_lean_event(c, i, &res);
	r->err = res < 0 ? res : 0;
	r->done = res < 0 ? 0 : (uint64_t)res;
	return r;
}

/*
 * Finish every accepted request, however long the kernel takes. fio can stop
 * collecting completions (td->done at the end of an iolog replay) while
 * requests still wait in the engine; a stock engine's writes are in the
 * kernel by then, so ours must get there too. Finished requests stay on the
 * done queue. Returns 0 or -errno.
 */
int fiob_req_drain(struct fiob_core *c);

#endif
