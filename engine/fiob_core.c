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

int fiob_core_init(struct fiob_core *c, const struct fiob_core_params *p)
{
	uint32_t i, done_size = fiob_roundup_pow2(p->depth);
	int ret;

	memset(c, 0, sizeof(*c));
	c->ring.user_buf_base = c->ring.slot_buf_base = -1;
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
				      p->slot_align);
		if (ret)
			goto err;
	}
	ret = fiob_ring_init(&c->ring, p->depth, &p->ring, &c->err_what);
	if (ret)
		goto err;
	fiob_ring_file_table(&c->ring, p->nr_files);
	if (p->ring.fixedbufs) {
		c->err_what = "fixedbufs (io_uring_register_buffers)";
		ret = fiob_ring_register_bufs(&c->ring, p->user_bufs, p->depth,
					      c->slots.base, c->slots.nr,
					      c->slots.size);
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
		c->slots_reg_err = fiob_ring_register_bufs(&c->ring, NULL, 0,
							   c->slots.base,
							   c->slots.nr,
							   c->slots.size);
	}
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
	for (i = 0; i < nr; i++)
		c->files[i].fixed = (int)i;
	return 0;
}

int fiob_core_set_fd(struct fiob_core *c, uint32_t id, int fd)
{
	struct fiob_file *f = &c->files[id];

	f->fd = fd;
	if (!c->ring.file_table)
		return 0;
	return fiob_ring_set_file(&c->ring, id, fd, &f->fixed);
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
