// SPDX-License-Identifier: MIT
//! The Rust binding against a live page ($VRTC_TEST_PAGE, written by the
//! daemon's encoder: tests/libvrtc/pagewriter.c).
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vrtc::{Clock, Mode, Options, StampClock, Status, Timescale};

fn opts() -> Options {
    Options {
        mode: Some(Mode::Host),
        page_path: Some(
            std::env::var("VRTC_TEST_PAGE")
                .expect("VRTC_TEST_PAGE")
                .into(),
        ),
        ..Options::default()
    }
}

fn realtime_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn now_and_helpers() {
    let c = Clock::open(&opts()).unwrap();
    let t = c.now().unwrap();
    assert!(t.trusted());
    assert_eq!(t.status, Status::Synchronized);
    assert!(t.earliest_ns <= t.now_ns && t.now_ns <= t.latest_ns);
    assert!((t.now_ns - realtime_ns()).abs() < 1_000_000_000);
    let u = c.commit_wait(t.latest_ns, Duration::from_secs(1)).unwrap();
    assert!(t.before(&u).unwrap());
    assert!(!u.before(&t).unwrap());
    let p = c
        .time_at(StampClock::Realtime, realtime_ns() - 1_000_000)
        .unwrap();
    assert!(p.latest_ns < c.now().unwrap().latest_ns);
    assert_eq!(
        c.now_within(Duration::from_nanos(1)).unwrap_err().errno(),
        34
    );
    assert_eq!(vrtc::version(), (0, 2, 0));
}

#[test]
fn tai_and_errors() {
    let mut o = opts();
    o.timescale = Some(Timescale::Tai);
    let t = Clock::open(&o).unwrap().now().unwrap();
    assert_eq!(t.timescale, Timescale::Tai);
    o.page_path = Some("/nonexistent/vmclock".into());
    let e = Clock::open(&o).err().unwrap();
    assert_eq!(e.errno(), 2);
    assert!(e.to_string().contains("no status page"));
}

#[test]
fn shared_by_threads() {
    let c = Arc::new(Clock::open(&opts()).unwrap());
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let mut last = i64::MIN;
                for _ in 0..100_000 {
                    let t = c.now().unwrap();
                    assert!(t.earliest_ns >= last);
                    last = t.earliest_ns;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}
