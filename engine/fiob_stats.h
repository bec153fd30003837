/*
 * Per-job counters and their two renderings: the one-line summary printed at
 * job end, and the JSON object appended to bounce_stats=PATH.
 */
#ifndef FIOB_STATS_H
#define FIOB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiob_align.h"

struct fiob_stats {
	uint64_t passthrough;	/* aligned I/O sent as is */
	uint64_t mem_bounced;	/* whole transfer copied: memory misaligned */
	uint64_t window_reads;	/* misaligned reads through a window */
	uint64_t rmw_writes;	/* misaligned writes (read-modify-write) */
	uint64_t rmw_reads;	/* partial-block reads issued for them */
	uint64_t bytes_copied;
	uint64_t waits;		/* I/O that waited behind an RMW window */
	uint64_t ring_empty;	/* FIO_Q_BUSY: no free bounce slot */
	uint64_t short_done;	/* completions with fewer bytes than asked */
	uint64_t syncs;		/* fsync and fdatasync */
	uint64_t eof_trims;	/* windows past EOF cut back to the user end */
	uint64_t zero_copy;	/* window I/O done without a copy (vectored) */
	uint64_t share_waits;	/* writes that waited for another job's */
	/*
	 * Bytes per direction, on the device (window transfers, RMW reads
	 * counted as reads) and as fio asked: their ratio is the alignment
	 * amplification.
	 */
	uint64_t device_bytes_read;
	uint64_t device_bytes_write;
	uint64_t user_bytes_read;
	uint64_t user_bytes_write;
	/*
	 * The ring (fiob_uring.c): submits forced by a full SQ, those of them
	 * issued while completions were being handled, submits retried under
	 * the one -EINTR/-EAGAIN/-EBUSY rule, times the kernel held
	 * completions back (CQ overflow, flushed), and completions it dropped
	 * (the ring then fails: must stay 0).
	 */
	uint64_t sq_full_submits;
	uint64_t mid_reap_submits;
	uint64_t submit_retries;
	uint64_t cq_overflows;
	uint64_t cq_dropped;
};

/* What the job ran with, for the records. */
struct fiob_stats_file {
	const char *name;
	struct fiob_align align;	/* in force */
	const char *src;		/* where it came from */
	const char *zero_copy;		/* the vectored probe's answer */
	uint64_t zero_copy_min;		/* smallest I/O sent zero copy */
	const char *zero_copy_min_src;	/* why; NULL: no zero copy */
	/* Reads' own threshold where it differs (the span), and why. */
	uint64_t zero_copy_min_read;
	const char *zero_copy_min_read_src;	/* NULL: the same as writes */
};

struct fiob_stats_ctx {
	const char *job;
	const char *mode;
	uint32_t nr_slots;
	uint64_t slot_size;
	bool slots_registered;	/* io_uring fixed buffers: no per-I/O pinning */
	/* Zero-copy reads as READV_FIXED: "yes", or why not (fiob_core.h). */
	const char *zero_copy_fixed;
	const struct fiob_stats_file *files;
	uint32_t nr_files;
};

/* One human line, no newline. Returns what snprintf would. */
int fiob_stats_line(char *buf, size_t len, const struct fiob_stats_ctx *ctx,
		    const struct fiob_stats *s);

/* One JSON object plus '\n'. Returns what snprintf would. */
int fiob_stats_json(char *buf, size_t len, const struct fiob_stats_ctx *ctx,
		    const struct fiob_stats *s);

/* A renderer above, into a malloc()ed buffer of exactly the size it needs. */
typedef int (*fiob_stats_render_fn)(char *, size_t,
				    const struct fiob_stats_ctx *,
				    const struct fiob_stats *);
char *fiob_stats_render(fiob_stats_render_fn fn,
			const struct fiob_stats_ctx *ctx,
			const struct fiob_stats *s);

/*
 * Append @len bytes to @path in one locked write, so jobs in other processes
 * appending to the same file never interleave. Returns 0 or -errno.
 */
int fiob_stats_append(const char *path, const char *buf, size_t len);

#endif
