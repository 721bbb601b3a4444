// SPDX-License-Identifier: MIT
//! include/vrtc.h, written by hand (no bindgen): the 0.2 ABI.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int};

#[repr(C)]
pub struct vrtc {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct vrtc_options {
    pub mode: c_int,
    pub timescale: c_int,
    pub page_path: *const c_char,
    pub phc_path: *const c_char,
    pub max_age_ns: u64,
    pub flags: u32,
    pub reserved0: u32,
    pub reserved: [u64; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct vrtc_time {
    pub earliest_ns: i64,
    pub latest_ns: i64,
    pub now_ns: i64,
    pub bound_ns: u64,
    pub status: c_int,
    pub flags: u32,
    pub age_ns: u64,
    pub window_ns: u64,
    pub disruption_marker: u64,
    pub timescale: c_int,
    pub disruptions: u32,
    pub reserved: [u64; 7],
}

pub const VRTC_OPEN_NO_RECOVER: u32 = 0x1;
pub const VRTC_TIME_TRUSTED: u32 = 0x1;
pub const VRTC_TIME_DISRUPTED: u32 = 0x2;
pub const VRTC_TIME_REOPENED: u32 = 0x4;
pub const CLOCK_REALTIME: c_int = 0;
pub const CLOCK_MONOTONIC_RAW: c_int = 4;

extern "C" {
    pub fn vrtc_open(o: *const vrtc_options, out: *mut *mut vrtc) -> c_int;
    pub fn vrtc_now(v: *mut vrtc, t: *mut vrtc_time) -> c_int;
    pub fn vrtc_now_within(v: *mut vrtc, max_bound_ns: u64, t: *mut vrtc_time) -> c_int;
    pub fn vrtc_time_at(v: *mut vrtc, clock: c_int, stamp_ns: i64, t: *mut vrtc_time) -> c_int;
    pub fn vrtc_commit_wait(
        v: *mut vrtc,
        latest_ns: i64,
        timeout_ns: u64,
        t: *mut vrtc_time,
    ) -> c_int;
    pub fn vrtc_before(a: *const vrtc_time, b: *const vrtc_time) -> c_int;
    pub fn vrtc_close(v: *mut vrtc);
    pub fn vrtc_strerror(err: c_int) -> *const c_char;
    pub fn vrtc_version() -> u32;
}

const _: () = assert!(std::mem::size_of::<vrtc_options>() == 64);
const _: () = assert!(std::mem::size_of::<vrtc_time>() == 128);
