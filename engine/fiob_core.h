/*
 * The core: one job thread's engine state and the services on it. It owns
 * the ring (fiob_uring.h), the file table, the bounce slots, the overlap
 * table, the request table, the done queue and the counters; it sets them
 * up, tears them down, binds files, and keeps the done queue.
 *
 * Direction: the request module (fiob_req.h) sits above the core and drives
 * it: it queues requests, dispatches completions and reaps. The core never
 * calls up into it, and knows a request only as data (struct fiob_req).
 * Below the core: the ring layer and the pure modules.
 * Everything is sized at init; nothing allocates per request.
 */
#ifndef FIOB_CORE_H
#define FIOB_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fiob_overlap.h"
#include "fiob_plan.h"
#include "fiob_share.h"
#include "fiob_slots.h"
#include "fiob_span.h"
#include "fiob_stats.h"
#include "fiob_uring.h"

enum fiob_op {
	FIOB_OP_READ = 0,
	FIOB_OP_WRITE,
	FIOB_OP_FSYNC,
	FIOB_OP_FDATASYNC,
	FIOB_OP_SYNC_RANGE,	/* sync_file_range() of [off, off + len) */
};

static inline bool fiob_op_is_sync(unsigned int op)
{
	return op >= FIOB_OP_FSYNC;
}

struct fiob_file {
	int fd;			/* the real descriptor */
	int fixed;		/* registered file index, or -1 */
	/* What SQEs name (fixed, else fd), and whether it is an index. */
	int sqe_fd;
	bool sqe_fixed;
	struct fiob_align align;	/* the rule in force */
	bool regular;		/* a regular file: windows may cross EOF */
	bool zero_copy;		/* window I/O may go vectored, uncopied */
	uint64_t zero_copy_min;	/* ... from this many user bytes (fiob_zc.h) */
	uint64_t zero_copy_min_read;	/* reads' own: 0 on the span */
	uint64_t size;		/* regular files: the size as we know it */
	/* fiob_pass_masks() of align under the job's mode: the fast path's test. */
	uint64_t pass_off_mask;
	uint64_t pass_mem_mask;
	/* Other jobs write it too: writes hold their range there as well. */
	struct fiob_share_member share;	/* kind 0: not shared */
};

/*
 * A request's size, a power of two, so that a CQE's request id becomes its
 * request with a shift (on every I/O's queue, reap and event) rather than
 * a multiply.
 */
#define FIOB_REQ_ALIGN	256

/* A request as data; what happens to it is fiob_req.c's. */
struct fiob_req {
	void *owner;		/* the caller's handle (fio's io_u) */
	char *buf;
	uint64_t off;
	uint64_t len;
	uint64_t done;		/* result: user bytes moved */
	int32_t err;		/* result: 0 or -errno */
	int32_t slot;		/* bounce slot, or -1 */
	uint32_t file;
	uint8_t op;		/* enum fiob_op */
	uint8_t phase;
	uint8_t pending;	/* CQEs outstanding in this phase */
	uint8_t eof_excl;	/* window write crossing EOF: owns [win_off, inf) */
	uint8_t zero_copy;	/* window I/O sent as iov[], copying nothing */
	uint8_t lean;		/* a lean read (fiob_req_queue_pass) */
	/*
	 * Every SQE of the request carries attr. Set only for requests that
	 * do not take the fast path (their SQEs go out later); the fast path
	 * passes it straight to its one SQE.
	 */
	struct fiob_sqe_attr attr;
	uint32_t rmw_got[FIOB_MAX_RMW_READS];
	struct fiob_plan plan;
	/*
	 * The main transfer's segments, read by the kernel: zero copy's
	 * [slot head, user buffer, slot tail], or iov[0] alone for the user's
	 * buffer under nonvectored=0.
	 */
	struct iovec iov[FIOB_MAX_IOV];
} __attribute__((aligned(FIOB_REQ_ALIGN)));

struct fiob_core_params {
	uint32_t depth;		/* request ids are 0 .. depth-1 */
	uint32_t nr_files;
	uint32_t nr_slots;	/* 0: no bounce ring */
	uint64_t slot_size;
	uint32_t slot_align;	/* 0 or a power of two (fiob_slots_init) */
	enum fiob_mode mode;
	struct fiob_ring_opts ring;
	/* fixedbufs: the buffer of each request id, registered at its id. */
	const struct iovec *user_bufs;
	/*
	 * Zero-copy reads as READV_FIXED (fiob_span.h): the caller's I/O
	 * memory (every request buffer), and the most window bytes around a
	 * read's user bytes. Zero: plain READV.
	 */
	struct iovec user_mem;
	uint32_t discard_len;
};

/* Whether zero-copy reads go out as READV_FIXED on the span, or why not. */
enum fiob_core_span {
	FIOB_SPAN_OFF,		/* not asked for (no user_mem or no slots) */
	FIOB_SPAN_YES,		/* registered: c->span, at ring.span_buf */
	FIOB_SPAN_OLD_KERNEL,	/* no IORING_OP_READV_FIXED/WRITEV_FIXED */
	FIOB_SPAN_NO_ROOM,	/* no place for the discard area (fiob_span) */
	FIOB_SPAN_REFUSED,	/* io_uring would not register the range */
};

struct fiob_core {
	struct fiob_ring ring;	/* buffer bases and file table live there */
	int slots_reg_err;	/* -errno: why registering the slots failed */
	enum fiob_core_span span_state;
	struct fiob_span span;
	struct fiob_core_params p;
	struct fiob_req *reqs;
	struct fiob_file *files;
	struct fiob_slots slots;
	struct fiob_ovl ovl;
	struct fiob_share_job share;	/* cross-job: all zero until used */
	struct fiob_req **done_q;	/* completed requests, FIFO */
	uint32_t done_mask;	/* done_q size - 1 (a power of two) */
	uint32_t done_head;
	uint32_t done_nr;
	uint32_t returned;	/* handed out by the last _reap() */
	uint32_t nr_busy;	/* requests accepted and not yet returned */
	/*
	 * Lean reads (fiob_req.h): pass-through reads queued inline, in
	 * flight. While they are all the engine has, a reap hands their CQEs
	 * out in place: lean_n of them from CQ position lean_head.
	 */
	uint32_t nr_lean;
	uint32_t lean_n;
	uint32_t lean_head;
	const char *err_what;	/* what init failed on, for the message */
	struct fiob_stats stats;
};

/* One word per fiob_core_span, for the stats and --debug=io. */
extern const char *const fiob_core_span_names[];

/* Set up everything: ring, slots, tables. Returns 0 or -errno. */
int fiob_core_init(struct fiob_core *c, const struct fiob_core_params *p);
/* Tear down whatever init got to; safe on a zeroed or partial core. */
void fiob_core_exit(struct fiob_core *c);

/*
 * Register @nr descriptors at once; file id i then uses fixed index i. Only
 * for kernels without a sparse file table (see fiob_core_set_fd).
 */
int fiob_core_register_files(struct fiob_core *c, const int *fds, uint32_t nr);

/*
 * Bind file @id to descriptor @fd, or unbind it with -1 (only when no I/O of
 * it is in flight). Where the kernel has a sparse file table (5.19+), the
 * descriptor also takes slot @id there, and I/O names the slot: that saves a
 * file lookup and two atomic reference counts per I/O. Returns 0 or -errno.
 */
int fiob_core_set_fd(struct fiob_core *c, uint32_t id, int fd);

static inline struct fiob_file *fiob_core_file(struct fiob_core *c,
					       uint32_t id)
{
	return &c->files[id];
}

/* File @id's alignment rule is @a from now on. */
static inline void fiob_core_set_align(struct fiob_core *c, uint32_t id,
				       const struct fiob_align *a)
{
	struct fiob_file *f = &c->files[id];

	f->align = *a;
	fiob_pass_masks(a, c->p.mode, &f->pass_off_mask, &f->pass_mem_mask);
}

/* ---- the done queue: finished requests, FIFO ----------------------- */

/*
 * Request @r is finished: append it. The queue holds the request itself,
 * so that fiob_core_event() is one load.
 */
static inline void fiob_core_push_done_req(struct fiob_core *c,
					   struct fiob_req *r)
{
	c->done_q[(c->done_head + c->done_nr) & c->done_mask] = r;
	c->done_nr++;
}

/* Request @id is finished: append it. */
static inline void fiob_core_push_done(struct fiob_core *c, uint32_t id)
{
	fiob_core_push_done_req(c, &c->reqs[id]);
}

/* Drop what the last fiob_core_hand_out() gave the caller: it is gone now. */
static inline void fiob_core_forget_returned(struct fiob_core *c)
{
	c->done_head = (c->done_head + c->returned) & c->done_mask;
	c->done_nr -= c->returned;
	c->nr_busy -= c->returned;
	c->returned = 0;
}

/* Hand out up to @max finished requests, as fiob_core_event(0 .. n-1). */
static inline unsigned int fiob_core_hand_out(struct fiob_core *c,
					      unsigned int max)
{
	unsigned int n = c->done_nr < max ? c->done_nr : max;

	c->returned = n;
	return n;
}

/* The @i-th request handed out. */
static inline struct fiob_req *fiob_core_event(struct fiob_core *c,
					       unsigned int i)
{
	return c->done_q[(c->done_head + i) & c->done_mask];
}

/* Requests that finished but were never handed out by _reap(). */
static inline uint32_t fiob_core_uncollected(const struct fiob_core *c)
{
	return c->done_nr - c->returned;
}

/* How many uncollected requests failed; @err gets the last error. */
uint32_t fiob_core_uncollected_failures(const struct fiob_core *c, int *err);

/* No request is anywhere in the engine (not queued, waiting or flying). */
static inline bool fiob_core_idle(const struct fiob_core *c)
{
	return c->nr_busy == c->returned;
}

#endif
