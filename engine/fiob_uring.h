/* The core's side of io_uring: setup, registration, SQEs (fiob_uring.c). */
#ifndef FIOB_URING_H
#define FIOB_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fiob_core.h"

/* user_data: request id << FIOB_TAG_BITS | which RMW read a CQE answers. */
#define FIOB_TAG_BITS	2
#define FIOB_TAG_MASK	((1u << FIOB_TAG_BITS) - 1)

/*
 * Create @ring for @depth requests with the options in @o. On failure
 * returns -errno and points @what at the name of what was refused (the fio
 * option when a requested feature is missing).
 */
int fiob_uring_setup(struct io_uring *ring, uint32_t depth,
		     const struct fiob_ring_opts *o, const char **what);

/* Register @nr_user request buffers, then every bounce slot after them. */
int fiob_uring_register_bufs(struct io_uring *ring, const struct iovec *user,
			     uint32_t nr_user, const struct fiob_slots *slots);

/* An SQE when the SQ is full: submit and wait for room. NULL: ring failed. */
struct io_uring_sqe *fiob_uring_wait_sqe(struct fiob_core *c);

static inline struct io_uring_sqe *fiob_uring_get_sqe(struct fiob_core *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	return sqe ? sqe : fiob_uring_wait_sqe(c);
}

/*
 * Prepare one read or write of @len bytes at @addr of file @f for request
 * @id, from the registered buffer @buf_index (or -1), as READV/WRITEV of
 * @iov when that is given (and no buffer is), with the request's ioprio and
 * SQE flags. False only if the ring itself fails. Inline: it is on every
 * I/O's path.
 */
static inline bool fiob_uring_prep_rw(struct fiob_core *c,
				      const struct fiob_file *f, uint32_t id,
				      unsigned int tag, bool write, void *addr,
				      uint64_t off, uint32_t len, int buf_index,
				      struct iovec *iov)
{
	struct io_uring_sqe *sqe = fiob_uring_get_sqe(c);
	const struct fiob_req *r = &c->reqs[id];
	int fd = f->fixed >= 0 ? f->fixed : f->fd;

	if (!sqe)
		return false;
	if (buf_index >= 0) {
		io_uring_prep_rw(write ? IORING_OP_WRITE_FIXED :
				 IORING_OP_READ_FIXED, sqe, fd, addr, len, off);
		sqe->buf_index = (uint16_t)buf_index;
	} else if (iov) {
		iov->iov_base = addr;
		iov->iov_len = len;
		io_uring_prep_rw(write ? IORING_OP_WRITEV : IORING_OP_READV,
				 sqe, fd, iov, 1, off);
	} else {
		io_uring_prep_rw(write ? IORING_OP_WRITE : IORING_OP_READ,
				 sqe, fd, addr, len, off);
	}
	sqe->flags |= r->attr.sqe_flags;
	if (f->fixed >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->rw_flags = (__kernel_rwf_t)c->p.ring.rw_flags[write];
	sqe->ioprio = r->attr.ioprio;
	io_uring_sqe_set_data64(sqe, ((uint64_t)id << FIOB_TAG_BITS) | tag);
	return true;
}

/* Prepare request @id's fsync, fdatasync or sync_file_range. */
bool fiob_uring_prep_sync(struct fiob_core *c, uint32_t id);

#endif
