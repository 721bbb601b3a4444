// SPDX-License-Identifier: MIT

// Package vrtc is bounded time from vhost-user-rtc's status page: a thin
// cgo wrapper over libvrtc (include/vrtc.h, libvrtc(3)), with the same
// semantics. Build with CGO_CFLAGS=-I<include dir> and
// CGO_LDFLAGS=-L<lib dir> when libvrtc is not installed.
//
// A *Clock may be used from several goroutines at once (libvrtc's
// readings are thread-safe on one handle); Close it once, after them.
package vrtc

/*
#cgo LDFLAGS: -lvrtc
#include <stdlib.h>
#include <time.h>
#include <vrtc.h>
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// Modes and timescales (enum vrtc_mode, enum vrtc_timescale).
const (
	ModeAuto  = C.VRTC_MODE_AUTO
	ModeHost  = C.VRTC_MODE_HOST
	ModeGuest = C.VRTC_MODE_GUEST
	UTC       = C.VRTC_TIMESCALE_UTC
	TAI       = C.VRTC_TIMESCALE_TAI
)

// Status is enum vrtc_status.
type Status int

const (
	StatusUnknown      Status = C.VRTC_STATUS_UNKNOWN
	StatusInitializing Status = C.VRTC_STATUS_INITIALIZING
	StatusSynchronized Status = C.VRTC_STATUS_SYNCHRONIZED
	StatusFreerunning  Status = C.VRTC_STATUS_FREERUNNING
	StatusUnreliable   Status = C.VRTC_STATUS_UNRELIABLE
)

func (s Status) String() string {
	return C.GoString(C.vrtc_status_name(C.enum_vrtc_status(s)))
}

// StampClock is the clock of a stamp for TimeAt.
type StampClock int

const (
	Realtime     StampClock = C.CLOCK_REALTIME
	MonotonicRaw StampClock = C.CLOCK_MONOTONIC_RAW
)

// Error is a libvrtc error: a positive errno.
type Error int

func (e Error) Error() string { return C.GoString(C.vrtc_strerror(C.int(e))) }

// Errno is the error's errno value.
func (e Error) Errno() int { return int(e) }

func check(r C.int) error {
	if r == 0 {
		return nil
	}
	if r < 0 {
		r = -r
	}
	return Error(r)
}

// Options is struct vrtc_options; the zero value is all defaults.
type Options struct {
	Mode      int
	Timescale int
	PagePath  string // "" : $VRTC_PAGE, else the default page
	PHCPath   string
	MaxAge    time.Duration
	NoRecover bool // keep the page first opened
}

// Time is one reading: EarliestNs <= true time <= LatestNs if Trusted().
type Time struct {
	EarliestNs, LatestNs, NowNs int64
	BoundNs                     uint64
	Status                      Status
	Flags                       uint32
	AgeNs, WindowNs             uint64
	DisruptionMarker            uint64
	Timescale                   int
	Disruptions                 uint32
	raw                         C.struct_vrtc_time
}

func fromC(t *C.struct_vrtc_time) Time {
	return Time{
		EarliestNs: int64(t.earliest_ns), LatestNs: int64(t.latest_ns),
		NowNs: int64(t.now_ns), BoundNs: uint64(t.bound_ns),
		Status: Status(t.status), Flags: uint32(t.flags),
		AgeNs: uint64(t.age_ns), WindowNs: uint64(t.window_ns),
		DisruptionMarker: uint64(t.disruption_marker),
		Timescale:        int(t.timescale), Disruptions: uint32(t.disruptions),
		raw: *t,
	}
}

// Trusted says the interval holds true time.
func (t Time) Trusted() bool { return t.Flags&C.VRTC_TIME_TRUSTED != 0 }

// Disrupted marks the first reading after a disruption.
func (t Time) Disrupted() bool { return t.Flags&C.VRTC_TIME_DISRUPTED != 0 }

// Before says t happened definitely before u (vrtc_before()).
func (t Time) Before(u Time) (bool, error) {
	r := C.vrtc_before(&t.raw, &u.raw)
	if r < 0 {
		return false, check(r)
	}
	return r == 1, nil
}

// Clock is a libvrtc handle.
type Clock struct {
	h *C.struct_vrtc
}

// Open opens the page (vrtc_open()).
func Open(o Options) (*Clock, error) {
	var co C.struct_vrtc_options
	co.mode = C.enum_vrtc_mode(o.Mode)
	co.timescale = C.enum_vrtc_timescale(o.Timescale)
	co.max_age_ns = C.uint64_t(o.MaxAge.Nanoseconds())
	if o.NoRecover {
		co.flags = C.VRTC_OPEN_NO_RECOVER
	}
	if o.PagePath != "" {
		co.page_path = C.CString(o.PagePath)
		defer C.free(unsafe.Pointer(co.page_path))
	}
	if o.PHCPath != "" {
		co.phc_path = C.CString(o.PHCPath)
		defer C.free(unsafe.Pointer(co.phc_path))
	}
	var h *C.struct_vrtc
	if err := check(C.vrtc_open(&co, &h)); err != nil {
		return nil, err
	}
	return &Clock{h: h}, nil
}

// Close closes the handle; the Clock must not be used after.
func (c *Clock) Close() {
	if c.h != nil {
		C.vrtc_close(c.h)
		c.h = nil
	}
}

// Now is the time now (vrtc_now()).
func (c *Clock) Now() (Time, error) {
	var t C.struct_vrtc_time
	err := check(C.vrtc_now(c.h, &t))
	return fromC(&t), err
}

// NowWithin is Now, refused unless trusted with a bound <= max.
func (c *Clock) NowWithin(max time.Duration) (Time, error) {
	var t C.struct_vrtc_time
	err := check(C.vrtc_now_within(c.h, C.uint64_t(max.Nanoseconds()), &t))
	return fromC(&t), err
}

// TimeAt is the interval of a past stamp (vrtc_time_at()).
func (c *Clock) TimeAt(clock StampClock, stampNs int64) (Time, error) {
	var t C.struct_vrtc_time
	err := check(C.vrtc_time_at(c.h, C.int(clock), C.int64_t(stampNs), &t))
	return fromC(&t), err
}

// CommitWait waits until EarliestNs > latestNs (vrtc_commit_wait()).
func (c *Clock) CommitWait(latestNs int64, timeout time.Duration) (Time, error) {
	var t C.struct_vrtc_time
	err := check(C.vrtc_commit_wait(c.h, C.int64_t(latestNs),
		C.uint64_t(timeout.Nanoseconds()), &t))
	return fromC(&t), err
}

// Version is the running library's version.
func Version() string {
	v := uint32(C.vrtc_version())
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}
