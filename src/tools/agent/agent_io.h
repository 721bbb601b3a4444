/* SPDX-License-Identifier: MIT */
/*
 * vrtc-agent's real ops (agent.h): the served TAI PHC with
 * PTP_SYS_OFFSET_EXTENDED on CLOCK_MONOTONIC_RAW (Linux >= 6.13; else
 * user-space brackets of clock_gettime() on the PHC), the host page
 * through libvrtc's guest mode (ivshmem-plain), and the agent's page
 * file, written in place under the vmclock seqlock.
 */
#ifndef AGENT_AGENT_IO_H
#define AGENT_AGENT_IO_H

#include "agent.h"

struct agent_io;

extern const struct agent_ops agent_io_ops;

/*
 * agent_io_open() - open the host page and the TAI PHC (@host_page,
 * @phc: NULL to find them as libvrtc's guest mode does) and create or
 * reuse the page file @page (mode 0444, its directory 0755). Returns 0
 * or -errno; on error *@what names what failed.
 */
int agent_io_open(const char *page, const char *host_page, const char *phc,
		  struct agent_io **out, const char **what);

/* NULL is a no-op. Leaves the page file in place. */
void agent_io_free(struct agent_io *io);

/* "extended" (EXTENDED on CLOCK_MONOTONIC_RAW), "brackets", or "none"
 * before the first read. */
const char *agent_io_method(const struct agent_io *io);

#endif /* AGENT_AGENT_IO_H */
