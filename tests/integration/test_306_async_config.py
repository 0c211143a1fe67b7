"""306: the directives of the async runner and its limits (issue 3):
bad values of WebSocketMaxPendingOutput, WebSocketSlowConsumer,
WebSocketIdleTimeout, WebSocketPingInterval, WebSocketCloseTimeout and
WebSocketIOThreads are refused by configtest, WebSocketIOThreads is
server-wide only, and under the event MPM the startup warnings about
limits that cap WebSockets low (WS00022, WS00023)."""

import pytest

from httpd import Httpd


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
def test_ws_306_01_bad_values(cfg, line, name):
    rc, out = cfg.configtest(f'<Location /x>\n    WebSocketHandler echo\n'
                             f'    {line}\n</Location>\n'
                             if 'IOThreads' not in line else line + '\n')
    assert rc != 0, f'{line!r} accepted'
    assert name in out, out


def test_ws_306_02_io_threads_global_only(cfg):
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
def test_ws_306_03_startup_warning(mpm, server_workdir, conf, warned):
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
