/*
 * The overlap table's reference model, shared by the unit test
 * (tests/unit/test_overlap_model.c) and the fuzz target
 * (tests/fuzz/fuzz_overlap.c). It restates the rules of fiob_overlap.h:
 * exclusion on windows, order on user bytes, bounded passing (max_pass).
 *
 * The model keeps, per id, a state, an arrival number and a pass count; it
 * decides "may start" by scanning every entry, never a list, and evaluates
 * every waiter after every change (the table evaluates only marked ones).
 * On top of the rules it checks, independently of them, the properties
 * they exist for: no two conflicting entries in flight, no write passing
 * an earlier entry with the same user bytes, no waiter passed more than
 * max_pass times, no waiter lost.
 *
 * Use: fiob_ovl_init(t, NR), ovl_reset(t, max_pass), ovl_step() per
 * operation, ovl_finish() at the end. ovl_step(), ovl_finish(),
 * check_table() and drain() return 0, or -1 with the reason in ovl_msg.
 */
#ifndef FIOB_OVERLAP_MODEL_H
#define FIOB_OVERLAP_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fiob_overlap.h"

static char ovl_msg[256];

#define NR	8

enum { M_IDLE, M_ACTIVE, M_WAITING, M_READING };	/* READING: a read running */

/* What an idle id asks for: a window, user bytes inside it, a type. */
struct ovl_req {
	uint32_t file;
	uint64_t start, end;	/* window */
	uint64_t ustart, uend;	/* user bytes */
	int type;
};

struct ment {
	int state;
	struct ovl_req r;
	uint64_t seq;		/* arrival order */
	uint32_t passed;	/* model's pass count */
	uint32_t overtaken;	/* property check: conflicting later starts */
};

static struct ment m[NR];
static uint64_t seq;
static uint32_t max_pass;

/* Exclusion: windows overlap and one of them is EXCL. */
static bool m_conflicts(const struct ment *a, const struct ment *b)
{
	if (a->r.type != FIOB_OVL_EXCL && b->r.type != FIOB_OVL_EXCL)
		return false;
	if (a->r.file != b->r.file)
		return false;
	return a->r.start < b->r.end && b->r.start < a->r.end;
}

/* Order: user bytes overlap and one of them writes. */
static bool m_ordered(const struct ment *a, const struct ment *b)
{
	if (a->r.type == FIOB_OVL_READ && b->r.type == FIOB_OVL_READ)
		return false;
	return a->r.file == b->r.file && a->r.ustart < b->r.uend &&
	       b->r.ustart < a->r.uend;
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
	const struct ovl_req *a = &m[i].r;
	int j;

	for (j = 0; j < NR; j++) {
		const struct ovl_req *b = &m[j].r;

		if (j == i || !m_earlier_waiter(j, i, arriving))
			continue;
		if ((a->type != FIOB_OVL_READ || b->type != FIOB_OVL_READ) &&
		    a->file == b->file && a->ustart < b->uend &&
		    b->ustart < a->uend) {
			snprintf(ovl_msg, sizeof(ovl_msg), "id %d starts before "
				 "earlier id %d with the same bytes", i, j);
			return -1;
		}
		if (m_conflicts(&m[i], &m[j])) {
			m[j].passed++;
			if (++m[j].overtaken > max_pass) {
				snprintf(ovl_msg, sizeof(ovl_msg), "id %d "
					 "overtaken %u times", j, m[j].overtaken);
				return -1;
			}
		}
	}
	m[i].state = a->type == FIOB_OVL_READ ? M_READING : M_ACTIVE;
	return 0;
}

/* The waiter that should come out of pop_ready next, -1, or -2 (broken). */
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
			snprintf(ovl_msg, sizeof(ovl_msg), "id %d state %d, "
				 "model %d", i, t->e[i].state, m[i].state);
			return -1;
		}
		if (want == FIOB_OVL_WAITING && t->e[i].passed != m[i].passed) {
			snprintf(ovl_msg, sizeof(ovl_msg), "id %d passed %u, "
				 "model %u", i, t->e[i].passed, m[i].passed);
			return -1;
		}
		act += want == FIOB_OVL_ACTIVE;
		excl += want == FIOB_OVL_ACTIVE && m[i].r.type == FIOB_OVL_EXCL;
		wait += want == FIOB_OVL_WAITING;
		for (j = 0; j < i; j++) {
			if (t->e[i].state == FIOB_OVL_ACTIVE &&
			    t->e[j].state == FIOB_OVL_ACTIVE &&
			    m_conflicts(&m[i], &m[j])) {
				snprintf(ovl_msg, sizeof(ovl_msg), "ids %d and "
					 "%d both active and conflict", i, j);
				return -1;
			}
		}
	}
	if (t->nr_active != act || t->nr_active_excl != excl ||
	    t->nr_waiting != wait) {
		snprintf(ovl_msg, sizeof(ovl_msg), "counters %u/%u/%u, model "
			 "%u/%u/%u", t->nr_active, t->nr_active_excl,
			 t->nr_waiting, act, excl, wait);
		return -1;
	}
	if (fiob_ovl_busy(t) != (excl || wait)) {
		snprintf(ovl_msg, sizeof(ovl_msg), "busy() wrong");
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
			return -1;	/* ovl_msg says which property broke */
		got = fiob_ovl_pop_ready(t);
		if (got != want) {
			snprintf(ovl_msg, sizeof(ovl_msg), "pop_ready %d, "
				 "model %d", got, want);
			return -1;
		}
		if (got < 0)
			return 0;
		(*started)++;
	}
}

/* What a run of steps acquired and started: equal once it is finished. */
struct ovl_run {
	uint64_t acquired;
	uint64_t started;
};

/* A fresh model for a table just initialised: every id idle. */
static void ovl_reset(struct fiob_ovl *t, uint32_t passes)
{
	memset(m, 0, sizeof(m));
	seq = 0;
	max_pass = t->max_pass = passes;
}

/*
 * One step on id @i: an idle id acquires @r (the table must answer "start
 * now" exactly when the model does); an id in flight releases, and every
 * waiter that may then start does, in the model's order; a waiting id, if
 * @poll, checks that nobody starts while nothing was released. Then the
 * table must match the model.
 */
static int ovl_step(struct fiob_ovl *t, struct ovl_run *run, int i,
		    const struct ovl_req *r, bool poll)
{
	static const char *const tn[] = { "READ", "WRITE", "EXCL" };
	struct ment *e = &m[i];

	if (e->state == M_IDLE) {
		bool want, got;

		e->r = *r;
		e->passed = e->overtaken = 0;
		want = m_can_start(i, true);
		got = fiob_ovl_acquire_bytes(t, (uint32_t)i, r->file, r->start,
					     r->end, r->ustart, r->uend,
					     (enum fiob_ovl_type)r->type);
		run->acquired++;
		if (got != want) {
			snprintf(ovl_msg, sizeof(ovl_msg), "acquire %d %s %u "
				 "[%llu,%llu) user [%llu,%llu) = %d, model %d",
				 i, tn[r->type], r->file,
				 (unsigned long long)r->start,
				 (unsigned long long)r->end,
				 (unsigned long long)r->ustart,
				 (unsigned long long)r->uend, got, want);
			return -1;
		}
		if (want) {
			if (m_start(i, true))
				return -1;
			run->started++;
		} else {
			e->state = M_WAITING;
			e->seq = seq++;
		}
	} else if (e->state == M_ACTIVE || e->state == M_READING) {
		fiob_ovl_release(t, (uint32_t)i);
		e->state = M_IDLE;
		if (drain(t, &run->started)) {
			char why[sizeof(ovl_msg)];

			memcpy(why, ovl_msg, sizeof(why));
			snprintf(ovl_msg, sizeof(ovl_msg), "after release of "
				 "%d: %.200s", i, why);
			return -1;
		}
	} else if (poll && fiob_ovl_pop_ready(t) != -1) {
		snprintf(ovl_msg, sizeof(ovl_msg), "a waiter started while "
			 "nothing was released");
		return -1;
	}
	return check_table(t);
}

/* Release everything in flight until nothing is left: no waiter is lost. */
static int ovl_finish(struct fiob_ovl *t, struct ovl_run *run)
{
	int round, i;

	for (round = 0; round < 4 * NR; round++) {
		for (i = 0; i < NR; i++) {
			if (m[i].state != M_ACTIVE && m[i].state != M_READING)
				continue;
			fiob_ovl_release(t, (uint32_t)i);
			m[i].state = M_IDLE;
			if (drain(t, &run->started))
				return -1;
		}
	}
	if (check_table(t))
		return -1;
	if (t->nr_waiting || t->nr_active || t->nr_recheck ||
	    t->wait_head != -1 || t->wait_tail != -1 ||
	    t->active_head != -1 || run->started != run->acquired) {
		snprintf(ovl_msg, sizeof(ovl_msg), "left %u waiting, %u active,"
			 " %u marked, lists %d/%d/%d, %llu of %llu started",
			 t->nr_waiting, t->nr_active, t->nr_recheck,
			 t->wait_head, t->wait_tail, t->active_head,
			 (unsigned long long)run->started,
			 (unsigned long long)run->acquired);
		return -1;
	}
	return 0;
}

#endif
