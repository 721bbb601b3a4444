// SPDX-License-Identifier: MIT
/* A fake gpsd on a real TCP socket; see harness_fakegpsd.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness_fakegpsd.h"
#include "time_ns.h"

#define NS_PER_MS 1000000LL
#define FG_DEVICE "/dev/ttyFAKE0"

struct fake_gpsd {
	int lfd;
	int port;
	int cfd[FAKE_GPSD_CLIENTS]; /* -1: free */
	int64_t period_ns;
	pthread_t th;
	atomic_bool stop;
	atomic_llong offset_ns;
	atomic_int leap_s; /* the TPV's "leapseconds" (GPS - UTC) */
	atomic_ullong reports;
};

/* Floor division into seconds and nanoseconds 0..999999999. */
static void split_ns(int64_t ns, long long *sec, long *nsec)
{
	*sec = ns / NS_PER_S;
	*nsec = (long)(ns % NS_PER_S);
	if (*nsec < 0) {
		*nsec += NS_PER_S;
		(*sec)--;
	}
}

static void fg_drop(struct fake_gpsd *g, int i)
{
	close(g->cfd[i]);
	g->cfd[i] = -1;
}

static void fg_send(struct fake_gpsd *g, int i, const char *buf, size_t n)
{
	if (g->cfd[i] >= 0 && send(g->cfd[i], buf, n,
				   MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n) {
		fg_drop(g, i); /* gone, or not reading: as gpsd does */
	}
}

static void fg_accept(struct fake_gpsd *g)
{
	static const char version[] =
		"{\"class\":\"VERSION\",\"release\":\"3.22\",\"rev\":\"3.22\","
		"\"proto_major\":3,\"proto_minor\":14}\n";
	int fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		return;
	}
	for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
		if (g->cfd[i] < 0) {
			g->cfd[i] = fd;
			fg_send(g, i, version, sizeof(version) - 1);
			return;
		}
	}
	close(fd);
}

/* One report cycle, TPV then PPS, to every client. */
static void fg_report(struct fake_gpsd *g)
{
	char buf[512];
	int64_t clk = time_ns_now(CLOCK_REALTIME);
	int64_t real = clk + atomic_load(&g->offset_ns);
	long long cs, rs;
	long cn, rn;
	struct tm tm;
	time_t t;
	int n;

	split_ns(clk, &cs, &cn);
	split_ns(real, &rs, &rn);
	t = (time_t)rs;
	gmtime_r(&t, &tm);
	n = snprintf(buf, sizeof(buf),
		     "{\"class\":\"TPV\",\"device\":\"%s\",\"mode\":3,"
		     "\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.000Z\","
		     "\"leapseconds\":%d}\n"
		     "{\"class\":\"PPS\",\"device\":\"%s\",\"real_sec\":%lld,"
		     "\"real_nsec\":%ld,\"clock_sec\":%lld,\"clock_nsec\":%ld,"
		     "\"precision\":-20}\n",
		     FG_DEVICE, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, atomic_load(&g->leap_s),
		     FG_DEVICE, rs, rn, cs, cn);
	for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
		if (g->cfd[i] >= 0) {
			fg_send(g, i, buf, (size_t)n);
			if (g->cfd[i] >= 0) {
				atomic_fetch_add(&g->reports, 1);
			}
		}
	}
}

static void *fg_thread(void *arg)
{
	struct fake_gpsd *g = arg;
	int64_t next = time_ns_now(CLOCK_MONOTONIC);

	while (!atomic_load(&g->stop)) {
		struct pollfd p[1 + FAKE_GPSD_CLIENTS];
		int64_t wait = next - time_ns_now(CLOCK_MONOTONIC);
		char junk[512];
		int ms;

		if (wait <= 0) {
			fg_report(g);
			next += g->period_ns;
			if (next < time_ns_now(CLOCK_MONOTONIC)) {
				next = time_ns_now(CLOCK_MONOTONIC) +
				       g->period_ns;
			}
			continue;
		}
		p[0] = (struct pollfd){ .fd = g->lfd, .events = POLLIN };
		for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
			p[1 + i] = (struct pollfd){ .fd = g->cfd[i],
						    .events = POLLIN };
		}
		/* wake at least every 50 ms to see the stop flag */
		ms = wait > 50 * NS_PER_MS ? 50 : (int)(wait / NS_PER_MS) + 1;
		if (poll(p, 1 + FAKE_GPSD_CLIENTS, ms) <= 0) {
			continue;
		}
		if (p[0].revents & POLLIN) {
			fg_accept(g);
		}
		for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
			/* the ?WATCH and anything else: read and ignored */
			if (g->cfd[i] >= 0 && p[1 + i].fd == g->cfd[i] &&
			    (p[1 + i].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    recv(g->cfd[i], junk, sizeof(junk), MSG_DONTWAIT) <=
				    0) {
				fg_drop(g, i);
			}
		}
	}
	return NULL;
}

struct fake_gpsd *fake_gpsd_start(unsigned int period_ms, char *err, size_t len)
{
	return fake_gpsd_start_on(period_ms, 0, err, len);
}

struct fake_gpsd *fake_gpsd_start_on(unsigned int period_ms, int port,
				     char *err, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct fake_gpsd *g = calloc(1, sizeof(*g));
	int one = 1;

	if (!g || !period_ms) {
		snprintf(err, len, "fake gpsd: %s",
			 g ? "period 0" : strerror(ENOMEM));
		free(g);
		return NULL;
	}
	for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
		g->cfd[i] = -1;
	}
	g->period_ns = (int64_t)period_ms * NS_PER_MS;
	atomic_init(&g->leap_s, FAKE_GPSD_LEAP_S);
	g->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g->lfd >= 0 && port) {
		/* a port a previous fake gpsd (or the daemon's tries) used */
		(void)setsockopt(g->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one));
	}
	if (g->lfd < 0 || bind(g->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(g->lfd, 4) < 0 ||
	    getsockname(g->lfd, (struct sockaddr *)&a, &alen) < 0) {
		snprintf(err, len, "fake gpsd: listen: %s", strerror(errno));
		goto fail;
	}
	g->port = ntohs(a.sin_port);
	if (pthread_create(&g->th, NULL, fg_thread, g) != 0) {
		snprintf(err, len, "fake gpsd: no thread");
		goto fail;
	}
	return g;
fail:
	if (g->lfd >= 0) {
		close(g->lfd);
	}
	free(g);
	return NULL;
}

int fake_gpsd_port(const struct fake_gpsd *g)
{
	return g->port;
}

void fake_gpsd_set_offset(struct fake_gpsd *g, int64_t offset_ns)
{
	atomic_store(&g->offset_ns, offset_ns);
}

void fake_gpsd_set_leapseconds(struct fake_gpsd *g, int leap_s)
{
	atomic_store(&g->leap_s, leap_s);
}

uint64_t fake_gpsd_reports(const struct fake_gpsd *g)
{
	return atomic_load(&g->reports);
}

void fake_gpsd_stop(struct fake_gpsd *g)
{
	if (!g) {
		return;
	}
	atomic_store(&g->stop, true);
	pthread_join(g->th, NULL);
	for (int i = 0; i < FAKE_GPSD_CLIENTS; i++) {
		if (g->cfd[i] >= 0) {
			close(g->cfd[i]);
		}
	}
	close(g->lfd);
	free(g);
}
