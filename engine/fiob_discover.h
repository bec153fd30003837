/*
 * Discovery (fiob_discover.c): learning what a file's O_DIRECT path needs,
 * per open file:
 *   1. statx(STATX_DIOALIGN) (and STATX_DIO_READ_ALIGN where the headers
 *      have it);
 *   2. block devices: BLKSSZGET plus sysfs queue/dma_alignment;
 *   3. a probe with O_DIRECT reads of data the file really has;
 *   4. nothing known: 4096 for both.
 * A file opened without O_DIRECT needs no alignment at all.
 */
#ifndef FIOB_DISCOVER_H
#define FIOB_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "fiob_align.h"

enum fiob_align_src {
	FIOB_SRC_BUFFERED = 0,	/* no O_DIRECT: no rule */
	FIOB_SRC_STATX,
	FIOB_SRC_BLKDEV,
	FIOB_SRC_PROBE,
	FIOB_SRC_DEFAULT,
};

#define FIOB_DEFAULT_ALIGN	4096u

struct fiob_file_info {
	struct fiob_align need;	/* what the target needs */
	uint8_t src;		/* enum fiob_align_src */
	bool regular;		/* regular file (size can change) */
	bool direct;		/* opened with O_DIRECT */
	uint64_t size;		/* st_size for regular files */
};

/* Fill @fi for the open descriptor @fd. Returns 0 or -errno. */
int fiob_discover(int fd, struct fiob_file_info *fi);

const char *fiob_align_src_name(enum fiob_align_src src);

/*
 * May window I/O on this file go out as one vectored transfer of [bounce
 * head, user buffer, bounce tail] whose segments meet only the memory rule
 * (zero copy)? Only the kernel knows (notes: 6.18 takes it, kernels from
 * 6.0 want block-multiple segment lengths), so it is probed.
 */
enum fiob_vec {
	FIOB_VEC_NA = 0,	/* no use: buffered, or offsets need no more than memory */
	FIOB_VEC_ACCEPTED,	/* the probe read came back whole and right */
	FIOB_VEC_REFUSED,	/* the kernel refused it, or got it wrong */
	FIOB_VEC_UNPROVEN,	/* no full first block to probe with (short file) */
	FIOB_VEC_OFF,		/* bounce_zero_copy=0 */
	FIOB_VEC_FORCED_YES,	/* the test hook's answer, not probed */
	FIOB_VEC_FORCED_NO,
};

/*
 * Probe once, with a read of the first @a->off bytes of O_DIRECT file @fd
 * under rule @a, whether such segments are accepted: a readv of [mem]
 * [off - 2 mem] [mem] bytes at memory-aligned, not offset-aligned, addresses
 * must return the same bytes as a plain aligned read. Never ACCEPTED unless
 * a->off > a->mem (otherwise a window's head is never a memory multiple).
 */
enum fiob_vec fiob_probe_vec(int fd, const struct fiob_align *a);

const char *fiob_vec_name(enum fiob_vec v);

static inline bool fiob_vec_ok(enum fiob_vec v)
{
	return v == FIOB_VEC_ACCEPTED || v == FIOB_VEC_FORCED_YES;
}

#endif
