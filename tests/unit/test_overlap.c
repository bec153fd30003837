/*
 * The overlap table against a reference model of the rules in
 * fiob_overlap.h, independent checks of the properties those rules exist
 * for (exclusion, order of writes to the same bytes, bounded passing), and
 * directed cases for range edges and the sequential-write pattern.
 *
 * The model keeps, per id, a state, an arrival number and a pass count; it
 * decides "may start" by scanning every entry, never a list, and evaluates
 * every waiter after every change (the table evaluates only marked ones).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "fiob_overlap.h"
#include "fiob_test.h"

#define NR	8

static char msg[256];
static uint64_t rng = 0x0123456789abcdefull;

static uint64_t rnd(void)
{
	return ft_rand(&rng);
}

enum { M_IDLE, M_ACTIVE, M_WAITING, M_READING };	/* READING: a read running */

struct ment {
	int state;
	uint32_t file;
	uint64_t start, end;	/* window */
	uint64_t ustart, uend;	/* user bytes */
	int type;
	uint64_t seq;		/* arrival order */
	uint32_t passed;	/* model's pass count */
	uint32_t overtaken;	/* property check: conflicting later starts */
};

static struct ment m[NR];
static uint64_t seq;
static uint32_t max_pass;

static bool m_conflicts(const struct ment *a, const struct ment *b)
{
	if (a->type != FIOB_OVL_EXCL && b->type != FIOB_OVL_EXCL)
		return false;
	if (a->file != b->file)
		return false;
	return a->start < b->end && b->start < a->end;
}

static bool m_ordered(const struct ment *a, const struct ment *b)
{
	if (a->type == FIOB_OVL_READ && b->type == FIOB_OVL_READ)
		return false;
	return a->file == b->file && a->ustart < b->uend &&
	       b->ustart < a->uend;
}

/* @j waits and arrived before @i (an arriving @i comes after everyone). */
static bool m_earlier_waiter(int j, int i, bool arriving)
{
	return m[j].state == M_WAITING && (arriving || m[j].seq < m[i].seq);
}

/* Can @i (waiting or arriving) start, by the three rules of the header? */
static bool m_can_start(int i, bool arriving)
{
	int j;

	for (j = 0; j < NR; j++) {
		if (j == i)
			continue;
		if (m[j].state == M_ACTIVE && m_conflicts(&m[i], &m[j]))
			return false;
		if (!m_earlier_waiter(j, i, arriving))
			continue;
		if (m_ordered(&m[i], &m[j]))
			return false;
		if (m_conflicts(&m[i], &m[j]) && m[j].passed >= max_pass)
			return false;
	}
	return true;
}

/*
 * @i starts. Property checks that do not use the rules above: nothing that
 * arrived earlier with overlapping user bytes (one a write) is still
 * waiting, and no waiter it overtakes has been overtaken max_pass times.
 */
static int m_start(int i, bool arriving)
{
	int j;

	for (j = 0; j < NR; j++) {
		if (j == i || !m_earlier_waiter(j, i, arriving))
			continue;
		if (m[i].type != FIOB_OVL_READ || m[j].type != FIOB_OVL_READ) {
			if (m[i].file == m[j].file && m[i].ustart < m[j].uend &&
			    m[j].ustart < m[i].uend) {
				snprintf(msg, sizeof(msg), "id %d starts before "
					 "earlier id %d with the same bytes", i, j);
				return -1;
			}
		}
		if (m_conflicts(&m[i], &m[j])) {
			m[j].passed++;
			if (++m[j].overtaken > max_pass) {
				snprintf(msg, sizeof(msg), "id %d overtaken %u "
					 "times", j, m[j].overtaken);
				return -1;
			}
		}
	}
	m[i].state = m[i].type == FIOB_OVL_READ ? M_READING : M_ACTIVE;
	return 0;
}

/* The waiter that should come out of pop_ready next, or -1. */
static int m_pop(void)
{
	int i, best = -1;

	for (i = 0; i < NR; i++)
		if (m[i].state == M_WAITING && m_can_start(i, false) &&
		    (best < 0 || m[i].seq < m[best].seq))
			best = i;
	if (best >= 0 && m_start(best, false))
		return -2;
	return best;
}

/* Engine state and counters agree with the model; no active conflict. */
static int check_table(const struct fiob_ovl *t)
{
	uint32_t act = 0, excl = 0, wait = 0;
	int i, j;

	for (i = 0; i < NR; i++) {
		int want = m[i].state == M_ACTIVE ? FIOB_OVL_ACTIVE :
			   m[i].state == M_WAITING ? FIOB_OVL_WAITING :
			   FIOB_OVL_IDLE;

		if (t->e[i].state != want) {
			snprintf(msg, sizeof(msg), "id %d state %d, model %d",
				 i, t->e[i].state, m[i].state);
			return -1;
		}
		if (want == FIOB_OVL_WAITING && t->e[i].passed != m[i].passed) {
			snprintf(msg, sizeof(msg), "id %d passed %u, model %u",
				 i, t->e[i].passed, m[i].passed);
			return -1;
		}
		act += want == FIOB_OVL_ACTIVE;
		excl += want == FIOB_OVL_ACTIVE && m[i].type == FIOB_OVL_EXCL;
		wait += want == FIOB_OVL_WAITING;
		for (j = 0; j < i; j++) {
			if (t->e[i].state == FIOB_OVL_ACTIVE &&
			    t->e[j].state == FIOB_OVL_ACTIVE &&
			    m_conflicts(&m[i], &m[j])) {
				snprintf(msg, sizeof(msg),
					 "ids %d and %d both active and conflict", i, j);
				return -1;
			}
		}
	}
	if (t->nr_active != act || t->nr_active_excl != excl ||
	    t->nr_waiting != wait) {
		snprintf(msg, sizeof(msg), "counters %u/%u/%u, model %u/%u/%u",
			 t->nr_active, t->nr_active_excl, t->nr_waiting,
			 act, excl, wait);
		return -1;
	}
	if (fiob_ovl_busy(t) != (excl || wait)) {
		snprintf(msg, sizeof(msg), "busy() wrong");
		return -1;
	}
	return 0;
}

/* Pop until -1, comparing every id with the model's arrival-order choice. */
static int drain(struct fiob_ovl *t, uint64_t *started)
{
	for (;;) {
		int want = m_pop(), got;

		if (want == -2)
			return -1;	/* msg says which property broke */
		got = fiob_ovl_pop_ready(t);
		if (got != want) {
			snprintf(msg, sizeof(msg), "pop_ready %d, model %d",
				 got, want);
			return -1;
		}
		if (got < 0)
			return 0;
		(*started)++;
	}
}

/* A random request: a window, user bytes inside it, a type. */
static void random_request(struct ment *e)
{
	uint64_t len;

	e->file = (uint32_t)(rnd() % 3);
	e->start = rnd() % 48;
	e->end = e->start + 1 + rnd() % 16;
	len = e->end - e->start;
	e->type = (int)(rnd() % 3);
	if (e->type == FIOB_OVL_WRITE || rnd() % 4 == 0) {
		e->ustart = e->start;	/* a window that is its user bytes */
		e->uend = e->end;
	} else {
		e->ustart = e->start + rnd() % len;
		e->uend = e->ustart + 1 + rnd() % (e->end - e->ustart);
	}
	if (e->type == FIOB_OVL_EXCL && rnd() % 8 == 0)
		e->end = UINT64_MAX;	/* a window write past a file's end */
	e->passed = e->overtaken = 0;
}

static void random_ops_match_reference_model(void)
{
	static const char *const tn[] = { "READ", "WRITE", "EXCL" };
	static const uint32_t passes[] = { NR, 1, 2, 3, 0 };
	uint64_t acquired = 0, started = 0;
	struct fiob_ovl t;
	int step, round;

	for (round = 0; round < 400; round++) {
		FT_EQ(fiob_ovl_init(&t, NR), 0);
		FT_EQ(t.max_pass, NR);
		max_pass = t.max_pass = passes[round % 5];
		memset(m, 0, sizeof(m));
		for (step = 0; step < 2000; step++) {
			int i = (int)(rnd() % NR);

			if (m[i].state == M_IDLE) {
				struct ment *e = &m[i];
				bool want, got;

				random_request(e);
				want = m_can_start(i, true);
				got = fiob_ovl_acquire_bytes(&t, (uint32_t)i,
						e->file, e->start, e->end,
						e->ustart, e->uend,
						(enum fiob_ovl_type)e->type);
				acquired++;
				if (got != want)
					FT_FAIL("round %d step %d: acquire %s %u "
						"[%" PRIu64 ",%" PRIu64 ") = %d, model %d",
						round, step, tn[e->type], e->file,
						e->start, e->end, got, want);
				if (want) {
					if (m_start(i, true))
						FT_FAIL("round %d step %d: %s",
							round, step, msg);
					started++;
				} else {
					e->state = M_WAITING;
					e->seq = seq++;
				}
			} else if (m[i].state == M_ACTIVE ||
				   m[i].state == M_READING) {
				fiob_ovl_release(&t, (uint32_t)i);
				m[i].state = M_IDLE;
				if (drain(&t, &started))
					FT_FAIL("round %d step %d: after release "
						"of %d: %s", round, step, i, msg);
			} else if (rnd() % 4 == 0) {
				/* Nothing was released: nobody may start. */
				FT_EQ(fiob_ovl_pop_ready(&t), -1);
			}
			if (check_table(&t))
				FT_FAIL("round %d step %d: %s", round, step, msg);
		}
		/* Finish everything: no waiter may be lost. */
		for (step = 0; step < 4 * NR; step++) {
			int i;

			for (i = 0; i < NR; i++) {
				if (m[i].state != M_ACTIVE &&
				    m[i].state != M_READING)
					continue;
				fiob_ovl_release(&t, (uint32_t)i);
				m[i].state = M_IDLE;
				if (drain(&t, &started))
					FT_FAIL("round %d end: %s", round, msg);
			}
		}
		if (check_table(&t))
			FT_FAIL("round %d end: %s", round, msg);
		FT_EQ(t.nr_waiting, 0);
		FT_EQ(t.nr_active, 0);
		FT_EQ(t.nr_recheck, 0);
		FT_EQ(t.wait_head, -1);
		FT_EQ(t.wait_tail, -1);
		FT_EQ(t.active_head, -1);
		fiob_ovl_exit(&t);
	}
	FT_EQ(started, acquired);
}

static struct fiob_ovl T;

#define ACQ(id, f, s, e, ty)	fiob_ovl_acquire(&T, id, f, s, e, FIOB_OVL_##ty)

static void adjacent_ranges_do_not_conflict(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 100, 200, EXCL));
	FT_ASSERT(ACQ(1, 0, 200, 300, EXCL));	/* [b, c) after [a, b) */
	FT_ASSERT(ACQ(2, 0, 0, 100, EXCL));	/* [a0, a) before [a, b) */
	FT_ASSERT(ACQ(3, 0, 300, 301, WRITE));
	FT_EQ(T.nr_active, 4);
	FT_EQ(T.nr_active_excl, 3);
	fiob_ovl_exit(&T);
}

static void one_byte_overlap_conflicts(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 100, 200, EXCL));
	FT_ASSERT(!ACQ(1, 0, 199, 200, READ));
	FT_ASSERT(!ACQ(2, 0, 0, 101, WRITE));
	FT_EQ(T.nr_waiting, 2);
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_exit(&T);
}

static void different_files_do_not_conflict(void)
{
	FT_EQ(fiob_ovl_init(&T, 3), 0);
	FT_ASSERT(ACQ(0, 0, 0, 4096, EXCL));
	FT_ASSERT(ACQ(1, 1, 0, 4096, EXCL));
	FT_ASSERT(ACQ(2, 2, 0, UINT64_MAX, EXCL));
	fiob_ovl_exit(&T);
}

static void read_and_write_never_conflict_and_reads_leave_no_entry(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 100, WRITE));
	FT_ASSERT(ACQ(1, 0, 0, 100, WRITE));
	FT_ASSERT(ACQ(2, 0, 50, 60, READ));
	FT_EQ(T.e[2].state, FIOB_OVL_IDLE);	/* reads are not kept */
	FT_ASSERT(!fiob_ovl_busy(&T));
	fiob_ovl_release(&T, 0);
	fiob_ovl_release(&T, 1);
	/* An RMW write does not wait for a read in flight. */
	FT_ASSERT(ACQ(3, 0, 0, 100, EXCL));
	FT_ASSERT(fiob_ovl_busy(&T));
	fiob_ovl_release(&T, 2);		/* the read: a no-op */
	FT_EQ(T.nr_active, 1);
	fiob_ovl_exit(&T);
}

static void uint64_max_end_conflicts_with_the_last_bytes(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 4096, UINT64_MAX, EXCL));
	FT_ASSERT(!ACQ(1, 0, UINT64_MAX - 1, UINT64_MAX, WRITE));
	FT_ASSERT(ACQ(2, 0, 0, 4096, WRITE));	/* just below: free */
	FT_ASSERT(!ACQ(3, 0, 4095, 4097, READ));
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_exit(&T);
}

static void arrival_queues_behind_conflicting_waiter_not_only_active(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	FT_ASSERT(!ACQ(1, 0, 5, 20, EXCL));
	FT_ASSERT(!ACQ(2, 0, 15, 20, WRITE));	/* free of 0, not of 1 */
	FT_ASSERT(!ACQ(3, 0, 15, 16, READ));
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 2 and 3 conflict with 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.nr_waiting, 0);
	fiob_ovl_exit(&T);
}

static void later_waiter_passes_earlier_one_it_does_not_conflict_with(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	FT_ASSERT(ACQ(1, 0, 20, 30, EXCL));
	FT_ASSERT(!ACQ(2, 0, 0, 10, WRITE));	/* behind 0 */
	FT_ASSERT(!ACQ(3, 0, 20, 30, WRITE));	/* behind 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.wait_head, 2);
	FT_EQ(T.wait_tail, 2);
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(T.wait_head, -1);
	FT_EQ(T.wait_tail, -1);
	/* The tail moved back correctly: a new waiter links and pops. */
	FT_ASSERT(ACQ(0, 0, 0, 5, EXCL) == false);
	fiob_ovl_release(&T, 2);
	FT_EQ(fiob_ovl_pop_ready(&T), 0);
	fiob_ovl_exit(&T);
}

/* Sequential 1000-byte RMW writes on 4096-byte blocks, as fio queues them. */
#define SEQ_BS		1000
#define SEQ_BLOCK	4096

static bool acquire_seq_write(uint32_t id, uint32_t k)
{
	uint64_t off = (uint64_t)k * SEQ_BS;
	uint64_t ws = off / SEQ_BLOCK * SEQ_BLOCK;
	uint64_t we = (off + SEQ_BS + SEQ_BLOCK - 1) / SEQ_BLOCK * SEQ_BLOCK;

	return fiob_ovl_acquire_bytes(&T, id, 0, ws, we, off, off + SEQ_BS,
				      FIOB_OVL_EXCL);
}

/*
 * 32 sequential writes queued at once. Every write shares a block with the
 * next, so ordering windows would start exactly one; the writes that have
 * a block to themselves in flight start at once, one per block, and after
 * that every completion starts the next write of its block.
 */
static void sequential_writes_run_one_per_block_in_parallel(void)
{
	uint32_t k, started = 0, done = 0, rounds = 0;
	int w;

	FT_EQ(fiob_ovl_init(&T, 32), 0);
	for (k = 0; k < 32; k++)
		started += acquire_seq_write(k, k);
	/* 0, 5, 9, 13, 17, 21, 25, 29: the first write of blocks 0, 1, 2.. */
	FT_EQ(started, 8);
	FT_EQ(T.e[0].state, FIOB_OVL_ACTIVE);
	FT_EQ(T.e[5].state, FIOB_OVL_ACTIVE);
	FT_EQ(T.e[4].state, FIOB_OVL_WAITING);	/* blocks 0 and 1 */
	/* Complete everything in flight, round after round. */
	while (done < 32) {
		uint32_t active[32], n = 0, i;

		for (w = T.active_head; w != -1; w = T.e[w].next)
			active[n++] = (uint32_t)w;
		FT_ASSERT(n > 0);
		for (i = 0; i < n; i++) {
			fiob_ovl_release(&T, active[i]);
			done++;
			while (fiob_ovl_pop_ready(&T) >= 0)
				;
		}
		rounds++;
	}
	FT_EQ(T.nr_waiting, 0);
	/* One at a time would take 32 rounds; one block's chain is 5 long. */
	FT_ASSERT(rounds <= 12);
	fiob_ovl_exit(&T);
}

/* A waiter is passed by what only shares its window, never by its bytes. */
static void later_write_passes_waiter_on_other_bytes_not_on_the_same(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 0, 1000,
					 FIOB_OVL_EXCL));
	/* 1 needs blocks 0 and 1; block 0 is busy. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 1, 0, 0, 8192, 4000, 5000,
					  FIOB_OVL_EXCL));
	/* 2 shares block 1 with waiter 1, none of its bytes: it goes. */
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 2, 0, 4096, 8192, 5000, 6000,
					 FIOB_OVL_EXCL));
	FT_EQ(T.e[1].passed, 1);
	/* 3 writes some of waiter 1's bytes: it queues behind 1. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 3, 0, 4096, 8192, 4500, 4600,
					  FIOB_OVL_EXCL));
	fiob_ovl_release(&T, 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 1 still needs block 0 */
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);	/* 3: block 1 held by 1 */
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 3);
	fiob_ovl_exit(&T);
}

/*
 * No starvation: a waiter needing two blocks, each kept busy by a stream of
 * writes that pass it, is passed max_pass times; then the streams queue
 * behind it and it starts as soon as the blocks drain.
 */
static void waiter_passed_max_pass_times_then_goes_first(void)
{
	/* Ids 0 and 2 take turns on blocks 0 and 1; 1 waits for both. */
	static const uint64_t blk[2] = { 0, 4096 };
	uint32_t n, held = 0;

	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_EQ(T.max_pass, 4);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 0, 100,
					 FIOB_OVL_EXCL));
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, 1, 0, 0, 8192, 4000, 4100,
					  FIOB_OVL_EXCL));
	for (n = 0; n < 4; n++) {
		uint32_t next = held ^ 2;
		uint64_t at = blk[next / 2];

		/* One block is always busy: without the bound, forever. */
		FT_ASSERT(fiob_ovl_acquire_bytes(&T, next, 0, at, at + 4096,
						 at + 200 + n, at + 201 + n,
						 FIOB_OVL_EXCL));
		FT_EQ(T.e[1].passed, n + 1);
		fiob_ovl_release(&T, held);
		FT_EQ(fiob_ovl_pop_ready(&T), -1);
		held = next;
	}
	/* Passed max_pass times: the next one queues behind it. */
	FT_ASSERT(!fiob_ovl_acquire_bytes(&T, held ^ 2, 0, 4096, 8192,
					  4300, 4301, FIOB_OVL_EXCL));
	fiob_ovl_release(&T, held);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	fiob_ovl_release(&T, 1);
	FT_EQ(fiob_ovl_pop_ready(&T), (int)(held ^ 2));
	fiob_ovl_exit(&T);
}

/*
 * Two aligned writes need no exclusion from each other, but when the first
 * waits (behind an RMW window) a later one to the same bytes waits too, and
 * comes out after it.
 */
static void aligned_write_to_same_bytes_stays_behind_waiting_one(void)
{
	FT_EQ(fiob_ovl_init(&T, 4), 0);
	FT_ASSERT(fiob_ovl_acquire_bytes(&T, 0, 0, 0, 4096, 100, 200,
					 FIOB_OVL_EXCL));
	FT_ASSERT(!ACQ(1, 0, 0, 8192, WRITE));		/* behind 0 */
	FT_ASSERT(!ACQ(2, 0, 4096, 8192, WRITE));	/* behind 1: bytes */
	FT_ASSERT(ACQ(3, 0, 8192, 12288, WRITE));	/* nothing shared */
	fiob_ovl_release(&T, 0);
	FT_EQ(fiob_ovl_pop_ready(&T), 1);
	FT_EQ(fiob_ovl_pop_ready(&T), 2);
	FT_EQ(fiob_ovl_pop_ready(&T), -1);
	FT_EQ(T.nr_active, 3);
	fiob_ovl_exit(&T);
}

static void release_of_idle_or_twice_is_a_noop(void)
{
	FT_EQ(fiob_ovl_init(&T, 2), 0);
	fiob_ovl_release(&T, 1);
	FT_ASSERT(ACQ(0, 0, 0, 10, EXCL));
	fiob_ovl_release(&T, 0);
	fiob_ovl_release(&T, 0);
	FT_EQ(T.nr_active, 0);
	FT_EQ(T.nr_active_excl, 0);
	fiob_ovl_exit(&T);
	FT_ASSERT(T.e == NULL);
}

FT_MAIN(
	FT_RUN(random_ops_match_reference_model);
	FT_RUN(adjacent_ranges_do_not_conflict);
	FT_RUN(one_byte_overlap_conflicts);
	FT_RUN(different_files_do_not_conflict);
	FT_RUN(read_and_write_never_conflict_and_reads_leave_no_entry);
	FT_RUN(uint64_max_end_conflicts_with_the_last_bytes);
	FT_RUN(arrival_queues_behind_conflicting_waiter_not_only_active);
	FT_RUN(later_waiter_passes_earlier_one_it_does_not_conflict_with);
	FT_RUN(sequential_writes_run_one_per_block_in_parallel);
	FT_RUN(later_write_passes_waiter_on_other_bytes_not_on_the_same);
	FT_RUN(waiter_passed_max_pass_times_then_goes_first);
	FT_RUN(aligned_write_to_same_bytes_stays_behind_waiting_one);
	FT_RUN(release_of_idle_or_twice_is_a_noop)
)
