"""309: many WebSockets on few threads (issue 3): the event MPM's I/O
threads hold 2,000 open WebSockets on one child of 4 request threads, in
fewer pages each than an idle keep-alive connection (issue 11; worker and
prefork hold a thread per WebSocket by design: skipped)."""

import struct

import pytest

from httpd import Httpd
from procs import children_kib, server_children
from wsraw import OP_BINARY, OP_CLOSE
from wsit import connect


def one_small_child(mpm, server_workdir, name):
    """A started event server of one child with 4 request threads, which
    may hold thousands of WebSockets."""
    if mpm != 'event':
        pytest.skip('the async runner is the event MPM\'s; worker and '
                    'prefork hold a thread per WebSocket by design')
    h = Httpd(server_workdir(name), mpm='event', name=name,
              extra_conf="""
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
AsyncRequestWorkerFactor 1000
ListenBacklog 4096
""")
    h.start()
    return h


def test_ws_309_01_two_thousand_on_four_threads(mpm, server_workdir):
    """2,000 WebSockets open at once, each echoing its own message, on one
    child with 4 request threads: only possible without a thread each."""
    h = one_small_child(mpm, server_workdir, 'async-2000')
    sockets = []
    try:
        for i in range(2000):
            sockets.append(connect(h, '/echo', timeout=10))
        assert len(server_children(h)) == 1, \
            'more than one child served them'
        for i, ws in enumerate(sockets):
            ws.send_frame(OP_BINARY, b'ws %d' % i)
        for i, ws in enumerate(sockets):
            assert ws.recv_message(timeout=20) == (OP_BINARY, b'ws %d' % i), \
                f'socket {i}'
        for i, ws in enumerate(sockets):
            ws.send_frame(OP_CLOSE, struct.pack('!H', 1000))
        for i, ws in enumerate(sockets):
            assert ws.expect_close(timeout=20) == (1000, b''), f'socket {i}'
    finally:
        for ws in sockets:
            ws.close_socket()
        h.stop(timeout=10)


def test_ws_309_02_idle_memory(mpm, server_workdir):
    """An idle WebSocket costs its child fewer pages than an idle keep-alive
    HTTP connection would (8 on this layout): 2,000 that have each echoed
    a message and wait grow the child by at most 24 KiB each."""
    h = one_small_child(mpm, server_workdir, 'async-idle')
    warm, sockets = [], []
    try:
        # The first WebSockets' growth includes the I/O thread's buffers.
        for _ in range(50):
            warm.append(connect(h, '/echo', timeout=10))
        for ws in warm:
            ws.send_frame(OP_BINARY, b'warm')
            assert ws.recv_message(timeout=20) == (OP_BINARY, b'warm')
        (pid,) = server_children(h)
        before = children_kib(h.pid)[pid]
        for i in range(2000):
            sockets.append(connect(h, '/echo', timeout=10))
        for i, ws in enumerate(sockets):
            ws.send_frame(OP_BINARY, b'ws %d' % i)
        for i, ws in enumerate(sockets):
            assert ws.recv_message(timeout=20) == (OP_BINARY, b'ws %d' % i), \
                f'socket {i}'
        per = (children_kib(h.pid)[pid] - before) / len(sockets)
        assert per <= 24, f'{per:.1f} KiB per idle WebSocket'
    finally:
        for ws in warm + sockets:
            ws.close_socket()
        h.stop(timeout=10)
