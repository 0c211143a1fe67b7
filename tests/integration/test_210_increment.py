"""210: the increment handler (libwebsockets' dumb-increment-protocol):
a counter pushed as text every 50 ms, "reset\\n" resets it, "closeme\\n"
closes with 1001 "seeya"; with python3-websockets and with libwebsockets'
own test client."""

import os
import re
import select
import shutil
import signal
import subprocess
import time

import websockets

from wsraw import OP_TEXT, OP_CLOSE
from wsit import connect, run, ws_client

PROTOCOL = 'dumb-increment-protocol'


def test_ws_210_01_counts(httpd):
    async def go():
        start = time.monotonic()
        async with ws_client(httpd, '/increment',
                             subprotocols=[PROTOCOL]) as ws:
            first = await ws.recv()
            t0 = time.monotonic()
            values = [first] + [await ws.recv() for _ in range(20)]
            t1 = time.monotonic()
            return ws.subprotocol, values, t1 - t0, t1 - start
    proto, values, elapsed, since_connect = run(go())
    assert proto == PROTOCOL, f'subprotocol {proto!r}'
    assert all(isinstance(v, str) and v.isdigit() for v in values), \
        f'not decimal text: {values!r}'
    nums = [int(v) for v in values]
    assert nums == list(range(nums[0], nums[0] + len(nums))), \
        f'not increasing by 1: {nums}'
    assert nums[0] <= 3, f'a new connection starts near 0: {nums[0]}'
    # 20 periods of 50 ms. The 21st value cannot come sooner after we
    # connected (ticks read late come in a burst, so the time between our
    # reads may be shorter); a slow timer makes our reads late.
    assert since_connect > 0.5, \
        f'21 ticks came {since_connect:.2f}s after connecting, want ~1s'
    assert elapsed < 3.0, f'20 ticks took {elapsed:.2f}s, want ~1s'


def test_ws_210_02_reset(httpd):
    async def go():
        async with ws_client(httpd, '/increment',
                             subprotocols=[PROTOCOL]) as ws:
            before = []
            while not before or int(before[-1]) < 10:
                before.append(await ws.recv())
            await ws.send('reset\n')
            # The ticks on their way before the reset come first (more of
            # them when we read late): read up to the first value that
            # does not go on counting (at most 100: 5 s of ticks), and 5
            # more.
            on = int(before[-1]) + 1
            after = [await ws.recv()]
            while int(after[-1]) == on + len(after) - 1 and len(after) < 100:
                after.append(await ws.recv())
            after += [await ws.recv() for _ in range(5)]
            return before, after
    before, after = run(go())
    nums = [int(v) for v in after]
    low = next((i for i, n in enumerate(nums)
                if n != int(before[-1]) + 1 + i), len(nums) - 1)
    assert nums[low] <= 2, \
        f'no reset to a small number after {before[-1]}: {nums}'
    tail = nums[low:]
    assert tail == list(range(tail[0], tail[0] + len(tail))), \
        f'not counting up after the reset: {nums}'


def test_ws_210_03_closeme(httpd):
    with connect(httpd, '/increment', protocols=[PROTOCOL]) as ws:
        assert ws.response_headers.get('sec-websocket-protocol') == PROTOCOL, \
            f'subprotocol: {ws.response_headers}'
        ws.send_frame(OP_TEXT, b'closeme\n')
        while True:
            f = ws.recv_frame()
            assert f is not None, 'TCP closed without a close frame'
            if f.opcode == OP_CLOSE:
                break
            assert f.opcode == OP_TEXT and f.payload.isdigit(), f'{f!r}'
        assert ws.parse_close(f.payload) == (1001, b'seeya'), \
            f'close frame {f.payload!r}'
        ws.send_frame(OP_CLOSE, b'\x03\xe9')
        assert ws.tcp_closed(), 'TCP open after the close handshake'


def test_ws_210_04_closeme_websockets(httpd):
    async def go():
        async with ws_client(httpd, '/increment',
                             subprotocols=[PROTOCOL]) as ws:
            await ws.send('closeme\n')
            try:
                while True:
                    await ws.recv()
            except websockets.ConnectionClosed as e:
                return e.code, e.reason
    assert run(go()) == (1001, 'seeya'), \
        'close code and reason of closeme'


def numbers_in(out):
    """The numbers libwebsockets-test-client printed as received."""
    return [int(v) for v in re.findall(r"rx \d+ '(\d+)'", out)]


def lws_test_client(url, env=None, want=15, timeout=30):
    """What libwebsockets-test-client (apt: libwebsockets-test-server) got
    on url: it opens its dumb-increment connection and prints every number
    it receives at log level INFO (-d 15). It runs until it has printed 0
    to want - 1 (or timeout seconds), then gets a SIGINT. Returns (numbers,
    log)."""
    client = shutil.which('libwebsockets-test-client')
    assert client, 'libwebsockets-test-client missing: apt-get install ' \
                   'libwebsockets-test-server'
    p = subprocess.Popen([client, url, '--nomirror', '-d', '15'],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env)
    data = b''
    deadline = time.monotonic() + timeout
    try:
        while not set(range(want)) <= set(numbers_in(
                data.decode('utf-8', 'replace'))):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                break
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            data += chunk
    finally:
        p.send_signal(signal.SIGINT)
        try:
            data += p.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            data += p.communicate()[0]
    out = data.decode('utf-8', 'replace')
    tail = out[-3000:]
    assert 'lws_http_client_http_response 101' in out, \
        f'no 101 for the libwebsockets client:\n{tail}'
    assert 'dumb: LWS_CALLBACK_CLIENT_ESTABLISHED' in out, \
        f'dumb-increment connection not established:\n{tail}'
    assert 'CLIENT_CONNECTION_ERROR' not in out, f'connection error:\n{tail}'
    return numbers_in(out), tail


def test_ws_210_05_libwebsockets_test_client(httpd):
    values, tail = lws_test_client(f'ws://127.0.0.1:{httpd.port}/increment')
    assert set(range(15)) <= set(values), \
        f'libwebsockets client got {values}:\n{tail}'


def test_ws_210_06_libwebsockets_test_client_tls(httpd):
    """The same over wss:// (mod_ssl), trusting the test CA."""
    env = dict(os.environ, SSL_CERT_FILE=httpd.ca.ca_file)
    values, tail = lws_test_client(
        f'wss://localhost:{httpd.tls_port}/increment-lws', env)
    assert set(range(15)) <= set(values), \
        f'libwebsockets client over TLS got {values}:\n{tail}'
