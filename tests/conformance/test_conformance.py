"""Autobahn-style conformance (categories 1-7, 9, 10, 12, 13) of
WebSocketHandler echo.

One httpd (event MPM) serves every case of cases.py; each case is one test,
test_ws_conformance[<case id>], on a connection of its own. Categories 12
and 13 (permessage-deflate) run on /echo-deflate, an echo with
WebSocketDeflate On; the others on /echo, without it. The server's
error log must hold no line at level error or worse and no child crash
(client misbehaviour is logged at INFO); tests/conftest.py checks that after
every case, and the last test checks the whole log.

WS_CONFORMANCE_URL=ws://host:port/path runs the cases against that server
instead of starting httpd (WS_CONFORMANCE_DEFLATE_PATH: another path for
categories 12 and 13).
"""

import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))

import cases  # noqa: E402

# The echo for categories 12 and 13: compression on. A close frame is
# waited for 60 s, longer than cases.CLOSE_T: a case passes only if the
# server closes TCP itself after the close handshake.
DEFLATE_CONF = """
WebSocketCloseTimeout 60
<Location /echo-deflate>
    WebSocketHandler echo
    WebSocketDeflate On
</Location>
"""


@pytest.fixture(scope='module')
def endpoint(server_workdir):
    """(host, port, path, httpd or None, path with permessage-deflate) of
    the echo endpoints under test."""
    url = os.environ.get('WS_CONFORMANCE_URL')
    if url:
        u = urllib.parse.urlsplit(url)
        path = u.path or '/'
        yield (u.hostname, u.port or 80, path, None,
               os.environ.get('WS_CONFORMANCE_DEFLATE_PATH') or path)
        return
    from httpd import Httpd
    h = Httpd(server_workdir('conformance'), mpm='event', name='conformance',
              extra_conf=DEFLATE_CONF)
    h.start()
    try:
        yield h.host, h.port, '/echo', h, '/echo-deflate'
    finally:
        h.stop()


@pytest.mark.parametrize('case', cases.CASES, ids=[c.id for c in cases.CASES])
def test_ws_conformance(case, endpoint, conformance_results):
    host, port, path, _, deflate_path = endpoint
    r = cases.run_case(case, host, port, path, deflate_path)
    conformance_results.append(r)
    assert r.verdict == 'OK', (f'{case.id}: {case.desc}\n'
                               f'expected: {case.expect}\n'
                               f'observed: {r.detail}')


def test_ws_conformance_error_log(endpoint):
    """Runs after the cases: nothing at level error or worse, and no child
    crash, in the server's whole error log."""
    h = endpoint[3]
    if h is None:
        pytest.skip('external server (WS_CONFORMANCE_URL): no error log')
    bad = h.check_error_log(mark=0)
    assert bad == [], '\n'.join(bad)
