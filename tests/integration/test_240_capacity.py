"""240: many open WebSockets at once, each served by its own request
thread (the blocking runner, on every MPM), all open together and all
echoing. The counts stay below each server's MaxRequestWorkers (50 for
event and worker, 40 for prefork); going past it needs the async runner
of the event MPM, which is tested where it is built."""

import pytest

from wsraw import OP_TEXT, HandshakeError
from wsit import connect, assert_echoes

COUNT = {'event': 40, 'worker': 30, 'prefork': 15}


def test_ws_240_01_many_open(httpd, mpm):
    n = COUNT[mpm]
    sockets = []
    try:
        for i in range(n):
            try:
                sockets.append(connect(httpd, '/echo'))
            except (OSError, HandshakeError) as e:
                pytest.fail(f'{mpm}: WebSocket {i + 1} of {n} could not be '
                            f'opened while {i} are open: {e!r}')
        for i, ws in enumerate(sockets):
            ws.send_frame(OP_TEXT, b'socket %d' % i)
        for i, ws in enumerate(sockets):
            got = ws.recv_message(timeout=10)
            assert got == (OP_TEXT, b'socket %d' % i), \
                f'{mpm}: socket {i} of {n}: {got!r}'
        for ws in sockets:
            assert ws.close() == (1000, b''), \
                f'{mpm}: close answered'
    finally:
        for ws in sockets:
            ws.close_socket()
    assert_echoes(httpd, what=f'after {n} WebSockets')
