/* SPDX-License-Identifier: MIT */
/*
 * The operator's view of the daemon, taken at one instant and rendered
 * three ways for the control socket (control.h): text for people, JSON
 * for programs (the probe's live bound), and the Prometheus text format.
 *
 * control_status_collect() reads the discipline and the vhost-user server (both
 * cheap, nothing is polled); the renderers are pure functions of the
 * report, so tests feed them made-up reports.
 * Thread/loop: the default GLib main context (collect); renderers any.
 */
#ifndef SRC_CONTROL_STATUS_H
#define SRC_CONTROL_STATUS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "discipline.h"
#include "vu_server.h"

/* One VM (front-end connection). */
struct control_status_vm {
	char name[112]; /* its label: QEMU -name, else conn (vu_server.h) */
	char conn[112]; /* "SOCKET#N" */
	bool cred;	/* the peer's pid and uid are known */
	long pid;	/* 0: outside our pid namespace */
	unsigned long uid;
	char qemu_name[VU_PEER_NAME_MAX]; /* "": none */
	double connected_s;		  /* since accept */
	uint64_t requests, errors, alarm_events;
	uint64_t by_status[8];		   /* by virtio-rtc status code */
	uint64_t busy_p50_ns, busy_p99_ns; /* UINT64_MAX: off scale */
	char queue[VU_NUM_QUEUES][96]; /* "running", "stopped", "broken: " */
};

/* One listening socket for VMs: a socket-path or an --fd. */
struct control_status_socket {
	char name[112];
	unsigned int connections; /* open, accepted on this socket */
};

/* Live upgrades (src/upgrade.h), as the daemon keeps them. */
struct control_status_upgrade {
	bool available;	      /* a launcher runs: upgrade is possible */
	uint32_t generation;  /* 1 for a daemon started afresh */
	uint64_t adoptions;   /* generations before this one (in a row) */
	double last_pause_ms; /* the last hand-over's pause of service */
	uint64_t failed;      /* upgrades that left this process serving */
	char last_error[160]; /* the last one's reason, "" */
	bool recovered;	      /* started from a crashed process's state */
	/* crash recovery's fd store (src/persist.h) */
	bool store;	       /* $NOTIFY_SOCKET: state kept there */
	uint64_t store_images; /* state images stored */
	uint64_t store_failed; /* stores and removals that failed */
	char store_error[160]; /* the last failure, "" */
};

struct control_status_report {
	const char *version;
	long pid;
	double uptime_s;
	double start_utc_s; /* the daemon's start, POSIX s (CLOCK_REALTIME) */
	bool have_disc;	    /* false: no discipline (tests) */
	struct discipline_status disc;
	uint64_t counter_now; /* the model's counter, when taken */
	uint64_t bound_ns;    /* served TAI bound at counter_now */
	int64_t tai_ns;	      /* served TAI at counter_now */
	struct vu_server_stats vms;
	struct control_status_vm *vm; /* vms.connected entries (g_new) */
	unsigned int n_vm;
	struct control_status_socket
		*sock; /* the VM sockets served now (g_new) */
	unsigned int n_sock;
	struct control_status_upgrade
		upgrade; /* set by the caller; zero: none */
};

/*
 * control_status_collect() - fill @r as of now. @d or @s may be NULL (left
 * out).
 * @start_ns is the daemon's start on CLOCK_MONOTONIC, @start_utc_s the
 * same instant on CLOCK_REALTIME in POSIX seconds (read once at start,
 * so it does not move when the system clock is stepped). Free with
 * control_status_report_clear().
 */
void control_status_collect(struct control_status_report *r,
			    const struct discipline *d,
			    const struct vu_server *s, uint64_t start_ns,
			    double start_utc_s);

/* Free what control_status_collect() allocated; @r may then be reused. */
void control_status_report_clear(struct control_status_report *r);

/* Append the report to @out: text (several lines), JSON (one object
 * and "\n", the schema in README "Status and metrics"), or Prometheus
 * text exposition format 0.0.4. */
void control_status_render_text(const struct control_status_report *r,
				GString *out);
void control_status_render_json(const struct control_status_report *r,
				GString *out);
void control_status_render_metrics(const struct control_status_report *r,
				   GString *out);

/* "OK", "EOPNOTSUPP", ... for a virtio-rtc status code; NULL if unused. */
const char *control_status_code_name(unsigned int code);

#endif /* SRC_CONTROL_STATUS_H */
