// SPDX-License-Identifier: MIT
/*
 * libvrtc: what a handle keeps between readings, shared by every thread
 * reading through it: the page file's identity and its replacement
 * (recovery), the disruption marker last seen, and the highest earliest
 * returned. Readers only load, but for one compare-and-swap when the
 * earliest moves on; a reopen is published under a generation count
 * (odd while the mapping changes), the page's own seqlock one level up.
 *
 * The mapping's address never changes: a new page file is mapped
 * elsewhere, checked, and moved over the old mapping with mremap(), so a
 * reader racing it reads one page or the other (and then copies again,
 * seeing the generation move), never unmapped memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "vrtc_internal.h"
#include "vrtc_page.h"

/* The page file's identity is compared this often, */
#define CHECK_EVERY_NS 1000000000ull
/* and after a failed reading this often. */
#define CHECK_FAILED_NS 10000000ull
/* The seq_count kept with the marker is brought forward after this
 * many writes, so that it never wraps around a reading's. */
#define KEY_REFRESH (1u << 20)

static uint64_t raw_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The disruption marker last seen, with the page's seq_count when it was
 * (which only grows on one file, across daemons that reuse it): one word,
 * so that one compare-and-swap orders readings. A reading of an older
 * page (its thread was held up meanwhile) neither reports nor records a
 * marker. The marker is folded to 32 bits: a new random one matches the
 * old one once in 2^32 daemon restarts, a step never does.
 */
static uint64_t marker_key(const struct vmclock_abi *f)
{
	uint64_t m = f->disruption_marker;

	return (uint64_t)f->seq_count << 32 | (uint32_t)(m ^ (m >> 32));
}

void vrtc_handle_init(struct vrtc *v)
{
	struct vmclock_abi f;

	v->max_earliest_ns = INT64_MIN;
	v->next_check_ns = raw_now_ns() + CHECK_EVERY_NS;
	if (vrtc_page_copy(v->map, v->len, &f) == 0) {
		v->marker_key = marker_key(&f);
	}
}

int vrtc_handle_copy(struct vrtc *v, struct vmclock_abi *f, uint32_t *gen)
{
	for (int i = 0; i < VRTC_PAGE_TRIES; i++) {
		uint32_t g = __atomic_load_n(&v->map_gen, __ATOMIC_ACQUIRE);
		int r;

		if (g & 1) {
			continue;
		}
		r = vrtc_page_copy(v->map, v->len, f);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&v->map_gen, __ATOMIC_RELAXED) == g) {
			*gen = g;
			return r;
		}
	}
	return -EAGAIN;
}

/* The file at v->page_path if it is another valid page: mapped (at
 * *@map) with its identity in @st and its marker_key() in @key; else
 * -errno. */
static int map_new(struct vrtc *v, const void **map, struct stat *st,
		   uint64_t *key)
{
	struct vmclock_abi f;
	size_t len;
	int r;

	if (stat(v->page_path, st)) {
		return -errno;
	}
	if (st->st_dev == v->page_dev && st->st_ino == v->page_ino) {
		return -EEXIST; /* the same file: nothing to do */
	}
	r = vrtc_map_file(v->page_path, true, map, &len, st);
	if (r) {
		return r;
	}
	/* a file the daemon created and has not written yet: later */
	r = vrtc_page_copy(*map, len, &f);
	if (r) {
		munmap((void *)*map, len);
		return r;
	}
	*key = marker_key(&f);
	return 0;
}

int vrtc_handle_check(struct vrtc *v, uint64_t raw_ns, int failed)
{
	uint64_t next = __atomic_load_n(&v->next_check_ns, __ATOMIC_RELAXED);
	const void *m = NULL;
	struct stat st;
	uint64_t key = 0;
	uint32_t g;
	int done = 0;

	if (raw_ns + (failed ? CHECK_EVERY_NS - CHECK_FAILED_NS : 0) < next) {
		return 0;
	}
	if (__atomic_exchange_n(&v->reopening, 1, __ATOMIC_ACQUIRE)) {
		return 0; /* another thread is at it */
	}
	__atomic_store_n(&v->next_check_ns, raw_ns + CHECK_EVERY_NS,
			 __ATOMIC_RELAXED);
	if (map_new(v, &m, &st, &key) == 0) {
		g = __atomic_load_n(&v->map_gen, __ATOMIC_RELAXED);
		__atomic_store_n(&v->map_gen, g + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (mremap((void *)m, v->len, v->len,
			   MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)v->map) != MAP_FAILED) {
			v->page_dev = st.st_dev;
			v->page_ino = st.st_ino;
			/* one disruption, reported once: by the reopened
			 * flag, not again by the new marker */
			__atomic_store_n(&v->marker_key, key, __ATOMIC_RELEASE);
			__atomic_store_n(&v->reopened, 1, __ATOMIC_RELAXED);
			done = 1;
		} else {
			munmap((void *)m, v->len);
		}
		__atomic_store_n(&v->map_gen, g + 2, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&v->reopening, 0, __ATOMIC_RELEASE);
	return done;
}

/* Whether earliest may be held up: always in TAI; in UTC not while a
 * leap second is announced or just passed (UTC repeats a second). */
static bool monotonic_ok(const struct vrtc *v, const struct vmclock_abi *f)
{
	return v->ts == VRTC_TIMESCALE_TAI ||
	       f->leap_indicator == VMCLOCK_LEAP_NONE;
}

/*
 * earliest_ns never below one returned before. @floor is the highest
 * earliest returned, loaded before this reading's counter was read, so
 * each reading behind it came before this one in real time and holding
 * to it is sound (a value stored later may come from a reading after
 * this one: using it would not be). A page that contradicts @floor
 * (latest below it: a bound that did not hold) starts again from here;
 * returns true for the one reading that does so.
 */
static bool hold_earliest(struct vrtc *v, bool disrupted, int64_t floor,
			  struct vrtc_time *t)
{
	int64_t prev = floor;

	if (disrupted) {
		__atomic_store_n(&v->max_earliest_ns, t->earliest_ns,
				 __ATOMIC_RELEASE);
		return false;
	}
	if (floor > t->latest_ns) {
		return __atomic_compare_exchange_n(
			&v->max_earliest_ns, &prev, t->earliest_ns, false,
			__ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
	if (floor > t->earliest_ns) {
		t->earliest_ns = floor;
		if (t->now_ns < floor) {
			t->now_ns = floor;
		}
		t->bound_ns = (uint64_t)(t->now_ns - t->earliest_ns);
		return false;
	}
	while (t->earliest_ns > prev &&
	       !__atomic_compare_exchange_n(
		       &v->max_earliest_ns, &prev, t->earliest_ns, true,
		       __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
	}
	return false;
}

/* Whether reading @f (of the current mapping) is the first to see a
 * new disruption marker: then it is recorded. */
static bool new_marker(struct vrtc *v, const struct vmclock_abi *f,
		       uint64_t seen)
{
	uint64_t mine = marker_key(f);
	int32_t ahead = (int32_t)(f->seq_count - (uint32_t)(seen >> 32));

	if ((uint32_t)seen == (uint32_t)mine) {
		if (ahead > (int32_t)KEY_REFRESH) {
			__atomic_compare_exchange_n(&v->marker_key, &seen, mine,
						    false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
		}
		return false;
	}
	return ahead > 0 &&
	       __atomic_compare_exchange_n(&v->marker_key, &seen, mine, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

int64_t vrtc_handle_floor(struct vrtc *v)
{
	return __atomic_load_n(&v->max_earliest_ns, __ATOMIC_ACQUIRE);
}

void vrtc_handle_finish(struct vrtc *v, const struct vmclock_abi *f,
			uint32_t gen, int64_t floor, int r, struct vrtc_time *t)
{
	uint64_t seen;
	uint32_t flags = 0;
	bool current;

	if (r) {
		return; /* zeroed, UNKNOWN */
	}
	t->timescale = v->ts;
	if (t->status == VRTC_STATUS_INITIALIZING ||
	    t->status == VRTC_STATUS_SYNCHRONIZED ||
	    t->status == VRTC_STATUS_FREERUNNING) {
		flags |= VRTC_TIME_TRUSTED;
	}
	/* The marker first, then whether the page read is still the one
	 * mapped: a reading of a file replaced since neither reports nor
	 * records a disruption, and a reopen after the check makes the
	 * compare-and-swap in new_marker() fail. */
	seen = __atomic_load_n(&v->marker_key, __ATOMIC_ACQUIRE);
	current = __atomic_load_n(&v->map_gen, __ATOMIC_ACQUIRE) == gen;
	if (current && __atomic_load_n(&v->reopened, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&v->reopened, 0, __ATOMIC_ACQ_REL)) {
		flags |= VRTC_TIME_DISRUPTED | VRTC_TIME_REOPENED;
	} else if (current && new_marker(v, f, seen)) {
		flags |= VRTC_TIME_DISRUPTED;
	}
	if (current && (flags & VRTC_TIME_TRUSTED) && monotonic_ok(v, f) &&
	    hold_earliest(v, (flags & VRTC_TIME_DISRUPTED) != 0, floor, t)) {
		flags |= VRTC_TIME_DISRUPTED;
	}
	if (flags & VRTC_TIME_DISRUPTED) {
		t->disruptions = __atomic_add_fetch(&v->disruptions, 1,
						    __ATOMIC_RELAXED);
	} else {
		t->disruptions =
			__atomic_load_n(&v->disruptions, __ATOMIC_RELAXED);
	}
	t->flags = flags;
}
