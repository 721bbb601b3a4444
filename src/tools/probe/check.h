/* SPDX-License-Identifier: MIT */
/*
 * The probe's check: helpers shared by check.c (requests, status rules)
 * and check_alarm.c (the alarm feature). Single-threaded; results go to
 * stdout, one line each.
 */
#ifndef PROBE_CHECK_H
#define PROBE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend.h"

/* Request bytes check_build() fills (room for padding tests too). */
#define CHECK_REQ_LEN 64
/* Clocks examined at most. */
#define CHECK_MAX_CLOCKS 64

/*
 * check_req() - print and count one requirement: "PASS|FAIL @section
 * "@quote"" and, with @fmt, ": " and the details.
 */
void check_req(bool ok, const char *section, const char *quote, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));

/* A zeroed request of @msg_type with clock_id at bytes 8-9 and
 * @counter at byte 10 (hw_counter, or the low byte of reserved). */
void check_build(uint8_t *buf, uint16_t msg_type, uint16_t clock_id,
		 uint8_t counter);

/*
 * check_call() - one request of @req_len bytes with @resp_cap bytes of
 * response room (0: no write-only descriptor at all). Returns 0 when a
 * used entry came back, -errno otherwise (logged to stderr).
 */
int check_call(struct vuf *v, const uint8_t *req, size_t req_len,
	       size_t resp_cap, struct vuf_rtc_reply *r);

/* True if bytes [@from, @to) of @p are all zero. */
bool check_zero(const uint8_t *p, size_t from, size_t to);

/*
 * check_alarms() - the alarm requirements, on a new connection to
 * @socket with VIRTIO_RTC_F_ALARM negotiated and the alarmq started.
 * @num: clocks the device has.
 */
void check_alarms(const char *socket, uint16_t num);

#endif /* PROBE_CHECK_H */
