/* SPDX-License-Identifier: MIT */
/*
 * The seccomp allow-list. Found by running the unit-free integration
 * suites (requests, alarms, hostile rings and messages, lifecycle, scale,
 * chronyd and ptp4l peers) against the filtered daemon; see
 * syscall_filter.h for the policy.
 */
#define G_LOG_DOMAIN "vhost-user-rtc"

#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "syscall_filter.h"

/* System-call names, resolved before the filter is in place. */
#define NAMES_MAX 512
#define NAME_LEN 28
static char names[NAMES_MAX][NAME_LEN];

/* Allowed without argument checks. */
static const char *const allowed[] = {
	/* I/O on descriptors we hold */
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"pwrite64",
	"close",
	"fstat",
	"newfstatat",
	"statx",
	"lseek",
	"fcntl",
	/* the main loop, its wakeups and timers */
	"poll",
	"ppoll",
	"epoll_wait",
	"epoll_pwait",
	"epoll_ctl",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	/* vhost-user connections; the ptp4l client re-binding */
	"accept4",
	"recvmsg",
	"sendmsg",
	/* live upgrade: the hand-over image, sealed in a memfd */
	"memfd_create",
	"recvfrom",
	"sendto",
	"getsockopt",
	"setsockopt",
	"shutdown",
	"getsockname",
	"getpeername",
	"bind",
	"listen", /* vm add: a VM socket made at run time */
	"connect",
	"unlink",
	"unlinkat",
	"rmdir",
	/* the chronyd client's private reply directory, when reopening
	 * (and the stale ones of earlier runs it clears) */
	"getdents64",
	"mkdir",
	"mkdirat",
	"chmod",
	"fchmodat",
	/* vm add with socket-group=, should the directory's group-ID bit
	 * be gone: without capabilities, only to one of our own groups */
	"chown",
	"fchownat",
	/* memory: malloc, guest RAM mappings (mmap is checked below) */
	"munmap",
	"mremap",
	"brk",
	"madvise",
	/* threads and time; GLib's worker thread may still be starting */
	"rseq",
	"set_robust_list",
	"futex",
	"clock_gettime",
	"clock_getres",
	"clock_nanosleep",
	"nanosleep",
	"gettimeofday",
	"time",
	"sched_yield",
	/* reading the kernel's NTP state; writes need CAP_SYS_TIME */
	"adjtimex",
	"clock_adjtime",
	/* signals, identity, exit */
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"sigaltstack",
	"restart_syscall",
	"getpid",
	"gettid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"getrandom",
	"tgkill",
	"exit",
	"exit_group",
#if defined(__SANITIZE_ADDRESS__)
	/* the ASan/LSan runtime: leak check at exit, reports */
	"clone",
	"clone3",
	"ptrace",
	"wait4",
	"prctl",
	"openat",
	"readlink",
	"getdents64",
	"sched_getaffinity",
	"process_vm_readv",
	"getppid",
	"mprotect",
	"mmap",
	/* LSan's tracer (all signals blocked: a denial kills it silently) */
	"open",
	"getdents",
#endif
};

/* ioctl: the PTP reads of sync/sources/phc.c, and isatty() for logging. */
static const unsigned long ioctls[] = {
	PTP_CLOCK_GETCAPS,
	PTP_SYS_OFFSET,
	PTP_SYS_OFFSET_PRECISE,
	PTP_SYS_OFFSET_EXTENDED,
#ifdef PTP_CLOCK_GETCAPS2
	PTP_CLOCK_GETCAPS2,
	PTP_SYS_OFFSET2,
	PTP_SYS_OFFSET_PRECISE2,
	PTP_SYS_OFFSET_EXTENDED2,
#endif
	TCGETS,
};

static void put(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s && *n < cap) {
		buf[(*n)++] = *s++;
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char buf[128], num[24];
	size_t n = 0, k = 0;
	unsigned int nr = (unsigned int)si->si_syscall;
	const char *name = nr < NAMES_MAX && names[nr][0] ? names[nr] : "?";

	do {
		num[k++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && k < sizeof(num));
	put(buf, &n, sizeof(buf),
	    "vhost-user-rtc: seccomp denied system "
	    "call ");
	put(buf, &n, sizeof(buf), name);
	put(buf, &n, sizeof(buf), " (");
	while (k && n < sizeof(buf)) {
		buf[n++] = num[--k];
	}
	put(buf, &n, sizeof(buf), ")\n");
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nothing else to do: we are leaving */
	}
	_exit(SYSCALL_FILTER_EXIT_STATUS);
}

static void resolve_names(void)
{
	int nr;

	for (nr = 0; nr < NAMES_MAX; nr++) {
		char *s =
			seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s) {
			strncpy(names[nr], s, NAME_LEN - 1);
			free(s);
		}
	}
}

static int add_name(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR) {
		return 0; /* not on this architecture */
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int add_rules(scmp_filter_ctx ctx)
{
	size_t i;
	int r;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		r = add_name(ctx, allowed[i]);
		if (r) {
			return r;
		}
	}
	for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					     ioctls[i] & 0xffffffffu));
		if (r) {
			return r;
		}
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* naming GLib's worker thread "gmain" */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	if (r) {
		return r;
	}
#endif
	/*
	 * Peer-daemon clients reopening after the drop: ptp4l's and
	 * chronyd's Unix datagram sockets, chronyd's loopback UDP port,
	 * gpsd's TCP port. No raw or netlink sockets.
	 */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (!r) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET));
	}
	if (!r) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	}
#if !defined(__SANITIZE_ADDRESS__)
	/* SIGHUP re-reads the config and leap files: read-only opens */
	if (!r) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ,
					     O_ACCMODE | O_CREAT | O_TRUNC,
					     O_RDONLY));
	}
	/* guest RAM and malloc; never executable memory */
	if (!r) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
	if (!r) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	}
#endif
	return r;
}

int syscall_filter_install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int r;

	resolve_names();
	sigset_t sys;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		return -errno;
	}
	/* A blocked SIGSYS would kill us without a word: our parent may
	 * have blocked it. (GLib's own threads block every signal: a call
	 * denied there ends the process with SIGSYS, unreported.) */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	r = pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	if (r) {
		return -r;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		return -ENOMEM;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r) {
		r = add_rules(ctx);
	}
	if (!r) {
		r = seccomp_load(ctx);
	}
	seccomp_release(ctx);
	return r;
}

long syscall_filter_selftest(void)
{
	/* SYSLOG_ACTION_SIZE_BUFFER: reads the kernel log's size */
	return syscall(SYS_syslog, 10, NULL, 0);
}
