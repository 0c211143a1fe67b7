"""250: the per-directory merge (conf/250_merge.conf): a nested <Location>
inherits the handler, the limits and the Origin policy it doesn't set, and
overrides the ones it does."""

from wsraw import OP_TEXT, OP_BINARY, OP_CONT
from wsit import connect, refused, assert_failed_with


def test_ws_250_01_inherits_handler_and_origin(httpd):
    """/merge/inner sets only a frame size: echo and Origin Off come from
    /merge."""
    with connect(httpd, '/merge/inner', origin='http://evil.example') as ws:
        ws.send_frame(OP_TEXT, b'inherited')
        got = ws.recv_message()
        assert got == (OP_TEXT, b'inherited'), f'echo from /merge: {got!r}'


def test_ws_250_02_own_frame_limit(httpd):
    with connect(httpd, '/merge/inner') as ws:
        ws.send_frame(OP_BINARY, b'f' * 101)
        assert_failed_with(ws, 1009, '101-byte frame, WebSocketMaxFrameSize '
                                     '100 set on /merge/inner')


def test_ws_250_03_inherited_message_limit(httpd):
    """1001 bytes in frames of 100: only the inherited 1000-byte message
    limit can refuse it."""
    with connect(httpd, '/merge/inner') as ws:
        ws.send_frame(OP_BINARY, b'm' * 100, fin=False)
        for _ in range(8):
            ws.send_frame(OP_CONT, b'm' * 100, fin=False)
        ws.send_frame(OP_CONT, b'm' * 100, fin=False)
        ws.send_frame(OP_CONT, b'm', fin=True)
        assert_failed_with(ws, 1009, '1001 bytes, WebSocketMaxMessageSize '
                                     '1000 inherited from /merge')


def test_ws_250_04_overrides(httpd):
    """/merge/test overrides the handler and the Origin policy, and keeps
    the inherited message limit."""
    e = refused(httpd, '/merge/test', origin='http://evil.example')
    assert e.status == 403, f'Origin Same set on /merge/test: {e.status}'
    with connect(httpd, '/merge/test', protocols=['chat']) as ws:
        ws.send_frame(OP_TEXT, b'protocol')
        got = ws.recv_message()
        assert got == (OP_TEXT, b'chat'), f'the test handler answers: {got!r}'
        ws.send_frame(OP_BINARY, b'x' * 1001)
        assert_failed_with(ws, 1009, '1001 bytes on /merge/test, limit '
                                     'inherited from /merge')
