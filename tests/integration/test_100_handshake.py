"""100: the opening handshake (RFC 6455 §4.2) over raw sockets.

Valid requests get 101 with the right Sec-WebSocket-Accept; malformed ones
get 400, a wrong version 426 naming version 13; requests without Upgrade
are served as if mod_websocket were not there.
"""

import base64
import os
import socket

import pytest

from wsraw import OP_TEXT, build_frame, RawWS, accept_key
from wsit import (http_request, handshake_request, get, new_key)


def _tokens(value):
    return [t.strip().lower() for t in value.split(',')]


def assert_101(r, key, what):
    assert r.status == 101, f'{what}: expected 101, got:\n{r.head}\n{r.body!r}'
    assert r.headers.get('sec-websocket-accept') == accept_key(key), \
        f'{what}: wrong Sec-WebSocket-Accept for key {key}:\n{r.head}'
    assert r.headers.get('upgrade', '').lower() == 'websocket', \
        f'{what}: Upgrade must be websocket:\n{r.head}'
    assert 'upgrade' in _tokens(r.headers.get('connection', '')), \
        f'{what}: Connection must name Upgrade:\n{r.head}'


def test_ws_100_01_valid(httpd):
    """RFC 6455 §4.2.2: 101, accept = base64(SHA-1(key + GUID)), no
    subprotocol when none was offered; the socket then speaks WebSocket."""
    key = new_key()
    req = handshake_request(httpd, '/echo', key=key)
    sock = socket.create_connection(('127.0.0.1', httpd.port), timeout=5)
    try:
        r = http_request(httpd.port, req, sock=sock)
        assert_101(r, key, 'valid handshake')
        assert 'sec-websocket-protocol' not in r.headers, \
            f'no subprotocol offered, none may be chosen:\n{r.head}'
        assert 'sec-websocket-extensions' not in r.headers, \
            f'no extension offered, none may be accepted:\n{r.head}'
        assert r.body == b'', f'bytes after the 101 head: {r.body!r}'
        sock.sendall(build_frame(OP_TEXT, b'after raw handshake'))
        ws = RawWS(sock, 101, r.headers)
        got = ws.recv_message()
        assert got == (OP_TEXT, b'after raw handshake'), \
            f'echo after a raw handshake: {got!r}'
    finally:
        sock.close()


def test_ws_100_02_rfc_example_key(httpd):
    """The key of RFC 6455 §1.3 gives the accept value printed there."""
    key = 'dGhlIHNhbXBsZSBub25jZQ=='
    r = http_request(httpd.port, handshake_request(httpd, '/echo', key=key))
    assert_101(r, key, 'RFC example key')
    want = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    assert r.headers['sec-websocket-accept'] == want, \
        f'RFC 6455 §1.3 example:\n{r.head}'


@pytest.mark.parametrize('upgrade,connection', [
    ('websocket', 'keep-alive, Upgrade'),
    ('websocket', 'Upgrade, keep-alive'),
    ('websocket', 'upgrade'),
    ('websocket', 'UPGRADE'),
    ('WebSocket', 'Upgrade'),
    ('WEBSOCKET', 'Upgrade'),
    ('example/1, websocket', 'keep-alive,Upgrade'),
    ('websocket', 'keep-alive ,  Upgrade  '),
], ids=['conn-list', 'conn-list-first', 'conn-lower', 'conn-upper',
        'upgrade-mixed', 'upgrade-upper', 'upgrade-list', 'conn-spaces'])
def test_ws_100_03_token_lists(httpd, upgrade, connection):
    """Upgrade and Connection are case-insensitive token lists (RFC 7230
    §6.1, §6.7; RFC 6455 §4.2.1)."""
    key = new_key()
    r = http_request(httpd.port, handshake_request(
        httpd, '/echo', key=key, upgrade=upgrade, connection=connection))
    assert_101(r, key, f'Upgrade: {upgrade!r}, Connection: {connection!r}')


def _b64(n):
    return base64.b64encode(os.urandom(n)).decode('ascii')


@pytest.mark.parametrize('key', [
    'not base64 at all!!!!!==',
    '!!!!!!!!!!!!!!!!!!!!!!==',
    _b64(15),
    _b64(17),
    _b64(32),
    '',
    False,
], ids=['spaces-bang', 'bad-alphabet', 'decodes-15', 'decodes-17',
        'decodes-32', 'empty', 'missing'])
def test_ws_100_04_bad_key(httpd, key):
    """Sec-WebSocket-Key must be the base64 of 16 bytes (§4.1 item 7)."""
    r = http_request(httpd.port, handshake_request(httpd, '/echo', key=key))
    assert r.status == 400, f'key {key!r}: expected 400, got:\n{r.head}'


@pytest.mark.parametrize('connection', ['keep-alive', None, 'close',
                                        'upgrades'],
                         ids=['keep-alive', 'missing', 'close', 'not-token'])
def test_ws_100_05_no_connection_upgrade(httpd, connection):
    """Without the Upgrade token in Connection it is no upgrade request;
    with Upgrade: websocket on a WebSocket location that is a 400."""
    r = http_request(httpd.port, handshake_request(httpd, '/echo',
                                                   connection=connection))
    assert r.status == 400, \
        f'Connection: {connection!r}: expected 400, got:\n{r.head}'


@pytest.mark.parametrize('method', ['HEAD', 'POST', 'PUT', 'OPTIONS'])
def test_ws_100_06_not_get(httpd, method):
    """§4.1: the handshake is a GET."""
    extra = {'Content-Length': '0'} if method in ('POST', 'PUT') else None
    r = http_request(httpd.port, handshake_request(
        httpd, '/echo', method=method, extra_headers=extra),
        head_only=(method == 'HEAD'))
    assert r.status == 400, f'{method}: expected 400, got:\n{r.head}'


def test_ws_100_07_http10(httpd):
    """§4.1: HTTP/1.1 or higher."""
    r = http_request(httpd.port, handshake_request(httpd, '/echo',
                                                   http='HTTP/1.0'))
    assert r.status == 400, f'HTTP/1.0: expected 400, got:\n{r.head}'


@pytest.mark.parametrize('version', ['8', '14', '7', '0', '130'])
def test_ws_100_08_version(httpd, version):
    """§4.4: another version gets 426 with Sec-WebSocket-Version: 13."""
    r = http_request(httpd.port, handshake_request(httpd, '/echo',
                                                   version=version))
    assert r.status == 426, f'version {version}: expected 426, got:\n{r.head}'
    assert '13' in _tokens(r.headers.get('sec-websocket-version', '')), \
        f'version {version}: 426 must name version 13:\n{r.head}'


def test_ws_100_09_without_upgrade_served_normally(httpd):
    """Requests without Upgrade: websocket at a WebSocket location are
    served as if the module were not there."""
    r = get(httpd, '/echo')
    assert (r.status, r.body) == (200, b'echo page\n'), \
        f'GET /echo without Upgrade:\n{r.head}\n{r.body!r}'
    r = get(httpd, '/echo', method='HEAD')
    assert r.status == 200, f'HEAD /echo without Upgrade:\n{r.head}'
    r = get(httpd, '/increment')
    assert r.status == 404, f'GET /increment (no such file):\n{r.head}'
    r = get(httpd, '/echo', headers=[('Connection', 'Upgrade'),
                                     ('Upgrade', 'example/1')])
    assert (r.status, r.body) == (200, b'echo page\n'), \
        f'GET /echo with Upgrade: example/1:\n{r.head}\n{r.body!r}'
    r = get(httpd, '/echo', http='HTTP/1.0')
    assert (r.status, r.body) == (200, b'echo page\n'), \
        f'HTTP/1.0 GET /echo without Upgrade:\n{r.head}\n{r.body!r}'


@pytest.mark.parametrize('body', ['content-length', 'chunked'])
def test_ws_100_10_request_with_body(httpd, body):
    """A GET with a body is no handshake (the body would be taken for
    frames): 400."""
    if body == 'content-length':
        req = handshake_request(httpd, '/echo',
                                extra_headers={'Content-Length': '5'})
        req += b'hello'
    else:
        req = handshake_request(httpd, '/echo',
                                extra_headers={'Transfer-Encoding':
                                               'chunked'})
        req += b'5\r\nhello\r\n0\r\n\r\n'
    r = http_request(httpd.port, req)
    assert r.status == 400, f'{body} body: expected 400, got:\n{r.head}'


def test_ws_100_11_keepalive_then_upgrade(httpd):
    """An upgrade may follow an ordinary request on the same connection."""
    key = new_key()
    with socket.create_connection(('127.0.0.1', httpd.port),
                                  timeout=5) as sock:
        r = http_request(httpd.port, (f'GET /echo HTTP/1.1\r\nHost: '
                                      f'127.0.0.1:{httpd.port}\r\n\r\n')
                         .encode(), sock=sock)
        assert (r.status, r.body) == (200, b'echo page\n'), \
            f'first, plain request:\n{r.head}'
        r = http_request(httpd.port, handshake_request(httpd, '/echo',
                                                       key=key), sock=sock)
        assert_101(r, key, 'upgrade after a keep-alive request')
        sock.sendall(build_frame(OP_TEXT, b'second request'))
        got = RawWS(sock, 101, r.headers, r.body).recv_message()
        assert got == (OP_TEXT, b'second request'), \
            f'echo on the upgraded keep-alive connection: {got!r}'


def test_ws_100_12_open_sets_a_header(httpd):
    """A header the handler sets in its open callback (r->headers_out)
    goes out with the 101, next to the handshake's own."""
    key = new_key()
    sock = socket.create_connection(('127.0.0.1', httpd.port), timeout=5)
    try:
        r = http_request(httpd.port, handshake_request(httpd, '/test',
                                                       key=key), sock=sock)
        assert_101(r, key, 'handler that sets a header in open')
        opened = r.headers.get('x-test-opened', '')
        assert opened.isdigit(), \
            f'X-Test-Opened (set in open) missing from the 101:\n{r.head}'
        ws = RawWS(sock, 101, r.headers)
        ws.send_frame(OP_TEXT, b'id')
        got = ws.recv_message()
        assert got == (OP_TEXT, opened.encode()), \
            f'the header names this WebSocket ({opened}): {got!r}'
    finally:
        sock.close()
