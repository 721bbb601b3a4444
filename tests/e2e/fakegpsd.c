// SPDX-License-Identifier: MIT
/*
 * fakegpsd: a stand-in for gpsd on 127.0.0.1, for the end-to-end test
 * (run.sh). It speaks gpsd's JSON protocol (gpsd_json(5)) as far as the
 * daemon's client uses it: VERSION on connect; on ?WATCH, DEVICES and the
 * WATCH reply; then, every period, to every watching client, a TPV (3D
 * fix, leapseconds 18), a TOFF and a PPS whose receiver time (real_sec,
 * real_nsec) is the host's CLOCK_REALTIME read at that moment, equal to
 * its host time (clock_sec, clock_nsec).
 *
 * So it declares the host's own CLOCK_REALTIME to be true UTC: it is no
 * GNSS receiver, and a daemon following it is "synchronized" to this
 * host's kernel clock, nothing more. That is exactly what QEMU's built-in
 * virtio-rtc device (the e2e reference) serves the guest, which makes the
 * guest's containment check a real test of the served model and bound.
 *
 *   fakegpsd PORTFILE [PERIOD_MS]
 *
 * Listens on an ephemeral port of 127.0.0.1 and writes its number to
 * PORTFILE (complete when the file appears); the period defaults to
 * 1000 ms (gpsd reports once per second). SIGTERM or SIGINT ends it, and
 * with it every client's connection, as a gpsd that stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 8
#define DEVICE "/dev/ttyFAKE0"
#define LEAP_S 18 /* GPS - UTC */
#define NS 1000000000LL

static volatile sig_atomic_t stop;

struct client {
	int fd; /* -1: free */
	int watching;
	char in[512];
	size_t n;
};

static struct client cl[CLIENTS];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->watching = 0;
	c->n = 0;
}

/* gpsd drops a client that does not keep up; so do we. */
static void send_to(struct client *c, const char *buf, size_t n)
{
	if (c->fd >= 0 &&
	    send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n) {
		drop(c);
	}
}

static void send_str(struct client *c, const char *s)
{
	send_to(c, s, strlen(s));
}

static void accept_one(int lfd)
{
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0) {
		return;
	}
	for (int i = 0; i < CLIENTS; i++) {
		if (cl[i].fd < 0) {
			cl[i].fd = fd;
			send_str(&cl[i],
				 "{\"class\":\"VERSION\",\"release\":\"3.22\","
				 "\"rev\":\"3.22\",\"proto_major\":3,"
				 "\"proto_minor\":14}\n");
			return;
		}
	}
	close(fd);
}

/* Commands end with ';' or a newline; only ?WATCH is answered. */
static void command(struct client *c, const char *cmd)
{
	if (strncmp(cmd, "?WATCH", 6) != 0) {
		return;
	}
	c->watching = strstr(cmd, "\"enable\":true") != NULL;
	send_str(c, "{\"class\":\"DEVICES\",\"devices\":[{\"class\":\"DEVICE\","
		    "\"path\":\"" DEVICE "\",\"driver\":\"NMEA0183\","
		    "\"flags\":1,\"native\":0,\"bps\":9600,\"parity\":\"N\","
		    "\"stopbits\":1,\"cycle\":1.00}]}\n");
	send_str(c, c->watching ? "{\"class\":\"WATCH\",\"enable\":true,"
				  "\"json\":true,\"nmea\":false,\"raw\":0,"
				  "\"scaled\":false,\"timing\":false,"
				  "\"split24\":false,\"pps\":true}\n"
				: "{\"class\":\"WATCH\",\"enable\":false}\n");
}

static void receive(struct client *c)
{
	ssize_t r = recv(c->fd, c->in + c->n, sizeof(c->in) - 1 - c->n,
			 MSG_DONTWAIT);
	char *p, *e;

	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			drop(c);
		}
		return;
	}
	c->n += (size_t)r;
	c->in[c->n] = '\0';
	p = c->in;
	while ((e = strpbrk(p, ";\n")) != NULL) {
		*e = '\0';
		command(c, p);
		p = e + 1;
	}
	c->n = strlen(p);
	memmove(c->in, p, c->n + 1);
	if (c->n >= sizeof(c->in) - 1) {
		drop(c); /* a command longer than gpsd takes */
	}
}

/* One report cycle: TPV, TOFF and PPS, all from one CLOCK_REALTIME read. */
static void report(void)
{
	int64_t rt = now_ns(CLOCK_REALTIME);
	long long s = rt / NS;
	long ns = (long)(rt % NS);
	char buf[1024];
	time_t t = (time_t)s;
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	n = snprintf(buf, sizeof(buf),
		     "{\"class\":\"TPV\",\"device\":\"" DEVICE "\",\"mode\":3,"
		     "\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\","
		     "\"leapseconds\":%d}\n"
		     "{\"class\":\"TOFF\",\"device\":\"" DEVICE
		     "\",\"real_sec\":%lld,"
		     "\"real_nsec\":%ld,\"clock_sec\":%lld,\"clock_nsec\":%ld,"
		     "\"precision\":-1}\n"
		     "{\"class\":\"PPS\",\"device\":\"" DEVICE
		     "\",\"real_sec\":%lld,"
		     "\"real_nsec\":%ld,\"clock_sec\":%lld,\"clock_nsec\":%ld,"
		     "\"precision\":-20,\"qErr\":0}\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ns / 1000000, LEAP_S, s, ns, s, ns,
		     s, ns, s, ns);
	for (int i = 0; i < CLIENTS; i++) {
		if (cl[i].fd >= 0 && cl[i].watching) {
			send_to(&cl[i], buf, (size_t)n);
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct sigaction sa = { .sa_handler = on_signal };
	int64_t period, next;
	char tmp[4096];
	FILE *f;
	int lfd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: fakegpsd PORTFILE [PERIOD_MS]\n");
		return 2;
	}
	period = (argc == 3 ? atoll(argv[2]) : 1000) * 1000000LL;
	if (period <= 0) {
		fprintf(stderr, "fakegpsd: bad period %s\n", argv[2]);
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i].fd = -1;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
		perror("fakegpsd: listen on 127.0.0.1");
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) ||
	    rename(tmp, argv[1])) {
		perror("fakegpsd: writing the port file");
		return 1;
	}
	next = now_ns(CLOCK_MONOTONIC);
	while (!stop) {
		struct pollfd p[1 + CLIENTS];
		int64_t wait = next - now_ns(CLOCK_MONOTONIC);

		if (wait <= 0) {
			report();
			next += period;
			if (next < now_ns(CLOCK_MONOTONIC)) {
				next = now_ns(CLOCK_MONOTONIC) + period;
			}
			continue;
		}
		p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < CLIENTS; i++) {
			p[1 + i] = (struct pollfd){ .fd = cl[i].fd,
						    .events = POLLIN };
		}
		if (poll(p, 1 + CLIENTS, (int)(wait / 1000000) + 1) <= 0) {
			continue;
		}
		if (p[0].revents & POLLIN) {
			accept_one(lfd);
		}
		for (int i = 0; i < CLIENTS; i++) {
			if (cl[i].fd >= 0 && p[1 + i].fd == cl[i].fd &&
			    p[1 + i].revents) {
				receive(&cl[i]);
			}
		}
	}
	for (int i = 0; i < CLIENTS; i++) {
		if (cl[i].fd >= 0) {
			close(cl[i].fd);
		}
	}
	close(lfd);
	return 0;
}
