# SPDX-License-Identifier: MIT
"""libvrtc for Python, through ctypes (no compilation): bounded time from
vhost-user-rtc's status page. The same semantics as include/vrtc.h and
libvrtc(3); errors raise VrtcError (an OSError with the errno).

    import vrtc
    with vrtc.Clock() as c:
        t = c.now()
        print(t.earliest_ns, t.latest_ns, t.status, t.trusted)

The library is $VRTC_LIB if set, else libvrtc.so.0 from the loader path.
Thread safety as in C: now(), now_within(), time_at() and commit_wait()
may be called from several threads on one Clock; close() from one.
"""
import ctypes
import os
import time as _time

__all__ = ["Clock", "Time", "VrtcError", "before", "version",
           "STATUS_NAMES", "UTC", "TAI"]

UTC, TAI = 0, 1
MODE_AUTO, MODE_HOST, MODE_GUEST = 0, 1, 2
OPEN_NO_RECOVER = 0x1
TIME_TRUSTED, TIME_DISRUPTED, TIME_REOPENED = 0x1, 0x2, 0x4
STATUS_NAMES = ("unknown", "initializing", "synchronized", "freerunning",
                "unreliable")
CLOCK_REALTIME = _time.CLOCK_REALTIME
CLOCK_MONOTONIC_RAW = _time.CLOCK_MONOTONIC_RAW


class _Options(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("timescale", ctypes.c_int),
                ("page_path", ctypes.c_char_p), ("phc_path", ctypes.c_char_p),
                ("max_age_ns", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("reserved0", ctypes.c_uint32),
                ("reserved", ctypes.c_uint64 * 3)]


class _Time(ctypes.Structure):
    _fields_ = [("earliest_ns", ctypes.c_int64), ("latest_ns", ctypes.c_int64),
                ("now_ns", ctypes.c_int64), ("bound_ns", ctypes.c_uint64),
                ("status", ctypes.c_int), ("flags", ctypes.c_uint32),
                ("age_ns", ctypes.c_uint64), ("window_ns", ctypes.c_uint64),
                ("disruption_marker", ctypes.c_uint64),
                ("timescale", ctypes.c_int), ("disruptions", ctypes.c_uint32),
                ("reserved", ctypes.c_uint64 * 7)]


assert ctypes.sizeof(_Options) == 64 and ctypes.sizeof(_Time) == 128

_lib = ctypes.CDLL(os.environ.get("VRTC_LIB") or "libvrtc.so.0",
                   use_errno=False)
_P = ctypes.c_void_p
_lib.vrtc_open.argtypes = [ctypes.POINTER(_Options), ctypes.POINTER(_P)]
_lib.vrtc_now.argtypes = [_P, ctypes.POINTER(_Time)]
_lib.vrtc_now_within.argtypes = [_P, ctypes.c_uint64, ctypes.POINTER(_Time)]
_lib.vrtc_time_at.argtypes = [_P, ctypes.c_int, ctypes.c_int64,
                              ctypes.POINTER(_Time)]
_lib.vrtc_commit_wait.argtypes = [_P, ctypes.c_int64, ctypes.c_uint64,
                                  ctypes.POINTER(_Time)]
_lib.vrtc_before.argtypes = [ctypes.POINTER(_Time), ctypes.POINTER(_Time)]
_lib.vrtc_close.argtypes = [_P]
_lib.vrtc_close.restype = None
_lib.vrtc_strerror.argtypes = [ctypes.c_int]
_lib.vrtc_strerror.restype = ctypes.c_char_p
_lib.vrtc_version.restype = ctypes.c_uint32


class VrtcError(OSError):
    """A libvrtc error: .errno is positive, str() is vrtc_strerror()."""

    def __init__(self, err):
        super().__init__(abs(err), _lib.vrtc_strerror(err).decode())


def version():
    """The running library's version as (major, minor, patch)."""
    v = _lib.vrtc_version()
    return (v >> 16, (v >> 8) & 0xff, v & 0xff)


class Time:
    """One reading: earliest_ns <= true time <= latest_ns if trusted."""

    __slots__ = ("_t",)

    def __init__(self, t):
        self._t = t

    def __getattr__(self, name):
        return getattr(self._t, name)

    @property
    def status_name(self):
        s = self._t.status
        return STATUS_NAMES[s] if 0 <= s < len(STATUS_NAMES) else "invalid"

    @property
    def trusted(self):
        return bool(self._t.flags & TIME_TRUSTED)

    @property
    def disrupted(self):
        return bool(self._t.flags & TIME_DISRUPTED)

    def before(self, other):
        """True if self happened definitely before other."""
        return before(self, other)

    def __repr__(self):
        return ("Time(earliest_ns=%d, latest_ns=%d, status=%s, flags=%#x)" %
                (self._t.earliest_ns, self._t.latest_ns, self.status_name,
                 self._t.flags))


def before(a, b):
    """vrtc_before(): a definitely before b; VrtcError if not comparable."""
    r = _lib.vrtc_before(ctypes.byref(a._t), ctypes.byref(b._t))
    if r < 0:
        raise VrtcError(r)
    return r == 1


class Clock:
    """A libvrtc handle (vrtc_open()); close() or use it in a with block."""

    _h = None

    def __init__(self, page=None, mode=MODE_AUTO, timescale=UTC, phc=None,
                 max_age_ns=0, recover=True):
        o = _Options(mode=mode, timescale=timescale, max_age_ns=max_age_ns,
                     flags=0 if recover else OPEN_NO_RECOVER)
        if page is not None:
            o.page_path = os.fsencode(page)
        if phc is not None:
            o.phc_path = os.fsencode(phc)
        h = _P()
        r = _lib.vrtc_open(ctypes.byref(o), ctypes.byref(h))
        if r:
            raise VrtcError(r)
        self._h = h

    def _call(self, fn, *args):
        if self._h is None:
            raise VrtcError(-9)  # EBADF
        t = _Time()
        r = fn(self._h, *args, ctypes.byref(t))
        if r:
            raise VrtcError(r)
        return Time(t)

    def now(self):
        """vrtc_now(): the time now, or VrtcError."""
        return self._call(_lib.vrtc_now)

    def now_within(self, max_bound_ns):
        """vrtc_now_within(): trusted and bound <= max_bound_ns."""
        return self._call(_lib.vrtc_now_within, max_bound_ns)

    def time_at(self, clock, stamp_ns):
        """vrtc_time_at(): a past CLOCK_MONOTONIC_RAW/REALTIME stamp."""
        return self._call(_lib.vrtc_time_at, clock, stamp_ns)

    def commit_wait(self, latest_ns, timeout_ns):
        """vrtc_commit_wait(): until earliest_ns > latest_ns."""
        return self._call(_lib.vrtc_commit_wait, latest_ns, timeout_ns)

    def close(self):
        if self._h is not None:
            _lib.vrtc_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
