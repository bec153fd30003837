/*
 * Cross-job serialization (fiob_share.h): the process-wide overlap table for
 * jobs that are threads, and open file description locks for the rest.
 * Calls down only: the overlap table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fiob_overlap.h"
#include "fiob_share.h"

/* A file shared by TABLE jobs of this process. */
struct fiob_share_file {
	uint64_t dev;
	uint64_t ino;
	uint32_t index;		/* its file number in the process table */
	uint32_t refs;		/* members open on it */
	struct fiob_share_file *next;
};

/*
 * The process's table. The mutex guards all of it; it is taken around table
 * updates only (acquire, release, collect, join, leave), never across I/O.
 */
static struct {
	pthread_mutex_t lock;
	struct fiob_ovl t;	/* allocated while a job is in it */
	uint8_t *used;		/* per global id: taken by a job */
	uint32_t nr_jobs;
	uint32_t next_index;
	struct fiob_share_file *files;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

int fiob_share_lock_path(char *buf, unsigned long len, uint64_t dev,
			 uint64_t ino)
{
	int n = snprintf(buf, len, "/dev/shm/fio-bounce-share.%llx.%llx.lock",
			 (unsigned long long)dev, (unsigned long long)ino);

	return n < 0 || (unsigned long)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- the job's arrays ------------------------------------------------ */

static int job_init(struct fiob_share_job *j, uint32_t depth)
{
	if (j->hold)
		return 0;
	j->hold = calloc(depth, sizeof(*j->hold));
	j->waiting = calloc(depth, sizeof(*j->waiting));
	j->ready = calloc(depth, sizeof(*j->ready));
	if (!j->hold || !j->waiting || !j->ready) {
		free(j->hold);
		free(j->waiting);
		free(j->ready);
		j->hold = NULL;
		j->waiting = j->ready = NULL;
		return -ENOMEM;
	}
	j->depth = depth;
	return 0;
}

/* ---- TABLE: the process-wide table (reg.lock held) ------------------ */

/* The first @depth free ids in a row for @j; the table is made if need be. */
static int table_join(struct fiob_share_job *j, uint32_t table_ids)
{
	uint32_t i, run = 0;
	int ret;

	if (j->in_table)
		return 0;
	if (!reg.nr_jobs) {
		if (table_ids < j->depth)
			table_ids = j->depth;
		ret = fiob_ovl_init(&reg.t, table_ids);
		if (ret)
			return ret;
		reg.used = calloc(table_ids, 1);
		if (!reg.used) {
			fiob_ovl_exit(&reg.t);
			return -ENOMEM;
		}
	}
	for (i = 0; i < reg.t.nr; i++) {
		run = reg.used[i] ? 0 : run + 1;
		if (run == j->depth)
			break;
	}
	if (run < j->depth) {
		if (!reg.nr_jobs) {
			free(reg.used);
			fiob_ovl_exit(&reg.t);
		}
		return -ENOSPC;
	}
	j->base = i + 1 - j->depth;
	memset(reg.used + j->base, 1, j->depth);
	j->in_table = true;
	reg.nr_jobs++;
	return 0;
}

static void table_leave(struct fiob_share_job *j)
{
	if (!j->in_table)
		return;
	memset(reg.used + j->base, 0, j->depth);
	j->in_table = false;
	if (--reg.nr_jobs)
		return;
	free(reg.used);
	reg.used = NULL;
	fiob_ovl_exit(&reg.t);
}

static struct fiob_share_file *table_file(uint64_t dev, uint64_t ino)
{
	struct fiob_share_file *sf;

	for (sf = reg.files; sf; sf = sf->next)
		if (sf->dev == dev && sf->ino == ino)
			break;
	if (!sf) {
		sf = calloc(1, sizeof(*sf));
		if (!sf)
			return NULL;
		sf->dev = dev;
		sf->ino = ino;
		sf->index = reg.next_index++;
		sf->next = reg.files;
		reg.files = sf;
	}
	sf->refs++;
	return sf;
}

static void table_file_put(struct fiob_share_file *sf)
{
	struct fiob_share_file **p;

	if (--sf->refs)
		return;
	for (p = &reg.files; *p != sf; p = &(*p)->next)
		;
	*p = sf->next;
	free(sf);
}

/* Everything the release of global id @g lets start is ACTIVE now. */
static void table_release(uint32_t g)
{
	fiob_ovl_release(&reg.t, g);
	while (fiob_ovl_pop_ready(&reg.t) >= 0)
		;	/* its owner finds it ACTIVE when it collects */
}

/* ---- OFD: lock file ranges -------------------------------------------- */

static int ofd_lock(int fd, short type, uint64_t start, uint64_t end)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)start,
		/* 0: to the end of any file, however it grows */
		.l_len = end == UINT64_MAX || end > (uint64_t)INT64_MAX ?
			 0 : (off_t)(end - start),
	};

	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

/* ---- the API ------------------------------------------------------------ */

int fiob_share_open(struct fiob_share_job *j, uint32_t depth,
		    uint32_t table_ids, enum fiob_share_kind kind,
		    uint64_t dev, uint64_t ino, struct fiob_share_member *m)
{
	char path[96];
	int ret;

	memset(m, 0, sizeof(*m));
	m->lock_fd = -1;
	ret = job_init(j, depth);
	if (ret)
		return ret;
	m->kind = kind;
	if (kind == FIOB_SHARE_OFD) {
		ret = fiob_share_lock_path(path, sizeof(path), dev, ino);
		if (ret)
			return ret;
		m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (m->lock_fd < 0)
			return -errno;
		j->nr_members++;
		return 0;
	}
	pthread_mutex_lock(&reg.lock);
	ret = table_join(j, table_ids);
	if (!ret) {
		m->sf = table_file(dev, ino);
		if (!m->sf)
			ret = -ENOMEM;
	}
	pthread_mutex_unlock(&reg.lock);
	if (!ret)
		j->nr_members++;
	return ret;
}

/* Drop @id's entry, whatever its state: its owner will never start it. */
static void drop(struct fiob_share_job *j, uint32_t id)
{
	struct fiob_share_hold *h = &j->hold[id];
	uint32_t i;

	if (h->state == FIOB_SHARE_WAITING) {
		for (i = 0; j->waiting[i] != id; i++)
			;
		memmove(j->waiting + i, j->waiting + i + 1,
			(j->nr_waiting - i - 1) * sizeof(*j->waiting));
		j->nr_waiting--;
	}
	if (h->m->kind == FIOB_SHARE_TABLE) {
		pthread_mutex_lock(&reg.lock);
		if (reg.t.e[j->base + id].state == FIOB_OVL_WAITING)
			fiob_ovl_cancel(&reg.t, j->base + id);
		table_release(j->base + id);
		pthread_mutex_unlock(&reg.lock);
	} else if (h->state == FIOB_SHARE_HELD) {
		ofd_lock(h->m->lock_fd, F_UNLCK, h->start, h->end);
	}
	h->state = FIOB_SHARE_NONE;
	h->m = NULL;
}

void fiob_share_close(struct fiob_share_job *j, struct fiob_share_member *m)
{
	uint32_t id;

	if (!m->kind)
		return;
	/* A close after a failed drain: what is left must not block others. */
	for (id = 0; id < j->depth; id++)
		if (j->hold[id].m == m)
			drop(j, id);
	if (m->kind == FIOB_SHARE_OFD) {
		close(m->lock_fd);
	} else {
		pthread_mutex_lock(&reg.lock);
		table_file_put(m->sf);
		pthread_mutex_unlock(&reg.lock);
	}
	memset(m, 0, sizeof(*m));
	m->lock_fd = -1;
	j->nr_members--;
}

void fiob_share_job_exit(struct fiob_share_job *j)
{
	uint32_t id;

	for (id = 0; j->hold && id < j->depth; id++)
		if (j->hold[id].m)
			drop(j, id);
	pthread_mutex_lock(&reg.lock);
	table_leave(j);
	pthread_mutex_unlock(&reg.lock);
	free(j->hold);
	free(j->waiting);
	free(j->ready);
	memset(j, 0, sizeof(*j));
}

bool fiob_share_acquire(struct fiob_share_job *j,
			struct fiob_share_member *m, uint32_t id,
			uint64_t start, uint64_t end, uint64_t ustart,
			uint64_t uend, bool excl)
{
	struct fiob_share_hold *h = &j->hold[id];
	bool got;

	if (h->state == FIOB_SHARE_HELD)
		return true;
	h->m = m;
	h->start = start;
	h->end = end;
	if (m->kind == FIOB_SHARE_TABLE) {
		pthread_mutex_lock(&reg.lock);
		got = fiob_ovl_acquire_bytes(&reg.t, j->base + id,
					     m->sf->index, start, end, ustart,
					     uend, excl ? FIOB_OVL_EXCL :
					     FIOB_OVL_WRITE);
		pthread_mutex_unlock(&reg.lock);
	} else {
		/*
		 * Every write locks: a plain write that lands inside another
		 * job's RMW window is lost as surely as an RMW's.
		 */
		got = !ofd_lock(m->lock_fd, F_WRLCK, start, end);
	}
	if (got) {
		h->state = FIOB_SHARE_HELD;
		return true;
	}
	h->state = FIOB_SHARE_WAITING;
	j->waiting[j->nr_waiting++] = id;
	return false;
}

void fiob_share_release_slow(struct fiob_share_job *j, uint32_t id)
{
	drop(j, id);
}

/* Does waiting @id hold its range now? (TABLE: reg.lock held) */
static bool now_held(struct fiob_share_job *j, uint32_t id)
{
	struct fiob_share_hold *h = &j->hold[id];

	if (h->m->kind == FIOB_SHARE_TABLE)
		return reg.t.e[j->base + id].state == FIOB_OVL_ACTIVE;
	return !ofd_lock(h->m->lock_fd, F_WRLCK, h->start, h->end);
}

uint32_t fiob_share_collect_slow(struct fiob_share_job *j)
{
	uint32_t i, kept = 0, n = 0;

	if (j->in_table)
		pthread_mutex_lock(&reg.lock);
	for (i = 0; i < j->nr_waiting; i++) {
		uint32_t id = j->waiting[i];

		if (now_held(j, id)) {
			j->hold[id].state = FIOB_SHARE_HELD;
			j->ready[n++] = id;
		} else {
			j->waiting[kept++] = id;
		}
	}
	j->nr_waiting = kept;
	if (j->in_table)
		pthread_mutex_unlock(&reg.lock);
	return n;
}
