/* SPDX-License-Identifier: MIT */
/*
 * The status page: the served clock model as a vmclock page
 * (include/vmclock_wire.h) in a file, rewritten at every publish, for
 * host applications (libvrtc, include/vrtc.h) and, through QEMU's
 * ivshmem-plain device, for guests. The README's "Status page" section
 * says what each field means for us; in short:
 *
 *   time_type        TAI; tai_offset_sec = UTC - TAI (-37 in 2026)
 *   time_sec/_frac   TAI at the model's reference point c0
 *   time_maxerror    the bound at that instant; _esterror the estimate
 *   counter_value    c0: host CLOCK_MONOTONIC_RAW in ns (counter_id is
 *                    INVALID: the ABI has no id for that counter)
 *   counter_period   the model's ns per tick, in 2^-(64+shift) s;
 *                    its maxerror_rate is the model's rate bound
 *   clock_status     the model's status (same values)
 *   leap_indicator   from the leap table around the reference point
 *   disruption_marker a random value per open, + 1 per model step
 *
 * The file is created 0444 and owned by the daemon's (start-up) user;
 * no one else can write it. The daemon keeps its mapping after the
 * privilege drop. Thread/loop: the main loop (publish from the model's
 * observer, and a 1 s refresh while nothing is published).
 */
#ifndef SRC_VMCLOCK_PAGE_H
#define SRC_VMCLOCK_PAGE_H

#include <glib.h>
#include <stdint.h>

#include "clock_model.h"
#include "vmclock_wire.h"

/* counter_period_shift used for a period of about 1 ns per tick. */
#define VMCLOCK_PAGE_PERIOD_SHIFT 24

/*
 * vmclock_page_encode() - the page's fields for snapshot @s, in host
 * byte order, seq_count 0. @s NULL or with generation 0 (nothing
 * published): status UNKNOWN, no error flags, no time. @hint is a
 * VMCLOCK_SMEARING_* value; @marker_base the disruption marker of steps
 * == 0. Pure.
 */
void vmclock_page_encode(const struct clock_snapshot *s, uint8_t hint,
			 uint64_t marker_base, struct vmclock_abi *out);

/*
 * vmclock_page_leap_indicator() - VMCLOCK_LEAP_* at TAI @tai_ns for
 * leap table @t (NULL: NONE): PRE_POS/PRE_NEG from the start of the UTC
 * month whose end has a leap until it takes effect, POS during an
 * inserted second, POST_POS/POST_NEG for the UTC day after.
 */
uint8_t vmclock_page_leap_indicator(const struct leap_table *t, int64_t tai_ns);

/*
 * vmclock_page_store() - write @f (host order) into @page as little-
 * endian fields under the seqlock: seq_count is made odd, every field
 * written, then made even (@f->seq_count is ignored; @page's own count
 * goes on from where it is, so several writers would collide: there is
 * one per page).
 */
void vmclock_page_store(struct vmclock_abi *page, const struct vmclock_abi *f);

struct vmclock_page;

/*
 * vmclock_page_check() - what vmclock_page_open() would refuse for
 * @path whatever runs meanwhile (--check-config): its directory must
 * exist, and @path must not be a directory. Changes nothing; a page
 * another daemon holds is not refused here (that is a conflict with a
 * running daemon, like a socket in use, not a bad setting). Returns 0
 * or -errno with @err set, naming @path.
 */
int vmclock_page_check(const char *path, GError **err);

/*
 * vmclock_page_open() - map the page file @path (VMCLOCK_PAGE_SIZE
 * bytes), first written with status UNKNOWN. An existing regular file
 * of ours (our uid, one link, not writable by group or others) is
 * reused in place, so a QEMU that mapped it keeps seeing updates across
 * a daemon restart; anything else at @path is replaced atomically (a new
 * file renamed over it). @hint: VMCLOCK_SMEARING_* of the served
 * smeared clock. Returns NULL with @err set (the message names @path).
 *
 * One daemon per page: the file is flock()ed (exclusive) before it is
 * written, and the lock held until vmclock_page_free(). A page another
 * process holds is refused (G_FILE_ERROR_EXIST, the message names @path
 * and the holder's pid when /proc/locks tells it), never written, not
 * even replaced. The lock belongs to the open file description: it
 * survives an execve() that inherits the page's fd (a re-exec'd daemon
 * keeps its page) and goes when the last such fd closes.
 */
struct vmclock_page *vmclock_page_open(const char *path, uint8_t hint,
				       GError **err);

/*
 * vmclock_page_open_as() - the same, for a live upgrade: with
 * @marker_base (that of the process before, vmclock_page_marker_base()),
 * the page is left as it is, and the disruption marker goes on from the
 * same base: readers see no disruption. NULL: vmclock_page_open().
 * @adopt_fd >= 0: the page file the process before held, with its lock
 * (flock belongs to the open file description, which the fd shares);
 * it must be the file at @path. Ownership passes, even on failure.
 */
struct vmclock_page *vmclock_page_open_as(const char *path, uint8_t hint,
					  const uint64_t *marker_base,
					  int adopt_fd, GError **err);
uint64_t vmclock_page_marker_base(const struct vmclock_page *p);

/*
 * vmclock_page_fd() - the page file's fd, close-on-exec, which holds its
 * lock; owned by @p. For handing the page on to an exec'd daemon.
 */
int vmclock_page_fd(const struct vmclock_page *p);

/* vmclock_page_publish() - rewrite the page from @s. */
void vmclock_page_publish(struct vmclock_page *p,
			  const struct clock_snapshot *s);

/* The longest the page goes unwritten while the daemon runs. */
#define VMCLOCK_PAGE_REFRESH_NS 1000000000ull

/*
 * vmclock_page_refresh() - if the model's latest snapshot is older than
 * VMCLOCK_PAGE_REFRESH_NS (no publish: holdover, or a long sync
 * interval), rewrite the page from it rebased to now
 * (clock_snapshot_rebase(): the same line, the bound grown to now), so
 * that the page's age says whether the daemon is alive, not how long
 * its source has been silent. Call it every VMCLOCK_PAGE_REFRESH_NS.
 */
void vmclock_page_refresh(struct vmclock_page *p, const struct clock_model *m);

/*
 * vmclock_page_observer() - the same, in the clock model's observer
 * form (clock_model_set_observer(); @ctx is the page).
 */
void vmclock_page_observer(void *ctx, const struct clock_snapshot *s);

/*
 * vmclock_page_free() - mark the page UNKNOWN (readers refuse at once
 * rather than after it goes stale), unmap it, release its lock, keep the
 * file. NULL is a no-op.
 */
void vmclock_page_free(struct vmclock_page *p);

#endif /* SRC_VMCLOCK_PAGE_H */
