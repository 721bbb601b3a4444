// SPDX-License-Identifier: MIT

package vrtc

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A live page ($VRTC_TEST_PAGE) from the daemon's encoder
// (tests/libvrtc/pagewriter.c), on this host's CLOCK_REALTIME.
func open(t *testing.T, ts int) *Clock {
	c, err := Open(Options{Mode: ModeHost, Timescale: ts,
		PagePath: os.Getenv("VRTC_TEST_PAGE")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNowAndHelpers(t *testing.T) {
	c := open(t, UTC)
	defer c.Close()
	r, err := c.Now()
	if err != nil || !r.Trusted() || r.Status != StatusSynchronized {
		t.Fatalf("%v %+v", err, r)
	}
	if d := r.NowNs - time.Now().UnixNano(); d > 1e9 || d < -1e9 {
		t.Errorf("%d ns off this host's clock", d)
	}
	u, err := c.CommitWait(r.LatestNs, time.Second)
	if b, _ := r.Before(u); err != nil || !b {
		t.Errorf("commit wait: %v %+v", err, u)
	}
	if p, err := c.TimeAt(Realtime, time.Now().UnixNano()-1e6); err != nil ||
		p.LatestNs > u.LatestNs+1e9 {
		t.Errorf("time at: %v %+v", err, p)
	}
	_, err = c.NowWithin(time.Nanosecond)
	var e Error
	if !errors.As(err, &e) || e.Errno() != int(syscall.ERANGE) {
		t.Errorf("now within 1 ns: %v", err)
	}
	if Version() != "0.2.0" {
		t.Errorf("version %s", Version())
	}
}

func TestErrorsAndTAI(t *testing.T) {
	_, err := Open(Options{Mode: ModeHost, PagePath: "/nonexistent/vmclock"})
	if e, ok := err.(Error); !ok || e.Errno() != int(syscall.ENOENT) {
		t.Errorf("open: %v", err)
	}
	c := open(t, TAI)
	defer c.Close()
	if r, err := c.Now(); err != nil || r.Timescale != TAI {
		t.Errorf("%v %+v", err, r)
	}
}

func TestGoroutines(t *testing.T) {
	c := open(t, UTC)
	defer c.Close()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(-1 << 63)
			for j := 0; j < 50000; j++ {
				r, err := c.Now()
				if err != nil || r.EarliestNs < last {
					t.Errorf("%v %+v", err, r)
					return
				}
				last = r.EarliestNs
			}
		}()
	}
	wg.Wait()
}
