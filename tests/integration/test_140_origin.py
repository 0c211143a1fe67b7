"""140: the Origin policy (RFC 6455 §10.2). /echo has the default
(WebSocketOriginCheck Same); /origin-trusted and /origin-off are in
conf/140_origin.conf. A request without Origin (not a browser) is always
allowed."""

import pytest

from wsraw import OP_TEXT
from wsit import connect, refused, Via
from wsraw import RawWS


def assert_allowed(httpd, path, origin):
    with connect(httpd, path, origin=origin) as ws:
        ws.send_frame(OP_TEXT, b'origin ok')
        got = ws.recv_message()
        assert got == (OP_TEXT, b'origin ok'), \
            f'{path} with Origin {origin!r}: echo {got!r}'


def assert_forbidden(httpd, path, origin):
    e = refused(httpd, path, origin=origin)
    assert e.status == 403, \
        f'{path} with Origin {origin!r}: expected 403, got {e.status} ' \
        f'{e.headers}'


def test_ws_140_01_same_origin(httpd):
    assert_allowed(httpd, '/echo', f'http://127.0.0.1:{httpd.port}')


def test_ws_140_02_no_origin(httpd):
    assert_allowed(httpd, '/echo', None)


@pytest.mark.parametrize('origin', [
    'http://evil.example',
    'http://127.0.0.1',                 # other port
    'http://127.0.0.1:{other}',         # other port
    'https://127.0.0.1:{port}',         # other scheme
    'http://localhost:{port}',          # other host
    'null',                             # opaque origin (sandbox, file:)
    'http://127.0.0.1:{port}.evil.example',
    'garbage',
], ids=['evil', 'no-port', 'other-port', 'https', 'other-host', 'null',
        'suffix', 'garbage'])
def test_ws_140_03_cross_origin_forbidden(httpd, origin):
    origin = origin.format(port=httpd.port, other=httpd.port + 1)
    assert_forbidden(httpd, '/echo', origin)


@pytest.mark.parametrize('origin', ['https://good.example',
                                    'http://other.example:8080',
                                    'same', None],
                         ids=['trusted-1', 'trusted-2', 'same', 'none'])
def test_ws_140_04_trusted_allowed(httpd, origin):
    if origin == 'same':
        origin = f'http://127.0.0.1:{httpd.port}'
    assert_allowed(httpd, '/origin-trusted', origin)


@pytest.mark.parametrize('origin', ['http://evil.example',
                                    'http://good.example',
                                    'http://other.example',
                                    'http://other.example:8081',
                                    'https://good.example:8443', 'null'],
                         ids=['evil', 'scheme', 'port-missing',
                              'port-other', 'port-added', 'null'])
def test_ws_140_05_trusted_others_forbidden(httpd, origin):
    assert_forbidden(httpd, '/origin-trusted', origin)


@pytest.mark.parametrize('origin', ['http://evil.example', 'null',
                                    'https://good.example', None],
                         ids=['evil', 'null', 'other', 'none'])
def test_ws_140_06_off(httpd, origin):
    assert_allowed(httpd, '/origin-off', origin)


def test_ws_140_07_trusted_list_is_per_location(httpd):
    """/echo (Same) does not trust what /origin-trusted trusts."""
    assert_forbidden(httpd, '/echo', 'https://good.example')


# ---- wss:// and HTTP/2 on the TLS vhost (ServerName localhost) ---------

@pytest.mark.parametrize('name', ['tls', 'h2'])
def test_ws_140_10_same_origin_over_tls(httpd, name):
    """Over TLS the page's origin is https://NAME:PORT: the scheme counts,
    and so does the port, as browsers send them."""
    if name == 'h2' and httpd.mpm == 'prefork':
        pytest.skip('mod_http2 does not run under prefork (AH10034)')
    via = Via(httpd, name)
    tls = httpd.tls_port
    assert_allowed(via, '/echo', f'https://localhost:{tls}')
    assert_allowed(via, '/echo', f'https://LOCALHOST:{tls}')
    for origin in (f'http://localhost:{tls}', f'wss://evil.example:{tls}',
                   f'https://localhost:{httpd.port}', 'https://localhost',
                   f'https://ws.test:{tls}'):
        assert_forbidden(via, '/echo', origin)


def test_ws_140_11_same_origin_vhost_name(httpd):
    """A client that reached the vhost by its address (Host: 127.0.0.1:PORT)
    is still same-origin with a page under the vhost's ServerName."""
    ws = RawWS.connect('127.0.0.1', httpd.tls_port, '/echo',
                       ssl_context=httpd.ca.ssl_context(),
                       server_hostname='127.0.0.1',
                       origin=f'https://localhost:{httpd.tls_port}')
    with ws:
        ws.send_frame(OP_TEXT, b'by address')
        assert ws.recv_message() == (OP_TEXT, b'by address')
