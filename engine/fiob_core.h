/*
 * The request engine behind fio-bounce, free of fio: it takes read, write and
 * sync requests, bounces the ones the target cannot take as they are, runs
 * them on one io_uring and hands back completions with user byte counts.
 *
 * A request's life:
 *   queue -> [wait behind an overlapping RMW window] -> [RMW reads] ->
 *   main transfer -> done queue -> the caller picks it up with _event().
 * Everything is sized at init; nothing allocates per request.
 */
#ifndef FIOB_CORE_H
#define FIOB_CORE_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "fiob_overlap.h"
#include "fiob_plan.h"
#include "fiob_slots.h"
#include "fiob_stats.h"

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

/* What every SQE of one request carries besides the transfer itself. */
struct fiob_io_attr {
	uint16_t ioprio;	/* the SQE's ioprio (0: the task's own) */
	uint8_t sqe_flags;	/* IOSQE_ASYNC and the like */
};

enum fiob_queue_ret {
	FIOB_QUEUED = 0,	/* accepted; completes through _reap() */
	FIOB_BUSY,		/* no room now (no bounce slot): retry later */
};

struct fiob_file {
	int fd;			/* the real descriptor */
	int fixed;		/* registered file index, or -1 */
	struct fiob_align align;	/* the rule in force */
	bool regular;		/* a regular file: windows may cross EOF */
	uint64_t size;		/* regular files: the size as we know it */
};

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
	struct fiob_io_attr attr;
	struct iovec iov;	/* READV/WRITEV of the user's buffer */
	uint32_t rmw_got[FIOB_MAX_RMW_READS];
	struct fiob_plan plan;
};

struct fiob_ring_opts {
	bool hipri;		/* IORING_SETUP_IOPOLL */
	bool sqpoll;		/* IORING_SETUP_SQPOLL */
	int sqpoll_cpu;		/* -1: let the kernel choose */
	uint32_t rw_flags[2];	/* RWF_* on every read [0] and write [1] */
	uint32_t sync_range_flags;	/* SYNC_FILE_RANGE_* for SYNC_RANGE */
	bool vectored;		/* READV/WRITEV for pass-through I/O */
	bool fixedbufs;		/* register user buffers and slots, or fail */
	bool register_slots;	/* without fixedbufs: try the slots alone */
};

struct fiob_core_params {
	uint32_t depth;		/* request ids are 0 .. depth-1 */
	uint32_t nr_files;
	uint32_t nr_slots;	/* 0: no bounce ring */
	uint64_t slot_size;
	uint32_t slot_align;	/* 0 or a power of two; at least a page */
	enum fiob_mode mode;
	struct fiob_ring_opts ring;
	/* fixedbufs: the buffer of each request id, registered at its id. */
	const struct iovec *user_bufs;
};

struct fiob_core {
	struct io_uring ring;
	bool ring_up;
	bool file_table;	/* sparse registered files: slots at open */
	int slot_buf_base;	/* registered index of slot 0, or -1 */
	int slots_reg_err;	/* -errno: why registering the slots failed */
	struct fiob_core_params p;
	struct fiob_req *reqs;
	struct fiob_file *files;
	struct fiob_slots slots;
	struct fiob_ovl ovl;
	uint32_t *done_q;	/* completed request ids, FIFO */
	uint32_t done_mask;	/* done_q size - 1 (a power of two) */
	uint32_t done_head;
	uint32_t done_nr;
	uint32_t returned;	/* handed out by the last _reap() */
	uint32_t nr_busy;	/* requests accepted and not yet returned */
	const char *err_what;	/* what init failed on, for the message */
	struct fiob_stats stats;
};

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

/*
 * Accept request @id; each of its SQEs carries @attr. Returns FIOB_QUEUED,
 * FIOB_BUSY, or -errno for a request that cannot be done at all (nothing
 * was started).
 */
int fiob_core_queue(struct fiob_core *c, uint32_t id, void *owner,
		    uint32_t file, enum fiob_op op, void *buf, uint64_t off,
		    uint64_t len, struct fiob_io_attr attr);

/* Hand prepared SQEs to the kernel. Returns 0 or -errno. */
int fiob_core_submit(struct fiob_core *c);

/*
 * Wait until at least @min requests are complete; return how many (at most
 * @max) are ready for fiob_core_event(0 .. n-1), or -errno.
 */
int fiob_core_reap(struct fiob_core *c, unsigned int min, unsigned int max);

static inline struct fiob_req *fiob_core_event(struct fiob_core *c,
					       unsigned int i)
{
	uint32_t idx = (c->done_head + i) & c->done_mask;

	return &c->reqs[c->done_q[idx]];
}

/*
 * Finish every accepted request, however long the kernel takes. fio can stop
 * collecting completions (td->done at the end of an iolog replay) while
 * requests still wait in the engine; a stock engine's writes are in the
 * kernel by then, so ours must get there too. Finished requests stay on the
 * done queue. Returns 0 or -errno.
 */
int fiob_core_drain(struct fiob_core *c);

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
