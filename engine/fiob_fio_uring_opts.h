/*
 * fio's io_uring engine's options as fio-bounce takes them, for the fio tree
 * we are built against: table entries for engine/fio-bounce.c's options[],
 * whose struct fiob_options has the members they name. Which ones exist,
 * and what uncached sets, comes from the tree (fiob_uring_opts.h, generated
 * by tools/uring-opts.sh). Included by engine/fio-bounce.c only: it needs
 * fio's headers, engines/cmdprio.h and FIOB_OPT.
 */
#ifndef FIOB_FIO_URING_OPTS_H
#define FIOB_FIO_URING_OPTS_H

#include "fiob_uring_opts.h"	/* generated: tools/uring-opts.sh */

/* Same names, types and defaults: every io_uring job file runs unchanged. */
#ifdef FIOB_URING_UNCACHED_FLAG
#define FIOB_UNCACHED_HELP "Use " FIOB_URING_UNCACHED_NAME " for buffered read/writes"
#else
/* This fio's io_uring takes uncached= and sets nothing for it. */
#define FIOB_UNCACHED_HELP "Accepted and ignored, as this fio's io_uring does"
#define FIOB_URING_UNCACHED_FLAG 0
#endif
#ifdef FIOB_URING_UNCACHED_DEPRECATED
#define FIOB_UNCACHED(o) 0	/* soft-deprecated: fio stores nothing */
#else
#define FIOB_UNCACHED(o) ((o)->uncached)
#endif

#ifdef CMDPRIO_OPTIONS
#define FIOB_CMDPRIO_OPTIONS CMDPRIO_OPTIONS(struct fiob_options, FIO_OPT_G_IOURING)
#elif defined(FIO_HAVE_IOPRIO_CLASS)
/* fio without the CMDPRIO_OPTIONS macro: io_uring's table spells them out. */
#define FIOB_CMDPRIO_OPTIONS						\
	FIOB_OPT(.name = "cmdprio_percentage",				\
		 .lname = "high priority percentage", .type = FIO_OPT_INT,	\
		 .off1 = offsetof(struct fiob_options,			\
				  cmdprio_options.percentage[DDIR_READ]),	\
		 .off2 = offsetof(struct fiob_options,			\
				  cmdprio_options.percentage[DDIR_WRITE]),	\
		 .minval = 0, .maxval = 100,					\
		 .help = "Send high priority I/O this percentage of the time"), \
	FIOB_OPT(.name = "cmdprio_class",					\
		 .lname = "Asynchronous I/O priority class",		\
		 .type = FIO_OPT_INT,						\
		 .off1 = offsetof(struct fiob_options,			\
				  cmdprio_options.class[DDIR_READ]),		\
		 .off2 = offsetof(struct fiob_options,			\
				  cmdprio_options.class[DDIR_WRITE]),		\
		 .help = "Set asynchronous IO priority class",		\
		 .minval = IOPRIO_MIN_PRIO_CLASS + 1,				\
		 .maxval = IOPRIO_MAX_PRIO_CLASS, .interval = 1),		\
	FIOB_OPT(.name = "cmdprio",						\
		 .lname = "Asynchronous I/O priority level",		\
		 .type = FIO_OPT_INT,						\
		 .off1 = offsetof(struct fiob_options,			\
				  cmdprio_options.level[DDIR_READ]),		\
		 .off2 = offsetof(struct fiob_options,			\
				  cmdprio_options.level[DDIR_WRITE]),		\
		 .help = "Set asynchronous IO priority level",		\
		 .minval = IOPRIO_MIN_PRIO, .maxval = IOPRIO_MAX_PRIO,	\
		 .interval = 1),						\
	FIOB_OPT(.name = "cmdprio_bssplit",					\
		 .lname = "Priority percentage block size split",		\
		 .type = FIO_OPT_STR_STORE,					\
		 .off1 = offsetof(struct fiob_options,			\
				  cmdprio_options.bssplit_str),		\
		 .help = "Set priority percentages for different block sizes")
#else
#error "fio-bounce needs I/O priority classes (Linux)"
#endif

/*
 * io_uring_cmd's NVMe options, which fio's io_uring also takes. Metadata
 * (md_per_io_size) is refused where fio's io_uring sends protection
 * information; the rest mean nothing to io_uring on a file or block device,
 * and so nothing here.
 */
#ifdef FIOB_URING_OPT_md_per_io_size
#define FIOB_NVME_PI_OPTIONS						\
	FIOB_OPT(.name = "md_per_io_size",					\
		 .lname = "Separate Metadata Buffer Size per I/O",		\
		 .type = FIO_OPT_INT,						\
		 .off1 = offsetof(struct fiob_options, md_per_io_size),	\
		 .def = "0",							\
		 .help = "Size of separate metadata buffer per I/O (Default: 0)"), \
	FIOB_OPT(.name = "pi_act", .lname = "Protection Information Action", \
		 .type = FIO_OPT_BOOL,					\
		 .off1 = offsetof(struct fiob_options, pi_act), .def = "1",	\
		 .help = "Protection Information Action bit (pi_act=1 or pi_act=0)"), \
	FIOB_OPT(.name = "pi_chk", .lname = "Protection Information Check", \
		 .type = FIO_OPT_STR_STORE,					\
		 .off1 = offsetof(struct fiob_options, pi_chk),		\
		 .help = "Control of Protection Information Checking (pi_chk=GUARD,REFTAG,APPTAG)"), \
	FIOB_OPT(.name = "apptag",						\
		 .lname = "Application Tag used in Protection Information", \
		 .type = FIO_OPT_INT,						\
		 .off1 = offsetof(struct fiob_options, apptag),		\
		 .def = "0x1234",						\
		 .help = "Application Tag used in Protection Information field (Default: 0x1234)"), \
	FIOB_OPT(.name = "apptag_mask", .lname = "Application Tag Mask",	\
		 .type = FIO_OPT_INT,						\
		 .off1 = offsetof(struct fiob_options, apptag_mask),	\
		 .def = "0xffff",						\
		 .help = "Application Tag Mask used with Application Tag (Default: 0xffff)"),
#else
#define FIOB_NVME_PI_OPTIONS
#endif

#ifdef FIOB_URING_OPT_readfua
#define FIOB_NVME_CMD_OPTIONS						\
	FIOB_OPT(.name = "readfua", .lname = "Read fua flag support",	\
		 .type = FIO_OPT_BOOL,					\
		 .off1 = offsetof(struct fiob_options, readfua), .def = "0", \
		 .help = "Set FUA flag (force unit access) for all Read operations (io_uring_cmd only: ignored, as io_uring does)"), \
	FIOB_OPT(.name = "writefua", .lname = "Write fua flag support",	\
		 .type = FIO_OPT_BOOL,					\
		 .off1 = offsetof(struct fiob_options, writefua), .def = "0", \
		 .help = "Set FUA flag (force unit access) for all Write operations (io_uring_cmd only: ignored, as io_uring does)"), \
	FIOB_OPT(.name = "write_mode",					\
		 .lname = "Additional Write commands support (Write Uncorrectable, Write Zeores)", \
		 .type = FIO_OPT_STR,						\
		 .off1 = offsetof(struct fiob_options, write_mode),	\
		 .def = "write",						\
		 .help = "Issue Write Uncorrectable or Zeroes command instead of Write command (io_uring_cmd only: ignored, as io_uring does)", \
		 .posval = {							\
			{ .ival = "write", .oval = 0,				\
			  .help = "Issue Write commands for write operations" }, \
			{ .ival = "uncor", .oval = 1,				\
			  .help = "Issue Write Uncorrectable commands for write operations" }, \
			{ .ival = "zeroes", .oval = 2,				\
			  .help = "Issue Write Zeroes commands for write operations" }, \
			{ .ival = "verify", .oval = 3,			\
			  .help = "Issue Verify commands for write operations" }, \
		 }),								\
	FIOB_OPT(.name = "verify_mode",					\
		 .lname = "Do verify based on the configured command (e.g., Read or Compare command)", \
		 .type = FIO_OPT_STR,						\
		 .off1 = offsetof(struct fiob_options, verify_mode),	\
		 .def = "read",						\
		 .help = "Issue Read or Compare command in the verification phase (io_uring_cmd only: ignored, as io_uring does)", \
		 .posval = {							\
			{ .ival = "read", .oval = 0,				\
			  .help = "Issue Read commands in the verification phase" }, \
			{ .ival = "compare", .oval = 1,			\
			  .help = "Issue Compare commands in the verification phase" }, \
		 }),								\
	FIOB_OPT(.name = "deac",						\
		 .lname = "Deallocate bit for write zeroes command",	\
		 .type = FIO_OPT_BOOL,					\
		 .off1 = offsetof(struct fiob_options, deac), .def = "0",	\
		 .help = "Set DEAC (deallocate) flag for write zeroes command (io_uring_cmd only: ignored, as io_uring does)"),
#else
#define FIOB_NVME_CMD_OPTIONS
#endif

#define FIOB_NVME_OPTIONS FIOB_NVME_PI_OPTIONS FIOB_NVME_CMD_OPTIONS

#endif
