/*
 * zcpin: what a zero-copy window read costs the submitting thread, against
 * the copy path and stock io_uring, on an O_DIRECT 4Kn device (the figures
 * behind FIOB_ZC_BREAKEVEN_NS, engine/fiob_zc.h; bench/RESULTS-zc.md).
 *
 *   cc -O2 -Wall -o build/zcpin bench/zcpin.c -luring
 *   build/zcpin /dev/loopN USER_BYTES [IOS_PER_ROUND ROUNDS]
 *
 * A user read of USER_BYTES at a 512-byte offset needs a window of
 * USER_BYTES + 4096 bytes. Three ways to move it, 32 in flight per batch:
 *   ref : IORING_OP_READ of the window into unregistered memory (stock
 *         io_uring reading the same bytes aligned: the bench's reference);
 *   copy: IORING_OP_READ_FIXED of the window into a registered slot, then
 *         a memcpy of USER_BYTES to the user buffer (fio-bounce's copy path);
 *   zc  : IORING_OP_READV of [slot 512][user USER_BYTES][slot rest]
 *         (fio-bounce's zero copy: user and slot pages pinned per I/O);
 *   zcfix: the same segments as IORING_OP_READV_FIXED (kernel 6.15+) on
 *         one registered buffer that holds both the user buffers and the
 *         slots: zero copy with nothing pinned per I/O, which fio-bounce
 *         cannot do, because fio's buffers are not beside its slots
 *         (bench/RESULTS-zc.md, section 6). Left out (x0) on a kernel
 *         without the opcode.
 * Modes rotate every round, so load drifts hit all three; the figure is
 * the median over rounds of each mode's thread CPU time (CLOCK_THREAD_
 * CPUTIME_ID: not charged while waiting for the CPU) over ref's. Work the
 * kernel does for completions in other contexts (unpinning in the loop
 * worker's completion) is not in it, which flatters ref and zc.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH	32
#define MAX_ROUNDS 1000

enum { REF, COPY, ZC, ZCFIX, MODES };
static const char *const names[MODES] = { "ref", "copy", "zc", "zcfix" };
/* liburing 2.3's headers predate it (kernel 6.15+). */
#define OP_READV_FIXED	60

static double ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *area(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		exit(1);
	memset(p, 1, len);
	return p;
}

int main(int argc, char **argv)
{
	static double cpu[MODES][MAX_ROUNDS], ratio[MODES][MAX_ROUNDS];
	static struct iovec iovs[BATCH][3];
	struct io_uring ring;
	size_t user, win, stride;
	int fd, n, rounds, r, m;
	char *slots, *users, *refs, *span;
	struct io_uring_probe *probe;
	bool fixvec;
	unsigned int seed = 1;
	off_t blocks;

	if (argc < 3) {
		fprintf(stderr, "usage: %s DEV USER_BYTES [IOS ROUNDS]\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	user = strtoul(argv[2], NULL, 0);
	n = argc > 3 ? atoi(argv[3]) : 320;
	rounds = argc > 4 ? atoi(argv[4]) : 40;
	if (fd < 0 || user % 512 || rounds > MAX_ROUNDS || n % BATCH) {
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	win = user + 4096;
	stride = win + 4096;
	blocks = (lseek(fd, 0, SEEK_END) - (off_t)win) / 4096;
	if (io_uring_queue_init(2 * BATCH, &ring, 0))
		return 1;
	slots = area(BATCH * stride);
	users = area(BATCH * stride);
	refs = area(BATCH * stride);
	/* zcfix: slots in the first half, user buffers in the second. */
	span = area(2 * BATCH * stride);
	probe = io_uring_get_probe_ring(&ring);
	fixvec = probe && io_uring_opcode_supported(probe, OP_READV_FIXED);
	if (probe)
		io_uring_free_probe(probe);
	if (io_uring_register_buffers(&ring, (struct iovec[]){
			{ slots, BATCH * stride },
			{ span, 2 * BATCH * stride } }, 2)) {
		fprintf(stderr, "cannot register the slots\n");
		return 1;
	}
	for (r = 0; r < rounds; r++) {
		for (int k = 0; k < MODES; k++) {
			double t0;

			m = (k + r) % MODES;
			if (m == ZCFIX && !fixvec)
				continue;
			t0 = ns(CLOCK_THREAD_CPUTIME_ID);
			for (int i = 0; i < n; i += BATCH) {
				for (int b = 0; b < BATCH; b++) {
					struct io_uring_sqe *s = io_uring_get_sqe(&ring);
					off_t off = (off_t)(rand_r(&seed) % blocks) * 4096;
					char *sl = slots + b * stride;

					if (m == REF)
						io_uring_prep_read(s, fd, refs + b * stride, win, off);
					else if (m == COPY)
						io_uring_prep_read_fixed(s, fd, sl, win, off, 0);
					else {
						char *ub = users + b * stride;

						if (m == ZCFIX) {
							sl = span + b * stride;
							ub = span + (BATCH + b) * stride;
						}
						iovs[b][0] = (struct iovec){ sl, 512 };
						iovs[b][1] = (struct iovec){ ub, user };
						iovs[b][2] = (struct iovec){ sl + 512, win - user - 512 };
						io_uring_prep_readv(s, fd, iovs[b], 3, off);
						if (m == ZCFIX) {
							s->opcode = OP_READV_FIXED;
							s->buf_index = 1;
						}
					}
					s->user_data = b;
				}
				io_uring_submit_and_wait(&ring, BATCH);
				for (int b = 0; b < BATCH; b++) {
					struct io_uring_cqe *cqe;
					int id;

					if (io_uring_wait_cqe(&ring, &cqe) || cqe->res != (int)win) {
						fprintf(stderr, "%s: res %d\n", names[m], cqe ? cqe->res : -1);
						return 1;
					}
					id = (int)cqe->user_data;
					io_uring_cqe_seen(&ring, cqe);
					if (m == COPY)
						memcpy(users + id * stride, slots + id * stride + 512, user);
				}
			}
			cpu[m][r] = (ns(CLOCK_THREAD_CPUTIME_ID) - t0) / n;
		}
		for (m = 0; m < MODES; m++)
			ratio[m][r] = m == ZCFIX && !fixvec ? 0 :
				      cpu[m][r] / cpu[REF][r];
	}
	printf("user=%zu window=%zu:", user, win);
	for (m = 0; m < MODES; m++) {
		qsort(cpu[m], rounds, sizeof(double), cmp);
		qsort(ratio[m], rounds, sizeof(double), cmp);
		printf(" %s %.0f ns/IO (x%.3f)", names[m], cpu[m][rounds / 2],
		       ratio[m][rounds / 2]);
	}
	printf("\n");
	return 0;
}
