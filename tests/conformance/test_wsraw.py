"""Checks of the test client itself: wsraw against RFC 6455's examples and a
python3-websockets echo server, and the UTF-8 oracle of cases.py."""

import asyncio
import itertools
import os
import random
import socket
import sys
import threading

import pytest
import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))

import cases  # noqa: E402
from wsraw import (RawWS, HandshakeError, OP_CONT, OP_TEXT,  # noqa: E402
                   OP_BINARY, OP_PING, OP_PONG, accept_key,
                   make_handshake_request, build_frame)


def test_wsraw_accept_key_rfc_example():
    # RFC 6455 §1.3
    assert accept_key('dGhlIHNhbXBsZSBub25jZQ==') == \
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo='


def test_wsraw_build_frame_rfc_examples():
    # RFC 6455 §5.7: unmasked and masked "Hello", 256 bytes and 64 KiB
    assert build_frame(OP_TEXT, b'Hello', mask=False) == \
        bytes.fromhex('810548656c6c6f')
    assert build_frame(OP_TEXT, b'Hello', mask=bytes.fromhex('37fa213d')) == \
        bytes.fromhex('818537fa213d7f9f4d5158')
    assert build_frame(OP_TEXT, b'Hel', fin=False, mask=False) == \
        bytes.fromhex('010348656c')
    assert build_frame(OP_CONT, b'lo', mask=False) == \
        bytes.fromhex('80026c6f')
    assert build_frame(OP_PING, b'Hello', mask=False) == \
        bytes.fromhex('890548656c6c6f')
    assert build_frame(OP_BINARY, bytes(256), mask=False)[:4] == \
        bytes.fromhex('827e0100')
    assert build_frame(OP_BINARY, bytes(65536), mask=False)[:10] == \
        bytes.fromhex('827f0000000000010000')


def test_wsraw_build_frame_malformed():
    assert build_frame(OP_TEXT, b'a', rsv=5, mask=False) == b'\xd1\x01a'
    assert build_frame(OP_TEXT, b'a', nonminimal_len=True, mask=False) == \
        b'\x81\x7f' + (1).to_bytes(8, 'big') + b'a'
    assert build_frame(OP_TEXT, b'a', nonminimal_len=16, mask=False) == \
        b'\x81\x7e\x00\x01a'
    assert build_frame(OP_TEXT, b'a', length_override=2, mask=False) == \
        b'\x81\x02a'
    big = os.urandom(100001)
    f = build_frame(OP_BINARY, big, mask=b'\x01\x02\x03\x04')
    unmasked = bytes(b ^ (1, 2, 3, 4)[i % 4] for i, b in enumerate(f[14:]))
    assert unmasked == big


def test_wsraw_handshake_request_omits_headers():
    req = make_handshake_request('/x', 'h:1', key=False, version=None,
                                 extra_headers=[('X-A', 'b')])
    assert req == (b'GET /x HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\n'
                   b'Connection: Upgrade\r\nX-A: b\r\n\r\n')


@pytest.fixture(scope='module')
def echo_server():
    """A python3-websockets echo server on 127.0.0.1 in a thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def echo(ws, path=None):
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass

    async def main():
        state['stop'] = asyncio.Event()
        async with websockets.serve(echo, '127.0.0.1', 0, max_size=None,
                                    compression=None,
                                    ping_interval=None) as server:
            state['port'] = server.sockets[0].getsockname()[1]
            ready.set()
            await state['stop'].wait()

    t = threading.Thread(target=loop.run_until_complete, args=(main(),),
                         daemon=True)
    t.start()
    assert ready.wait(10), 'websockets echo server did not start'
    yield state['port']
    loop.call_soon_threadsafe(state['stop'].set)
    t.join(10)


def test_wsraw_echo(echo_server):
    ws = RawWS.connect('127.0.0.1', echo_server, '/',
                       extra=build_frame(OP_TEXT, b'pipelined'))
    assert ws.status == 101 and ws.response_headers['upgrade'] == 'websocket'
    assert ws.recv_message() == (OP_TEXT, b'pipelined')
    ws.send_frame(OP_TEXT, 'h\u00e9llo', split='bytewise')
    assert ws.recv_message() == (OP_TEXT, 'h\u00e9llo'.encode())
    ws.send_frame(OP_BINARY, b'ab', fin=False, split=[1, 1])
    ws.send_frame(OP_PING, b'p')
    ws.send_frame(OP_CONT, b'cd', nonminimal_len=True)
    assert ws.recv_message() == (OP_PONG, b'p')
    assert ws.recv_message() == (OP_BINARY, b'abcd')
    big = os.urandom(3 << 20)
    ws.send_frame(OP_BINARY, big)
    assert ws.recv_message(timeout=20) == (OP_BINARY, big)
    with pytest.raises(socket.timeout):
        ws.recv_frame(timeout=0.1)
    assert ws.close(1000, b'bye') == (1000, b'bye')
    assert ws.tcp_closed()
    assert ws.masked_frames == 0


def test_wsraw_server_fails(echo_server):
    ws = RawWS.connect('127.0.0.1', echo_server, '/')
    ws.send_frame(OP_TEXT, b'x', mask=False)      # RFC 6455 §5.1: 1002
    assert ws.expect_close() == (1002, b'')
    assert ws.tcp_closed()
    ws.close_socket()


def test_wsraw_handshake_error(echo_server):
    with pytest.raises(HandshakeError) as e:
        RawWS.connect('127.0.0.1', echo_server, '/',
                      headers={'Sec-WebSocket-Version': '8'})
    assert e.value.status == 400 and e.value.body


def test_cases_utf8_oracle():
    """utf8_fail_index agrees with Python's codec on validity, and its
    index is where a valid prefix stops being one."""
    conts = [bytes(t) for n in range(4)
             for t in itertools.product([0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf],
                                        repeat=n)]

    def valid(b):
        try:
            b.decode('utf-8')
            return True
        except UnicodeDecodeError:
            return False

    def prefix(b):
        return any(valid(b + c) for c in conts)

    rnd = random.Random(6455)
    samples = [bytes(rnd.choice(b'\x00\x7f\x80\xbf\xc0\xc2\xdf\xe0\xed\xef'
                                b'\xf0\xf4\xf5\xff\x9f\xa0\x8f\x90')
                     for _ in range(rnd.randrange(1, 6)))
               for _ in range(1500)]
    samples += [p for _, ps in cases.utf8_sequences() for p in ps]
    for b in samples:
        bad = cases.utf8_fail_index(b)
        assert (bad is None) == valid(b), b
        if bad is not None and bad < len(b):
            assert prefix(b[:bad]) and not prefix(b[:bad + 1]), (b, bad)
        elif bad == len(b):
            assert prefix(b), b
