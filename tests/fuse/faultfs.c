/*
 * faultfs - a test-only FUSE file system whose single file can be told to
 * fail chosen byte ranges, to stop answering, or to vanish.
 *
 * Tests put a loop device over MOUNT/disk.img to get a block device that
 * fails exactly where they want, so they can prove an ioengine reports
 * errors loudly and never writes where it should not.
 *
 * Usage: faultfs --size BYTES[K|M|G] --log LOGFILE [--log-reads] MOUNTPOINT
 *                [fuse options, e.g. -f]
 *
 * MOUNTPOINT/disk.img  fixed-size file held in memory, initially zeros.
 * MOUNTPOINT/ctl       write-only; one text command per line:
 *   fail_read START END   reads overlapping [START,END) fail with EIO
 *   fail_write START END  writes overlapping [START,END) fail with EIO
 *   clear                 drop every failure range
 *   hang                  reads, writes and fsyncs of disk.img block...
 *   unhang                ...until this
 *   die                   _exit() at once, like a device that vanished
 * An unknown or malformed command fails the write with EINVAL.
 *
 * LOGFILE gets one line per disk.img request that reached us, written with
 * a single write(2) on an O_APPEND fd, so it is complete even after "die":
 *   W OFFSET LENGTH       a write that was applied
 *   WFAIL OFFSET LENGTH   a write that was refused (injected EIO, or ENOSPC
 *                         because it reaches past the end); nothing applied
 *   RFAIL OFFSET LENGTH   a read that failed with injected EIO
 *   R OFFSET LENGTH       a read that succeeded (only with --log-reads)
 *
 * Seen through a loop device (tests/integration/test_faultfs.py checks it):
 * an O_DIRECT user of the loop device gets EIO for every failure here,
 * injected or after die/abort (ENOTCONN, ECONNABORTED). loop sends the file
 * one request at a time, but FUSE may split one loop request (up to 1280
 * KiB) into several of ours, so a loop write that failed may still have
 * applied its other pieces: assert on the failed range in the log, not on
 * the whole request.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RANGES	64
#define CTL_MAX		4096

struct range {
	uint64_t start, end;	/* [start, end) */
};

struct range_set {
	int nr;
	struct range r[MAX_RANGES];
};

static uint64_t disk_size;
static char *disk;		/* disk_size bytes, never reallocated */
static int log_fd = -1;
static int log_reads;

/*
 * One lock for all control state. Data copies are done outside it: racing
 * overlapping requests may tear, exactly as they may on a real disk.
 */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t unhang_cond = PTHREAD_COND_INITIALIZER;
static struct range_set fail_rd, fail_wr;
static int hung;

enum node { NODE_NONE, NODE_ROOT, NODE_DISK, NODE_CTL };

static enum node lookup(const char *path)
{
	if (!strcmp(path, "/"))
		return NODE_ROOT;
	if (!strcmp(path, "/disk.img"))
		return NODE_DISK;
	if (!strcmp(path, "/ctl"))
		return NODE_CTL;
	return NODE_NONE;
}

static void log_line(const char *tag, off_t off, size_t len)
{
	char buf[80];
	int n;

	if (log_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%s %jd %zu\n", tag, (intmax_t)off, len);
	/* Best effort: a full log disk must not turn into a disk.img error. */
	if (write(log_fd, buf, n) != n)
		perror("faultfs: log write");
}

static int overlaps(const struct range_set *set, uint64_t off, uint64_t len)
{
	int i;

	for (i = 0; i < set->nr; i++)
		if (off < set->r[i].end && set->r[i].start < off + len)
			return 1;
	return 0;
}

/*
 * Called with state_lock held at the start of every disk.img request.
 * Blocking the worker thread is the only way the high-level API lets us
 * leave a request unanswered; libfuse starts another worker for the next
 * request (up to max_threads), which is how ctl stays usable while hung.
 */
static void wait_unhung(void)
{
	while (hung)
		pthread_cond_wait(&unhang_cond, &state_lock);
}

static int ff_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	switch (lookup(path)) {
	case NODE_ROOT:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	case NODE_DISK:
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = disk_size;
		st->st_blksize = 4096;
		st->st_blocks = disk_size / 512;
		return 0;
	case NODE_CTL:
		st->st_mode = S_IFREG | 0200;
		st->st_nlink = 1;
		return 0;
	default:
		return -ENOENT;
	}
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (lookup(path) != NODE_ROOT)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk.img", NULL, 0, 0);
	fill(buf, "ctl", NULL, 0, 0);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	switch (lookup(path)) {
	case NODE_DISK:
		break;
	case NODE_CTL:
		if ((fi->flags & O_ACCMODE) != O_WRONLY)
			return -EACCES;
		break;
	default:
		return -ENOENT;
	}
	/*
	 * direct_io makes the kernel send every read(2)/write(2) to us instead
	 * of serving it from, or collecting it in, the page cache. loop does
	 * buffered I/O on its backing file, so without this the pages it wrote
	 * or read stay cached and later reads never reach us: tried, and a
	 * fail_read range then read back fine. loop works unchanged over a
	 * direct_io file. For ctl it keeps one write(2) = one request.
	 * keep_cache is left 0, so nothing cached survives an open either.
	 */
	fi->direct_io = 1;
	return 0;
}

/* Only ctl may be truncated (by "echo cmd > ctl"); disk.img keeps its size. */
static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	switch (lookup(path)) {
	case NODE_CTL:
		return 0;
	case NODE_DISK:
		return (uint64_t)size == disk_size ? 0 : -EPERM;
	default:
		return -EACCES;
	}
}

static int ff_read(const char *path, char *buf, size_t len, off_t off,
		   struct fuse_file_info *fi)
{
	int fail;

	(void)fi;
	if (lookup(path) != NODE_DISK)
		return -EACCES;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= disk_size)
		return 0;
	if (len > disk_size - off)
		len = disk_size - off;

	pthread_mutex_lock(&state_lock);
	wait_unhung();
	fail = overlaps(&fail_rd, off, len);
	pthread_mutex_unlock(&state_lock);

	if (fail) {
		log_line("RFAIL", off, len);
		return -EIO;
	}
	memcpy(buf, disk + off, len);
	if (log_reads)
		log_line("R", off, len);
	return (int)len;
}

static int ff_write_disk(const char *buf, size_t len, off_t off)
{
	int fail;

	pthread_mutex_lock(&state_lock);
	wait_unhung();
	fail = overlaps(&fail_wr, off, len);
	pthread_mutex_unlock(&state_lock);

	/*
	 * All or nothing, also past the end: a short write could be taken as
	 * success by a careless caller, and the point is to fail loudly.
	 */
	if (fail || off < 0 || (uint64_t)off > disk_size ||
	    len > disk_size - off) {
		log_line("WFAIL", off, len);
		return fail ? -EIO : -ENOSPC;
	}
	memcpy(disk + off, buf, len);
	log_line("W", off, len);
	return (int)len;
}

static int add_range(struct range_set *set, uint64_t start, uint64_t end)
{
	if (start >= end)
		return -EINVAL;
	if (set->nr == MAX_RANGES)
		return -ENOSPC;
	set->r[set->nr].start = start;
	set->r[set->nr].end = end;
	set->nr++;
	return 0;
}

/* Parse and apply one command line; called with state_lock held. */
static int ctl_command(char *line)
{
	unsigned long long start, end;
	char cmd[16], extra;
	int n;

	n = sscanf(line, "%15s %llu %llu %c", cmd, &start, &end, &extra);
	if (n <= 0)
		return 0;	/* blank line */
	if (n == 3 && !strcmp(cmd, "fail_read"))
		return add_range(&fail_rd, start, end);
	if (n == 3 && !strcmp(cmd, "fail_write"))
		return add_range(&fail_wr, start, end);
	if (n != 1)
		return -EINVAL;
	if (!strcmp(cmd, "clear")) {
		fail_rd.nr = 0;
		fail_wr.nr = 0;
	} else if (!strcmp(cmd, "hang")) {
		hung = 1;
	} else if (!strcmp(cmd, "unhang")) {
		hung = 0;
		pthread_cond_broadcast(&unhang_cond);
	} else if (!strcmp(cmd, "die")) {
		/*
		 * No reply and no unmount: the kernel sees /dev/fuse close,
		 * aborts the connection, and every pending and later request
		 * fails (this very ctl write included), as with a dead device.
		 */
		_exit(0);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int ff_write_ctl(const char *buf, size_t len)
{
	char text[CTL_MAX + 1], *line, *save;
	int ret = 0;

	if (len > CTL_MAX)
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = '\0';

	/* Several lines in one write are applied in order, up to an error. */
	pthread_mutex_lock(&state_lock);
	for (line = strtok_r(text, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save))
		ret = ctl_command(line);
	pthread_mutex_unlock(&state_lock);
	return ret ? ret : (int)len;
}

static int ff_write(const char *path, const char *buf, size_t len, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	switch (lookup(path)) {
	case NODE_DISK:
		return ff_write_disk(buf, len, off);
	case NODE_CTL:
		return ff_write_ctl(buf, len);
	default:
		return -EACCES;
	}
}

/*
 * Data lives in memory, so there is nothing to flush; but loop turns every
 * REQ_OP_FLUSH into an fsync, and a hung device must not complete those.
 */
static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	pthread_mutex_lock(&state_lock);
	wait_unhung();
	pthread_mutex_unlock(&state_lock);
	return 0;
}

static const struct fuse_operations ff_ops = {
	.getattr	= ff_getattr,
	.readdir	= ff_readdir,
	.open		= ff_open,
	.truncate	= ff_truncate,
	.read		= ff_read,
	.write		= ff_write,
	.fsync		= ff_fsync,
};

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	/* Optional binary suffix, as in "--size 64M". */
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || v == 0 || v > (SIZE_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --size BYTES[K|M|G] --log LOGFILE [--log-reads]\n"
		"       MOUNTPOINT [fuse options, e.g. -f]\n", prog);
	exit(2);
}

int main(int argc, char *argv[])
{
	const char *log_path = NULL;
	char **fargv;
	int i, fargc = 0;

	/*
	 * Our options come out of argv here; the rest goes to fuse_main. The
	 * default max_threads (10) is raised first so that a user -o wins:
	 * while hung every stuck request holds a worker, and ctl ("unhang",
	 * "die") needs a free one to be heard at all. max_idle_threads is set
	 * only because libfuse 3.14 otherwise logs a bogus "Ignoring invalid
	 * max threads value 4294967295" for its own unset default.
	 */
	fargv = calloc(argc + 3, sizeof(*fargv));
	if (!fargv)
		return 1;
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-o";
	fargv[fargc++] = "max_threads=256,max_idle_threads=16,fsname=faultfs";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (parse_size(argv[++i], &disk_size))
				usage(argv[0]);
		} else if (!strcmp(argv[i], "--log-reads")) {
			log_reads = 1;
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			log_path = argv[++i];
		} else {
			fargv[fargc++] = argv[i];
		}
	}
	if (!disk_size || !log_path)
		usage(argv[0]);

	/* Both are done before fuse_main may daemonize and chdir("/"). */
	disk = calloc(1, disk_size);
	if (!disk) {
		perror("faultfs: calloc");
		return 1;
	}
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		perror(log_path);
		return 1;
	}
	return fuse_main(fargc, fargv, &ff_ops, NULL);
}
