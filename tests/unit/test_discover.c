/*
 * Per-file O_DIRECT alignment discovery on real files: buffered, ext4 in
 * /tmp (statx DIOALIGN, checked against our own statx and against real
 * O_DIRECT reads), tmpfs in /dev/shm (no DIOALIGN: probe or default).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "align_model.h"
#include "fiob_discover.h"
#include "fiob_test.h"

static char path[64];

/* A file in @dir with @size bytes of data, reopened with @flags. */
static int make_file(const char *dir, size_t size, int flags)
{
	static char data[65536];
	int fd;

	snprintf(path, sizeof(path), "%s/fiob-align-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	memset(data, 0x5a, sizeof(data));
	while (size) {
		size_t n = size < sizeof(data) ? size : sizeof(data);

		if (write(fd, data, n) != (ssize_t)n) {
			close(fd);
			unlink(path);
			return -1;
		}
		size -= n;
	}
	close(fd);
	fd = open(path, O_RDWR | flags);
	if (fd < 0) {
		int e = errno;

		unlink(path);
		errno = e;
	}
	return fd;
}

static void done(int fd)
{
	close(fd);
	unlink(path);
}

static void buffered_fd_needs_no_alignment(void)
{
	struct fiob_file_info fi;
	int fd = make_file("/tmp", 12345, 0);

	FT_ASSERT(fd >= 0);
	memset(&fi, 0xff, sizeof(fi));
	FT_EQ(fiob_discover(fd, &fi), 0);
	done(fd);
	FT_EQ(fi.src, FIOB_SRC_BUFFERED);
	FT_EQ(fi.need.off, 1);
	FT_EQ(fi.need.mem, 1);
	FT_ASSERT(!fi.direct);
	FT_ASSERT(fi.regular);
	FT_EQ(fi.size, 12345);
}

/* An O_DIRECT pread of @len at @off into a buffer at @mis past 4096. */
static ssize_t dio_read(int fd, uint64_t off, size_t len, size_t mis)
{
	static char *buf;

	if (!buf && posix_memalign((void **)&buf, 65536, 3 * 65536))
		return -ENOMEM;
	return pread(fd, buf + 65536 + mis, len, (off_t)off) < 0 ? -errno :
	       (ssize_t)len;
}

static void ext4_direct_uses_statx_dioalign_and_it_holds(void)
{
	struct statx stx = { 0 };
	struct fiob_file_info fi;
	uint32_t off, mem;
	ssize_t ok, half;
	int fd = make_file("/tmp", 65536, O_DIRECT);

	if (fd < 0 && errno == EINVAL)
		FT_SKIP("O_DIRECT refused on /tmp");
	FT_ASSERT(fd >= 0);
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ||
	    !(stx.stx_mask & STATX_DIOALIGN) || !stx.stx_dio_offset_align) {
		done(fd);
		FT_SKIP("kernel does not report STATX_DIOALIGN for /tmp");
	}
	off = stx.stx_dio_offset_align;
	mem = stx.stx_dio_mem_align;
	FT_EQ(fiob_discover(fd, &fi), 0);
	if (fi.src != FIOB_SRC_STATX || fi.need.mem != mem || fi.need.off < off) {
		done(fd);
		FT_FAIL("src %s need %u/%u, statx says %u/%u",
			fiob_align_src_name(fi.src), fi.need.off, fi.need.mem,
			off, mem);
	}
#ifndef STATX_DIO_READ_ALIGN
	if (fi.need.off != off) {	/* nothing else can raise it */
		done(fd);
		FT_FAIL("need.off %u, statx says %u", fi.need.off, off);
	}
#endif
	if (!fi.direct || !fi.regular || fi.size != 65536) {
		done(fd);
		FT_FAIL("direct %d regular %d size %llu", fi.direct, fi.regular,
			(unsigned long long)fi.size);
	}
	/* What it says works does work; half the offset rule does not. */
	ok = dio_read(fd, fi.need.off, fi.need.off, fi.need.mem);
	half = fi.need.off > 1 ? dio_read(fd, fi.need.off / 2, fi.need.off, 0) :
	       -EINVAL;
	done(fd);
	FT_EQ(ok, (ssize_t)fi.need.off);
	FT_EQ(half, -EINVAL);
}

static bool tmpfs_reports_dioalign(int fd)
{
	struct statx stx = { 0 };

	return !syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	       (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align;
}

/*
 * An O_DIRECT tmpfs file of @size bytes, which discovery has to probe, in
 * *fd; or why this kernel has none (the caller skips). Neither means the
 * open failed.
 */
static const char *tmpfs_probe_file(size_t size, int *fd)
{
	*fd = make_file("/dev/shm", size, O_DIRECT);
	if (*fd < 0)
		return errno == EINVAL ? "kernel lacks O_DIRECT on tmpfs (< 6.6)" :
					 NULL;
	if (tmpfs_reports_dioalign(*fd)) {
		done(*fd);
		*fd = -1;
		return "tmpfs reports STATX_DIOALIGN here: no probe path";
	}
	return NULL;
}

/* tmpfs has no DIOALIGN, and an empty file proves nothing: the default. */
static void tmpfs_empty_file_falls_back_to_default_4096(void)
{
	struct fiob_file_info fi;
	int fd;
	const char *skip = tmpfs_probe_file(0, &fd);

	if (skip)
		FT_SKIP(skip);
	FT_ASSERT(fd >= 0);
	FT_EQ(fiob_discover(fd, &fi), 0);
	done(fd);
	FT_EQ(fi.src, FIOB_SRC_DEFAULT);
	FT_EQ(fi.need.off, FIOB_DEFAULT_ALIGN);
	FT_EQ(fi.need.mem, FIOB_DEFAULT_ALIGN);
	FT_ASSERT(fi.direct && fi.regular);
	FT_EQ(fi.size, 0);
}

/*
 * With data the probe finds the smallest power of two that returns bytes.
 * Our own O_DIRECT reads tell what that must be: tmpfs takes any alignment.
 */
static void tmpfs_file_with_data_probes_what_reads_allow(void)
{
	struct fiob_file_info fi;
	uint32_t want_off = 0, want_mem = 0, a;
	int fd;
	const char *skip = tmpfs_probe_file(8192, &fd);

	if (skip)
		FT_SKIP(skip);
	FT_ASSERT(fd >= 0);
	for (a = 1; a <= 4096 && !want_off; a <<= 1)
		if (dio_read(fd, 0, a, 0) > 0)
			want_off = a;
	for (a = 1; a <= 4096 && want_off && !want_mem; a <<= 1)
		if (dio_read(fd, 0, want_off, a % 4096) > 0)
			want_mem = a;
	FT_EQ(fiob_discover(fd, &fi), 0);
	done(fd);
	FT_ASSERT(want_off && want_mem);
	FT_EQ(fi.src, FIOB_SRC_PROBE);
	FT_EQ(fi.need.off, want_off);
	FT_EQ(fi.need.mem, want_mem);
	FT_EQ(fi.size, 8192);
	FT_ASSERT(fi.direct && fi.regular);
}

static void pipe_is_not_regular_and_has_no_size(void)
{
	struct fiob_file_info fi;
	int p[2];

	FT_EQ(pipe(p), 0);
	FT_EQ(write(p[1], "abc", 3), 3);
	FT_EQ(fiob_discover(p[0], &fi), 0);
	close(p[0]);
	close(p[1]);
	FT_ASSERT(!fi.regular);
	FT_EQ(fi.size, 0);
	FT_EQ(fi.src, FIOB_SRC_BUFFERED);
}

/* A directory has an st_size, but it is no file size. */
static void directory_is_not_regular_and_has_no_size(void)
{
	struct fiob_file_info fi;
	struct stat st;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	FT_ASSERT(fd >= 0);
	FT_EQ(fstat(fd, &st), 0);
	FT_EQ(fiob_discover(fd, &fi), 0);
	close(fd);
	FT_ASSERT(st.st_size > 0);	/* else this case proves nothing */
	FT_ASSERT(!fi.regular);
	FT_EQ(fi.size, 0);
}

static void bad_fd_is_ebadf(void)
{
	struct fiob_file_info fi;

	FT_EQ(fiob_discover(-1, &fi), -EBADF);
}

static void every_source_has_a_distinct_name(void)
{
	FT_ASSERT(!strcmp(fiob_align_src_name(FIOB_SRC_BUFFERED), "buffered"));
	FT_ASSERT(!strcmp(fiob_align_src_name(FIOB_SRC_STATX), "statx"));
	FT_ASSERT(!strcmp(fiob_align_src_name(FIOB_SRC_BLKDEV), "blkdev"));
	FT_ASSERT(!strcmp(fiob_align_src_name(FIOB_SRC_PROBE), "probe"));
	FT_ASSERT(!strcmp(fiob_align_src_name(FIOB_SRC_DEFAULT), "default"));
	FT_ASSERT(!strcmp(fiob_align_src_name((enum fiob_align_src)42), "?"));
}

/*
 * fiob_align_apply over every combination of sources: a target rule with
 * off below, equal to and above mem, each override absent, below, equal to
 * and above what the target needs, against align_model.h.
 */
static void apply_every_source_combination_keeps_off_at_least_mem(void)
{
	static const uint32_t v[] = { 0, 1, 2, 512, 4096, 8192, 65536 };
	const unsigned int nv = sizeof(v) / sizeof(v[0]);
	unsigned int a, b, c, d, n = 0, raised = 0, edom = 0, einval = 0;

	for (a = 1; a < nv; a++)
	for (b = 1; b < nv; b++)
	for (c = 0; c < nv; c++)
	for (d = 0; d < nv; d++) {
		struct fiob_align need = { v[a], v[b] }, ovr = { v[c], v[d] };
		struct fiob_align out = { 7, 7 }, want;
		int ret = fiob_align_apply(&need, &ovr, &out);
		int want_ret = align_apply_model(&need, &ovr, &want);

		n++;
		raised += !want_ret && want.off > (ovr.off ? ovr.off : need.off);
		edom += want_ret == -EDOM;
		einval += want_ret == -EINVAL;
		if (ret != want_ret)
			FT_FAIL("need %u/%u override %u/%u: ret %d, want %d",
				need.off, need.mem, ovr.off, ovr.mem, ret,
				want_ret);
		if (!ret && (out.off != want.off || out.mem != want.mem ||
			     out.off < out.mem))
			FT_FAIL("need %u/%u override %u/%u: in force %u/%u, "
				"want %u/%u", need.off, need.mem, ovr.off,
				ovr.mem, out.off, out.mem, want.off, want.mem);
	}
	/* Every branch was reached, not only the easy one. */
	FT_EQ(n, 6 * 6 * 7 * 7);
	FT_ASSERT(raised && edom && einval);
}

/* The cases the issue names, spelled out. */
static void apply_named_cases(void)
{
	struct fiob_align out;

	/* bounce_mem_align=4096 bounce_align=512 on a 512/512 device. */
	FT_EQ(fiob_align_apply(&(struct fiob_align){ 512, 512 },
			       &(struct fiob_align){ 512, 4096 }, &out), -EDOM);
	FT_EQ(out.off, 512);
	FT_EQ(out.mem, 4096);
	/* bounce_mem_align=4096 alone: off follows it up. */
	FT_EQ(fiob_align_apply(&(struct fiob_align){ 512, 512 },
			       &(struct fiob_align){ 0, 4096 }, &out), 0);
	FT_EQ(out.off, 4096);
	FT_EQ(out.mem, 4096);
	/* A target whose memory rule exceeds its offset rule (discovery). */
	FT_EQ(fiob_align_apply(&(struct fiob_align){ 512, 4096 },
			       &(struct fiob_align){ 0, 0 }, &out), 0);
	FT_EQ(out.off, 4096);
	FT_EQ(out.mem, 4096);
	/* ... and bounce_align equal to that memory rule is fine. */
	FT_EQ(fiob_align_apply(&(struct fiob_align){ 512, 4096 },
			       &(struct fiob_align){ 4096, 0 }, &out), 0);
	FT_EQ(out.off, 4096);
	/* Lowering is refused before anything else is looked at. */
	FT_EQ(fiob_align_apply(&(struct fiob_align){ 4096, 512 },
			       &(struct fiob_align){ 512, 0 }, &out), -EINVAL);
}

FT_MAIN(
	FT_RUN(buffered_fd_needs_no_alignment);
	FT_RUN(ext4_direct_uses_statx_dioalign_and_it_holds);
	FT_RUN(tmpfs_empty_file_falls_back_to_default_4096);
	FT_RUN(tmpfs_file_with_data_probes_what_reads_allow);
	FT_RUN(pipe_is_not_regular_and_has_no_size);
	FT_RUN(directory_is_not_regular_and_has_no_size);
	FT_RUN(bad_fd_is_ebadf);
	FT_RUN(every_source_has_a_distinct_name);
	FT_RUN(apply_every_source_combination_keeps_off_at_least_mem);
	FT_RUN(apply_named_cases)
)
