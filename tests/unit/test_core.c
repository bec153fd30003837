/*
 * fiob_core driven directly (no fio) on an O_DIRECT file in /tmp, with the
 * alignment overridden to off=4096/mem=512 so misaligned I/O must be
 * bounced, against a byte-exact in-memory model of the file.
 *
 * The random mix only issues concurrent requests whose outcome is defined:
 * overlapping plain (non-RMW) writes, and a read racing a write over the
 * same bytes (or both near EOF), are never in flight together. RMW writes
 * do share blocks and ranges with anything: the core must serialize them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fiob_discover.h"
#include "fiob_core.h"
#include "fiob_req.h"
#include "fiob_test.h"

#define BLK		4096u
#define MEMA		512u
#define MAX_LEN		20000u
#define SPAN		(192u * 1024)
#define MODEL_MAX	(SPAN + 2 * MAX_LEN + 4 * BLK)
#define STRIDE		((MAX_LEN + 3 * BLK - 1) / BLK * BLK)
#define MAXD		16
#define MAX_OPS		3000
/* Requests without an ioprio or SQE flags of their own. */
static const struct fiob_sqe_attr NO_ATTR;

struct op {
	bool busy, write;
	int kind;
	int seq;		/* index in the random run's history, or -1 */
	uint64_t off, len, done_want, woff, wend;
	size_t mis;
	uint8_t fill;
};

static struct {
	struct fiob_core c;
	bool up;		/* c and fd are set up: fx_close() */
	int fd;
	uint8_t *bufs;		/* MAXD * STRIDE */
	struct iovec iov[MAXD];
	enum fiob_mode mode;
	uint8_t model[MODEL_MAX];
	uint64_t msize;		/* the model's size, queued writes included */
	struct fiob_stats want;
	struct op ops[MAXD];
	int nr_busy;			/* ops[] queued and not yet reaped */
	uint8_t data[MAXD][MAX_LEN];	/* reads: expected; writes: written */
	struct op hist[MAX_OPS];	/* the random run, in issue order */
	bool hist_done[MAX_OPS];
	int seq;			/* history index of the next queue_op */
	bool inline_pass;	/* try fiob_req_queue_pass() first, as fio-bounce.c */
	int lean_reaps;		/* reaps that handed out lean reads in place */
	int reaps;		/* reaps that handed out anything */
} F;

static char msg[256];
static uint64_t rng = 0x5851f42d4c957f2dull;

static uint64_t rnd(void)
{
	return ft_rand(&rng);
}

static int __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void fx_close(void)
{
	if (!F.up)
		return;
	fiob_core_exit(&F.c);
	close(F.fd);
	F.up = false;
}

/* What is registered with io_uring as fixed buffers. */
enum fx_reg {
	REG_NONE,	/* nothing: every slot I/O is plain READ/WRITE */
	REG_SLOTS,	/* the slots (the engine's default) */
	REG_ALL,	/* fixedbufs: user buffers and slots */
};

/* depth/nr_slots; size bytes of random data; reg: what is registered. */
static int fx_open(uint32_t depth, uint32_t nr_slots, enum fiob_mode mode,
		   uint64_t size, enum fx_reg reg)
{
	struct fiob_core_params p = {
		.depth = depth, .nr_files = 1, .nr_slots = nr_slots,
		.slot_size = fiob_slot_bytes(MAX_LEN, BLK, 4096), .mode = mode,
		.ring = { .sqpoll_cpu = -1, .fixedbufs = reg == REG_ALL,
			  .register_slots = reg == REG_SLOTS },
		.user_bufs = F.iov,
	};
	struct fiob_file *f;
	uint64_t i;
	char path[64];
	int fd, ret;

	fx_close();
	F.inline_pass = false;
	F.lean_reaps = F.reaps = 0;
	memset(F.model, 0, sizeof(F.model));
	memset(F.ops, 0, sizeof(F.ops));
	F.nr_busy = 0;
	memset(&F.want, 0, sizeof(F.want));
	for (i = 0; i < size; i++)
		F.model[i] = (uint8_t)rnd();
	F.msize = size;
	F.seq = -1;
	F.mode = mode;
	/* Unlinked at once: nothing is left behind, whatever fails. */
	snprintf(path, sizeof(path), "/tmp/fiob-core-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	ret = pwrite(fd, F.model, size, 0) == (ssize_t)size ? 0 : -EIO;
	close(fd);
	F.fd = ret ? -1 : open(path, O_RDWR | O_DIRECT);
	unlink(path);
	if (F.fd < 0)
		return ret ? ret : -errno;
	F.up = true;
	if (!F.bufs && posix_memalign((void **)&F.bufs, BLK, MAXD * STRIDE))
		return -ENOMEM;
	for (i = 0; i < MAXD; i++) {
		F.iov[i].iov_base = F.bufs + i * STRIDE;
		F.iov[i].iov_len = STRIDE;
	}
	ret = fiob_core_init(&F.c, &p);
	if (ret)
		return ret;
	f = fiob_core_file(&F.c, 0);
	fiob_core_set_align(&F.c, 0, &(struct fiob_align){ BLK, MEMA });
	f->regular = true;
	f->size = size;
	/* A registered file slot wherever the kernel has a sparse table. */
	ret = fiob_core_set_fd(&F.c, 0, F.fd);
	if (!ret && F.c.ring.file_table && f->fixed != 0)
		return err("the file did not get registered slot 0"), -EINVAL;
	return ret;
}

/* The file on disk equals the model, size included. */
static int fx_verify(void)
{
	static uint8_t disk[MODEL_MAX];
	char path[64];
	struct stat st;
	ssize_t n;
	uint64_t i;
	int fd;

	/* A buffered view of the same (unlinked) file. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", F.fd);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return err("open/fstat %s: %s", path, strerror(errno));
	n = pread(fd, disk, sizeof(disk), 0);
	close(fd);
	if ((uint64_t)st.st_size != F.msize || n != (ssize_t)F.msize)
		return err("file size %lld (read %zd), model %" PRIu64,
			   (long long)st.st_size, n, F.msize);
	for (i = 0; i < F.msize; i++)
		if (disk[i] != F.model[i])
			return err("file byte %" PRIu64 " is %#x, model %#x",
				   i, disk[i], F.model[i]);
	return 0;
}

/* The kind the core must pick: our own rule, in plain arithmetic. */
static int kind_of(uint64_t off, uint64_t len, uintptr_t addr)
{
	if (F.mode == FIOB_MODE_NEVER || !len)
		return FIOB_KIND_PASS;
	if (off % BLK || len % BLK)
		return FIOB_KIND_WINDOW;
	if (F.mode == FIOB_MODE_ALWAYS || addr % MEMA || len % MEMA)
		return FIOB_KIND_MEM;
	return FIOB_KIND_PASS;
}

static uint8_t *ubuf(int id)
{
	return F.bufs + (size_t)id * STRIDE;
}

/* Queue one request; the model and expected stats follow it. */
static int queue_op(int id, bool write, uint64_t off, uint64_t len, size_t mis)
{
	struct op *o = &F.ops[id];
	uint8_t *b = ubuf(id);
	uint64_t i, end = off + len;
	int ret;

	o->write = write;
	o->off = off;
	o->len = len;
	o->mis = mis;
	o->fill = (uint8_t)rnd();
	o->seq = F.seq;
	o->kind = kind_of(off, len, (uintptr_t)(b + mis));
	o->woff = o->kind == FIOB_KIND_WINDOW ? off / BLK * BLK : off;
	o->wend = o->kind == FIOB_KIND_WINDOW ? (end + BLK - 1) / BLK * BLK : end;
	memset(b, o->fill, STRIDE);
	if (write) {
		for (i = 0; i < len; i++)
			F.data[id][i] = b[mis + i] = (uint8_t)rnd();
		o->done_want = len;
	} else {
		o->done_want = off >= F.msize ? 0 :
			       F.msize - off < len ? F.msize - off : len;
		memcpy(F.data[id], F.model + off, o->done_want);
	}
	if (F.inline_pass &&
	    fiob_req_queue_pass(&F.c, (uint32_t)id, o, 0, write, b + mis,
				off, len, NO_ATTR))
		ret = FIOB_QUEUED;
	else
		ret = fiob_req_queue(&F.c, (uint32_t)id, o, 0,
				     write ? FIOB_OP_WRITE : FIOB_OP_READ,
				     b + mis, off, len, NO_ATTR);
	if (ret != FIOB_QUEUED)
		return ret;
	o->busy = true;
	F.nr_busy++;
	if (write) {
		memcpy(F.model + off, F.data[id], len);
		if (end > F.msize)
			F.msize = end;
	}
	if (o->kind == FIOB_KIND_PASS)
		F.want.passthrough++;
	else if (o->kind == FIOB_KIND_MEM)
		F.want.mem_bounced++;
	else if (write)
		F.want.rmw_writes++;
	else
		F.want.window_reads++;
	if (write && o->kind == FIOB_KIND_WINDOW) {
		bool head = off % BLK, tail = end % BLK;

		F.want.rmw_reads += head && tail && o->wend - o->woff > 2 * BLK ?
				    2 : 1;
	}
	if (o->kind != FIOB_KIND_PASS)
		F.want.bytes_copied += write ? len : o->done_want;
	F.want.short_done += o->done_want < len;
	return FIOB_QUEUED;
}

/* queue_op() that must be accepted. */
static int q(int id, bool write, uint64_t off, uint64_t len, size_t mis)
{
	int ret = queue_op(id, write, off, len, mis);

	return ret == FIOB_QUEUED ? 0 :
	       err("queue %" PRIu64 "+%" PRIu64 ": %d", off, len, ret);
}

/* Check one completion against its op: result, bytes, untouched memory. */
static int complete(const struct fiob_req *r)
{
	int id = (int)(r - F.c.reqs);
	struct op *o = &F.ops[id];
	const uint8_t *b = ubuf(id);
	uint64_t i;

	if (id < 0 || id >= MAXD || !o->busy || r->owner != o)
		return err("completion for unknown id %d", id);
	o->busy = false;
	F.nr_busy--;
	if (r->err || r->done != o->done_want)
		return err("%s %" PRIu64 "+%" PRIu64 ": err %d done %" PRIu64
			   ", want %" PRIu64, o->write ? "write" : "read",
			   o->off, o->len, r->err, r->done, o->done_want);
	/* Reads: model bytes; writes: untouched; around both: untouched. */
	for (i = 0; i < STRIDE; i++) {
		bool in = i >= o->mis && i < o->mis + o->done_want;
		uint8_t want = in ? F.data[id][i - o->mis] : o->fill;

		/* Past a short read the kernel may fill the user's buffer. */
		if (!in && i >= o->mis && i < o->mis + o->len)
			continue;
		if (b[i] != want)
			return err("%s %" PRIu64 "+%" PRIu64 ": buffer byte %"
				   PRIu64 " (user %" PRId64 ") is %#x, want %#x",
				   o->write ? "write" : "read", o->off, o->len,
				   i, (int64_t)(i - o->mis), b[i], want);
	}
	if (o->seq >= 0)
		F.hist_done[o->seq] = true;
	return 0;
}

/* Submit, then reap at least @min and check everything reaped. */
static int reap(unsigned int min)
{
	int n, i, ret = fiob_req_submit(&F.c);

	if (ret)
		return err("submit: %d", ret);
	n = fiob_req_reap(&F.c, min, MAXD);
	if (n < 0 || (unsigned int)n < min)
		return err("reap(%u) = %d", min, n);
	F.lean_reaps += F.c.lean_n > 0;
	F.reaps += n > 0;
	for (i = 0; i < n; i++)
		if (complete(fiob_req_event(&F.c, (unsigned int)i)))
			return -1;
	return n;
}

static int drain(void)
{
	while (F.nr_busy)
		if (reap(1) < 0)
			return -1;
	return fiob_core_idle(&F.c) ? 0 :
	       err("core not idle after draining");
}

static bool overlap(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return a < d && c < b;
}

/*
 * Would the outcome of @n (new) depend on timing against @o (maybe in
 * flight)? @ssize: the file size already guaranteed by completed writes.
 */
static bool undefined_pair(const struct op *n, const struct op *o,
			   uint64_t ssize)
{
	bool user = overlap(n->off, n->off + n->len, o->off, o->off + o->len);
	bool n_eof = (n->write ? n->wend : n->off + n->len) > ssize;
	bool o_eof = (o->write ? o->wend : o->off + o->len) > ssize;

	if (!n->write && !o->write)
		return false;
	if (n->write && o->write)
		return user && n->kind != FIOB_KIND_WINDOW &&
		       o->kind != FIOB_KIND_WINDOW;
	/* A read queued after an RMW window it overlaps waits for it. */
	if (!n->write && o->kind == FIOB_KIND_WINDOW &&
	    overlap(n->woff, n->wend, o->woff, o->wend))
		return false;
	return user || (n_eof && o_eof);
}

/* A candidate for op @i; @recent: how many ops before it may be in flight. */
static void gen(struct op *c, int i, int recent)
{
	uint64_t base;

	c->write = rnd() & 1;
	switch (rnd() % 5) {
	case 0:
	case 1:		/* near a recent op: share blocks */
		base = recent ? F.hist[i - 1 - (int)(rnd() % recent)].off :
			rnd() % SPAN;
		base += rnd() % 12000;
		c->off = base > 6000 ? base - 6000 : 0;
		break;
	case 2:		/* around EOF */
		c->off = F.msize + rnd() % 12000;
		c->off = c->off > 6000 ? c->off - 6000 : 0;
		break;
	default:
		c->off = rnd() % SPAN;
	}
	c->len = 1 + rnd() % (rnd() & 1 ? 600 : MAX_LEN);
	if (rnd() % 4 == 0) {
		c->off -= c->off % BLK;
		c->len = BLK * (1 + rnd() % 4);
	}
	if (c->off > SPAN)
		c->off = SPAN;
	c->mis = rnd() % 3 == 0 ? MEMA * (rnd() % 8) : rnd() % BLK;
	c->kind = kind_of(c->off, c->len, (uintptr_t)(F.bufs + c->mis));
	c->woff = c->kind == FIOB_KIND_WINDOW ? c->off / BLK * BLK : c->off;
	c->wend = c->kind == FIOB_KIND_WINDOW ?
		  (c->off + c->len + BLK - 1) / BLK * BLK : c->off + c->len;
}

/*
 * Issue @nops random requests. Op i may overlap in time only the ops after
 * the frontier f (all ops <= f are reaped before op i is queued), where
 * f = max over k <= i of (k - window_k) and the window changes at random:
 * so which pairs may race is decided by the seed, never by timing.
 */
static int run_random(int nops)
{
	static struct op cand;
	uint64_t ssize = F.msize;
	int i, j, id, tries, f = -1, low = 0, win = MAXD;

	for (i = 0; i < nops && i < MAX_OPS; i++) {
		if (rnd() % 64 == 0)
			win = 1 + (int)(rnd() % MAXD);
		for (tries = 0; tries < 9; tries++) {
			if (tries == 8)		/* give up: a full barrier */
				f = i - 1;
			else if (i - win > f)
				f = i - win;
			for (; low <= f; low++)
				if (F.hist[low].write &&
				    F.hist[low].off + F.hist[low].len > ssize)
					ssize = F.hist[low].off + F.hist[low].len;
			gen(&cand, i, i - f - 1);
			for (j = f + 1; j < i; j++)
				if (undefined_pair(&cand, &F.hist[j], ssize))
					break;
			if (j == i)
				break;
		}
		for (j = 0; j <= f; j++)
			while (!F.hist_done[j])
				if (reap(1) < 0)
					return -1;
		for (id = 0; F.ops[id].busy; id++)
			;
		F.seq = i;
		F.hist_done[i] = false;
		if (q(id, cand.write, cand.off, cand.len, cand.mis))
			return -1;
		F.hist[i] = F.ops[id];
		if (rnd() % 3 == 0 && fiob_req_submit(&F.c))
			return err("submit failed");
	}
	F.seq = -1;
	return drain();
}

/* Every counter but waits and eof_trims (timing) matches the model's. */
static int check_stats(void)
{
	const struct fiob_stats *s = &F.c.stats, *w = &F.want;

#define CHECK(f)							\
	if (s->f != w->f)						\
		return err(#f " %" PRIu64 ", want %" PRIu64, s->f, w->f);
	CHECK(passthrough) CHECK(mem_bounced) CHECK(window_reads)
	CHECK(rmw_writes) CHECK(rmw_reads) CHECK(bytes_copied)
	CHECK(ring_empty) CHECK(short_done) CHECK(syncs)
#undef CHECK
	return 0;
}

#define RANDOM_CASE(name, mode, reg, nops)				\
static void name(void)							\
{									\
	int ret = fx_open(MAXD, MAXD, mode, 150001, reg);		\
									\
	if (ret) {							\
		fx_close();						\
		FT_FAIL("setup: %s", strerror(-ret));			\
	}								\
	ret = run_random(nops);						\
	if (!ret)							\
		ret = fx_verify();					\
	if (!ret)							\
		ret = check_stats();					\
	fx_close();							\
	if (ret)							\
		FT_FAIL("%s", msg);					\
}

RANDOM_CASE(random_mix_qd16_matches_byte_model_and_stats, FIOB_MODE_AUTO,
	    REG_SLOTS, 3000)
RANDOM_CASE(random_mix_fixedbufs_registered_file_matches_model,
	    FIOB_MODE_AUTO, REG_ALL, 1500)
RANDOM_CASE(random_mix_unregistered_slots_match_model, FIOB_MODE_AUTO,
	    REG_NONE, 1500)
RANDOM_CASE(random_mix_bounce_always_matches_model, FIOB_MODE_ALWAYS,
	    REG_SLOTS, 1500)

/*
 * The adapter's way in: aligned reads and writes queued inline
 * (fiob_req_queue_pass), so that reaps with only lean reads in flight hand
 * their CQEs out in place, and the others (a write, a bounced request, an
 * unsubmitted SQE in flight) reap them through the general path: both in
 * one run, checked against the byte model and the stats.
 */
static void random_mix_inline_pass_lean_and_general_reaps_match_model(void)
{
	int ret = fx_open(MAXD, MAXD, FIOB_MODE_AUTO, 150001, REG_SLOTS);

	if (ret) {
		fx_close();
		FT_FAIL("setup: %s", strerror(-ret));
	}
	F.inline_pass = true;
	ret = run_random(3000);
	if (!ret)
		ret = fx_verify();
	if (!ret)
		ret = check_stats();
	if (!ret && !F.lean_reaps)
		ret = err("no reap handed out lean reads: the path never ran");
	if (!ret && F.c.nr_lean)
		ret = err("%u lean reads left counted after draining",
			  F.c.nr_lean);
	fx_close();
	if (ret)
		FT_FAIL("%s", msg);
}

/* Open a fixture or fail the case (closing whatever was set up). */
#define OPEN(depth, slots, mode, size)					\
	do {								\
		int r_ = fx_open(depth, slots, mode, size, REG_SLOTS);	\
		if (r_) {						\
			fx_close();					\
			FT_FAIL("setup: %s", strerror(-r_));		\
		}							\
	} while (0)

/* Run @expr (0 or -1 with msg); on failure close and fail the case. */
#define STEP(expr)							\
	do {								\
		if ((expr) < 0) {					\
			fx_close();					\
			FT_FAIL("%s", msg);				\
		}							\
	} while (0)

/* One request at a time: queue, then reap it (checked by complete()). */
static int io1(bool write, uint64_t off, uint64_t len, size_t mis)
{
	return q(0, write, off, len, mis) ? -1 : drain();
}

static void short_reads_at_eof_return_only_user_bytes(void)
{
	OPEN(4, 4, FIOB_MODE_AUTO, 10000);
	STEP(io1(false, 9000, 4096, 0));	/* window: 1000 bytes */
	STEP(io1(false, 8192, 4096, 0));	/* aligned: 1808 bytes */
	STEP(io1(false, 9999, 1, 1));		/* the last byte */
	STEP(io1(false, 10000, 1, 0));		/* at EOF: none */
	STEP(io1(false, 12000, 100, 3));	/* window past EOF */
	STEP(io1(false, 4097, 5903, 7));	/* ends exactly at EOF */
	FT_EQ(F.ops[0].done_want, 5903);
	FT_EQ(F.c.stats.short_done, 4);
	STEP(check_stats());
	fx_close();
}

static void window_writes_across_eof_leave_buffered_file_size(void)
{
	OPEN(4, 4, FIOB_MODE_AUTO, 10000);
	STEP(io1(true, 9990, 20, 1));		/* window [8192, 12288) */
	STEP(fx_verify());
	FT_EQ(F.c.stats.eof_trims, 1);
	STEP(io1(true, 100, 10, 0));		/* inside: no trim */
	STEP(io1(true, 20000, 5, 0));		/* hole, then 5 bytes */
	STEP(io1(true, 20003, 4103, 9));	/* two partial blocks */
	STEP(io1(true, 28672, 4096, 0));	/* aligned append */
	STEP(fx_verify());
	FT_EQ(F.c.stats.eof_trims, 3);
	FT_EQ(fiob_core_file(&F.c, 0)->size, 32768);
	fx_close();
}

/* Cut the file (and model) back to @size between rounds. */
/*
 * Aligned reads queued inline, alone in flight: every reap hands them out
 * in place (lean), a short one at EOF and an empty one past it included,
 * with their bytes counted once. A write among them sends the reap through
 * the general path, which completes the lean reads in flight too; after
 * it, reads alone are lean again.
 */
static void lean_reads_reap_in_place_and_give_way_to_a_write(void)
{
	/* 150001 bytes: 36 whole blocks and 2545 bytes of the 37th. */
	static const uint64_t offs[] = { 0, 8192, 65536, 147456, 151552 };
	uint64_t bytes = 0, i;
	int id;

	OPEN(MAXD, MAXD, FIOB_MODE_AUTO, 150001);
	F.inline_pass = true;
	for (i = 0; i < 5; i++)
		STEP(q((int)i, false, offs[i], BLK, 0));
	while (F.nr_busy)
		STEP(reap(1));
	if (F.lean_reaps != F.reaps || !F.reaps) {
		fx_close();
		FT_FAIL("%d of %d reaps of reads alone were lean", F.lean_reaps,
			F.reaps);
	}
	bytes = 4 * BLK - BLK + 2545;
	if (F.c.stats.user_bytes_read != bytes ||
	    F.c.stats.device_bytes_read != bytes || F.c.stats.short_done != 2) {
		fx_close();
		FT_FAIL("read bytes %" PRIu64 "/%" PRIu64 " short %" PRIu64
			", want %" PRIu64 " and 2", F.c.stats.user_bytes_read,
			F.c.stats.device_bytes_read, F.c.stats.short_done,
			bytes);
	}
	F.lean_reaps = F.reaps = 0;
	STEP(q(0, true, 16384, BLK, 0));
	for (id = 1; id < 6; id++)
		STEP(q(id, false, 32768 + (uint64_t)id * BLK, BLK, 0));
	STEP(reap(6));
	if (F.lean_reaps) {
		fx_close();
		FT_FAIL("a reap with a write in flight was lean");
	}
	for (id = 0; id < 4; id++)
		STEP(q(id, false, (uint64_t)id * 2 * BLK, BLK, 0));
	while (F.nr_busy)
		STEP(reap(1));
	if (!F.lean_reaps || F.c.nr_lean || !fiob_core_idle(&F.c)) {
		fx_close();
		FT_FAIL("after the write: %d lean reaps, %u lean left, idle %d",
			F.lean_reaps, F.c.nr_lean, fiob_core_idle(&F.c));
	}
	STEP(fx_verify());
	STEP(check_stats());
	fx_close();
}

static int fx_truncate(uint64_t size)
{
	if (ftruncate(F.fd, (off_t)size))
		return err("ftruncate: %s", strerror(errno));
	memset(F.model + size, 0, sizeof(F.model) - size);
	F.msize = size;
	fiob_core_file(&F.c, 0)->size = size;
	return 0;
}

/*
 * An RMW write crossing EOF is cut back to its user end after the window
 * write; appends beyond its window, queued while it runs (here: once its
 * RMW read is back), must wait for it and survive the cut.
 */
static void eof_rmw_write_racing_appends_beyond_keeps_them(void)
{
	int round;

	OPEN(4, 4, FIOB_MODE_AUTO, 10000);
	for (round = 0; round < 200; round++) {
		STEP(fx_truncate(10000 + rnd() % 4000));
		STEP(q(0, true, F.msize - 10, 20 + rnd() % 3000, 1));
		STEP(fiob_req_submit(&F.c) ? err("submit") : 0);
		usleep(200);
		STEP(reap(0));		/* the RMW read: now the write goes */
		STEP(q(1, true, 16384 + 4096 * (rnd() % 3), 4096, 0));
		STEP(q(2, true, 32768, 16384, 0));
		STEP(drain());
		STEP(fx_verify());
	}
	fx_close();
}

/* One slot, dirtied by a big window read; then RMW blocks past EOF. */
static void rmw_reads_past_eof_see_zeros_not_stale_slot_bytes(void)
{
	OPEN(2, 1, FIOB_MODE_AUTO, 100000);
	STEP(io1(false, 1, 19999, 1));		/* slot = file bytes */
	STEP(io1(true, 100050, 100, 0));	/* EOF inside the block */
	STEP(io1(false, 3, 16000, 0));
	STEP(io1(true, 110005, 10, 0));		/* block wholly past EOF */
	STEP(io1(false, 5, 12000, 0));
	STEP(io1(true, 126000, 9000, 0));	/* head and tail past EOF */
	STEP(fx_verify());
	STEP(check_stats());
	fx_close();
}

static void busy_when_no_slot_is_free_then_progress_after_reap(void)
{
	uint32_t busy;

	OPEN(4, 1, FIOB_MODE_AUTO, 65536);
	FT_EQ(queue_op(0, false, 1, 100, 0), FIOB_QUEUED);
	busy = F.c.nr_busy;
	FT_EQ(queue_op(1, true, 5, 100, 0), FIOB_BUSY);	/* RMW */
	FT_EQ(queue_op(2, false, 4096, 4096, 1), FIOB_BUSY);	/* MEM */
	FT_EQ(F.c.stats.ring_empty, 2);
	FT_EQ(F.c.nr_busy, busy);
	FT_EQ(queue_op(3, true, 8192, 4096, 0), FIOB_QUEUED);	/* PASS */
	STEP(drain());
	FT_EQ(F.c.slots.nr_free, 1);
	FT_EQ(queue_op(1, true, 5, 100, 0), FIOB_QUEUED);
	STEP(drain());
	FT_EQ(queue_op(2, false, 4096, 4096, 1), FIOB_QUEUED);
	STEP(drain());
	STEP(fx_verify());
	F.want.ring_empty = 2;
	STEP(check_stats());
	fx_close();
}

/* All 16 RMW writes hit one or two blocks, queued before one submit. */
static void rmw_writes_sharing_blocks_at_qd16_lose_no_update(void)
{
	int round, i;

	OPEN(MAXD, MAXD, FIOB_MODE_AUTO, 65536);
	for (round = 0; round < 40; round++) {
		for (i = 0; i < MAXD - 2; i++)
			STEP(q(i, true, 8192 + rnd() % 4000, 1 + rnd() % 200,
			       rnd() % BLK));
		/* Reads queued behind them see every update. */
		STEP(q(MAXD - 2, false, 8192, 4096, 0));
		STEP(q(MAXD - 1, false, 8000 + rnd() % 300, 4000, 1));
		STEP(drain());
		STEP(fx_verify());
	}
	STEP(check_stats());
	FT_ASSERT(F.c.stats.waits > 0);
	fx_close();
}

/* Queue @op directly and return its completion's error (done in *done). */
static int raw_io(enum fiob_op op, uint64_t off, uint64_t len, size_t mis,
		  uint64_t *done)
{
	int n, ret = fiob_req_queue(&F.c, 0, NULL, 0, op, ubuf(0) + mis,
				    off, len, NO_ATTR);

	if (ret)
		return ret == FIOB_BUSY ? -EBUSY : ret;
	if (fiob_req_submit(&F.c))
		return -EIO;
	n = fiob_req_reap(&F.c, 1, 1);
	if (n != 1)
		return -EIO;
	*done = fiob_req_event(&F.c, 0)->done;
	return fiob_req_event(&F.c, 0)->err;
}

static void bounce_never_passes_misaligned_io_to_the_kernel(void)
{
	struct fiob_file_info fi;
	uint64_t done = 99;

	OPEN(4, 0, FIOB_MODE_NEVER, 65536);
	if (fiob_discover(F.fd, &fi) || fi.need.off <= 1) {
		fx_close();
		FT_SKIP("file system takes O_DIRECT at any offset: no EINVAL");
	}
	FT_EQ(raw_io(FIOB_OP_READ, 1, 100, 0, &done), -EINVAL);
	FT_EQ(done, 0);
	FT_EQ(raw_io(FIOB_OP_WRITE, 4097, 100, 0, &done), -EINVAL);
	FT_EQ(raw_io(FIOB_OP_READ, 4096, 4096, 0, &done), 0);
	FT_EQ(done, 4096);
	F.want.passthrough = 3;
	STEP(check_stats());
	STEP(fx_verify());
	fx_close();
}

static void too_big_for_a_slot_is_e2big_and_starts_nothing(void)
{
	uint64_t done;

	OPEN(2, 2, FIOB_MODE_AUTO, 65536);
	/* slot: 20000 + 2 blocks -> 28672; window [0, 32768) */
	FT_EQ(fiob_req_queue(&F.c, 0, NULL, 0, FIOB_OP_WRITE, ubuf(0), 1,
			     28672, NO_ATTR), -E2BIG);
	FT_ASSERT(fiob_core_idle(&F.c));
	FT_EQ(F.c.slots.nr_free, 2);
	FT_EQ(raw_io(FIOB_OP_READ, 1, 24000, 0, &done), 0);	/* fits */
	FT_EQ(done, 24000);
	fx_close();
}

static void fsync_and_fdatasync_complete_and_are_counted(void)
{
	uint64_t done = 1;

	OPEN(2, 2, FIOB_MODE_AUTO, 4096);
	FT_EQ(raw_io(FIOB_OP_FSYNC, 0, 0, 0, &done), 0);
	FT_EQ(done, 0);
	FT_EQ(raw_io(FIOB_OP_FDATASYNC, 0, 0, 0, &done), 0);
	FT_EQ(F.c.stats.syncs, 2);
	FT_EQ(F.c.stats.passthrough, 0);
	fx_close();
}

/*
 * sync_file_range goes to the kernel with its range and flags: the flags
 * given reach it (an unknown bit is its EINVAL), and it counts as a sync.
 */
static void sync_range_completes_with_the_flags_given(void)
{
	uint64_t done = 0;

	OPEN(2, 2, FIOB_MODE_AUTO, 4096);
	F.c.p.ring.sync_range_flags = SYNC_FILE_RANGE_WRITE;
	FT_EQ(raw_io(FIOB_OP_SYNC_RANGE, 4096, 8192, 0, &done), 0);
	FT_EQ(done, 8192);
	F.c.p.ring.sync_range_flags = 0x80;	/* no such flag */
	FT_EQ(raw_io(FIOB_OP_SYNC_RANGE, 4096, 8192, 0, &done), -EINVAL);
	FT_EQ(F.c.stats.syncs, 2);
	FT_EQ(F.c.stats.passthrough, 0);
	fx_close();
}

/* Registered slots are what keeps bounced I/O from pinning pages per I/O. */
static void slots_are_registered_with_or_without_fixedbufs(void)
{
	static const struct {
		uint32_t nr_slots;
		enum fx_reg reg;
		int base;	/* slot 0's registered index, or -1 */
	} cases[] = {
		{ 3, REG_SLOTS, 0 },	/* the slots alone */
		{ 3, REG_ALL, 4 },	/* after the 4 user buffers */
		{ 3, REG_NONE, -1 },	/* bounce_register=0 */
		{ 0, REG_ALL, -1 },	/* no slots: nothing to index */
		{ 0, REG_SLOTS, -1 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (fx_open(4, cases[i].nr_slots, cases[i].nr_slots ?
			    FIOB_MODE_AUTO : FIOB_MODE_NEVER, 4096,
			    cases[i].reg)) {
			fx_close();
			FT_FAIL("case %u: setup failed", i);
		}
		FT_EQ(F.c.slots_reg_err, 0);
		FT_EQ(F.c.ring.slot_buf_base, cases[i].base);
	}
	fx_close();
}

static void exit_on_zeroed_failed_or_exited_core_is_safe(void)
{
	struct fiob_core_params p = { .depth = 4, .nr_files = 1, .nr_slots = 1,
				      .slot_size = 0, .ring.sqpoll_cpu = -1 };
	static struct fiob_core c;

	memset(&c, 0, sizeof(c));
	fiob_core_exit(&c);
	FT_EQ(fiob_core_init(&c, &p), -EINVAL);		/* slots refuse 0 */
	FT_ASSERT(c.reqs == NULL && c.files == NULL && !c.ring.up);
	fiob_core_exit(&c);
	p.slot_size = 4096;
	FT_EQ(fiob_core_init(&c, &p), 0);
	fiob_core_exit(&c);
	fiob_core_exit(&c);
}

FT_MAIN(
	FT_RUN(random_mix_qd16_matches_byte_model_and_stats);
	FT_RUN(random_mix_fixedbufs_registered_file_matches_model);
	FT_RUN(random_mix_unregistered_slots_match_model);
	FT_RUN(random_mix_bounce_always_matches_model);
	FT_RUN(random_mix_inline_pass_lean_and_general_reaps_match_model);
	FT_RUN(lean_reads_reap_in_place_and_give_way_to_a_write);
	FT_RUN(short_reads_at_eof_return_only_user_bytes);
	FT_RUN(window_writes_across_eof_leave_buffered_file_size);
	FT_RUN(rmw_reads_past_eof_see_zeros_not_stale_slot_bytes);
	FT_RUN(eof_rmw_write_racing_appends_beyond_keeps_them);
	FT_RUN(busy_when_no_slot_is_free_then_progress_after_reap);
	FT_RUN(rmw_writes_sharing_blocks_at_qd16_lose_no_update);
	FT_RUN(bounce_never_passes_misaligned_io_to_the_kernel);
	FT_RUN(too_big_for_a_slot_is_e2big_and_starts_nothing);
	FT_RUN(fsync_and_fdatasync_complete_and_are_counted);
	FT_RUN(sync_range_completes_with_the_flags_given);
	FT_RUN(slots_are_registered_with_or_without_fixedbufs);
	FT_RUN(exit_on_zeroed_failed_or_exited_core_is_safe)
)
