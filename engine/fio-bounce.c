/*
 * fio-bounce: a fio external ioengine on liburing that runs the I/O stock
 * engines fail with EINVAL under O_DIRECT (bs=1000, iomem_align=7,
 * blockalign=512 on a 4Kn device, ...). Aligned I/O goes straight to
 * io_uring; misaligned I/O is bounced (see fiob_req.h).
 *
 * This is the only file that knows fio. It is built against the headers of
 * the exact fio that loads it, and refuses to run under any other.
 *
 *   fio --ioengine=external:/path/to/fio-bounce.so job.fio
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "fio.h"
#include "optgroup.h"
#include "fiob_fio_compat.h"
#include "engines/cmdprio.h"

#include "fiob_discover.h"
#include "fiob_copy.h"
#include "fiob_core.h"
#include "fiob_opt.h"
#include "fiob_req.h"
#include "fiob_share.h"
#include "fiob_stats.h"
#include "fiob_zc.h"
#include "fiob_uring_opts.h"	/* generated: tools/uring-opts.sh */

#ifndef FIOB_BUILT_FOR
#error "FIOB_BUILT_FOR must name the fio version of the headers (the Makefile sets it)"
#endif

/* ---- per-thread data ------------------------------------------------ */

/* td->io_ops_data, named bd everywhere: 'fd' is kept for descriptors. */
struct fiob_data {
	struct fiob_core core;
	bool core_up;
	unsigned int nr_files;		/* fio zeroes its own before cleanup */
	struct iovec *io_u_bufs;	/* fixedbufs: each io_u's buffer */
	int *fds;			/* registerfiles: descriptors */
	struct io_u **queued;		/* queued since the last commit */
	unsigned int nr_queued;
	struct fiob_stats_file *stat_files;	/* names are our copies */
	/* What every read's and write's SQEs carry unless attr_per_io. */
	struct fiob_sqe_attr rw_attr;
	bool attr_per_io;		/* cmdprio or force_async: per I/O */
	struct cmdprio cmdprio;		/* fio's, as io_uring keeps it */
	struct io_u *busy_io_u;		/* last refused with FIO_Q_BUSY ... */
	uint16_t busy_ioprio;		/* ... keeps the priority drawn for it */
	uint16_t drawn_ioprio;		/* attr_per_io: the last one drawn */
	unsigned int prepped;		/* force_async: requests since the last */
	bool hipri_warned;
	bool shared_warned;
	int force_vec;		/* test hook: -1 probe, 0 or 1 the answer */
};

struct fiob_options {
	void *pad;		/* fio stores the thread pointer at offset 0 */
	unsigned int bounce;	/* enum fiob_mode */
	unsigned int bounce_slots;
	unsigned int bounce_align;
	unsigned int bounce_mem_align;
	unsigned int bounce_register;
	unsigned int bounce_zero_copy;
	unsigned long long bounce_zero_copy_min;	/* FIOB_ZC_MIN_AUTO: auto */
	unsigned int bounce_share;	/* enum fiob_share_opt */
	char *bounce_stats;
	unsigned int hipri;
	unsigned int fixedbufs;
	unsigned int registerfiles;
	unsigned int sqpoll_thread;
	unsigned int sqpoll_cpu;
	unsigned int sqpoll_set;
	unsigned int nowait;
	/* The rest of fio's io_uring options, as its ioring_options has them. */
	struct cmdprio_options cmdprio_options;
	int nonvectored;	/* -1: READ/WRITE where the kernel has them */
	unsigned int uncached;
	unsigned int force_async;
	unsigned int cmd_type;	/* io_uring_cmd's; io_uring ignores it */
#ifdef FIOB_URING_OPT_md_per_io_size
	/* io_uring_cmd's NVMe options: io_uring takes them (see the table). */
	unsigned int md_per_io_size;
	unsigned int pi_act;
	unsigned int apptag;
	unsigned int apptag_mask;
	char *pi_chk;
#endif
#ifdef FIOB_URING_OPT_readfua
	unsigned int readfua;
	unsigned int writefua;
	unsigned int deac;
	unsigned int write_mode;
	unsigned int verify_mode;
#endif
};

static const char *const fiob_mode_names[] = { "auto", "always", "never" };

enum fiob_share_opt {
	FIOB_SHARE_OPT_AUTO = 0,	/* when another job writes the file */
	FIOB_SHARE_OPT_ON,		/* always, with lock files */
	FIOB_SHARE_OPT_OFF,
};

/* Largest bounce_align / bounce_mem_align: 1 GiB. */
#define FIOB_ALIGN_OPT_MAX	(1ull << 30)
#define FIOB_SLOTS_MAX		65536u

/*
 * The numeric bounce options are strings to fio, parsed in fiob_opt.c:
 * fio's integer parser would read "-1" as a range and keep the "1".
 */
static int fiob_bad_opt(const char *name, const char *val, int err,
			const char *rule)
{
	log_err("fio-bounce: %s=%s is %s; it must be %s\n", name,
		val ? val : "", err == -EDOM ? "not a power of two" :
		err == -ERANGE ? "out of range" : "not an unsigned number", rule);
	return 1;
}

static int fiob_pow2_opt(const char *name, const char *val, unsigned int *dst)
{
	uint64_t v;
	int ret = fiob_opt_pow2(val, FIOB_ALIGN_OPT_MAX, &v);

	if (ret)
		return fiob_bad_opt(name, val, ret, "0 (learn it from the "
				    "target) or a power of two up to 1g");
	*dst = (unsigned int)v;
	return 0;
}

static int fiob_align_cb(void *data, const char *val)
{
	struct fiob_options *o = data;

	return fiob_pow2_opt("bounce_align", val, &o->bounce_align);
}

static int fiob_mem_align_cb(void *data, const char *val)
{
	struct fiob_options *o = data;

	return fiob_pow2_opt("bounce_mem_align", val, &o->bounce_mem_align);
}

static int fiob_slots_cb(void *data, const char *val)
{
	struct fiob_options *o = data;
	uint64_t v;
	int ret = fiob_opt_range(val, 1, FIOB_SLOTS_MAX, &v);

	if (ret)
		return fiob_bad_opt("bounce_slots", val, ret,
				    "1 to 65536 (unset: iodepth)");
	o->bounce_slots = (unsigned int)v;
	return 0;
}

static int fiob_register_cb(void *data, const char *val)
{
	struct fiob_options *o = data;
	uint64_t v;
	int ret = fiob_opt_range(val, 0, 1, &v);

	if (ret)
		return fiob_bad_opt("bounce_register", val, ret, "0 or 1");
	o->bounce_register = (unsigned int)v;
	return 0;
}

static int fiob_zero_copy_min_cb(void *data, const char *val)
{
	struct fiob_options *o = data;
	uint64_t v;
	int ret = fiob_opt_zero_copy_min(val, &v);

	if (ret)
		return fiob_bad_opt("bounce_zero_copy_min", val, ret,
				    "auto or a byte count from 0 to 1g");
	o->bounce_zero_copy_min = v;
	return 0;
}

static int fiob_sqpoll_cb(void *data, unsigned long long *val)
{
	struct fiob_options *o = data;

	o->sqpoll_cpu = (unsigned int)*val;
	o->sqpoll_set = 1;
	return 0;
}

#define FIOB_OPT(...)							\
	{ .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_IOURING, __VA_ARGS__ }

#include "fiob_fio_uring_opts.h"

static struct fio_option options[] = {
	FIOB_OPT(.name = "bounce", .lname = "Bounce mode", .type = FIO_OPT_STR,
		 .off1 = offsetof(struct fiob_options, bounce), .def = "auto",
		 .help = "Which I/O goes through bounce buffers",
		 .posval = {
			{ .ival = "auto", .oval = FIOB_MODE_AUTO,
			  .help = "Only what the target's O_DIRECT rules refuse" },
			{ .ival = "always", .oval = FIOB_MODE_ALWAYS,
			  .help = "Everything (measures copy overhead)" },
			{ .ival = "never", .oval = FIOB_MODE_NEVER,
			  .help = "Nothing: plain io_uring, misaligned I/O fails" },
		 }),
	FIOB_OPT(.name = "bounce_slots", .lname = "Bounce slots",
		 .type = FIO_OPT_STR, .cb = fiob_slots_cb,
		 .help = "Bounce buffers per job, 1 to 65536 (default: iodepth)"),
	FIOB_OPT(.name = "bounce_align", .lname = "Bounce offset alignment",
		 .type = FIO_OPT_STR, .cb = fiob_align_cb, .def = "0",
		 .help = "Raise the offset/length alignment to this power of two (0: learn it)"),
	FIOB_OPT(.name = "bounce_mem_align", .lname = "Bounce memory alignment",
		 .type = FIO_OPT_STR, .cb = fiob_mem_align_cb, .def = "0",
		 .help = "Raise the buffer address alignment to this power of two (0: learn it)"),
	FIOB_OPT(.name = "bounce_register", .lname = "Register bounce slots",
		 .type = FIO_OPT_STR, .cb = fiob_register_cb, .def = "1",
		 .help = "Register the bounce slots with io_uring, so bounced I/O is not pinned per I/O (best effort)"),
	FIOB_OPT(.name = "bounce_zero_copy", .lname = "Bounce zero copy",
		 .type = FIO_OPT_BOOL, .def = "1",
		 .off1 = offsetof(struct fiob_options, bounce_zero_copy),
		 .help = "Send misaligned I/O whose buffer meets the memory rule as one vectored transfer around the user buffer, without a copy, where the kernel takes it (probed per file)"),
	FIOB_OPT(.name = "bounce_zero_copy_min", .lname = "Bounce zero copy minimum",
		 .type = FIO_OPT_STR, .cb = fiob_zero_copy_min_cb, .def = "auto",
		 .help = "Smallest I/O that goes zero copy; smaller ones copy (auto: where the copy costs more than the per-I/O pinning, from a timed copy; 0: every size)"),
	FIOB_OPT(.name = "bounce_share", .lname = "Bounce cross-job sharing",
		 .type = FIO_OPT_STR,
		 .off1 = offsetof(struct fiob_options, bounce_share),
		 .def = "auto",
		 .help = "Serialize read-modify-write against other jobs writing the same file",
		 .posval = {
			{ .ival = "auto", .oval = FIOB_SHARE_OPT_AUTO,
			  .help = "When another job of this fio run writes the file" },
			{ .ival = "on", .oval = FIOB_SHARE_OPT_ON,
			  .help = "Always, with lock files in /dev/shm (also against other fio runs)" },
			{ .ival = "off", .oval = FIOB_SHARE_OPT_OFF,
			  .help = "Never: serialize within the job only" },
		 }),
	FIOB_OPT(.name = "bounce_stats", .lname = "Bounce stats file",
		 .type = FIO_OPT_STR_STORE,
		 .off1 = offsetof(struct fiob_options, bounce_stats),
		 .help = "Append one JSON object of bounce counters per job to this file"),
	FIOB_OPT(.name = "hipri", .lname = "High Priority",
		 .type = FIO_OPT_STR_SET,
		 .off1 = offsetof(struct fiob_options, hipri),
		 .help = "Use polled IO completions (IORING_SETUP_IOPOLL)"),
	FIOB_OPT(.name = "fixedbufs", .lname = "Fixed (pre-mapped) IO buffers",
		 .type = FIO_OPT_STR_SET,
		 .off1 = offsetof(struct fiob_options, fixedbufs),
		 .help = "Pre map fio's IO buffers too (failure fails the job)"),
	FIOB_OPT(.name = "registerfiles", .lname = "Register file set",
		 .type = FIO_OPT_STR_SET,
		 .off1 = offsetof(struct fiob_options, registerfiles),
		 .help = "Pre-open/register files"),
	FIOB_OPT(.name = "sqthread_poll", .lname = "Kernel SQ thread polling",
		 .type = FIO_OPT_STR_SET,
		 .off1 = offsetof(struct fiob_options, sqpoll_thread),
		 .help = "Offload submission/completion to kernel thread"),
	FIOB_OPT(.name = "sqthread_poll_cpu", .lname = "SQ Thread Poll CPU",
		 .type = FIO_OPT_INT, .cb = fiob_sqpoll_cb,
		 .help = "What CPU to run SQ thread polling on"),
	FIOB_OPT(.name = "nowait", .lname = "RWF_NOWAIT",
		 .type = FIO_OPT_BOOL,
		 .off1 = offsetof(struct fiob_options, nowait),
		 .help = "Use RWF_NOWAIT for reads/writes"),
	FIOB_OPT(.name = "nonvectored", .lname = "Non-vectored",
		 .type = FIO_OPT_INT,
		 .off1 = offsetof(struct fiob_options, nonvectored),
		 .def = "-1",
		 .help = "Use non-vectored read/write commands (0: READV/WRITEV for I/O that is not bounced)"),
#ifdef FIOB_URING_UNCACHED_DEPRECATED
	{ .name = "uncached", .lname = "Uncached",
	  .type = FIO_OPT_SOFT_DEPRECATED },
#else
	FIOB_OPT(.name = "uncached", .lname = "Uncached",
		 .type = FIO_OPT_INT,
		 .off1 = offsetof(struct fiob_options, uncached),
		 .help = FIOB_UNCACHED_HELP),
#endif
	FIOB_OPT(.name = "force_async", .lname = "Force async",
		 .type = FIO_OPT_INT,
		 .off1 = offsetof(struct fiob_options, force_async),
		 .help = "Set IOSQE_ASYNC every N requests"),
	FIOB_OPT(.name = "cmd_type", .lname = "Uring cmd type",
		 .type = FIO_OPT_STR,
		 .off1 = offsetof(struct fiob_options, cmd_type),
		 .help = "Specify uring-cmd type (io_uring_cmd only: ignored, as io_uring does)",
		 .def = "nvme",
		 .posval = {
			{ .ival = "nvme", .oval = 1,
			  .help = "Issue nvme-uring-cmd" },
		 }),
	FIOB_CMDPRIO_OPTIONS,
	FIOB_NVME_OPTIONS
	{ .name = NULL },
};

/* ---- helpers -------------------------------------------------------- */

/*
 * fio 3.33 checks only the ioops version; structures change between fio
 * releases without it moving. Compare the running fio's version string with
 * the headers this engine was built against, through dlsym so that a fio
 * without the symbol gets this message rather than a loader error.
 */
static int fiob_check_abi(void)
{
	const char *running = dlsym(RTLD_DEFAULT, "fio_version_string");

	if (running && !strcmp(running, FIOB_BUILT_FOR))
		return 0;
	log_err("fio-bounce: built for %s but running under %s; refusing to "
		"run. Rebuild against the running fio: 'make clean all', or "
		"'make FIO_SRC=/path/to/its/configured/source'\n",
		FIOB_BUILT_FOR, running ? running : "an unknown fio");
	return -EPROTO;
}

/* Close on an error path: the error being reported is the first one. */
static void fiob_close_quietly(struct thread_data *td, struct fio_file *f)
{
	int fio_unused ret = generic_close_file(td, f);
}

/*
 * A note for the user that must not corrupt JSON or terse output. Job
 * processes end with _exit(), so flush: with --output=FILE the line would
 * otherwise die in stdio's buffer.
 */
static void fiob_notice(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (output_format == FIO_OUTPUT_NORMAL) {
		log_info("%s", buf);
		log_info_flush();
	} else {
		fputs(buf, stderr);
	}
}

/* Could this job write partial blocks of a target with @blk-byte blocks? */
static bool fiob_may_rmw(struct thread_data *td, uint32_t blk)
{
	struct thread_options *to = &td->o;

	if (!td_write(td) || blk <= 1)
		return false;
	return to->bs_unaligned || to->min_bs[DDIR_WRITE] % blk ||
	       to->max_bs[DDIR_WRITE] % blk || to->ba[DDIR_WRITE] % blk ||
	       to->start_offset % blk;
}

/* A file's identity: a block device by its number, anything else by inode. */
static void fiob_file_id(const struct stat *st, uint64_t *dev, uint64_t *ino)
{
	if (S_ISBLK(st->st_mode)) {
		*dev = st->st_rdev;
		*ino = 0;
	} else {
		*dev = st->st_dev;
		*ino = st->st_ino;
	}
}

/* Does a job of @other write the file (@dev, @ino)? */
static bool fiob_writes_file(struct thread_data *other, uint64_t dev,
			     uint64_t ino)
{
	struct fio_file *of;
	struct stat st;
	uint64_t d, i;
	unsigned int j;

	if (!td_write(other))
		return false;
	for_each_file(other, of, j) {
		if (!of->file_name || stat(of->file_name, &st))
			continue;
		fiob_file_id(&st, &d, &i);
		if (d == dev && i == ino)
			return true;
	}
	return false;
}

/* The other jobs of this fio run that write the same file. */
struct fiob_peers {
	unsigned int covered;		/* our engine, sharing on or auto */
	bool process;			/* one of them, or we, a process */
	bool forced;			/* one of them has bounce_share=on */
	bool rmw;			/* one of them may write partial blocks */
	struct thread_data *uncovered;	/* one we cannot serialize with */
	struct thread_data *a_peer;	/* one we can */
	uint32_t table_ids;		/* iodepths of all thread jobs */
};

static void fiob_find_peers(struct thread_data *td, uint64_t dev,
			    uint64_t ino, uint32_t blk, struct fiob_peers *p)
{
	memset(p, 0, sizeof(*p));
	p->process = !td->o.use_thread;
	FIOB_FOR_EACH_TD(other) {
		const struct fiob_options *oo = other->eo;

		if (other->o.use_thread)
			p->table_ids += other->o.iodepth;
		if (other == td || !fiob_writes_file(other, dev, ino))
			continue;
		if (other->io_ops != td->io_ops || !oo ||
		    oo->bounce_share == FIOB_SHARE_OPT_OFF) {
			p->uncovered = other;
			continue;
		}
		p->covered++;
		p->a_peer = other;
		p->process |= !other->o.use_thread;
		p->forced |= oo->bounce_share == FIOB_SHARE_OPT_ON;
		p->rmw |= fiob_may_rmw(other, blk);
	} FIOB_END_FOR_EACH_TD();
}

/*
 * Other jobs write @f too: serialize this job's writes of it with theirs
 * (fiob_share.h). Every job of the set decides alike from the same job list:
 * lock files if any of them is a process or asked for bounce_share=on, else
 * the process table; nothing if none of them can write a partial block.
 * Jobs we cannot serialize with (another engine, bounce_share=off) get the
 * warning they always had.
 */
static int fiob_share_setup(struct thread_data *td, struct fio_file *f,
			    struct fiob_file *cf, uint32_t blk)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	enum fiob_share_kind kind = 0;
	struct thread_data *warn_peer = NULL, *deaf = NULL;
	struct fiob_peers p;
	uint64_t dev, ino;
	struct stat st;
	int ret;

	/* A file fio opens again without a close: its old membership goes. */
	fiob_share_close(&bd->core.share, &cf->share);
	if (!td_write(td) || fstat(f->fd, &st))
		return 0;
	fiob_file_id(&st, &dev, &ino);
	fiob_find_peers(td, dev, ino, blk, &p);
	if (o->bounce_share == FIOB_SHARE_OPT_OFF)
		kind = 0;
	else if (o->bounce_share == FIOB_SHARE_OPT_ON || p.forced)
		kind = FIOB_SHARE_OFD;
	else if (p.covered && (p.rmw || fiob_may_rmw(td, blk)))
		kind = p.process ? FIOB_SHARE_OFD : FIOB_SHARE_TABLE;
	if (kind) {
		ret = fiob_share_open(&bd->core.share, td->o.iodepth,
				      p.table_ids, kind, dev, ino, &cf->share);
		if (ret) {
			log_err("fio-bounce: %s: cannot serialize with the "
				"other jobs that write it (%s): %s\n",
				f->file_name, kind == FIOB_SHARE_OFD ?
				"lock file in /dev/shm" : "shared table",
				strerror(-ret));
			return ret;
		}
		dprint(FD_IO, "fio-bounce: %s: shared with %u job(s) by %s\n",
		       f->file_name, p.covered,
		       kind == FIOB_SHARE_OFD ? "lock file" : "table");
	}
	/* Jobs we cannot serialize with: say so, as before sharing existed. */
	if (o->bounce_share == FIOB_SHARE_OPT_OFF && p.covered) {
		warn_peer = p.a_peer;
		deaf = td;
	} else if (p.uncovered) {
		warn_peer = deaf = p.uncovered;
	}
	if (warn_peer && !bd->shared_warned &&
	    (fiob_may_rmw(td, blk) || fiob_may_rmw(warn_peer, blk))) {
		bd->shared_warned = true;
		fiob_notice("fio-bounce: warning: jobs '%s' and '%s' both "
			    "write %s with misaligned writes, and '%s' does not "
			    "serialize them across jobs (bounce_share=off, or "
			    "another engine), so they can lose each other's "
			    "bytes\n", td->o.name, warn_peer->o.name,
			    f->file_name, deaf->o.name);
	}
	return 0;
}

/* The rule in force for @f: what it needs, raised by the overrides. */
static int fiob_file_align(struct thread_data *td, struct fio_file *f,
			   const struct fiob_file_info *fi,
			   struct fiob_align *in_force)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	struct fiob_align ovr = { o->bounce_align, o->bounce_mem_align };
	int ret = fiob_align_apply(&fi->need, &ovr, in_force);

	if (ret == -EINVAL) {
		log_err("fio-bounce: bounce_align=%u bounce_mem_align=%u are "
			"lower than what %s needs: offsets %u, memory %u (%s)\n",
			ovr.off, ovr.mem, f->file_name, fi->need.off,
			fi->need.mem, fiob_align_src_name(fi->src));
		return ret;
	}
	if (ret == -EDOM) {
		log_err("fio-bounce: %s: offset alignment %u (from bounce_align) "
			"is below the memory alignment %u (from %s); bounced "
			"lengths follow the offset rule, so it must be at least "
			"%u: raise bounce_align or leave it unset\n",
			f->file_name, in_force->off, in_force->mem,
			ovr.mem >= fi->need.mem ? "bounce_mem_align" :
			fiob_align_src_name(fi->src), in_force->mem);
		return ret;
	}
	if (!bd->core.slots.nr)
		return 0;
	if (fiob_slot_bytes(td_max_bs(td), in_force->off, page_size) >
	    bd->core.slots.size) {
		log_err("fio-bounce: %s needs %u-byte blocks, more than the "
			"bounce slots were sized for; set bounce_align=%u\n",
			f->file_name, in_force->off, in_force->off);
		return -EINVAL;
	}
	if (in_force->mem > page_size && in_force->mem > o->bounce_mem_align) {
		log_err("fio-bounce: %s needs %u-byte aligned memory, more than "
			"the bounce slots were aligned for; set "
			"bounce_mem_align=%u\n", f->file_name, in_force->mem,
			in_force->mem);
		return -EINVAL;
	}
	return 0;
}

/* Record what @f runs with, for the statistics (fio frees its names first). */
static int fiob_record_file(struct fiob_data *bd, struct fio_file *f,
			    const struct fiob_align *in_force,
			    enum fiob_align_src src, enum fiob_vec vec,
			    uint64_t zc_min, const char *zc_min_src)
{
	struct fiob_stats_file *sf = &bd->stat_files[f->fileno];
	char *name = strdup(f->file_name);

	if (!name)
		return -ENOMEM;
	free((char *)sf->name);
	sf->name = name;
	sf->align = *in_force;
	sf->src = fiob_align_src_name(src);
	sf->zero_copy = fiob_vec_name(vec);
	sf->zero_copy_min = zc_min;
	sf->zero_copy_min_src = zc_min_src;
	return 0;
}

/*
 * The smallest user transfer of @f that goes zero copy, once the probe said
 * yes (@src: why). Unregistered slots are pinned per I/O on the copy path
 * too, so there zero copy only saves; with registered slots, the job's
 * bounce_zero_copy_min or else the process's calibrated threshold.
 */
static uint64_t fiob_file_zc_min(struct fiob_data *bd,
				 const struct fiob_options *o,
				 const char **src)
{
	if (bd->core.ring.slot_buf_base < 0) {
		*src = "unregistered";
		return 0;
	}
	if (o->bounce_zero_copy_min != FIOB_ZC_MIN_AUTO) {
		*src = "option";
		return o->bounce_zero_copy_min;
	}
	*src = "auto";
	return fiob_zc_auto_min();
}

/*
 * The threshold of @f's reads, given @zc_min for its writes (@src: why it
 * differs, NULL if not). With the span, a zero-copy read pins nothing and
 * copies nothing, so under auto every size goes zero copy: at 4 KiB it
 * cost the submitting thread 0.91-0.95 of stock io_uring's aligned read of
 * the same window, where the copy path cost 1.01-1.09 (bench/RESULTS-zc.md,
 * section 7). Writes keep the calibrated threshold: theirs are pinned.
 */
static uint64_t fiob_file_zc_min_read(const struct fiob_data *bd,
				      const struct fiob_options *o,
				      uint64_t zc_min, const char **src)
{
	*src = NULL;
	if (o->bounce_zero_copy_min != FIOB_ZC_MIN_AUTO ||
	    bd->core.span_state != FIOB_SPAN_YES)
		return zc_min;
	*src = "fixed";
	return 0;
}

/*
 * Whether @f's window I/O may go zero copy under the rule in force: probed
 * once per open (fiob_probe_vec), unless there is nothing to gain, the job
 * turned it off, or the test hook FIOB_TEST_ZERO_COPY_PROBE=0|1 (read at
 * init) dictates the answer, as on a kernel that refuses such segments.
 */
static enum fiob_vec fiob_file_vec(struct thread_data *td, struct fio_file *f,
				   const struct fiob_file_info *fi,
				   const struct fiob_align *in_force)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;

	if (!fi->direct || in_force->off <= in_force->mem)
		return FIOB_VEC_NA;
	if (!o->bounce_zero_copy)
		return FIOB_VEC_OFF;
	if (bd->force_vec >= 0)
		return bd->force_vec ? FIOB_VEC_FORCED_YES : FIOB_VEC_FORCED_NO;
	return fiob_probe_vec(f->fd, in_force);
}

/* At job end: the summary line (normal output only), then bounce_stats. */
static void fiob_report(struct thread_data *td)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	struct fiob_stats_ctx ctx = {
		.job = td->o.name,
		.mode = fiob_mode_names[o->bounce],
		.nr_slots = bd->core.slots.nr,
		.slot_size = bd->core.slots.size,
		.slots_registered = bd->core.ring.slot_buf_base >= 0,
		.zero_copy_fixed = fiob_core_span_names[bd->core.span_state],
		.files = bd->stat_files,
		.nr_files = bd->nr_files,
	};
	char *text;
	int ret;

	if (output_format == FIO_OUTPUT_NORMAL) {
		text = fiob_stats_render(fiob_stats_line, &ctx, &bd->core.stats);
		if (text) {
			log_info("%s\n", text);
			log_info_flush();
		}
		free(text);
	}
	if (!o->bounce_stats)
		return;
	text = fiob_stats_render(fiob_stats_json, &ctx, &bd->core.stats);
	ret = text ? fiob_stats_append(o->bounce_stats, text, strlen(text)) :
		     -ENOMEM;
	if (ret)
		log_err("fio-bounce: bounce_stats=%s: %s\n", o->bounce_stats,
			strerror(-ret));
	free(text);
}

#ifdef FIOB_URING_MD_PI
/*
 * md_per_io_size: this fio's io_uring sends protection information with
 * each I/O, which fio-bounce cannot carry through a bounce buffer. Where the
 * target has none, fail where and as io_uring fails (same words, same
 * value); where it has some, refuse rather than run without it.
 */
struct fiob_lbmd_cap {		/* struct logical_block_metadata_cap */
	uint32_t flags;
	uint8_t rest[12];
};
#define FIOB_IOC_GETLBMD_CAP	_IOWR(0x15, 2, struct fiob_lbmd_cap)
#define FIOB_LBMD_PI_CAP_INTEGRITY	(1 << 0)

static int fiob_check_md(struct thread_data *td, struct fio_file *f)
{
	struct fiob_options *o = td->eo;
	struct fiob_lbmd_cap cap;
	int fd, err;

	if (!o->md_per_io_size)
		return 0;
	fd = open(f->file_name, O_RDONLY);
	if (fd < 0)
		return -errno;
	err = ioctl(fd, FIOB_IOC_GETLBMD_CAP, &cap) < 0 ? errno : 0;
	close(fd);
	if (err) {
		log_err("%s: failed to query protection information "
			"capabilities; error %d\n", f->file_name, err);
		return -err;
	}
	if (!(cap.flags & FIOB_LBMD_PI_CAP_INTEGRITY)) {
		log_err("%s: Protection information not supported\n",
			f->file_name);
		return -ENOTSUP;
	}
	log_err("fio-bounce: %s: md_per_io_size: fio-bounce cannot carry "
		"protection information; use ioengine=io_uring\n",
		f->file_name);
	return -ENOTSUP;
}

/* io_uring's own check at init, in its words. */
static int fiob_check_md_opts(struct thread_data *td)
{
	struct fiob_options *o = td->eo;

	if (o->md_per_io_size && o->apptag_mask != 0xffff) {
		log_err("fio: io_uring with metadata requires an apptag_mask "
			"of 0xffff\n");
		return 1;
	}
	return 0;
}
#else
static int fiob_check_md(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int fiob_check_md_opts(struct thread_data *td)
{
	return 0;
}
#endif

/* ---- hooks ---------------------------------------------------------- */

/*
 * init: first hook in the job's thread. Refuse a mismatched fio before
 * touching anything, then allocate what does not depend on io_u buffers.
 */
static int fiob_init(struct thread_data *td)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd;
	const char *hook;
	unsigned int i;

	/* A mismatched fio's thread_data is not ours to touch: only refuse. */
	if (fiob_check_abi())
		return 1;
	/* sqthread_poll submits from a kernel thread: it needs fixed files. */
	if (o->sqpoll_thread)
		o->registerfiles = 1;
	if (o->registerfiles && td->o.nr_files != td->o.open_files) {
		log_err("fio-bounce: registerfiles needs nr_files == open_files\n");
		td_verror(td, EINVAL, "fiob_init");
		return 1;
	}
	if (fiob_check_md_opts(td))
		return 1;
	bd = calloc(1, sizeof(*bd));
	if (!bd)
		goto err;
	td->io_ops_data = bd;
	bd->nr_files = td->o.nr_files;
	bd->io_u_bufs = calloc(td->o.iodepth, sizeof(*bd->io_u_bufs));
	bd->queued = calloc(td->o.iodepth, sizeof(*bd->queued));
	bd->stat_files = calloc(bd->nr_files, sizeof(*bd->stat_files));
	bd->fds = calloc(bd->nr_files, sizeof(*bd->fds));
	if (!bd->io_u_bufs || !bd->queued || !bd->stat_files || !bd->fds)
		goto err;
	for (i = 0; i < bd->nr_files; i++)
		bd->fds[i] = -1;
	hook = getenv("FIOB_TEST_ZERO_COPY_PROBE");
	bd->force_vec = hook && (!strcmp(hook, "0") || !strcmp(hook, "1")) ?
			atoi(hook) : -1;
	/* cmdprio*: fio's own parser and per-I/O choice, as io_uring uses them. */
	if (fio_cmdprio_init(td, &bd->cmdprio, &o->cmdprio_options)) {
		td_verror(td, EINVAL, "fiob_init");
		return 1;
	}
	return 0;
err:
	td_verror(td, ENOMEM, "fiob_init");
	return 1;
}

/*
 * Open and register every file up front (registerfiles). Afterwards the
 * files look closed to fio; open_file hands out the registered descriptor.
 */
static int fiob_register_files(struct thread_data *td)
{
	struct fiob_data *bd = td->io_ops_data;
	struct fio_file *f;
	unsigned int i;
	int ret = 0;

	for_each_file(td, f, i) {
		if (generic_open_file(td, f)) {
			ret = -(td->error ? td->error : EIO);
			goto err;
		}
		bd->fds[i] = f->fd;
	}
	/* With a sparse table, open_file gives each one its slot. */
	if (!bd->core.ring.file_table)
		ret = fiob_core_register_files(&bd->core, bd->fds,
					       td->o.nr_files);
	if (ret) {
		log_err("fio-bounce: registerfiles: %s\n", strerror(-ret));
		td_verror(td, -ret, "io_uring_register_files");
	}
err:
	/* Look closed to fio; on failure, really closed. */
	for_each_file(td, f, i) {
		if (ret && f->fd != -1)
			fiob_close_quietly(td, f);
		if (ret)
			bd->fds[i] = -1;
		f->fd = -1;
	}
	return ret;
}

/* The RWF_ flags of every read [0] and write [1], as io_uring sets them. */
static void fiob_rw_flags(struct thread_data *td, uint32_t rw_flags[2])
{
	struct fiob_options *o = td->eo;
	uint32_t both = 0;

	if (!td->o.odirect && FIOB_UNCACHED(o))
		both |= FIOB_URING_UNCACHED_FLAG;
	if (o->nowait)
		both |= RWF_NOWAIT;
	rw_flags[0] = rw_flags[1] = both;
#ifdef FIOB_FIO_ATOMICWRITES
	if (td->o.oatomic)
		rw_flags[1] |= RWF_ATOMIC;
#endif
}

/* FIOB_TEST_SQ_ENTRIES: a number from 1 to @depth, or 0 (unset, or junk). */
static uint32_t fiob_test_sq_entries(uint32_t depth)
{
	const char *hook = getenv("FIOB_TEST_SQ_ENTRIES");
	char *end;
	unsigned long n;

	if (!hook || !*hook)
		return 0;
	n = strtoul(hook, &end, 10);
	return !*end && n >= 1 && n <= depth ? (uint32_t)n : 0;
}

/* Whether the environment sets test hook @name to @val. */
static bool fiob_test_hook_is(const char *name, const char *val)
{
	const char *hook = getenv(name);

	return hook && !strcmp(hook, val);
}

/* The range that holds all @nr io_u buffers @bufs (empty if none). */
static struct iovec fiob_io_u_mem(const struct iovec *bufs, unsigned int nr)
{
	uintptr_t lo = UINTPTR_MAX, end = 0;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		uintptr_t b = (uintptr_t)bufs[i].iov_base;

		if (!b)
			continue;
		if (b < lo)
			lo = b;
		if (b + bufs[i].iov_len > end)
			end = b + bufs[i].iov_len;
	}
	if (end <= lo)
		return (struct iovec){ 0 };
	return (struct iovec){ .iov_base = (void *)lo, .iov_len = end - lo };
}

/* post_init: io_u buffers exist now; build the ring and the bounce ring. */
static int fiob_post_init(struct thread_data *td)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	/*
	 * Room for two blocks around the largest I/O: 4096 unless raised
	 * (bounce_mem_align raises the offset rule too: fiob_align_apply).
	 */
	uint32_t blk = o->bounce_align > o->bounce_mem_align ?
		       o->bounce_align : o->bounce_mem_align;
	struct fiob_core_params p = {
		.depth = td->o.iodepth,
		.nr_files = td->o.nr_files,
		.mode = o->bounce,
		.ring = {
			.hipri = o->hipri,
			.sqpoll = o->sqpoll_thread,
			.sqpoll_cpu = o->sqpoll_set ? (int)o->sqpoll_cpu : -1,
			.vectored = !o->nonvectored,
			.sync_range_flags = td->o.sync_file_range,
			.fixedbufs = o->fixedbufs,
			.register_slots = o->bounce_register,
		},
		.user_bufs = bd->io_u_bufs,
	};
	struct io_u *io_u;
	unsigned int i;
	int ret;

	if (blk < FIOB_DEFAULT_ALIGN)
		blk = FIOB_DEFAULT_ALIGN;
	fiob_rw_flags(td, p.ring.rw_flags);
	/*
	 * Test hook FIOB_TEST_SQ_ENTRIES=N (1 ..): an SQ of N entries, so that
	 * SQEs overflow it and go out from the middle of a reap. Anything
	 * else keeps one entry per request.
	 */
	p.ring.sq_entries = fiob_test_sq_entries(td->o.iodepth);
	/*
	 * Reads and writes carry the job's prio/prioclass (which an SQPOLL
	 * thread would not inherit); only cmdprio and force_async make the
	 * SQE attributes vary per I/O, and only then is each one worked out.
	 */
	bd->rw_attr.ioprio = td->ioprio;
	bd->attr_per_io = o->force_async ||
			  bd->cmdprio.mode != CMDPRIO_MODE_NONE;
	/* fixedbufs registers each io_u's buffer at the io_u's index. */
	io_u_qiter(&td->io_u_all, io_u, i) {
		bd->io_u_bufs[io_u->index].iov_base = io_u->buf;
		bd->io_u_bufs[io_u->index].iov_len = td_max_bs(td);
	}
	/*
	 * Zero-copy reads as READV_FIXED need a span over fio's buffers
	 * (fiob_span.h), which pins their pages now. Not with
	 * read_iolog_chunked: fio may free and reallocate its buffers mid-run
	 * there (iolog.c), and a registration keeps the old pages. Test hook
	 * FIOB_TEST_ZERO_COPY_FIXED=0: none, as on a kernel without the op, so
	 * they go out as plain READV.
	 */
	if (o->bounce == FIOB_MODE_AUTO && o->bounce_zero_copy &&
	    !td->o.read_iolog_chunked &&
	    !fiob_test_hook_is("FIOB_TEST_ZERO_COPY_FIXED", "0")) {
		p.user_mem = fiob_io_u_mem(bd->io_u_bufs, td->o.iodepth);
		p.discard_len = 2 * blk;
	}
	if (o->bounce != FIOB_MODE_NEVER) {
		p.nr_slots = o->bounce_slots ? o->bounce_slots : td->o.iodepth;
		p.slot_size = fiob_slot_bytes(td_max_bs(td), blk, page_size);
		/* 0 (learn it) and anything under a page become a page. */
		p.slot_align = o->bounce_mem_align;
	}
	ret = fiob_core_init(&bd->core, &p);
	if (ret) {
		log_err("fio-bounce: %s: %s\n", bd->core.err_what,
			strerror(-ret));
		td_verror(td, -ret, "fiob_post_init");
		return 1;
	}
	bd->core_up = true;
	if (bd->core.slots_reg_err)
		fiob_notice("fio-bounce: job '%s': io_uring refused to register "
			    "the bounce slots (%s), so the kernel pins their "
			    "pages on every bounced I/O; raise RLIMIT_MEMLOCK, "
			    "or set bounce_register=0 to go without\n",
			    td->o.name, strerror(-bd->core.slots_reg_err));
	/* One word per value: the bench parses this line. */
	dprint(FD_IO, "fio-bounce: mode=%s slots=%u slot_size=%zu "
	       "registered=%s zero_copy_fixed=%s copy=%s\n",
	       fiob_mode_names[o->bounce], bd->core.slots.nr,
	       bd->core.slots.size,
	       bd->core.ring.slot_buf_base >= 0 ? "yes" :
	       bd->core.slots_reg_err ? "refused" : "no",
	       fiob_core_span_names[bd->core.span_state], fiob_copy_impl());
	if (o->registerfiles && fiob_register_files(td))
		return 1;
	return 0;
}

/*
 * open_file: open (or hand out the registered descriptor), then learn what
 * the file's O_DIRECT path needs. May run before init (fio's file layout),
 * when there is nothing to set up yet.
 */
static int fiob_open_file(struct thread_data *td, struct fio_file *f)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	struct fiob_file *cf;
	struct fiob_file_info fi;
	struct fiob_align in_force;
	enum fiob_vec vec = FIOB_VEC_NA;
	const char *zc_min_src = NULL;	/* NULL: no zero copy for @f */
	const char *zc_read_src = NULL;	/* NULL: reads as writes */
	uint64_t zc_min = 0, zc_min_read = 0;
	int ret;

	ret = fiob_check_md(td, f);
	if (ret)
		return ret;
	if (!bd || !bd->core_up)
		return generic_open_file(td, f);
	if (!o->registerfiles && bd->fds[f->fileno] >= 0) {
		log_err("fio-bounce: %s: not reopened: I/O from before a "
			"failed close may still be in flight\n", f->file_name);
		td_verror(td, EBUSY, "fiob_open_file");
		return 1;
	}
	if (o->registerfiles)
		f->fd = bd->fds[f->fileno];
	else if ((ret = generic_open_file(td, f)))
		return ret;

	ret = fiob_discover(f->fd, &fi);
	if (!ret)
		ret = fiob_file_align(td, f, &fi, &in_force);
	if (!ret) {
		vec = fiob_file_vec(td, f, &fi, &in_force);
		if (fiob_vec_ok(vec)) {
			zc_min = fiob_file_zc_min(bd, o, &zc_min_src);
			zc_min_read = fiob_file_zc_min_read(bd, o, zc_min,
							    &zc_read_src);
		}
		ret = fiob_record_file(bd, f, &in_force, fi.src, vec, zc_min,
				       zc_min_src);
	}
	if (ret) {
		td_verror(td, -ret, "fiob_open_file");
		goto err;
	}
	ret = fiob_core_set_fd(&bd->core, f->fileno, f->fd);
	if (ret) {
		td_verror(td, -ret, "io_uring_register_files_update");
		goto err;
	}
	cf = fiob_core_file(&bd->core, f->fileno);
	fiob_core_set_align(&bd->core, f->fileno, &in_force);
	cf->regular = fi.regular;
	cf->size = fi.size;
	cf->zero_copy = fiob_vec_ok(vec);
	cf->zero_copy_min = zc_min;
	cf->zero_copy_min_read = zc_min_read;
	bd->stat_files[f->fileno].zero_copy_min_read = zc_min_read;
	bd->stat_files[f->fileno].zero_copy_min_read_src = zc_read_src;
	dprint(FD_IO, "fio-bounce: %s: needs off=%u mem=%u (%s), in force "
	       "off=%u mem=%u zero_copy=%s\n", f->file_name, fi.need.off,
	       fi.need.mem, fiob_align_src_name(fi.src), in_force.off,
	       in_force.mem, fiob_vec_name(vec));
	if (zc_min_src)
		dprint(FD_IO, "fio-bounce: %s: zero_copy_min=%llu (%s; this "
		       "CPU copies %.1f bytes/ns, 0: not timed): smaller "
		       "window I/O copies\n", f->file_name,
		       (unsigned long long)zc_min, zc_min_src,
		       fiob_zc_copy_speed());
	if (zc_min_src && zc_read_src)
		dprint(FD_IO, "fio-bounce: %s: zero_copy_min_read=%llu (%s): "
		       "reads on the span pin nothing\n", f->file_name,
		       (unsigned long long)zc_min_read, zc_read_src);
	ret = fiob_share_setup(td, f, cf, in_force.off);
	if (ret) {
		td_verror(td, -ret, "fiob_open_file");
		goto err;
	}
	return 0;
err:
	if (!o->registerfiles)
		fiob_close_quietly(td, f);
	return 1;
}

/*
 * The drain before a close failed: I/O of @f may still be in flight, or
 * waiting in the engine to be submitted on this descriptor (or its
 * registered slot). Closing or unbinding it now would let that I/O reach
 * whatever reuses the number. Keep both until cleanup has torn the ring
 * down (it closes what fds[] holds), and fail the job loudly.
 */
static int fiob_close_failed_drain(struct thread_data *td, struct fio_file *f,
				   int err)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;

	log_err("fio-bounce: %s: could not finish its I/O before closing "
		"(%s); keeping the descriptor open and registered until the "
		"job ends\n", f->file_name, strerror(-err));
	td_verror(td, -err, "fiob_close_file");
	if (!o->registerfiles)
		bd->fds[f->fileno] = f->fd;
	f->fd = -1;		/* fio's put_file() insists */
	return -err;
}

/*
 * close_file: first finish whatever the engine still holds. fio may stop
 * collecting completions (end of an iolog replay) with requests still
 * waiting here, and they must reach the device before their descriptor goes.
 * Registered descriptors stay open until cleanup.
 */
static int fiob_close_file(struct thread_data *td, struct fio_file *f)
{
	struct fiob_options *o = td->eo;
	struct fiob_data *bd = td->io_ops_data;
	int ret;

	if (bd && bd->core_up) {
		ret = fiob_req_drain(&bd->core);
		if (ret)
			return fiob_close_failed_drain(td, f, ret);
		fiob_core_set_fd(&bd->core, f->fileno, -1);
		fiob_share_close(&bd->core.share,
				 &fiob_core_file(&bd->core, f->fileno)->share);
	}
	if (!bd || !o->registerfiles)
		return generic_close_file(td, f);
	f->fd = -1;
	return 0;
}

/*
 * force_async=N: IOSQE_ASYNC on every N-th request the engine takes, counted
 * as io_uring's prep counts them (syncs and trims too; a request refused
 * with FIO_Q_BUSY comes back and is counted then).
 */
static uint8_t fiob_async_flag(const struct fiob_options *o,
			       const struct fiob_data *bd)
{
	return o->force_async && bd->prepped + 1 == o->force_async ?
	       IOSQE_ASYNC : 0;
}

static void fiob_count_prepped(const struct fiob_options *o,
			       struct fiob_data *bd)
{
	if (o->force_async && ++bd->prepped == o->force_async)
		bd->prepped = 0;
}

/*
 * The SQE attributes of an io_u when cmdprio or force_async make them vary
 * per I/O (bd->attr_per_io); otherwise fiob_queue uses bd->rw_attr as is.
 * A read or write carries what fio's cmdprio picks for it (which also files
 * its latency under that priority), or the job's default; io_uring draws
 * once per I/O it queues, so an io_u we sent back busy (no bounce slot)
 * keeps its draw, and the same seed picks the same I/Os as io_uring's.
 * Out of line: the common path does not pay for it.
 */
static __attribute__((noinline))
struct fiob_sqe_attr fiob_per_io_attr(struct thread_data *td,
				      struct io_u *io_u,
				      struct fiob_sqe_attr attr)
{
	struct fiob_data *bd = td->io_ops_data;

	attr.flags = fiob_async_flag(td->eo, bd);
	if (ddir_rw(io_u->ddir)) {
		if (io_u == bd->busy_io_u)
			attr.ioprio = bd->busy_ioprio;
		else if (bd->cmdprio.mode != CMDPRIO_MODE_NONE &&
			 fio_cmdprio_set_ioprio(td, &bd->cmdprio, io_u))
			attr.ioprio = io_u->ioprio;
	}
	bd->drawn_ioprio = attr.ioprio;
	return attr;
}

/* What fiob_req_queue() said of @io_u, as fio takes it. */
static inline enum fio_q_status fiob_queued(struct thread_data *td,
					    struct io_u *io_u, int ret)
{
	struct fiob_data *bd = td->io_ops_data;

	if (ret == FIOB_BUSY) {
		bd->busy_io_u = io_u;
		bd->busy_ioprio = bd->drawn_ioprio;
		return FIO_Q_BUSY;
	}
	if (fio_unlikely(bd->attr_per_io)) {
		bd->busy_io_u = NULL;
		fiob_count_prepped(td->eo, bd);
	}
	if (ret < 0) {
		log_err("fio-bounce: %s: %llu bytes at %llu do not fit a "
			"bounce slot\n", io_u->file->file_name,
			io_u->xfer_buflen, io_u->offset);
		io_u->error = -ret;
		return FIO_Q_COMPLETED;
	}
	bd->queued[bd->nr_queued++] = io_u;
	return FIO_Q_QUEUED;
}

/*
 * sync_file_range, like fio's io_uring: of everything written since the
 * last one. No write may have completed since (fio records them at
 * completion, so with writes in flight the range can be empty: first_write
 * is then -1, which the kernel refuses); fio's own do_sync_file_range()
 * makes no call then, nor do we.
 */
static __attribute__((noinline))
enum fio_q_status fiob_queue_sync_range(struct thread_data *td,
					struct io_u *io_u)
{
	struct fiob_data *bd = td->io_ops_data;
	struct fio_file *f = io_u->file;
	struct fiob_sqe_attr attr = { 0 };

	if (f->last_write == f->first_write) {
		fiob_count_prepped(td->eo, bd);
		io_u_mark_submit(td, 1);
		io_u_mark_complete(td, 1);
		return FIO_Q_COMPLETED;
	}
	if (bd->attr_per_io)
		attr = fiob_per_io_attr(td, io_u, attr);
	return fiob_queued(td, io_u,
			   fiob_req_queue(&bd->core, io_u->index, io_u,
					  f->fileno, FIOB_OP_SYNC_RANGE,
					  io_u->xfer_buf, f->first_write,
					  f->last_write - f->first_write,
					  attr));
}

/*
 * Trims, and syncfs where fio has it (end_syncfs), run synchronously and
 * alone in the engine, exactly as fio's io_uring runs them.
 */
static enum fio_q_status fiob_queue_alone(struct thread_data *td,
					  struct io_u *io_u)
{
	struct fiob_data *bd = td->io_ops_data;

	if (!fiob_core_idle(&bd->core))
		return FIO_Q_BUSY;
	fiob_count_prepped(td->eo, bd);
	if (io_u->ddir == DDIR_TRIM)
		do_io_u_trim(td, io_u);
	else
		do_io_u_sync(td, io_u);
	io_u_mark_submit(td, 1);
	io_u_mark_complete(td, 1);
	return FIO_Q_COMPLETED;
}

_Static_assert((int)DDIR_READ == FIOB_OP_READ &&
	       (int)DDIR_WRITE == FIOB_OP_WRITE,
	       "fio's read and write directions are fio-bounce's ops");

/*
 * Every io_u the inline pass-through path in fiob_queue() does not take.
 * FIO_Q_BUSY when no bounce slot is free (fio reaps, then retries); never
 * loses an io_u.
 */
static __attribute__((noinline))
enum fio_q_status fiob_queue_any(struct thread_data *td, struct io_u *io_u)
{
	struct fiob_data *bd = td->io_ops_data;
	/* Syncs carry ioprio 0, as in io_uring. */
	struct fiob_sqe_attr attr = { 0 };
	enum fiob_op op;

	switch (io_u->ddir) {
	case DDIR_READ:
	case DDIR_WRITE:
		/* The same numbers (asserted above): no translation. */
		op = (enum fiob_op)io_u->ddir;
		attr = bd->rw_attr;
		break;
	case DDIR_SYNC:
		op = FIOB_OP_FSYNC;
		break;
	case DDIR_DATASYNC:
		op = FIOB_OP_FDATASYNC;
		break;
	case DDIR_SYNC_FILE_RANGE:
		return fiob_queue_sync_range(td, io_u);
	case DDIR_TRIM:
		return fiob_queue_alone(td, io_u);
	default:
		if (FIOB_IS_SYNCFS(io_u->ddir))
			return fiob_queue_alone(td, io_u);
		log_err("fio-bounce: %s is not supported\n",
			io_ddir_name(io_u->ddir));
		io_u->error = EOPNOTSUPP;
		return FIO_Q_COMPLETED;
	}
	if (fio_unlikely(bd->attr_per_io))
		attr = fiob_per_io_attr(td, io_u, attr);
	return fiob_queued(td, io_u,
			   fiob_req_queue(&bd->core, io_u->index, io_u,
					  io_u->file->fileno, op,
					  io_u->xfer_buf, io_u->offset,
					  io_u->xfer_buflen, attr));
}

/*
 * queue: hand one io_u to the core. A read or write of an aligned job (no
 * per-I/O attributes) goes to its SQE inline; everything else, and anything
 * the inline path refuses untouched, is fiob_queue_any()'s.
 */
static enum fio_q_status fiob_queue(struct thread_data *td, struct io_u *io_u)
{
	struct fiob_data *bd = td->io_ops_data;

	fio_ro_check(td, io_u);
	if (!fio_unlikely((unsigned int)io_u->ddir > DDIR_WRITE ||
			  bd->attr_per_io) &&
	    fiob_req_queue_pass(&bd->core, io_u->index, io_u,
				io_u->file->fileno, io_u->ddir == DDIR_WRITE,
				io_u->xfer_buf, io_u->offset,
				io_u->xfer_buflen, bd->rw_attr)) {
		bd->queued[bd->nr_queued++] = io_u;
		return FIO_Q_QUEUED;
	}
	return fiob_queue_any(td, io_u);
}

/* commit's work, when there is a batch: see fiob_commit(). */
static __attribute__((noinline)) int fiob_commit_batch(struct thread_data *td)
{
	struct fiob_data *bd = td->io_ops_data;
	struct timespec now;
	unsigned int i;
	int ret;

	ret = fiob_req_submit(&bd->core);
	if (ret) {
		td_verror(td, -ret, "io_uring_submit");
		return ret;
	}
	if (fio_fill_issue_time(td)) {
		fio_gettime(&now, NULL);
		for (i = 0; i < bd->nr_queued; i++) {
			bd->queued[i]->issue_time = now;
			io_u_queued(td, bd->queued[i]);
		}
		if (td->o.read_iolog_file)
			td->last_issue = now;
	}
	io_u_mark_submit(td, bd->nr_queued);
	bd->nr_queued = 0;
	return 0;
}

/*
 * commit: submit the batch; stamp issue times once for all of it. fio also
 * calls it with nothing queued (as often as with a batch, at QD1): that
 * call costs a test, not the batch's prologue.
 */
static int fiob_commit(struct thread_data *td)
{
	struct fiob_data *bd = td->io_ops_data;

	if (!bd->nr_queued)
		return 0;
	return fiob_commit_batch(td);
}

/* getevents when the reap failed (@err, -errno): tell fio. */
static __attribute__((noinline))
int fiob_getevents_failed(struct thread_data *td, int err)
{
	td_verror(td, -err, "io_uring_enter");
	return err;
}

/*
 * getevents: at least @min completions (0 when fio only polls). fio's
 * io_uring does not sleep in the kernel under iodepth_batch_complete_min=0,
 * but it still spins until it holds @min events: fio counts on them. Lean
 * reads already complete are reaped inline, with no call.
 */
static int fiob_getevents(struct thread_data *td, unsigned int min,
			  unsigned int max, const struct timespec *t)
{
	struct fiob_data *bd = td->io_ops_data;
	int n;

	if (!fiob_req_reap_lean(&bd->core, min, max, &n))
		n = fiob_req_reap_any(&bd->core, min, max);
	if (fio_unlikely(n < 0))
		return fiob_getevents_failed(td, n);
	return n;
}

/* An I/O failed with @err (-errno): tell fio, and say why where it helps. */
static __attribute__((noinline))
struct io_u *fiob_event_failed(struct thread_data *td, struct io_u *io_u,
			       int err)
{
	struct fiob_data *bd = td->io_ops_data;
	struct fiob_options *o = td->eo;

	io_u->error = -err;
	if (err == -EOPNOTSUPP && o->hipri && !bd->hipri_warned) {
		bd->hipri_warned = true;
		log_err("fio-bounce: hipri: %s does not support polled I/O\n",
			io_u->file->file_name);
	}
	return io_u;
}

/* @io_u moved @done bytes (the user's, never a window's). */
static inline struct io_u *fiob_event_done(struct io_u *io_u, uint64_t done)
{
	io_u->error = 0;
	if (done < io_u->xfer_buflen)
		io_u->resid = io_u->xfer_buflen - done;
	return io_u;
}

/*
 * event: the i-th completion. An aligned read job's reads come straight
 * from their CQEs (fiob_req_lean_event), everything else from its request.
 */
static struct io_u *fiob_event(struct thread_data *td, int event)
{
	struct fiob_data *bd = td->io_ops_data;
	struct fiob_req *r;
	struct io_u *io_u;
	int res;

	if (fiob_req_lean_reaped(&bd->core)) {
		io_u = fiob_req_lean_event(&bd->core, (unsigned int)event,
					   &res)->owner;
		if (res < 0)
			return fiob_event_failed(td, io_u, res);
		return fiob_event_done(io_u, (uint64_t)res);
	}
	r = fiob_core_event(&bd->core, (unsigned int)event);
	io_u = r->owner;
	if (r->err)
		return fiob_event_failed(td, io_u, r->err);
	return fiob_event_done(io_u, r->done);
}

/*
 * Requests fio never collected still had to finish (see close_file); a
 * failure among them must not go unnoticed.
 */
static void fiob_check_uncollected(struct fiob_core *c)
{
	int err = 0;
	uint32_t failed = fiob_core_uncollected_failures(c, &err);

	if (failed)
		log_err("fio-bounce: %u of %u I/Os that finished after fio "
			"stopped collecting failed: %s\n", failed,
			fiob_core_uncollected(c), strerror(-err));
}

/*
 * io_u_free: fio is about to free the io_u buffers. It may have stopped
 * collecting with requests still in flight (an iolog replay sets td->done at
 * the end of the log and never reaps the last iodepth-1): they must land,
 * and window reads be copied out, while those buffers still exist. The
 * first call drains; later ones find nothing busy. A failure is reported by
 * cleanup, which drains again.
 */
static void fiob_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	struct fiob_data *bd = td->io_ops_data;

	if (bd && bd->core_up)
		(void)fiob_req_drain(&bd->core);
}

/* cleanup: report, then free whatever init/post_init got to. */
static void fiob_cleanup(struct thread_data *td)
{
	struct fiob_data *bd = td->io_ops_data;
	unsigned int i;

	if (!bd)
		return;
	if (bd->core_up) {
		int ret = fiob_req_drain(&bd->core);

		/* Still fio's thread: td->error here fails the job. */
		if (ret) {
			log_err("fio-bounce: job '%s': could not finish its I/O "
				"at the end (%s); some of it may not have "
				"reached the device\n", td->o.name,
				strerror(-ret));
			td_verror(td, -ret, "fiob_cleanup");
		}
		fiob_check_uncollected(&bd->core);
		fiob_report(td);
	}
	fiob_core_exit(&bd->core);
	fio_cmdprio_cleanup(&bd->cmdprio);
	for (i = 0; bd->fds && i < bd->nr_files; i++)
		if (bd->fds[i] >= 0)
			close(bd->fds[i]);	/* registerfiles kept them */
	for (i = 0; bd->stat_files && i < bd->nr_files; i++)
		free((char *)bd->stat_files[i].name);
	free(bd->fds);
	free(bd->stat_files);
	free(bd->queued);
	free(bd->io_u_bufs);
	free(bd);
	td->io_ops_data = NULL;
}

/* atomic=1 (RWF_ATOMIC on writes), where this fio has it, as io_uring. */
#ifdef FIOB_FIO_ATOMICWRITES
#define FIOB_ENGINE_ATOMICWRITES FIO_ATOMICWRITES
#else
#define FIOB_ENGINE_ATOMICWRITES 0
#endif

/* The one exported symbol: fio looks it up with dlsym(handle, "ioengine"). */
__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
	.name			= "bounce",
	.version		= FIO_IOOPS_VERSION,
	.flags			= FIO_ASYNCIO_SYNC_TRIM | FIOB_FLAG_SYNC_SYNCFS |
				  FIO_NO_OFFLOAD | FIO_ASYNCIO_SETS_ISSUE_TIME |
				  FIOB_ENGINE_ATOMICWRITES,
	.init			= fiob_init,
	.post_init		= fiob_post_init,
	.queue			= fiob_queue,
	.commit			= fiob_commit,
	.getevents		= fiob_getevents,
	.event			= fiob_event,
	.cleanup		= fiob_cleanup,
	.io_u_free		= fiob_io_u_free,
	.open_file		= fiob_open_file,
	.close_file		= fiob_close_file,
	.get_file_size		= generic_get_file_size,
	.options		= options,
	.option_struct_size	= sizeof(struct fiob_options),
};
