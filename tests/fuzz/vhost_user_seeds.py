#!/usr/bin/env python3
# Seed for fuzz_vhost_user: a QEMU live-migration sequence (input format
# in tests/fuzz/fuzz_vhost_user.c: header, fd selector byte, payload),
# written to tests/fuzz/corpus/vhost_user/migration-sequence.
import os
import struct

NEED_REPLY = 8
PROTOCOL = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 19)  # MQ LOG REPLY STATE
FEATURES = (1 << 32) | (1 << 30) | (1 << 28) | (1 << 29) | (1 << 26)


def msg(req, flags, payload=b'', sel=0):
    return (struct.pack('<III', req, 1 | flags, len(payload)) +
            bytes([sel]) + payload)


def u64(v):
    return struct.pack('<Q', v)


seq = b''.join([
    msg(1, 0),                          # GET_FEATURES
    msg(15, 0),                         # GET_PROTOCOL_FEATURES
    msg(16, 0, u64(PROTOCOL)),          # SET_PROTOCOL_FEATURES
    msg(3, 0),                          # SET_OWNER
    msg(2, 0, u64(FEATURES)),           # SET_FEATURES, with LOG_ALL
    msg(5, NEED_REPLY,                  # SET_MEM_TABLE, 64 KiB at GPA 0
        struct.pack('<II', 1, 0) +
        struct.pack('<QQQQ', 0, 0x10000, 0x7f0000000000, 0), sel=0x11),
    msg(6, 0, struct.pack('<QQ', 64, 0), sel=0x05),  # SET_LOG_BASE
    msg(7, 0, b'', sel=0x01),                        # SET_LOG_FD
    msg(8, 0, struct.pack('<II', 0, 16)),            # SET_VRING_NUM
    msg(10, 0, struct.pack('<II', 0, 0)),            # SET_VRING_BASE
    msg(9, NEED_REPLY, struct.pack('<IIQQQQ', 0, 1, 0x7f0000001000,
                                   0x7f0000003000, 0x7f0000002000,
                                   0x3000)),         # ADDR, F_LOG
    msg(12, 0, u64(0), sel=0x01),                    # SET_VRING_KICK
    msg(18, NEED_REPLY, struct.pack('<II', 0, 1)),   # ENABLE
    msg(18, NEED_REPLY, struct.pack('<II', 0, 0)),   # DISABLE
    msg(11, 0, struct.pack('<II', 0, 0)),            # GET_VRING_BASE
    msg(42, 0, struct.pack('<II', 0, 0), sel=0x89),  # state SAVE
    msg(43, 0),                                      # CHECK
    msg(42, 0, struct.pack('<II', 1, 0), sel=0x09),  # state LOAD
    msg(43, 0),                                      # CHECK
])
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus',
                   'vhost_user', 'migration-sequence')
with open(out, 'wb') as f:
    f.write(seq)
