"""310: the abuse suite (issue 9). Each case runs an attacker next to a
victim: a WebSocket of the same child (same I/O thread under the event
MPM) that keeps doing echo round trips while the attack runs, each of
which must come back within RTT_BOUND, and the children's memory (VmRSS,
VmHWM, VmSize from /proc) must stay within a bound far below what the
attack would cost if the server held on to it.

Runs under the event and worker MPMs (prefork is skipped), over HTTP/1.1
and TLS, and over HTTP/2 where the case is about it. Locations are in
conf/310_abuse.conf; the chat cases start a chat server of their own (the
chat's rooms are per child, so it runs one child). Every wait waits for
its condition, with a generous deadline; bounds on time are liveness
bounds, not speed measurements.
"""

import functools
import json
import os
import random
import select
import socket
import ssl
import string
import struct
import threading
import time
import zlib

import h2.events
import pytest

from httpd import Httpd
from procs import children_of, status_kib
from wsraw import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, RSV1,
                   HandshakeError, PerMessageDeflate, build_frame)
from wsit import (Via, assert_echoes, assert_failed_with,
                  assert_no_child_crashes, get, logged, server_status,
                  wait_for)

MiB = 1024 * 1024
KiB = 1024

# One victim round trip must take less than this while an attack runs.
RTT_BOUND = 3.0
TCP_TLS = ['tcp', 'tls']
PMD = 'permessage-deflate; client_no_context_takeover'


@pytest.fixture(autouse=True)
def _event_and_worker(mpm):
    if mpm == 'prefork':
        pytest.skip('the abuse suite runs under event and worker')


# ---- the server's children ------------------------------------------------

def children(h):
    """PIDs of the live children of h's main process."""
    return children_of(h.pid)


FIELDS = {'rss': 'VmRSS', 'hwm': 'VmHWM', 'size': 'VmSize'}


def memory(h):
    """{pid: {'rss', 'hwm', 'size'} in KiB} of h's children."""
    out = {}
    for pid in children(h):
        vals = {key: status_kib(pid, name) for key, name in FIELDS.items()}
        if None not in vals.values():
            out[pid] = vals
    return out


def growth_kib(before, after, key):
    """How much `key` grew over the children, in KiB: for a child that
    was there before, its own growth; for a new one, how far it is above
    the smallest child before (where a fresh child starts)."""
    if not before:
        return 0
    fresh = min(v[key] for v in before.values())
    return sum(max(0, v[key] - (before[pid][key] if pid in before
                                else fresh))
               for pid, v in after.items())


class MemoryWatch:
    """Samples the children's memory every 0.1 s while the block runs.
    peak(key) is the largest growth seen (for 'rss', the VmHWM growth too,
    which catches peaks between samples)."""

    def __init__(self, h):
        self.h = h
        self.before = memory(h)
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(memory(self.h))
            self._stop.wait(0.1)

    def __enter__(self):
        assert self.before, f'no children of {self.h!r}'
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        self.samples.append(memory(self.h))

    def peak(self, key):
        grown = max(growth_kib(self.before, s, key) for s in self.samples)
        if key == 'rss':
            grown = max(grown, growth_kib(self.before, self.samples[-1],
                                          'hwm'))
        return grown

    def assert_below(self, key, limit_kib, what):
        grown = self.peak(key)
        assert grown < limit_kib, \
            (f'{what}: the children\'s {FIELDS[key]} grew by {grown} KiB '
             f'(bound {limit_kib} KiB); before {self.before}, at the end '
             f'{self.samples[-1]}')


def server_socket(h, sock):
    """(pid, inode) of the server's end of the client socket sock: its
    inode from /proc/net/tcp, and the child that has it open. (The lines
    of earlier connections from the same client port, to this server port
    or the server's other one, have inode 0: TIME_WAIT.)"""
    port = sock.getsockname()[1]
    server_port = sock.getpeername()[1]
    inode = None
    with open('/proc/net/tcp') as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(':')[1], 16) == server_port and \
                    int(remote.split(':')[1], 16) == port and \
                    fields[9] != '0':
                inode = fields[9]
    if inode is None:
        return None
    for pid in children(h):
        if holds(pid, inode):
            return pid, inode
    return None


def holds(pid, inode):
    """True if process pid has socket inode open."""
    want = f'socket:[{inode}]'
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f'/proc/{pid}/fd/{fd}') == want:
                return True
        except OSError:
            pass
    return False


def server_child(h, sock):
    """The child process serving the client socket sock, or None."""
    found = server_socket(h, sock)
    return found and found[0]


def hang_up(h, ws, timeout=20):
    """Reset the attacker's connection (RST: what it sent and the server
    has not read yet is gone) and wait until the server has closed its
    end, so that it is done with the attack before the next test. True if
    it did within timeout."""
    try:
        found = server_socket(h, ws.sock)
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                           struct.pack('ii', 1, 0))
    except OSError:
        found = None
    ws.close_socket()
    return not found or wait_for(lambda: not holds(*found), timeout)


# ---- the victim -------------------------------------------------------------

class Victim:
    """A WebSocket that does echo round trips, each within RTT_BOUND."""

    def __init__(self, ws, what):
        self.ws = ws
        self.what = what
        self.rtts = []

    def round_trip(self, during=''):
        n = len(self.rtts)
        payload = b'victim round trip %d ' % n + bytes(64)
        t0 = time.monotonic()
        self.ws.send_frame(OP_BINARY, payload)
        try:
            got = self.ws.recv_message(timeout=RTT_BOUND)
        except socket.timeout:
            raise AssertionError(
                f'{self.what}: round trip {n} got no echo within '
                f'{RTT_BOUND}s {during} (earlier ones: '
                f'{self._summary()})') from None
        took = time.monotonic() - t0
        assert got == (OP_BINARY, payload), \
            f'{self.what}: round trip {n} {during}: got {got!r:.100}'
        assert took < RTT_BOUND, \
            f'{self.what}: round trip {n} took {took:.2f}s {during}'
        self.rtts.append(took)

    def _summary(self):
        if not self.rtts:
            return 'none'
        return (f'{len(self.rtts)}, slowest {max(self.rtts):.3f}s, '
                f'median {sorted(self.rtts)[len(self.rtts) // 2]:.3f}s')

    def close(self):
        self.ws.close_socket()


def open_victim(via, near=None, path='/test'):
    """A Victim on via; with near (a client socket), one served by the
    same child as near (under the event MPM: the same I/O thread, as
    WebSocketIOThreads is 1), trying up to 20 connections."""
    if near is None:
        return Victim(via.connect(path, timeout=10), f'victim over {via}')
    target = server_child(via.httpd, near)
    assert target, f'no child holds the attacker\'s connection {near!r}'
    tried = []
    try:
        for _ in range(20):
            ws = via.connect(path, timeout=10)
            if server_child(via.httpd, ws.sock) == target:
                return Victim(ws, f'victim over {via} (child {target})')
            tried.append(ws)
    finally:
        for ws in tried:
            ws.close_socket()
    pytest.fail(f'no victim connection landed in child {target} of '
                f'{children(via.httpd)}')


def under_attack(victims, attack, seconds=3.0, min_rounds=5, enough=None,
                 timeout=60):
    """Run attack(stop) in a thread while the victim (or each of a list,
    in turn) does round trips, each within RTT_BOUND. They go on until the
    attack has finished by itself or (unless seconds is None) has run
    `seconds` and enough() (its progress, if given) is true; and for at
    least min_rounds. Then stop is set; an exception of the attack is
    raised here, and the attack must have ended within `timeout`.
    Returns the attack's return value."""
    if isinstance(victims, Victim):
        victims = [victims]
    stop = threading.Event()
    result = {}

    def run():
        try:
            result['value'] = attack(stop)
        except BaseException as e:          # noqa: B902 -- re-raised below
            result['error'] = e
    t = threading.Thread(target=run, daemon=True)
    t0 = time.monotonic()
    t.start()
    try:
        while True:
            for victim in victims:
                victim.round_trip(f'while the attack runs '
                                  f'({time.monotonic() - t0:.1f}s in)')
            elapsed = time.monotonic() - t0
            done = not t.is_alive() or (seconds is not None
                                        and elapsed >= seconds
                                        and (enough is None or enough()))
            if done and len(victims[0].rtts) >= min_rounds:
                break
            assert elapsed < timeout, \
                f'the attack made too little progress in {timeout}s'
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive(), 'the attacker did not stop'
    if 'error' in result:
        raise result['error']
    return result.get('value')


def drain(sock):
    """Read and drop whatever the socket has right now."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        while True:
            if not sock.recv(256 * KiB):
                return False
    except (BlockingIOError, ssl.SSLWantReadError, socket.timeout):
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def readable(sock):
    return (isinstance(sock, ssl.SSLSocket) and sock.pending()) or \
        bool(select.select([sock], [], [], 0)[0])


def frame_header(opcode, length, fin=True, rsv=0, key=b'\x01\x02\x03\x04'):
    """The masked header of a frame of `length` payload bytes."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if length > 0xFFFF:
        return struct.pack('!BBQ', b0, 0x80 | 127, length) + key
    if length >= 126:
        return struct.pack('!BBH', b0, 0x80 | 126, length) + key
    return struct.pack('!BB', b0, 0x80 | length) + key


# ---- 1: permessage-deflate bombs --------------------------------------------

@functools.lru_cache(maxsize=4)
def zeros_deflated(mib):
    """`mib` MiB of zeros as a raw deflate message (RFC 7692 §7.2.1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MiB)
    out = b''.join(c.compress(chunk) for _ in range(mib))
    out += c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b'\x00\x00\xff\xff')
    return out[:-4]


def connect_pmd(via, path):
    ws = via.connect(path, extensions=PMD, timeout=10)
    pmd = PerMessageDeflate.from_response(ws.response_headers)
    assert pmd is not None, f'{path}: permessage-deflate not accepted'
    return ws


@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_01_deflate_bomb_huge(via):
    """One message of 128 MiB of zeros (about 128 KB on the wire) to a
    location that takes 32 MiB: 1009, without inflating it all, while the
    victim's round trips go on."""
    bomb = zeros_deflated(128)
    ws = connect_pmd(via, '/t310/pmd-echo')
    victim = open_victim(via, near=ws.sock)
    try:
        with MemoryWatch(via.httpd) as mem:
            def attack(stop):
                ws.send_frame(OP_BINARY, bomb, rsv=RSV1)
                assert_failed_with(ws, 1009, 'a 128 MiB deflate bomb at a '
                                   '32 MiB limit', timeout=20)
            under_attack(victim, attack, seconds=None)
        mem.assert_below('rss', 96 * KiB, '128 MiB bomb at a 32 MiB limit')
        victim.round_trip('after the bomb')
    finally:
        hang_up(via.httpd, ws)
        victim.close()
    assert_echoes(via, '/t310/pmd-echo', 'after the bomb')


def medium_bombs(ws, count):
    """attack(stop): 16 MiB of zeros (16 KB compressed) in one binary
    frame after the other until stopped, reading what comes back between
    them. count[0] counts the frames written whole."""
    frame = build_frame(OP_BINARY, zeros_deflated(16), rsv=RSV1,
                        mask=b'\x11\x22\x33\x44')

    def attack(stop):
        ws.sock.settimeout(20)
        while not stop.is_set():
            try:
                ws.sock.sendall(frame)
            except socket.timeout:
                return 'the server stopped reading the attacker'
            count[0] += 1
            assert drain(ws.sock), \
                f'the server closed the attacker after {count[0]} bombs'
        return 'stopped'
    return attack


@pytest.mark.parametrize('path', ['/t310/pmd-echo', '/t310/pmd-increment'],
                         ids=['echo', 'increment'])
@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_02_deflate_bombs_medium(via, path):
    """Binary messages of 16 KB on the wire that inflate to 16 MiB each
    (under the 32 MiB limit, so each is legal), sent without pause: to
    the echo, which answers each, and to increment, which never does.
    Whatever one connection sends, every round of it must end within a
    budget: the victim on the same I/O thread keeps its round trips."""
    ws = connect_pmd(via, path)
    victim = open_victim(via, near=ws.sock)
    count = [0]
    try:
        with MemoryWatch(via.httpd) as mem:
            how = under_attack(victim, medium_bombs(ws, count), seconds=3,
                               enough=lambda: count[0] >= 10)
        assert count[0] >= 10, f'only {count[0]} bombs went out ({how})'
        mem.assert_below('rss', 256 * KiB, f'{count[0]} bombs of 16 MiB')
    finally:
        hang_up(via.httpd, ws)
        victim.close()


@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_03_compressed_ping(via):
    """RSV1 on a control frame (RFC 7692 §6.1): 1002; the victim is fine."""
    ws = connect_pmd(via, '/t310/pmd-echo')
    victim = open_victim(via, near=ws.sock)
    try:
        victim.round_trip('before')
        ws.send_frame(OP_PING, zlib.compress(b'ping')[2:-4], rsv=RSV1)
        assert_failed_with(ws, 1002, 'a compressed ping')
        victim.round_trip('after the compressed ping')
    finally:
        hang_up(via.httpd, ws)
        victim.close()


# ---- 2: floods of tiny fragments --------------------------------------------

@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_04_fragment_flood_to_limit(via):
    """A message of 1-byte continuation frames, never finished, to a
    location that takes 1 MiB: the fragments cost no memory of their own,
    the connection fails with 1009 at the limit, and the victim keeps its
    round trips meanwhile."""
    key = b'\x05\x06\x07\x08'
    batch = build_frame(OP_CONT, b'f', fin=False, mask=key) * 8192
    ws = via.connect('/t310/frag', timeout=10)
    victim = open_victim(via, near=ws.sock)
    sent = [0]
    try:
        with MemoryWatch(via.httpd) as mem:
            def attack(stop):
                ws.send_frame(OP_BINARY, b'f', fin=False, mask=key)
                ws.sock.settimeout(20)
                while not stop.is_set() and not readable(ws.sock):
                    try:
                        ws.sock.sendall(batch)
                    except OSError:
                        break
                    sent[0] += 8192
                    assert sent[0] < 4 * MiB, \
                        f'{sent[0]} fragments of 1 byte and no 1009'
                assert_failed_with(ws, 1009, f'{sent[0]} 1-byte fragments',
                                   timeout=20)
            under_attack(victim, attack, seconds=None)
        mem.assert_below('rss', 32 * KiB, f'{sent[0]} 1-byte fragments')
    finally:
        hang_up(via.httpd, ws)
        victim.close()


@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_05_empty_fragment_flood(via):
    """Empty continuation frames, endlessly (they never reach any limit):
    the victim keeps its round trips and memory stays flat; then the
    message ends and comes back whole."""
    key = b'\x09\x0a\x0b\x0c'
    batch = build_frame(OP_CONT, b'', fin=False, mask=key) * 10000
    ws = via.connect('/echo', timeout=10)
    victim = open_victim(via, near=ws.sock)
    sent = [0]
    try:
        with MemoryWatch(via.httpd) as mem:
            def attack(stop):
                ws.send_frame(OP_BINARY, b'start ', fin=False, mask=key)
                ws.sock.settimeout(20)
                while not stop.is_set():
                    ws.sock.sendall(batch)
                    sent[0] += 10000
            under_attack(victim, attack, seconds=3,
                         enough=lambda: sent[0] >= 200000)
        mem.assert_below('rss', 16 * KiB, f'{sent[0]} empty fragments')
        ws.send_frame(OP_CONT, b'end', fin=True)
        got = ws.recv_message(timeout=30)
        assert got == (OP_BINARY, b'start end'), \
            f'after {sent[0]} empty fragments: {got!r:.100}'
        assert ws.close() == (1000, b'')
    finally:
        hang_up(via.httpd, ws)
        victim.close()


# ---- 3: ping floods ---------------------------------------------------------

@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_06_ping_flood_unread_pongs(via):
    """Pings without end from a client that never reads its pongs: once
    WebSocketMaxPendingOutput (64K) of pongs wait, the server stops
    reading that client (its writes stall), the victim keeps its round
    trips and memory stays bounded."""
    ws = via.connect('/t310/pending-64k', timeout=10)
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    victim = open_victim(via, near=ws.sock)
    batch = build_frame(OP_PING, b'p' * 125, mask=b'\x0d\x0e\x0f\x10') * 100
    sent = [0]
    try:
        with MemoryWatch(via.httpd) as mem:
            def attack(stop):
                # The condition: a write that makes no progress for 2 s.
                ws.sock.settimeout(2)
                while not stop.is_set():
                    try:
                        ws.sock.sendall(batch)
                    except socket.timeout:
                        return True
                    sent[0] += len(batch)
                    assert sent[0] < 64 * MiB, \
                        f'the server read {sent[0]} bytes of pings whose ' \
                        f'pongs nobody reads'
                return False
            stalled = under_attack(victim, attack, seconds=None)
        assert stalled, f'the server kept reading pings ({sent[0]} bytes)'
        mem.assert_below('rss', 32 * KiB, f'{sent[0]} bytes of pings')
    finally:
        hang_up(via.httpd, ws)
        victim.close()


# ---- 4: slowloris before the upgrade ----------------------------------------

def test_ws_310_07_slowloris_before_upgrade(httpd):
    """20 handshakes (10 plain, 10 TLS) written a byte at a time, never
    finished: mod_reqtimeout (RequestReadTimeout header=5,
    conf/180_reqtimeout.conf) applies until the 101 and cuts each; victims
    over both keep their round trips meanwhile, and a fresh WebSocket
    works afterwards."""
    victims = [open_victim(Via(httpd, t)) for t in TCP_TLS]
    slow = []

    def handshake(port):
        return (f'GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
                f'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                f'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                f'Sec-WebSocket-Version: 13\r\nX-Slow: ').encode()
    try:
        for i in range(20):
            port = httpd.port if i % 2 == 0 else httpd.tls_port
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            if port == httpd.tls_port:
                s = httpd.ca.ssl_context(['http/1.1']).wrap_socket(
                    s, server_hostname='localhost')
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            slow.append({'sock': s, 'data': handshake(port), 'sent': 0,
                         'since': time.monotonic(), 'cut': None})

        def cut(c):
            c['cut'] = time.monotonic() - c['since']

        def attack(stop):
            # one byte to each connection every 0.2 s, until each is cut
            while not stop.is_set():
                open_ = [c for c in slow if c['cut'] is None]
                if not open_:
                    return
                for c in open_:
                    s = c['sock']
                    try:
                        s.settimeout(0)
                        if readable(s):
                            # 408 (or nothing) and the close
                            cut(c)
                            continue
                        s.settimeout(5)
                        byte = c['data'][c['sent']:c['sent'] + 1] or b'a'
                        s.sendall(byte)
                        c['sent'] += 1
                    except (OSError, ssl.SSLError):
                        cut(c)
                    if time.monotonic() - c['since'] > 30:
                        return
                stop.wait(0.2)
        for v in victims:
            v.what += ' (slowloris)'
        under_attack(victims, attack, seconds=None, timeout=60)
        late = [(i, c['sent'], c['cut']) for i, c in enumerate(slow)
                if c['cut'] is None or c['cut'] > 15]
        assert not late, (f'slow handshakes (index, bytes sent, seconds) '
                          f'not cut within 15 s: {late}')
        for v in victims:
            v.round_trip('after the slowloris')
        assert_echoes(Via(httpd, 'tcp'), what='after the slowloris')
        assert_echoes(Via(httpd, 'tls'), what='after the slowloris')
    finally:
        for c in slow:
            c['sock'].close()
        for v in victims:
            v.close()


# ---- 5: chat floods ---------------------------------------------------------

CHAT_CONF = '''
ServerLimit 1
StartServers 1
ThreadsPerChild 25
MaxRequestWorkers 25
<IfModule mpm_event_module>
    AsyncRequestWorkerFactor 50
</IfModule>
# The chat's own cap on messages (issue 9) must not hide what
# test_310_08 is about: the bound of each member's queue.
<IfDirective WebSocketChatMaxMessage>
    WebSocketChatMaxMessage 32M
</IfDirective>
<Location /chat>
    WebSocketHandler chat
    WebSocketMaxPendingOutput 1M
    WebSocketMaxMessageSize 32M
</Location>
<Location /chat-pmd>
    WebSocketHandler chat
    WebSocketMaxPendingOutput 1M
    WebSocketMaxMessageSize 32M
    WebSocketDeflate On
</Location>
'''


def start_chat(mpm, server_workdir, name, conf):
    h = Httpd(server_workdir(f'{name}-{mpm}'), mpm=mpm, extra_conf=conf,
              name=f'{name}-{mpm}', tls=True)
    h.start()
    return h


def stop_chat(h):
    h.stop()
    assert_no_child_crashes(h)


@pytest.fixture(scope='module')
def chatd(mpm, server_workdir):
    """A chat server of one child (the rooms are per child)."""
    if mpm == 'prefork':
        pytest.skip('the abuse suite runs under event and worker')
    h = start_chat(mpm, server_workdir, 'abuse-chat', CHAT_CONF)
    yield h
    stop_chat(h)


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f'closed with {code} {reason!r}')
        self.code = code


class Member:
    """A chat client on a raw WebSocket (with permessage-deflate if
    asked)."""

    def __init__(self, h, transport, path='/chat', deflate=False):
        via = Via(h, transport)
        self.ws = via.connect(path, timeout=10,
                              **({'extensions': PMD} if deflate else {}))
        self.pmd = (PerMessageDeflate.from_response(self.ws.response_headers)
                    if deflate else None)
        assert not deflate or self.pmd, 'permessage-deflate not accepted'

    def send(self, **msg):
        data = json.dumps(msg).encode()
        if self.pmd:
            self.ws.send_frame(OP_TEXT, self.pmd.compress(data), rsv=RSV1)
        else:
            self.ws.send_frame(OP_TEXT, data)

    def recv(self, timeout=10):
        if self.pmd:
            got = self.pmd.recv_message(self.ws, timeout)
            got = got and (got.opcode, got.payload)
        else:
            got = self.ws.recv_message(timeout)
        if got is None:
            raise Closed(None, b'TCP closed')
        if got[0] == OP_CLOSE:
            raise Closed(*self.ws.parse_close(got[1]))
        assert got[0] == OP_TEXT, f'chat sent {got!r:.100}'
        return json.loads(got[1])

    def expect(self, type_, timeout=10):
        msg = self.recv(timeout)
        assert msg['type'] == type_, f'expected {type_}, got {msg!r:.300}'
        return msg

    def join(self, room):
        self.send(type='join', room=room)
        self.expect('history')
        self.expect('join')

    def collect(self, texts, deadline):
        """Read until every text in texts came as a chat message; returns
        (texts received, close code or None)."""
        got = set()
        try:
            while not texts <= got:
                msg = self.recv(max(0.1, deadline - time.monotonic()))
                if msg['type'] == 'message' and msg['text'] in texts:
                    got.add(msg['text'])
        except Closed as e:
            return got, e.code
        except socket.timeout:
            pass
        return got, None

    def close(self):
        self.ws.close_socket()


class Collector(threading.Thread):
    """member.collect() in a thread of its own; .result once joined."""

    def __init__(self, member, texts, deadline):
        super().__init__(daemon=True)
        self.args_ = (member, texts, deadline)
        self.result = (set(), 'not finished')

    def run(self):
        member, texts, deadline = self.args_
        self.result = member.collect(texts, deadline)

    @classmethod
    def started(cls, member, texts, deadline):
        t = cls(member, texts, deadline)
        t.start()
        return t


def random_text(n, seed):
    rnd = random.Random(seed)
    return ''.join(rnd.choices(string.ascii_letters + string.digits, k=n))


@pytest.mark.parametrize('transport', TCP_TLS)
def test_ws_310_08_chat_flood_big_messages(chatd, transport):
    """16 members that never read and one sender of big messages: a
    message of 8 MiB, larger than any member's WebSocketMaxPendingOutput
    (1M), is refused for each member instead of being copied into 18
    queues; then 6 messages of 200 KB, each sent once the last one
    arrived. The child's memory stays far below 18 copies, a member that
    reads gets every one of the 200 KB messages and is not closed, and a
    victim's round trips on the same child go on."""
    room = f'flood-{transport}'
    victim = open_victim(Via(chatd, transport), path='/echo')
    members = []
    try:
        for _ in range(16):
            m = Member(chatd, transport)
            m.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            m.join(room)
            members.append(m)
        sender, reader = Member(chatd, transport), Member(chatd, transport)
        members += [sender, reader]
        sender.join(room)
        reader.join(room)
        small = [random_text(200 * KiB, i) for i in range(6)]
        with MemoryWatch(chatd) as mem:
            def attack(stop):
                sender.send(type='message', room=room, text='x' * (8 * MiB))
                for i, text in enumerate(small):
                    sender.send(type='message', room=room, text=text)
                    # Both read as they should (the sender is a member).
                    # The sender first: until it has read its own copy of
                    # the 8 MiB, the server does not read it either.
                    for who, m in (('sender', sender), ('reader', reader)):
                        got, code = m.collect({text},
                                              time.monotonic() + 30)
                        ok = got == {text} and code is None
                        assert ok, \
                            (f'the {who} did not get message {i} of 200 KB '
                             f'(closed with {code})')
            under_attack(victim, attack, seconds=None)
        mem.assert_below('rss', 96 * KiB, 'an 8 MiB chat message to 18 '
                         'members (16 not reading)')
        victim.round_trip('after the chat flood')
    finally:
        for m in members:
            hang_up(chatd, m.ws)
        victim.close()


@pytest.mark.parametrize('senders', [2, 3])
@pytest.mark.parametrize('deflate', [False, True], ids=['plain', 'deflate'])
@pytest.mark.parametrize('transport', TCP_TLS)
def test_ws_310_09_chat_burst_readers_stay(chatd, transport, deflate,
                                           senders):
    """Two (three) senders each send a chat message of 600 KB at the same
    moment to a room whose members all read, with WebSocketMaxPendingOutput
    1M: a burst of 1.2 (1.8) MB, bigger than the bound though each message
    is smaller, is no slow consumer. Every member gets every message, none
    is closed (1008), and no WS00016 (slow consumer) is logged."""
    room = f'burst-{transport}-{deflate}-{senders}'
    path = '/chat-pmd' if deflate else '/chat'
    members = [Member(chatd, transport, path, deflate)
               for _ in range(senders + 3)]
    try:
        for m in members:
            m.join(room)
        for i, m in enumerate(members):
            for _ in members[i + 1:]:
                m.expect('join')
        texts = [random_text(600 * KiB, 100 + i) for i in range(senders)]
        mark = chatd.mark()
        deadline = time.monotonic() + 30
        readers = [Collector.started(m, set(texts), deadline)
                   for m in members[senders:]]
        for m, text in zip(members, texts):
            m.send(type='message', room=room, text=text)
        # the senders read once they have written (one thread per socket,
        # for TLS)
        readers += [Collector.started(m, set(texts), deadline)
                    for m in members[:senders]]
        for t in readers:
            t.join(35)
        names = [f'reader {i}' for i in range(3)] + \
            [f'sender {i}' for i in range(senders)]
        bad = [(name, len(got), code)
               for name, (got, code) in zip(names, (t.result for t in readers))
               if code is not None or got != set(texts)]
        assert not bad, (f'members (who, messages of {senders}, close code) '
                         f'that did not get every one: {bad}')
        slow = [line for line in chatd.error_log_lines_since(mark)
                if 'WS00016' in line]
        assert not slow, 'reading members were closed as slow consumers:\n' \
            + '\n'.join(slow)
    finally:
        for m in members:
            m.close()


def test_ws_310_10_chat_max_message(mpm, server_workdir):
    """WebSocketChatMaxMessage 64K: the chat answers a bigger client
    message with an error (to its sender only) and goes on; smaller ones
    are broadcast."""
    h = start_chat(mpm, server_workdir, 'abuse-chat-max',
                   CHAT_CONF + 'WebSocketChatMaxMessage 64K\n')
    try:
        a, b = Member(h, 'tcp'), Member(h, 'tcp')
        a.join('capped')
        b.join('capped')
        a.expect('join')
        b.send(type='message', room='capped', text='y' * (100 * KiB))
        err = b.expect('error')
        assert err.get('text'), err
        b.send(type='message', room='capped', text='short')
        for m in (a, b):
            msg = m.expect('message')
            assert msg['text'] == 'short', \
                f'the refused message was broadcast: {len(msg["text"])}'
        a.close()
        b.close()
    finally:
        stop_chat(h)


# ---- 6: SetHandler websocket without WebSocketHandler -----------------------

@pytest.mark.parametrize('where', ['location', 'htaccess'])
def test_ws_310_11_sethandler_without_handler(via, where, expect_log):
    """`SetHandler websocket` without a WebSocketHandler (in a <Location>,
    or in an .htaccess under AllowOverride FileInfo) is a configuration
    mistake, never a crash: the upgrade gets 500, so does a plain GET,
    an error-log line names WebSocketHandler (the directive missing; if
    it is at level error, that is declared here), no child dies, and a
    victim WebSocket of the same server keeps echoing."""
    h = via.httpd
    expect_log('WebSocketHandler')
    if where == 'htaccess':
        d = os.path.join(h.docroot, 't310-htaccess')
        os.makedirs(d, exist_ok=True)
        for name, text in (('.htaccess', 'SetHandler websocket\n'),
                           ('page', 'a page\n')):
            with open(os.path.join(d, name), 'w') as f:
                f.write(text)
            os.chmod(os.path.join(d, name), 0o644)
        os.chmod(d, 0o755)
        path = '/t310-htaccess/page'
    else:
        path = '/t310/no-handler'
    victim = open_victim(via)
    mark = h.mark()
    try:
        victim.round_trip('before')
        try:
            ws = via.connect(path, timeout=10)
            ws.close_socket()
            status = ws.status
        except HandshakeError as e:
            status = e.status
        except (ConnectionError, OSError) as e:
            status = repr(e)
        assert status == 500, f'upgrade at {path}: {status}'
        r = get(h, path)
        assert r.status == 500, f'plain GET {path}: {r.status}'
        assert wait_for(lambda: any(
            'WebSocketHandler' in line
            for line in h.error_log_lines_since(mark)), timeout=5), \
            'no error-log line names WebSocketHandler:\n' + \
            '\n'.join(h.error_log_lines_since(mark)[-10:])
        victim.round_trip(f'after the requests to {path}')
        assert_no_child_crashes(h, mark)
    finally:
        victim.close()


# ---- 7: the last message of a burst -----------------------------------------

@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_12_burst_over_pending_mark(via):
    """100 binary frames of 5,000 bytes in one write to an echo with
    WebSocketMaxPendingOutput 8000, ten times on each of ten connections
    (the stall shows most on a connection's first bursts): every echo
    arrives without the client sending anything else (bytes the server
    read ahead, in the core or in a TLS record, must not wait for the
    client's next byte)."""
    for conn in range(10):
        with via.connect('/t310/burst-8000', timeout=10) as ws:
            for burst in range(10):
                frames = [(bytes([conn, burst, i]) * 1667)[:5000]
                          for i in range(100)]
                ws.send_raw(b''.join(build_frame(OP_BINARY, f)
                                     for f in frames))
                deadline = time.monotonic() + 10
                for i, f in enumerate(frames):
                    try:
                        got = ws.recv_message(
                            timeout=max(0.0, deadline - time.monotonic()))
                    except socket.timeout:
                        raise AssertionError(
                            f'connection {conn}, burst {burst}: {i} of 100 '
                            f'echoes within 10 s') from None
                    assert got == (OP_BINARY, f), \
                        f'connection {conn}, burst {burst}, echo {i}: ' \
                        f'{got!r:.80}'
            assert ws.close() == (1000, b'')


# ---- 8: HTTP/2, a client that stops reading ---------------------------------

def h2_wait_end_unread(ws, timeout):
    """Read the HTTP/2 connection without acknowledging any DATA (the
    stream's and the connection's windows stay shut) until the server ends
    the stream (END_STREAM, RST_STREAM, GOAWAY or TCP close); the seconds
    it took, or None."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ws.sock.settimeout(left)
        try:
            data = ws.sock.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0
        for ev in ws.conn.receive_data(data):
            if isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)) \
                    and ev.stream_id == ws.stream_id:
                return time.monotonic() - t0
            if isinstance(ev, h2.events.ConnectionTerminated):
                return time.monotonic() - t0
        out = ws.conn.data_to_send()
        if out:
            ws.sock.sendall(out)


@pytest.mark.parametrize('via', ['h2c', 'h2'], indirect=True)
def test_ws_310_13_h2_unread_stream_timers(via):
    """Over HTTP/2 a client that stops reading shuts its stream's window;
    400 KB of pushes then wait in the stream's output. The location's
    WebSocketIdleTimeout 1 and WebSocketCloseTimeout 1 must still end the
    WebSocket (the handler's close) within seconds, though the server's
    Timeout is 30 s (an output that blocks until Timeout stops every
    timer), while a victim is served. What mod_http2 holds for the stream
    waits for the client's window, as any HTTP/2 response does (test_320
    reads it and sees the stream end)."""
    h = via.httpd
    victim = open_victim(Via(h, 'tcp'))
    mark = h.mark()
    ws = via.connect('/t310/stall', timeout=10)
    try:
        ws.send_frame(OP_TEXT, b'push 400 1000')
        t0 = time.monotonic()
        assert h2_wait_end_unread(ws, 0.5) is None
        assert wait_for(lambda: any('test handler: close' in line for line
                                    in h.error_log_lines_since(mark)),
                        timeout=10), \
            'the WebSocket did not end within 10s (timeouts 1s; Timeout 30s)'
        assert time.monotonic() - t0 < 10
        victim.round_trip('after the stalled stream')
    finally:
        ws.close_socket()
        victim.close()


# ---- 9: a failed open gets no close -----------------------------------------

@pytest.mark.expect_log('WS00008')
def test_ws_310_14_failed_open_no_close(via):
    """The handler's open fails: the handshake is answered 500 (open runs
    before the 101), and the handler's close (or message) callback is never
    called for it (the failopen handler of mod_websocket_test.c logs if it
    is); the server goes on serving."""
    h = via.httpd
    mark = h.mark()
    with pytest.raises(HandshakeError) as e:
        via.connect('/t310/failopen', timeout=10)
    assert e.value.status == 500, f'a failed open answered {e.value.status}'
    assert wait_for(lambda: logged(h, mark, 'WS00008'), timeout=10), \
        'the failed open (WS00008) was not logged'
    broken = [line for line in h.error_log_lines_since(mark)
              if 'failopen handler: called after a failed open' in line]
    assert not broken, '\n'.join(broken)
    assert_echoes(via, what='after a failed open')


# ---- 10: frame headers alone ------------------------------------------------

def status(h):
    return server_status(h)


@pytest.mark.parametrize('via', TCP_TLS, indirect=True)
def test_ws_310_15_frame_headers_reserve_nothing(via):
    """16 connections each send only the header of a 64 MiB binary frame
    (the location takes 64 MiB) and nothing more: memory is reserved as
    payload arrives, not as announced, so the children's VmSize grows by
    far less than 16 x 64 MiB."""
    h = via.httpd
    victim = open_victim(via)
    attackers = [via.connect('/t310/big-frames', timeout=10)
                 for _ in range(16)]
    try:
        victim.round_trip('before')
        header = frame_header(OP_BINARY, 64 * MiB)
        with MemoryWatch(h) as mem:
            before = status(h)['WebSocketBytesIn']
            for ws in attackers:
                ws.send_raw(header)
            # the server has read every header once its counters say so
            assert wait_for(lambda: status(h)['WebSocketBytesIn'] - before
                            >= len(header) * len(attackers), timeout=10), \
                'the server did not read the frame headers'
            for _ in range(3):
                victim.round_trip('with the headers in')
        mem.assert_below('size', 200 * KiB,
                         '16 headers of 64 MiB frames, no payload')
    finally:
        for ws in attackers:
            hang_up(h, ws)
        victim.close()


# ---- 11: empty messages and the output bound --------------------------------

@pytest.mark.parametrize('via', ['tcp', 'tls', 'h2c'], indirect=True)
def test_ws_310_16_empty_pushes_bounded(via):
    """3,000,000 empty messages pushed to a client that never reads
    (WebSocketMaxPendingOutput 64K, drop): empty messages count against
    the bound too, so pushes are refused and memory stays bounded."""
    h = via.httpd
    count = 3000000
    ws = via.connect('/t310/empty', timeout=10)
    if not via.http2:
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    control = None
    try:
        ws.send_frame(OP_TEXT, b'id')
        op, wid = ws.recv_message(timeout=10)
        control = open_victim(Via(h, 'tcp'), near=ws.sock)
        stats = {}

        def pushed():
            control.ws.send_frame(OP_TEXT, b'stats ' + wid)
            op, data = control.ws.recv_message(timeout=10)
            words = data.split()
            assert words[0] == b'sent', data
            stats.update(sent=int(words[1]), refused=int(words[3]))
            return stats['sent'] + stats['refused'] == count
        with MemoryWatch(h) as mem:
            ws.send_frame(OP_TEXT, b'empty %d' % count)
            assert wait_for(pushed, timeout=60, interval=0.2), \
                f'the pushes did not end in 60 s: {stats}'
        mem.assert_below('rss', 32 * KiB,
                         f'{count} empty pushes, {stats} to a client that '
                         f'does not read')
        assert stats['refused'] > 0, \
            f'{stats["sent"]} empty messages accepted, none refused'
        control.round_trip('after the empty pushes')
    finally:
        hang_up(via.httpd, ws)
        if control:
            control.close()
