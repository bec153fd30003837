/*
 * The core (fiob_core.h): setup and teardown of one job thread's engine
 * state, and its files. Calls down only: the ring layer, the slots, the
 * overlap table. A request's life is fiob_req.c's, above this file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fiob_core.h"
#include "fiob_uring.h"

/*
 * The completion bound: how many CQEs can be outstanding at once (issued
 * and not yet taken off the CQ), which is what the CQ is sized for.
 *
 * Per request, at most FIOB_MAX_RMW_READS (2):
 *   aligned (pass), memory bounce, window read    1: the one transfer
 *   zero copy (window I/O as one READV/WRITEV)    1: the one transfer
 *   RMW write                                     2: the head and tail reads
 *       together; the write goes out only after both of their CQEs were
 *       handled (pending back to 0), so then 1
 *   fsync, fdatasync, sync_file_range             1
 *   force_async, cmdprio                          0 more: SQE flags only
 *   linked ops, multishot, CQE_SKIP               none are used: 1 SQE, 1 CQE
 *   trim, syncfs                                  0: done synchronously by
 *       the adapter (fiob_queue_alone), never through the ring
 * A request waiting for a slot or behind an overlapping window, or done and
 * not yet collected, owes none. Request ids are 0 .. depth-1 (fio hands out
 * at most iodepth io_us), and only a request holding a bounce slot can
 * be an RMW write, so across the ring:
 *   CQEs <= depth + min(bounce_slots, depth) * (FIOB_MAX_RMW_READS - 1)
 * (2 * depth when every request can hold a slot, depth with bounce=never).
 * Submitting in the middle of a reap adds nothing to this: a CQE leaves
 * the CQ before its handler runs (fiob_ring_pop_cqe), so the entries the
 * kernel posts for the handler's new SQEs replace it.
 */
static uint32_t cq_bound(const struct fiob_core_params *p)
{
	uint32_t rmw = p->nr_slots < p->depth ? p->nr_slots : p->depth;

	return p->depth + rmw * (FIOB_MAX_RMW_READS - 1);
}

/* Whenever fd or fixed changes: what an SQE names for the file. */
static void file_sqe_target(struct fiob_file *f)
{
	f->sqe_fixed = f->fixed >= 0;
	f->sqe_fd = f->sqe_fixed ? f->fixed : f->fd;
}

const char *const fiob_core_span_names[] = {
	[FIOB_SPAN_OFF] = "off",
	[FIOB_SPAN_YES] = "yes",
	[FIOB_SPAN_OLD_KERNEL] = "old-kernel",
	[FIOB_SPAN_NO_ROOM] = "no-room",
	[FIOB_SPAN_REFUSED] = "refused",
};

/*
 * Place the span's discard area for zero-copy reads. First thing: the
 * slots' and the ring's mappings would otherwise take the free address
 * space right beside fio's buffers (mmap fills from the top down).
 */
static void span_place(struct fiob_core *c, const struct fiob_core_params *p)
{
	c->span_state = FIOB_SPAN_OFF;
	if (!p->user_mem.iov_len || !p->discard_len || !p->nr_slots)
		return;
	c->span_state = fiob_span_init(&c->span, &p->user_mem, p->discard_len) ?
			FIOB_SPAN_NO_ROOM : FIOB_SPAN_YES;
}

/* A span that will not be registered is dropped; span_state says why. */
static void span_drop(struct fiob_core *c, enum fiob_core_span why)
{
	fiob_span_exit(&c->span);
	c->span_state = why;
}

/*
 * Register @nr_user request buffers (fixedbufs) and the slots, and the span
 * where zero-copy reads can use one. A span the kernel refuses (a hole in
 * the range, a memlock limit) only costs READV_FIXED: registration is
 * retried without it, and its discard area freed.
 */
static int register_bufs(struct fiob_core *c, const struct fiob_core_params *p,
			 uint32_t nr_user)
{
	if (c->span_state == FIOB_SPAN_YES && !fiob_ring_has_fixed_vec(&c->ring))
		span_drop(c, FIOB_SPAN_OLD_KERNEL);
	if (c->span_state == FIOB_SPAN_YES) {
		if (!fiob_ring_register_bufs(&c->ring, p->user_bufs, nr_user,
					     c->slots.base, c->slots.nr,
					     c->slots.size, &c->span.range))
			return 0;
		span_drop(c, FIOB_SPAN_REFUSED);
	}
	return fiob_ring_register_bufs(&c->ring, p->user_bufs, nr_user,
				       c->slots.base, c->slots.nr,
				       c->slots.size, NULL);
}

int fiob_core_init(struct fiob_core *c, const struct fiob_core_params *p)
{
	uint32_t i, done_size = fiob_roundup_pow2(p->depth);
	int ret;

	memset(c, 0, sizeof(*c));
	c->ring.user_buf_base = c->ring.slot_buf_base = c->ring.span_buf = -1;
	c->p = *p;
	c->err_what = "calloc";
	c->done_mask = done_size - 1;
	c->reqs = aligned_alloc(FIOB_REQ_ALIGN, p->depth * sizeof(*c->reqs));
	if (c->reqs)
		memset(c->reqs, 0, p->depth * sizeof(*c->reqs));
	c->files = calloc(p->nr_files, sizeof(*c->files));
	c->done_q = calloc(done_size, sizeof(*c->done_q));
	if (!c->reqs || !c->files || !c->done_q) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < p->nr_files; i++) {
		c->files[i].fd = c->files[i].fixed = -1;
		file_sqe_target(&c->files[i]);
		/* No rule yet: nothing takes the fast path. */
		c->files[i].pass_off_mask = c->files[i].pass_mem_mask =
			UINT64_MAX;
	}
	for (i = 0; i < p->depth; i++)
		c->reqs[i].slot = -1;

	c->err_what = "overlap table";
	ret = fiob_ovl_init(&c->ovl, p->depth);
	if (ret)
		goto err;
	span_place(c, p);
	if (p->nr_slots) {
		c->err_what = "bounce slots";
		ret = fiob_slots_init(&c->slots, p->nr_slots, p->slot_size,
				      p->slot_align);
		if (ret)
			goto err;
	}
	ret = fiob_ring_init(&c->ring, p->depth, cq_bound(p), &p->ring,
			     &c->stats, &c->err_what);
	if (ret)
		goto err;
	fiob_ring_file_table(&c->ring, p->nr_files);
	if (p->ring.fixedbufs) {
		c->err_what = "fixedbufs (io_uring_register_buffers)";
		ret = register_bufs(c, p, p->depth);
		if (ret)
			goto err;
	} else if (c->slots.nr && p->ring.register_slots) {
		/*
		 * The slots are the engine's own for the whole job, so they
		 * are registered whatever fixedbufs says: otherwise the kernel
		 * pins and unpins a slot's pages on every bounced I/O, which
		 * costs more than the copy. Best effort: registered pages
		 * count against RLIMIT_MEMLOCK (without CAP_IPC_LOCK), and a
		 * refusal only means plain READ/WRITE on the slots.
		 */
		c->slots_reg_err = register_bufs(c, p, 0);
	}
	if (c->span_state == FIOB_SPAN_YES && c->ring.span_buf < 0)
		span_drop(c, FIOB_SPAN_OFF);	/* nothing registered */
	c->err_what = NULL;
	return 0;
err:
	fiob_core_exit(c);
	return ret;
}

void fiob_core_exit(struct fiob_core *c)
{
	uint32_t i;

	/* The ring goes first: the kernel may still point into the slots. */
	fiob_ring_exit(&c->ring);
	for (i = 0; c->files && i < c->p.nr_files; i++)
		fiob_share_close(&c->share, &c->files[i].share);
	fiob_share_job_exit(&c->share);
	fiob_slots_exit(&c->slots);
	fiob_span_exit(&c->span);
	fiob_ovl_exit(&c->ovl);
	free(c->done_q);
	free(c->files);
	free(c->reqs);
	c->done_q = NULL;
	c->files = NULL;
	c->reqs = NULL;
}

int fiob_core_register_files(struct fiob_core *c, const int *fds, uint32_t nr)
{
	uint32_t i;
	int ret;

	ret = fiob_ring_register_files(&c->ring, fds, nr);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		c->files[i].fixed = (int)i;
		file_sqe_target(&c->files[i]);
	}
	return 0;
}

int fiob_core_set_fd(struct fiob_core *c, uint32_t id, int fd)
{
	struct fiob_file *f = &c->files[id];
	int ret = 0;

	f->fd = fd;
	if (c->ring.file_table)
		ret = fiob_ring_set_file(&c->ring, id, fd, &f->fixed);
	file_sqe_target(f);
	return ret;
}

uint32_t fiob_core_uncollected_failures(const struct fiob_core *c, int *err)
{
	uint32_t i, failed = 0;

	for (i = c->returned; i < c->done_nr; i++) {
		const struct fiob_req *r =
			c->done_q[(c->done_head + i) & c->done_mask];

		if (r->err) {
			failed++;
			*err = r->err;
		}
	}
	return failed;
}
