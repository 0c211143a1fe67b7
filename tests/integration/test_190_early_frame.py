"""190: frames sent in the same write as the handshake request (before the
101 arrived) are not lost: httpd has already read them into its buffers
when the module takes the connection over."""

import os

from wsraw import OP_TEXT, OP_BINARY, OP_PING, OP_PONG, build_frame
from wsit import connect, describe_mismatch


def test_ws_190_01_one_frame(httpd):
    with connect(httpd, extra=build_frame(OP_TEXT, b'early bird')) as ws:
        got = ws.recv_message()
        assert got == (OP_TEXT, b'early bird'), \
            f'frame sent with the handshake: {got!r}'


def test_ws_190_02_several_frames(httpd):
    big = os.urandom(70000)
    extra = (build_frame(OP_TEXT, b'one')
             + build_frame(OP_PING, b'early ping')
             + build_frame(OP_BINARY, big[:1000], fin=False)
             + build_frame(0, big[1000:], fin=True)
             + build_frame(OP_TEXT, 'three ✓'.encode()))
    with connect(httpd, extra=extra) as ws:
        got = [ws.recv_message() for _ in range(4)]
        assert got[0] == (OP_TEXT, b'one'), f'first: {got[0]!r:.100}'
        assert got[1] == (OP_PONG, b'early ping'), f'pong: {got[1]!r:.100}'
        assert got[2][0] == OP_BINARY and got[2][1] == big, \
            'fragmented binary: ' + describe_mismatch(got[2][1], big)
        assert got[3] == (OP_TEXT, 'three ✓'.encode()), \
            f'last: {got[3]!r:.100}'


def test_ws_190_03_partial_frame(httpd):
    """Half a frame with the handshake, the rest afterwards."""
    frame = build_frame(OP_TEXT, b'split across the upgrade')
    with connect(httpd, extra=frame[:9]) as ws:
        ws.send_raw(frame[9:])
        got = ws.recv_message()
        assert got == (OP_TEXT, b'split across the upgrade'), \
            f'frame split across the handshake: {got!r}'


def test_ws_190_04_test_handler(httpd):
    with connect(httpd, '/test', extra=build_frame(OP_TEXT, b'push 3')) as ws:
        got = [ws.recv_message() for _ in range(3)]
        assert got == [(OP_TEXT, b'push %d' % i) for i in range(3)], \
            f'early push command: {got!r}'
