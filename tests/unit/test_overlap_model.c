/*
 * The overlap table against a reference model of the rules in
 * fiob_overlap.h, on random operations, with independent checks of the
 * properties those rules exist for: exclusion, order of writes to the same
 * bytes, bounded passing (no starvation), no waiter lost.
 * (test_overlap.c has the directed cases.)
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

FT_MAIN(
	FT_RUN(random_ops_match_reference_model)
)
