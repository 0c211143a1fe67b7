"""320: over HTTP/2, a client that stops reading holds up none of the
WebSocket's timers (issue 9, item 6).

mod_http2 blocks a write to a stream for up to the server's Timeout once
the stream's flow-control window is shut and its buffer is full. These tests
run a server of their own with Timeout 60, take the stream's window to zero
while the server has much more to send, and then ask that the WebSocket end
by its own timers within seconds: the idle timeout and the close timeout,
an unanswered ping, and the goodbye of a graceful stop. Each time the
stream must then end cleanly for a client that reads again. Event and
worker; mod_http2 does not run under prefork."""

import os
import socket
import threading
import time

import h2.events
import pytest

from h2ws import H2WS
from httpd import Httpd
from wsraw import OP_TEXT
from wsit import ensure_test_module, handler_closes, logged, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))

# Far above every timer under test: a WebSocket that waits for it fails.
TIMEOUT = 60
# Ends a test that waits on a timer of about a second or two: generous,
# and still far below TIMEOUT.
DEADLINE = 15
# 40 messages of 8,000 bytes: more than the stream's window (64 KiB) and
# what mod_http2 buffers for a stream (H2StreamMaxMemSize, 32 KiB) together.
PUSH = b'push 40 8000'


def server(workdir, mpm):
    """A server of our own: the locations of conf/320_h2_timers.conf, h2c,
    and a Timeout no timer under test may wait for."""
    if mpm == 'prefork':
        pytest.skip('mod_http2 does not run under prefork (AH10034)')
    assert ensure_test_module(), 'mod_websocket_test.so missing'
    with open(os.path.join(HERE, 'conf', '320_h2_timers.conf')) as f:
        conf = f.read()
    h = Httpd(workdir, mpm=mpm, name=f'h2-timers-{mpm}', h2=True,
              extra_conf=f'{conf}\nTimeout {TIMEOUT}\n')
    h.start()
    return h


@pytest.fixture(scope='module')
def h2srv(mpm, server_workdir):
    h = server(server_workdir(f'h2-timers-{mpm}'), mpm)
    yield h
    h.stop()
    assert h.check_error_log(mark=0) == []


def stalled(h, path):
    """A WebSocket over h2c on path whose client has the server push more
    than it will take, and then stops reading: it takes the stream's DATA
    off the socket without acknowledging it (no WINDOW_UPDATE) until the
    stream's whole window is used. Returns the WebSocket and the bytes
    held back."""
    ws = H2WS.connect(h.host, h.port, path)
    ws.send_frame(OP_TEXT, PUSH)
    window = ws.conn.local_settings.initial_window_size
    got = 0
    deadline = time.monotonic() + DEADLINE
    while got < window:
        for ev in H2WS._read_events(ws.sock, ws.conn, deadline):
            if isinstance(ev, h2.events.DataReceived) \
                    and ev.stream_id == ws.stream_id:
                got += ev.flow_controlled_length
            assert not isinstance(ev, (h2.events.StreamEnded,
                                       h2.events.StreamReset)), \
                f'the stream ended after {got} bytes'
    return ws, got


def reads_to_the_end(ws, held):
    """The client reads again: the stream must end (the server's worker
    let it go in a state mod_http2 can finish)."""
    ws.conn.acknowledge_received_data(held, ws.stream_id)
    ws.sock.sendall(ws.conn.data_to_send())
    return ws.tcp_closed(DEADLINE)


def reads_until_closed(ws):
    """The client opens its windows wide and reads raw bytes: the server
    must close the connection (under worker, mod_http2 waits for
    KeepAliveTimeout, 5 s, first). Raw, as python3-h2 refuses frames after
    a GOAWAY, which a stopping server sends before the stream's last
    DATA."""
    ws.conn.increment_flow_control_window(1 << 24)
    ws.conn.increment_flow_control_window(1 << 24, ws.stream_id)
    ws.sock.sendall(ws.conn.data_to_send())
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        ws.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            if not ws.sock.recv(65536):
                return True
        except socket.timeout:
            break
        except OSError:
            return True
    return False


def closed_within(h, mark, t0):
    """Seconds from t0 until the handler saw its WebSocket close, waiting
    up to DEADLINE; None if it did not."""
    if not wait_for(lambda: handler_closes(h, mark), timeout=DEADLINE):
        return None
    return time.monotonic() - t0


def test_ws_320_01_idle_timeout_not_reading(h2srv):
    """WebSocketIdleTimeout 1 and WebSocketCloseTimeout 1: the idle timer
    sends 1001, which the client never reads; a second later the WebSocket
    is over (1006: no close frame came back)."""
    mark = h2srv.mark()
    ws, held = stalled(h2srv, '/t320/idle')
    try:
        took = closed_within(h2srv, mark, time.monotonic())
        assert took is not None, \
            f'the WebSocket was not over within {DEADLINE}s'
        assert handler_closes(h2srv, mark) == [1006]
        assert logged(h2srv, mark, 'WS00017'), 'no idle timeout logged'
        assert logged(h2srv, mark, 'WS00009'), 'no close timeout logged'
        assert took < 10, f'over after {took:.1f}s'
        assert reads_to_the_end(ws, held), 'the stream did not end'
    finally:
        ws.close_socket()


def test_ws_320_02_ping_timeout_not_reading(h2srv):
    """WebSocketPingInterval 1: the ping sits behind the output the client
    does not take, no pong comes, and the client is dropped."""
    mark = h2srv.mark()
    ws, held = stalled(h2srv, '/t320/ping')
    try:
        took = closed_within(h2srv, mark, time.monotonic())
        assert took is not None, \
            f'the WebSocket was not over within {DEADLINE}s'
        assert handler_closes(h2srv, mark) == [1006]
        assert logged(h2srv, mark, 'WS00018'), 'no ping timeout logged'
        assert took < 10, f'over after {took:.1f}s'
        assert reads_to_the_end(ws, held), 'the stream did not end'
    finally:
        ws.close_socket()


def test_ws_320_03_graceful_stop_not_reading(mpm, server_workdir):
    """A graceful stop says goodbye (1001) to a WebSocket whose client does
    not read and ends it a second later (the stopping child's wait for the
    close frame), not at Timeout. mod_http2 itself keeps an HTTP/2
    connection whose stream holds output the client has not taken until the
    client reads or Timeout, for any response; so the client then reads,
    and the server must close it and be gone within seconds."""
    h = server(server_workdir(f'h2-timers-stop-{mpm}'), mpm)
    mark = h.mark()
    ws = stopper = None
    stop = {}

    def graceful_stop():
        try:
            stop['took'] = h.graceful_stop(timeout=TIMEOUT + 30)
        except Exception as e:      # reported by the test
            stop['error'] = e

    try:
        ws, _ = stalled(h, '/t320/stream')
        stopper = threading.Thread(target=graceful_stop)
        t0 = time.monotonic()
        stopper.start()
        took = closed_within(h, mark, t0)
        assert took is not None, \
            f'the WebSocket was not over within {DEADLINE}s of the stop'
        assert handler_closes(h, mark) == [1006]
        assert logged(h, mark, 'WS00009'), 'no close timeout logged'
        assert took < 10, f'over {took:.1f}s after the stop'
        assert reads_until_closed(ws), 'the connection stayed open'
        stopper.join(DEADLINE)
        assert not stopper.is_alive(), \
            f'the server still ran {DEADLINE}s after the client read'
        assert 'error' not in stop, stop['error']
    finally:
        if ws:
            ws.close_socket()
        if stopper:
            stopper.join(TIMEOUT + 40)
        else:
            h.stop(check=False)
    assert h.check_error_log(mark=mark) == []
