/* io_uring setup and registration for the core (see fiob_uring.c). */
#ifndef FIOB_URING_H
#define FIOB_URING_H

#include <liburing.h>
#include <stdint.h>
#include <sys/uio.h>

struct fiob_ring_opts;
struct fiob_slots;

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

#endif
