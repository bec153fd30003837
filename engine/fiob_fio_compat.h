/*
 * What differs between the fio releases fio-bounce builds against (3.33 to
 * 3.42), as one API for engine/fio-bounce.c. The answers come from
 * fiob_fio_features.h, which tools/fio-features.sh writes by compiling
 * probes against the very tree we build with: no version numbers here.
 *
 * Include after fio.h; only the fio adapter includes this.
 */
#ifndef FIOB_FIO_COMPAT_H
#define FIOB_FIO_COMPAT_H

#include "fiob_fio_features.h"

/*
 * Every job's thread_data:
 *	FIOB_FOR_EACH_TD(td) { ... } FIOB_END_FOR_EACH_TD();
 * declares td inside its own block, as fio's own 3.34+ form does.
 */
#if FIOB_HAVE_END_FOR_EACH
#define FIOB_FOR_EACH_TD(td)	for_each_td(td)
#define FIOB_END_FOR_EACH_TD()	end_for_each()
#else
#define FIOB_FOR_EACH_TD(td)						\
	{								\
		struct thread_data *td;					\
		int fiob_td_index_;					\
		for_each_td(td, fiob_td_index_)
#define FIOB_END_FOR_EACH_TD()	}
#endif

/*
 * DDIR_SYNCFS (end_syncfs=1, fio 3.42): fio's io_uring runs it synchronously
 * in .queue. Where fio has the flag, ask it to stamp the issue time as it
 * does for our synchronous trims.
 */
#if FIOB_HAVE_DDIR_SYNCFS
#define FIOB_IS_SYNCFS(ddir)	((ddir) == DDIR_SYNCFS)
#else
#define FIOB_IS_SYNCFS(ddir)	false
#endif

#if FIOB_HAVE_ASYNCIO_SYNC_SYNCFS
#define FIOB_FLAG_SYNC_SYNCFS	FIO_ASYNCIO_SYNC_SYNCFS
#else
#define FIOB_FLAG_SYNC_SYNCFS	0
#endif

#endif /* FIOB_FIO_COMPAT_H */
