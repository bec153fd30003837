/*
 * The overlap table's reference model, shared by the unit test
 * (tests/unit/test_overlap.c) and the fuzz target (tests/fuzz/fuzz_overlap.c).
 *
 * The model keeps, per id, a state and (for waiters) an arrival number; it
 * decides "may start" by scanning every entry, never a linked list. The
 * rules it restates are those in fiob_overlap.h.
 *
 * ovl_step(), ovl_finish(), check_table() and drain() return 0, or -1
 * with the reason in ovl_msg.
 */
#ifndef FIOB_OVERLAP_MODEL_H
#define FIOB_OVERLAP_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fiob_overlap.h"

static char ovl_msg[256];

#define NR	8

enum { M_IDLE, M_ACTIVE, M_WAITING, M_READING };	/* READING: a read running */

struct ment {
	int state;
	uint32_t file;
	uint64_t start, end;
	int type;
	uint64_t seq;		/* arrival order among waiters */
};

static struct ment m[NR];
static uint64_t seq;

static bool m_conflicts(const struct ment *a, const struct ment *b)
{
	if (a->type != FIOB_OVL_EXCL && b->type != FIOB_OVL_EXCL)
		return false;
	if (a->file != b->file)
		return false;
	return a->start < b->end && b->start < a->end;
}

/* Can @i (waiting or arriving) start: no active conflict, none earlier. */
static bool m_can_start(int i, bool arriving)
{
	int j;

	for (j = 0; j < NR; j++) {
		if (j == i || !m_conflicts(&m[i], &m[j]))
			continue;
		if (m[j].state == M_ACTIVE)
			return false;
		if (m[j].state == M_WAITING && (arriving || m[j].seq < m[i].seq))
			return false;
	}
	return true;
}

static void m_start(int i)
{
	m[i].state = m[i].type == FIOB_OVL_READ ? M_READING : M_ACTIVE;
}

/* The waiter that should come out of pop_ready next, or -1. */
static int m_pop(void)
{
	int i, best = -1;

	for (i = 0; i < NR; i++)
		if (m[i].state == M_WAITING && m_can_start(i, false) &&
		    (best < 0 || m[i].seq < m[best].seq))
			best = i;
	if (best >= 0)
		m_start(best);
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
			snprintf(ovl_msg, sizeof(ovl_msg), "id %d state %d, model %d",
				 i, t->e[i].state, m[i].state);
			return -1;
		}
		act += want == FIOB_OVL_ACTIVE;
		excl += want == FIOB_OVL_ACTIVE && m[i].type == FIOB_OVL_EXCL;
		wait += want == FIOB_OVL_WAITING;
		for (j = 0; j < i; j++) {
			if (t->e[i].state == FIOB_OVL_ACTIVE &&
			    t->e[j].state == FIOB_OVL_ACTIVE &&
			    m_conflicts(&m[i], &m[j])) {
				snprintf(ovl_msg, sizeof(ovl_msg),
					 "ids %d and %d both active and conflict", i, j);
				return -1;
			}
		}
	}
	if (t->nr_active != act || t->nr_active_excl != excl ||
	    t->nr_waiting != wait) {
		snprintf(ovl_msg, sizeof(ovl_msg), "counters %u/%u/%u, model %u/%u/%u",
			 t->nr_active, t->nr_active_excl, t->nr_waiting,
			 act, excl, wait);
		return -1;
	}
	if (fiob_ovl_busy(t) != (excl || wait)) {
		snprintf(ovl_msg, sizeof(ovl_msg), "busy() wrong");
		return -1;
	}
	return 0;
}

/* Pop until -1, comparing every id with the model's FIFO choice. */
static int drain(struct fiob_ovl *t, uint64_t *started)
{
	for (;;) {
		int want = m_pop(), got = fiob_ovl_pop_ready(t);

		if (got != want) {
			snprintf(ovl_msg, sizeof(ovl_msg), "pop_ready %d, model %d",
				 got, want);
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

/*
 * One step on id @i: an idle id acquires [@start, @end) of @file as @type
 * (the table must answer "start now" exactly when the model does); an id
 * in flight releases, and every waiter that may then start does, in the
 * model's FIFO order; a waiting id, if @poll, checks that nobody starts
 * while nothing was released. Then the table must match the model.
 */
static int ovl_step(struct fiob_ovl *t, struct ovl_run *run, int i,
		    uint32_t file, uint64_t start, uint64_t end, int type,
		    bool poll)
{
	static const char *const tn[] = { "READ", "WRITE", "EXCL" };
	struct ment *e = &m[i];

	if (e->state == M_IDLE) {
		bool want, got;

		e->file = file;
		e->start = start;
		e->end = end;
		e->type = type;
		want = m_can_start(i, true);
		got = fiob_ovl_acquire(t, (uint32_t)i, file, start, end,
				       (enum fiob_ovl_type)type);
		run->acquired++;
		if (got != want) {
			snprintf(ovl_msg, sizeof(ovl_msg), "acquire %s %u [%llu,"
				 "%llu) = %d, model %d", tn[type], file,
				 (unsigned long long)start,
				 (unsigned long long)end, got, want);
			return -1;
		}
		if (want) {
			m_start(i);
			run->started++;
		} else {
			e->state = M_WAITING;
			e->seq = seq++;
		}
	} else if (e->state == M_ACTIVE || e->state == M_READING) {
		fiob_ovl_release(t, (uint32_t)i);
		e->state = M_IDLE;
		if (drain(t, &run->started))
			return -1;
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
	if (t->nr_waiting || t->nr_active || t->wait_head != -1 ||
	    t->wait_tail != -1 || run->started != run->acquired) {
		snprintf(ovl_msg, sizeof(ovl_msg), "left %u waiting, %u active,"
			 " %llu of %llu started", t->nr_waiting, t->nr_active,
			 (unsigned long long)run->started,
			 (unsigned long long)run->acquired);
		return -1;
	}
	return 0;
}

#endif
