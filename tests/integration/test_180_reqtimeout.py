"""180: mod_reqtimeout (RequestReadTimeout header=5 body=5, conf/
180_reqtimeout.conf) limits the reading of requests, never an open
WebSocket: idle WebSockets survive 15 s and then still work.

To keep the suite short, one session fixture starts a private server per
MPM, opens the idle connections on all of them at once, and each test
waits only for what is left of the 15 s.
"""

import socket
import threading
import time

import pytest

from httpd import Httpd
from wsraw import OP_TEXT
from wsit import connect, integration_conf

IDLE = 15.0


class IdleProbe:
    """One server with an idle echo WebSocket, an idle /test WebSocket and
    (the control) a TCP connection with an unfinished request head, which
    reqtimeout must close."""

    def __init__(self, workdir, mpm):
        self.httpd = Httpd(workdir, mpm=mpm, extra_conf=integration_conf(),
                           name=f'idle-{mpm}')
        self.error = None

    def open(self):
        try:
            self.httpd.start()
            self.echo = connect(self.httpd, '/echo', timeout=5)
            self.echo.send_frame(OP_TEXT, b'before idle')
            got = self.echo.recv_message()
            assert got == (OP_TEXT, b'before idle'), f'first echo: {got!r}'
            self.test = connect(self.httpd, '/test', timeout=5)
            self.partial = socket.create_connection(
                ('127.0.0.1', self.httpd.port), timeout=5)
            self.partial.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
            self.since = time.monotonic()
        except Exception as e:                 # reported by the test
            self.error = e

    def close(self):
        for name in ('echo', 'test'):
            ws = getattr(self, name, None)
            if ws:
                ws.close_socket()
        if getattr(self, 'partial', None):
            self.partial.close()
        self.httpd.stop(check=False)


@pytest.fixture(scope='session')
def idle_probes(mpms, server_workdir):
    probes = {m: IdleProbe(server_workdir(f'idle-{m}'), m) for m in mpms}
    threads = [threading.Thread(target=p.open) for p in probes.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    yield probes
    for p in probes.values():
        p.close()


@pytest.mark.slow
def test_ws_180_01_idle_websocket_survives(mpm, idle_probes):
    p = idle_probes[mpm]
    assert p.error is None, f'{mpm}: setting up the idle connections: ' \
                            f'{p.error!r}'
    left = p.since + IDLE - time.monotonic()
    if left > 0:
        time.sleep(left)
    idle = time.monotonic() - p.since
    # the control: reqtimeout is active and closed the unfinished request
    # (it gives a request head 5 s); waited for up to 25 s after it was
    # sent, short of the 30 s of httpd's Timeout, which would close it too
    p.partial.settimeout(max(1.0, p.since + 25 - time.monotonic()))
    try:
        data = p.partial.recv(4096)
        while data and not data.endswith(b'</html>\n'):
            more = p.partial.recv(4096)
            if not more:
                break
            data += more
        closed = p.partial.recv(4096) == b'' if data else True
    except socket.timeout:
        closed = False
    except ConnectionResetError:
        closed = True
    assert closed, f'{mpm}: control failed: an unfinished request head was ' \
                   f'not timed out by reqtimeout in {idle:.1f}s'
    p.echo.send_frame(OP_TEXT, b'after idle')
    got = p.echo.recv_message()
    assert got == (OP_TEXT, b'after idle'), \
        f'{mpm}: echo after {idle:.1f}s idle: {got!r}'
    assert p.echo.close() == (1000, b''), f'{mpm}: close after idle'
    p.test.send_frame(OP_TEXT, b'push 2')
    got = [p.test.recv_message() for _ in range(2)]
    assert got == [(OP_TEXT, b'push 0'), (OP_TEXT, b'push 1')], \
        f'{mpm}: pushes after {idle:.1f}s idle: {got!r}'
    assert p.test.close() == (1000, b''), f'{mpm}: close of /test after idle'
    bad = p.httpd.check_error_log(mark=0)
    assert not bad, f'{mpm}: errors in the idle server\'s log: {bad}'
