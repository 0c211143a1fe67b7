#!/usr/bin/env python3
"""make_seeds.py: write the seed inputs of tests/fuzz/corpus (seed-*).

Each input is: a variant byte, then records [len][action][len bytes]
(see fuzz_session.c). The streams are client frames (masked) covering
valid traffic and every error class the session detects.
"""
import os
import random
import struct
import sys

FIN = 0x80
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10
KEY = b'\x37\xfa\x21\x3d'

# variant bits, as in fuzz_session.c
LIM_TINY, LIM_NOFRAME, LIM_NOMSG = 1, 2, 3
ECHO, CLOSE_IN_CB, CB_ERROR, DEFLATE, SEND_ERROR, DIFF = \
    0x04, 0x08, 0x10, 0x20, 0x40, 0x80
# The byte after a first byte with DEFLATE: parameters, and on_pong NULL.
PMD_NO_PONG = 0x80
ACT_TEXT, ACT_BINARY, ACT_PING, ACT_CLOSE = 1, 2, 3, 4


def frame(op, payload=b'', fin=True, rsv=0, masked=True, key=KEY,
          len_form=None):
    """A client frame; len_form 16/64 forces a (maybe non-minimal) form."""
    b0 = (FIN if fin else 0) | rsv | op
    n = len(payload)
    mbit = 0x80 if masked else 0
    if len_form == 16 or (len_form is None and 126 <= n <= 0xFFFF):
        hdr = bytes([b0, mbit | 126]) + struct.pack('>H', n)
    elif len_form == 64 or (len_form is None and n > 0xFFFF):
        hdr = bytes([b0, mbit | 127]) + struct.pack('>Q', n)
    else:
        hdr = bytes([b0, mbit | n])
    if not masked:
        return hdr + payload
    body = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return hdr + key + body


def close(code=None, reason=b''):
    if code is None:
        return frame(CLOSE)
    return frame(CLOSE, struct.pack('>H', code) + reason)


def records(stream, sizes=None, actions=None):
    """Split stream into records; sizes cycles, actions is {index: act}."""
    out = bytearray()
    sizes = sizes or [255]
    actions = actions or {}
    pos = i = 0
    while pos < len(stream):
        n = min(sizes[i % len(sizes)], 255, len(stream) - pos)
        out += bytes([n, actions.get(i, 0)]) + stream[pos:pos + n]
        pos += n
        i += 1
    for j in sorted(a for a in actions if a >= i):
        out += bytes([0, actions[j]])
    return bytes(out)


def main(outdir):
    rnd = random.Random(6455)
    hello = frame(TEXT, b'Hello')
    seeds = {
        'text': (0, hello + close(1000)),
        'binary-16bit': (0, frame(BINARY, bytes(range(256)) * 1)),
        'binary-64bit': (LIM_NOFRAME, frame(BINARY, b'\xaa' * 70000)[:300]),
        'empty-text': (0, frame(TEXT) + frame(BINARY) + close()),
        'fragmented': (0, frame(TEXT, b'Hel', fin=False)
                       + frame(PING, b'p1')
                       + frame(CONT, b'lo ', fin=False)
                       + frame(PONG, b'p2')
                       + frame(CONT, b'\xe2\x82', fin=False)
                       + frame(CONT, b'\xac', fin=True) + close(1001, b'bye')),
        'fragmented-binary': (0, frame(BINARY, b'\x00' * 10, fin=False)
                              + frame(CONT, b'\x01' * 100, fin=False)
                              + frame(CONT, b'', fin=False)
                              + frame(CONT, b'\x02' * 3)),
        'ping-pong': (0, frame(PING, b'Hello') + frame(PONG, b'x' * 125)),
        'close-empty': (0, close()),
        'close-reason': (0, close(4000, 'caf\u00e9'.encode())),
        'close-len1': (0, frame(CLOSE, b'\x03')),
        'close-badcode': (0, close(1005)),
        'close-badcode2': (0, close(2999, b'x')),
        'close-badutf8': (0, close(1000, b'\xff')),
        'utf8-bad-mid': (0, frame(TEXT, b'hello\xffworld')),
        'utf8-overlong': (0, frame(TEXT, b'\xc0\xaf')),
        'utf8-surrogate': (0, frame(TEXT, b'\xed\xa0\x80')),
        'utf8-too-high': (0, frame(TEXT, b'\xf4\x90\x80\x80')),
        'utf8-truncated': (0, frame(TEXT, b'ab\xe2\x82')),
        'utf8-split-bad': (0, frame(TEXT, b'\xce', fin=False)
                           + frame(CONT, b'\xba\xe1', fin=False)
                           + frame(CONT, b'\xbd\xb9\xed\xa0\x80')),
        'unmasked': (0, frame(TEXT, b'hi', masked=False)),
        'rsv1': (0, frame(TEXT, b'hi', rsv=0x40)),
        'rsv2': (0, frame(TEXT, b'hi', rsv=0x20)),
        'rsv3': (0, frame(PING, b'hi', rsv=0x10)),
        'opcode3': (0, frame(3)),
        'opcodeB': (0, frame(0xB, b'x')),
        'ctrl-long': (0, frame(PING, b'x' * 126)),
        'ctrl-frag': (0, frame(PING, b'x', fin=False)),
        'cont-first': (0, frame(CONT, b'x')),
        'text-in-frag': (0, frame(TEXT, b'a', fin=False) + frame(TEXT, b'b')),
        'nonminimal16': (0, frame(TEXT, b'abc', len_form=16)),
        'nonminimal64': (0, frame(BINARY, b'abc' * 100, len_form=64)),
        'msb64': (0, bytes([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1]) + KEY),
        'too-big-frame': (LIM_TINY, frame(BINARY, b'x' * 33)),
        'max-frame': (LIM_TINY, frame(BINARY, b'x' * 32)),
        'too-big-msg': (LIM_TINY, frame(BINARY, b'x' * 32, fin=False)
                        + frame(CONT, b'y' * 32, fin=False)
                        + frame(CONT, b'z')),
        'max-msg': (LIM_TINY, frame(TEXT, b'x' * 32, fin=False)
                    + frame(CONT, b'y' * 32)),
        'data-after-close': (0, close(1000) + hello),
        # many fragments: several buffers per message in the fuzz build
        'fragmented-chunks': (0, frame(TEXT, 'x\u20ac'.encode() * 9,
                                       fin=False)
                              + b''.join(frame(CONT, 'y\u00e9\U0001F600'
                                               .encode() * 5, fin=False)
                                         for _ in range(6))
                              + frame(PING, b'mid')
                              + frame(CONT, b'z' * 40)),
        'fragmented-chunks-bin': (LIM_NOMSG, b''.join(
            frame(BINARY if i == 0 else CONT, bytes([i]) * (17 * i + 3),
                  fin=(i == 9)) for i in range(10))),
    }
    n = 0
    for name, (variant, stream) in sorted(seeds.items()):
        # whole records, byte-sized records and random splits
        write(outdir, 'seed-%s' % name, bytes([variant]) + records(stream))
        write(outdir, 'seed-%s-diff' % name,
              bytes([variant | DIFF]) + records(stream, [1, 3, 7]))
        n += 2
    # API calls interleaved with input
    write(outdir, 'seed-api-close-first',
          bytes([0]) + records(hello + close(1000),
                               [11, 255], {0: ACT_CLOSE | (1 << 3)}))
    write(outdir, 'seed-api-send-ping',
          bytes([DEFLATE, PMD_NO_PONG]) + records(
              hello + frame(PONG, b'z'),
              [4], {0: ACT_TEXT, 1: ACT_PING | (3 << 3),
                    2: ACT_BINARY | (5 << 3)}))
    write(outdir, 'seed-api-close-reason',
          bytes([0]) + records(frame(PING, b'a') + close(),
                               [7], {0: ACT_CLOSE | (3 << 3)}))
    write(outdir, 'seed-cb-echo-close',
          bytes([ECHO | CLOSE_IN_CB]) + records(
              hello + frame(BINARY, b'b') + hello + close(1000)))
    write(outdir, 'seed-cb-error',
          bytes([CB_ERROR | SEND_ERROR]) + records(
              frame(BINARY, b'b') + hello + frame(PING) * 6))
    write(outdir, 'seed-nomsglimit',
          bytes([LIM_NOMSG]) + records(
              frame(TEXT, b'a' * 200, fin=False) + frame(CONT, b'b' * 300)))
    stream = b''.join(frame(rnd.choice([TEXT, BINARY, PING]),
                            bytes(rnd.randrange(32, 127)
                                  for _ in range(rnd.randrange(0, 100))))
                      for _ in range(20))
    write(outdir, 'seed-random-splits',
          bytes([DIFF]) + records(stream, [rnd.randrange(1, 40)
                                           for _ in range(16)]))
    print('wrote %d seeds to %s' % (n + 7, outdir))


def write(outdir, name, data):
    with open(os.path.join(outdir, name), 'wb') as f:
        f.write(data)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else
         os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus'))
