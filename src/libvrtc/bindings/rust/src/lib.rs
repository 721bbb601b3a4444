// SPDX-License-Identifier: MIT
//! Bounded time from vhost-user-rtc's status page: a safe wrapper over
//! libvrtc (include/vrtc.h, libvrtc(3)), with the same semantics.
//!
//! ```no_run
//! let clock = vrtc::Clock::open(&vrtc::Options::default())?;
//! let t = clock.now()?;
//! assert!(t.earliest_ns <= t.latest_ns);
//! println!("{} ({:?}, trusted {})", t.now_ns, t.status, t.trusted());
//! # Ok::<(), vrtc::Error>(())
//! ```
//!
//! A [`Clock`] is `Send` and `Sync`: libvrtc's readings may run on one
//! handle from several threads at once.

mod ffi;

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::time::Duration;

/// A libvrtc error: a positive errno, described by `vrtc_strerror()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub i32);

impl Error {
    pub fn errno(&self) -> i32 {
        self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: vrtc_strerror() returns a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(ffi::vrtc_strerror(self.0)) };
        write!(f, "{}", s.to_string_lossy())
    }
}

impl std::error::Error for Error {}

fn check(r: i32) -> Result<(), Error> {
    if r == 0 {
        Ok(())
    } else {
        Err(Error(r.abs()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Auto = 0,
    Host = 1,
    Guest = 2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timescale {
    Utc = 0,
    Tai = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unknown,
    Initializing,
    Synchronized,
    Freerunning,
    Unreliable,
    Invalid(i32),
}

impl From<i32> for Status {
    fn from(s: i32) -> Status {
        match s {
            0 => Status::Unknown,
            1 => Status::Initializing,
            2 => Status::Synchronized,
            3 => Status::Freerunning,
            4 => Status::Unreliable,
            n => Status::Invalid(n),
        }
    }
}

/// The clock a past stamp was taken on, for [`Clock::time_at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StampClock {
    Realtime,
    MonotonicRaw,
}

/// `struct vrtc_options`; `Default` is all defaults.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub mode: Option<Mode>,
    pub timescale: Option<Timescale>,
    pub page_path: Option<PathBuf>,
    pub phc_path: Option<PathBuf>,
    pub max_age: Option<Duration>,
    /// keep the page first opened (VRTC_OPEN_NO_RECOVER)
    pub no_recover: bool,
}

/// One reading: `earliest_ns <= true time <= latest_ns` if `trusted()`.
#[derive(Clone, Copy, Debug)]
pub struct Time {
    pub earliest_ns: i64,
    pub latest_ns: i64,
    pub now_ns: i64,
    pub bound_ns: u64,
    pub status: Status,
    pub flags: u32,
    pub age_ns: u64,
    pub window_ns: u64,
    pub disruption_marker: u64,
    pub timescale: Timescale,
    pub disruptions: u32,
    raw: ffi::vrtc_time,
}

impl Time {
    fn from_raw(t: ffi::vrtc_time) -> Time {
        Time {
            earliest_ns: t.earliest_ns,
            latest_ns: t.latest_ns,
            now_ns: t.now_ns,
            bound_ns: t.bound_ns,
            status: Status::from(t.status),
            flags: t.flags,
            age_ns: t.age_ns,
            window_ns: t.window_ns,
            disruption_marker: t.disruption_marker,
            timescale: if t.timescale == 1 {
                Timescale::Tai
            } else {
                Timescale::Utc
            },
            disruptions: t.disruptions,
            raw: t,
        }
    }

    /// The interval holds true time (INITIALIZING, SYNCHRONIZED,
    /// FREERUNNING).
    pub fn trusted(&self) -> bool {
        self.flags & ffi::VRTC_TIME_TRUSTED != 0
    }

    /// The first reading after a disruption: no ordering with earlier ones.
    pub fn disrupted(&self) -> bool {
        self.flags & ffi::VRTC_TIME_DISRUPTED != 0
    }

    /// The handle moved to a new page file for this reading.
    pub fn reopened(&self) -> bool {
        self.flags & ffi::VRTC_TIME_REOPENED != 0
    }

    /// `self` happened definitely before `other` (`vrtc_before()`).
    pub fn before(&self, other: &Time) -> Result<bool, Error> {
        // SAFETY: both point to initialised structs for the call only.
        let r = unsafe { ffi::vrtc_before(&self.raw, &other.raw) };
        if r < 0 {
            Err(Error(-r))
        } else {
            Ok(r == 1)
        }
    }
}

/// A libvrtc handle (`vrtc_open()`), closed on drop.
pub struct Clock {
    raw: NonNull<ffi::vrtc>,
}

// SAFETY: libvrtc documents vrtc_now(), vrtc_now_within(), vrtc_time_at()
// and vrtc_commit_wait() as safe on one handle from several threads (its
// shared state is atomic); vrtc_close() runs only from Drop, with no
// other borrow alive. vrtc_clockbound_write() is not exposed.
unsafe impl Send for Clock {}
unsafe impl Sync for Clock {}

fn cpath(p: &Option<PathBuf>) -> Result<Option<CString>, Error> {
    match p {
        None => Ok(None),
        Some(p) => CString::new(Path::new(p).as_os_str().as_bytes())
            .map(Some)
            .map_err(|_| Error(22)),
    }
}

impl Clock {
    pub fn open(o: &Options) -> Result<Clock, Error> {
        let page = cpath(&o.page_path)?;
        let phc = cpath(&o.phc_path)?;
        let raw_opts = ffi::vrtc_options {
            mode: o.mode.unwrap_or(Mode::Auto) as i32,
            timescale: o.timescale.unwrap_or(Timescale::Utc) as i32,
            page_path: page.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            phc_path: phc.as_ref().map_or(ptr::null(), |c| c.as_ptr()),
            max_age_ns: o.max_age.map_or(0, |d| d.as_nanos() as u64),
            flags: if o.no_recover {
                ffi::VRTC_OPEN_NO_RECOVER
            } else {
                0
            },
            reserved0: 0,
            reserved: [0; 3],
        };
        let mut out: *mut ffi::vrtc = ptr::null_mut();
        // SAFETY: the strings outlive the call; out is written on success.
        check(unsafe { ffi::vrtc_open(&raw_opts, &mut out) })?;
        NonNull::new(out).map(|raw| Clock { raw }).ok_or(Error(12))
    }

    fn read(
        &self,
        f: impl FnOnce(*mut ffi::vrtc, *mut ffi::vrtc_time) -> i32,
    ) -> Result<Time, Error> {
        let mut t = ffi::vrtc_time::default();
        check(f(self.raw.as_ptr(), &mut t))?;
        Ok(Time::from_raw(t))
    }

    /// The time now (`vrtc_now()`).
    pub fn now(&self) -> Result<Time, Error> {
        // SAFETY: a live handle and a struct of the 0.2 layout.
        self.read(|v, t| unsafe { ffi::vrtc_now(v, t) })
    }

    /// Trusted and bound by `max_bound` (`vrtc_now_within()`; ERANGE if
    /// wider).
    pub fn now_within(&self, max_bound: Duration) -> Result<Time, Error> {
        let max = max_bound.as_nanos() as u64;
        // SAFETY: as now().
        self.read(|v, t| unsafe { ffi::vrtc_now_within(v, max, t) })
    }

    /// The interval of a past stamp (`vrtc_time_at()`).
    pub fn time_at(&self, clock: StampClock, stamp_ns: i64) -> Result<Time, Error> {
        let c = match clock {
            StampClock::Realtime => ffi::CLOCK_REALTIME,
            StampClock::MonotonicRaw => ffi::CLOCK_MONOTONIC_RAW,
        };
        // SAFETY: as now().
        self.read(|v, t| unsafe { ffi::vrtc_time_at(v, c, stamp_ns, t) })
    }

    /// Wait until earliest_ns > `latest_ns` (`vrtc_commit_wait()`).
    pub fn commit_wait(&self, latest_ns: i64, timeout: Duration) -> Result<Time, Error> {
        let to = timeout.as_nanos() as u64;
        // SAFETY: as now().
        self.read(|v, t| unsafe { ffi::vrtc_commit_wait(v, latest_ns, to, t) })
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        // SAFETY: the handle from vrtc_open(), closed once.
        unsafe { ffi::vrtc_close(self.raw.as_ptr()) }
    }
}

/// The running library's version: (major, minor, patch).
pub fn version() -> (u32, u32, u32) {
    // SAFETY: no arguments, pure.
    let v = unsafe { ffi::vrtc_version() };
    (v >> 16, (v >> 8) & 0xff, v & 0xff)
}
