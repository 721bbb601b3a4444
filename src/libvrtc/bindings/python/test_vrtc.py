# SPDX-License-Identifier: MIT
"""The Python binding against a live page ($VRTC_TEST_PAGE, written by
the daemon's encoder: tests/libvrtc/pagewriter.c); $VRTC_LIB the library.
    python3 -m unittest test_vrtc
"""
import errno
import os
import tempfile
import time
import unittest

import vrtc

PAGE = os.environ["VRTC_TEST_PAGE"]


class TestVrtc(unittest.TestCase):
    def test_now(self):
        with vrtc.Clock(page=PAGE, mode=vrtc.MODE_HOST) as c:
            t = c.now()
            self.assertTrue(t.trusted)
            self.assertEqual(t.status_name, "synchronized")
            self.assertLessEqual(t.earliest_ns, t.now_ns)
            self.assertLessEqual(t.now_ns, t.latest_ns)
            # the test page follows this host's CLOCK_REALTIME
            self.assertLess(abs(t.now_ns - time.time_ns()), 10**9)
            u = c.commit_wait(t.latest_ns, 10**9)
            self.assertTrue(vrtc.before(t, u))
            self.assertTrue(t.before(u))
            raw = time.clock_gettime_ns(vrtc.CLOCK_MONOTONIC_RAW)
            p = c.time_at(vrtc.CLOCK_MONOTONIC_RAW, raw)
            self.assertLessEqual(p.earliest_ns, c.now().latest_ns)
            self.assertEqual(c.now_within(10**9).status_name, "synchronized")
            with self.assertRaises(vrtc.VrtcError) as e:
                c.now_within(1)
            self.assertEqual(e.exception.errno, errno.ERANGE)

    def test_tai(self):
        with vrtc.Clock(page=PAGE, mode=vrtc.MODE_HOST,
                        timescale=vrtc.TAI) as c:
            t = c.now()
            self.assertEqual(t.timescale, vrtc.TAI)
            self.assertLess(abs(t.now_ns - 37 * 10**9 - time.time_ns()),
                            10**9)

    def test_errors(self):
        with self.assertRaises(vrtc.VrtcError) as e:
            vrtc.Clock(page="/nonexistent/vmclock", mode=vrtc.MODE_HOST)
        self.assertEqual(e.exception.errno, errno.ENOENT)
        with self.assertRaises(vrtc.VrtcError) as e:
            vrtc.Clock(page=tempfile.gettempdir(), mode=vrtc.MODE_HOST)
        self.assertEqual(e.exception.errno, errno.EISDIR)
        with self.assertRaises(vrtc.VrtcError) as e:
            vrtc.Clock(page=PAGE, mode=9)
        self.assertEqual(e.exception.errno, errno.EINVAL)
        self.assertIn("directory", str(vrtc.VrtcError(errno.EISDIR)))
        self.assertEqual(vrtc.version(), (0, 2, 0))


if __name__ == "__main__":
    unittest.main()
