/*
 * A request's life (fiob_req.h), from fiob_req_queue() to the done queue:
 * the fast path for single-transfer I/O, the overlap table for everything
 * else, the read-modify-write phases, copies, the end-of-file fix-up, and
 * the reaping loop that dispatches each CQE to its request. Calls down only:
 * the core's state, the ring layer, and the pure modules.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fiob_copy.h"
#include "fiob_core.h"
#include "fiob_req.h"
#include "fiob_uring.h"

enum fiob_phase {
	PH_IDLE = 0,
	PH_WAIT,	/* queued behind an overlapping window */
	PH_RMW,		/* reading the partial head/tail blocks */
	PH_IO,		/* the main transfer */
};

/* ---- submission ---------------------------------------------------- */

/* Registered buffer indexes for SQEs: -1 means a plain READ/WRITE. */
static inline int user_buf_index(const struct fiob_core *c, uint32_t id)
{
	return fiob_ring_user_buf(&c->ring, id);
}

static inline int slot_buf_index(const struct fiob_core *c, int32_t slot)
{
	return fiob_ring_slot_buf(&c->ring, slot);
}

/*
 * The user's buffer as READV/WRITEV (nonvectored=0), or NULL for a plain
 * READ/WRITE. Only for the user's own memory: bounce transfers are the
 * engine's, and stay READ/WRITE.
 */
static inline struct iovec *user_iov(const struct fiob_core *c,
				     struct fiob_req *r)
{
	return c->p.ring.vectored ? &r->iov[0] : NULL;
}

/*
 * One read or write of file @f for request @id (@part: which RMW read),
 * carrying @attr and the job's RWF_ flags for its direction.
 */
static inline __attribute__((always_inline))
bool prep_rw(struct fiob_core *c, const struct fiob_file *f, uint32_t id,
	     unsigned int part, bool write, void *addr, uint64_t off,
	     uint32_t len, int buf_index, struct iovec *iov,
	     struct fiob_sqe_attr attr)
{
	return fiob_ring_prep_rw(&c->ring, f->sqe_fd, f->sqe_fixed, id, part,
				 write, addr, off, len, buf_index, iov,
				 c->p.ring.rw_flags[write], attr);
}

/*
 * Request @id's zero-copy window transfer: one READV/WRITEV of [slot head,
 * user buffer, slot tail] (fiob_plan_iov), from storage the request owns.
 * A read whose user buffer is in the registered span throws its head and
 * tail into the span's discard area instead, as one READV_FIXED: nothing
 * pinned per I/O (fiob_span.h).
 */
static bool prep_zero_copy(struct fiob_core *c, uint32_t id)
{
	struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[r->file];
	bool write = r->op == FIOB_OP_WRITE;
	char *around = fiob_slot_addr(&c->slots, r->slot);
	int buf_index = -1;
	unsigned int nr;

	if (!write && c->ring.span_buf >= 0 &&
	    r->plan.win_len - r->len <= c->span.discard_len &&
	    fiob_span_holds(&c->span, r->buf, r->len)) {
		around = c->span.discard;
		buf_index = c->ring.span_buf;
	}
	nr = fiob_plan_iov(&r->plan, write, around, r->buf, r->len, r->iov);
	return fiob_ring_prep_rwv(&c->ring, f->sqe_fd, f->sqe_fixed, id, 0,
				  write, r->iov, nr, r->plan.win_off,
				  buf_index, c->p.ring.rw_flags[write],
				  r->attr);
}

static bool prep_sync(struct fiob_core *c, uint32_t id)
{
	const struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[r->file];

	if (r->op == FIOB_OP_SYNC_RANGE)
		return fiob_ring_prep_sync_range(&c->ring, f->sqe_fd,
						 f->sqe_fixed, id, r->off,
						 (uint32_t)r->len,
						 c->p.ring.sync_range_flags,
						 r->attr);
	return fiob_ring_prep_sync(&c->ring, f->sqe_fd, f->sqe_fixed, id,
				   r->op == FIOB_OP_FDATASYNC, r->attr);
}

static void finish(struct fiob_core *c, uint32_t id);

/*
 * Count SQEs as they are prepared. If the ring itself fails (no SQE can be
 * had at all), the request ends with that error once what did go out is back:
 * it never writes with half its inputs.
 */
static void sqe_prepared(struct fiob_core *c, uint32_t id, bool ok)
{
	struct fiob_req *r = &c->reqs[id];

	if (ok) {
		r->pending++;
		return;
	}
	if (!r->err)
		r->err = -EIO;
}

/*
 * The tail of every phase that prepares SQEs: with none of them in flight
 * (the ring failed before the first), the request is over now.
 */
static inline void finish_unless_pending(struct fiob_core *c,
					 const struct fiob_req *r, uint32_t id)
{
	if (!r->pending)
		finish(c, id);
}

/*
 * The main transfer: user memory for PASS, the user buffer between the
 * slot's head and tail for zero copy, the slot's window otherwise.
 */
static void prep_main(struct fiob_core *c, uint32_t id)
{
	struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[r->file];
	bool write = r->op == FIOB_OP_WRITE;
	bool ok;

	r->phase = PH_IO;
	r->pending = 0;
	if (fiob_op_is_sync(r->op))
		ok = prep_sync(c, id);
	else if (r->plan.kind == FIOB_KIND_PASS)
		ok = prep_rw(c, f, id, 0, write, r->buf, r->off,
			     (uint32_t)r->len, user_buf_index(c, id),
			     user_iov(c, r), r->attr);
	else if (r->zero_copy)
		ok = prep_zero_copy(c, id);
	else
		ok = prep_rw(c, f, id, 0, write,
			     fiob_slot_addr(&c->slots, r->slot),
			     r->plan.win_off, (uint32_t)r->plan.win_len,
			     slot_buf_index(c, r->slot), NULL, r->attr);
	sqe_prepared(c, id, ok);
	finish_unless_pending(c, r, id);
}

/*
 * A write's user bytes into its slot, at their place in the window; nothing
 * for zero copy, where the user buffer itself goes out between the slot's
 * head and tail.
 */
static void copy_in(struct fiob_core *c, struct fiob_req *r)
{
	char *slot = fiob_slot_addr(&c->slots, r->slot);

	if (r->zero_copy)
		return;
	fiob_copy(slot + r->plan.head, r->buf, r->len);
	c->stats.bytes_copied += r->len;
}

/*
 * A read's r->done user bytes out of its slot (head is 0 without a window);
 * with zero copy they are in the user buffer already.
 */
static void copy_out(struct fiob_core *c, struct fiob_req *r)
{
	char *slot = fiob_slot_addr(&c->slots, r->slot);

	if (r->zero_copy)
		return;
	fiob_copy(r->buf, slot + r->plan.head, r->done);
	c->stats.bytes_copied += r->done;
}

/*
 * A write of a file other jobs write too holds its range among them as well
 * (fiob_share.h). False: it waits for another job; fiob_share_collect() gives
 * it back to start() later.
 */
static bool share_hold(struct fiob_core *c, struct fiob_req *r, uint32_t id)
{
	struct fiob_file *f = &c->files[r->file];
	uint64_t end = r->eof_excl ? UINT64_MAX :
		       r->plan.win_off + r->plan.win_len;

	if (fiob_share_acquire(&c->share, &f->share, id, r->plan.win_off, end,
			       r->off, r->off + r->len,
			       r->plan.kind == FIOB_KIND_WINDOW))
		return true;
	r->phase = PH_WAIT;
	c->stats.share_waits++;
	return false;
}

/* Start a request that holds its range: the first SQEs of its life. */
static void start(struct fiob_core *c, uint32_t id)
{
	struct fiob_req *r = &c->reqs[id];
	char *slot;
	unsigned int i;

	if (r->op == FIOB_OP_WRITE && c->files[r->file].share.kind &&
	    !share_hold(c, r, id))
		return;
	if (r->op != FIOB_OP_WRITE || r->plan.kind == FIOB_KIND_PASS) {
		prep_main(c, id);
		return;
	}
	if (!r->plan.nr_rmw) {
		copy_in(c, r);
		prep_main(c, id);
		return;
	}
	/* Read-modify-write: fetch the partial blocks first. */
	slot = fiob_slot_addr(&c->slots, r->slot);
	r->phase = PH_RMW;
	r->pending = 0;
	for (i = 0; i < r->plan.nr_rmw && !r->err; i++) {
		uint64_t at = r->plan.rmw_off[i] - r->plan.win_off;

		r->rmw_got[i] = 0;
		c->stats.rmw_reads++;
		sqe_prepared(c, id,
			     prep_rw(c, &c->files[r->file], id, i, false,
				     slot + at, r->plan.rmw_off[i],
				     r->plan.rmw_len[i],
				     slot_buf_index(c, r->slot), NULL,
				     r->attr));
	}
	finish_unless_pending(c, r, id);
}

/* ---- accepting requests -------------------------------------------- */

static void count_kind(struct fiob_core *c, const struct fiob_req *r)
{
	if (fiob_op_is_sync(r->op)) {
		c->stats.syncs++;
		return;
	}
	switch (r->plan.kind) {
	case FIOB_KIND_PASS:
		c->stats.passthrough++;
		break;
	case FIOB_KIND_MEM:
		c->stats.mem_bounced++;
		break;
	default:
		if (r->op == FIOB_OP_WRITE)
			c->stats.rmw_writes++;
		else
			c->stats.window_reads++;
		if (r->zero_copy)
			c->stats.zero_copy++;
	}
}

/*
 * The range a request claims in the overlap table. A window write that runs
 * past a regular file's end claims everything from its window on: it is cut
 * back to the user's end afterwards, and nothing may write beyond it (or
 * read the not-yet-cut tail) meanwhile.
 */
static enum fiob_ovl_type claim(struct fiob_core *c, struct fiob_req *r,
				uint64_t *start, uint64_t *end)
{
	const struct fiob_file *f = &c->files[r->file];

	*start = r->plan.win_off;
	*end = r->plan.win_off + r->plan.win_len;
	r->eof_excl = 0;
	if (r->op == FIOB_OP_READ)
		return FIOB_OVL_READ;
	/* Lock-file sharing: a job's own locked ranges must not overlap. */
	if (r->plan.kind != FIOB_KIND_WINDOW &&
	    f->share.kind != FIOB_SHARE_OFD)
		return FIOB_OVL_WRITE;
	if (f->regular && *end > f->size) {
		r->eof_excl = 1;
		*end = UINT64_MAX;
	}
	return FIOB_OVL_EXCL;
}

/* A bounce slot for @r's window of @need bytes: 0, FIOB_BUSY or -E2BIG. */
static inline int take_slot(struct fiob_core *c, struct fiob_req *r,
			    uint64_t need)
{
	if (!c->slots.nr || need > c->slots.size)
		return -E2BIG;
	r->slot = fiob_slots_get(&c->slots);
	if (r->slot < 0) {
		c->stats.ring_empty++;
		return FIOB_BUSY;
	}
	return 0;
}

/*
 * The fast path: aligned I/O, and I/O whose only flaw is its memory. One
 * transfer, no planning, nothing to wait for: every I/O of an aligned or
 * iomem_align job comes here, so it does only what such an I/O needs.
 */
static inline int queue_direct(struct fiob_core *c, struct fiob_req *r,
			       uint32_t id, const struct fiob_file *f,
			       enum fiob_kind kind, struct fiob_sqe_attr attr)
{
	bool write = r->op == FIOB_OP_WRITE;
	void *addr = r->buf;
	int buf_index = user_buf_index(c, id);
	struct iovec *iov = user_iov(c, r);
	int ret;

	fiob_plan(&r->plan, &f->align, kind, r->off, r->len, write);
	r->eof_excl = 0;
	if (kind == FIOB_KIND_MEM) {
		ret = take_slot(c, r, r->len);
		if (ret)
			return ret;
		addr = fiob_slot_addr(&c->slots, r->slot);
		buf_index = slot_buf_index(c, r->slot);
		iov = NULL;
		if (write)
			copy_in(c, r);
		c->stats.mem_bounced++;
	} else {
		c->stats.passthrough++;
	}
	/* Writes stay visible to a later RMW write; reads need no entry. */
	if (write)
		fiob_ovl_acquire(&c->ovl, id, r->file, r->off, r->off + r->len,
				 FIOB_OVL_WRITE);
	c->nr_busy++;
	r->phase = PH_IO;
	sqe_prepared(c, id, prep_rw(c, f, id, 0, write, addr, r->off,
				    (uint32_t)r->len, buf_index, iov, attr));
	finish_unless_pending(c, r, id);
	return FIOB_QUEUED;
}

int fiob_req_queue(struct fiob_core *c, uint32_t id, void *owner,
		   uint32_t file, enum fiob_op op, void *buf, uint64_t off,
		   uint64_t len, struct fiob_sqe_attr attr)
{
	struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[file];
	enum fiob_ovl_type type;
	uint64_t start_off, end_off;
	enum fiob_kind kind = FIOB_KIND_PASS;

	r->owner = owner;
	r->file = file;
	r->op = (uint8_t)op;
	r->buf = buf;
	r->off = off;
	r->len = len;
	r->done = 0;
	r->err = 0;
	r->pending = 0;
	r->zero_copy = 0;
	r->lean = 0;
	if (op == FIOB_OP_READ || op == FIOB_OP_WRITE) {
		kind = fiob_classify(&f->align, c->p.mode, off, len,
				     (uintptr_t)buf);
		if (kind != FIOB_KIND_WINDOW && !fiob_ovl_busy(&c->ovl) &&
		    !(op == FIOB_OP_WRITE && f->share.kind))
			return queue_direct(c, r, id, f, kind, attr);
	}
	r->attr = attr;	/* its SQEs may go out later */
	fiob_plan(&r->plan, &f->align, kind, off, len, op == FIOB_OP_WRITE);
	/* bounce=always measures the copy: it keeps copying. */
	r->zero_copy = f->zero_copy && c->p.mode == FIOB_MODE_AUTO &&
		       len >= (op == FIOB_OP_WRITE ? f->zero_copy_min :
			       f->zero_copy_min_read) &&
		       fiob_plan_zero_copy(&r->plan, &f->align, (uintptr_t)buf,
					   len);

	if (kind != FIOB_KIND_PASS) {
		int ret = take_slot(c, r, r->plan.win_len);

		if (ret)
			return ret;
	}
	count_kind(c, r);
	c->nr_busy++;
	if (fiob_op_is_sync(op)) {
		start(c, id);
		return FIOB_QUEUED;
	}
	type = claim(c, r, &start_off, &end_off);
	/* The window excludes; the user's bytes keep their order. */
	if (!fiob_ovl_acquire_bytes(&c->ovl, id, file, start_off, end_off,
				    off, off + len, type)) {
		r->phase = PH_WAIT;
		c->stats.waits++;
		return FIOB_QUEUED;
	}
	start(c, id);
	return FIOB_QUEUED;
}

/* ---- completions --------------------------------------------------- */

/* A write moved r->done bytes: a regular file may have grown. */
static void note_written(struct fiob_core *c, const struct fiob_req *r)
{
	struct fiob_file *f = &c->files[r->file];

	if (f->regular && r->off + r->done > f->size)
		f->size = r->off + r->done;
}

/* Whoever waited for a range that was released may go now, in order. */
static void start_ready(struct fiob_core *c)
{
	int w;

	while ((w = fiob_ovl_pop_ready(&c->ovl)) >= 0)
		start(c, (uint32_t)w);
}

static void finish(struct fiob_core *c, uint32_t id)
{
	struct fiob_req *r = &c->reqs[id];

	r->phase = PH_IDLE;
	if (r->slot >= 0) {
		fiob_slots_put(&c->slots, r->slot);
		r->slot = -1;
	}
	fiob_core_push_done(c, id);
	fiob_share_release(&c->share, id);
	if (fiob_ovl_in_use(&c->ovl)) {
		fiob_ovl_release(&c->ovl, id);
		start_ready(c);
	}
}

/*
 * A partial block read came back short. Past the end of a regular file that
 * is what a buffered write would see as zeros; anywhere else it is an error,
 * because writing the window back would put garbage on the neighbours.
 */
static int fix_short_rmw(struct fiob_core *c, struct fiob_req *r,
			 unsigned int i)
{
	const struct fiob_file *f = &c->files[r->file];
	uint64_t got_end = r->plan.rmw_off[i] + r->rmw_got[i];
	char *slot = fiob_slot_addr(&c->slots, r->slot);

	if (r->rmw_got[i] == r->plan.rmw_len[i])
		return 0;
	if (!f->regular || got_end < f->size)
		return -EIO;
	memset(slot + (got_end - r->plan.win_off), 0,
	       r->plan.rmw_len[i] - r->rmw_got[i]);
	return 0;
}

static void rmw_read_done(struct fiob_core *c, uint32_t id, unsigned int tag,
			  int res)
{
	struct fiob_req *r = &c->reqs[id];
	unsigned int i;

	if (res < 0) {
		if (!r->err)
			r->err = res;
	} else {
		r->rmw_got[tag] = (uint32_t)res;
		fiob_req_count_bytes(c, false, (uint64_t)res, 0);
	}
	if (--r->pending)
		return;
	for (i = 0; i < r->plan.nr_rmw && !r->err; i++)
		r->err = fix_short_rmw(c, r, i);
	if (r->err) {
		/* A failed RMW read writes nothing. */
		finish(c, id);
		return;
	}
	copy_in(c, r);
	prep_main(c, id);
}

/* A window write that ran past EOF: cut the file back to the user's end. */
static void trim_eof(struct fiob_core *c, struct fiob_req *r, uint64_t res)
{
	struct fiob_file *f = &c->files[r->file];
	uint64_t want = r->off + r->done;

	if (want < f->size)
		want = f->size;
	if (r->plan.win_off + res > want) {
		if (ftruncate(f->fd, (off_t)want) < 0 && !r->err)
			r->err = -errno;
		c->stats.eof_trims++;
	}
}

static void main_done(struct fiob_core *c, uint32_t id, int res)
{
	struct fiob_req *r = &c->reqs[id];
	struct fiob_file *f = &c->files[r->file];

	r->pending = 0;
	if (res < 0) {
		r->err = res;
		finish(c, id);
		return;
	}
	if (fiob_op_is_sync(r->op)) {
		r->done = r->len;
		finish(c, id);
		return;
	}
	/* Zero copy or not, the window's bytes come in order: head first. */
	r->done = fiob_user_bytes(&r->plan, r->len, (uint64_t)res);
	fiob_req_count_bytes(c, r->op == FIOB_OP_WRITE, (uint64_t)res, r->done);
	if (r->done < r->len)
		c->stats.short_done++;
	if (r->op == FIOB_OP_READ && r->plan.kind != FIOB_KIND_PASS && r->done)
		copy_out(c, r);
	if (r->op == FIOB_OP_WRITE) {
		if (r->eof_excl && f->regular)
			trim_eof(c, r, (uint64_t)res);
		note_written(c, r);
	}
	finish(c, id);
}

/*
 * A request that is, or may be, in the overlap table is done. A write of a
 * file other jobs write too is always there (claim() put it in before
 * start() took its shared range), so its shared range goes back here too.
 */
static __attribute__((noinline)) void release_and_start(struct fiob_core *c,
							uint32_t id)
{
	fiob_share_release(&c->share, id);
	fiob_ovl_release(&c->ovl, id);
	start_ready(c);
}

/* A memory-bounced I/O's slot: a read's bytes go out, the slot goes back. */
static __attribute__((noinline)) void slot_done(struct fiob_core *c,
						struct fiob_req *r)
{
	if (r->op == FIOB_OP_READ && r->done)
		copy_out(c, r);
	fiob_slots_put(&c->slots, r->slot);
	r->slot = -1;
}

/*
 * The fast path's other half, for a single-transfer read or write however
 * it was queued (pass-through or memory-bounced): no window to map back, no
 * EOF fix-up, and an overlap entry to drop only while the table is in use.
 * It writes what fiob_req_event() reads; the queue side wrote the rest.
 */
static inline __attribute__((always_inline))
void direct_done(struct fiob_core *c, struct fiob_req *r, uint32_t id, int res)
{
	c->nr_lean -= r->lean;
	if (res < 0) {
		r->err = res;
		r->done = 0;
	} else {
		r->done = fiob_req_count_done(c, r->op == FIOB_OP_WRITE, res,
					      r->len);
		if (r->op == FIOB_OP_WRITE)
			note_written(c, r);
	}
	if (r->slot >= 0)
		slot_done(c, r);
	fiob_core_push_done_req(c, r);
	if (fiob_ovl_in_use(&c->ovl))
		release_and_start(c, id);
}

/* Every other CQE: a window transfer, an RMW read, a sync. */
static __attribute__((noinline)) void complete_slow(struct fiob_core *c,
						    uint64_t data, int res)
{
	uint32_t id = fiob_ring_tag_id(data);

	if (c->reqs[id].phase == PH_RMW)
		rmw_read_done(c, id, fiob_ring_tag_part(data), res);
	else
		main_done(c, id, res);
}

/* What the CQE tagged @data, with result @res, means for its request. */
static inline __attribute__((always_inline))
void complete(struct fiob_core *c, uint64_t data, int res)
{
	uint32_t id = fiob_ring_tag_id(data);
	struct fiob_req *r = &c->reqs[id];

	if (r->plan.kind != FIOB_KIND_WINDOW && r->op <= FIOB_OP_WRITE)
		direct_done(c, r, id, res);
	else
		complete_slow(c, data, res);
}

/* ---- reaping --------------------------------------------------------- */

/*
 * Dispatch every completion; returns how many. Inline in wait_done(): it is
 * most of every reap.
 *
 * Invariant: each CQE is copied out and consumed (the CQ head moved past it,
 * fiob_ring_pop_cqe) before it is dispatched. Dispatching can prepare and
 * submit SQEs (an RMW's main transfer, a waiter that may start now, the
 * SQ-full submit in fiob_ring_wait_sqe(): a mid-reap submit), and the CQ
 * bound (fiob_core.c) counts only CQEs still owed to requests: nothing may
 * still occupy a CQ entry the kernel needs.
 */
static inline __attribute__((always_inline))
unsigned int process_cqes(struct fiob_core *c)
{
	unsigned int n = 0;
	uint64_t data;
	int res;

	fiob_ring_reap_begin(&c->ring);
	while (fiob_ring_pop_cqe(&c->ring, &data, &res)) {
		complete(c, data, res);
		n++;
	}
	fiob_ring_reap_end(&c->ring);
	return n;
}

int fiob_req_submit_slow(struct fiob_core *c, int ret)
{
	for (;;) {
		if (ret >= 0) {
			/* SQPOLL: the kernel thread takes them from here. */
			if (c->ring.sqpoll)
				break;
		} else {
			/* The ring layer's one rule: 0 means enter again. */
			ret = fiob_ring_enter_failed(&c->ring, ret);
			if (ret)
				return ret;
		}
		if (!fiob_ring_sq_ready(&c->ring))
			break;
		ret = fiob_ring_submit(&c->ring);
	}
	return 0;
}

/* Writes that waited for another job and hold their range now: go. */
static inline void start_shared_ready(struct fiob_core *c)
{
	uint32_t i, n = fiob_share_collect(&c->share);

	for (i = 0; i < n; i++)
		start(c, c->share.ready[i]);
}

/*
 * Wait for a CQE. With writes waiting for another job, not for long: that
 * job's completion releases them on its thread or in its process, which posts
 * nothing to this ring, so look again every FIOB_SHARE_POLL_NS.
 */
#define FIOB_SHARE_POLL_NS	100000
static inline int wait_cqe(struct fiob_core *c)
{
	if (__builtin_expect(fiob_share_waiting(&c->share), 0))
		return fiob_ring_wait_timeout(&c->ring, FIOB_SHARE_POLL_NS);
	return fiob_ring_wait_nr(&c->ring, 1);
}

/*
 * Process completions until at least @min requests are done (0: a poll).
 * Inline in both callers: it is most of every reap. One pass over the CQ
 * per kernel entry, and a submit only when the SQ has entries (completions
 * can start waiters; commit handed in everything else).
 */
static inline __attribute__((always_inline))
int wait_done(struct fiob_core *c, unsigned int min)
{
	unsigned int n;
	int ret;

	for (;;) {
		n = process_cqes(c);
		start_shared_ready(c);
		ret = fiob_req_submit(c);
		if (ret)
			return ret;
		if (c->done_nr >= min && (n || c->done_nr || min))
			return 0;
		if (!min) {
			/*
			 * A poll: with DEFER_TASKRUN nothing is posted until we
			 * enter the kernel, so enter once, then look again.
			 */
			ret = fiob_ring_get_events(&c->ring);
			if (ret < 0 && (ret = fiob_ring_enter_failed(&c->ring,
								     ret)))
				return ret;
			process_cqes(c);
			return 0;
		}
		ret = wait_cqe(c);
		if (ret < 0 && ret != -ETIME &&
		    (ret = fiob_ring_enter_failed(&c->ring, ret)))
			return ret;
	}
}

/*
 * fiob_req_reap_lean_wait() past one plain wait: SQPOLL, retries, errors.
 * It enters at least once, as a poll (@min 0) must.
 */
static __attribute__((noinline))
int reap_lean_wait_more(struct fiob_core *c, unsigned int head,
			unsigned int min, unsigned int max)
{
	unsigned int ready = fiob_ring_cq_ready_from(&c->ring, head);
	int ret;

	do {
		ret = fiob_ring_wait_nr(&c->ring, ready < min ? min - ready : 0);
		if (ret < 0 && (ret = fiob_ring_enter_failed(&c->ring, ret)))
			return ret;
		ready = fiob_ring_cq_ready_from(&c->ring, head);
	} while (ready < min);
	return fiob_req_lean_hand_out(c, head, ready, max);
}

/*
 * The usual case (one enter, and @min are there) makes no call, so it saves
 * no registers: it is every I/O's wait at QD1.
 */
int fiob_req_reap_lean_wait(struct fiob_core *c, unsigned int head,
			    unsigned int min, unsigned int max)
{
	unsigned int ready;

	if (!c->ring.sqpoll &&
	    fiob_ring_enter(&c->ring, min - fiob_ring_cq_ready_from(&c->ring,
								     head)) >= 0 &&
	    (ready = fiob_ring_cq_ready_from(&c->ring, head)) >= min)
		return fiob_req_lean_hand_out(c, head, ready, max);
	return reap_lean_wait_more(c, head, min, max);
}

int fiob_req_reap_any(struct fiob_core *c, unsigned int min, unsigned int max)
{
	int ret;

	fiob_core_forget_returned(c);
	ret = wait_done(c, min);
	if (ret)
		return ret;
	return (int)fiob_core_hand_out(c, max);
}

int fiob_req_drain(struct fiob_core *c)
{
	/* Requests handed out last time are done and counted in both. */
	if (c->done_nr >= c->nr_busy)
		return 0;
	return wait_done(c, c->nr_busy);
}
