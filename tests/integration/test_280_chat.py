"""280: the chat handler (handlers/mod_websocket_chat.c): rooms, JSON
messages, join/leave notices, a bounded history, the user from httpd's
authentication, and a member that stops reading never holds up the others.

The hub is per child process, so this server runs a single child of the
event MPM (the async runner: no thread per member)."""

import json
import socket
import struct
import time

import pytest

from httpd import Httpd
from wsraw import OP_BINARY, OP_CLOSE, OP_TEXT
from wsit import connect, refused, basic, write_htpasswd, wait_for, TIMEOUT

CHAT_CONF = '''
ServerLimit 1
StartServers 1
MaxRequestWorkers 25
AsyncRequestWorkerFactor 50
WebSocketChatHistory 5
WebSocketChatMaxRooms 4
<Location /chat>
    WebSocketHandler chat
</Location>
<Location /chat-auth>
    WebSocketHandler chat
    AuthType Basic
    AuthName "mod_websocket chat"
    AuthBasicProvider file
    AuthUserFile "${workdir}/htpasswd"
    Require valid-user
</Location>
<Location /chat-slow>
    WebSocketHandler chat
    WebSocketMaxPendingOutput 64K
    WebSocketSlowConsumer close
</Location>
<Location /chat-short>
    WebSocketHandler chat
    WebSocketChatHistory 2
    WebSocketChatMaxMessage 1K
</Location>
'''


@pytest.fixture(scope='module')
def chatd(server_workdir):
    h = Httpd(server_workdir('chat'), mpm='event', extra_conf=CHAT_CONF,
              name='chat')
    write_htpasswd(h.workdir)
    h.start()
    yield h
    h.stop()


class Member:
    """One chat client on a raw WebSocket."""

    def __init__(self, h, path='/chat', **kw):
        self.ws = connect(h, path, **kw)

    def send(self, **msg):
        self.ws.send_frame(OP_TEXT, json.dumps(msg).encode())

    def recv(self, timeout=TIMEOUT):
        got = self.ws.recv_message(timeout)
        assert got is not None, 'no chat message came'
        assert got[0] == OP_TEXT, f'chat sent a non-text message: {got!r}'
        return json.loads(got[1])

    def expect(self, type_, timeout=TIMEOUT, **fields):
        msg = self.recv(timeout)
        assert msg['type'] == type_, f'expected {type_!r}, got {msg}'
        for k, v in fields.items():
            assert msg.get(k) == v, f'{type_}: {k} {msg.get(k)!r} != {v!r}'
        return msg

    def join(self, room, **kw):
        self.send(type='join', room=room, **kw)
        hist = self.expect('history', room=room)
        me = self.expect('join', room=room)
        return hist['messages'], me

    def close(self):
        """Close with 1000; notices that were on their way are skipped."""
        self.ws.send_frame(OP_CLOSE, struct.pack('!H', 1000))
        while True:
            f = self.ws.recv_frame()
            assert f is not None, 'TCP closed before the close answer'
            if f.opcode == OP_CLOSE:
                break
            assert f.opcode == OP_TEXT, f
        assert self.ws.parse_close(f.payload) == (1000, b''), 'chat close'


def test_ws_280_01_two_members(chatd):
    a, b = Member(chatd), Member(chatd)
    _, me = a.join('r1', user='ann')
    assert me['user'] == 'ann' and me['members'] == 1
    _, me = b.join('r1', user='ben')
    assert me['members'] == 2
    a.expect('join', user='ben', members=2)

    b.send(type='message', room='r1', text='hello ✓')
    for m in (a, b):
        msg = m.expect('message', room='r1', user='ben', text='hello ✓',
                       authenticated=False)
        assert abs(msg['time'] / 1000 - time.time()) < 60
    b.send(type='leave', room='r1')
    a.expect('leave', room='r1', user='ben', members=1)
    b.send(type='message', room='r1', text='gone')
    b.expect('error', room='r1')
    a.close()
    b.close()


def test_ws_280_02_leave_notice_on_close(chatd):
    a, b = Member(chatd), Member(chatd)
    a.join('r2', user='ann')
    b.join('r2', user='ben')
    a.expect('join', user='ben')
    b.ws.close_socket()        # no close frame: 1006 for the server
    a.expect('leave', room='r2', user='ben', members=1)
    a.close()


def test_ws_280_03_history_is_bounded(chatd):
    a = Member(chatd)
    a.join('r3')
    for i in range(8):
        a.send(type='message', room='r3', text=f'm{i}')
        a.expect('message', text=f'm{i}')
    late = Member(chatd)
    hist, me = late.join('r3')
    assert [m['text'] for m in hist] == ['m3', 'm4', 'm5', 'm6', 'm7'], \
        'WebSocketChatHistory 5 keeps the last five'
    assert me['user'].startswith('guest-'), me
    assert all(m['type'] == 'message' and m['room'] == 'r3' for m in hist)
    a.expect('join', user=me['user'], members=2)
    a.close()
    late.close()


def test_ws_280_04_history_survives_empty_room(chatd):
    a = Member(chatd)
    a.join('r4')
    a.send(type='message', room='r4', text='still here')
    a.expect('message')
    a.close()
    b = Member(chatd)
    hist, _ = b.join('r4')
    assert [m['text'] for m in hist] == ['still here']
    b.close()


def test_ws_280_05_user_from_basic_auth(chatd):
    e = refused(chatd, '/chat-auth')
    assert e.status == 401, f'/chat-auth without credentials: {e.status}'
    a = Member(chatd, '/chat-auth', headers=basic('alice'))
    _, me = a.join('r5', user='mallory')       # ignored: alice logged in
    assert me['user'] == 'alice', me
    a.send(type='message', room='r5', text='hi')
    a.expect('message', user='alice', authenticated=True)
    a.close()


@pytest.mark.parametrize('bad, what', [
    (b'not json', 'not JSON'),
    (b'[1, 2]', 'not an object'),
    (b'{"type": 1, "room": "x"}', 'type not a string'),
    (b'{"type": "join"}', 'no room'),
    (b'{"type": "join", "room": ""}', 'empty room'),
    (b'{"type": "join", "room": "' + b'x' * 65 + b'"}', 'room too long'),
    (b'{"type": "shout", "room": "r6"}', 'unknown type'),
    (b'{"type": "message", "room": "elsewhere", "text": "x"}', 'not joined'),
])
def test_ws_280_06_bad_requests_get_errors(chatd, bad, what):
    a = Member(chatd)
    a.ws.send_frame(OP_TEXT, bad)
    err = a.expect('error')
    assert err['text'], what
    a.join('r6')            # the connection is still good
    a.close()


def test_ws_280_07_binary_is_refused(chatd):
    a = Member(chatd)
    a.ws.send_frame(OP_BINARY, b'{"type": "join", "room": "r7"}')
    code, _ = a.ws.expect_close()
    assert code == 1003, f'binary chat message: close {code}'
    a.ws.close_socket()


def test_ws_280_08_room_limit(chatd):
    """WebSocketChatMaxRooms 4: rooms with members are kept; empty ones
    (with history) are forgotten to make room."""
    members = []
    for i in range(4):
        m = Member(chatd)
        m.join(f'full{i}')
        members.append(m)
    extra = Member(chatd)
    extra.send(type='join', room='full4')
    extra.expect('error', room='full4')
    members[0].close()
    hist, _ = extra.join('full4')       # full0 had no history: gone
    assert hist == []
    for m in members[1:] + [extra]:
        m.close()


def test_ws_280_09_slow_member_does_not_block(chatd):
    """One member stops reading: the others keep chatting, each broadcast
    reaching them at once, and the slow one is closed (WebSocketSlowConsumer
    close: 1008, WS00016) once 64 KiB wait for it beyond what the kernel
    buffers hold."""
    slow, a, b = (Member(chatd, '/chat-slow') for _ in range(3))
    slow.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mark = chatd.mark()
    slow.join('r9')
    a.join('r9')
    b.join('r9')
    a.expect('join')
    text = 'x' * 8000
    # The slow member leaves once its close has timed out (it reads
    # nothing, its close frame included): its notice may come while the
    # others still chat, between two of their messages, or after the last.
    left = {a: None, b: None}

    def expect_message(m):
        while True:
            msg = m.recv()
            if msg['type'] == 'leave' and left[m] is None:
                left[m] = msg
                continue
            assert (msg['type'], msg.get('text')) == ('message', text), \
                f'expected the message, got {msg}'.replace(text, 'x...')
            return
    for i in range(1000):           # 8 MB for the slow member
        a.send(type='message', room='r9', text=text)
        for m in (a, b):
            expect_message(m)
    assert wait_for(lambda: any('WS00016' in line for line in
                                chatd.error_log_lines_since(mark))), \
        'the slow member was not closed as a slow consumer'
    for m in (a, b):
        msg = left[m] or m.expect('leave')
        assert (msg['type'], msg['room'], msg['members']) == \
            ('leave', 'r9', 2), msg
    slow.ws.close_socket()
    a.close()
    b.close()


def test_ws_280_10_three_hundred_members(chatd):
    """300 members in one room, one of them not reading: every broadcast
    reaches the 299 others (each sender's in order; senders interleave)."""
    room = 'r10'
    slow = Member(chatd, '/chat-slow')
    slow.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.join(room)
    members = [Member(chatd) for _ in range(299)]
    for i, m in enumerate(members):
        m.join(room, user=f'm{i}')
    # then the notices of those who came after it, in their order
    for i, m in enumerate(members):
        for j in range(i + 1, len(members)):
            m.expect('join', user=f'm{j}')
    text = 'y' * 2000
    for k in range(10):
        members[k].send(type='message', room=room, text=f'{k} {text}')
    want = sorted((f'm{k}', f'{k} {text}') for k in range(10))
    for i, m in enumerate(members):
        got = [m.expect('message') for _ in range(10)]
        assert sorted((g['user'], g['text']) for g in got) == want, \
            f'member {i}: {[g["user"] for g in got]}'

    for m in members:
        m.ws.close_socket()
    slow.ws.close_socket()


@pytest.mark.parametrize('line, says', [
    ('WebSocketChatMaxRooms 0', 'from 1 to 100000'),
    ('WebSocketChatHistory -1', 'from 0 to 100000'),
    ('WebSocketChatHistory lots', 'from 0 to 100000'),
    ('<Location /x>\nWebSocketChatMaxRooms 5\n</Location>', 'not allowed'),
    ('<Location /x>\nWebSocketChatMaxMessage 10\n</Location>',
     'from 64 to 67108864'),
])
def test_ws_280_11_bad_directives(chatd, line, says):
    rc, out = chatd.configtest(CHAT_CONF + line + '\n')
    assert rc != 0 and says in out, out


def test_ws_280_12_settings_per_location(chatd):
    """WebSocketChatHistory and WebSocketChatMaxMessage in a <Location>:
    /chat-short (2 messages, 1K) beside /chat (5 messages, 64K). A room
    keeps what the location that created it says, and a joiner gets at
    most what its own location says."""
    texts = [f'm{i}' for i in range(8)]
    for path, room in (('/chat', 'r12'), ('/chat-short', 'r12s')):
        a = Member(chatd, path)
        a.join(room)
        for text in texts:
            a.send(type='message', room=room, text=text)
            a.expect('message', text=text)
        a.close()
    for path, room, want in (('/chat', 'r12', texts[-5:]),
                             ('/chat-short', 'r12s', texts[-2:]),
                             ('/chat', 'r12s', texts[-2:]),
                             ('/chat-short', 'r12', texts[-2:])):
        late = Member(chatd, path)
        hist, _ = late.join(room)
        assert [m['text'] for m in hist] == want, \
            f'{path} joining {room}: {[m["text"] for m in hist]}'
        late.close()

    long_text = 'z' * 2000
    for path, refused_ in (('/chat-short', True), ('/chat', False)):
        a = Member(chatd, path)
        a.join('r12m')
        a.send(type='message', room='r12m', text=long_text)
        msg = a.recv()
        if refused_:
            assert msg['type'] == 'error' and '1024' in msg['text'], \
                f'{path}: a 2000-byte message over 1K: {msg}'
        else:
            assert (msg['type'], msg.get('text')) == ('message', long_text), \
                f'{path}: a 2000-byte message under 64K: {msg["type"]}'
        a.close()
