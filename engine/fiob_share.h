/*
 * Cross-job serialization: writes of one file by several jobs of one fio run.
 *
 * The overlap table (fiob_overlap.h) serializes a job's RMW windows against
 * its own I/O. When other jobs write the same file (same device and inode),
 * a job's RMW can read a block, let another job write part of it, and write
 * the stale bytes back. A write to such a file therefore also holds its range
 * here, after it got its window in its own job's table and before its first
 * SQE, and keeps it until it is finished:
 *
 *   TABLE  jobs that are threads of one fio process: one overlap table for
 *          the process, in which every job's writes to shared files sit under
 *          global ids (a job's ids are base .. base + depth - 1). A mutex
 *          guards the table and is held only around its updates, never across
 *          I/O. A release may start a waiter of another job: that one is
 *          ACTIVE in the table, and its own thread starts it when it collects.
 *   OFD    jobs in other processes (fio's default), and bounce_share=on: an
 *          open file description lock (F_OFD_SETLK, never the blocking form)
 *          on the write's range of a lock file in /dev/shm named by device
 *          and inode. Each job opens its own description, so the locks
 *          exclude threads as well as processes. A refused lock is retried
 *          when the job next collects.
 *
 * A write that cannot hold its range now stays ACTIVE in its job's table (so
 * its job's later overlapping I/O keeps waiting behind it) and waits here;
 * fiob_share_collect() gives back those that hold their range since. A job
 * with such waiters must not block on its ring without a timeout: what it
 * waits for completes on another thread or in another process.
 *
 * Nothing here knows requests or fio; ids are the job's request ids.
 */
#ifndef FIOB_SHARE_H
#define FIOB_SHARE_H

#include <stdbool.h>
#include <stdint.h>

enum fiob_share_kind {
	FIOB_SHARE_TABLE = 1,	/* jobs are threads of this process */
	FIOB_SHARE_OFD,		/* lock file in /dev/shm */
};

/* One job's membership in a shared file (per open file of the job). */
struct fiob_share_member {
	enum fiob_share_kind kind;
	int lock_fd;			/* OFD: this job's own description */
	struct fiob_share_file *sf;	/* TABLE: the process-wide file */
};

enum fiob_share_state {
	FIOB_SHARE_NONE = 0,
	FIOB_SHARE_WAITING,	/* on the job's waiting list */
	FIOB_SHARE_HELD,	/* holds its range: may run */
};

/* What request id holds (or waits for). */
struct fiob_share_hold {
	struct fiob_share_member *m;
	uint64_t start;		/* OFD: the range to lock */
	uint64_t end;		/* UINT64_MAX: to the end of any file */
	uint8_t state;		/* enum fiob_share_state */
};

/* One job's side: lives in its core, all zero until a file is shared. */
struct fiob_share_job {
	uint32_t depth;		/* request ids are 0 .. depth-1 */
	uint32_t base;		/* TABLE: its ids in the process table */
	bool in_table;		/* base is allocated */
	struct fiob_share_hold *hold;	/* per request id */
	uint32_t *waiting;	/* ids waiting for another job, in order */
	uint32_t nr_waiting;
	uint32_t *ready;	/* fiob_share_collect()'s answer */
	uint32_t nr_members;	/* open members (files) */
};

/*
 * Make @j share the file (@dev, @ino) with other jobs, the @kind way, for
 * request ids 0 .. @depth-1. @table_ids: the most ids every TABLE job of
 * the process together can need (used by the first one only). Fills @m;
 * returns 0 or -errno.
 */
int fiob_share_open(struct fiob_share_job *j, uint32_t depth,
		    uint32_t table_ids, enum fiob_share_kind kind,
		    uint64_t dev, uint64_t ino, struct fiob_share_member *m);

/* @m's file is closed: nothing of it may be held or waiting. */
void fiob_share_close(struct fiob_share_job *j, struct fiob_share_member *m);

/* The job ends: drop whatever it still holds or waits for, free it all. */
void fiob_share_job_exit(struct fiob_share_job *j);

/*
 * Request @id writes [ustart, uend) of @m's file within the window
 * [start, end) (@excl: a read-modify-write window). True if it holds its
 * range now (or held it already); false if it waits: it then comes back
 * from fiob_share_collect() once it holds it.
 */
bool fiob_share_acquire(struct fiob_share_job *j,
			struct fiob_share_member *m, uint32_t id,
			uint64_t start, uint64_t end, uint64_t ustart,
			uint64_t uend, bool excl);

void fiob_share_release_slow(struct fiob_share_job *j, uint32_t id);

/* Request @id is finished: let go of its range (no-op if it holds none). */
static inline void fiob_share_release(struct fiob_share_job *j, uint32_t id)
{
	if (j->hold && j->hold[id].state != FIOB_SHARE_NONE)
		fiob_share_release_slow(j, id);
}

/* Is any request of the job waiting for another job? */
static inline bool fiob_share_waiting(const struct fiob_share_job *j)
{
	return j->nr_waiting != 0;
}

uint32_t fiob_share_collect_slow(struct fiob_share_job *j);

/*
 * The waiting requests that hold their range now, in the order they began
 * to wait: j->ready[0 .. n-1]. They are off the waiting list.
 */
static inline uint32_t fiob_share_collect(struct fiob_share_job *j)
{
	return j->nr_waiting ? fiob_share_collect_slow(j) : 0;
}

/* The lock file of (@dev, @ino), into @buf. */
int fiob_share_lock_path(char *buf, unsigned long len, uint64_t dev,
			 uint64_t ino);

#endif
