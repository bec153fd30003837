/* The core's side of io_uring: setup, registration, SQEs (fiob_uring.c). */
#ifndef FIOB_URING_H
#define FIOB_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct fiob_core;
struct fiob_ring_opts;
struct fiob_slots;

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

/*
 * Prepare one read or write of @len bytes at @addr for request @id, from the
 * registered buffer @buf_index (or -1). False only if the ring itself fails.
 */
bool fiob_uring_prep_rw(struct fiob_core *c, uint32_t id, unsigned int tag,
			bool write, void *addr, uint64_t off, uint32_t len,
			int buf_index);

/* Prepare request @id's fsync or fdatasync. */
bool fiob_uring_prep_sync(struct fiob_core *c, uint32_t id);

#endif
