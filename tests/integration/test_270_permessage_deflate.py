"""270: permessage-deflate (RFC 7692). With WebSocketDeflate On the server
accepts the first acceptable permessage-deflate offer and answers it in the
101, inflates compressed messages as they arrive (WebSocketMaxMessageSize
counts the inflated bytes) and compresses what it sends, within the agreed
window and context takeover. Protocol violations fail the connection
(1002, 1007, 1009) and close TCP; a fresh connection still echoes.

Locations (conf/270_permessage_deflate.conf): /pmd-echo (On), /pmd-w10
(window 10), /pmd-small (limit 10000), /pmd-merge (On, window 11) with
/pmd-merge/inner (inherits) and /pmd-merge/off (Off). /echo has the
default: Off. Over HTTP/2 (RFC 8441) a server of its own (event and
worker) serves /pmd-h2.
"""

import functools
import os
import random
import select
import zlib

import pytest
from websockets.extensions.permessage_deflate import \
    ClientPerMessageDeflateFactory

from h2ws import H2WS
from procs import children_kib
from wsraw import (OP_TEXT, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_CLOSE,
                   RSV1, PerMessageDeflate, parse_extensions, build_frame)
import wsit
from wsit import (connect, assert_failed_with, assert_echoes, run, ws_client,
                  describe_mismatch, TIMEOUT)

PMD = 'permessage-deflate'
KiB = 1024
MiB = 1024 * KiB
KOSME = 'κόσμε'                 # 11 bytes of UTF-8 (Autobahn's 6.x)
DEFLATE_OFF = ('/echo', '/pmd-merge/off')


# -- helpers ------------------------------------------------------------------

def extensions_of(ws):
    """The Sec-WebSocket-Extensions of a RawWS's 101 (None if absent)."""
    return ws.response_headers.get('sec-websocket-extensions')


def agreed(ws, what):
    """The PerMessageDeflate of a 101 that must have accepted the offer."""
    answer = extensions_of(ws)
    assert answer is not None, \
        f'{what}: no Sec-WebSocket-Extensions in the 101: ' \
        f'{ws.response_headers}'
    try:
        pmd = PerMessageDeflate.from_response(answer)
    except ValueError as e:
        raise AssertionError(f'{what}: bad answer {answer!r}: {e}') from None
    return pmd


def compressible(n, seed=0):
    """n bytes of text-like data that deflates well (valid ASCII)."""
    rnd = random.Random(seed)
    words = [b'websocket', b'deflate', b'apache', b'httpd', b'frame',
             b'message', b'window', b'context', b'{"id": ', b'}, ', b'\n']
    out = bytearray()
    while len(out) < n:
        out += rnd.choice(words) + b' '
    return bytes(out[:n])


def letters(n, seed=0):
    """n random lowercase letters: text that deflates to about 60%."""
    rnd = random.Random(seed)
    return bytes(rnd.choices(b'abcdefghijklmnopqrstuvwxyz', k=n))


def send_compressed(ws, pmd, opcode, data, parts=1):
    """Send data as one compressed message (RSV1 on the first frame only),
    its compressed bytes cut into ``parts`` frames."""
    payload = pmd.compress(data)
    cut = [len(payload) * i // parts for i in range(parts + 1)]
    for i in range(parts):
        ws.send_frame(opcode if i == 0 else OP_CONT,
                      payload[cut[i]:cut[i + 1]], fin=(i == parts - 1),
                      rsv=RSV1 if i == 0 else 0)
    return payload


def expect_echo(ws, pmd, opcode, data, what, timeout=10):
    """The next message is the echo of (opcode, data); returns it."""
    try:
        got = pmd.recv_message(ws, timeout)
    except zlib.error as e:
        raise AssertionError(f'{what}: the server\'s compressed reply does '
                             f'not inflate with {vars(pmd)}: {e}') from None
    assert got is not None, f'{what}: connection closed instead of the echo'
    assert got.opcode == opcode, \
        f'{what}: echo opcode {got.opcode}, want {opcode}: {got!r:.200}'
    assert got.payload == data, \
        f'{what}: ' + describe_mismatch(got.payload, data)
    return got


def assert_pmd_echoes(httpd, path='/pmd-echo', what=''):
    """A fresh connection to path negotiates permessage-deflate and echoes
    compressed text and binary."""
    with connect(httpd, path, extensions=PMD) as ws:
        pmd = agreed(ws, f'{what}: fresh connection to {path}')
        for opcode, data in [(OP_TEXT, b'still compressing ' * 20),
                             (OP_BINARY, bytes(range(256)) * 8)]:
            send_compressed(ws, pmd, opcode, data)
            expect_echo(ws, pmd, opcode, data,
                        f'{what}: fresh connection to {path}')
        assert ws.close() == (1000, b''), f'{what}: close of the fresh one'


def fail_case(httpd, send, code, what, path='/pmd-echo', offer=PMD):
    """Connect to path offering ``offer``, let send(ws, pmd) misbehave
    (pmd: the agreed PerMessageDeflate or None), expect close ``code`` and
    the TCP close; then fresh connections still echo, plain and
    compressed (wsit.fail_case, and assert_pmd_echoes)."""
    result = wsit.fail_case(
        httpd, lambda ws: send(ws, PerMessageDeflate.from_response(
            ws.response_headers)),
        code, what, path, extensions=offer)
    if path not in DEFLATE_OFF:
        assert_pmd_echoes(httpd, path, what=f'after {what}')
    return result


def peak_rss_kib(httpd):
    """{pid: VmHWM (peak resident set, KiB)} of the server's children."""
    return children_kib(httpd.pid, 'VmHWM')


def assert_no_memory_blowup(httpd, before, what, limit_kib=2 * 1024):
    """No child's peak RSS grew by more than limit_kib since ``before``.
    (Only growth beyond the earlier peak shows: a child that held more
    before, for earlier tests' big messages, may hide some.)"""
    after = peak_rss_kib(httpd)
    grown = {pid: after[pid] - before.get(pid, 0) for pid in after
             if pid in before}
    worst = max(grown.values(), default=0)
    assert worst < limit_kib, \
        (f'{what}: a child\'s peak RSS grew by {worst} KiB (limit '
         f'{limit_kib}): before {before}, after {after}')


# -- 0: the client's own deflate helper against RFC 7692's examples -----------

def test_ws_270_00_helper_rfc_examples():
    """RFC 7692 §7.2.3.1/§7.2.3.2: "Hello" compressed, then again sharing
    the LZ77 window; the payloads PerMessageDeflate makes and reads."""
    pmd = PerMessageDeflate()
    assert pmd.compress(b'Hello') == bytes.fromhex('f248cdc9c90700'), \
        '§7.2.3.1 payload'
    assert pmd.compress(b'Hello') == bytes.fromhex('f200110000'), \
        '§7.2.3.2 payload (context takeover)'
    pmd = PerMessageDeflate()
    for hexa in ['f248cdc9c90700', 'f200110000', '000500faff48656c6c6f00',
                 'f348cdc9c9070000', 'f24805000000ffffcac9c90700']:
        assert pmd.decompress(bytes.fromhex(hexa)) == b'Hello', hexa
    assert parse_extensions('permessage-deflate; client_max_window_bits, '
                            'x-foo; a="b,c"') == \
        [('permessage-deflate', [('client_max_window_bits', None)]),
         ('x-foo', [('a', 'b,c')])], 'parse_extensions'


# -- 1: python3-websockets with compression -----------------------------------

@functools.lru_cache(maxsize=1)
def messages():
    """(what, message) pairs echoed by the websockets client tests (made
    once, when first needed)."""
    rnd = random.Random(270)
    msgs = []
    for n in (0, 1, 125, 126, 65536):
        msgs.append((f'text {n}', compressible(n).decode('ascii')))
        msgs.append((f'binary {n}', bytes(rnd.randrange(4) for _ in range(n))))
    msgs.append(('text 1 MiB compressible', compressible(MiB, 1).decode()))
    msgs.append(('text UTF-8 compressible', KOSME * (MiB // 11)))
    msgs.append(('binary 1 MiB compressible', compressible(MiB, 2)))
    msgs.append(('binary 1 MiB random', os.urandom(MiB)))
    alphabet = 'abcdefghijklmnopqrstuvwxyzäöüß€ 0123456789'
    msgs.append(('text 1 MiB random',
                 ''.join(rnd.choices(alphabet, k=MiB))))
    msgs.append(('binary again (context)', compressible(65536)))
    return msgs


# (id, path, factory arguments or None for compression='deflate', the
# answer expected in the 101)
WS_OFFERS = [
    ('default', '/pmd-echo', None, 'permessage-deflate'),
    ('no-context-takeover', '/pmd-echo',
     dict(server_no_context_takeover=True, client_no_context_takeover=True,
          client_max_window_bits=None),
     'permessage-deflate; server_no_context_takeover; '
     'client_no_context_takeover'),
    ('client-window-10', '/pmd-echo', dict(client_max_window_bits=10),
     'permessage-deflate; client_max_window_bits=10'),
    ('server-window-9', '/pmd-echo',
     dict(server_max_window_bits=9, client_max_window_bits=None),
     'permessage-deflate; server_max_window_bits=9'),
    ('all', '/pmd-echo',
     dict(server_no_context_takeover=True, client_no_context_takeover=True,
          server_max_window_bits=12, client_max_window_bits=11),
     'permessage-deflate; server_no_context_takeover; '
     'server_max_window_bits=12; client_no_context_takeover; '
     'client_max_window_bits=11'),
    ('location-window-10', '/pmd-w10',
     dict(client_max_window_bits=None),
     'permessage-deflate; server_max_window_bits=10'),
]


@pytest.mark.parametrize('path,factory,expected',
                         [o[1:] for o in WS_OFFERS],
                         ids=[o[0] for o in WS_OFFERS])
def test_ws_270_01_websockets_echo(httpd, path, factory, expected):
    """python3-websockets compressing as agreed: every message (0 bytes to
    1 MiB, compressible and random, text and binary) comes back byte for
    byte, on one connection (so with context takeover where agreed). The
    client inflates with exactly the agreed server window and context."""
    if factory is None:
        kw = dict(compression='deflate')
    else:
        kw = dict(extensions=[ClientPerMessageDeflateFactory(**factory)])

    async def go():
        async with ws_client(httpd, path, **kw) as ws:
            answer = ws.response_headers.get('Sec-WebSocket-Extensions')
            exts = [repr(e) for e in ws.extensions]
            got = []
            for _, m in messages():
                await ws.send(m)
                got.append(await ws.recv())
            await ws.close()
            return answer, exts, got, ws.close_code
    answer, exts, got, close_code = run(go())
    assert answer == expected, \
        f'{path} {factory}: Sec-WebSocket-Extensions {answer!r}, want ' \
        f'{expected!r}'
    assert len(exts) == 1 and exts[0].startswith('PerMessageDeflate('), \
        f'{path} {factory}: extensions in use: {exts}'
    for (what, m), g in zip(messages(), got):
        assert type(g) is type(m), \
            f'{what}: came back as {type(g).__name__}'
        if isinstance(m, str):
            g, m = g.encode(), m.encode()
        assert g == m, f'{what}: ' + describe_mismatch(g, m)
    assert close_code == 1000, f'{path}: close code {close_code}'


def test_ws_270_02_websockets_concurrent(httpd):
    """Two connections with different parameters, used in turn: each
    keeps its own compression state."""
    a_factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_max_window_bits=None)
    b_factory = ClientPerMessageDeflateFactory(server_max_window_bits=10)

    async def go():
        async with ws_client(httpd, '/pmd-echo',
                             extensions=[a_factory]) as a, \
                ws_client(httpd, '/pmd-echo', extensions=[b_factory]) as b:
            out = []
            for i in range(20):
                for ws, tag in ((a, 'a'), (b, 'b')):
                    m = f'{tag}{i} ' + compressible(3000, i).decode()
                    await ws.send(m)
                    out.append((m, await ws.recv()))
            return out
    for i, (sent, got) in enumerate(run(go())):
        assert got == sent, f'message {i}: ' + describe_mismatch(
            got.encode(), sent.encode())


@pytest.mark.parametrize('lines,ok', [
    (['WebSocketDeflate On', 'WebSocketDeflateWindowBits 9'], True),
    (['WebSocketDeflate off', 'WebSocketDeflateWindowBits 15'], True),
    (['WebSocketDeflate Maybe'], False),
    (['WebSocketDeflateWindowBits 8'], False),
    (['WebSocketDeflateWindowBits 16'], False),
    (['WebSocketDeflateWindowBits 10abc'], False),
    (['WebSocketDeflateWindowBits'], False)],
    ids=['on-9', 'off-15', 'maybe', 'bits-8', 'bits-16', 'bits-suffix',
         'bits-missing'])
def test_ws_270_03_config(httpd, lines, ok):
    """The directives' values are checked strictly by `apache2 -t`."""
    conf = ('<Location /x>\n    WebSocketHandler echo\n'
            + ''.join(f'    {line}\n' for line in lines) + '</Location>\n')
    rc, out = httpd.configtest(conf)
    if ok:
        assert rc == 0, f'{lines}: apache2 -t refused:\n{out}'
    else:
        assert rc != 0 and 'Syntax OK' not in out, \
            f'{lines}: apache2 -t accepted:\n{out}'
        assert lines[0].split()[0] in out, \
            f'{lines}: the message does not name the directive:\n{out}'


# -- 2: negotiation -----------------------------------------------------------

# (id, path, Sec-WebSocket-Extensions lines sent, the exact answer or None
# for no Sec-WebSocket-Extensions in the 101)
NEGOTIATION = [
    ('plain', '/pmd-echo', [PMD], 'permessage-deflate'),
    ('client-window-no-value', '/pmd-echo',
     ['permessage-deflate; client_max_window_bits'], 'permessage-deflate'),
    ('client-window-8', '/pmd-echo',
     ['permessage-deflate; client_max_window_bits=8'],
     'permessage-deflate; client_max_window_bits=8'),
    ('server-window-10', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=10'],
     'permessage-deflate; server_max_window_bits=10'),
    ('server-window-quoted', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits="10"'],
     'permessage-deflate; server_max_window_bits=10'),
    ('server-window-8-declined', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=8'], None),
    ('server-window-8-then-plain', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=8, permessage-deflate'],
     'permessage-deflate'),
    ('unknown-param-then-second', '/pmd-echo',
     ['permessage-deflate; foo=1, '
      'permessage-deflate; server_no_context_takeover'],
     'permessage-deflate; server_no_context_takeover'),
    ('repeated-param-declined', '/pmd-echo',
     ['permessage-deflate; client_no_context_takeover; '
      'client_no_context_takeover'], None),
    ('repeated-window-then-plain', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=10; '
      'server_max_window_bits=10, permessage-deflate'],
     'permessage-deflate'),
    ('server-window-16', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=16'], None),
    ('server-window-leading-zero', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits=010'], None),
    ('server-window-no-value', '/pmd-echo',
     ['permessage-deflate; server_max_window_bits'], None),
    ('client-window-7', '/pmd-echo',
     ['permessage-deflate; client_max_window_bits=7'], None),
    ('takeover-with-value', '/pmd-echo',
     ['permessage-deflate; server_no_context_takeover=1'], None),
    ('everything', '/pmd-echo',
     ['permessage-deflate; client_max_window_bits=11; '
      'client_no_context_takeover; server_max_window_bits=12; '
      'server_no_context_takeover'],
     'permessage-deflate; server_no_context_takeover; '
     'server_max_window_bits=12; client_no_context_takeover; '
     'client_max_window_bits=11'),
    ('whitespace', '/pmd-echo',
     ['permessage-deflate ;  client_no_context_takeover'],
     'permessage-deflate; client_no_context_takeover'),
    ('webkit-ignored', '/pmd-echo', ['x-webkit-deflate-frame'], None),
    ('webkit-then-pmd', '/pmd-echo',
     ['x-webkit-deflate-frame, permessage-deflate'], 'permessage-deflate'),
    ('two-header-lines', '/pmd-echo',
     ['x-webkit-deflate-frame', 'permessage-deflate'], 'permessage-deflate'),
    ('off-default', '/echo', [PMD], None),
    ('off-merged', '/pmd-merge/off', [PMD], None),
    ('location-10', '/pmd-w10', [PMD],
     'permessage-deflate; server_max_window_bits=10'),
    ('location-10-asks-12', '/pmd-w10',
     ['permessage-deflate; server_max_window_bits=12'],
     'permessage-deflate; server_max_window_bits=10'),
    ('location-10-asks-9', '/pmd-w10',
     ['permessage-deflate; server_max_window_bits=9'],
     'permessage-deflate; server_max_window_bits=9'),
    ('merge-parent', '/pmd-merge', [PMD],
     'permessage-deflate; server_max_window_bits=11'),
    ('merge-inherited', '/pmd-merge/inner', [PMD],
     'permessage-deflate; server_max_window_bits=11'),
]


@pytest.mark.parametrize('path,offer,expected', [n[1:] for n in NEGOTIATION],
                         ids=[n[0] for n in NEGOTIATION])
def test_ws_270_10_negotiation(httpd, path, offer, expected):
    """The answer to each offer, exactly; then the connection works as
    agreed: a compressed round trip when accepted (with data that reaches
    back 2 KiB, so a server using more window than agreed is caught), an
    uncompressed one when not."""
    what = f'{path} offering {offer}'
    with connect(httpd, path, extensions=offer) as ws:
        answer = extensions_of(ws)
        assert answer == expected, \
            f'{what}: Sec-WebSocket-Extensions {answer!r}, want {expected!r}'
        data = letters(2 * KiB, 1) * 8
        if expected is None:
            ws.send_frame(OP_BINARY, data)
            got = ws.recv_message()
            assert got == (OP_BINARY, data), \
                f'{what}: uncompressed echo {got!r:.100}'
        else:
            pmd = agreed(ws, what)
            for opcode in (OP_BINARY, OP_TEXT):
                if pmd.can_compress:
                    send_compressed(ws, pmd, opcode, data)
                else:           # an 8-bit client window: zlib cannot
                    ws.send_frame(opcode, data)
                expect_echo(ws, pmd, opcode, data, what)
        assert ws.close() == (1000, b''), f'{what}: close'


# -- 3: compressed frames -----------------------------------------------------

def test_ws_270_20_rfc_examples(httpd):
    """RFC 7692 §7.2.3.1 ("Hello" in one compressed block), §7.2.3.2 (the
    same again, one back-reference into the first message), §7.2.3.3 (a
    stored block) and §7.2.3.5 (two blocks), masked, on one connection;
    then empty messages (§7.2.3.6's single 0x00, and no payload at all,
    what a sender gets from zlib when it flushes twice), after which the
    context still works: §7.2.3.2's back-reference again."""
    with connect(httpd, '/pmd-echo', extensions=PMD) as ws:
        pmd = agreed(ws, 'RFC examples')
        for section, hexa, want in [
                ('7.2.3.1', 'f248cdc9c90700', b'Hello'),
                ('7.2.3.2', 'f200110000', b'Hello'),
                ('7.2.3.3', '000500faff48656c6c6f00', b'Hello'),
                ('7.2.3.5', 'f24805000000ffffcac9c90700', b'Hello'),
                ('7.2.3.6', '00', b''),
                ('an empty payload', '', b''),
                ('7.2.3.2 after the empty ones', 'f200110000', b'Hello')]:
            ws.send_frame(OP_TEXT, bytes.fromhex(hexa), rsv=RSV1)
            expect_echo(ws, pmd, OP_TEXT, want, f'RFC 7692 §{section}')
        assert ws.close() == (1000, b''), 'close after the RFC examples'


def test_ws_270_21_bfinal_message(httpd):
    """RFC 7692 §7.2.3.4: a message flushed with a BFINAL block ends the
    sender's deflate stream; its next message starts a new one (it cannot
    refer back), and both must inflate."""
    with connect(httpd, '/pmd-echo', extensions=PMD) as ws:
        pmd = agreed(ws, 'BFINAL')
        ws.send_frame(OP_TEXT, bytes.fromhex('f348cdc9c9070000'), rsv=RSV1)
        expect_echo(ws, pmd, OP_TEXT, b'Hello', 'RFC 7692 §7.2.3.4 BFINAL')
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = c.compress(b'World, again') + c.flush(zlib.Z_FINISH)
        ws.send_frame(OP_TEXT, body, rsv=RSV1)
        expect_echo(ws, pmd, OP_TEXT, b'World, again',
                    'a second BFINAL stream after the first')
        ws.send_frame(OP_TEXT, bytes.fromhex('f248cdc9c90700'), rsv=RSV1)
        expect_echo(ws, pmd, OP_TEXT, b'Hello', 'a flushed message after')
        assert ws.close() == (1000, b''), 'close after the BFINAL messages'


@pytest.mark.parametrize('offer', [
    PMD, 'permessage-deflate; client_no_context_takeover',
    'permessage-deflate; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits=9'],
    ids=['takeover', 'client-no-takeover', 'server-no-takeover',
         'client-window-9'])
def test_ws_270_22_raw_echo(httpd, offer):
    """Compressed messages of several sizes and kinds, compressed by the
    client as agreed, come back byte for byte; a 64 KiB compressible reply
    is compressed (RSV1, much smaller on the wire)."""
    msgs = [(OP_TEXT, b''), (OP_TEXT, b'a'), (OP_BINARY, b'\x00\xff'),
            (OP_TEXT, compressible(125)), (OP_BINARY, os.urandom(126)),
            (OP_TEXT, KOSME.encode() * 100), (OP_BINARY, os.urandom(65536)),
            (OP_TEXT, compressible(65536, 5)),
            (OP_TEXT, compressible(65536, 5)),     # again: takeover helps
            (OP_TEXT, b''),                         # mid-stream: no payload
            (OP_BINARY, compressible(200000, 6))]
    with connect(httpd, '/pmd-echo', extensions=offer) as ws:
        pmd = agreed(ws, offer)
        for i, (opcode, data) in enumerate(msgs):
            send_compressed(ws, pmd, opcode, data)
            got = expect_echo(ws, pmd, opcode, data,
                              f'{offer}: message {i} ({len(data)} B)')
            if len(data) == 65536 and opcode == OP_TEXT:
                assert got.compressed and got.wire < len(data) // 4, \
                    (f'{offer}: 64 KiB of compressible text came back '
                     f'{"with" if got.compressed else "without"} RSV1 in '
                     f'{got.wire} bytes')
        # control frames are never compressed: recv_message checks RSV
        ws.send_frame(OP_PING, b'ping')
        got = pmd.recv_message(ws)
        assert got[:3] == (OP_PONG, b'ping', False), f'{offer}: {got!r}'
        ws.send_frame(OP_CLOSE, b'\x03\xe8')
        got = pmd.recv_message(ws)
        assert got[:3] == (OP_CLOSE, b'\x03\xe8', False), \
            f'{offer}: close reply {got!r}'


def test_ws_270_23_uncompressed_between(httpd):
    """RFC 7692 §6: each message may be sent uncompressed (RSV1 clear);
    those leave the LZ77 context alone, so the next compressed message may
    still refer back to the one before."""
    first = letters(3000, 7)
    with connect(httpd, '/pmd-echo', extensions=PMD) as ws:
        pmd = agreed(ws, 'uncompressed between')
        send_compressed(ws, pmd, OP_TEXT, first)
        expect_echo(ws, pmd, OP_TEXT, first, 'compressed 1')
        ws.send_frame(OP_BINARY, b'plain \x00\xff bytes')
        expect_echo(ws, pmd, OP_BINARY, b'plain \x00\xff bytes',
                    'uncompressed message in between')
        ws.send_frame(OP_TEXT, b'plain text', fin=False)
        ws.send_frame(OP_CONT, b' in two frames')
        expect_echo(ws, pmd, OP_TEXT, b'plain text in two frames',
                    'uncompressed fragmented message in between')
        payload = send_compressed(ws, pmd, OP_TEXT, first)
        assert len(payload) < 100, \
            f'the client did not take over its context ({len(payload)} B)'
        expect_echo(ws, pmd, OP_TEXT, first,
                    'compressed 2, referring back to compressed 1')
        assert ws.close() == (1000, b''), 'close'


@pytest.mark.parametrize('how', ['cut', 'flushed-parts', 'empty-first',
                                 'ping-between', 'bytewise'])
def test_ws_270_24_fragmented(httpd, how):
    """A compressed message in several frames: RSV1 on the first only."""
    data = compressible(100000, 8) + KOSME.encode() * 50
    with connect(httpd, '/pmd-echo', extensions=PMD) as ws:
        pmd = agreed(ws, how)
        if how == 'cut':
            send_compressed(ws, pmd, OP_TEXT, data, parts=5)
        elif how == 'flushed-parts':
            # each frame inflates on its own; the cuts split code points
            cuts = [0, 7001, 20003, 60001, len(data)]
            for i in range(4):
                part = pmd.compress(data[cuts[i]:cuts[i + 1]], fin=(i == 3))
                ws.send_frame(OP_TEXT if i == 0 else OP_CONT, part,
                              fin=(i == 3), rsv=RSV1 if i == 0 else 0)
        elif how == 'empty-first':
            ws.send_frame(OP_TEXT, b'', fin=False, rsv=RSV1)
            ws.send_frame(OP_CONT, pmd.compress(data), fin=False)
            ws.send_frame(OP_CONT, b'', fin=True)
        elif how == 'ping-between':
            payload = pmd.compress(data)
            ws.send_frame(OP_TEXT, payload[:100], fin=False, rsv=RSV1)
            ws.send_frame(OP_PING, b'between')
            got = pmd.recv_message(ws)
            assert got[:2] == (OP_PONG, b'between'), \
                f'pong inside a compressed message: {got!r:.100}'
            ws.send_frame(OP_CONT, payload[100:])
        else:
            ws.send_frame(OP_TEXT, pmd.compress(data), rsv=RSV1,
                          split=[3, 5, 1, 7] + [1] * 50)
        expect_echo(ws, pmd, OP_TEXT, data, f'fragmented ({how})')
        # the context goes on after a fragmented message
        send_compressed(ws, pmd, OP_TEXT, data[:5000])
        expect_echo(ws, pmd, OP_TEXT, data[:5000], f'after {how}')
        assert ws.close() == (1000, b''), f'{how}: close'


@pytest.mark.parametrize('path,offer,bits', [
    ('/pmd-w10', PMD, 10),
    ('/pmd-echo', 'permessage-deflate; server_max_window_bits=9', 9),
    ('/pmd-merge/inner', PMD, 11)],
    ids=['location-10', 'offer-9', 'inherited-11'])
def test_ws_270_25_window_honoured(httpd, path, offer, bits):
    """Data repeating every 4 KiB: a server compressing with a window
    larger than agreed refers back 4 KiB, which an inflater with the
    agreed window rejects ("invalid distance too far back")."""
    block = letters(4 * KiB, bits)
    data = block * 16
    with connect(httpd, path, extensions=offer) as ws:
        pmd = agreed(ws, f'{path} {offer}')
        assert pmd.server_max_window_bits == bits, \
            f'{path} {offer}: agreed {vars(pmd)}, want a {bits}-bit window'
        for i in range(3):
            send_compressed(ws, pmd, OP_BINARY, data)
            got = expect_echo(ws, pmd, OP_BINARY, data,
                              f'{path} {offer} #{i}')
            assert got.compressed, \
                f'{path} {offer} #{i}: 64 KiB of letters came back ' \
                f'uncompressed; the window would go untested'
        assert ws.close() == (1000, b''), f'{path}: close'


def test_ws_270_26_server_no_context_takeover_honoured(httpd):
    """With server_no_context_takeover each reply must inflate with a
    fresh context: the same 4 KiB twice may not refer to the first."""
    data = letters(4 * KiB, 26)
    offer = 'permessage-deflate; server_no_context_takeover'
    with connect(httpd, '/pmd-echo', extensions=offer) as ws:
        pmd = agreed(ws, offer)
        assert pmd.server_no_context_takeover, f'agreed {vars(pmd)}'
        sizes = []
        for i in range(3):
            send_compressed(ws, pmd, OP_TEXT, data)
            got = expect_echo(ws, pmd, OP_TEXT, data, f'{offer} #{i}')
            sizes.append((got.compressed, got.wire))
        assert all(c and w > KiB for c, w in sizes), \
            f'replies (compressed, wire size): {sizes}; 4 KiB of letters ' \
            f'should come back compressed, never as a reference to the last'
        assert ws.close() == (1000, b''), 'close'


def rss_kib(httpd):
    """VmRSS (KiB) of each of the server's children, by PID."""
    return children_kib(httpd.pid)


def test_ws_270_27_no_leak(httpd):
    """Compressing connections that end cleanly, by a TCP close after a
    message and by a TCP close in the middle of a compressed message: the
    zlib streams (hundreds of KiB each) go with the connection, so 150 of
    them leave the children's memory where 30 left it."""
    data = compressible(20000, 27)

    def one(i):
        with connect(httpd, '/pmd-echo', extensions=PMD) as ws:
            pmd = agreed(ws, f'connection {i}')
            send_compressed(ws, pmd, OP_TEXT, data)
            expect_echo(ws, pmd, OP_TEXT, data, f'connection {i}')
            if i % 3 == 0:
                assert ws.close() == (1000, b''), f'connection {i}: close'
            elif i % 3 == 2:
                ws.send_frame(OP_TEXT, pmd.compress(data[:5000], fin=False),
                              fin=False, rsv=RSV1)
    for i in range(30):
        one(i)
    before = rss_kib(httpd)
    for i in range(150):
        one(i)
    after = rss_kib(httpd)
    grown = sum(after[pid] - before[pid] for pid in after if pid in before)
    assert grown < 10 * 1024, \
        (f'the children grew by {grown} KiB over 150 compressing '
         f'connections: before {before}, after {after}')


# -- 4: failures --------------------------------------------------------------

@pytest.mark.parametrize('first_compressed', [True, False],
                         ids=['compressed-first', 'plain-first'])
def test_ws_270_30_rsv1_on_continuation(httpd, first_compressed):
    """RFC 7692 §6.1: RSV1 only on the first frame of a message."""
    def send(ws, pmd):
        if first_compressed:
            ws.send_frame(OP_TEXT, pmd.compress(b'first part', fin=False),
                          fin=False, rsv=RSV1)
            ws.send_frame(OP_CONT, pmd.compress(b' second'), rsv=RSV1)
        else:
            ws.send_frame(OP_TEXT, b'first part', fin=False)
            ws.send_frame(OP_CONT, pmd.compress(b' second'), rsv=RSV1)
    kind = 'compressed' if first_compressed else 'plain'
    fail_case(httpd, send, 1002, f'RSV1 on a continuation ({kind} first)')


@pytest.mark.parametrize('opcode,payload', [
    (OP_PING, b'ping'), (OP_PONG, b'pong'), (OP_CLOSE, b'\x03\xe8')],
    ids=['ping', 'pong', 'close'])
def test_ws_270_31_rsv1_on_control(httpd, opcode, payload):
    """RFC 7692 §6.1: control frames never have RSV1."""
    fail_case(httpd, lambda ws, pmd: ws.send_frame(opcode, payload,
                                                   rsv=RSV1),
              1002, f'RSV1 on control frame {opcode:#x}')


@pytest.mark.parametrize('rsv', [1, 2, 3, 6], ids=['rsv3', 'rsv2',
                                                  'rsv2+3', 'rsv1+2'])
def test_ws_270_32_other_rsv_bits(httpd, rsv):
    """permessage-deflate defines RSV1 only (RFC 6455 §5.2)."""
    fail_case(httpd, lambda ws, pmd: ws.send_frame(
        OP_TEXT, pmd.compress(b'hello'), rsv=rsv),
        1002, f'RSV {rsv:03b} with permessage-deflate agreed')


@pytest.mark.parametrize('path,offer', [
    ('/pmd-echo', None), ('/pmd-merge/off', PMD), ('/echo', PMD),
    ('/pmd-echo', 'permessage-deflate; server_max_window_bits=8')],
    ids=['no-offer', 'off-location', 'default-location', 'declined'])
def test_ws_270_33_rsv1_not_negotiated(httpd, path, offer):
    """RSV1 without an agreed permessage-deflate is a protocol error."""
    def send(ws, pmd):
        assert pmd is None, f'{path} {offer}: accepted: {vars(pmd)}'
        ws.send_frame(OP_TEXT, bytes.fromhex('f248cdc9c90700'), rsv=RSV1)
    fail_case(httpd, send, 1002, f'RSV1 on {path} offering {offer}',
              path=path, offer=offer)


def _too_far_back():
    """A raw deflate stream that copies from a preset dictionary the
    server does not have: "invalid distance too far back"."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15,
                         zdict=b'a dictionary the server never saw ' * 4)
    data = c.compress(b'a dictionary the server never saw')
    return data + c.flush(zlib.Z_SYNC_FLUSH)[:-4]


@pytest.mark.parametrize('payload', [
    b'\xff\xff\xff\xff',                    # BTYPE 11: reserved
    b'\x00\x05\x00\x05\x00Hello',           # stored: NLEN != ~LEN
    _too_far_back(),
    b'\xfc' + bytes(range(64)),             # bad dynamic Huffman tables
], ids=['reserved-btype', 'stored-nlen', 'distance-too-far', 'bad-huffman'])
@pytest.mark.parametrize('fin', [True, False], ids=['fin', 'nofin'])
def test_ws_270_34_corrupt_data(httpd, payload, fin):
    """Data that does not inflate: 1002 (fin=False: as it arrives, with
    the message unfinished)."""
    fail_case(httpd, lambda ws, pmd: ws.send_frame(OP_BINARY, payload,
                                                   fin=fin, rsv=RSV1),
              1002, f'corrupt deflate data {payload[:8].hex()} fin={fin}')


def test_ws_270_35_inflated_limit(httpd):
    """/pmd-small: WebSocketMaxMessageSize 10000 counts inflated bytes:
    10000 come back, 10001 (a few dozen bytes on the wire) get 1009."""
    with connect(httpd, '/pmd-small', extensions=PMD) as ws:
        pmd = agreed(ws, '/pmd-small')
        data = compressible(10000, 35)
        wire = send_compressed(ws, pmd, OP_TEXT, data)
        assert len(wire) < 5000, f'test data: {len(wire)} B compressed'
        expect_echo(ws, pmd, OP_TEXT, data, '10000 inflated at a 10000 limit')
        send_compressed(ws, pmd, OP_BINARY, bytes(10000), parts=3)
        expect_echo(ws, pmd, OP_BINARY, bytes(10000),
                    '10000 inflated in 3 frames')
        assert ws.close() == (1000, b''), 'close'
    fail_case(httpd, lambda ws, pmd: send_compressed(ws, pmd, OP_BINARY,
                                                     bytes(10001)),
              1009, '10001 inflated bytes at a 10000 limit',
              path='/pmd-small')


def test_ws_270_36_zip_bomb(httpd):
    """8 MB of zeros in under 10000 compressed bytes to /pmd-small: 1009,
    and no child's peak memory grows by megabytes (the server must stop
    inflating at the limit)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = c.compress(bytes(8 * 1000 * 1000)) + c.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]
    assert len(bomb) < 10000, f'the bomb is {len(bomb)} B compressed'
    before = peak_rss_kib(httpd)
    assert before, f'no children of {httpd.pid} found'
    fail_case(httpd, lambda ws, pmd: ws.send_frame(OP_BINARY, bomb,
                                                   rsv=RSV1),
              1009, f'zip bomb (8 MB in {len(bomb)} B)', path='/pmd-small')
    assert_no_memory_blowup(httpd, before, '8 MB zip bomb')


def test_ws_270_37_zip_bomb_fragmented(httpd):
    """200 MB of zeros (about 200 KB compressed) in 4 KB frames, never
    finished: the server fails the connection with 1009 as soon as the
    inflated size passes the limit, long before the end, and its memory
    stays flat. The client stops sending when the close comes: the first
    frame alone inflates to 400 times the limit, so it waits for the close
    after that one (generously: the server may be slow, not wrong); a
    server that does not fail it gets the next ones at once."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    before = peak_rss_kib(httpd)
    sent = 0
    with connect(httpd, '/pmd-small', extensions=PMD) as ws:
        agreed(ws, 'fragmented bomb')
        for i in range(50):
            chunk = c.compress(bytes(4 * 1000 * 1000)) + \
                c.flush(zlib.Z_SYNC_FLUSH)
            try:
                ws.send_frame(OP_BINARY if i == 0 else OP_CONT, chunk,
                              fin=False, rsv=RSV1 if i == 0 else 0)
            except OSError:
                break
            sent += len(chunk)
            if select.select([ws.sock], [], [],
                             TIMEOUT if i == 0 else 0.02)[0]:
                break
        assert_failed_with(ws, 1009, f'fragmented bomb ({sent} B sent)')
    assert i < 5, f'the server read {i + 1} frames of 4 MB inflated each ' \
                  f'before failing a 10000-byte limit'
    assert_no_memory_blowup(httpd, before, 'fragmented zip bomb')
    assert_echoes(httpd, '/pmd-small', 'after the fragmented bomb')
    assert_pmd_echoes(httpd, '/pmd-small', 'after the fragmented bomb')


@pytest.mark.parametrize('payload', [
    b'\xff', b'abc\xfe', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
    b'abc\xe2\x82', (KOSME * 100).encode() + b'\xc0\xaf'],
    ids=['ff', 'fe', 'surrogate', 'above-max', 'truncated', 'late-overlong'])
def test_ws_270_38_invalid_utf8(httpd, payload):
    """Inflated text that is not UTF-8: 1007 (RFC 6455 §8.1)."""
    fail_case(httpd, lambda ws, pmd: send_compressed(ws, pmd, OP_TEXT,
                                                     payload),
              1007, f'compressed invalid UTF-8 {payload[-8:]!r}')


def test_ws_270_39_invalid_utf8_fail_fast(httpd):
    """Fail fast: the first frame of a compressed text message (flushed,
    so it inflates on its own) already holds invalid UTF-8; no FIN ever
    comes."""
    def send(ws, pmd):
        ws.send_frame(OP_TEXT, pmd.compress(b'valid start, then \xc3\x28',
                                            fin=False),
                      fin=False, rsv=RSV1)
    fail_case(httpd, send, 1007, 'invalid UTF-8 in an unfinished message')


def _partial_frame(payload, n):
    """A send(ws, pmd) that writes the header and the first n payload
    bytes of a compressed text frame carrying ``payload``."""
    def send(ws, pmd):
        frame = build_frame(OP_TEXT, payload, rsv=RSV1)
        ws.send_raw(frame[:len(frame) - len(payload) + n])
    return send


def _bomb_prefix():
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(bytes(8 * 1000 * 1000)) + c.flush(zlib.Z_SYNC_FLUSH)


def _bad_utf8_prefix():
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = c.compress(b'valid text, then \xff') + c.flush(zlib.Z_SYNC_FLUSH)
    return head + c.compress(os.urandom(3000)) + c.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize('what,payload,sent,code,path', [
    ('zip bomb', _bomb_prefix(), 2000, 1009, '/pmd-small'),
    ('invalid UTF-8', _bad_utf8_prefix(), 40, 1007, '/pmd-echo'),
    ('corrupt data', b'\x00\x05\x00\x05\x00' + bytes(3000), 10, 1002,
     '/pmd-echo')],
    ids=['bomb', 'utf8', 'corrupt'])
def test_ws_270_40_fail_fast_in_frame(httpd, what, payload, sent, code,
                                      path):
    """Compressed payload is inflated as it arrives, not when the frame is
    complete: only the first bytes of one frame are sent, and they already
    inflate past the limit, to invalid UTF-8, or not at all."""
    assert len(payload) > sent + 100, f'{what}: test data too short'
    fail_case(httpd, _partial_frame(payload, sent), code,
              f'{what} in the first {sent} of {len(payload)} payload bytes',
              path=path)


# -- 5: over HTTP/2 (RFC 8441) ------------------------------------------------

# The h2d fixture (conftest.py): a server of this module's own (not under
# prefork: mod_http2 stays inactive there, AH10034).
H2_NAME = 'h2-pmd'
H2_CONF = '''
<Location /pmd-h2>
    WebSocketHandler echo
    WebSocketDeflate On
    WebSocketMaxMessageSize 10000
</Location>
'''


def test_ws_270_50_http2(h2d):
    """RFC 8441 §5: Sec-WebSocket-Extensions rides on the extended CONNECT
    and its 200 as on the upgrade: compressed echo, then a zip bomb fails
    the WebSocket with 1009 and ends the stream."""
    hdr = {'sec-websocket-extensions':
           'permessage-deflate; server_max_window_bits=10'}
    data = letters(2 * KiB, 50) * 4
    with H2WS.connect('127.0.0.1', h2d.port, '/pmd-h2', headers=hdr) as ws:
        assert ws.status == 200, f'RFC 8441: 200, got {ws.status}'
        answer = ws.response_headers.get('sec-websocket-extensions')
        assert answer == 'permessage-deflate; server_max_window_bits=10', \
            f'over HTTP/2: Sec-WebSocket-Extensions {answer!r}'
        pmd = agreed(ws, 'over HTTP/2')
        for opcode in (OP_TEXT, OP_BINARY):
            send_compressed(ws, pmd, opcode, data, parts=2)
            got = expect_echo(ws, pmd, opcode, data, 'over HTTP/2')
            assert got.compressed, 'over HTTP/2: reply not compressed'
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        ws.send_frame(OP_BINARY, c.compress(bytes(1000000))
                      + c.flush(zlib.Z_SYNC_FLUSH), rsv=RSV1)
        assert_failed_with(ws, 1009, 'zip bomb over HTTP/2')
