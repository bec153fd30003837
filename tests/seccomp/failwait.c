/*
 * failwait - run a command whose io_uring_enter() calls that wait for
 * completions (min_complete > 0) fail with EIO; every other call, including
 * submits and non-blocking polls, runs normally.
 *
 * The tests use it to make fio-bounce's drain before close_file fail while
 * I/O is really in flight (faultfs "hang"), a failure no real device gives
 * on demand. liburing issues raw syscalls, so LD_PRELOAD cannot do this;
 * a seccomp filter can.
 *
 * Usage: failwait COMMAND [ARGS...]
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define THIS_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define THIS_ARCH	AUDIT_ARCH_AARCH64
#else
#error "failwait: add this architecture's AUDIT_ARCH"
#endif

#define ARG_LO(n)	(offsetof(struct seccomp_data, args[n]))

int main(int argc, char **argv)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, THIS_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 3),
		/* min_complete is an unsigned int: the low word is all of it. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EIO),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (argc < 2) {
		fprintf(stderr, "usage: failwait COMMAND [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("failwait: seccomp");
		return 2;
	}
	execvp(argv[1], argv + 1);
	perror("failwait: exec");
	return 127;
}
