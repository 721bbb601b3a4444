/* SPDX-License-Identifier: MIT */
/*
 * phc-igb-latch: make QEMU's igb (82576) Rx hardware timestamps usable by
 * Linux's igb driver inside the PHC end-to-end guest (tests/e2e/phc-guest.sh).
 *
 * What QEMU's hw/net/igb_core.c does (QEMU 8.1 to 11.1):
 *   - an Rx frame is timestamped only when its EtherType matches an ETQF
 *     filter with the 1588 bit (layer 2 PTP; there is no L4/UDP path),
 *     TSYNCRXCTL.ENABLED is set, TSYNCRXCTL.VALID is clear, versionPTP is
 *     2, and the frame's first byte (transportSpecific | messageType)
 *     equals TSYNCRXCFG bits 15:8. TSYNCRXCTL's TYPE field is ignored;
 *   - the stamp goes to RXSTMPL/H and VALID is set; VALID is cleared only
 *     by a read of RXSATRH (igb_get_rxsatrh), not of RXSTMPH.
 * What Linux's igb does for the 82576 (igb_ptp.c): any V2 filter becomes
 * TSYNCRXCTL TYPE_EVENT_V2 with TSYNCRXCFG = 0, and on receive it reads
 * RXSTMPL and RXSTMPH, never RXSATRH. So under QEMU the first Sync after
 * ptp4l enables timestamping is stamped, VALID then stays set and every
 * later frame has none ("received SYNC without timestamp"); and with
 * TSYNCRXCFG = 0 a Delay_Req (messageType 1) is never stamped.
 *
 * And e1000x_set_timinca() (QEMU's hw/net/e1000x_common.c) keeps SYSTIM
 * continuous across a TIMINCA write with the wrong sign, in unsigned
 * arithmetic: timadj += (uint64_t)(ns * new - ns * old) / 16 where
 * continuity needs timadj -= ns * (new - old) / 16. So each frequency
 * adjustment (Linux's igb_ptp_adjfine_82576() writes TIMINCA) makes the
 * PHC jump by 2 * (new - old) / old * ns, ns being QEMU's virtual clock
 * (time since the VM started): 1 ppm at 300 s is a 600 us step; and a
 * decrease adds 2^64 / 16 = 2^60 units (2^41 ns, 2199 s) more.
 *
 * This tool does, from user space on each NIC's BAR0 (sysfs resource0;
 * the guest boots with iomem=relaxed), what the emulation needs and the
 * driver does not do:
 *   - keeps TSYNCRXCFG[15:8] at the one event message this port must
 *     receive stamped (Sync on the slave's NIC, Delay_Req on the
 *     grandmaster's), rewriting it when the driver resets it;
 *   - releases a latched stamp the driver has had time to read: when
 *     VALID has been set with the same RXSTMPL/H for LATCH_POLLS polls
 *     (50 ms), it reads RXSATRH. The driver reads the stamp in its Rx
 *     path (NAPI), within microseconds to milliseconds;
 *   - undoes the TIMINCA jumps: it polls TIMINCA every POLL_MS and adds
 *     the opposite of QEMU's error through TIMADJL/H (igb_set_timadjh:
 *     timadj += value). ns is CLOCK_MONOTONIC_RAW plus an offset measured
 *     at start, on each NIC, by writing TIMINCA + CAL_D and back and
 *     timing the jump. Until the next poll (2 ms, SCHED_FIFO) the jump is
 *     there: a PHC read in that window is off by it.
 * The stamps themselves are QEMU's; the PHC's rate is the driver's.
 *
 *   phc-igb-latch PCI=sync|delay_req [PCI=...]   (runs until SIGTERM)
 * On SIGTERM or SIGUSR1 it prints, per NIC, how many latches it released,
 * how often it rewrote TSYNCRXCFG and how many TIMINCA changes it undid.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TSYNCRXCTL 0x0B620
#define TSYNCRXCTL_VALID 0x1u
#define TSYNCRXCTL_ENABLED 0x10u
#define TSYNCRXCFG 0x05F50
#define RXSTMPL 0x0B624
#define RXSTMPH 0x0B628
#define RXSATRH 0x0B630
#define SYSTIML 0x0B600
#define SYSTIMH 0x0B604
#define TIMINCA 0x0B608
#define TIMADJL 0x0B60C
#define TIMADJH 0x0B610
#define INCVALUE_MASK 0x00ffffffu
#define POLL_MS 2
/* A stamp held this many polls has been read by the driver, or never will. */
#define LATCH_POLLS 25
/* The calibration's TIMINCA step (~1.2 % of the 82576's 16 << 19). */
#define CAL_D 100000
#define MAX_NICS 4

struct nic {
	const char *pci;
	const char *what;
	volatile uint32_t *bar;
	uint32_t cfg; /* TSYNCRXCFG[15:8]: the message type to stamp */
	int seen;     /* polls VALID has been set with this stamp */
	uint32_t lo, hi;
	uint32_t timinca; /* as last seen */
	int64_t virt_off; /* QEMU virtual ns - CLOCK_MONOTONIC_RAW ns */
	unsigned long released, rewrites, polls_valid, timinca_writes;
	int64_t comp_total; /* SYSTIM units added (but the 2^60s) */
};

static volatile sig_atomic_t stop, report;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}
static void on_usr1(int sig)
{
	(void)sig;
	report = 1;
}

static uint32_t rd(const struct nic *n, unsigned off)
{
	return n->bar[off / 4];
}
static void wr(const struct nic *n, unsigned off, uint32_t v)
{
	n->bar[off / 4] = v;
}

static int64_t mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t systim(const struct nic *n)
{
	uint32_t lo = rd(n, SYSTIML); /* latches SYSTIMH */

	return (uint64_t)rd(n, SYSTIMH) << 32 | lo;
}

static void timadj_add(struct nic *n, int64_t v)
{
	wr(n, TIMADJL, (uint32_t)((uint64_t)v & 0xffffffffu));
	wr(n, TIMADJH, (uint32_t)((uint64_t)v >> 32)); /* applies both */
}

/*
 * QEMU's virtual clock against ours: a TIMINCA write of inc + CAL_D makes
 * SYSTIM jump by 2 * CAL_D * ns / 16 (the sign error), ns being the
 * virtual clock at the write; SYSTIM's own progress meanwhile is taken
 * out with CLOCK_MONOTONIC_RAW. The write back undoes it (but for the
 * few microseconds between, 2 * CAL_D * dt / 16 units: well under 1 ns).
 */
static int calibrate(struct nic *n)
{
	uint32_t inc = rd(n, TIMINCA);
	uint32_t incv = inc & INCVALUE_MASK;
	uint64_t a, b;
	int64_t m0, m1, m2, jump, ns;

	if (incv == 0 || incv + CAL_D > INCVALUE_MASK)
		return -1;
	m0 = mono_raw_ns();
	a = systim(n);
	m1 = mono_raw_ns();
	wr(n, TIMINCA, inc + CAL_D);
	b = systim(n);
	wr(n, TIMINCA, inc);
	m2 = mono_raw_ns();
	/* the decrease back added 2^60 units more: take them out */
	timadj_add(n, -((int64_t)1 << 60));
	/* b - a: progress (about (m2 - m0) / 2 at either rate) + the jump */
	jump = (int64_t)(b - a) -
	       (int64_t)((double)(m2 - m0) / 2.0 * (double)incv / 16.0);
	ns = (int64_t)((double)jump * 16.0 / (2.0 * CAL_D));
	n->virt_off = ns - m1;
	n->timinca = inc;
	printf("phc-igb-latch: %s: TIMINCA 0x%08x; QEMU's virtual clock is "
	       "CLOCK_MONOTONIC_RAW %+.3f ms (calibration window %lld ns)\n",
	       n->pci, inc, (double)n->virt_off / 1e6, (long long)(m2 - m0));
	return 0;
}

/* Undo the jump QEMU added when the driver changed TIMINCA. */
static void compensate(struct nic *n, uint32_t now)
{
	int64_t d = (int64_t)(now & INCVALUE_MASK) -
		    (int64_t)(n->timinca & INCVALUE_MASK);
	int64_t ns = mono_raw_ns() + n->virt_off;

	/*
	 * the 82576's INCPERIOD is 1 (0 counts as 1 in QEMU). QEMU added
	 * floor(ns * d / 16) for d > 0, 2^60 - ceil(ns * -d / 16) for d < 0;
	 * continuity wanted -ns * d / 16.
	 */
	if ((now >> 24) <= 1 && (n->timinca >> 24) <= 1 && d != 0) {
		int64_t c = (int64_t)(-(double)d * (double)ns / 8.0);

		n->comp_total += c;
		if (d < 0)
			c -= (int64_t)1 << 60;
		timadj_add(n, c);
	}
	n->timinca = now;
	n->timinca_writes++;
}

static int map_bar(struct nic *n)
{
	char path[256];
	struct stat st;
	int fd;
	void *p;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0",
		 n->pci);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "phc-igb-latch: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr,
			"phc-igb-latch: mmap %s: %s (boot with "
			"iomem=relaxed)\n",
			path, strerror(errno));
		return -1;
	}
	n->bar = p;
	return 0;
}

static void print_report(const struct nic *nics, int k)
{
	for (int i = 0; i < k; i++)
		printf("phc-igb-latch: %s (%s): %lu latched stamps released, "
		       "TSYNCRXCFG rewritten %lu times, TSYNCRXCTL now 0x%x, "
		       "%lu TIMINCA changes compensated (%+.3f ms in all)\n",
		       nics[i].pci, nics[i].what, nics[i].released,
		       nics[i].rewrites, rd(&nics[i], TSYNCRXCTL),
		       nics[i].timinca_writes,
		       (double)nics[i].comp_total / 524288.0 / 1e6);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct nic nics[MAX_NICS];
	struct sched_param sp = { .sched_priority = 1 };
	struct timespec t = { 0, POLL_MS * 1000000L };
	int k = 0;

	memset(nics, 0, sizeof(nics));
	for (int i = 1; i < argc && k < MAX_NICS; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq)
			goto usage;
		*eq = '\0';
		nics[k].pci = argv[i];
		nics[k].what = eq + 1;
		if (strcmp(eq + 1, "sync") == 0)
			nics[k].cfg =
				0x00; /* messageType 0, transportSpecific 0 */
		else if (strcmp(eq + 1, "delay_req") == 0)
			nics[k].cfg = 0x01;
		else
			goto usage;
		if (map_bar(&nics[k]) != 0)
			return 1;
		k++;
	}
	if (k == 0)
		goto usage;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_usr1);
	/*
	 * Ahead of every normal task, so that a TIMINCA jump is undone within
	 * a poll even when the guest is busy and a stamp is released before
	 * the next frame: it sleeps POLL_MS between polls of a few register
	 * reads. The driver's Rx path (softirq, or ksoftirqd meanwhile) has
	 * LATCH_POLLS polls to read the stamp first.
	 */
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
		fprintf(stderr, "phc-igb-latch: SCHED_FIFO: %s\n",
			strerror(errno));
	for (int i = 0; i < k; i++)
		if (calibrate(&nics[i]) != 0) {
			fprintf(stderr,
				"phc-igb-latch: %s: TIMINCA 0x%08x: "
				"not an 82576 set up by igb\n",
				nics[i].pci, rd(&nics[i], TIMINCA));
			return 1;
		}
	for (int i = 0; i < k; i++)
		printf("phc-igb-latch: %s: stamping %s frames "
		       "(TSYNCRXCFG[15:8] = 0x%02x), "
		       "releasing latches older than %d ms\n",
		       nics[i].pci, nics[i].what, nics[i].cfg,
		       POLL_MS * LATCH_POLLS);
	fflush(stdout);

	while (!stop) {
		for (int i = 0; i < k; i++) {
			struct nic *n = &nics[i];
			uint32_t ctl, cfg, inc = rd(n, TIMINCA);

			if (inc != n->timinca)
				compensate(n, inc);
			ctl = rd(n, TSYNCRXCTL);
			cfg = rd(n, TSYNCRXCFG);
			if (!(ctl & TSYNCRXCTL_ENABLED)) {
				n->seen = 0;
				continue;
			}
			if (((cfg >> 8) & 0xff) != n->cfg) {
				wr(n, TSYNCRXCFG,
				   (cfg & ~0xff00u) | (n->cfg << 8));
				n->rewrites++;
			}
			if (!(ctl & TSYNCRXCTL_VALID)) {
				n->seen = 0;
				continue;
			}
			n->polls_valid++;
			uint32_t lo = rd(n, RXSTMPL), hi = rd(n, RXSTMPH);

			if (n->seen && lo == n->lo && hi == n->hi) {
				if (++n->seen > LATCH_POLLS) {
					(void)rd(n, RXSATRH); /* clears VALID */
					n->released++;
					n->seen = 0;
				}
			} else {
				n->seen = 1;
				n->lo = lo;
				n->hi = hi;
			}
		}
		if (report) {
			report = 0;
			print_report(nics, k);
		}
		nanosleep(&t, NULL);
	}
	print_report(nics, k);
	return 0;
usage:
	fprintf(stderr, "usage: phc-igb-latch PCI=sync|delay_req "
			"[PCI=sync|delay_req ...]\n");
	return 2;
}
