/*
 * Discovery (fiob_discover.h): statx, block-device ioctls and sysfs, and a
 * read probe, in that order, for what an open file's O_DIRECT path needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fiob_discover.h"

#define PROBE_MAX	4096u

const char *fiob_align_src_name(enum fiob_align_src src)
{
	switch (src) {
	case FIOB_SRC_BUFFERED:	return "buffered";
	case FIOB_SRC_STATX:	return "statx";
	case FIOB_SRC_BLKDEV:	return "blkdev";
	case FIOB_SRC_PROBE:	return "probe";
	case FIOB_SRC_DEFAULT:	return "default";
	}
	return "?";
}

/* glibc's statx wrapper may lack the DIO fields; the raw syscall has them. */
static int statx_dio(int fd, struct fiob_align *a)
{
	struct statx stx = { 0 };
	unsigned int mask = STATX_DIOALIGN;

#ifdef STATX_DIO_READ_ALIGN
	mask |= STATX_DIO_READ_ALIGN;
#endif
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, mask, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_DIOALIGN) || !stx.stx_dio_offset_align)
		return -EOPNOTSUPP;
	a->off = stx.stx_dio_offset_align;
	a->mem = stx.stx_dio_mem_align;
#ifdef STATX_DIO_READ_ALIGN
	/* Writes need the larger of the two; fio-bounce uses one rule. */
	if ((stx.stx_mask & STATX_DIO_READ_ALIGN) &&
	    stx.stx_dio_read_offset_align > a->off)
		a->off = stx.stx_dio_read_offset_align;
#endif
	return 0;
}

static int read_sysfs_u32(const char *path, uint32_t *val)
{
	unsigned int v;
	FILE *f = fopen(path, "re");
	int ret = -ENOENT;

	if (!f)
		return ret;
	if (fscanf(f, "%u", &v) == 1) {
		*val = v;
		ret = 0;
	}
	fclose(f);
	return ret;
}

static int blkdev_align(int fd, const struct stat *st, struct fiob_align *a)
{
	char path[96];
	uint32_t dma = 511;
	int lbs;

	if (ioctl(fd, BLKSSZGET, &lbs) < 0)
		return -errno;
	a->off = (uint32_t)lbs;
	/* A partition has no queue/ of its own: its parent's applies. */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/dma_alignment",
		 major(st->st_rdev), minor(st->st_rdev));
	if (read_sysfs_u32(path, &dma)) {
		snprintf(path, sizeof(path),
			 "/sys/dev/block/%u:%u/../queue/dma_alignment",
			 major(st->st_rdev), minor(st->st_rdev));
		if (read_sysfs_u32(path, &dma))
			dma = 511;	/* the block layer's default */
	}
	a->mem = dma + 1;
	return 0;
}

/*
 * Smallest power of two for which an O_DIRECT read at offset 0 returns data.
 * A read that returns 0 bytes proves nothing (an empty file, or a hole some
 * file systems answer without checking alignment), so only bytes count.
 */
static uint32_t probe_one(int fd, char *page_buf, bool vary_mem, uint32_t off)
{
	uint32_t a;

	for (a = 1; a <= PROBE_MAX; a <<= 1) {
		ssize_t ret;

		if (vary_mem)
			ret = pread(fd, page_buf + (a % PROBE_MAX), off, 0);
		else
			ret = pread(fd, page_buf, a, 0);
		if (ret > 0)
			return a;
		if (ret == 0)
			return 0;
	}
	return 0;
}

static int probe_align(int fd, struct fiob_align *a)
{
	char *buf;
	uint32_t off, mem;

	/* Room for PROBE_MAX bytes at up to PROBE_MAX - 1 past alignment. */
	if (posix_memalign((void **)&buf, PROBE_MAX, 2 * PROBE_MAX))
		return -ENOMEM;
	off = probe_one(fd, buf, false, 0);
	mem = off ? probe_one(fd, buf, true, off) : 0;
	free(buf);
	if (!off || !mem)
		return -ENODATA;
	a->off = off;
	a->mem = mem;
	return 0;
}

int fiob_discover(int fd, struct fiob_file_info *fi)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fi->regular = S_ISREG(st.st_mode);
	fi->size = fi->regular ? (uint64_t)st.st_size : 0;
	fi->direct = (fl & O_DIRECT) != 0;

	if (!fi->direct) {
		fi->need.off = fi->need.mem = 1;
		fi->src = FIOB_SRC_BUFFERED;
		return 0;
	}
	if (!statx_dio(fd, &fi->need)) {
		fi->src = FIOB_SRC_STATX;
	} else if (S_ISBLK(st.st_mode) && !blkdev_align(fd, &st, &fi->need)) {
		fi->src = FIOB_SRC_BLKDEV;
	} else if (!probe_align(fd, &fi->need)) {
		fi->src = FIOB_SRC_PROBE;
	} else {
		fi->need.off = fi->need.mem = FIOB_DEFAULT_ALIGN;
		fi->src = FIOB_SRC_DEFAULT;
	}
	/* Never trust a value that is not a usable power of two. */
	if (!fiob_is_pow2(fi->need.off) || !fiob_is_pow2(fi->need.mem)) {
		fi->need.off = fi->need.mem = FIOB_DEFAULT_ALIGN;
		fi->src = FIOB_SRC_DEFAULT;
	}
	return 0;
}

const char *fiob_vec_name(enum fiob_vec v)
{
	switch (v) {
	case FIOB_VEC_NA:		return "n/a";
	case FIOB_VEC_ACCEPTED:		return "accepted";
	case FIOB_VEC_REFUSED:		return "refused";
	case FIOB_VEC_UNPROVEN:		return "unproven";
	case FIOB_VEC_OFF:		return "off";
	case FIOB_VEC_FORCED_YES:	return "forced-yes";
	case FIOB_VEC_FORCED_NO:	return "forced-no";
	}
	return "?";
}

/* Each segment holds its slice of @ref (poisoned first: bytes must come in). */
static bool vec_matches(const struct iovec *iov, unsigned int nr,
			const char *ref)
{
	size_t at = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (memcmp(iov[i].iov_base, ref + at, iov[i].iov_len))
			return false;
		at += iov[i].iov_len;
	}
	return true;
}

enum fiob_vec fiob_probe_vec(int fd, const struct fiob_align *a)
{
	enum fiob_vec ret = FIOB_VEC_UNPROVEN;
	size_t off = a->off, mem = a->mem;
	size_t buf_align = off > PROBE_MAX ? off : PROBE_MAX;
	struct iovec iov[3];
	unsigned int nr = 0, i;
	char *ref = NULL, *buf = NULL;
	ssize_t n;

	if (off <= mem)
		return FIOB_VEC_NA;
	if (posix_memalign((void **)&ref, buf_align, off) ||
	    posix_memalign((void **)&buf, buf_align, 2 * off))
		goto out;
	/* What the first block holds: a read that is aligned every way. */
	if (pread(fd, ref, off, 0) != (ssize_t)off)
		goto out;
	/*
	 * The head and tail at buf (the slot), the middle at buf + off + mem
	 * (the user buffer): every address and length a multiple of mem, and
	 * neither the middle's address nor any length a multiple of off.
	 */
	iov[nr++] = (struct iovec){ buf, mem };
	if (off > 2 * mem)
		iov[nr++] = (struct iovec){ buf + off + mem, off - 2 * mem };
	iov[nr++] = (struct iovec){ buf + mem, mem };
	for (i = 0, n = 0; i < nr; n += (ssize_t)iov[i].iov_len, i++)
		memset(iov[i].iov_base, ~ref[n], iov[i].iov_len);
	n = preadv(fd, iov, (int)nr, 0);
	if (n < 0 && errno != EINVAL)
		goto out;	/* an I/O error proves nothing either way */
	ret = n == (ssize_t)off && vec_matches(iov, nr, ref) ?
	      FIOB_VEC_ACCEPTED : FIOB_VEC_REFUSED;
out:
	free(buf);
	free(ref);
	return ret;
}
