/*
 * The ring layer (fiob_uring.h): the ring with the same flags fio's io_uring
 * engine uses, buffer and file registration, and the slow half of getting
 * an SQE. Knows nothing above it: no requests, no files of the core.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fiob_align.h"
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

/*
 * One io_uring_queue_init_params() per optional flag set: @cq_entries 0
 * leaves the CQ at the kernel's default (twice the SQ).
 */
static int ring_create(struct fiob_ring *r, unsigned int sq_entries,
		       unsigned int cq_entries, const struct fiob_ring_opts *o)
{
	struct io_uring_params p;
	unsigned int i;
	int ret = -EINVAL;

	for (i = 0; i < sizeof(optional_flag_sets) / sizeof(optional_flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = optional_flag_sets[i];
		if (cq_entries) {
			p.flags |= IORING_SETUP_CQSIZE;
			p.cq_entries = cq_entries;
		}
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
		ret = io_uring_queue_init_params(sq_entries, &r->uring, &p);
		if (ret != -EINVAL)
			break;
	}
	return ret;
}

int fiob_ring_init(struct fiob_ring *r, uint32_t depth, uint32_t max_cqes,
		   const struct fiob_ring_opts *o, struct fiob_stats *stats,
		   const char **what)
{
	/*
	 * One SQE per request, like fio's io_uring: a small ring stays in
	 * cache. An RMW with two partial-block reads may find the SQ full;
	 * fiob_ring_wait_sqe() then submits and retries, even in the middle
	 * of a reap. The SQ's size bounds nothing: the CQ's does.
	 */
	unsigned int sq = fiob_roundup_pow2(o->sq_entries ? o->sq_entries :
					    depth);
	/*
	 * The CQ holds every CQE outstanding at once, which the caller bounds
	 * by @max_cqes. That bound holds because completions leave the CQ one
	 * by one before their handlers run (fiob_ring_pop_cqe): consumed
	 * entries never take room while a handler submits. So the CQ cannot
	 * overflow, and -EBUSY/-EAGAIN from a submit never needs a reap to
	 * make room (fiob_ring_enter_failed). The kernel needs CQ >= SQ.
	 */
	unsigned int cq = fiob_roundup_pow2(max_cqes > sq ? max_cqes : sq);
	int ret;

	memset(r, 0, sizeof(*r));
	r->sqpoll = o->sqpoll;
	r->stats = stats;
	r->user_buf_base = r->slot_buf_base = r->span_buf = -1;
	*what = "io_uring_queue_init";
	ret = ring_create(r, sq, cq, o);
	if (ret == -EINVAL) {
		/*
		 * A kernel without IORING_SETUP_CQSIZE (before 5.5): its CQ is
		 * twice the SQ, so the SQ grows until that covers the bound.
		 */
		ret = ring_create(r, sq > cq / 2 ? sq : cq / 2, 0, o);
	}
	if (!ret && r->uring.cq.ring_entries < max_cqes) {
		io_uring_queue_exit(&r->uring);
		*what = "io_uring CQ size (IORING_SETUP_CQSIZE)";
		return -EINVAL;
	}
	if (!ret) {
		r->up = true;
		/*
		 * Enter through a registered ring descriptor (kernel 5.18+):
		 * every io_uring_enter skips the file lookup. Only a cost
		 * saved, so a kernel without it just does the lookup.
		 */
		r->enter_fd = r->uring.ring_fd;
		r->enter_flags = 0;
		if (io_uring_register_ring_fd(&r->uring) == 1) {
			r->enter_fd = r->uring.enter_ring_fd;
			r->enter_flags = IORING_ENTER_REGISTERED_RING;
		}
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

void fiob_ring_exit(struct fiob_ring *r)
{
	if (r->up)
		io_uring_queue_exit(&r->uring);
	r->up = false;
	r->file_table = false;
	r->user_buf_base = r->slot_buf_base = r->span_buf = -1;
}

int fiob_ring_register_bufs(struct fiob_ring *r, const struct iovec *user,
			    uint32_t nr_user, char *slot_base,
			    uint32_t nr_slots, size_t slot_size,
			    const struct iovec *span)
{
	uint32_t nr = nr_user + nr_slots + (span ? 1 : 0), i;
	struct iovec *iov;
	int ret;

	/* Index i < nr_user: request i's own buffer; after that, the slots. */
	iov = calloc(nr, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (i = 0; i < nr_user; i++)
		iov[i] = user[i];
	for (i = 0; i < nr_slots; i++) {
		iov[nr_user + i].iov_base = slot_base + (size_t)i * slot_size;
		iov[nr_user + i].iov_len = slot_size;
	}
	if (span)
		iov[nr - 1] = *span;
	ret = io_uring_register_buffers(&r->uring, iov, nr);
	free(iov);
	if (ret)
		return ret;
	if (nr_user)
		r->user_buf_base = 0;
	if (nr_slots)
		r->slot_buf_base = (int)nr_user;
	if (span)
		r->span_buf = (int)(nr - 1);
	return 0;
}

bool fiob_ring_has_fixed_vec(struct fiob_ring *r)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&r->uring);
	bool yes;

	if (!probe)
		return false;
	yes = io_uring_opcode_supported(probe, FIOB_IORING_OP_READV_FIXED) &&
	      io_uring_opcode_supported(probe, FIOB_IORING_OP_WRITEV_FIXED);
	io_uring_free_probe(probe);
	return yes;
}

void fiob_ring_file_table(struct fiob_ring *r, uint32_t nr)
{
	/* A kernel without sparse tables just names files by descriptor. */
	r->file_table = !io_uring_register_files_sparse(&r->uring, nr);
}

int fiob_ring_register_files(struct fiob_ring *r, const int *fds, uint32_t nr)
{
	return io_uring_register_files(&r->uring, fds, nr);
}

int fiob_ring_set_file(struct fiob_ring *r, uint32_t idx, int fd, int *fixed)
{
	int ret;

	ret = io_uring_register_files_update(&r->uring, idx, &fd, 1);
	*fixed = ret == 1 && fd >= 0 ? (int)idx : -1;
	return ret < 0 ? ret : 0;
}

/* ---- SQEs -------------------------------------------------------- */

struct io_uring_sqe *fiob_ring_wait_sqe(struct fiob_ring *r)
{
	struct io_uring_sqe *sqe = NULL;

	/*
	 * The SQ is full of entries not yet handed over (or not yet taken by
	 * the SQPOLL thread): hand them over and wait for room. In the middle
	 * of a reap this is safe because every CQE being handled has already
	 * left the CQ (fiob_ring_pop_cqe), so what this submit adds stays
	 * within the CQ bound.
	 */
	r->stats->sq_full_submits++;
	if (r->reaping)
		r->stats->mid_reap_submits++;
	while (!sqe) {
		int ret = io_uring_submit(&r->uring);

		if (ret < 0 && fiob_ring_enter_failed(r, ret))
			return NULL;
		if (r->sqpoll)
			io_uring_sqring_wait(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	return sqe;
}

/* The kernel's count of completions it had to drop, as cq_dropped. */
static void note_dropped(struct fiob_ring *r)
{
	if (r->uring.cq.koverflow)
		r->stats->cq_dropped = *r->uring.cq.koverflow;
}

int fiob_ring_enter_failed(struct fiob_ring *r, int ret)
{
	switch (ret) {
	case -EINTR:
		return 0;
	case -EAGAIN:
	case -EBUSY:
		r->stats->submit_retries++;
		fiob_ring_flush_backlog(r);
		return 0;
	case -EBADR:
		note_dropped(r);
		return ret;
	default:
		return ret;
	}
}

bool fiob_ring_flush_backlog(struct fiob_ring *r)
{
	if (io_uring_cq_has_overflow(&r->uring)) {
		r->stats->cq_overflows++;
		/*
		 * Entering with GETEVENTS moves the kernel's overflow list onto
		 * the CQ; a failure (-EBADR: something was dropped) comes back
		 * from the caller's next enter too, so only the count is kept.
		 */
		io_uring_get_events(&r->uring);
		note_dropped(r);
	}
	return io_uring_cq_ready(&r->uring) > 0;
}

/* What every sync SQE carries besides its own fields. */
static void sync_common(struct io_uring_sqe *sqe, bool fixed_file,
			uint32_t id, struct fiob_sqe_attr attr)
{
	sqe->flags |= attr.flags;
	if (fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->ioprio = attr.ioprio;
	io_uring_sqe_set_data64(sqe, fiob_ring_tag(id, 0));
}

bool fiob_ring_prep_sync(struct fiob_ring *r, int fd, bool fixed_file,
			 uint32_t id, bool datasync, struct fiob_sqe_attr attr)
{
	struct io_uring_sqe *sqe = fiob_ring_get_sqe(r);

	if (!sqe)
		return false;
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	sync_common(sqe, fixed_file, id, attr);
	return true;
}

bool fiob_ring_prep_sync_range(struct fiob_ring *r, int fd, bool fixed_file,
			       uint32_t id, uint64_t off, uint32_t len,
			       uint32_t flags, struct fiob_sqe_attr attr)
{
	struct io_uring_sqe *sqe = fiob_ring_get_sqe(r);

	if (!sqe)
		return false;
	io_uring_prep_sync_file_range(sqe, fd, len, off, (int)flags);
	sync_common(sqe, fixed_file, id, attr);
	return true;
}
