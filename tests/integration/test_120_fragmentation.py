"""120: fragmented messages (RFC 6455 §5.4), control frames between
fragments (§5.5), and frames written to the socket in small pieces."""

import os

import pytest

from wsraw import (OP_TEXT, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_CLOSE,
                   build_frame)
from wsit import connect, describe_mismatch, TIMEOUT


def frames_until_data(ws, what, timeout=TIMEOUT):
    """Frames received up to and including the first whole data message:
    [(opcode, payload)...], fragments joined."""
    out = []
    while True:
        got = ws.recv_message(timeout)
        assert got is not None, f'{what}: connection closed; got {out!r:.300}'
        out.append(got)
        if got[0] in (OP_TEXT, OP_BINARY):
            return out
        assert got[0] in (OP_PONG, OP_PING), \
            f'{what}: unexpected frame {got!r:.200}'


@pytest.mark.parametrize('opcode', [OP_TEXT, OP_BINARY],
                         ids=['text', 'binary'])
def test_ws_120_01_three_fragments(httpd, opcode):
    with connect(httpd) as ws:
        ws.send_frame(opcode, b'Hel', fin=False)
        ws.send_frame(OP_CONT, b'lo ', fin=False)
        ws.send_frame(OP_CONT, b'World', fin=True)
        got = ws.recv_message()
        assert got == (opcode, b'Hello World'), f'reassembled echo: {got!r}'


@pytest.mark.parametrize('opcode', [OP_TEXT, OP_BINARY],
                         ids=['text', 'binary'])
def test_ws_120_02_pings_between_fragments(httpd, opcode):
    """§5.5: control frames may come between fragments; each ping is
    answered by a pong with its payload, before the echoed message (which
    is only complete after the last fragment)."""
    with connect(httpd) as ws:
        ws.send_frame(opcode, b'frag1-', fin=False)
        ws.send_frame(OP_PING, b'ping one')
        ws.send_frame(OP_CONT, b'frag2-', fin=False)
        ws.send_frame(OP_PING, b'')
        ws.send_frame(OP_PING, b'p' * 125)
        ws.send_frame(OP_CONT, b'frag3', fin=True)
        got = frames_until_data(ws, 'pings between fragments')
        want = [(OP_PONG, b'ping one'), (OP_PONG, b''), (OP_PONG, b'p' * 125),
                (opcode, b'frag1-frag2-frag3')]
        assert got == want, f'frames in order: {got!r}'


def test_ws_120_03_ping_alone(httpd):
    """A ping outside a message is answered at once; an unsolicited pong is
    ignored (§5.5.3)."""
    with connect(httpd) as ws:
        ws.send_frame(OP_PONG, b'unsolicited')
        ws.send_frame(OP_PING, b'\x00\x01binary\xff')
        got = ws.recv_frame()
        assert (got.opcode, got.payload) == (OP_PONG, b'\x00\x01binary\xff'),\
            f'answer to a ping: {got!r}'
        ws.send_frame(OP_TEXT, b'after pong')
        got = ws.recv_message()
        assert got == (OP_TEXT, b'after pong'), \
            f'unsolicited pong must be ignored, then echo: {got!r}'


def test_ws_120_04_many_small_fragments(httpd):
    """500 fragments of 1-4 bytes; UTF-8 sequences are cut between
    fragments, which is allowed (§5.6: only the whole message must be
    valid)."""
    text = ('aé€𝄞' * 300).encode('utf-8')      # 1+2+3+4 bytes each
    pieces = []
    pos = 0
    i = 0
    while pos < len(text):
        n = 1 + i % 4
        pieces.append(text[pos:pos + n])
        pos += n
        i += 1
    with connect(httpd) as ws:
        for i, p in enumerate(pieces):
            ws.send_frame(OP_TEXT if i == 0 else OP_CONT, p,
                          fin=(i == len(pieces) - 1))
        op, got = ws.recv_message(timeout=15)
        assert op == OP_TEXT, f'opcode {op}'
        assert got == text, f'{len(pieces)} fragments: ' + \
            describe_mismatch(got, text)


def test_ws_120_05_empty_fragments(httpd):
    with connect(httpd) as ws:
        ws.send_frame(OP_TEXT, b'', fin=False)
        ws.send_frame(OP_CONT, b'', fin=False)
        ws.send_frame(OP_CONT, b'abc', fin=False)
        ws.send_frame(OP_CONT, b'', fin=True)
        got = ws.recv_message()
        assert got == (OP_TEXT, b'abc'), f'empty fragments: {got!r}'
        ws.send_frame(OP_BINARY, b'', fin=False)
        ws.send_frame(OP_CONT, b'', fin=True)
        got = ws.recv_message()
        assert got == (OP_BINARY, b''), f'empty fragmented binary: {got!r}'


@pytest.mark.parametrize('size', [5, 125, 126, 300, 65536],
                         ids=['5', '125', '126', '300', '65536'])
def test_ws_120_06_bytewise(httpd, size):
    """A frame written one byte per send() (header, mask key and payload;
    a 64 KiB payload in 997-byte pieces after a bytewise header)."""
    payload = os.urandom(size)
    with connect(httpd) as ws:
        if size > 1000:
            split = [1] * 14 + [997] * (size // 997 + 1)
        else:
            split = 'bytewise'
        ws.send_frame(OP_BINARY, payload, split=split)
        got = ws.recv_message(timeout=15)
        assert got[0] == OP_BINARY and got[1] == payload, \
            f'{size} bytes sent bytewise: ' + describe_mismatch(got[1],
                                                                payload)


def test_ws_120_07_bytewise_stream(httpd):
    """A stream of several frames (fragments, ping, a whole message and a
    close) written one byte at a time."""
    stream = (build_frame(OP_TEXT, 'frag é'.encode(), fin=False)
              + build_frame(OP_PING, b'mid')
              + build_frame(OP_CONT, ' end'.encode(), fin=True)
              + build_frame(OP_BINARY, bytes(range(256)))
              + build_frame(OP_CLOSE, b'\x03\xe8bye'))
    with connect(httpd) as ws:
        ws.send_raw(stream, split='bytewise')
        got = frames_until_data(ws, 'bytewise stream')
        assert got == [(OP_PONG, b'mid'), (OP_TEXT, 'frag é end'.encode())], \
            f'bytewise stream, first message: {got!r}'
        got = ws.recv_message()
        assert got == (OP_BINARY, bytes(range(256))), \
            f'bytewise stream, second message: {got!r}'
        code, _ = ws.expect_close()
        assert code == 1000, f'bytewise stream, close echo: {code}'
        assert ws.tcp_closed(), 'TCP open after the close handshake'


def test_ws_120_08_fragmented_pipelined(httpd):
    """Several fragmented messages in one write."""
    data = b''
    want = []
    for i in range(20):
        body = os.urandom(100 + i)
        want.append((OP_BINARY, body))
        data += build_frame(OP_BINARY, body[:50], fin=False)
        data += build_frame(OP_CONT, body[50:], fin=True)
    with connect(httpd) as ws:
        ws.send_raw(data)
        got = [ws.recv_message() for _ in want]
        assert got == want, 'pipelined fragmented messages differ: ' \
            f'{[len(g[1]) for g in got]}'
