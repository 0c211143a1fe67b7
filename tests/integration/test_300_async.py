"""300: what issue 3 asks of every runner (the event MPM's I/O threads and
the blocking runner of worker and prefork): many WebSockets on few threads,
pushes to idle WebSockets, the pending-output limit and the slow-consumer
policy, idle timeout, server pings, the close timeout, graceful restart
with many WebSockets, the new directives and the startup warning.
The push and timer tests also run over HTTP/2 (via h2), where the stream's
worker thread runs the WebSocket. Bounds on time are liveness bounds,
generous on purpose: no test measures speed."""

import os
import re
import socket
import struct
import threading
import time

import pytest

from httpd import Httpd
from wsraw import OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG
from wsit import (connect, assert_echoes, server_status, wait_for, Via,
                  TIMEOUT)


def handler_closes(h, mark):
    """The close codes the test handler saw since mark (it logs each)."""
    return [int(m.group(1)) for line in h.error_log_lines_since(mark)
            for m in [re.search(r'test handler: close (\d+)', line)] if m]


def children(h):
    out = os.popen(f'pgrep -P {h.pid}').read().split()
    return {int(p) for p in out}


# ---- many WebSockets on few threads --------------------------------------

def test_ws_300_01_two_thousand_on_four_threads(mpm, server_workdir):
    """2,000 WebSockets open at once, each echoing its own message, on one
    child with 4 request threads: only possible without a thread each."""
    if mpm != 'event':
        pytest.skip('the async runner is the event MPM\'s; worker and '
                    'prefork hold a thread per WebSocket by design')
    h = Httpd(server_workdir('async-2000'), mpm='event', name='async-2000',
              extra_conf="""
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
AsyncRequestWorkerFactor 1000
ListenBacklog 4096
""")
    h.start()
    sockets = []
    try:
        for i in range(2000):
            sockets.append(connect(h, '/echo', timeout=10))
        assert len(children(h)) == 1, 'more than one child served them'
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


# ---- pushes ----------------------------------------------------------------

@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_02_push_to_idle(via):
    """A WebSocket idle for 1.5 s gets a push from another thread."""
    with connect(via, '/test') as ws:
        ws.send_frame(OP_TEXT, b'later 1500 wake up')
        t0 = time.monotonic()
        assert ws.recv_message(timeout=10) == (OP_TEXT, b'wake up')
        assert time.monotonic() - t0 >= 1.0
        assert ws.close() == (1000, b'')


def test_ws_300_03_push_from_another_websocket(httpd):
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


# ---- pending output and slow consumers ------------------------------------

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


def test_ws_300_04_slow_consumer_closed(httpd):
    """A client that never reads while pushes keep coming is cut off
    (1008, then TCP closed after WebSocketCloseTimeout), and other
    clients keep their round trips meanwhile."""
    mark = httpd.mark()
    ws = connect(httpd, '/t300/slow-close')
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        failures = echo_round_trips(httpd)
        assert failures == [], f'echo clients suffered: {failures[:5]}'
        assert wait_for(lambda: any('WS00016' in line for line in
                                    httpd.error_log_lines_since(mark))), \
            'no slow-consumer close logged'
        assert read_all_until_eof(ws, 20), \
            'the slow consumer\'s connection was never closed'
        assert wait_for(lambda: 1006 in handler_closes(httpd, mark)
                        or 1008 in handler_closes(httpd, mark))
    finally:
        ws.close_socket()


def test_ws_300_04b_slow_consumer_closed_over_http2(httpd):
    """Over HTTP/2 a client that does not read shuts the stream's window:
    the pushes that follow queue up to WebSocketMaxPendingOutput, then the
    WebSocket is closed (1008, WS00016) and the stream's worker let go after
    WebSocketCloseTimeout, while other clients keep their round trips."""
    if httpd.mpm == 'prefork':
        pytest.skip('mod_http2 does not run under prefork (AH10034)')
    mark = httpd.mark()
    ws = Via(httpd, 'h2c').connect('/t300/slow-close')
    try:
        ws.send_frame(OP_TEXT, b'push 20000 1000')
        assert echo_round_trips(httpd) == []
        assert wait_for(lambda: any('WS00016' in line for line in
                                    httpd.error_log_lines_since(mark))), \
            'no slow-consumer close logged'
        assert wait_for(lambda: handler_closes(httpd, mark)), \
            'the WebSocket did not end'
    finally:
        ws.close_socket()


def slow_consumer_drops(httpd):
    return server_status(httpd)['WebSocketSlowConsumerDrops']


def test_ws_300_05a_writable_after_refusals(httpd):
    """Under drop, a handler whose sends were refused hears `writable`
    once its pending output is below the allowance again (the kernel's
    buffers count as written: it may come before the client reads)."""
    mark = httpd.mark()

    def writable():
        return any('test handler: writable' in line
                   for line in httpd.error_log_lines_since(mark))
    before = slow_consumer_drops(httpd)
    ws = connect(httpd, '/t300/slow-drop')
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


def test_ws_300_05_slow_consumer_drop(httpd):
    """Under `drop`, pushes over the mark are refused (the handler gets
    APR_ENOSPC) and the WebSocket stays open; what was accepted arrives,
    in order."""
    before = server_status(httpd)
    ws = connect(httpd, '/t300/slow-drop')
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


def test_ws_300_06_echo_non_reader_not_closed(httpd):
    """An echo client that sends 4 MiB without reading is not closed: the
    server stops reading it at WebSocketMaxPendingOutput, and everything
    arrives intact once it reads."""
    ws = connect(httpd, '/t300/echo-64k')
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


# ---- timers -----------------------------------------------------------------

@pytest.mark.parametrize('via', ['tcp', 'h2'], indirect=True)
def test_ws_300_07_idle_timeout(via):
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
def test_ws_300_08_pings_answered(via):
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
def test_ws_300_09_ping_unanswered(via):
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
def test_ws_300_10_close_timeout(via):
    """WebSocketCloseTimeout 1: a client that never answers our close frame
    loses TCP about a second later."""
    with connect(via, '/t300/close-wait') as ws:
        t0 = time.monotonic()           # the server's close comes later
        ws.send_frame(OP_TEXT, b'close 1000 bye')
        assert ws.expect_close() == (1000, b'bye')
        assert ws.tcp_closed(), 'TCP still open'
        took = time.monotonic() - t0
        assert 0.5 <= took < 5, f'TCP closed {took:.2f}s after we asked'


# ---- lifecycle ---------------------------------------------------------------

LIFECYCLE_CONF = {
    'event': """
StartServers 2
ServerLimit 4
ThreadsPerChild 10
MaxRequestWorkers 40
AsyncRequestWorkerFactor 100
""",
    'worker': """
StartServers 9
ServerLimit 18
ThreadsPerChild 25
MaxRequestWorkers 450
MinSpareThreads 25
MaxSpareThreads 450
""",
    'prefork': """
StartServers 210
MinSpareServers 5
MaxSpareServers 250
ServerLimit 250
MaxRequestWorkers 250
""",
}


def test_ws_300_11_graceful_restart_200(mpm, server_workdir):
    """Graceful restart with 200 open WebSockets: every client gets 1001
    and every old child exits."""
    h = Httpd(server_workdir(f'async-restart-{mpm}'), mpm=mpm,
              name=f'async-restart-{mpm}', extra_conf=LIFECYCLE_CONF[mpm])
    h.start(timeout=30)
    sockets = []
    try:
        for i in range(200):
            ws = connect(h, '/echo', timeout=10)
            sockets.append(ws)
        for i, ws in enumerate(sockets):
            ws.send_frame(OP_TEXT, b'%d' % i)
        for i, ws in enumerate(sockets):
            assert ws.recv_message(timeout=10) == (OP_TEXT, b'%d' % i)
        old = children(h)
        h.restart(graceful=True, timeout=30)
        for i, ws in enumerate(sockets):
            code, reason = ws.expect_close(timeout=10)
            assert code == 1001, f'socket {i}: {code} {reason!r}'
            ws.send_frame(OP_CLOSE, struct.pack('!H', 1001))
        for i, ws in enumerate(sockets):
            assert ws.tcp_closed(10), f'socket {i} still open'
        assert wait_for(lambda: not (old & children(h)), timeout=15), \
            f'old children still there: {old & children(h)}'
        assert_echoes(h, what='after the restart')
    finally:
        for ws in sockets:
            ws.close_socket()
        h.stop(timeout=15, check=False)


# ---- configuration ------------------------------------------------------------

@pytest.fixture(scope='module')
def cfg(mpm, server_workdir):
    return Httpd(server_workdir(f'async-config-{mpm}'), mpm=mpm,
                 name=f'async-config-{mpm}')


BAD = [
    ('WebSocketMaxPendingOutput 0', 'WebSocketMaxPendingOutput'),
    ('WebSocketMaxPendingOutput 1X', 'WebSocketMaxPendingOutput'),
    ('WebSocketSlowConsumer block', 'WebSocketSlowConsumer'),
    ('WebSocketIdleTimeout soon', 'WebSocketIdleTimeout'),
    ('WebSocketIdleTimeout -1', 'WebSocketIdleTimeout'),
    ('WebSocketPingInterval 5 years', 'WebSocketPingInterval'),
    ('WebSocketCloseTimeout 0', 'WebSocketCloseTimeout'),
    ('WebSocketIOThreads 0', 'WebSocketIOThreads'),
    ('WebSocketIOThreads 65', 'WebSocketIOThreads'),
]


@pytest.mark.parametrize('line,name', BAD, ids=[b[0] for b in BAD])
def test_ws_300_12_bad_values(cfg, line, name):
    rc, out = cfg.configtest(f'<Location /x>\n    WebSocketHandler echo\n'
                             f'    {line}\n</Location>\n'
                             if 'IOThreads' not in line else line + '\n')
    assert rc != 0, f'{line!r} accepted'
    assert name in out, out


def test_ws_300_13_io_threads_global_only(cfg):
    rc, out = cfg.configtest('<Location /x>\n    WebSocketIOThreads 2\n'
                             '</Location>\n')
    assert rc != 0 and 'WebSocketIOThreads' in out, out
    rc, out = cfg.configtest('WebSocketIOThreads 4\n'
                             '<Location /x>\n    WebSocketHandler echo\n'
                             '    WebSocketIdleTimeout 90s\n'
                             '    WebSocketPingInterval 250ms\n'
                             '    WebSocketCloseTimeout 2\n'
                             '    WebSocketMaxPendingOutput 256K\n'
                             '    WebSocketSlowConsumer drop\n'
                             '</Location>\n')
    assert rc == 0, out


@pytest.mark.parametrize('conf,warned', [
    ('AsyncRequestWorkerFactor 2\n', 'WS00022'),
    ('AsyncRequestWorkerFactor 100\nMaxConnectionsPerChild 500\n', 'WS00023'),
    ('AsyncRequestWorkerFactor 100\n', None),
], ids=['low-factor', 'recycled-children', 'fine'])
def test_ws_300_14_startup_warning(mpm, server_workdir, conf, warned):
    """Under the event MPM the module warns when every WebSocket counting
    as a connection would cap a child low, or children are recycled."""
    if mpm != 'event':
        pytest.skip('the warning is about the event MPM\'s limits')
    h = Httpd(server_workdir('async-warn'), mpm='event', name='async-warn',
              extra_conf=conf)
    h.start()
    try:
        log = '\n'.join(h.error_log_lines_since(0))
    finally:
        h.stop()
    tags = {t for t in ('WS00022', 'WS00023') if t in log}
    assert tags == ({warned} if warned else set()), log[-2000:]
