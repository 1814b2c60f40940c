/*
 * berth-pause is the first process of every berth pod sandbox. It holds
 * the pod's network, IPC and UTS namespaces open for the pod's lifetime,
 * reaps zombies that end up reparented to it, and exits 0 on SIGTERM or
 * SIGINT, like Kubernetes' pause.
 *
 * It is built without a C library (no start-up code, no allocator, no
 * signal handlers), so its binary is a few kB and its resident set a few
 * pages:
 *
 *	gcc -Os -static -nostdlib -fno-stack-protector -fno-asynchronous-unwind-tables \
 *	    -Wl,--build-id=none -s -o bin/berth-pause nodeagent/pause/csrc/pause.c
 *
 * The signals are blocked and read from a signalfd. Blocked signals are
 * queued even for the init of a PID namespace, which the kernel otherwise
 * spares every signal it has no handler for (so SIGTERM from the runtime
 * still ends it).
 */

#include <asm/unistd.h>
#include <linux/signal.h>
#include <asm-generic/errno-base.h>

#define WNOHANG 1

#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n"
	"  xor %rbp, %rbp\n"
	"  and $-16, %rsp\n"
	"  call pause_main\n"
	"  hlt\n");

static long sys(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
__asm__(".text\n.global _start\n_start:\n"
	"  mov x29, #0\n"
	"  mov x30, #0\n"
	"  bl pause_main\n"
	"  b .\n");

static long sys(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3)
			 : "memory");
	return x0;
}
#else
#error "berth-pause: add the syscall convention of this architecture"
#endif

/* Only the fields read here of struct signalfd_siginfo (128 bytes). */
struct sfd_info {
	unsigned int signo;
	unsigned char rest[124];
};

static void reap(void)
{
	while (sys(__NR_wait4, -1, 0, WNOHANG, 0) > 0)
		;
}

__attribute__((used, noreturn)) void pause_main(void)
{
	/* The kernel's sigset for rt_sigprocmask and signalfd4 is 64 bits. */
	unsigned long set = (1UL << (SIGTERM - 1)) | (1UL << (SIGINT - 1)) | (1UL << (SIGCHLD - 1));
	struct sfd_info si;
	long fd;

	if (sys(__NR_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, sizeof set) < 0)
		sys(__NR_exit_group, 2, 0, 0, 0);
	fd = sys(__NR_signalfd4, -1, (long)&set, sizeof set, 0);
	if (fd < 0)
		sys(__NR_exit_group, 2, 0, 0, 0);
	for (;;) {
		long n = sys(__NR_read, fd, (long)&si, sizeof si, 0);
		if (n == -EINTR)
			continue;
		if (n != (long)sizeof si)
			sys(__NR_exit_group, 2, 0, 0, 0);
		if (si.signo == SIGCHLD) {
			reap();
			continue;
		}
		sys(__NR_exit_group, 0, 0, 0, 0);
	}
}
