/*
 * The span: one address range that holds the caller's I/O memory (fio's
 * io_u buffers) and a small discard area, so that io_uring can register it
 * as one buffer and a zero-copy window read can go out as READV_FIXED:
 * [discard head][user buffer][discard tail], nothing pinned per I/O.
 *
 * A fixed vectored op needs every segment inside the one registered buffer
 * it names (segments from two registered buffers fail with EFAULT), and
 * the engine does not choose where fio puts its buffers; so the discard
 * area goes right beside the buffers' pages, where the address space is
 * free: fio's buffer block is its own mapping when it is large (glibc
 * mmaps 128 KiB and up) or mem=mmap/shm. A block inside the malloc heap
 * (small jobs) has taken pages all around, so those jobs go without, and
 * their zero-copy reads are plain READV. (A discard block malloc()ed in
 * the same heap, the span covering the heap between, was tried and taken
 * out: with it fio's iolog replay job aborted on a corrupted heap in a few
 * runs of thirty. A bare 8 KiB posix_memalign+free at post_init does the
 * same to the engine from before the span, so the block exposed an older
 * fault rather than making one; not found yet: bench/RESULTS-zc.md,
 * section 7.)
 *
 * The discard area takes the window bytes around the user's of every
 * zero-copy read at once: bytes nobody reads, so concurrent transfers into
 * it are harmless (NVMe's SGL bit bucket serves the same purpose). Writes
 * cannot share it: their head and tail are real data (RMW).
 */
#ifndef FIOB_SPAN_H
#define FIOB_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* No span over more than this: it is all pinned while the job runs. */
#define FIOB_SPAN_MAX_BYTES	(64u << 20)
/* How far from the user pages a discard area beside them may start. */
#define FIOB_SPAN_REACH_PAGES	16u

struct fiob_span {
	char *discard;		/* @discard_len bytes, mapped; NULL: none */
	size_t discard_len;
	struct iovec range;	/* whole pages holding the user memory and discard */
};

/*
 * Map a discard area of @discard_len bytes (rounded up to the page) right
 * below or above @user's pages (within FIOB_SPAN_REACH_PAGES), so that one
 * range covers both. Returns 0, -EINVAL for @user over
 * FIOB_SPAN_MAX_BYTES, or -ENOMEM when the address space beside it is
 * taken (s->discard NULL).
 */
int fiob_span_init(struct fiob_span *s, const struct iovec *user,
		   size_t discard_len);
/* Safe on a zeroed or failed span. */
void fiob_span_exit(struct fiob_span *s);

/* Whether @s's range holds the @len bytes at @buf. */
static inline bool fiob_span_holds(const struct fiob_span *s, const void *buf,
				   size_t len)
{
	uintptr_t rel = (uintptr_t)buf - (uintptr_t)s->range.iov_base;

	return s->discard && rel <= s->range.iov_len &&
	       len <= s->range.iov_len - rel;
}

#endif
