"""302: pending output and slow consumers (issue 3), under every runner:
a client that does not read while pushes keep coming is cut off under
WebSocketSlowConsumer close (also over HTTP/2) and refused pushes under
drop (then told `writable`), while other clients keep their round trips;
an echo client that does not read is throttled at
WebSocketMaxPendingOutput, not closed. Locations:
conf/302_slow_consumer.conf. Bounds on time are liveness bounds, generous
on purpose: no test measures speed."""

import re
import socket
import threading
import time

import pytest

from wsraw import OP_TEXT, OP_BINARY
from wsit import (connect, handler_closes, logged, server_status, wait_for,
                  Via, TIMEOUT)


def read_all_until_eof(ws, timeout):
    """Read and drop everything until TCP closes; True if it did."""
    return ws.tcp_closed(timeout)


def echo_round_trips(h, n_clients=10, rounds=20, bound=5.0):
    """n_clients echo clients, each doing `rounds` round trips, each
    within bound seconds; returns the failures."""
    failures = []

    def client(k):
        try:
            with connect(h, '/echo') as ws:
                for r in range(rounds):
                    msg = b'client %d round %d' % (k, r)
                    t0 = time.monotonic()
                    ws.send_frame(OP_TEXT, msg)
                    got = ws.recv_message(timeout=bound)
                    if got != (OP_TEXT, msg):
                        failures.append((k, r, got))
                        return
                    if time.monotonic() - t0 > bound:
                        failures.append((k, r, 'slow'))
                ws.close()
        except Exception as e:          # noqa: BLE001 -- reported below
            failures.append((k, repr(e)))
    threads = [threading.Thread(target=client, args=(k,))
               for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return failures


def test_ws_302_01_slow_consumer_closed(httpd):
    """A client that never reads while pushes keep coming is cut off
    (1008, then TCP closed after WebSocketCloseTimeout), and other
    clients keep their round trips meanwhile."""
    mark = httpd.mark()
    ws = connect(httpd, '/t302/slow-close')
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        failures = echo_round_trips(httpd)
        assert failures == [], f'echo clients suffered: {failures[:5]}'
        assert wait_for(lambda: logged(httpd, mark, 'WS00016')), \
            'no slow-consumer close logged'
        assert read_all_until_eof(ws, 20), \
            'the slow consumer\'s connection was never closed'
        assert wait_for(lambda: 1006 in handler_closes(httpd, mark)
                        or 1008 in handler_closes(httpd, mark))
    finally:
        ws.close_socket()


def test_ws_302_02_slow_consumer_closed_over_http2(httpd):
    """Over HTTP/2 a client that does not read shuts the stream's window:
    the pushes that follow queue up to WebSocketMaxPendingOutput, then the
    WebSocket is closed (1008, WS00016) and the stream's worker let go after
    WebSocketCloseTimeout, while other clients keep their round trips."""
    if httpd.mpm == 'prefork':
        pytest.skip('mod_http2 does not run under prefork (AH10034)')
    mark = httpd.mark()
    ws = Via(httpd, 'h2c').connect('/t302/slow-close')
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        assert echo_round_trips(httpd) == []
        assert wait_for(lambda: logged(httpd, mark, 'WS00016')), \
            'no slow-consumer close logged'
        assert wait_for(lambda: handler_closes(httpd, mark)), \
            'the WebSocket did not end'
    finally:
        ws.close_socket()


def slow_consumer_drops(httpd):
    return server_status(httpd)['WebSocketSlowConsumerDrops']


def test_ws_302_03_writable_after_refusals(httpd):
    """Under drop, a handler whose sends were refused hears `writable`
    once its pending output is below the allowance again (the kernel's
    buffers count as written: it may come before the client reads)."""
    mark = httpd.mark()

    def writable():
        return any('test handler: writable' in line
                   for line in httpd.error_log_lines_since(mark))
    before = slow_consumer_drops(httpd)
    ws = connect(httpd, '/t302/slow-drop')
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        assert wait_for(lambda: slow_consumer_drops(httpd) > before,
                        timeout=10), 'nothing was refused'
        deadline = time.monotonic() + 20
        while not writable() and time.monotonic() < deadline:
            try:
                ws.recv_message(timeout=0.2)
            except socket.timeout:
                pass
        assert writable(), 'no writable after the client caught up'
    finally:
        ws.close_socket()
    # its pushes (and drops) go on until the server has let it go: not
    # into the next test, which counts drops
    assert wait_for(lambda: handler_closes(httpd, mark)), \
        'the WebSocket did not end'


def test_ws_302_04_slow_consumer_drop(httpd):
    """Under `drop`, pushes over the mark are refused (the handler gets
    APR_ENOSPC) and the WebSocket stays open; what was accepted arrives,
    in order."""
    before = server_status(httpd)
    ws = connect(httpd, '/t302/slow-drop')
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        # We do not read: pushes pile up, then are refused, until the
        # handler's thread has tried all 20000. The status page counts each
        # refusal, and each accepted push once the WebSocket has taken it
        # from its queue.

        def tried():
            now = server_status(httpd)
            return sum(now[k] - before[k] for k in (
                'WebSocketMessagesOut', 'WebSocketSlowConsumerDrops'))
        assert wait_for(lambda: tried() >= 20000), \
            f'{tried()} of 20000 pushes tried'
        # Then we read (slowly: through the 4 KiB window, about 50 pushes
        # a second, and the kernel may hold a few hundred). "stats"
        # answers in the round that reads it, before the pushes taken from
        # the queue in that round: so when an answer shows all 20000 tried,
        # the pushes read up to the next answer are all that were accepted.
        # (The pushes are done by now: unless the status page counted more,
        # two answers do.) We wait as long as pushes come, and TIMEOUT more.
        received, last, answers = 0, -1, [(0, 0)]
        deadline = time.monotonic() + TIMEOUT
        while len(answers) < 3 or sum(answers[-2]) < 20000:
            assert time.monotonic() < deadline, \
                f'no push tried in {TIMEOUT}s, after {answers[-1]}'
            ws.send_frame(OP_TEXT, b'stats')
            while True:
                op, data = ws.recv_message()
                assert op == OP_TEXT
                if not data.startswith(b'push '):
                    break
                n = int(data[5:].rstrip(b'.'))
                assert n > last, f'push {n} after push {last}'
                received, last = received + 1, n
            m = re.match(rb'sent (\d+) refused (\d+)', data)
            answers.append((int(m.group(1)), int(m.group(2))))
            if answers[-1] != answers[-2]:
                deadline = time.monotonic() + TIMEOUT
        sent, refused = answers[-1]
        assert answers[-2] == answers[-1], answers
        assert sent + refused == 20000, data
        assert refused > 0, 'nothing refused: the limit did not apply'
        assert received == sent, f'{sent} accepted, {received} arrived'
        assert ws.close() == (1000, b'')
    finally:
        ws.close_socket()


def test_ws_302_05_echo_non_reader_not_closed(httpd):
    """An echo client that sends 4 MiB without reading is not closed: the
    server stops reading it at WebSocketMaxPendingOutput, and everything
    arrives intact once it reads."""
    ws = connect(httpd, '/t302/echo-64k')
    msgs = [bytes([i]) * 65536 for i in range(64)]
    sender = threading.Thread(
        target=lambda: [ws.send_frame(OP_BINARY, m) for m in msgs])
    try:
        sender.start()
        time.sleep(1.5)
        for i, m in enumerate(msgs):
            assert ws.recv_message() == (OP_BINARY, m), f'echo {i}'
        sender.join(10)
        assert ws.close() == (1000, b'')
    finally:
        sender.join(10)
        ws.close_socket()
