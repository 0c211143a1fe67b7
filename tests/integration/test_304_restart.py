"""304: graceful restart with many WebSockets open (issue 3), under every
MPM: every client is told 1001, every old child exits, and the new ones
echo. A server of its own per MPM, sized for 200 WebSockets."""

import struct

from httpd import Httpd
from procs import server_children
from wsraw import OP_TEXT, OP_CLOSE
from wsit import connect, assert_echoes, wait_for


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


def test_ws_304_01_graceful_restart_200(mpm, server_workdir):
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
        old = server_children(h)
        h.restart(graceful=True, timeout=30)
        for i, ws in enumerate(sockets):
            code, reason = ws.expect_close(timeout=10)
            assert code == 1001, f'socket {i}: {code} {reason!r}'
            ws.send_frame(OP_CLOSE, struct.pack('!H', 1001))
        for i, ws in enumerate(sockets):
            assert ws.tcp_closed(10), f'socket {i} still open'
        assert wait_for(lambda: not (old & server_children(h)),
                        timeout=15), \
            f'old children still there: {old & server_children(h)}'
        assert_echoes(h, what='after the restart')
    finally:
        for ws in sockets:
            ws.close_socket()
        h.stop(timeout=15, check=False)
