/*
 * The core object (fiob_core.h): setup and teardown, files, submission and
 * reaping. What each completion means for its request is fiob_req.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiob_core.h"
#include "fiob_req.h"
#include "fiob_uring.h"

int fiob_core_init(struct fiob_core *c, const struct fiob_core_params *p)
{
	uint32_t i, done_size = fiob_roundup_pow2(p->depth);
	int ret;

	memset(c, 0, sizeof(*c));
	c->slot_buf_base = -1;
	c->p = *p;
	c->err_what = "calloc";
	c->done_mask = done_size - 1;
	c->reqs = calloc(p->depth, sizeof(*c->reqs));
	c->files = calloc(p->nr_files, sizeof(*c->files));
	c->done_q = calloc(done_size, sizeof(*c->done_q));
	if (!c->reqs || !c->files || !c->done_q) {
		ret = -ENOMEM;
		goto err;
	}
	for (i = 0; i < p->nr_files; i++)
		c->files[i].fd = c->files[i].fixed = -1;
	for (i = 0; i < p->depth; i++)
		c->reqs[i].slot = -1;

	c->err_what = "overlap table";
	ret = fiob_ovl_init(&c->ovl, p->depth);
	if (ret)
		goto err;
	if (p->nr_slots) {
		c->err_what = "bounce slots";
		ret = fiob_slots_init(&c->slots, p->nr_slots, p->slot_size,
				      p->slot_align ? p->slot_align :
				      (size_t)sysconf(_SC_PAGESIZE));
		if (ret)
			goto err;
	}
	ret = fiob_uring_setup(&c->ring, p->depth, &p->ring, &c->err_what);
	if (ret)
		goto err;
	c->ring_up = true;
	/* A kernel without sparse tables just names files by descriptor. */
	c->file_table = !io_uring_register_files_sparse(&c->ring, p->nr_files);
	if (p->ring.fixedbufs) {
		c->err_what = "fixedbufs (io_uring_register_buffers)";
		ret = fiob_uring_register_bufs(&c->ring, p->user_bufs,
					       p->depth, &c->slots);
		if (ret)
			goto err;
		if (c->slots.nr)
			c->slot_buf_base = (int)p->depth;
	} else if (c->slots.nr && p->ring.register_slots) {
		/*
		 * The slots are the engine's own for the whole job, so they
		 * are registered whatever fixedbufs says: otherwise the kernel
		 * pins and unpins a slot's pages on every bounced I/O, which
		 * costs more than the copy. Best effort: registered pages
		 * count against RLIMIT_MEMLOCK (without CAP_IPC_LOCK), and a
		 * refusal only means plain READ/WRITE on the slots.
		 */
		c->slots_reg_err = fiob_uring_register_bufs(&c->ring, NULL, 0,
							    &c->slots);
		if (!c->slots_reg_err)
			c->slot_buf_base = 0;
	}
	c->err_what = NULL;
	return 0;
err:
	fiob_core_exit(c);
	return ret;
}

void fiob_core_exit(struct fiob_core *c)
{
	/* The ring goes first: the kernel may still point into the slots. */
	if (c->ring_up)
		io_uring_queue_exit(&c->ring);
	c->ring_up = false;
	fiob_slots_exit(&c->slots);
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

	ret = io_uring_register_files(&c->ring, fds, nr);
	if (ret)
		return ret;
	for (i = 0; i < nr; i++)
		c->files[i].fixed = (int)i;
	return 0;
}

int fiob_core_set_fd(struct fiob_core *c, uint32_t id, int fd)
{
	struct fiob_file *f = &c->files[id];
	int ret;

	f->fd = fd;
	if (!c->file_table)
		return 0;
	ret = io_uring_register_files_update(&c->ring, id, &fd, 1);
	f->fixed = ret == 1 && fd >= 0 ? (int)id : -1;
	return ret < 0 ? ret : 0;
}

static unsigned int process_cqes(struct fiob_core *c)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&c->ring, head, cqe) {
		fiob_req_complete(c, cqe->user_data, cqe->res);
		n++;
	}
	io_uring_cq_advance(&c->ring, n);
	return n;
}

static bool retry_errno(int ret)
{
	/* Signals and transient kernel shortages: try again, never an I/O error. */
	return ret == -EINTR || ret == -EAGAIN || ret == -EBUSY;
}

int fiob_core_submit(struct fiob_core *c)
{
	while (io_uring_sq_ready(&c->ring)) {
		/*
		 * Like fio's io_uring: enter with GETEVENTS, so that under
		 * DEFER_TASKRUN completions already due are posted now and the
		 * next reap often needs no system call of its own.
		 */
		int ret = c->p.ring.sqpoll ? io_uring_submit(&c->ring) :
			  io_uring_submit_and_get_events(&c->ring);

		if (ret >= 0) {
			/* SQPOLL: the kernel thread takes them from here. */
			if (c->p.ring.sqpoll)
				break;
			continue;
		}
		if (!retry_errno(ret))
			return ret;
		/* -EBUSY: completions must be reaped before more go in. */
		process_cqes(c);
	}
	return 0;
}

/* Process completions until at least @min requests are done (0: a poll). */
static int wait_done(struct fiob_core *c, unsigned int min)
{
	unsigned int n;
	int ret;

	for (;;) {
		n = process_cqes(c);
		ret = fiob_core_submit(c);
		if (ret)
			return ret;
		if (c->done_nr >= min && (n || c->done_nr || min))
			return 0;
		if (!min) {
			/*
			 * A poll: with DEFER_TASKRUN nothing is posted until we
			 * enter the kernel, so enter once, then look again.
			 */
			ret = io_uring_get_events(&c->ring);
			if (ret < 0 && !retry_errno(ret))
				return ret;
			process_cqes(c);
			return 0;
		}
		ret = io_uring_submit_and_wait(&c->ring, 1);
		if (ret < 0 && !retry_errno(ret) && ret != -ETIME)
			return ret;
	}
}

int fiob_core_reap(struct fiob_core *c, unsigned int min, unsigned int max)
{
	unsigned int n;
	int ret;

	/* What the caller took last time is gone now. */
	c->done_head = (c->done_head + c->returned) & c->done_mask;
	c->done_nr -= c->returned;
	c->nr_busy -= c->returned;
	c->returned = 0;

	ret = wait_done(c, min);
	if (ret)
		return ret;
	n = c->done_nr < max ? c->done_nr : max;
	c->returned = n;
	return (int)n;
}

int fiob_core_drain(struct fiob_core *c)
{
	/* Requests handed out last time are done and counted in both. */
	if (c->done_nr >= c->nr_busy)
		return 0;
	return wait_done(c, c->nr_busy);
}

uint32_t fiob_core_uncollected_failures(const struct fiob_core *c, int *err)
{
	uint32_t i, failed = 0;

	for (i = c->returned; i < c->done_nr; i++) {
		const struct fiob_req *r =
			&c->reqs[c->done_q[(c->done_head + i) & c->done_mask]];

		if (r->err) {
			failed++;
			*err = r->err;
		}
	}
	return failed;
}
