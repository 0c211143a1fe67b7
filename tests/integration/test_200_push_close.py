"""200: messages and closes initiated by the server from another thread
(the test handler: "push N", "close CODE REASON"), and the access log: one
line per WebSocket, written when it closes, with status 101, its duration
and its bytes. Each runs over every transport (via: HTTP/1.1, TLS, h2c,
h2)."""

import struct
import uuid

import pytest

from wsraw import OP_TEXT, OP_BINARY, OP_CLOSE
from wsit import connect, refused


def recv_texts(ws, n, what):
    got = []
    for _ in range(n):
        m = ws.recv_message(timeout=10)
        assert m is not None, f'{what}: closed after {len(got)}: {got!r:.300}'
        got.append(m)
    return got


@pytest.mark.parametrize('n', [1, 5, 200])
def test_ws_200_01_push(via, n):
    """A thread of the handler sends N messages while the connection's own
    thread waits for input: they arrive, all and in order."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, b'push %d' % n)
        got = recv_texts(ws, n, f'push {n}')
        assert got == [(OP_TEXT, b'push %d' % i) for i in range(n)], \
            f'push {n}: {got!r:.500}'
        ws.send_frame(OP_TEXT, b'still echoing')
        assert ws.recv_message() == (OP_TEXT, b'still echoing'), \
            f'echo after push {n}'
        assert ws.close() == (1000, b''), f'push {n}: close'


def test_ws_200_02_pushes_interleaved_with_echo(via):
    """Pushes from two threads and echoes: each stream stays in order."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, b'push 50')
        ws.send_frame(OP_TEXT, b'push 50')
        for i in range(20):
            ws.send_frame(OP_BINARY, b'echo %d' % i)
        got = recv_texts(ws, 120, 'interleaved')
        pushes = [p for op, p in got if op == OP_TEXT]
        echoes = [p for op, p in got if op == OP_BINARY]
        assert echoes == [b'echo %d' % i for i in range(20)], \
            f'echoes out of order or lost: {echoes!r:.300}'
        assert sorted(pushes) == sorted([b'push %d' % i
                                         for i in range(50)] * 2), \
            f'pushes lost: {len(pushes)} of 100'
        for k in range(50):      # one copy from each thread
            n = pushes.count(b'push %d' % k)
            assert n == 2, f'push {k}: {n} copies, want one per thread'


def test_ws_200_03_close_while_pushing(via):
    """The client closes while the handler's thread is still sending: the
    close handshake completes, nothing breaks (error log checked)."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, b'push 2000')
        ws.send_frame(OP_CLOSE, struct.pack('!H', 1000))
        while True:
            f = ws.recv_frame(timeout=10)
            assert f is not None, 'TCP closed before the close answer'
            if f.opcode == OP_CLOSE:
                break
            assert f.opcode == OP_TEXT, f'unexpected {f!r:.100}'
        code = struct.unpack('!H', f.payload[:2])[0] if f.payload else None
        assert code in (1000, None), f'close answer {code}'
        assert ws.tcp_closed(), 'TCP open after the close handshake'


@pytest.mark.parametrize('cmd,code,reason', [
    (b'close 4000 bye', 4000, b'bye'),
    (b'close 1000', 1000, b''),
    (b'close 1001 going away now', 1001, b'going away now'),
    ('close 3001 fin ✓'.encode(), 3001, 'fin ✓'.encode()),
])
def test_ws_200_04_server_close(via, cmd, code, reason):
    """The handler closes: the close frame carries its code and reason; we
    answer, and the server closes TCP (§7.1.1)."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, cmd)
        got = ws.expect_close()
        assert got == (code, reason), f'{cmd!r}: close frame {got!r}'
        ws.send_frame(OP_CLOSE, struct.pack('!H', code))
        assert ws.tcp_closed(), f'{cmd!r}: TCP open after the close ' \
                                 'handshake'


def test_ws_200_05_server_close_unanswered(via):
    """The client never answers the server's close: the server closes TCP
    by itself (close handshake timeout: WebSocketCloseTimeout 1 on
    /t300/close-wait, conf/300_timeouts.conf)."""
    with connect(via, '/t300/close-wait') as ws:
        ws.send_frame(OP_TEXT, b'close 4001 no answer')
        assert ws.expect_close() == (4001, b'no answer'), \
            'close frame of close 4001'
        assert ws.tcp_closed(30), 'TCP still open 30s after an unanswered ' \
                                  'server close'


def _tagged(via, path='/echo'):
    tag = uuid.uuid4().hex
    return tag, connect(via, path, headers={'X-Test-Id': tag})


def assert_one_log_line(via, tag, what, min_in=0, min_out=0):
    entries = via.httpd.access_log_for(tag)
    assert len(entries) == 1, \
        f'{what}: {len(entries)} access log lines, want 1: ' \
        f'{[e["line"] for e in entries]}'
    e = entries[0]
    assert e['status'] == '101', f'{what}: status in the log: {e["line"]}'
    assert e['request'].startswith('GET ') and \
        e['request'].endswith(' ' + via.protocol), \
        f'{what}: request: {e["line"]}'
    assert int(e['duration_us']) > 0, f'{what}: duration: {e["line"]}'
    assert int(e['bytes_in']) >= min_in, \
        f'{what}: %I below the {min_in} bytes received: {e["line"]}'
    assert int(e['bytes_out']) >= min_out, \
        f'{what}: %O below the {min_out} bytes sent: {e["line"]}'
    return e


def test_ws_200_10_access_log_client_close(via):
    tag, ws = _tagged(via)
    with ws:
        ws.send_frame(OP_BINARY, b'x' * 10000)
        assert ws.recv_message() == (OP_BINARY, b'x' * 10000), \
            'echo of 10000 bytes'
        assert via.httpd.access_log_for(tag, timeout=0.3) == [], \
            'the WebSocket is logged before it closed'
        assert ws.close() == (1000, b''), \
            'client close answered'
        assert ws.tcp_closed(), \
            'TCP open after the close handshake'
    assert_one_log_line(via, tag, 'client close', min_in=10000,
                        min_out=10000)


def test_ws_200_11_access_log_server_close(via):
    tag, ws = _tagged(via, '/test')
    with ws:
        ws.send_frame(OP_TEXT, b'push 5')
        recv_texts(ws, 5, 'push 5')
        ws.send_frame(OP_TEXT, b'close 4000 bye')
        assert ws.expect_close() == (4000, b'bye'), \
            'close frame of close 4000 bye'
        ws.send_frame(OP_CLOSE, struct.pack('!H', 4000))
        assert ws.tcp_closed(), \
            'TCP open after the close handshake'
    assert_one_log_line(via, tag, 'server close')


def test_ws_200_12_access_log_protocol_error(via):
    tag, ws = _tagged(via)
    with ws:
        ws.send_frame(OP_TEXT, b'x', mask=False)
        assert ws.expect_close()[0] == 1002, \
            'unmasked frame not failed with 1002'
        assert ws.tcp_closed(), \
            'TCP open after 1002'
    assert_one_log_line(via, tag, 'protocol error')


def test_ws_200_13_access_log_tcp_dropped(via):
    """No close frame at all: the client just goes away."""
    tag, ws = _tagged(via)
    ws.send_frame(OP_TEXT, b'hi')
    assert ws.recv_message() == (OP_TEXT, b'hi'), \
        'echo before dropping TCP'
    ws.close_socket()
    assert_one_log_line(via, tag, 'TCP dropped')


def test_ws_200_14_access_log_refused(via):
    """A refused handshake is an ordinary request: one line, its status."""
    tag = uuid.uuid4().hex
    e = refused(via, '/test?refuse=503', headers={'X-Test-Id': tag})
    assert e.status == 503, \
        f'refuse=503 answered {e.status}'
    entries = via.httpd.access_log_for(tag)
    assert [x['status'] for x in entries] == ['503'], \
        f'refused handshake: {[x["line"] for x in entries]}'


def test_ws_200_15_access_log_concurrent(via):
    tags = []
    sockets = []
    for i in range(5):
        tag, ws = _tagged(via)
        tags.append(tag)
        sockets.append(ws)
    for i, ws in enumerate(sockets):
        ws.send_frame(OP_TEXT, b'%d' % i)
        assert ws.recv_message() == (OP_TEXT, b'%d' % i), \
            f'echo on socket {i}'
    for ws in reversed(sockets):
        assert ws.close() == (1000, b''), \
            'close answered'
        ws.close_socket()
    for tag in tags:
        assert_one_log_line(via, tag, f'concurrent {tag}')
