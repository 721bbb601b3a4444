#!/usr/bin/env python3
# Seeds for fuzz_device_state: bodies of migration state images
# (include/rtc_migration_wire.h) for the default clock set (UTC, TAI,
# MONOTONIC, UTC smeared noon-linear; alarms on 0 and 3), written to
# tests/fuzz/corpus/device_state/.
import os
import struct

def rec(tag, value):
    pad = (8 - len(value) % 8) % 8
    return struct.pack('<HHI', tag, 0, len(value)) + value + b'\0' * pad

def clocks():
    spec = [(0, 0, 1), (1, 0, 0), (2, 0, 0), (3, 1, 1)]
    return b''.join(rec(66, struct.pack('<HBBB3x', i, t, sm, cap))
                    for i, (t, sm, cap) in enumerate(spec))

def alarm(clock, flags, t):
    return rec(13, struct.pack('<HB5xQ', clock, flags, t))

def state(*alarms):
    body = rec(65, struct.pack('<I', 1)) + clocks() + b''.join(alarms)
    return rec(0x8040, body)

seeds = {
    'no-alarms': state(),
    'armed': state(alarm(0, 1 | 4, 4 * 10**18)),
    'pending-and-disabled': state(alarm(3, 1 | 2, 1), alarm(0, 0, 5)),
    'reached-enabled': state(alarm(0, 1, 1000), alarm(3, 1 | 4, 2**63)),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   'corpus', 'device_state')
os.makedirs(out, exist_ok=True)
for name, body in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(body)
