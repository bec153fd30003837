/*
 * Learning what a file's O_DIRECT path needs, per open file:
 *   1. statx(STATX_DIOALIGN) (and STATX_DIO_READ_ALIGN where the headers
 *      have it);
 *   2. block devices: BLKSSZGET plus sysfs queue/dma_alignment;
 *   3. a probe with O_DIRECT reads of data the file really has;
 *   4. nothing known: 4096 for both.
 * A file opened without O_DIRECT needs no alignment at all.
 */
#ifndef FIOB_ALIGN_H
#define FIOB_ALIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "fiob_plan.h"

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
int fiob_align_discover(int fd, struct fiob_file_info *fi);

/*
 * The rule in force: @need raised by the overrides in @ovr (0: none), then
 * off raised to at least mem. Every length the engine issues (windows, RMW
 * reads into slots) is a multiple of off only, and the kernel checks
 * segment lengths against the memory rule too, so off < mem would issue I/O
 * the kernel may refuse. Returns -EINVAL if an override is below what the
 * target needs (lowering it would only turn bounced I/O back into EINVAL),
 * -EDOM if bounce_align itself is below the memory rule in force (the user
 * fixed off: it is not silently changed).
 */
int fiob_align_apply(const struct fiob_align *need,
		     const struct fiob_align *ovr, struct fiob_align *out);

const char *fiob_align_src_name(enum fiob_align_src src);

#endif
