"""150: subprotocol choice and refusals by the handler (the test-only
handler `test` on /test: prefers "superchat", then "chat"; ?refuse=NNN
refuses with NNN)."""

import pytest

from wsraw import OP_TEXT, OP_BINARY
from wsit import (ask, connect, refused, run, ws_client, http_request,
                  handshake_request, new_key)


@pytest.mark.parametrize('offered,chosen', [
    (['chat', 'superchat'], 'superchat'),
    (['superchat', 'chat'], 'superchat'),
    (['chat'], 'chat'),
    (['foo', 'chat', 'bar'], 'chat'),
    (['superchat'], 'superchat'),
], ids=['both', 'both-reversed', 'chat', 'chat-among-others', 'superchat'])
def test_ws_150_01_server_preference(httpd, offered, chosen):
    with connect(httpd, '/test', protocols=offered) as ws:
        got = ws.response_headers.get('sec-websocket-protocol')
        assert got == chosen, f'offered {offered}: chosen {got!r}, ' \
                              f'want {chosen!r}'
        assert ask(ws, 'protocol') == chosen, \
            f'offered {offered}: the handler sees another protocol'


@pytest.mark.parametrize('offered', [None, ['foo', 'bar'], ['Chat']],
                         ids=['none', 'unknown', 'case-differs'])
def test_ws_150_02_none_acceptable(httpd, offered):
    """No acceptable protocol: 101 without Sec-WebSocket-Protocol (§4.2.2
    item 5.4: the server must not pick one the client did not offer)."""
    with connect(httpd, '/test', protocols=offered) as ws:
        assert 'sec-websocket-protocol' not in ws.response_headers, \
            f'offered {offered}: {ws.response_headers}'
        assert ask(ws, 'protocol') == '-', f'offered {offered}'


def test_ws_150_03_protocol_header_lines(httpd):
    """Sec-WebSocket-Protocol may come in several header lines."""
    key = new_key()
    req = handshake_request(httpd, '/test', key=key, extra_headers=[
        ('Sec-WebSocket-Protocol', 'chat'),
        ('Sec-WebSocket-Protocol', 'foo, superchat')])
    r = http_request(httpd.port, req)
    assert r.status == 101, f'two protocol lines:\n{r.head}'
    assert r.headers.get('sec-websocket-protocol') == 'superchat', \
        f'two protocol lines:\n{r.head}'


def test_ws_150_04_websockets_client(httpd):
    async def go():
        async with ws_client(httpd, '/test',
                             subprotocols=['chat', 'superchat']) as ws:
            await ws.send('protocol')
            return ws.subprotocol, await ws.recv()
    assert run(go()) == ('superchat', 'superchat'), \
        'websockets client: (subprotocol, handler protocol)'


def test_ws_150_05_echo_handler_picks_none(httpd):
    with connect(httpd, '/echo', protocols=['chat', 'superchat']) as ws:
        assert 'sec-websocket-protocol' not in ws.response_headers, \
            f'echo chose a protocol: {ws.response_headers}'


@pytest.mark.parametrize('status', [403, 404, 429, 451, 503])
def test_ws_150_06_handler_refuses(httpd, status):
    """The handler's status goes out as it is. (Not 418: httpd 2.4 has no
    status line for it and answers 500 for any handler returning it.)"""
    e = refused(httpd, f'/test?refuse={status}')
    assert e.status == status, f'refuse={status}: got {e.status} {e.headers}'
    assert e.headers.get('upgrade') is None, \
        f'refuse={status}: a refusal must not name an upgrade: {e.headers}'


def test_ws_150_07_test_handler_echo(httpd):
    """Messages that are no command come back with their type."""
    with connect(httpd, '/test') as ws:
        ws.send_frame(OP_TEXT, b'hello test')
        assert ws.recv_message() == (OP_TEXT, b'hello test'), \
            'test handler echoes text'
        ws.send_frame(OP_BINARY, b'\x00user')
        assert ws.recv_message() == (OP_BINARY, b'\x00user'), \
            'test handler echoes binary'
        assert ws.close() == (1000, b''), \
            'close of /test'
