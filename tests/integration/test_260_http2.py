"""260: WebSockets over HTTP/2 (RFC 8441). mod_http2 with H2WebSockets on
turns the client's extended CONNECT into a GET with Upgrade headers on a
secondary connection; the module answers it like an HTTP/1.1 upgrade and
runs the WebSocket in the stream's worker thread, polling the stream's
input pipe. h2c with prior knowledge keeps TLS out of the way here.
mod_http2 is inactive under prefork (AH10034), so these run for event and
worker."""

import pytest

from h2ws import H2WS
from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                   HandshakeError, build_frame)
from wsit import assert_failed_with

# The h2d fixture (conftest.py): a server of this module's own.
H2_NAME = 'h2'
H2_CONF = '''
<Location /h2small>
    WebSocketHandler echo
    WebSocketMaxMessageSize 1000
</Location>
'''


def connect(h, path='/echo', **kw):
    return H2WS.connect('127.0.0.1', h.port, path, **kw)


@pytest.mark.parametrize('size', [0, 125, 126, 65535, 65536, 1 << 20])
def test_ws_260_01_echo(h2d, size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    with connect(h2d) as ws:
        assert ws.status == 200, f'RFC 8441 §5: 200, got {ws.status}'
        ws.send_frame(OP_BINARY, payload)
        got = ws.recv_message(timeout=20)
        assert got == (OP_BINARY, payload), \
            f'{size} bytes over HTTP/2: got {len(got[1])} bytes'
        ws.send_frame(OP_TEXT, 'h2 ✓'.encode())
        assert ws.recv_message() == (OP_TEXT, 'h2 ✓'.encode())
        # RFC 6455 §5.5.1: the reply echoes the code
        assert ws.close(1000, b'done') == (1000, b'')
        assert ws.tcp_closed(), 'the stream did not end after the close'


def test_ws_260_02_fragments_and_ping(h2d):
    with connect(h2d) as ws:
        ws.send_frame(OP_TEXT, b'frag', fin=False)
        ws.send_frame(OP_PING, b'ping!')
        ws.send_frame(OP_CONT, b'mented', fin=True, split='bytewise')
        assert ws.recv_message() == (OP_PONG, b'ping!'), 'pong first'
        assert ws.recv_message() == (OP_TEXT, b'fragmented')


def test_ws_260_03_protocol_error(h2d):
    with connect(h2d) as ws:
        ws.send_frame(OP_TEXT, b'x', rsv=4)
        assert_failed_with(ws, 1002, 'RSV1 over HTTP/2')
    with connect(h2d) as ws:
        ws.send_frame(OP_TEXT, b'\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80')
        assert_failed_with(ws, 1007, 'a surrogate over HTTP/2')
    with connect(h2d, '/h2small') as ws:
        ws.send_frame(OP_BINARY, b'b' * 1001)
        assert_failed_with(ws, 1009, '1001 bytes at a 1000-byte limit')


def test_ws_260_04_origin_and_subprotocol(h2d):
    with pytest.raises(HandshakeError) as e:
        connect(h2d, origin='http://evil.example')
    assert e.value.status == 403, f'cross-origin over HTTP/2: {e.value}'
    with connect(h2d, '/test', protocols=['chat', 'superchat']) as ws:
        assert ws.response_headers.get('sec-websocket-protocol') == \
            'superchat', f'{ws.response_headers}'


def test_ws_260_05_client_ends_stream(h2d):
    """The client ends its stream without a close frame: the WebSocket is
    over (1006 for the handler) and the server still works."""
    ws = connect(h2d)
    ws.send_frame(OP_TEXT, b'bye')
    assert ws.recv_message() == (OP_TEXT, b'bye')
    ws.conn.end_stream(ws.stream_id)
    ws.sock.sendall(ws.conn.data_to_send())
    assert ws.tcp_closed(), 'the server did not end its side of the stream'
    ws.close_socket()
    with connect(h2d) as again:
        again.send_frame(OP_TEXT, b'still here')
        assert again.recv_message() == (OP_TEXT, b'still here')


def test_ws_260_05b_close_with_end_of_stream(h2d):
    """Chromium sends its close frame and ends the stream in one DATA
    frame: the close is still answered (wasClean for the browser), not
    taken for a lost connection."""
    for size in (0, 1 << 20):
        ws = connect(h2d)
        try:
            ws.send_frame(OP_BINARY, b'x' * size)
            assert ws.recv_message(timeout=10) == (OP_BINARY, b'x' * size)
            ws.conn.send_data(ws.stream_id,
                              build_frame(OP_CLOSE, b'\x03\xe8done'),
                              end_stream=True)
            ws.sock.sendall(ws.conn.data_to_send())
            assert ws.expect_close() == (1000, b'')
        finally:
            ws.close_socket()


def test_ws_260_06_access_log(h2d):
    with connect(h2d, headers={'X-Test-Id': 'h2-log'}) as ws:
        ws.send_frame(OP_TEXT, b'logged')
        ws.recv_message()
        ws.close()
    entries = h2d.access_log_for('h2-log')
    assert len(entries) == 1, f'one line per WebSocket: {entries}'
    assert entries[0]['protocol'] == 'HTTP/2.0', entries[0]['line']
    assert entries[0]['status'] == '101', entries[0]['line']
