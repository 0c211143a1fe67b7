"""110: WebSocketHandler echo returns every message byte for byte, through a
conforming client (python3-websockets) and through raw frames, at the
length encoding boundaries (125/126, 65535/65536) and at the default
message limit (16 MiB, inclusive), over every transport (via: HTTP/1.1,
TLS, h2c, h2)."""

import asyncio
import os
import threading
import time

import pytest

from wsraw import OP_TEXT, OP_BINARY, build_frame
from wsit import (connect, assert_failed_with, exchange, run,
                  describe_mismatch, assert_echoes)

MiB = 1024 * 1024
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 16 * MiB]
SIZE_IDS = ['0', '1', '125', '126', '127', '65535', '65536', '16MiB']
ALNUM = b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'


def text_of(n):
    return (ALNUM * (n // len(ALNUM) + 1))[:n].decode('ascii')


def binary_of(n):
    return os.urandom(n)


async def pipelined_echo(via, msgs, read_after=0):
    """Send msgs from a task while reading (after read_after seconds) as
    many messages on one client of via; returns what was read."""
    async with via.client() as ws:
        async def sender():
            for m in msgs:
                await ws.send(m)
        task = asyncio.ensure_future(sender())
        await asyncio.sleep(read_after)
        got = [await ws.recv() for _ in msgs]
        await task
        return got


@pytest.mark.parametrize('size', SIZES, ids=SIZE_IDS)
def test_ws_110_01_websockets_text(via, size):
    msg = text_of(size)

    async def go():
        async with via.client() as ws:
            await ws.send(msg)
            return await ws.recv()
    got = run(go())
    assert isinstance(got, str), f'{size}: text came back as {type(got)}'
    assert got == msg, f'{size}: ' + describe_mismatch(got.encode(),
                                                       msg.encode())


@pytest.mark.parametrize('size', SIZES, ids=SIZE_IDS)
def test_ws_110_02_websockets_binary(via, size):
    msg = binary_of(size)

    async def go():
        async with via.client() as ws:
            await ws.send(msg)
            return await ws.recv()
    got = run(go())
    assert isinstance(got, bytes), f'{size}: binary came back as {type(got)}'
    assert got == msg, f'{size}: ' + describe_mismatch(got, msg)


@pytest.mark.parametrize('size', SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize('opcode', [OP_TEXT, OP_BINARY],
                         ids=['text', 'binary'])
def test_ws_110_03_raw(via, size, opcode):
    msg = text_of(size).encode() if opcode == OP_TEXT else binary_of(size)
    with connect(via) as ws:
        ws.send_frame(opcode, msg)
        got_op, got = ws.recv_message(timeout=30)
        assert got_op == opcode, f'{size}: opcode {got_op}, sent {opcode}'
        assert got == msg, f'{size}: ' + describe_mismatch(got, msg)
        assert ws.masked_frames == 0, \
            f'{size}: the server masked {ws.masked_frames} frames (§5.1)'
        assert ws.close() == (1000, b''), f'{size}: close handshake'


def test_ws_110_04_utf8_text(via):
    """Text with 2, 3 and 4 byte UTF-8 sequences, small and large."""
    small = 'héllo wörld ✓ 𝄞 ∑ 日本語'
    large = ('é€𝄞a' * 20000)

    got = run(exchange(via.client, (small, large)))
    assert got[0] == small, f'small UTF-8 text: {got[0]!r}'
    assert got[1] == large, 'large UTF-8 text: ' + describe_mismatch(
        got[1].encode(), large.encode())


def test_ws_110_05_many_messages_in_order(via):
    """300 messages of assorted sizes and types, all sent before any is
    read (pipelined): every echo comes back, in order."""
    msgs = []
    for i in range(300):
        n = (i * 997) % 20000
        msgs.append(text_of(n) + str(i) if i % 2 else binary_of(n))

    got = run(pipelined_echo(via, msgs))
    for i, (g, m) in enumerate(zip(got, msgs)):
        assert g == m, f'message {i} ({type(m).__name__}, {len(m)}): ' \
                       f'echo differs or out of order: {str(g)[:60]!r}'


def test_ws_110_06_concurrent_clients(via):
    """20 clients at once, each echoing 20 messages: no cross-talk."""
    async def client(n):
        async with via.client() as ws:
            for i in range(20):
                m = f'client {n} message {i} ' + 'x' * (n * 100 + i)
                await ws.send(m)
                got = await ws.recv()
                if got != m:
                    return f'client {n} message {i}: got {got[:60]!r}'
        return None

    async def go():
        return await asyncio.gather(*(client(n) for n in range(20)))
    errors = [e for e in run(go()) if e]
    assert not errors, f'echo errors: {errors}'


def test_ws_110_07_over_default_limit(via):
    """WebSocketMaxMessageSize defaults to 16 MiB: one byte more is 1009."""
    with connect(via) as ws:
        try:
            ws.send_frame(OP_BINARY, b'\0' * (16 * MiB + 1))
        except OSError:     # broken pipe, reset, TLS EOF
            pass    # the server may stop reading as soon as it knows
        assert_failed_with(ws, 1009, '16 MiB + 1 byte', timeout=15)
    assert_echoes(via, what='after 1009')


def test_ws_110_08_client_close(via):
    """A conforming client's close handshake completes with 1000."""
    async def go():
        ws = await via.client()
        await ws.send('bye')
        assert await ws.recv() == 'bye', \
            'echo before the close'
        await ws.close(code=1000, reason='done')
        return ws.close_code, ws.close_reason
    code, reason = run(go())
    assert code == 1000, f'close code the server answered: {code} {reason!r}'


def test_ws_110_09_backpressure(via):
    """The client writes 32 MiB of messages and reads nothing for 1.5 s,
    then reads: the server must slow the client down (stop reading while
    its output is pending), not drop or fail anything."""
    block = os.urandom(256 * 1024)
    msgs = [b'%04d' % i + block[4:] for i in range(128)]
    if via.name == 'tls':
        # an SSL socket is not to be written and read by two threads at
        # once: asyncio does both in one
        got = run(pipelined_echo(via, msgs, read_after=1.5))
        for i, (g, m) in enumerate(zip(got, msgs)):
            assert g == m, f'message {i}: ' + describe_mismatch(g, m)
        return
    errors = []
    with connect(via) as ws:
        ws.sock.settimeout(60)
        if via.http2:
            # one thread per H2WS: its sends read (and keep) what comes
            # while the stream's window is shut
            for m in msgs:
                ws.send_frame(OP_BINARY, m)
            for i, m in enumerate(msgs):
                got = ws.recv_message(timeout=30)
                assert got == (OP_BINARY, m), f'message {i}: {got!r:.100}'
            assert ws.close() == (1000, b''), 'close after backpressure'
            return

        def sender():
            try:
                for m in msgs:
                    ws.send_raw(build_frame(OP_BINARY, m))
            except OSError as e:
                errors.append(repr(e))
        t = threading.Thread(target=sender)
        t.start()
        time.sleep(1.5)
        for i, m in enumerate(msgs):
            got = ws.recv_message(timeout=30)
            assert got is not None and got[0] == OP_BINARY, \
                f'message {i}: {got!r:.100} (send errors: {errors})'
            assert got[1] == m, f'message {i}: ' + describe_mismatch(got[1], m)
        t.join(30)
        assert not errors, f'sending failed: {errors}'
        assert ws.close() == (1000, b''), \
            'close handshake after the backpressure run'
