"""290: the WebSockets section of mod_status (/server-status, and its
?auto form): WebSockets open by runner, messages and bytes each way, close
codes and slow-consumer drops, summed over the children (shared memory).
Counts are compared as deltas: other tests' WebSockets may still be
closing when one starts. And LogLevel websocket:trace3 shows frames."""

import os
import re
import signal
import socket
import struct

import pytest

from httpd import Httpd
from wsraw import OP_TEXT, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG
from wsit import connect, get, logged, server_status, wait_for, Via


def status(httpd):
    return server_status(httpd)


def delta(before, after, key):
    return after[key] - before[key]


def test_ws_290_01_open_messages_bytes(httpd):
    before = status(httpd)
    runner = 'Async' if httpd.mpm == 'event' else 'Blocking'
    sockets = [connect(httpd) for _ in range(3)]
    h2 = httpd.mpm != 'prefork'
    if h2:
        sockets.append(Via(httpd, 'h2c').connect())
    try:
        # A WebSocket is counted once its 101 is out: wait for the counts.
        opened = {f'WebSocketsOpen{runner}': 3,
                  'WebSocketsTotal': len(sockets)}
        if h2:
            opened['WebSocketsOpenHTTP2'] = 1
        assert wait_for(lambda: all(delta(before, status(httpd), k) >= v
                                    for k, v in opened.items())), \
            (opened, before, status(httpd))
        now = status(httpd)
        assert delta(before, now, 'WebSocketsTotal') == len(sockets), now
        for ws in sockets:
            for i in range(5):
                ws.send_frame(OP_BINARY, b'x' * 1000)
                assert ws.recv_message() == (OP_BINARY, b'x' * 1000)
        for ws in sockets:
            assert ws.close() == (1000, b'')
    finally:
        for ws in sockets:
            ws.close_socket()
    n = len(sockets)
    # Each WebSocket reports its traffic in its own time (once a round, and
    # when it ends): wait for every count asserted.
    # Each frame: 1000 bytes of payload, a header of 4 (+4 mask in).
    want = {'WebSocketCloses1000': n,
            'WebSocketMessagesIn': 5 * n, 'WebSocketMessagesOut': 5 * n,
            'WebSocketBytesIn': 5 * n * 1008,
            'WebSocketBytesOut': 5 * n * 1004}
    assert wait_for(lambda: all(delta(before, status(httpd), k) >= v
                                for k, v in want.items())), \
        ('the closes and the traffic were not counted', want, before,
         status(httpd))
    after = status(httpd)
    assert after[f'WebSocketsOpen{runner}'] <= before[f'WebSocketsOpen{runner}'] \
        or wait_for(lambda: status(httpd)[f'WebSocketsOpen{runner}']
                    <= before[f'WebSocketsOpen{runner}'])


def test_ws_290_02_close_codes(httpd):
    before = status(httpd)
    with connect(httpd, '/test') as ws:            # handler closes: 4000
        ws.send_frame(OP_TEXT, b'close 4000 bye')
        assert ws.expect_close() == (4000, b'bye')
        ws.send_frame(OP_CLOSE, struct.pack('!H', 4000))
    with connect(httpd) as ws:                      # protocol error: 1002
        ws.send_frame(OP_TEXT, b'x', mask=False)
        assert ws.expect_close()[0] == 1002
    with connect(httpd) as ws:                      # bad UTF-8: 1007
        ws.send_frame(OP_TEXT, b'\xff')
        assert ws.expect_close()[0] == 1007
    ws = connect(httpd)                             # TCP dropped: 1006
    ws.close_socket()
    want = {'WebSocketClosesOther': 1, 'WebSocketCloses1002': 1,
            'WebSocketCloses1007': 1, 'WebSocketCloses1006': 1}
    assert wait_for(lambda: all(delta(before, status(httpd), k) >= v
                                for k, v in want.items())), \
        (before, status(httpd))


def test_ws_290_03_slow_consumer_drops(httpd):
    """Pushes to a client that does not read are refused over 64 KiB
    (WebSocketSlowConsumer drop): the page counts them."""
    mark = httpd.mark()
    before = status(httpd)
    ws = connect(httpd, '/t302/slow-drop')
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        assert wait_for(lambda: delta(before, status(httpd),
                                      'WebSocketSlowConsumerDrops') > 1000), \
            'no drops counted'
    finally:
        ws.close_socket()
    # its pushes (and drops) go on until the server has let it go
    assert wait_for(lambda: handler_closed(httpd, mark)), \
        'the WebSocket did not end'


def handler_closed(h, mark):
    """The test handler's close ran (and joined its pushers) since mark."""
    return any('test handler: close' in line
               for line in h.error_log_lines_since(mark))


def test_ws_290_03b_slow_consumer_closes_are_not_drops(httpd):
    """Under WebSocketSlowConsumer close, a refused push closes the
    WebSocket: the close is counted, not a drop."""
    mark = httpd.mark()
    before = status(httpd)
    ws = connect(httpd, '/t302/slow-close')
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        assert wait_for(lambda: logged(httpd, mark, 'WS00016')), \
            'no slow-consumer close logged'
        assert wait_for(lambda: delta(before, status(httpd),
                                      'WebSocketSlowConsumerCloses') >= 1), \
            'the close was not counted'
    finally:
        ws.close_socket()
    # no drop once all its pushes were tried: when the server has let it go
    assert wait_for(lambda: handler_closed(httpd, mark)), \
        'the WebSocket did not end'
    assert delta(before, status(httpd), 'WebSocketSlowConsumerDrops') == 0


def test_ws_290_03c_crashed_child_holds_nothing(mpm, server_workdir):
    """A child that crashes with WebSockets open is not shown holding
    them once it is gone (the page skips dead children's slots; the MPM's
    replacement, which takes the slot over, starts from zero too); the
    totals stay."""
    with open(os.path.join(os.path.dirname(__file__), 'conf',
                           '290_status.conf')) as f:
        conf = f.read()
    h = Httpd(server_workdir(f'crash-{mpm}'), mpm=mpm, name=f'crash-{mpm}',
              extra_conf=conf + 'StartServers 2\n')
    h.start()
    try:
        by_pid = {}
        for _ in range(4):
            ws = connect(h, '/test')
            ws.send_frame(OP_TEXT, b'id')
            op, ws_id = ws.recv_message()
            by_pid.setdefault(int(ws_id) >> 32, []).append(ws)
        victim, doomed = max(by_pid.items(), key=lambda kv: len(kv[1]))
        for pid, sockets in by_pid.items():
            if pid != victim:
                for ws in sockets:
                    assert ws.close() == (1000, b'')
        assert wait_for(lambda: status(h)['WebSocketsOpen'] == len(doomed),
                        timeout=10), status(h)
        total = status(h)['WebSocketsTotal']
        os.kill(victim, signal.SIGSEGV)
        for ws in doomed:
            assert ws.tcp_closed(10), 'a crashed child kept its socket'
        now = wait_for(lambda: (lambda st: st['WebSocketsOpen'] == 0 and st)
                       (status(h)), timeout=10)
        assert now, 'the crashed child\'s WebSockets are still shown open'
        assert now['WebSocketsTotal'] >= total
    finally:
        h.stop()


def test_ws_290_04_html_section(httpd):
    r = get(httpd, '/server-status')
    assert r.status == 200
    body = r.body.decode()
    assert '<h2>WebSockets (mod_websocket)</h2>' in body, body[-3000:]
    assert re.search(r'<tr><td>1000</td><td>\d+</td></tr>', body), \
        'no close-code table'


def test_ws_290_05_trace3_shows_frames(server_workdir):
    """LogLevel websocket:trace3 logs every frame each way."""
    h = Httpd(server_workdir('trace3'), loglevel='info websocket:trace3',
              name='trace3')
    h.start()
    try:
        with connect(h) as ws:
            ws.send_frame(OP_TEXT, b'ab', fin=False)
            ws.send_frame(OP_PING, b'p')
            ws.send_frame(OP_CONT, b'cd', fin=True)
            assert ws.recv_message() == (OP_PONG, b'p')
            assert ws.recv_message() == (OP_TEXT, b'abcd')
            assert ws.close() == (1000, b'')
        want = [r'frame in: opcode 1, masked, rsv 0, 2 bytes',
                r'frame in: opcode 9, fin, masked, rsv 0, 1 bytes',
                r'frame in: opcode 0, fin, masked, rsv 0, 2 bytes',
                r'frame out: opcode 10, fin, rsv 0, 1 bytes',
                r'frame out: opcode 1, fin, rsv 0, 4 bytes',
                r'frame in: opcode 8, fin, masked, rsv 0, 2 bytes',
                r'frame out: opcode 8, fin, rsv 0, 2 bytes']
        assert wait_for(lambda: all(
            any(w in line for line in h.error_log_lines_since(0))
            for w in want)), \
            [line for line in h.error_log_lines_since(0) if 'frame' in line]
    finally:
        h.stop()


def test_ws_290_06_plain_websocket_reads_its_socket_itself(server_workdir,
                                                           mpm):
    """Under the event MPM a plain WebSocket's I/O thread reads the socket
    into its own buffer and writes it itself once the core holds nothing
    more (trace1 says so), a TLS one goes on through mod_ssl; both then
    echo a 1 MiB message byte-exact, and mod_logio's %I and %O still count
    what came in and went out."""
    if mpm != 'event':
        pytest.skip('I/O threads are the event MPM\'s')
    h = Httpd(server_workdir('direct'), loglevel='info websocket:trace1',
              name='direct', mpm='event', tls=True)
    h.start()
    try:
        big = os.urandom(1 << 20)
        for via in (Via(h, 'tcp'), Via(h, 'tls')):
            tag = f't290-06-{via.name}'
            with via.connect('/echo', headers={'X-Test-Id': tag}) as ws:
                ws.send_frame(OP_TEXT, b'first')
                assert ws.recv_message() == (OP_TEXT, b'first')
                ws.send_frame(OP_BINARY, big)
                assert ws.recv_message() == (OP_BINARY, big)
                assert ws.close() == (1000, b'')
            e = h.access_log_for(tag)[0]
            assert int(e['bytes_in']) > len(big), e['line']
            assert int(e['bytes_out']) > len(big), e['line']
        for what in ('reads', 'writes'):
            direct = [line for line in h.error_log_lines_since(0)
                      if f'{what} its socket itself now' in line]
            assert len(direct) == 1, (what, direct)
    finally:
        h.stop()
