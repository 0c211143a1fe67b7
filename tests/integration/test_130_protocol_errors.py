"""130: a client's protocol violations fail its WebSocket with the RFC
close code (1002 protocol error, 1007 bad data, 1009 too big), then the
server closes TCP without waiting (RFC 6455 §7.1.7). The violations are
the client's fault: logged at INFO, so the error log stays clean (checked
after every test). After each, a fresh connection still echoes. Each runs
over every transport (via: HTTP/1.1, TLS, h2c, h2).
"""

import struct

import pytest

from wsraw import (OP_TEXT, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_CLOSE,
                   build_frame)
from wsit import connect, assert_failed_with, fail_case


def test_ws_130_01_unmasked(via):
    """§5.1: a client frame without mask."""
    fail_case(via, lambda ws: ws.send_frame(OP_TEXT, b'hello', mask=False),
              1002, 'unmasked text frame')


def test_ws_130_02_unmasked_control(via):
    fail_case(via, lambda ws: ws.send_frame(OP_PING, b'x', mask=False),
              1002, 'unmasked ping')


@pytest.mark.parametrize('rsv', [1, 2, 3, 4, 7])
def test_ws_130_03_rsv_bits(via, rsv):
    """§5.2: RSV bits without a negotiated extension (RSV1 = 4 too: no
    permessage-deflate was offered)."""
    fail_case(via, lambda ws: ws.send_frame(OP_TEXT, b'hello', rsv=rsv),
              1002, f'RSV {rsv:03b}')


@pytest.mark.parametrize('opcode', [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_ws_130_04_reserved_opcode(via, opcode):
    fail_case(via, lambda ws: ws.send_frame(opcode, b'data'),
              1002, f'reserved opcode {opcode:#x}')


@pytest.mark.parametrize('opcode', [OP_PING, OP_PONG, OP_CLOSE],
                         ids=['ping', 'pong', 'close'])
def test_ws_130_05_control_too_long(via, opcode):
    """§5.5: control frame payloads are at most 125 bytes."""
    payload = b'\x03\xe8' + b'r' * 124 if opcode == OP_CLOSE else b'p' * 126
    fail_case(via, lambda ws: ws.send_frame(opcode, payload),
              1002, f'control frame {opcode:#x} of 126 bytes')


@pytest.mark.parametrize('opcode', [OP_PING, OP_PONG, OP_CLOSE],
                         ids=['ping', 'pong', 'close'])
def test_ws_130_06_fragmented_control(via, opcode):
    """§5.5: control frames must not be fragmented."""
    payload = b'\x03\xe8' if opcode == OP_CLOSE else b'ping'
    fail_case(via, lambda ws: ws.send_frame(opcode, payload, fin=False),
              1002, f'control frame {opcode:#x} with FIN clear')


@pytest.mark.parametrize('fin', [True, False], ids=['fin', 'nofin'])
def test_ws_130_07_cont_without_start(via, fin):
    fail_case(via, lambda ws: ws.send_frame(OP_CONT, b'orphan', fin=fin),
              1002, 'continuation without a message')


@pytest.mark.parametrize('second', [OP_TEXT, OP_BINARY],
                         ids=['text', 'binary'])
def test_ws_130_08_data_inside_fragmented(via, second):
    """§5.4: a new data frame while a fragmented message is open."""
    def send(ws):
        ws.send_frame(OP_TEXT, b'first part', fin=False)
        ws.send_frame(second, b'intruder', fin=True)
    fail_case(via, send, 1002, f'opcode {second} inside a message')


def test_ws_130_09_cont_after_complete(via):
    """A continuation after a message's FIN: the echo of the message, then
    1002."""
    def send(ws):
        ws.send_frame(OP_TEXT, b'complete', fin=True)
        got = ws.recv_message()
        assert got == (OP_TEXT, b'complete'), f'echo first: {got!r}'
        ws.send_frame(OP_CONT, b'late', fin=True)
    fail_case(via, send, 1002, 'continuation after FIN')


@pytest.mark.parametrize('size,form', [(0, 16), (5, 16), (125, 16), (5, 64),
                                       (125, 64), (126, 64), (65535, 64)],
                         ids=['0-in16', '5-in16', '125-in16', '5-in64',
                              '125-in64', '126-in64', '65535-in64'])
def test_ws_130_10_nonminimal_length(via, size, form):
    """§5.2: "the minimal number of bytes MUST be used to encode the
    length"."""
    fail_case(via, lambda ws: ws.send_frame(OP_BINARY, b'x' * size,
                                              nonminimal_len=form),
              1002, f'{size} bytes in the {form}-bit length form')


def test_ws_130_11_length_msb_set(via):
    """§5.2: the most significant bit of a 64-bit length must be 0. (1009
    is accepted too: such a frame is also over any size limit.) Nothing
    of the payload is sent: the header alone must decide."""
    head = struct.pack('!BBQ', 0x82, 0x80 | 127, 1 << 63) + b'\0\0\0\0'
    fail_case(via, lambda ws: ws.send_raw(head), {1002, 1009},
              '64-bit length with its MSB set')


@pytest.mark.parametrize('payload', [
    b'\xff',
    b'abc\xfe',
    b'\xc0\xaf',                 # overlong '/'
    b'\xe0\x80\xaf',             # overlong, 3 bytes
    b'\xed\xa0\x80',             # UTF-16 surrogate D800
    b'\xf4\x90\x80\x80',         # above U+10FFFF
    b'\xf8\x88\x80\x80\x80',     # 5-byte form
    b'\x80',                     # lone continuation byte
    b'abc\xe2\x82',              # truncated at the end of the message
    b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited',
], ids=['ff', 'fe', 'overlong2', 'overlong3', 'surrogate', 'above-max',
        '5byte', 'lone-cont', 'truncated', 'autobahn-6.3'])
def test_ws_130_12_invalid_utf8(via, payload):
    """§8.1: text must be valid UTF-8, else 1007."""
    fail_case(via, lambda ws: ws.send_frame(OP_TEXT, payload),
              1007, f'invalid UTF-8 {payload!r}')


@pytest.mark.parametrize('parts', [
    [b'abc\xe2', b'\x82'],                     # truncated at the end
    [b'\xce', b'\xff'],                        # bad continuation
    [b'valid \xe2\x82\xac', b' then \xff'],     # bad in the second
    [b'\xed', b'\xa0', b'\x80'],               # surrogate over 3 frames
], ids=['truncated-end', 'bad-cont', 'second-frame', 'surrogate-3'])
def test_ws_130_13_invalid_utf8_fragmented(via, parts):
    """Invalid UTF-8 across fragments is still 1007 (§5.6, §8.1)."""
    def send(ws):
        for i, p in enumerate(parts):
            ws.send_frame(OP_TEXT if i == 0 else OP_CONT, p,
                          fin=(i == len(parts) - 1))
    fail_case(via, send, 1007, f'fragmented invalid UTF-8 {parts!r}')


def test_ws_130_14_utf8_fail_fast_in_frame(via):
    """§8.1 fail fast: the invalid byte is at offset 10 of a 1000-byte
    text frame; only the first 20 payload bytes are sent and the 1007 must
    come without the rest."""
    payload = b'a' * 10 + b'\xff' + b'a' * 989
    frame = build_frame(OP_TEXT, payload)
    head_len = len(frame) - len(payload)          # 2 + 2 + 4
    fail_case(via, lambda ws: ws.send_raw(frame[:head_len + 20]), 1007,
              'invalid byte 10 of 1000, 20 bytes sent')


def test_ws_130_15_utf8_fail_fast_fragments(via):
    """Fail fast across frames: the first fragment is already invalid and
    no FIN ever comes."""
    def send(ws):
        ws.send_frame(OP_TEXT, b'good start ', fin=False)
        ws.send_frame(OP_CONT, b'bad \xc3\x28 here', fin=False)
    fail_case(via, send, 1007, 'invalid fragment, message never ends')


@pytest.mark.parametrize('code', [0, 999, 1004, 1005, 1006, 1015, 1016,
                                  1100, 2000, 2999, 5000, 65535])
def test_ws_130_16_close_invalid_code(via, code):
    """§7.4: codes a peer must not send get 1002."""
    fail_case(via, lambda ws: ws.send_frame(OP_CLOSE,
                                              struct.pack('!H', code)),
              1002, f'close code {code}')


def test_ws_130_17_close_one_byte(via):
    """§5.5.1: a close body, if any, starts with a 2-byte code."""
    fail_case(via, lambda ws: ws.send_frame(OP_CLOSE, b'\x03'),
              1002, 'close with a 1-byte payload')


def test_ws_130_18_close_reason_bad_utf8(via):
    fail_case(via, lambda ws: ws.send_frame(OP_CLOSE,
                                              b'\x03\xe8bad \xff reason'),
              1007, 'close reason not UTF-8')


@pytest.mark.parametrize('code', [1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                  1010, 1011, 1012, 1013, 1014, 3000, 3999,
                                  4000, 4999])
def test_ws_130_19_close_valid_code_echoed(via, code):
    """A valid close is answered with the same code (§5.5.1) and the
    server then closes TCP (§7.1.1)."""
    with connect(via) as ws:
        ws.send_frame(OP_CLOSE, struct.pack('!H', code) + 'fin ✓'.encode())
        got, reason = ws.expect_close()
        assert got == code, f'close {code} answered with {got} {reason!r}'
        assert ws.tcp_closed(), f'close {code}: TCP still open'


def test_ws_130_20_close_empty(via):
    """An empty close is answered with an empty one or 1000."""
    with connect(via) as ws:
        ws.send_frame(OP_CLOSE, b'')
        got, reason = ws.expect_close()
        assert got in (None, 1000), f'empty close answered with {got}'
        assert ws.tcp_closed(), 'empty close: TCP still open'


def test_ws_130_21_nothing_after_close(via):
    """Frames after the client's close are not echoed (§5.5.1)."""
    with connect(via) as ws:
        ws.send_raw(build_frame(OP_CLOSE, b'\x03\xe8')
                    + build_frame(OP_TEXT, b'too late'))
        f = ws.recv_frame()
        assert f is not None and f.opcode == OP_CLOSE, \
            f'first frame after our close: {f!r}'
        assert ws.tcp_closed(), 'TCP still open after the close handshake'


# ---- size limits: /small has WebSocketMaxMessageSize 1000,
#      /smallframe has WebSocketMaxFrameSize 500 (conf/130_limits.conf)

@pytest.mark.parametrize('opcode', [OP_TEXT, OP_BINARY],
                         ids=['text', 'binary'])
def test_ws_130_30_message_limit_inclusive(via, opcode):
    with connect(via, '/small') as ws:
        ws.send_frame(opcode, b'm' * 1000)
        got = ws.recv_message()
        assert got == (opcode, b'm' * 1000), \
            f'1000 bytes at a 1000 byte limit: {got!r:.80}'
        ws.send_frame(opcode, b'm' * 400, fin=False)
        ws.send_frame(OP_CONT, b'm' * 600, fin=True)
        got = ws.recv_message()
        assert got == (opcode, b'm' * 1000), \
            f'1000 bytes in 2 fragments at a 1000 byte limit: {got!r:.80}'


def test_ws_130_31_message_over_limit(via):
    fail_case(via, lambda ws: ws.send_frame(OP_BINARY, b'm' * 1001),
              1009, '1001 bytes at a 1000 byte limit', path='/small')


def test_ws_130_32_message_over_limit_early(via):
    """The frame header says 5000 bytes: no need to wait for them."""
    def send(ws):
        frame = build_frame(OP_BINARY, b'm' * 5000)
        ws.send_raw(frame[:8 + 100])
    fail_case(via, send, 1009, 'header of a 5000 byte frame at a 1000 '
              'byte limit, 100 bytes sent', path='/small')


def test_ws_130_33_fragmented_over_limit(via):
    """1001 bytes in 10 fragments, each far below any limit."""
    def send(ws):
        body = b'f' * 1001
        for i in range(10):
            part = body[i * 100:(i + 1) * 100] if i < 9 else body[900:]
            ws.send_frame(OP_TEXT if i == 0 else OP_CONT, part,
                          fin=(i == 9))
    fail_case(via, send, 1009, '1001 bytes in 10 fragments',
              path='/small')


def test_ws_130_34_fragmented_over_limit_no_fin(via):
    """The limit is checked as fragments come, not when FIN arrives."""
    def send(ws):
        ws.send_frame(OP_BINARY, b'f' * 600, fin=False)
        ws.send_frame(OP_CONT, b'f' * 600, fin=False)
    fail_case(via, send, 1009, '1200 bytes of an unfinished message',
              path='/small')


def test_ws_130_35_frame_limit(via):
    with connect(via, '/smallframe') as ws:
        ws.send_frame(OP_BINARY, b'x' * 500)
        got = ws.recv_message()
        assert got == (OP_BINARY, b'x' * 500), \
            f'500 byte frame at a 500 byte frame limit: {got!r:.80}'
        # the message limit is still the default: big messages in small
        # frames are fine
        body = bytes(range(256)) * 20
        for i in range(0, len(body), 500):
            ws.send_frame(OP_BINARY if i == 0 else OP_CONT, body[i:i + 500],
                          fin=(i + 500 >= len(body)))
        got = ws.recv_message()
        assert got == (OP_BINARY, body), \
            f'{len(body)} bytes in 500 byte frames: {got!r:.80}'
    fail_case(via, lambda ws: ws.send_frame(OP_BINARY, b'x' * 501),
              1009, '501 byte frame at a 500 byte frame limit',
              path='/smallframe')


def test_ws_130_36_frame_limit_early(via):
    """Only the header of a 501-byte frame is sent: 1009 all the same."""
    def send(ws):
        frame = build_frame(OP_TEXT, b'x' * 501)
        ws.send_raw(frame[:8])
    fail_case(via, send, 1009, 'header of a 501 byte frame alone',
              path='/smallframe')


def test_ws_130_37_frame_limit_in_fragment(via):
    def send(ws):
        ws.send_frame(OP_TEXT, b'x' * 100, fin=False)
        ws.send_frame(OP_CONT, b'x' * 501, fin=True)
    fail_case(via, send, 1009, 'continuation frame of 501 bytes',
              path='/smallframe')


def test_ws_130_38_others_unaffected(via):
    """A connection open while another fails goes on echoing."""
    with connect(via) as bystander:
        bystander.send_frame(OP_TEXT, b'before')
        assert bystander.recv_message() == (OP_TEXT, b'before'), \
            'the bystander echoes before'
        with connect(via) as bad:
            bad.send_frame(OP_TEXT, b'x', mask=False)
            assert_failed_with(bad, 1002, 'unmasked')
        bystander.send_frame(OP_TEXT, b'after')
        got = bystander.recv_message()
        assert got == (OP_TEXT, b'after'), \
            f'the other connection after a failure: {got!r}'
        assert bystander.close() == (1000, b''), \
            'close of the bystander'
