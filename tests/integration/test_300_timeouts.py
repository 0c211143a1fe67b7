"""300: a WebSocket's timers, under every runner (the event MPM's I/O
threads and the blocking runner of worker and prefork) and over HTTP/2
(via h2, where the stream's worker thread runs the WebSocket): the idle
timeout (WebSocketIdleTimeout), server pings and an unanswered one
(WebSocketPingInterval), and the close timeout (WebSocketCloseTimeout).
Locations: conf/300_timeouts.conf. Bounds on time are liveness bounds,
generous on purpose: no test measures speed. (Issue 3; split out of
test_300_async.py.)"""

import struct
import time

import pytest

from wsraw import OP_TEXT, OP_CLOSE, OP_PING, OP_PONG
from wsit import connect, handler_closes, wait_for


@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_01_idle_timeout(via):
    """WebSocketIdleTimeout 1: traffic keeps a WebSocket open past it;
    silence closes it with 1001."""
    with connect(via, '/t300/idle') as ws:
        # 2.4 s of traffic, a message each way every 0.2 s (and the time
        # it takes to come back: short of the timeout, even on a loaded
        # machine)
        for i in range(12):
            time.sleep(0.2)
            t0 = time.monotonic()       # the server's last traffic is later
            ws.send_frame(OP_TEXT, b'still here %d' % i)
            assert ws.recv_message() == (OP_TEXT, b'still here %d' % i)
        code, reason = ws.expect_close()
        took = time.monotonic() - t0
        assert code == 1001 and b'idle' in reason, (code, reason)
        assert 0.5 <= took < 5, f'closed {took:.2f}s after the last message'
        ws.send_frame(OP_CLOSE, struct.pack('!H', 1001))
        assert ws.tcp_closed()


@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_02_pings_answered(via):
    """WebSocketPingInterval 500ms: a silent client is pinged; one that
    answers stays open."""
    with connect(via, '/t300/ping') as ws:
        # Each ping comes after 500 ms without a word from us, so four take
        # 2 s or more: twice what a client that does not answer is given.
        t0 = time.monotonic()
        for pings in range(4):
            f = ws.recv_frame()
            assert f is not None, \
                f'closed after {pings} pings although we answered them'
            assert f.opcode == OP_PING, f
            ws.send_frame(OP_PONG, f.payload)
        took = time.monotonic() - t0
        assert took < 10, f'4 pings took {took:.1f}s'
        ws.send_frame(OP_TEXT, b'alive')
        msg = ws.recv_message()
        while msg[0] == OP_PING:
            msg = ws.recv_message()
        assert msg == (OP_TEXT, b'alive')
        assert ws.close() == (1000, b'')


@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_03_ping_unanswered(via):
    """A client that never answers is sent 1001 and dropped; the handler
    sees 1006 (no close frame came back)."""
    mark = via.httpd.mark()
    with connect(via, '/t300/ping') as ws:
        t0 = time.monotonic()
        f = ws.recv_frame(timeout=5)
        assert f.opcode == OP_PING, f
        code, reason = ws.expect_close(timeout=5)
        assert code == 1001, (code, reason)
        assert ws.tcp_closed(5)
        took = time.monotonic() - t0
        assert took < 5, f'dropped after {took:.2f}s'
    assert wait_for(lambda: 1006 in handler_closes(via.httpd, mark)), \
        handler_closes(via.httpd, mark)


@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_04_close_timeout(via):
    """WebSocketCloseTimeout 1: a client that never answers our close frame
    loses TCP about a second later."""
    with connect(via, '/t300/close-wait') as ws:
        t0 = time.monotonic()           # the server's close comes later
        ws.send_frame(OP_TEXT, b'close 1000 bye')
        assert ws.expect_close() == (1000, b'bye')
        assert ws.tcp_closed(), 'TCP still open'
        took = time.monotonic() - t0
        assert 0.5 <= took < 5, f'TCP closed {took:.2f}s after we asked'
