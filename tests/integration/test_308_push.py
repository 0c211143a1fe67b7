"""308: pushes to idle WebSockets (issue 3), under every runner: a push
from another thread after a silence (also over HTTP/2), and one
WebSocket's callback sending to another WebSocket of its child."""

import time

import pytest

from wsraw import OP_TEXT
from wsit import connect


@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_308_01_push_to_idle(via):
    """A WebSocket idle for 1.5 s gets a push from another thread."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, b'later 1500 wake up')
        t0 = time.monotonic()
        assert ws.recv_message(timeout=10) == (OP_TEXT, b'wake up')
        assert time.monotonic() - t0 >= 1.0
        assert ws.close() == (1000, b'')


def test_ws_308_02_push_from_another_websocket(httpd):
    """One WebSocket's callback sends to another of its child (under the
    event MPM both belong to the child's I/O thread): the other gets it at
    once, idle as it is. Ids carry the child's pid in their upper half,
    which finds two WebSockets of one child."""
    opened, pair = [], None
    try:
        while len(opened) < 10 and not pair:
            ws = connect(httpd, '/test')
            ws.send_frame(OP_TEXT, b'id')
            wid = ws.recv_message()[1]
            for other, oid in opened:
                if int(oid) >> 32 == int(wid) >> 32:
                    pair = (other, ws, wid)
            opened.append((ws, wid))
        if not pair:
            pytest.skip('no two WebSockets in one child (prefork serves '
                        'each in a process of its own)')
        a, b, bid = pair
        for i in range(3):
            a.send_frame(OP_TEXT, b'tell %s hello %d' % (bid, i))
            assert a.recv_message() == (OP_TEXT, b'told')
            assert b.recv_message() == (OP_TEXT, b'hello %d' % i)
        a.send_frame(OP_TEXT, b'tell 12345 nobody')
        assert a.recv_message() == (OP_TEXT, b'no such WebSocket')
        for ws, _ in opened:
            assert ws.close() == (1000, b'')
    finally:
        for ws, _ in opened:
            ws.close_socket()
