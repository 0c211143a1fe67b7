"""230: WebSockets and the server's lifecycle (ARCHITECTURE.md, "Life of a
WebSocket" 5): when a child stops (graceful restart, graceful stop, stop)
its WebSockets get a close frame 1001 (going away) and the child exits
promptly instead of waiting for them. Each test has a private server."""

import threading
import time

import pytest

from httpd import Httpd
from wsraw import OP_TEXT, OP_CLOSE
from wsit import connect, assert_echoes, TIMEOUT


@pytest.fixture
def private(mpm, server_workdir):
    h = Httpd(server_workdir(f'life-{mpm}'), mpm=mpm, name=f'life-{mpm}')
    h.start()
    yield h
    h.stop(timeout=3, check=False)    # bounded even when children hang


def open_sockets(h, n=3):
    out = []
    for path in ('/echo', '/test', '/increment')[:n]:
        ws = connect(h, path)
        if path != '/increment':
            ws.send_frame(OP_TEXT, b'hello')
            assert ws.recv_message() == (OP_TEXT, b'hello'), path
        out.append((path, ws))
    return out


def assert_going_away(sockets, what, timeout=TIMEOUT):
    """Each socket gets close 1001 within timeout seconds in all (data
    frames before it are skipped); like a well-behaved client, we answer
    each close frame, and then the server closes TCP."""
    deadline = time.monotonic() + timeout
    for path, ws in sockets:
        code = f'nothing in {timeout}s'
        while time.monotonic() < deadline:
            try:
                f = ws.recv_frame(timeout=max(0.1,
                                              deadline - time.monotonic()))
            except OSError:          # socket.timeout
                break
            if f is None:
                code = 'TCP closed without a close frame'
                break
            if f.opcode == OP_CLOSE:
                code = ws.parse_close(f.payload)[0]
                ws.send_frame(OP_CLOSE, f.payload[:2])
                break
        assert code == 1001, f'{what}: {path} got {code}, expected close 1001'
        assert ws.tcp_closed(max(0.5, deadline - time.monotonic())), \
            f'{what}: {path}: TCP still open after the close handshake'
        ws.close_socket()


def test_ws_230_01_graceful_restart(private):
    h = private
    sockets = open_sockets(h)
    h.restart(graceful=True)
    assert_going_away(sockets, 'graceful restart')
    assert_echoes(h, what='after a graceful restart')
    assert h.check_error_log(mark=0) == [], \
        'errors in the error log'


def test_ws_230_02_graceful_stop(private):
    h = private
    sockets = open_sockets(h)
    result = {}

    def stop():
        try:
            result['took'] = h.graceful_stop(timeout=8)
        except Exception as e:
            result['error'] = e
    t = threading.Thread(target=stop)
    t.start()
    try:
        assert_going_away(sockets, 'graceful stop')
    finally:
        t.join(15)
    assert 'error' not in result, f'graceful stop: {result["error"]}'
    assert result['took'] < 5, \
        f'graceful stop with open WebSockets took {result["took"]:.1f}s'


def test_ws_230_03_stop(private):
    h = private
    sockets = open_sockets(h)
    t0 = time.monotonic()
    h.stop(timeout=6)
    took = time.monotonic() - t0
    log = h.error_log_lines_since(0)
    assert took < 3, f'stop with open WebSockets took {took:.1f}s:\n' + \
        '\n'.join(log[-10:])
    waits = [line for line in log if 'AH00045' in line or 'AH00046' in line]
    assert not waits, 'children did not exit when told:\n' + '\n'.join(waits)
    for path, ws in sockets:
        assert ws.tcp_closed(), f'{path}: still open after stop'
