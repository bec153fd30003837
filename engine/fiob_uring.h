/*
 * The ring layer (fiob_uring.c), liburing style: struct fiob_ring owns the
 * io_uring and where the registered buffers start. It knows nothing of
 * requests, files or the core: prep functions take the descriptor, the
 * buffer index, the request id and what the SQE carries besides the
 * transfer (RWF_ flags, ioprio, SQE flags, an iovec) as arguments, and the
 * user_data tag is encoded and decoded here only.
 *
 * Layer order (tools/include-graph checks it): the adapter on top, then the
 * request module, the core, this ring layer, and the pure modules (plan,
 * overlap, slots, copy, stats, alignment) at the bottom. Nothing here
 * includes a header above it.
 */
#ifndef FIOB_URING_H
#define FIOB_URING_H

#include <liburing.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "fiob_stats.h"

/* What the job asked of io_uring (fio's io_uring options). */
struct fiob_ring_opts {
	bool hipri;		/* IORING_SETUP_IOPOLL */
	bool sqpoll;		/* IORING_SETUP_SQPOLL */
	int sqpoll_cpu;		/* -1: let the kernel choose */
	uint32_t rw_flags[2];	/* RWF_* on every read [0] and write [1] */
	uint32_t sync_range_flags;	/* SYNC_FILE_RANGE_* of sync_file_range */
	bool vectored;		/* READV/WRITEV for the user's own buffers */
	bool fixedbufs;		/* register user buffers and slots, or fail */
	bool register_slots;	/* without fixedbufs: try the slots alone */
	/*
	 * SQ entries; 0: one per request. Only the test hook
	 * FIOB_TEST_SQ_ENTRIES sets it (1 is the smallest: every SQE past
	 * the first in a batch then submits from fiob_ring_wait_sqe()).
	 */
	uint32_t sq_entries;
};

/*
 * What every SQE of one request carries besides the transfer, chosen per
 * request above this layer (fio's cmdprio, force_async).
 */
struct fiob_sqe_attr {
	uint16_t ioprio;	/* the SQE's ioprio (0: the task's own) */
	uint8_t flags;		/* IOSQE_ASYNC and the like */
};

struct fiob_ring {
	struct io_uring uring;
	bool up;
	bool sqpoll;		/* submissions are the SQ thread's */
	bool file_table;	/* a sparse registered-file table exists */
	bool reaping;		/* the caller is handling completions */
	int user_buf_base;	/* fixedbufs: index of request 0's buffer, or -1 */
	int slot_buf_base;	/* registered index of slot 0, or -1 */
	int span_buf;		/* registered index of the span, or -1 */
	/*
	 * How io_uring_enter names the ring without SQPOLL: the registered
	 * ring descriptor with IORING_ENTER_REGISTERED_RING where the kernel
	 * took it, else the plain one with 0.
	 */
	int enter_fd;
	unsigned int enter_flags;
	/* The ring's counters (sq_full_submits ... cq_dropped) live here. */
	struct fiob_stats *stats;
};

/* ---- user_data: request id << FIOB_TAG_BITS | which part of it ------ */

#define FIOB_TAG_BITS	2
#define FIOB_TAG_MASK	((1u << FIOB_TAG_BITS) - 1)

static inline uint64_t fiob_ring_tag(uint32_t id, unsigned int part)
{
	return ((uint64_t)id << FIOB_TAG_BITS) | part;
}

static inline uint32_t fiob_ring_tag_id(uint64_t data)
{
	return (uint32_t)(data >> FIOB_TAG_BITS);
}

static inline unsigned int fiob_ring_tag_part(uint64_t data)
{
	return (unsigned int)(data & FIOB_TAG_MASK);
}

/* ---- setup and registration ----------------------------------------- */

/*
 * Create @r for @depth requests whose CQEs outstanding at once never exceed
 * @max_cqes (the caller proves that bound: fiob_core.c, cq_bound()), with
 * the options in @o; the ring counts into @stats. The CQ gets at least
 * @max_cqes entries (IORING_SETUP_CQSIZE, or a larger SQ where the kernel
 * lacks it). On failure returns -errno and points @what at the name of what
 * was refused (the fio option when a requested feature is missing).
 * Registers nothing.
 */
int fiob_ring_init(struct fiob_ring *r, uint32_t depth, uint32_t max_cqes,
		   const struct fiob_ring_opts *o, struct fiob_stats *stats,
		   const char **what);
/* Safe on a zeroed, failed or exited ring. */
void fiob_ring_exit(struct fiob_ring *r);

/*
 * Register @nr_user request buffers, then @nr_slots slots of @slot_size
 * bytes from @slot_base after them, then @span unless NULL; on success the
 * buffer bases point at them (user_buf_base only when @nr_user, span_buf
 * only with @span). Returns 0 or -errno; nothing is registered on failure.
 */
int fiob_ring_register_bufs(struct fiob_ring *r, const struct iovec *user,
			    uint32_t nr_user, char *slot_base,
			    uint32_t nr_slots, size_t slot_size,
			    const struct iovec *span);

/*
 * Whether the kernel has the fixed vectored ops READV_FIXED/WRITEV_FIXED
 * (6.15+), from the ring's opcode probe.
 */
bool fiob_ring_has_fixed_vec(struct fiob_ring *r);

/* A sparse table of @nr registered files (kernel 5.19+); sets file_table. */
void fiob_ring_file_table(struct fiob_ring *r, uint32_t nr);
/* Register @nr descriptors at once at indexes 0 .. nr-1 (no sparse table). */
int fiob_ring_register_files(struct fiob_ring *r, const int *fds, uint32_t nr);
/*
 * Put @fd (or -1: empty it) at index @idx of the sparse table (only when
 * file_table). @fixed gets the index I/O should name, or -1 for the plain
 * descriptor (an emptied slot, or a failure). Returns 0 or -errno.
 */
int fiob_ring_set_file(struct fiob_ring *r, uint32_t idx, int fd, int *fixed);

/* Registered buffer indexes for SQEs: -1 means a plain READ/WRITE. */
static inline int fiob_ring_user_buf(const struct fiob_ring *r, uint32_t id)
{
	return r->user_buf_base >= 0 ? r->user_buf_base + (int)id : -1;
}

static inline int fiob_ring_slot_buf(const struct fiob_ring *r, int32_t slot)
{
	return r->slot_buf_base >= 0 ? r->slot_buf_base + (int)slot : -1;
}

/* ---- SQEs ------------------------------------------------------------ */

/*
 * An SQE when the SQ is full: submit and wait for room (counted as
 * sq_full_submits, and as mid_reap_submits between fiob_ring_reap_begin()
 * and _end()). NULL: the ring failed.
 */
struct io_uring_sqe *fiob_ring_wait_sqe(struct fiob_ring *r);

/*
 * An SQE if one is free now, else NULL (nothing submitted, no wait).
 * liburing's io_uring_get_sqe() for this ring (never SQE128; the acquire
 * load is what SQPOLL needs, and a plain load elsewhere), without its tests
 * of the setup flags: it is on every I/O's path.
 */
static inline struct io_uring_sqe *fiob_ring_try_sqe(struct fiob_ring *r)
{
	struct io_uring_sq *sq = &r->uring.sq;
	unsigned int tail = sq->sqe_tail;

	if (tail + 1 - io_uring_smp_load_acquire(sq->khead) > sq->ring_entries)
		return NULL;
	sq->sqe_tail = tail + 1;
	return &sq->sqes[tail & sq->ring_mask];
}

static inline struct io_uring_sqe *fiob_ring_get_sqe(struct fiob_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	return sqe ? sqe : fiob_ring_wait_sqe(r);
}

/* What every read and write SQE carries: file, RWF_* flags, attr, the tag. */
static inline void fiob_ring_sqe_common(struct io_uring_sqe *sqe,
					bool fixed_file, uint32_t id,
					unsigned int part, uint32_t rw_flags,
					struct fiob_sqe_attr attr)
{
	sqe->flags |= attr.flags | (fixed_file ? IOSQE_FIXED_FILE : 0);
	sqe->rw_flags = (__kernel_rwf_t)rw_flags;
	sqe->ioprio = attr.ioprio;
	io_uring_sqe_set_data64(sqe, fiob_ring_tag(id, part));
}

/*
 * Fill @sqe as one read or write of @len bytes at @addr, file offset @off,
 * on descriptor @fd (a registered file index when @fixed_file), from the
 * registered buffer @buf_index (or -1), tagged @id/@part. Without a buffer
 * index and with @iov, it is READV/WRITEV of @iov (filled in here; it must
 * live until the kernel has the SQE). The SQE carries @rw_flags (RWF_*) and
 * @attr. Always inline: it is on every I/O's path, and its branches fold
 * away where the caller's arguments are known.
 */
static inline __attribute__((always_inline))
void fiob_ring_fill_rw(struct io_uring_sqe *sqe, int fd, bool fixed_file,
		       uint32_t id, unsigned int part, bool write, void *addr,
		       uint64_t off, uint32_t len, int buf_index,
		       struct iovec *iov, uint32_t rw_flags,
		       struct fiob_sqe_attr attr)
{
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
	fiob_ring_sqe_common(sqe, fixed_file, id, part, rw_flags, attr);
}

/* fiob_ring_fill_rw() on an SQE of its own. False only if the ring fails. */
static inline __attribute__((always_inline))
bool fiob_ring_prep_rw(struct fiob_ring *r, int fd, bool fixed_file,
		       uint32_t id, unsigned int part, bool write, void *addr,
		       uint64_t off, uint32_t len, int buf_index,
		       struct iovec *iov, uint32_t rw_flags,
		       struct fiob_sqe_attr attr)
{
	struct io_uring_sqe *sqe = fiob_ring_get_sqe(r);

	if (!sqe)
		return false;
	fiob_ring_fill_rw(sqe, fd, fixed_file, id, part, write, addr, off, len,
			  buf_index, iov, rw_flags, attr);
	return true;
}

/* The fixed vectored ops (kernel 6.15+), newer than liburing 2.3's headers. */
#define FIOB_IORING_OP_READV_FIXED	60
#define FIOB_IORING_OP_WRITEV_FIXED	61

/*
 * Prepare one vectored read or write of the @nr segments @iov at file
 * offset @off, like fiob_ring_prep_rw(). @iov must stay put until the CQE.
 * With @buf_index >= 0: READV_FIXED/WRITEV_FIXED on that registered buffer,
 * which must hold every segment (one buffer: segments from two fail with
 * EFAULT), and nothing is pinned per I/O; else plain READV/WRITEV.
 */
static inline bool fiob_ring_prep_rwv(struct fiob_ring *r, int fd,
				      bool fixed_file, uint32_t id,
				      unsigned int part, bool write,
				      const struct iovec *iov, unsigned int nr,
				      uint64_t off, int buf_index,
				      uint32_t rw_flags,
				      struct fiob_sqe_attr attr)
{
	struct io_uring_sqe *sqe = fiob_ring_get_sqe(r);

	if (!sqe)
		return false;
	if (buf_index >= 0) {
		io_uring_prep_rw(write ? FIOB_IORING_OP_WRITEV_FIXED :
				 FIOB_IORING_OP_READV_FIXED, sqe, fd, iov, nr,
				 off);
		sqe->buf_index = (uint16_t)buf_index;
	} else {
		io_uring_prep_rw(write ? IORING_OP_WRITEV : IORING_OP_READV,
				 sqe, fd, iov, nr, off);
	}
	fiob_ring_sqe_common(sqe, fixed_file, id, part, rw_flags, attr);
	return true;
}

/*
 * Prepare an fsync (fdatasync when @datasync) of @fd, tagged @id, carrying
 * @attr.
 */
bool fiob_ring_prep_sync(struct fiob_ring *r, int fd, bool fixed_file,
			 uint32_t id, bool datasync, struct fiob_sqe_attr attr);

/*
 * Prepare a sync_file_range of [@off, @off + @len) of @fd with @flags
 * (SYNC_FILE_RANGE_*), tagged @id, carrying @attr. Like fio's io_uring, the
 * range is 32 bits, as the SQE's len is.
 */
bool fiob_ring_prep_sync_range(struct fiob_ring *r, int fd, bool fixed_file,
			       uint32_t id, uint64_t off, uint32_t len,
			       uint32_t flags, struct fiob_sqe_attr attr);

/* ---- submission and completion --------------------------------------- */

/*
 * io_uring_enter(2) with no signal mask: liburing's io_uring_enter(), which
 * makes the same system call through its own inline syscall, but without
 * the call into the shared library and its wrapper (on x86-64, where
 * liburing's inline form is the one written here; elsewhere it is
 * liburing's). Every I/O makes one or two of these. Returns what the
 * kernel returned: a count, or -errno.
 */
static inline int fiob_ring_sys_enter(unsigned int fd, unsigned int to_submit,
				      unsigned int min_complete,
				      unsigned int flags)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = (long)flags;
	register long r8 __asm__("r8") = 0;		/* no sigmask */
	register long r9 __asm__("r9") = _NSIG / 8;	/* its size */
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)__NR_io_uring_enter), "D"((long)fd),
			   "S"((long)to_submit), "d"((long)min_complete),
			   "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return (int)ret;
#else
	return io_uring_enter(fd, to_submit, min_complete, flags, NULL);
#endif
}

/*
 * One io_uring_enter with GETEVENTS, waiting for @wait_nr CQEs, handing over
 * every prepared SQE first, for a ring without SQPOLL. It is what liburing's
 * submit_and_get_events (@wait_nr 0) and submit_and_wait do there (flush
 * the SQ tail, enter), without their checks for SQPOLL and CQ flushing,
 * which GETEVENTS on every entry makes moot: this is on every I/O's path.
 * Returns the SQEs submitted or -errno.
 */
static inline int fiob_ring_enter(struct fiob_ring *r, unsigned int wait_nr)
{
	struct io_uring_sq *sq = &r->uring.sq;
	unsigned int tail = sq->sqe_tail;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		/* The syscall orders it; liburing writes it the same way. */
		IO_URING_WRITE_ONCE(*sq->ktail, tail);
	}
	return fiob_ring_sys_enter((unsigned int)r->enter_fd,
				   tail - *sq->khead, wait_nr,
				   IORING_ENTER_GETEVENTS | r->enter_flags);
}

/*
 * The one rule for an io_uring_enter() that failed, for every caller (a
 * batch submit, a submit for a full SQ in the middle of a reap, a wait):
 *   -EINTR            a signal: enter again.
 *   -EAGAIN, -EBUSY   the kernel is short of request memory (EAGAIN), or
 *                     holds completions back because the CQ had no room
 *                     (EBUSY, kernels before 5.x's NODROP rework). Nothing
 *                     was consumed: the SQEs are still in the SQ. The
 *                     backlog is flushed (enter with GETEVENTS), counted,
 *                     and the caller enters again. Nothing has to be reaped
 *                     first: with each CQE taken off the CQ before its
 *                     handler runs (fiob_ring_pop_cqe), the CQ never holds
 *                     more than the bound it was sized for, so it always
 *                     has room and the retry makes progress.
 *   -EBADR            the kernel dropped a completion (its overflow list
 *                     could not grow): a request would never finish, so the
 *                     ring has failed (counted as cq_dropped).
 *   anything else     the ring has failed.
 * Returns 0 (enter again) or the error to fail with.
 */
int fiob_ring_enter_failed(struct fiob_ring *r, int ret);

/*
 * Hand prepared SQEs to the kernel once. Like fio's io_uring it enters with
 * GETEVENTS (without SQPOLL), so that under DEFER_TASKRUN completions already
 * due are posted now. Returns the SQEs submitted or -errno.
 */
static inline int fiob_ring_submit(struct fiob_ring *r)
{
	return r->sqpoll ? io_uring_submit(&r->uring) : fiob_ring_enter(r, 0);
}

static inline unsigned int fiob_ring_sq_ready(const struct fiob_ring *r)
{
	return io_uring_sq_ready(&r->uring);
}

/* Enter the kernel for completions only (DEFER_TASKRUN posts them then). */
static inline int fiob_ring_get_events(struct fiob_ring *r)
{
	return io_uring_get_events(&r->uring);
}

/*
 * Submit what is prepared and wait for at least @n CQEs (0: only enter, for
 * what DEFER_TASKRUN holds back).
 */
static inline int fiob_ring_wait_nr(struct fiob_ring *r, unsigned int n)
{
	if (r->sqpoll)
		return n ? io_uring_submit_and_wait(&r->uring, n) :
			   io_uring_get_events(&r->uring);
	return fiob_ring_enter(r, n);
}

/*
 * fiob_ring_wait_nr(@r, 1), but back after @ns nanoseconds at most
 * (-ETIME), for a caller that also waits for something that posts nothing
 * to this ring.
 */
static inline int fiob_ring_wait_timeout(struct fiob_ring *r, long long ns)
{
	struct __kernel_timespec ts = { ns / 1000000000, ns % 1000000000 };
	struct io_uring_cqe *cqe;

	return io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1, &ts, NULL);
}

/*
 * Bracket the handling of completions: an SQE that has to be submitted in
 * between (the SQ was full) is a mid-reap submit, counted as such.
 */
static inline void fiob_ring_reap_begin(struct fiob_ring *r)
{
	r->reaping = true;
}

static inline void fiob_ring_reap_end(struct fiob_ring *r)
{
	r->reaping = false;
}

/*
 * The CQ looked empty. If the kernel holds completions back
 * (IORING_SQ_CQ_OVERFLOW: its overflow list), count it, flush them onto the
 * CQ and say whether any arrived. The ring is sized so that this never
 * happens; it is checked so that if it does, nothing is left behind.
 */
bool fiob_ring_flush_backlog(struct fiob_ring *r);

static inline bool fiob_ring_cq_backlog(struct fiob_ring *r)
{
	if (__builtin_expect(!io_uring_cq_has_overflow(&r->uring), 1))
		return false;
	return fiob_ring_flush_backlog(r);
}

/* (The ring is never set up with CQE32: a CQE is one array entry.) */
static inline const struct io_uring_cqe *
fiob_ring_cqe_at(const struct fiob_ring *r, unsigned int index)
{
	return &r->uring.cq.cqes[index & r->uring.cq.ring_mask];
}

/*
 * Take the next completion off the CQ: its tag and result are copied out
 * and the CQ head moves past it before the caller acts on it, so a handler
 * that submits never leaves consumed entries taking CQ room (the CQ bound
 * counts only CQEs still owed to requests). False when the CQ is empty and
 * the kernel holds none back.
 */
static inline bool fiob_ring_pop_cqe(struct fiob_ring *r, uint64_t *data,
				     int *res)
{
	struct io_uring *u = &r->uring;
	const struct io_uring_cqe *cqe;
	unsigned int head;

	for (;;) {
		head = *u->cq.khead;
		if (head != io_uring_smp_load_acquire(u->cq.ktail))
			break;
		if (!fiob_ring_cq_backlog(r))
			return false;
	}
	cqe = fiob_ring_cqe_at(r, head);
	*data = cqe->user_data;
	*res = cqe->res;
	io_uring_smp_store_release(u->cq.khead, head + 1);
	return true;
}

/*
 * The CQ in bulk, for a caller that hands CQEs out where they lie: take the
 * head, see how many are ready from it, give them all back to the kernel at
 * once (fiob_ring_cq_release), and read them after (fiob_ring_cqe_at).
 * Reading a released entry is safe while the kernel cannot come round to
 * it: it writes CQ position p again only as position p + cq_entries. So
 * after releasing up to h + n, entries h .. h+n-1 stay intact as long as
 * at most cq_entries - n CQEs are owed beyond them: true until the caller
 * submits again when it has at most cq_entries requests in flight, one CQE
 * each (fiob_core.c, cq_bound).
 */
static inline unsigned int fiob_ring_cq_head(const struct fiob_ring *r)
{
	return *r->uring.cq.khead;
}

static inline unsigned int fiob_ring_cq_ready_from(const struct fiob_ring *r,
						   unsigned int head)
{
	return io_uring_smp_load_acquire(r->uring.cq.ktail) - head;
}

static inline void fiob_ring_cq_release(struct fiob_ring *r, unsigned int head)
{
	io_uring_smp_store_release(r->uring.cq.khead, head);
}

/*
 * SQEs prepared and not yet handed to the kernel. Without SQPOLL it is all
 * fiob_ring_sq_ready() can count once a submit has succeeded (the kernel
 * takes what an enter hands it), and it reads no kernel memory.
 */
static inline bool fiob_ring_sq_unflushed(const struct fiob_ring *r)
{
	return r->uring.sq.sqe_tail != r->uring.sq.sqe_head;
}

#endif
