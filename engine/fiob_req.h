/*
 * Inside the core: fiob_core.c reaps CQEs, fiob_req.c says what each one
 * means for its request (fiob_core_queue() lives there too).
 */
#ifndef FIOB_REQ_H
#define FIOB_REQ_H

#include <stdint.h>

struct fiob_core;

/* A CQE for the request and phase encoded in @data, with result @res. */
void fiob_req_complete(struct fiob_core *c, uint64_t data, int res);

#endif
