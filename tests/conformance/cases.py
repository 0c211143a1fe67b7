"""Autobahn-style conformance cases (categories 1-7, 9, 10, 12, 13) for echo
servers.

Each case follows the public description of the Autobahn TestSuite case of
the same id: what the client sends, chopped as Autobahn chops it, and what
must come back. The verdicts are the strict ones:

- protocol errors get a close frame with 1002 and nothing after the error
  (no echo, no pong); invalid UTF-8 gets 1007, as soon as the offending
  byte arrives (RFC 6455 §8.1: "MUST _Fail the WebSocket Connection_" when
  the bytes are not valid UTF-8, and Autobahn's "fail fast" cases 6.4.x);
- a close frame is answered with the code it carried (an empty one with an
  empty one), and then the server closes TCP within CLOSE_T seconds
  (RFC 6455 §7.1.1: the server closes the TCP connection first);
- echoes are compared byte for byte (they may come fragmented), pongs carry
  the ping's payload, and events come in the order Autobahn expects;
- frames from the server are unmasked, have RSV 0 (no extension is
  offered; in 12 and 13 RSV1 on the first frame of a compressed message),
  control frames are unfragmented and at most 125 bytes, and text
  messages are valid UTF-8.

Category 9 sizes are divided by SCALE so the category runs in seconds; the
fragment and chop sizes are Autobahn's.

Categories 12 and 13 (WebSocket compression, RFC 7692 permessage-deflate)
offer permessage-deflate (12: the offer browsers send; 13: Autobahn's
combinations of server_no_context_takeover and server_max_window_bits),
check the answer against the offers, then send messages compressed as
agreed (python zlib) and compare every echo byte for byte after inflating
it with exactly the agreed server window and context takeover. The message
counts are Autobahn's 1000 cut to COMPRESS_BUDGET bytes per case. A server
may decline an offer of an 8-bit window (zlib cannot compress with one) and
the case then runs uncompressed; declining every other offer fails, as the
cases run against an endpoint with compression enabled. The data are
generated stand-ins for Autobahn's files (JSON, a bitmap, German prose,
HTML, a PDF), of similar kind and size.

The cases need only an echo endpoint: run them with run.py against any URL,
or through test_conformance.py against httpd.
"""

import dataclasses
import fnmatch
import json
import os
import random
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))

from wsraw import (RawWS, HandshakeError, OP_CONT, OP_TEXT,  # noqa: E402
                   OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)
from wsraw import (build_frame, RSV1, parse_extensions,  # noqa: E402
                   PerMessageDeflate)

# How long an answer may take: generous, as the cases run on loaded
# machines too; only the cases that wait for nothing (WAIT) take this long.
T = 20.0
# How long until the server closes TCP after the close handshake. Against
# test_conformance.py's httpd, which waits 60 s for a client's close frame
# (WebSocketCloseTimeout), only a server that closes TCP itself passes.
CLOSE_T = 20.0
WAIT = 0.5         # Autobahn's pauses and "nothing may come" windows (1 s)
# How long a fail-fast close may take (Autobahn: 1 s). The rest of the
# message is never sent, so any close at all is a close before it.
FAIL_FAST_T = T
BIG_T = 20.0       # how long a category 9 echo may take
CHOP_DELAY = 0.001 # pause between octet-wise chops, so the server sees them
SYNC_DELAY = 0.01  # pause between frame-wise chops ("sync" in Autobahn)
SCALE = 4          # category 9 message sizes are Autobahn's / SCALE

OPNAMES = {OP_CONT: 'cont', OP_TEXT: 'text', OP_BINARY: 'binary',
           OP_CLOSE: 'close', OP_PING: 'ping', OP_PONG: 'pong'}


class CaseFailed(AssertionError):
    """The server did not behave as the case expects."""


# -- UTF-8 -------------------------------------------------------------------

def utf8_fail_index(data):
    """Where an incremental UTF-8 validator must reject ``data``.

    Returns None if data is valid UTF-8 (RFC 3629: no surrogates, nothing
    above U+10FFFF, no overlong forms; noncharacters are valid), the index of
    the first byte that cannot continue a valid sequence, or len(data) if
    data is valid so far but ends inside a sequence.
    """
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        # (number of continuation bytes, range of the first of them)
        if 0xC2 <= b <= 0xDF:
            need, lo, hi = 1, 0x80, 0xBF
        elif b == 0xE0:
            need, lo, hi = 2, 0xA0, 0xBF     # no overlong 3-byte forms
        elif b == 0xED:
            need, lo, hi = 2, 0x80, 0x9F     # no surrogates
        elif 0xE1 <= b <= 0xEF:
            need, lo, hi = 2, 0x80, 0xBF
        elif b == 0xF0:
            need, lo, hi = 3, 0x90, 0xBF     # no overlong 4-byte forms
        elif 0xF1 <= b <= 0xF3:
            need, lo, hi = 3, 0x80, 0xBF
        elif b == 0xF4:
            need, lo, hi = 3, 0x80, 0x8F     # nothing above U+10FFFF
        else:
            return i
        for k in range(need):
            j = i + 1 + k
            if j >= n:
                return n
            c = data[j]
            if not (lo <= c <= hi if k == 0 else 0x80 <= c <= 0xBF):
                return j
        i += need + 1
    return None


def utf8_valid(data):
    return utf8_fail_index(data) is None


# -- one connection under test ------------------------------------------------

def describe(ev, limit=40):
    """A short text for an event tuple."""
    kind = ev[0]
    if kind == 'message':
        op, payload = ev[1], ev[2]
        return (f'{OPNAMES.get(op, op)} message ({len(payload)} B) '
                f'{payload[:limit]!r}{"..." if len(payload) > limit else ""}')
    if kind in ('ping', 'pong'):
        return f'{kind} {ev[1][:limit]!r}'
    if kind == 'close':
        return f'close {ev[1]} {ev[2][:limit]!r}'
    if kind == 'eof':
        return 'TCP closed' + (f' ({ev[1]})' if len(ev) > 1 else '')
    if kind == 'timeout':
        return 'nothing'
    return repr(ev)


class Conn:
    """A RawWS under test: sends never raise, receives are checked.

    Send errors (the server may have closed already) are noted and shown if
    the case fails. event() turns frames into events and fails the case on
    anything a server must never send.
    """

    def __init__(self, ws, pmd=None):
        self.ws = ws
        self.notes = []
        self._frags = None
        self.pmd = pmd              # agreed permessage-deflate, if any
        self.compressed_in = 0      # messages the server sent compressed
        self.messages_in = 0

    # sending
    def send(self, opcode, payload=b'', **kw):
        try:
            self.ws.send_frame(opcode, payload, **kw)
        except OSError as e:
            self.notes.append(f'sending {OPNAMES.get(opcode, opcode)}: {e}')

    def send_raw(self, data, split=None, delay=0.0):
        try:
            self.ws.send_raw(data, split=split, delay=delay)
        except OSError as e:
            self.notes.append(f'sending {len(data)} B: {e}')

    def send_frames(self, frames, mode='chop', delay=None):
        """Send built frames: 'chop' (all at once), 'sync' (one write per
        frame, with a pause) or 'octet' (one byte per write, with pauses)."""
        if mode == 'chop':
            self.send_raw(b''.join(frames))
        elif mode == 'sync':
            for f in frames:
                self.send_raw(f)
                time.sleep(SYNC_DELAY if delay is None else delay)
        elif mode == 'octet':
            self.send_raw(b''.join(frames), split='bytewise',
                          delay=CHOP_DELAY if delay is None else delay)
        else:
            raise ValueError(mode)

    def send_background(self, data, split=None):
        """Write data from a thread (on a dup of the socket, so its timeout
        is its own) while this thread reads; returns the thread."""
        sock = self.ws.sock.dup()
        sock.settimeout(BIG_T)

        def run():
            try:
                if split is None:
                    sock.sendall(data)
                else:
                    view = memoryview(data)
                    for pos in range(0, len(data), split):
                        sock.sendall(view[pos:pos + split])
            except OSError as e:
                self.notes.append(f'sending {len(data)} B: {e}')
            finally:
                sock.close()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # receiving
    def event(self, timeout=T):
        """The next event: ('message', opcode, payload), ('ping', payload),
        ('pong', payload), ('close', code or None, reason), ('eof',) or
        ('timeout',)."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            try:
                f = self.ws.recv_frame(left)
            except socket.timeout:
                return ('timeout',)
            except OSError as e:
                return ('eof', str(e))
            if f is None:
                return ('eof',)
            if self.ws.masked_frames:
                raise CaseFailed('server sent a masked frame (RFC 6455 §5.1)')
            if f.rsv and self.pmd is None:
                raise CaseFailed(f'server sent RSV={f.rsv} without an '
                                 'extension (RFC 6455 §5.2)')
            if f.rsv and (f.rsv != RSV1
                          or f.opcode not in (OP_TEXT, OP_BINARY)):
                raise CaseFailed(f'server sent RSV={f.rsv} on a frame with '
                                 f'opcode {f.opcode}: permessage-deflate '
                                 'allows RSV1 on the first frame of a data '
                                 'message only (RFC 7692 §6)')
            if f.opcode >= 0x8:
                if not f.fin or len(f.payload) > 125:
                    raise CaseFailed(f'server sent a bad control frame '
                                     f'fin={f.fin} len={len(f.payload)} '
                                     '(RFC 6455 §5.5)')
                if f.opcode == OP_PING:
                    return ('ping', f.payload)
                if f.opcode == OP_PONG:
                    return ('pong', f.payload)
                if f.opcode == OP_CLOSE:
                    return self._close_event(f.payload)
                raise CaseFailed(f'server sent reserved opcode {f.opcode}')
            if f.opcode == OP_CONT:
                if self._frags is None:
                    raise CaseFailed('server sent a continuation frame '
                                     'outside a message (RFC 6455 §5.4)')
                self._frags[1].append(f.payload)
            elif f.opcode in (OP_TEXT, OP_BINARY):
                if self._frags is not None:
                    raise CaseFailed('server started a message inside a '
                                     'fragmented one (RFC 6455 §5.4)')
                self._frags = (f.opcode, [f.payload], bool(f.rsv))
            else:
                raise CaseFailed(f'server sent reserved opcode {f.opcode}')
            if f.fin:
                op, parts, compressed = self._frags
                self._frags = None
                payload = b''.join(parts)
                self.messages_in += 1
                if compressed:
                    self.compressed_in += 1
                    payload = self._inflate(payload)
                if op == OP_TEXT and not utf8_valid(payload):
                    raise CaseFailed('server sent a text message that is '
                                     'not UTF-8 (RFC 6455 §5.6)')
                return ('message', op, payload)

    def _inflate(self, payload):
        try:
            return self.pmd.decompress(payload)
        except zlib.error as e:
            p = self.pmd
            how = f'{p.server_max_window_bits}-bit window'
            if p.server_no_context_takeover:
                how += ' and no context takeover'
            raise CaseFailed(f'server sent a compressed message that does '
                             f'not inflate with the agreed {how} (RFC 7692 '
                             f'§7.2.2): {e}') from None

    def message_frames(self, opcode, payload, frag=0):
        """The frames of a message: compressed (RSV1 on the first frame)
        when permessage-deflate was agreed and zlib can honour the client
        window, else plain; ``frag`` > 0 cuts the (compressed) payload
        into frames of that many octets (Autobahn's autoFragmentSize)."""
        rsv = 0
        if self.pmd is not None and self.pmd.can_compress:
            payload, rsv = self.pmd.compress(payload), RSV1
        if frag <= 0 or len(payload) <= frag:
            return [frame(opcode, payload, rsv=rsv)]
        parts = [payload[i:i + frag] for i in range(0, len(payload), frag)]
        return [frame(opcode if i == 0 else OP_CONT, p,
                      fin=i == len(parts) - 1, rsv=rsv if i == 0 else 0)
                for i, p in enumerate(parts)]

    @staticmethod
    def _close_event(payload):
        if len(payload) == 1:
            raise CaseFailed('server sent a close frame with a 1-byte '
                             'payload (RFC 6455 §5.5.1)')
        if not payload:
            return ('close', None, b'')
        code = struct.unpack('!H', payload[:2])[0]
        if not utf8_valid(payload[2:]):
            raise CaseFailed('server sent a close reason that is not UTF-8')
        return ('close', code, payload[2:])

    # expectations
    def expect_message(self, opcode, payload, timeout=T, what='echo'):
        ev = self.event(timeout)
        if ev != ('message', opcode, payload):
            want = describe(('message', opcode, payload))
            raise CaseFailed(f'expected {what}: {want}; got {describe(ev)}')

    def expect_pong(self, payload, timeout=T):
        ev = self.event(timeout)
        if ev != ('pong', payload):
            raise CaseFailed(f'expected pong {payload[:40]!r}; '
                             f'got {describe(ev)}')

    def expect_nothing(self, seconds=WAIT, why=''):
        ev = self.event(seconds)
        if ev[0] != 'timeout':
            raise CaseFailed(f'expected nothing for {seconds} s{why}; '
                             f'got {describe(ev)}')

    def expect_eof(self, timeout=CLOSE_T):
        """After the close handshake: no more frames, TCP closed."""
        ev = self.event(timeout)
        if ev[0] == 'timeout':
            raise CaseFailed(f'server did not close TCP within {timeout} s '
                             'of the close handshake (RFC 6455 §7.1.1)')
        if ev[0] != 'eof':
            raise CaseFailed(f'got {describe(ev)} after the close frame')

    def expect_close(self, code, timeout=T, what='close'):
        """The server's close frame with ``code`` (None: empty payload),
        with nothing before it; then TCP closes."""
        ev = self.event(timeout)
        if ev[0] != 'close' or ev[1] != code:
            want = 'empty close' if code is None else f'close {code}'
            raise CaseFailed(f'expected {what}: {want}; got {describe(ev)}')
        return ev

    def expect_fail(self, code=1002, timeout=T):
        """The server fails the connection: its close frame with ``code``
        comes next (nothing before it), we answer it, TCP closes."""
        ev = self.expect_close(code, timeout, 'failure')
        self.send(OP_CLOSE, struct.pack('!H', code))
        self.expect_eof()
        return f'close {code}' + (f' {ev[2][:40]!r}' if ev[2] else '')

    def close_clean(self, code=1000, reason=b''):
        """We close: the server echoes the code, then closes TCP."""
        self.send(OP_CLOSE, struct.pack('!H', code) + reason)
        self.expect_close(code, what='close reply')
        self.expect_eof()


# -- the case table -----------------------------------------------------------

@dataclasses.dataclass
class Case:
    id: str
    desc: str
    expect: str
    run: object        # callable(Conn) -> detail str or None
    offers: list = None  # permessage-deflate offers: [(no_context_takeover,
                         # max_window_bits)], for the server; None: none

    @property
    def key(self):
        return tuple(int(x) for x in self.id.split('.'))


@dataclasses.dataclass
class Result:
    id: str
    verdict: str       # 'OK' or 'FAILED'
    detail: str
    seconds: float


CASES = []


def add(cid, desc, expect, offers=None):
    """Decorator registering a case body under ``cid``; ``offers`` makes
    the handshake offer permessage-deflate (see deflate_offer)."""
    def deco(fn):
        CASES.append(Case(cid, desc, expect, fn, offers))
        return fn
    return deco


def frame(opcode, payload=b'', fin=True, rsv=0):
    return build_frame(opcode, payload, fin=fin, rsv=rsv)


def close_payload(code, reason=b''):
    return struct.pack('!H', code) + reason


EXPECT_ECHO = 'Receive echoed message (with payload as sent), clean close.'
EXPECT_FAIL = ('The connection is failed immediately: close 1002 and no '
               'echo or pong after the error, then TCP closes.')
EXPECT_FAIL_AFTER_ECHO = ('Echo for the first message is received, then '
                          'the connection is failed immediately (close 1002); '
                          'the pong is not received.')
EXPECT_UTF8_FAIL = ('The connection is failed immediately, since the payload '
                    'is not valid UTF-8: close 1007.')


def echo_then_close(conn, op, payload, frames, mode='chop', timeout=T):
    conn.send_frames(frames, mode)
    conn.expect_message(op, payload, timeout)
    conn.close_clean()
    return f'echo {len(payload)} B'


# -- 1 Framing ----------------------------------------------------------------

def _cat1():
    sizes = [0, 125, 126, 127, 128, 65535, 65536]
    for sub, (op, kind, unit) in enumerate([(OP_TEXT, 'text', b'*'),
                                            (OP_BINARY, 'binary', b'\xfe')],
                                           1):
        for i, n in enumerate(sizes + [65536], 1):
            chopped = i == 8
            desc = (f'Send {kind} message with payload of length {n}'
                    + ('. Sent out data in chops of 997 octets.'
                       if chopped else '.'))

            def run(conn, op=op, n=n, unit=unit, chopped=chopped):
                payload = unit * n
                data = frame(op, payload)
                if chopped:
                    conn.send_raw(data, split=[997] * (len(data) // 997 + 1))
                else:
                    conn.send_raw(data)
                conn.expect_message(op, payload)
                conn.close_clean()
                return f'echo {n} B'
            add(f'1.{sub}.{i}', desc, EXPECT_ECHO)(run)


_cat1()


# -- 2 Pings/Pongs ------------------------------------------------------------

def _ping_case(cid, desc, payload, mode='chop'):
    @add(cid, desc, 'Pong (with payload echoed as sent), clean close.')
    def run(conn):
        conn.send_frames([frame(OP_PING, payload)], mode)
        conn.expect_pong(payload)
        conn.close_clean()
        return f'pong {len(payload)} B'


_ping_case('2.1', 'Send ping without payload.', b'')
_ping_case('2.2', 'Send ping with small text payload.', b'Hello, world!')
_ping_case('2.3', 'Send ping with small binary (non UTF-8) payload.',
           b'\x00\xff\xfe\xfd\xfc\xfb\x00\xff')
_ping_case('2.4', 'Send ping with binary payload of 125 octets.',
           b'\xfe' * 125)


@add('2.5', 'Send ping with binary payload of 126 octets.',
     'Connection is failed immediately (1002), since control frames may '
     'have payloads of at most 125 octets; no pong.')
def _2_5(conn):
    conn.send(OP_PING, b'\xfe' * 126)
    return conn.expect_fail(1002)


_ping_case('2.6', 'Send ping with binary payload of 125 octets, sent in '
           'octet-wise chops.', b'\xfe' * 125, mode='octet')


def _unsolicited_pong(cid, payload):
    @add(cid, f'Send unsolicited pong {"with" if payload else "without"} '
         'payload. Verify nothing is received. Clean close with normal code.',
         'Nothing in reply to the pong; clean close with normal code.')
    def run(conn):
        conn.send(OP_PONG, payload)
        conn.expect_nothing(WAIT, ' after an unsolicited pong')
        conn.close_clean()


_unsolicited_pong('2.7', b'')
_unsolicited_pong('2.8', b'unsolicited pong payload')


@add('2.9', 'Send unsolicited pong with payload. Send ping with payload. '
     'Verify pong for ping is received.',
     'Nothing in reply to the pong; a pong for our ping; clean close.')
def _2_9(conn):
    conn.send_frames([frame(OP_PONG, b'unsolicited pong payload'),
                      frame(OP_PING, b'ping payload')])
    conn.expect_pong(b'ping payload')
    conn.expect_nothing(0.1, ' after the pong')
    conn.close_clean()


def _ten_pings(cid, mode, how):
    @add(cid, f'Send 10 pings with payload{how}.',
         'Pongs for all our pings, in order, with all the payloads. Note: '
         'this is not required by the spec, but checked anyway.')
    def run(conn):
        payloads = [f'payload-{i}'.encode() for i in range(10)]
        conn.send_frames([frame(OP_PING, p) for p in payloads], mode)
        for p in payloads:
            conn.expect_pong(p)
        conn.close_clean()
        return '10 pongs'


_ten_pings('2.10', 'chop', ', all in one write (no reads in between)')
_ten_pings('2.11', 'octet', ', sent out in octet-wise chops (reads '
           'interleaved with the server\'s pongs)')


# -- 3 Reserved bits ----------------------------------------------------------

@add('3.1', 'Send small text message with RSV = 1.',
     'The connection is failed immediately (1002), since RSV must be 0 when '
     'no extension defining RSV meaning has been negotiated.')
def _3_1(conn):
    conn.send(OP_TEXT, b'Hello, world!', rsv=1)
    return conn.expect_fail(1002)


def _rsv_after_echo(cid, rsv, mode, how):
    @add(cid, f'Send small text message, then send again with RSV = {rsv}, '
         f'then send ping.{how}', EXPECT_FAIL_AFTER_ECHO)
    def run(conn):
        conn.send_frames([frame(OP_TEXT, b'Hello, world!'),
                          frame(OP_TEXT, b'Hello, world!', rsv=rsv),
                          frame(OP_PING, b'Hello, world!')], mode)
        conn.expect_message(OP_TEXT, b'Hello, world!')
        return conn.expect_fail(1002)


_rsv_after_echo('3.2', 2, 'chop', '')
_rsv_after_echo('3.3', 3, 'sync', ' Octets are sent in frame-wise chops.')
_rsv_after_echo('3.4', 4, 'octet', ' Octets are sent in octet-wise chops.')


@add('3.5', 'Send small binary message with RSV = 5.', EXPECT_FAIL)
def _3_5(conn):
    conn.send(OP_BINARY, b'\x00\xff\xfe\xfd\xfc\xfb\x00\xff', rsv=5)
    return conn.expect_fail(1002)


@add('3.6', 'Send ping with RSV = 6.', EXPECT_FAIL)
def _3_6(conn):
    conn.send(OP_PING, b'Hello, world!', rsv=6)
    return conn.expect_fail(1002)


@add('3.7', 'Send close with RSV = 7.', EXPECT_FAIL)
def _3_7(conn):
    conn.send(OP_CLOSE, close_payload(1000), rsv=7)
    return conn.expect_fail(1002)


# -- 4 Opcodes ----------------------------------------------------------------

def _opcode_cases():
    for sub, kind, ops in [(1, 'non-control', (3, 4, 5, 6, 7)),
                           (2, 'control', (11, 12, 13, 14, 15))]:
        for i, op in enumerate(ops, 1):
            payload = b'reserved opcode payload' if i in (2, 4, 5) else b''
            with_payload = ' and non-empty payload' if payload else ''
            if i <= 2:
                def run(conn, op=op, payload=payload):
                    conn.send(op, payload)
                    return conn.expect_fail(1002)
                add(f'4.{sub}.{i}', f'Send frame with reserved {kind} opcode '
                    f'= {op}{with_payload}.', EXPECT_FAIL)(run)
            else:
                def run(conn, op=op, payload=payload):
                    conn.send_frames([frame(OP_TEXT, b'Hello, world!'),
                                      frame(op, payload),
                                      frame(OP_PING, b'Hello, world!')])
                    conn.expect_message(OP_TEXT, b'Hello, world!')
                    return conn.expect_fail(1002)
                add(f'4.{sub}.{i}', f'Send small text message, then send '
                    f'frame with reserved {kind} opcode = {op}{with_payload}, '
                    'then send ping.', EXPECT_FAIL_AFTER_ECHO)(run)


_opcode_cases()


# -- 5 Fragmentation ----------------------------------------------------------

def _fragmented_control(cid, op, kind):
    @add(cid, f'Send {kind} fragmented into 2 fragments.',
         'Connection is failed immediately (1002), since control frames must '
         'not be fragmented.')
    def run(conn):
        conn.send_frames([frame(op, b'fragment1', fin=False),
                          frame(OP_CONT, b'fragment2')])
        return conn.expect_fail(1002)


_fragmented_control('5.1', OP_PING, 'ping')
_fragmented_control('5.2', OP_PONG, 'pong')

MODES = [('chop', ''), ('sync', ', octets are sent in frame-wise chops'),
         ('octet', ', octets are sent in octet-wise chops')]


def _frag_cases():
    for i, (mode, how) in enumerate(MODES):
        def run(conn, mode=mode):
            return echo_then_close(conn, OP_TEXT, b'fragment1fragment2',
                                   [frame(OP_TEXT, b'fragment1', fin=False),
                                    frame(OP_CONT, b'fragment2')], mode)
        add(f'5.{3 + i}', f'Send text message fragmented into 2 fragments'
            f'{how}.', 'Message is processed and echoed back to us.')(run)
    for i, (mode, how) in enumerate(MODES):
        def run(conn, mode=mode):
            conn.send_frames([frame(OP_TEXT, b'fragment1', fin=False),
                              frame(OP_PING, b'ping payload'),
                              frame(OP_CONT, b'fragment2')], mode)
            conn.expect_pong(b'ping payload')
            conn.expect_message(OP_TEXT, b'fragment1fragment2')
            conn.close_clean()
            return 'pong, then echo'
        add(f'5.{6 + i}', f'Send text message fragmented into 2 fragments, '
            f'one ping with payload in-between{how}.',
            'A pong is received, then the message is echoed back to us.')(run)
    chops = [('chop', 'sent in one chop'), ('sync', 'sent in per-frame chops'),
             ('octet', 'sent in octet-wise chops')]
    for base, fin in [(9, True), (12, False)]:
        for i, (mode, how) in enumerate(chops):
            def run(conn, mode=mode, fin=fin):
                conn.send_frames([frame(OP_CONT, b'non-continuation payload',
                                        fin=fin),
                                  frame(OP_TEXT, b'Hello, world!')], mode)
                return conn.expect_fail(1002)
            add(f'5.{base + i}', 'Send unfragmented text message after '
                f'continuation frame with FIN = {str(fin).lower()}, where '
                f'there is nothing to continue, {how}.',
                'The connection is failed immediately (1002), since there is '
                'no message to continue.')(run)


_frag_cases()


@add('5.15', 'Send text message fragmented into 2 fragments, then '
     'continuation frame with FIN = false where there is nothing to '
     'continue, then unfragmented text message, all sent in one chop.',
     'The first message is echoed, then the connection is failed '
     'immediately (1002), since there is no message to continue.')
def _5_15(conn):
    conn.send_frames([frame(OP_TEXT, b'fragment1', fin=False),
                      frame(OP_CONT, b'fragment2'),
                      frame(OP_CONT, b'fragment3', fin=False),
                      frame(OP_TEXT, b'fragment4')])
    conn.expect_message(OP_TEXT, b'fragment1fragment2')
    return conn.expect_fail(1002)


def _repeated(cid, fin):
    @add(cid, f'Repeated 2x: continuation frame with FIN = '
         f'{str(fin).lower()} (where there is nothing to continue), then '
         'text message fragmented into 2 fragments.',
         'The connection is failed immediately (1002), since there is no '
         'message to continue.')
    def run(conn):
        frames = [frame(OP_CONT, b'fragment1', fin=fin),
                  frame(OP_TEXT, b'fragment2', fin=False),
                  frame(OP_CONT, b'fragment3')]
        conn.send_frames(frames * 2)
        return conn.expect_fail(1002)


_repeated('5.16', False)
_repeated('5.17', True)


@add('5.18', 'Send text message fragmented into 2 fragments, with both '
     'frame opcodes set to text, sent in one chop.',
     'The connection is failed immediately (1002), since all data frames '
     'after the initial one must be continuation frames.')
def _5_18(conn):
    conn.send_frames([frame(OP_TEXT, b'fragment1', fin=False),
                      frame(OP_TEXT, b'fragment2')])
    return conn.expect_fail(1002)


def _pings_between(cid, mode, how):
    @add(cid, 'A fragmented text message is sent in multiple frames. After '
         'sending the first 2 frames of the text message, a ping is sent. '
         f'Then we wait, then send 2 more text fragments, another ping and '
         f'then the remaining text fragment. Then we wait.{how}',
         'The pings are answered with pongs as they come; the text message '
         'is echoed only after the last fragment was sent.')
    def run(conn):
        frags = [f'fragment{i}'.encode() for i in range(1, 6)]
        conn.send_frames([frame(OP_TEXT, frags[0], fin=False),
                          frame(OP_CONT, frags[1], fin=False),
                          frame(OP_PING, b'pongme 1!')], mode)
        conn.expect_pong(b'pongme 1!')
        conn.expect_nothing(WAIT, ' while the message is incomplete')
        conn.send_frames([frame(OP_CONT, frags[2], fin=False),
                          frame(OP_CONT, frags[3], fin=False),
                          frame(OP_PING, b'pongme 2!'),
                          frame(OP_CONT, frags[4])], mode)
        conn.expect_pong(b'pongme 2!')
        conn.expect_message(OP_TEXT, b''.join(frags))
        conn.close_clean()
        return 'pong 1, pong 2, echo'


_pings_between('5.19', 'chop', '')
_pings_between('5.20', 'sync', ' As 5.19, but every frame is sent in its '
               'own chop (SYNC = true).')


# -- 6 UTF-8 handling ---------------------------------------------------------

KOSME = b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5'   # "κόσμε"
HELLO_UTF8 = ('Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1'
              '-UTF-8!!').encode()
INVALID_3 = KOSME + b'\xed\xa0\x80' + b'edited'


@add('6.1.1', 'Send text message of length 0.',
     'A message is echoed back to us (with empty payload).')
def _6_1_1(conn):
    return echo_then_close(conn, OP_TEXT, b'', [frame(OP_TEXT, b'')])


@add('6.1.2', 'Send fragmented text message, 3 fragments each of length 0.',
     'A message is echoed back to us (with empty payload).')
def _6_1_2(conn):
    return echo_then_close(conn, OP_TEXT, b'', [
        frame(OP_TEXT, b'', fin=False), frame(OP_CONT, b'', fin=False),
        frame(OP_CONT, b'')])


@add('6.1.3', 'Send fragmented text message, 3 fragments, first and last of '
     'length 0, middle non-empty.',
     'A message is echoed back to us (with the payload of the middle frame).')
def _6_1_3(conn):
    return echo_then_close(conn, OP_TEXT, b'middle frame payload', [
        frame(OP_TEXT, b'', fin=False),
        frame(OP_CONT, b'middle frame payload', fin=False),
        frame(OP_CONT, b'')])


def fragments(payload, size):
    """Frames of a text message whose fragments are ``size`` bytes."""
    parts = [payload[i:i + size] for i in range(0, len(payload), size)]
    return [frame(OP_TEXT if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
            for i, p in enumerate(parts)]


@add('6.2.1', 'Send a valid UTF-8 text message in one fragment. MESSAGE: '
     'Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!',
     'The message is echoed back to us.')
def _6_2_1(conn):
    return echo_then_close(conn, OP_TEXT, HELLO_UTF8,
                           [frame(OP_TEXT, HELLO_UTF8)])


@add('6.2.2', 'Send a valid UTF-8 text message in two fragments, fragmented '
     'on UTF-8 code point boundary.', 'The message is echoed back to us.')
def _6_2_2(conn):
    cut = len('Hello-\u00b5@\u00df\u00f6\u00e4\u00fc'.encode())
    return echo_then_close(conn, OP_TEXT, HELLO_UTF8, [
        frame(OP_TEXT, HELLO_UTF8[:cut], fin=False),
        frame(OP_CONT, HELLO_UTF8[cut:])])


@add('6.2.3', 'Send a valid UTF-8 text message in fragments of 1 octet, '
     'resulting in frames ending on positions which are not code point '
     'ends.', 'The message is echoed back to us.')
def _6_2_3(conn):
    return echo_then_close(conn, OP_TEXT, HELLO_UTF8,
                           fragments(HELLO_UTF8, 1))


@add('6.2.4', 'Send a valid UTF-8 text message in fragments of 1 octet, '
     'resulting in frames ending on positions which are not code point '
     'ends. MESSAGE: \u03ba\u1f79\u03c3\u03bc\u03b5',
     'The message is echoed back to us.')
def _6_2_4(conn):
    return echo_then_close(conn, OP_TEXT, KOSME, fragments(KOSME, 1))


@add('6.3.1', 'Send invalid UTF-8 text message unfragmented. MESSAGE: '
     + INVALID_3.hex(), EXPECT_UTF8_FAIL)
def _6_3_1(conn):
    conn.send(OP_TEXT, INVALID_3)
    return conn.expect_fail(1007)


@add('6.3.2', 'Send invalid UTF-8 text message in fragments of 1 octet, '
     'resulting in frames ending on positions which are not code point '
     'ends. MESSAGE: ' + INVALID_3.hex(),
     EXPECT_UTF8_FAIL + ' Fail fast: the close comes after the fragment with '
     'the first invalid octet, before the rest is sent.')
def _6_3_2(conn):
    bad = utf8_fail_index(INVALID_3)
    frames = fragments(INVALID_3, 1)
    conn.send_frames(frames[:bad])
    conn.expect_nothing(0.05, ' before the invalid octet')
    conn.send_raw(frames[bad])
    return conn.expect_fail(1007, timeout=FAIL_FAST_T)


def _fail_fast(cid, parts, frames_not_chops, desc):
    @add(cid, desc + ' MESSAGE PARTS: ' + ', '.join(
        f'PART{i} = {p.hex()}' for i, p in enumerate(parts, 1)),
        'The first part is accepted: nothing comes during the wait. The '
        'second part is rejected at once (fail fast on UTF-8): close 1007 '
        'without the third part, which is never sent.')
    def run(conn):
        if frames_not_chops:
            chunks = [frame(OP_TEXT, parts[0], fin=False),
                      frame(OP_CONT, parts[1], fin=False)]
        else:
            whole = frame(OP_TEXT, b''.join(parts))
            head = len(whole) - sum(len(p) for p in parts)
            cut1 = head + len(parts[0])
            chunks = [whole[:cut1], whole[cut1:cut1 + len(parts[1])]]
        conn.send_raw(chunks[0])
        conn.expect_nothing(WAIT, ' after the valid first part')
        conn.send_raw(chunks[1])
        return conn.expect_fail(1007, timeout=FAIL_FAST_T)


_P641 = [KOSME, b'\xf4\x90\x80\x80', b'edited']
_P642 = [KOSME + b'\xf4', b'\x90', b'\x80\x80edited']
_fail_fast('6.4.1', _P641, True,
           'Send invalid UTF-8 text message in 3 fragments (frames). First '
           'frame payload is valid, then wait, then 2nd frame which contains '
           'the payload making the sequence invalid, then wait, then 3rd '
           'frame with rest. PART2 is 0x110000 encoded as in the UTF-8 '
           'integer encoding scheme, but the code point is out of range.')
_fail_fast('6.4.2', _P642, True,
           'Same as 6.4.1, but in 2nd frame, we send only up to and '
           'including the octet making the complete payload invalid.')
_fail_fast('6.4.3', _P641, False,
           'Same as 6.4.1, but we send the message not in 3 frames, but in '
           '3 chops of the same message frame.')
_fail_fast('6.4.4', _P642, False,
           'Same as 6.4.2, but we send the message not in 3 frames, but in '
           '3 chops of the same message frame.')


def utf8_sequences():
    """Autobahn's groups 6.5-6.23, from Markus Kuhn's UTF-8 decoder test:
    [(title, [payload, ...])]; validity comes from utf8_valid()."""
    groups = []
    groups.append(('Some valid UTF-8 sequences', [
        KOSME, b'hello\x24world', b'hello\xc2\xa2world',
        b'hello\xe2\x82\xacworld', b'hello\xf0\xa4\xad\xa2world']))
    groups.append(('All prefixes of a valid UTF-8 string that contains '
                   'multi-byte code points',
                   [KOSME[:i] for i in range(1, len(KOSME) + 1)]))
    groups.append(('First possible sequence of a certain length', [
        b'\x00', b'\xc2\x80', b'\xe0\xa0\x80', b'\xf0\x90\x80\x80']))
    groups.append(('First possible sequence length 5/6 (invalid code '
                   'points)', [b'\xf8\x88\x80\x80\x80',
                               b'\xfc\x84\x80\x80\x80\x80']))
    groups.append(('Last possible sequence of a certain length', [
        b'\x7f', b'\xdf\xbf', b'\xef\xbf\xbf', b'\xf4\x8f\xbf\xbf']))
    groups.append(('Last possible sequence length 4/5/6 (invalid code '
                   'points)', [b'\xf7\xbf\xbf\xbf', b'\xfb\xbf\xbf\xbf\xbf',
                               b'\xfd\xbf\xbf\xbf\xbf\xbf']))
    groups.append(('Other boundary conditions', [
        b'\xed\x9f\xbf', b'\xee\x80\x80', b'\xef\xbf\xbd',
        b'\xf4\x8f\xbf\xbf', b'\xf4\x90\x80\x80']))
    groups.append(('Unexpected continuation bytes', [
        b'\x80', b'\xbf', b'\x80\xbf', b'\x80\xbf\x80', b'\x80\xbf\x80\xbf',
        b'\x80\xbf\x80\xbf\x80', b'\x80\xbf\x80\xbf\x80\xbf',
        bytes(range(0x80, 0xc0))]))
    groups.append(('Lonely start characters', [
        b''.join(bytes([c, 0x20]) for c in range(lo, hi + 1))
        for lo, hi in [(0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7),
                       (0xf8, 0xfb), (0xfc, 0xfd)]]))
    missing = [b'\xc0', b'\xe0\x80', b'\xf0\x80\x80', b'\xf8\x80\x80\x80',
               b'\xfc\x80\x80\x80\x80', b'\xdf', b'\xef\xbf',
               b'\xf7\xbf\xbf', b'\xfb\xbf\xbf\xbf', b'\xfd\xbf\xbf\xbf\xbf']
    groups.append(('Sequences with last continuation byte missing', missing))
    groups.append(('Concatenation of incomplete sequences',
                   [b''.join(missing)]))
    groups.append(('Impossible bytes', [b'\xfe', b'\xff',
                                        b'\xfe\xfe\xff\xff']))
    groups.append(('Examples of an overlong ASCII character', [
        b'\xc0\xaf', b'\xe0\x80\xaf', b'\xf0\x80\x80\xaf',
        b'\xf8\x80\x80\x80\xaf', b'\xfc\x80\x80\x80\x80\xaf']))
    groups.append(('Maximum overlong sequences', [
        b'\xc1\xbf', b'\xe0\x9f\xbf', b'\xf0\x8f\xbf\xbf',
        b'\xf8\x87\xbf\xbf\xbf', b'\xfc\x83\xbf\xbf\xbf\xbf']))
    groups.append(('Overlong representation of the NUL character', [
        b'\xc0\x80', b'\xe0\x80\x80', b'\xf0\x80\x80\x80',
        b'\xf8\x80\x80\x80\x80', b'\xfc\x80\x80\x80\x80\x80']))
    surrogates = [0xd800, 0xdb7f, 0xdb80, 0xdbff, 0xdc00, 0xdf80, 0xdfff]
    groups.append(('Single UTF-16 surrogates',
                   [_cesu(s) for s in surrogates]))
    groups.append(('Paired UTF-16 surrogates', [
        _cesu(hi) + _cesu(lo) for hi in (0xd800, 0xdb7f, 0xdb80, 0xdbff)
        for lo in (0xdc00, 0xdfff)]))
    # U+FFFE/U+FFFF and U+nFFFE/U+nFFFF of planes 1-16: valid UTF-8
    # (noncharacters are not ill-formed, RFC 3629 and Unicode corrigendum #9)
    nonchars = [chr(0xfffe), chr(0xffff)] + [
        chr(plane * 0x10000 + low) for plane in range(1, 17)
        for low in (0xfffe, 0xffff)]
    groups.append(('Noncharacter code points (valid UTF-8)',
                   [c.encode() for c in nonchars]))
    groups.append(('Unicode specials (i.e. replacement char)',
                   [chr(c).encode() for c in range(0xfff9, 0x10000)]))
    return groups


def _cesu(cp):
    """The three bytes a UTF-8 encoder would write for a lone surrogate."""
    return bytes([0xe0 | cp >> 12, 0x80 | (cp >> 6) & 0x3f, 0x80 | cp & 0x3f])


def _utf8_cases():
    for g, (title, payloads) in enumerate(utf8_sequences(), 5):
        for i, payload in enumerate(payloads, 1):
            valid = utf8_valid(payload)
            desc = (f'{title}: send a text message with payload which is '
                    f'{"valid" if valid else "not valid"} UTF-8 in one '
                    f'fragment. Payload: 0x{payload.hex()}')
            if valid:
                def run(conn, payload=payload):
                    return echo_then_close(conn, OP_TEXT, payload,
                                           [frame(OP_TEXT, payload)])
                add(f'6.{g}.{i}', desc,
                    'The message is echoed back to us.')(run)
            else:
                def run(conn, payload=payload):
                    conn.send(OP_TEXT, payload)
                    return conn.expect_fail(1007)
                add(f'6.{g}.{i}', desc, EXPECT_UTF8_FAIL)(run)


_utf8_cases()


# -- 7 Close handling ---------------------------------------------------------

EXPECT_CLEAN = 'Clean close with normal code (1000), then TCP is closed.'


@add('7.1.1', 'Send a message followed by a close frame.',
     'Echoed message followed by clean close with normal code.')
def _7_1_1(conn):
    conn.send_frames([frame(OP_TEXT, b'Hello World'),
                      frame(OP_CLOSE, close_payload(1000))])
    conn.expect_message(OP_TEXT, b'Hello World')
    conn.expect_close(1000)
    conn.expect_eof()


def _close_then(cid, desc, expect, frames):
    @add(cid, desc, expect)
    def run(conn):
        conn.send_frames(frames)
        conn.expect_close(1000)
        conn.expect_eof()


_close_then('7.1.2', 'Send two close frames.',
            'Clean close with normal code; the second close frame is '
            'ignored (exactly one close frame comes back).',
            [frame(OP_CLOSE, close_payload(1000))] * 2)
_close_then('7.1.3', 'Send a ping after close message.',
            'Clean close with normal code, no pong.',
            [frame(OP_CLOSE, close_payload(1000)),
             frame(OP_PING, b'Hello World!')])
_close_then('7.1.4', 'Send text message after sending a close frame.',
            'Clean close with normal code; the text message is ignored.',
            [frame(OP_CLOSE, close_payload(1000)),
             frame(OP_TEXT, b'Hello World!')])
_close_then('7.1.5', 'Send message fragment1 followed by close then fragment.',
            'Clean close with normal code; no message is echoed.',
            [frame(OP_TEXT, b'fragment1', fin=False),
             frame(OP_CLOSE, close_payload(1000)),
             frame(OP_CONT, b'fragment2')])


@add('7.1.6', 'Send 256K message followed by close then a ping.',
     'Autobahn: informational (depends on the implementation\'s close '
     'behaviour). Here: the server handles frames in order, so the message '
     'is echoed in full, then clean close with normal code, and no pong.')
def _7_1_6(conn):
    payload = b'BAsd7&jh23' * 26214
    data = b''.join([frame(OP_TEXT, payload),
                     frame(OP_CLOSE, close_payload(1000)),
                     frame(OP_PING, b'Hello World!')])
    sender = conn.send_background(data)
    conn.expect_message(OP_TEXT, payload, timeout=BIG_T)
    conn.expect_close(1000)
    sender.join(BIG_T)
    conn.expect_eof()
    return f'echo {len(payload)} B, close 1000'


def _close_case(cid, desc, expect, payload, reply):
    """Send a close frame with ``payload``; ``reply`` is the code expected
    back (None: an empty close); 1002/1007 mean the server fails."""
    @add(cid, desc, expect)
    def run(conn):
        conn.send(OP_CLOSE, payload)
        ev = conn.expect_close(reply)
        if reply in (1002, 1007):
            # we are answering the server's close, as for any failure
            conn.send(OP_CLOSE, close_payload(reply))
        conn.expect_eof()
        return describe(ev)


# RFC 6455 §5.5.1: the reply "typically echos the status code it received";
# to a close without a code, the echo is a close without a code.
_close_case('7.3.1', 'Send a close frame with payload length 0 (no close '
            'code, no close reason).',
            'Clean close: the empty close frame is echoed.', b'', None)
_close_case('7.3.2', 'Send a close frame with payload length 1.',
            'Close with protocol error (1002).', b'a', 1002)
_close_case('7.3.3', 'Send a close frame with payload length 2 (regular '
            'close with a code).', EXPECT_CLEAN, close_payload(1000), 1000)
_close_case('7.3.4', 'Send a close frame with close code and close reason.',
            EXPECT_CLEAN, close_payload(1000, b'Hello World!'), 1000)
_close_case('7.3.5', 'Send a close frame with close code and close reason of '
            'maximum length (123).', EXPECT_CLEAN,
            close_payload(1000, b'*' * 123), 1000)
_close_case('7.3.6', 'Send a close frame with close code and close reason '
            'which is too long (124) - total frame payload 126 octets.',
            'Connection is failed immediately (1002), since control frames '
            'may have payloads of at most 125 octets.',
            close_payload(1000, b'*' * 124), 1002)
_close_case('7.5.1', 'Send a close frame with invalid UTF-8 payload. '
            'Payload: 0x' + close_payload(1000, INVALID_3).hex(),
            'Close with invalid payload data (1007).',
            close_payload(1000, INVALID_3), 1007)

for _i, _code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                            1011, 3000, 3999, 4000, 4999], 1):
    _close_case(f'7.7.{_i}', f'Send close with valid close code {_code}.',
                f'Clean close: the code {_code} is echoed, then TCP closes.',
                close_payload(_code), _code)
for _i, _code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000,
                            2999], 1):
    _close_case(f'7.9.{_i}', f'Send close with invalid close code {_code}.',
                'Close with protocol error (1002).', close_payload(_code),
                1002)
for _i, _code in enumerate([5000, 65535], 1):
    _close_case(f'7.13.{_i}', f'Send close with close code {_code}.',
                'Close with protocol error (1002).', close_payload(_code),
                1002)


# -- 9 Limits/Performance -----------------------------------------------------

def _pattern(op, n):
    unit = b'BAsd7&jh23' if op == OP_TEXT else bytes(range(256))
    return (unit * (n // len(unit) + 1))[:n]


def _size(n):
    return f'{n >> 20} MiB' if n >= 1 << 20 else f'{n >> 10} KiB'


def _big_echo(conn, op, payload, frames, chop=None):
    t0 = time.monotonic()
    sender = conn.send_background(b''.join(frames), split=chop)
    conn.expect_message(op, payload, timeout=BIG_T)
    dt = time.monotonic() - t0
    sender.join(BIG_T)
    conn.close_clean()
    return f'echo {_size(len(payload))} in {dt * 1000:.0f} ms'


def _perf_cases():
    kinds = [(OP_TEXT, 'text'), (OP_BINARY, 'binary')]
    # 9.1/9.2: one frame, 64 KiB .. 16 MiB in Autobahn
    for sub, (op, kind) in enumerate(kinds, 1):
        for i, n in enumerate([1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 23,
                               1 << 24], 1):
            n //= SCALE

            def run(conn, op=op, n=n):
                payload = _pattern(op, n)
                return _big_echo(conn, op, payload, [frame(op, payload)])
            add(f'9.{sub}.{i}', f'Send {kind} message with payload of length '
                f'{_size(n)} (Autobahn: {_size(n * SCALE)}).',
                'Receive echoed message (with payload as sent).')(run)
    # 9.3/9.4: a 4 MiB message (Autobahn) in fragments of 64 B .. 4 MiB
    for sub, (op, kind) in enumerate(kinds, 3):
        n = (4 << 20) // SCALE
        for i, fs in enumerate([64, 256, 1 << 10, 1 << 12, 1 << 14, 1 << 16,
                                1 << 18, 1 << 20, 1 << 22], 1):
            def run(conn, op=op, n=n, fs=fs):
                payload = _pattern(op, n)
                parts = [payload[p:p + fs] for p in range(0, n, fs)]
                frames = [build_frame(op if j == 0 else OP_CONT, part,
                                      fin=j == len(parts) - 1)
                          for j, part in enumerate(parts)]
                return _big_echo(conn, op, payload, frames) + \
                    f' ({len(frames)} frames)'
            add(f'9.{sub}.{i}', f'Send fragmented {kind} message with '
                f'message payload of length {_size(n)} (Autobahn: 4 MiB). '
                f'Sent out in fragments of {fs} octets.',
                'Receive echoed message (with payload as sent).')(run)
    # 9.5/9.6: a 1 MiB message (Autobahn) in one frame, in chops of 64..2048
    for sub, (op, kind) in enumerate(kinds, 5):
        n = (1 << 20) // SCALE
        for i, chop in enumerate([64, 128, 256, 512, 1024, 2048], 1):
            def run(conn, op=op, n=n, chop=chop):
                payload = _pattern(op, n)
                return _big_echo(conn, op, payload, [frame(op, payload)],
                                 chop=chop)
            add(f'9.{sub}.{i}', f'Send {kind} message with payload of length '
                f'{_size(n)} (Autobahn: 1 MiB). Sent out data in chops of '
                f'{chop} octets.',
                'Receive echoed message (with payload as sent).')(run)
    # 9.7/9.8: 1000 round trips of one message each
    for sub, (op, kind) in enumerate(kinds, 7):
        for i, n in enumerate([0, 16, 64, 256, 1024, 4096], 1):
            def run(conn, op=op, n=n):
                payload = _pattern(op, n)
                t0 = time.monotonic()
                for _ in range(1000):
                    conn.send(op, payload)
                    conn.expect_message(op, payload)
                dt = time.monotonic() - t0
                conn.close_clean()
                return f'1000 round trips, {dt * 1000:.0f} us each'
            add(f'9.{sub}.{i}', f'Send 1000 {kind} messages of payload size '
                f'{n} to measure implementation/network RTT (round trip '
                'time) / latency.',
                'Receive echoed messages (with payload as sent), each '
                'within the timeout.')(run)


_perf_cases()


# -- 10 Miscellaneous ---------------------------------------------------------

@add('10.1.1', 'Send text message with payload of length 65536 '
     'auto-fragmented with autoFragmentSize = 1300.',
     'Receive echoed text message (with payload as sent).')
def _10_1_1(conn):
    payload = b'*' * 65536
    return _big_echo(conn, OP_TEXT, payload, fragments(payload, 1300))


# -- 12/13 WebSocket compression ----------------------------------------------

# Autobahn's (payload size, autoFragmentSize) table of every 12.x/13.x
# subcategory; it sends 1000 messages per case.
COMPRESS_TABLE = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0),
                  (8192, 0), (16384, 0), (32768, 0), (65536, 0),
                  (131072, 0), (8192, 256), (16384, 256), (32768, 256),
                  (65536, 256), (131072, 256), (131072, 1024),
                  (131072, 4096), (131072, 32768)]
COMPRESS_BUDGET = 256 * 1024  # payload bytes per case (at most 100 messages)
COMPRESS_T = 10.0             # how long one echo may take


def compress_count(size):
    """How many messages of ``size`` bytes a 12.x/13.x case sends."""
    return max(4, min(100, COMPRESS_BUDGET // size))


def deflate_offer(offers):
    """The Sec-WebSocket-Extensions value for a list of (no_context_takeover,
    max_window_bits) server requests (Autobahn's requestNoContextTakeover,
    requestMaxWindowBits; 0: no request). Each offer also says that the
    client accepts a limit on its own window (client_max_window_bits)."""
    out = []
    for no_takeover, bits in offers:
        params = ['permessage-deflate', 'client_max_window_bits']
        if no_takeover:
            params.append('server_no_context_takeover')
        if bits:
            params.append(f'server_max_window_bits={bits}')
        out.append('; '.join(params))
    return ', '.join(out)


def deflate_agreement(offers, answer):
    """The PerMessageDeflate of the server's answer to deflate_offer(offers)
    (None: declined), checked: exactly one permessage-deflate with valid
    parameters that fits one of the offers (RFC 7692 §5, §7.1): it holds
    server_no_context_takeover if that offer asked for it and a
    server_max_window_bits no larger than the one asked for."""
    if answer is None:
        if any(bits != 8 for _, bits in offers):
            raise CaseFailed(f'the server declined every offer '
                             f'({deflate_offer(offers)}); only an 8-bit '
                             'server window may be declined here')
        return None
    try:
        exts = parse_extensions(answer)
        if len(exts) != 1 or exts[0][0] != 'permessage-deflate':
            raise ValueError('not exactly one permessage-deflate')
        pmd = PerMessageDeflate.from_params(exts[0][1])
    except ValueError as e:
        raise CaseFailed(f'bad Sec-WebSocket-Extensions {answer!r}: {e}') \
            from None
    params = dict(exts[0][1])
    for no_takeover, bits in offers:
        if no_takeover and 'server_no_context_takeover' not in params:
            continue
        if bits and pmd.server_max_window_bits > bits:
            continue
        if bits and 'server_max_window_bits' not in params:
            continue
        return pmd
    raise CaseFailed(f'the answer {answer!r} fits none of the offers '
                     f'{deflate_offer(offers)!r} (RFC 7692 §7.1)')


def _agreed_text(pmd):
    if pmd is None:
        return 'declined, uncompressed'
    parts = [f'server window {pmd.server_max_window_bits}',
             f'client window {pmd.client_max_window_bits}']
    if pmd.server_no_context_takeover:
        parts.append('server no takeover')
    if pmd.client_no_context_takeover:
        parts.append('client no takeover')
    return ', '.join(parts)


def _json_corpus(rnd):
    names = ['Müller', 'Søren', 'Zoë', 'Jürgen', 'Anaïs', 'Łukasz', 'Chloé',
             'Ægir', 'Noël', 'Ramón', 'Björk', 'Dvořák', 'Þór', 'Ōsaka']
    items = []
    for i in range(700):
        items.append({
            'id': i, 'guid': '%032x' % rnd.getrandbits(128),
            'isActive': rnd.random() < 0.5,
            'balance': f'{rnd.randrange(100000, 400000) / 100:.2f}',
            'age': rnd.randrange(20, 70),
            'name': f'{rnd.choice(names)} {rnd.choice(names)}',
            'tags': rnd.sample(['et', 'sunt', 'dolor', 'amet', 'veniam',
                                'culpa', 'esse', 'irure', 'minim'], 4),
            'location': {'lat': round(rnd.uniform(-90, 90), 6),
                         'lon': round(rnd.uniform(-180, 180), 6)},
        })
    return json.dumps(items, indent=2, ensure_ascii=False).encode()


def _bitmap_corpus(rnd):
    """A 512x512 8-bit grey BMP: gradients, rings and a little noise."""
    w = h = 512
    rows = []
    for y in range(h):
        row = bytearray(w)
        for x in range(w):
            d = ((x - 256) ** 2 + (y - 200) ** 2) >> 9
            row[x] = ((x + y) // 4 + (d & 0x20) * 3 + rnd.randrange(8)) & 0xff
        rows.append(bytes(row))
    palette = b''.join(bytes([i, i, i, 0]) for i in range(256))
    pixels = b''.join(rows)
    off = 14 + 40 + len(palette)
    head = (b'BM' + struct.pack('<IHHI', off + len(pixels), 0, 0, off)
            + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 8, 0, len(pixels),
                          2835, 2835, 256, 0))
    return head + palette + pixels


def _prose_corpus(rnd):
    words = ('Habe nun ach Philosophie Juristerei und Medizin leider auch '
             'Theologie durchaus studiert mit heißem Bemühn da steh ich '
             'armer Tor bin so klug als wie zuvor heiße Magister Doktor gar '
             'ziehe schon an die zehen Jahr herauf herab und quer krumm '
             'meine Schüler an der Nase herum sehe dass wir nichts wissen '
             'können das will mir schier Herz verbrennen Geist Nacht '
             'Studierzimmer Welt Tag Mond Glück Träne Brust Sorge öffnen '
             'über hören süß Gefühl Erde Himmel Müh groß').split()
    speakers = ['FAUST.', 'MEPHISTOPHELES.', 'WAGNER.', 'GRETCHEN.',
                'MARTHE.', 'CHOR DER ENGEL.']
    out = []
    size = 0
    while size < 222000:
        lines = [rnd.choice(speakers)]
        for _ in range(rnd.randrange(2, 9)):
            line = ' '.join(rnd.choice(words) for _ in range(rnd.randrange(
                4, 9)))
            lines.append(line[0].upper() + line[1:] + rnd.choice(
                [',', '.', '!', '?', ';', '']))
        block = '\n'.join(lines) + '\n\n'
        out.append(block)
        size += len(block.encode())
    return ''.join(out).encode()


def _html_corpus(rnd):
    out = ['<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
           '<title>Release notes</title>\n<link rel="stylesheet" '
           'href="/static/site.css"></head>\n<body>\n']
    words = ('the server module connection frame message buffer window '
             'request response client handler config directive log thread '
             'pool brigade bucket filter close ping pong').split()
    i = 0
    while sum(len(p) for p in out) < 83000:
        i += 1
        text = ' '.join(rnd.choice(words) for _ in range(rnd.randrange(8,
                                                                      30)))
        out.append(f'<div class="entry" id="e{i}">\n  <h2><a href="#e{i}">'
                   f'Change {i}</a></h2>\n  <p class="text">{text}.</p>\n'
                   f'  <ul><li><code>{rnd.choice(words)}_{i}()</code></li>'
                   f'<li>&copy; {rnd.randrange(1995, 2025)}</li></ul>\n'
                   '</div>\n')
    out.append('</body>\n</html>\n')
    return ''.join(out).encode()


def _pdf_corpus(rnd):
    """Text objects between binary streams: partly compressible."""
    out = [b'%PDF-1.4\n%\xe2\xe3\xcf\xd3\n']
    n = 0
    while sum(len(p) for p in out) < 1040000:
        n += 1
        out.append(f'{n} 0 obj\n<< /Type /Page /Parent 1 0 R /MediaBox '
                   f'[0 0 612 792] /Contents {n + 1} 0 R >>\nendobj\n'
                   .encode())
        n += 1
        stream = rnd.randbytes(rnd.randrange(500, 6000))
        out.append(f'{n} 0 obj\n<< /Length {len(stream)} /Filter '
                   '/FlateDecode >>\nstream\n'.encode() + stream
                   + b'\nendstream\nendobj\n')
    out.append(b'trailer\n<< /Root 1 0 R >>\n%%EOF\n')
    return b''.join(out)


# subcategory of 12: (title as in Autobahn, opcode, generator)
COMPRESS_DATA = [
    ('Large JSON data (utf8, like Autobahn\'s 194056-byte file)', OP_TEXT,
     _json_corpus),
    ('Bitmap 512x512 grey (binary, like Autobahn\'s 263222-byte Lena '
     'picture)', OP_BINARY, _bitmap_corpus),
    ('Human readable text, German verse (utf8, like Autobahn\'s 222218-byte '
     'Goethe\'s Faust I)', OP_TEXT, _prose_corpus),
    ('Large HTML file (utf8, like Autobahn\'s 83602-byte file)', OP_TEXT,
     _html_corpus),
    ('A larger PDF-like file (binary, like Autobahn\'s 1042328-byte PDF)',
     OP_BINARY, _pdf_corpus),
]
_corpora = {}


def corpus(i):
    """The data of 12.(i+1), made once (deterministic)."""
    if i not in _corpora:
        _corpora[i] = COMPRESS_DATA[i][2](random.Random(1200 + i))
    return _corpora[i]


def corpus_slice(data, index, size, text):
    """Message ``index`` of a case: ``size`` bytes of data from an offset
    that moves on with each message (wrapping around). Text is cut at code
    point boundaries and padded with spaces, so it stays valid UTF-8."""
    start = (index * 40503) % len(data)
    while text and 0x80 <= data[start] < 0xc0:
        start += 1
    piece = (data[start:] + data)[:size]
    while len(piece) < size:
        piece += data[:size - len(piece)]
    if text:
        end = len(piece)
        while end and 0x80 <= piece[end - 1] < 0xc0:
            end -= 1
        if end and piece[end - 1] >= 0xc0:
            end -= 1                       # a lead byte without its tail
        piece = piece[:end] + b' ' * (size - end)
        if end < size - 4 or not utf8_valid(piece):
            raise AssertionError(f'corpus slice not UTF-8 at {start}')
    return piece


def _compress_case(conn, data, op, size, frag):
    count = compress_count(size)
    t0 = time.monotonic()
    for i in range(count):
        payload = corpus_slice(data, i, size, op == OP_TEXT)
        conn.send_frames(conn.message_frames(op, payload, frag))
        conn.expect_message(op, payload, timeout=COMPRESS_T,
                            what=f'echo of message {i + 1}/{count}')
    dt = time.monotonic() - t0
    conn.close_clean()
    sent = 'compressed' if conn.pmd and conn.pmd.can_compress else 'plain'
    return (f'{count} x {size} B {sent}, {conn.compressed_in}/'
            f'{conn.messages_in} replies compressed, {dt * 1000:.0f} ms; '
            f'{_agreed_text(conn.pmd)}')


def _compress_desc(count, size, frag, offers_text):
    return (f'Send {count} compressed messages each of payload size {size}, '
            f'auto-fragment to {frag} octets. {offers_text} (Autobahn: 1000 '
            'messages.)')


EXPECT_COMPRESS = ('Receive echoed messages (with payload as sent); the '
                   'server\'s compressed messages inflate with the agreed '
                   'parameters; clean close.')


def _compression_cases():
    default = [(False, 0)]
    for sub, (title, op, _) in enumerate(COMPRESS_DATA, 1):
        for i, (size, frag) in enumerate(COMPRESS_TABLE, 1):
            def run(conn, sub=sub, op=op, size=size, frag=frag):
                return _compress_case(conn, corpus(sub - 1), op, size, frag)
            add(f'12.{sub}.{i}', f'{title}: ' + _compress_desc(
                compress_count(size), size, frag,
                'Use the default permessage-deflate offer '
                f'({deflate_offer(default)}).'),
                EXPECT_COMPRESS, offers=default)(run)
    # Autobahn's 13.1-13.7, then two more orders of a declinable offer
    offer_lists = [[(False, 0)], [(True, 0)], [(False, 8)], [(False, 15)],
                   [(True, 8)], [(True, 15)],
                   [(True, 8), (True, 0), (False, 0)],
                   [(True, 8), (False, 0)], [(False, 15), (True, 8)]]
    for sub, offers in enumerate(offer_lists, 1):
        offers_text = ('Use permessage-deflate client offers '
                       '(requestNoContextTakeover, requestMaxWindowBits): '
                       f'{offers}.')
        for i, (size, frag) in enumerate(COMPRESS_TABLE, 1):
            def run(conn, size=size, frag=frag):
                return _compress_case(conn, corpus(0), OP_TEXT, size, frag)
            add(f'13.{sub}.{i}', _compress_desc(compress_count(size), size,
                                                frag, offers_text),
                EXPECT_COMPRESS + ' An offer of an 8-bit window may be '
                'declined (then the next offer, or none, applies).',
                offers=offers)(run)


_compression_cases()


CASES.sort(key=lambda c: c.key)


# -- running ------------------------------------------------------------------

def select(patterns=None):
    """Cases whose id matches one of the fnmatch ``patterns`` (all if none);
    "6.*" also matches "6.4.1"."""
    if not patterns:
        return list(CASES)
    return [c for c in CASES
            if any(fnmatch.fnmatchcase(c.id, p) or c.id == p
                   for p in patterns)]


def run_case(case, host, port, path='/echo', deflate_path=None):
    """Run one case on a new connection and return its Result. Cases that
    offer permessage-deflate (12, 13) use ``deflate_path`` if given."""
    t0 = time.monotonic()
    notes = []
    offer = None
    if case.offers is not None:
        offer = deflate_offer(case.offers)
        path = deflate_path or path
    try:
        ws = RawWS.connect(host, port, path, timeout=T, extensions=offer)
    except (HandshakeError, OSError) as e:
        return Result(case.id, 'FAILED', f'handshake: {e}',
                      time.monotonic() - t0)
    conn = Conn(ws)
    try:
        answer = ws.response_headers.get('sec-websocket-extensions')
        if offer is None and answer is not None:
            raise CaseFailed('server accepted an extension nobody offered')
        if offer is not None:
            conn.pmd = deflate_agreement(case.offers, answer)
        detail = case.run(conn) or 'ok'
        verdict = 'OK'
    except CaseFailed as e:
        verdict, detail = 'FAILED', str(e)
        notes = conn.notes
    except Exception as e:     # a bug in the case or the client: say so
        verdict, detail = 'FAILED', f'{type(e).__name__}: {e}'
        notes = conn.notes
    finally:
        ws.close_socket()
    if notes:
        detail += ' [' + '; '.join(notes[:3]) + ']'
    return Result(case.id, verdict, detail, time.monotonic() - t0)


def format_table(results, title='mod_websocket conformance'):
    """An Autobahn-like summary: one line per case, then the totals."""
    lines = [title, '',
             f'{"Case":<9} {"Verdict":<7} {"Time":>8}  Detail',
             f'{"-" * 9} {"-" * 7} {"-" * 8}  {"-" * 50}']
    for r in sorted(results, key=lambda r: tuple(map(int, r.id.split('.')))):
        lines.append(f'{r.id:<9} {r.verdict:<7} {r.seconds * 1000:>6.0f}ms'
                     f'  {r.detail}')
    ok = sum(r.verdict == 'OK' for r in results)
    lines += ['', f'{len(results)} cases: {ok} OK, {len(results) - ok} FAILED']
    return '\n'.join(lines) + '\n'
