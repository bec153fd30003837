/*
 * The core's side of io_uring: the ring with the same flags fio's io_uring
 * engine uses, buffer registration, and how transfers become SQEs (fixed
 * files and buffers, RWF_ flags, ioprio, SQE flags, user_data).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fiob_core.h"
#include "fiob_uring.h"

/*
 * Flags fio's own io_uring engine asks for, tried in its order of fallback.
 * They only change how completions are delivered, never what runs, so a
 * kernel without them just gets the next set. What the user asked for
 * (IOPOLL, SQPOLL) is never dropped: that fails with the option's name.
 */
static const unsigned int optional_flag_sets[] = {
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
		IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_COOP_TASKRUN,
	0,
};

int fiob_uring_setup(struct io_uring *ring, uint32_t depth,
		     const struct fiob_ring_opts *o, const char **what)
{
	struct io_uring_params p;
	/*
	 * One SQE per request, like fio's io_uring: a small ring stays in
	 * cache. An RMW with two partial-block reads may find the SQ full;
	 * fiob_uring_wait_sqe() then submits and retries. The CQ (twice the
	 * SQ) holds every CQE in flight: at most two per request.
	 */
	unsigned int entries = fiob_roundup_pow2(depth);
	unsigned int i;
	int ret = -EINVAL;

	*what = "io_uring_queue_init";
	for (i = 0; i < sizeof(optional_flag_sets) / sizeof(optional_flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = optional_flag_sets[i];
		if (o->sqpoll) {
			/* DEFER_TASKRUN needs the submitter to reap: not SQPOLL. */
			p.flags &= ~IORING_SETUP_DEFER_TASKRUN;
			p.flags |= IORING_SETUP_SQPOLL;
			if (o->sqpoll_cpu >= 0) {
				p.flags |= IORING_SETUP_SQ_AFF;
				p.sq_thread_cpu = (unsigned int)o->sqpoll_cpu;
			}
		}
		if (o->hipri)
			p.flags |= IORING_SETUP_IOPOLL;
		ret = io_uring_queue_init_params(entries, ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (!ret) {
		/*
		 * Enter through a registered ring descriptor (kernel 5.18+):
		 * every io_uring_enter skips the file lookup. Only a cost
		 * saved, so a kernel without it just does the lookup.
		 */
		io_uring_register_ring_fd(ring);
		return 0;
	}
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		/* Even the plainest ring was refused: name what was asked for. */
		if (o->hipri)
			*what = "hipri (IORING_SETUP_IOPOLL)";
		else if (o->sqpoll && o->sqpoll_cpu >= 0)
			*what = "sqthread_poll_cpu (IORING_SETUP_SQ_AFF)";
		else if (o->sqpoll)
			*what = "sqthread_poll (IORING_SETUP_SQPOLL)";
	}
	return ret;
}

int fiob_uring_register_bufs(struct io_uring *ring, const struct iovec *user,
			     uint32_t nr_user, const struct fiob_slots *slots)
{
	uint32_t nr = nr_user + slots->nr, i;
	struct iovec *iov;
	int ret;

	/* Index i < nr_user: request i's own buffer; after that, the slots. */
	iov = calloc(nr, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (i = 0; i < nr_user; i++)
		iov[i] = user[i];
	for (i = 0; i < slots->nr; i++) {
		iov[nr_user + i].iov_base = fiob_slot_addr(slots, (int32_t)i);
		iov[nr_user + i].iov_len = slots->size;
	}
	ret = io_uring_register_buffers(ring, iov, nr);
	free(iov);
	return ret;
}

/* ---- SQEs -------------------------------------------------------- */

struct io_uring_sqe *fiob_uring_wait_sqe(struct fiob_core *c)
{
	struct io_uring_sqe *sqe = NULL;

	/*
	 * The SQ has one entry per request, so it is only full when an RMW
	 * needs a second read, and then only of entries not yet handed over
	 * (or not yet consumed by the SQPOLL thread): hand them over and wait
	 * for room.
	 */
	while (!sqe) {
		int ret = io_uring_submit(&c->ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
			return NULL;
		if (c->p.ring.sqpoll)
			io_uring_sqring_wait(&c->ring);
		sqe = io_uring_get_sqe(&c->ring);
	}
	return sqe;
}

bool fiob_uring_prep_sync(struct fiob_core *c, uint32_t id)
{
	const struct fiob_req *r = &c->reqs[id];
	const struct fiob_file *f = &c->files[r->file];
	struct io_uring_sqe *sqe = fiob_uring_get_sqe(c);
	int fd = f->fixed >= 0 ? f->fixed : f->fd;

	if (!sqe)
		return false;
	/* Like fio's io_uring: the range is 32 bits, as the SQE's len is. */
	if (r->op == FIOB_OP_SYNC_RANGE)
		io_uring_prep_sync_file_range(sqe, fd, (unsigned int)r->len,
					      r->off,
					      (int)c->p.ring.sync_range_flags);
	else
		io_uring_prep_fsync(sqe, fd, r->op == FIOB_OP_FDATASYNC ?
				    IORING_FSYNC_DATASYNC : 0);
	sqe->flags |= r->attr.sqe_flags;
	if (f->fixed >= 0)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->ioprio = r->attr.ioprio;
	io_uring_sqe_set_data64(sqe, (uint64_t)id << FIOB_TAG_BITS);
	return true;
}
