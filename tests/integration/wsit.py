"""wsit: small helpers of the integration tests (raw HTTP, echo checks,
asyncio clients). Frames are built by tests/lib/wsraw.py."""

import asyncio
import base64
import collections
import glob
import os
import re
import socket
import subprocess
import time

import websockets

from h2ws import H2WS
from httpd import load_config
from wsraw import (RawWS, HandshakeError, OP_TEXT, OP_BINARY, OP_CLOSE,
                   OP_PING, OP_PONG, make_handshake_request, accept_key,
                   headers_of, TIMEOUT)

HERE = os.path.dirname(os.path.abspath(__file__))


def integration_conf():
    """The extra config every integration server gets: conf/*.conf."""
    parts = []
    for path in sorted(glob.glob(os.path.join(HERE, 'conf', '*.conf'))):
        with open(path) as f:
            parts.append(f'# ---- {os.path.basename(path)}\n{f.read()}')
    return '\n'.join(parts)


def ensure_test_module():
    """The test-only handler (mod_websocket_test.so) is built by make
    check; build it here when a plain `make` left it out."""
    top = load_config()['top_builddir']
    so = os.path.join(top, 'tests', 'integration', '.libs',
                      'mod_websocket_test.so')
    if not os.path.exists(so) and os.path.exists(os.path.join(top,
                                                              'Makefile')):
        subprocess.run(['make', '-C', top,
                        'tests/integration/mod_websocket_test.la'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return os.path.exists(so)


Response = collections.namedtuple('Response', 'status headers body head')
Response.__doc__ = """An HTTP response: status (int), headers (dict with
lower-case names, repeated ones joined by ', '), body (bytes) and the raw
head (str) for messages."""


# Users of ${workdir}/htpasswd (the htpasswd fixture): password, hash.
USERS = {'alice': ('alice-secret', '-B'),     # bcrypt
         'bob': ('bob:pass w0rd', '-m')}       # Apache MD5


def basic(user, password=None):
    """An Authorization header for Basic auth as user (of USERS)."""
    if password is None:
        password = USERS[user][0]
    token = base64.b64encode(f'{user}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


def write_htpasswd(directory):
    """directory/htpasswd with USERS, made with htpasswd(1) from
    apache2-utils; returns its path."""
    path = os.path.join(directory, 'htpasswd')
    create = ['-c']
    for user, (password, algo) in USERS.items():
        p = subprocess.run(['htpasswd', '-b', algo] + create
                           + [path, user, password],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert p.returncode == 0, f'htpasswd {user}: {p.stdout!r}'
        create = []
    os.chmod(path, 0o644)
    return path


def new_key():
    return base64.b64encode(os.urandom(16)).decode('ascii')


def _read_head(sock, data=b''):
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f'connection closed before a response head;'
                                 f' got {data!r:.300}')
        data += chunk
    head, rest = data.split(b'\r\n\r\n', 1)
    text = head.decode('latin-1')
    lines = text.split('\r\n')
    status = int(lines[0].split(' ', 2)[1])
    return status, headers_of(lines[1:]), rest, text


def _read_body(sock, headers, rest, status, head_only):
    if head_only or status in (101, 204, 304) or 100 <= status < 200:
        return rest
    body = rest
    if 'chunked' in headers.get('transfer-encoding', '').lower():
        while not body.endswith(b'0\r\n\r\n'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return _dechunk(body)
    if 'content-length' in headers:
        n = int(headers['content-length'])
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return body[:n]
    while True:                 # until the server closes
        chunk = sock.recv(65536)
        if not chunk:
            return body
        body += chunk


def _dechunk(data):
    out = b''
    while data:
        size_line, _, data = data.partition(b'\r\n')
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


def http_request(port, request, timeout=TIMEOUT, head_only=False,
                 sock=None):
    """Send raw request bytes to 127.0.0.1:port and read one response.
    Returns Response; the socket is closed unless passed in."""
    own = sock is None
    if own:
        sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        sock.sendall(request)
        status, headers, rest, head = _read_head(sock)
        body = _read_body(sock, headers, rest, status, head_only)
        return Response(status, headers, body, head)
    finally:
        if own:
            sock.close()


def handshake_request(httpd, path='/echo', key=None, **kw):
    """Bytes of a handshake to httpd (see wsraw.make_handshake_request)."""
    return make_handshake_request(path, f'127.0.0.1:{httpd.port}', key=key,
                                  **kw)


def get(httpd, path, headers=(), method='GET', http='HTTP/1.1'):
    """A plain request without Upgrade; Connection: close."""
    lines = [f'{method} {path} {http}', f'Host: 127.0.0.1:{httpd.port}',
             'Connection: close'] + [f'{k}: {v}' for k, v in headers]
    req = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
    return http_request(httpd.port, req, head_only=(method == 'HEAD'))


def post(httpd, path, body, content_type=None, headers=(), method='POST',
         chunked=False):
    """A request with a body (Content-Length, or chunked in pieces of
    1000 bytes); Connection: close."""
    lines = [f'{method} {path} HTTP/1.1', f'Host: 127.0.0.1:{httpd.port}',
             'Connection: close'] + [f'{k}: {v}' for k, v in headers]
    if content_type:
        lines.append(f'Content-Type: {content_type}')
    if chunked:
        lines.append('Transfer-Encoding: chunked')
        data = b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + 1000]),
                                             body[i:i + 1000])
                        for i in range(0, len(body), 1000)) + b'0\r\n\r\n'
    else:
        lines.append(f'Content-Length: {len(body)}')
        data = body
    req = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + data
    return http_request(httpd.port, req, timeout=30)


def server_status(httpd, path='/server-status?auto'):
    """The WebSocket* lines of mod_status's ?auto page, as ints."""
    r = get(httpd, path)
    assert r.status == 200, f'{path}: {r.status}'
    out = {}
    for line in r.body.decode().splitlines():
        key, sep, value = line.partition(': ')
        if sep and key.startswith('WebSocket'):
            out[key] = int(value)
    assert 'WebSocketsOpen' in out, f'no WebSocket lines:\n{r.body[:2000]}'
    return out


def child_crashes(h, mark=0):
    """The lines of h's error log since mark that tell of a child's crash
    (AH00051, AH00052)."""
    return [line for line in h.error_log_lines_since(mark)
            if 'AH00051' in line or 'AH00052' in line]


def assert_no_child_crashes(h, mark=0):
    """No child of h crashed since mark (by its error log)."""
    crashes = child_crashes(h, mark)
    assert not crashes, f'{h!r}: child crashes:\n' + '\n'.join(crashes)


def ask(ws, text):
    """Send text on a RawWS and return the text message that answers."""
    ws.send_frame(OP_TEXT, text.encode())
    got = ws.recv_message()
    assert got is not None and got[0] == OP_TEXT, f'{text!r}: got {got!r}'
    return got[1].decode()


def logged(h, mark, tag):
    """A line of h's error log since mark has tag (a log number, a
    phrase)."""
    return any(tag in line for line in h.error_log_lines_since(mark))


def handler_closes(h, mark):
    """The close codes the test handler (mod_websocket_test.c) saw since
    mark (it logs each)."""
    return [int(m.group(1)) for line in h.error_log_lines_since(mark)
            for m in [re.search(r'test handler: close (\d+)', line)] if m]


def connect(httpd, path='/echo', **kw):
    """A RawWS on httpd (127.0.0.1), or through a Via."""
    if isinstance(httpd, Via):
        return httpd.connect(path, **kw)
    return RawWS.connect('127.0.0.1', httpd.port, path, **kw)


def refused(httpd, path, **kw):
    """The HandshakeError of a handshake that must not succeed."""
    try:
        ws = connect(httpd, path, **kw)
    except HandshakeError as e:
        return e
    ws.close_socket()
    raise AssertionError(f'{path} {kw}: upgrade succeeded '
                         f'({ws.status} {ws.response_headers}), '
                         f'expected a refusal')


def first_diff(a, b):
    """Index of the first differing byte of a and b (or the shorter
    length), for messages about big payloads."""
    n = min(len(a), len(b))
    for i in range(0, n, 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, n)):
                if a[j] != b[j]:
                    return j
    return n


def describe_mismatch(got, want):
    return (f'got {len(got)} bytes, want {len(want)}; first difference at '
            f'byte {first_diff(got, want)}; got starts {got[:40]!r}')


def assert_echoes(httpd, path='/echo', what=''):
    """A fresh connection on httpd still echoes text and binary."""
    with connect(httpd, path) as ws:
        ws.send_frame(OP_TEXT, b'still alive')
        got = ws.recv_message()
        assert got == (OP_TEXT, b'still alive'), \
            f'{what}: fresh connection to {path} did not echo text: {got!r}'
        ws.send_frame(OP_BINARY, b'\x00\xff\x01')
        got = ws.recv_message()
        assert got == (OP_BINARY, b'\x00\xff\x01'), \
            f'{what}: fresh connection to {path} did not echo binary: {got!r}'
        assert ws.close() == (1000, b''), f'{what}: close of the fresh one'


def assert_failed_with(ws, code, what, timeout=TIMEOUT):
    """The server closes ws with a close frame of code (an int or a set of
    ints), then closes TCP without waiting for our close frame (RFC 6455
    §7.1.7, "Fail the WebSocket Connection")."""
    codes = {code} if isinstance(code, int) else set(code)
    got, reason = ws.expect_close(timeout)
    assert got in codes, (f'{what}: close code {got} ({reason!r}), '
                          f'expected {sorted(codes)}')
    assert ws.tcp_closed(timeout), \
        f'{what}: TCP still open {timeout}s after close {got}'
    return got, reason


def fail_case(httpd, send, code, what, path='/echo', **kw):
    """Connect to path (connect()'s keywords: kw), let send(ws) misbehave,
    expect close code and the TCP close; then check that a fresh
    connection still echoes. Returns what assert_failed_with did."""
    with connect(httpd, path, **kw) as ws:
        send(ws)
        result = assert_failed_with(ws, code, what)
    assert_echoes(httpd, path, what=f'after {what}')
    return result


def run(coro, timeout=60):
    """Run an asyncio coroutine to the end (websockets 10.4 has no sync
    client)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def exchange(open_client, msgs):
    """Open a websockets-style client by open_client() (ws_client,
    Via.client: called in the coroutine, where websockets wants its event
    loop), send each of msgs and take the message that follows it; the
    list of those."""
    async with open_client() as ws:
        out = []
        for m in msgs:
            await ws.send(m)
            out.append(await ws.recv())
        return out


def ws_client(httpd, path='/echo', **kw):
    """websockets.connect() to httpd, no compression, no size limit, no
    keepalive pings (they would change what an idle test measures)."""
    return _ws_connect(httpd.ws_url(path), **kw)


def _ws_connect(url, **kw):
    kw.setdefault('max_size', None)
    kw.setdefault('compression', None)
    kw.setdefault('ping_interval', None)
    kw.setdefault('open_timeout', 10)
    return websockets.connect(url, **kw)


def wait_for(pred, timeout=TIMEOUT, interval=0.05):
    """Poll pred() until true or timeout; returns its last value. Wait so
    for whatever a test then asserts (a log line, a counter, a process
    gone): the server does it in its own time, after the action that
    causes it."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


__all__ = ['Response', 'http_request', 'handshake_request', 'get', 'post',
           'server_status', 'logged', 'handler_closes', 'child_crashes',
           'assert_no_child_crashes', 'ask',
           'connect',
           'refused', 'assert_echoes', 'assert_failed_with', 'fail_case',
           'run', 'exchange',
           'ws_client', 'wait_for', 'new_key', 'first_diff',
           'describe_mismatch', 'accept_key', 'OP_CLOSE', 'TIMEOUT']


# ---- transports ---------------------------------------------------------

# How a test reaches the integration server (the ``via`` fixture): plain
# HTTP/1.1, HTTP/1.1 over TLS (wss://, checked against the test CA), and
# RFC 8441 over h2c (prior knowledge) and over h2 (TLS, ALPN).
TRANSPORTS = ('tcp', 'tls', 'h2c', 'h2')


class Via:
    """One transport to one server: connect() gives a raw WebSocket (RawWS
    or H2WS), client() a websockets-style client (python3-websockets for
    HTTP/1.1; over HTTP/2, which that library lacks, a small adapter with
    the same calls)."""

    def __init__(self, httpd, name):
        self.httpd = httpd
        self.name = name
        self.http2 = name.startswith('h2')

    def __repr__(self):
        return f'Via({self.name})'

    @property
    def protocol(self):
        """What the access log shows as the request's protocol."""
        return 'HTTP/2.0' if self.http2 else 'HTTP/1.1'

    def connect(self, path='/echo', **kw):
        h = self.httpd
        if self.name == 'tcp':
            return RawWS.connect('127.0.0.1', h.port, path, **kw)
        if self.name == 'tls':
            return RawWS.connect('127.0.0.1', h.tls_port, path,
                                 ssl_context=h.ca.ssl_context(['http/1.1']),
                                 server_hostname='localhost', **kw)
        if self.name == 'h2c':
            return H2WS.connect('127.0.0.1', h.port, path, **kw)
        return H2WS.connect('127.0.0.1', h.tls_port, path,
                            ssl_context=h.ca.ssl_context(['h2']),
                            server_hostname='localhost', **kw)

    def client(self, path='/echo', **kw):
        if self.http2:
            return _H2Client(self, path)
        if self.name == 'tls':
            kw.setdefault('ssl', self.httpd.ca.ssl_context())
            return _ws_connect(self.httpd.wss_url(path), **kw)
        return _ws_connect(self.httpd.ws_url(path), **kw)


class _H2Client:
    """The calls of a websockets client the tests use (send, recv, close,
    close_code), over an H2WS. Its calls block; send then recv let the
    other tasks run once, so a sender task and a receiving loop take turns,
    and tests that gather several clients run them one after another."""

    def __init__(self, via, path):
        self._via = via
        self._path = path
        self.ws = None
        self.close_code = None
        self.close_reason = None

    async def _open(self):
        self.ws = self._via.connect(self._path, timeout=10)
        return self

    def __await__(self):
        return self._open().__await__()

    async def __aenter__(self):
        return await self._open()

    async def __aexit__(self, *exc):
        if self.close_code is None:
            await self.close()

    async def send(self, message):
        if isinstance(message, str):
            self.ws.send_frame(OP_TEXT, message.encode('utf-8'))
        else:
            self.ws.send_frame(OP_BINARY, bytes(message))
        await asyncio.sleep(0)

    async def recv(self):
        await asyncio.sleep(0)
        while True:
            got = self.ws.recv_message(timeout=30)
            if got is None:
                raise ConnectionError('the stream ended')
            op, data = got
            if op == OP_PING:
                self.ws.send_frame(OP_PONG, data)
            elif op == OP_TEXT:
                return data.decode('utf-8')
            elif op == OP_BINARY:
                return data
            elif op == OP_CLOSE:
                self.close_code, self.close_reason = RawWS.parse_close(data)
                raise ConnectionError(f'closed: {self.close_code}')

    async def close(self, code=1000, reason=''):
        self.close_code, reason = self.ws.close(code, reason)
        self.close_reason = reason.decode('utf-8')
        self.ws.close_socket()
