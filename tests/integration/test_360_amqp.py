"""360: channels across children and servers through RabbitMQ
(WebSocketBroker, mod_websocket_amqp.so).

One private RabbitMQ node for the module (tests/lib/rabbitmq.py, with a TLS
listener signed by the test CA) and two servers A and B, each with two
event children, in the issue's layout: /sub/CHANNEL subscribes (pubsub),
/pub/CHANNEL publishes (POST), /talk/CHANNEL lets a Basic-authenticated
client publish. python3-pika is "the application on the bus".

Orders: while the broker is connected, every publish makes the round
trip through it, the publishing child's own members included, so every
member of a channel gets its messages in the one order in which the broker
routed them. A subscriber's 101 comes once its child's binding is in place
(the core's barrier), and a POST is answered once the broker confirmed the
message ("confirmed": true): messages POSTed one after another, over any
connections to any child of any server, reach every subscriber in that
order (test 01b), and a message POSTed right after a subscriber's 101
reaches it (01c). While the broker is down, a publish reaches the
publishing child's members only. Some tests still "sync" (publish probes
until every subscriber has one) before they count messages. Every wait
waits for its condition, with a deadline.
"""

import asyncio
import http.client
import json
import os
import re
import time

import pika
import pytest
import websockets

from httpd import Httpd, _children_of
from rabbitmq import RabbitMQ
from testca import make_ca
from wsit import (assert_no_child_crashes, basic, get, server_status,
                  wait_for, write_htpasswd)
from wsit import post as wsit_post

# Only the event MPM: two children that each hold many idle WebSockets.
pytestmark = pytest.mark.parametrize('mpm', ['event'], indirect=True)

BACKOFF_CAP = 5         # s: AMQP_BUS_BACKOFF_MAX of the module
SLACK = 4               # s: a connect, a login, a loaded 2-core machine

# Two event children that stay two: after a graceful restart the MPM
# starts children for MinSpareThreads (more than one child has), not
# StartServers. Workers to spare: an open that joins a channel holds its
# worker until the broker has bound it, and a POST until the broker has
# confirmed it; fewer idle workers than MinSpareThreads with no child to
# add is an error line (AH10159).
LAYOUT = """
LoadModule websocket_amqp_module "{amqp_so}"
WebSocketBroker {url}
{more}
StartServers 2
ServerLimit 2
ThreadLimit 128
ThreadsPerChild 128
MaxRequestWorkers 256
MinSpareThreads 150
MaxSpareThreads 300
AsyncRequestWorkerFactor 20
MaxKeepAliveRequests 0
KeepAliveTimeout 60
# the burst of test 08 (up to 16 MiB through the broker at its pace) for
# each of five members that one Python process reads
WebSocketMaxPendingOutput 16M
# which child served a tagged request (test 01b)
CustomLog "${{workdir}}/logs/t360_pids" "%P %{{X-T360-Tag}}i"
<LocationMatch "^/sub/(?<channel>[A-Za-z0-9_.-]+)$">
    WebSocketHandler pubsub
    WebSocketChannel %{{env:MATCH_CHANNEL}}
</LocationMatch>
<LocationMatch "^/pub/(?<channel>[A-Za-z0-9_.-]+)$">
    SetHandler websocket-publish
    WebSocketChannel %{{env:MATCH_CHANNEL}}
    Require ip 127.0.0.1
</LocationMatch>
<LocationMatch "^/talk/(?<channel>[A-Za-z0-9_.-]+)$">
    WebSocketHandler pubsub
    WebSocketChannel %{{env:MATCH_CHANNEL}}
    WebSocketChannelPublish On
    AuthType Basic
    AuthName "t360"
    AuthUserFile "${{workdir}}/htpasswd"
    Require valid-user
</LocationMatch>
<Location /t360/status>
    SetHandler server-status
</Location>
<Location /t360/chat>
    WebSocketHandler chat
</Location>
"""


def layout(h, url, more=''):
    return LAYOUT.format(amqp_so=h.module_path('amqp'), url=url, more=more)


def make_server(workdir, name, url, more='', start=True):
    h = Httpd(workdir, mpm='event', name=name)
    h.extra_conf = layout(h, url, more)
    write_htpasswd(h.workdir)
    if start:
        h.start()
    return h


# ---- fixtures ----------------------------------------------------------------

@pytest.fixture(scope='module')
def broker(mpm, server_workdir):
    """The module's RabbitMQ node (AMQP and TLS on loopback)."""
    d = server_workdir('rabbitmq')
    ca = make_ca(os.path.join(os.path.dirname(d), 'testca'))
    mq = RabbitMQ(d, tls_ca=ca)
    took = mq.start()
    print(f'\n{mq!r} accepted AMQP after {took:.1f}s')
    yield mq
    mq.stop()


@pytest.fixture(scope='module')
def servers(broker, server_workdir):
    """Servers A and B, both children of each connected to the broker."""
    made = []
    try:
        for name in ('A', 'B'):
            made.append(make_server(server_workdir(f't360-{name}'),
                                    f't360-{name}', broker.url))
        for h in made:
            wait_status(h, 'WebSocketBrokerConnected', 2)
        yield tuple(made)
    finally:
        for h in made:
            h.stop()
            assert_no_child_crashes(h)


@pytest.fixture(autouse=True)
def _connected(request):
    """A test with A and B starts with both connected to the broker (a
    test before may have stopped it): POSTs wait for the broker's confirm
    while it is connected, and say "confirmed": false while it is not."""
    if 'servers' in request.fixturenames:
        for h in request.getfixturevalue('servers'):
            wait_status(h, 'WebSocketBrokerConnected', 2)


@pytest.fixture
def bus(broker):
    """A pika channel on the broker (the application on the bus)."""
    conn = pika.BlockingConnection(broker.parameters())
    try:
        yield conn.channel()
    finally:
        conn.close()


# ---- helpers -------------------------------------------------------------------

def status(h):
    """The WebSocketBroker* lines of /t360/status?auto, as ints."""
    r = get(h, '/t360/status?auto')
    assert r.status == 200, f'{h!r} status: {r.status}'
    out = {}
    for line in r.body.decode().splitlines():
        key, _, value = line.partition(': ')
        if key.startswith('WebSocketBroker'):
            out[key] = int(value)
    return out


def messages_in(h):
    """The messages h's WebSockets took from their clients (each counted
    once its handler had it)."""
    return server_status(h, '/t360/status?auto')['WebSocketMessagesIn']


def wait_status(h, key, value, timeout=BACKOFF_CAP + SLACK):
    deadline = time.monotonic() + timeout
    while True:
        st = status(h)
        if st.get(key) == value:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f'{h!r}: {key} is not {value} after '
                                 f'{timeout}s: {st}')
        time.sleep(0.1)


def log_count(h, tag, mark=0):
    return sum(1 for line in h.error_log_lines_since(mark) if tag in line)


def wait_log(h, tag, count, mark=0, timeout=10):
    deadline = time.monotonic() + timeout
    while log_count(h, tag, mark) < count:
        if time.monotonic() > deadline:
            raise AssertionError(
                f'{h!r}: fewer than {count} {tag} lines after {timeout}s:\n'
                + '\n'.join(h.error_log_lines_since(mark)[-20:]))
        time.sleep(0.1)
    return log_count(h, tag, mark)


_OPEN_RE = re.compile(r'WS00005: ws\((\d+)\) open: (\S+) ')


def ws_ids(h, path, mark=0):
    """Ids of the WebSockets opened on path (WS00005 lines): a child's pid
    is in the high 32 bits."""
    ids = []
    for line in h.error_log_lines_since(mark):
        m = _OPEN_RE.search(line)
        if m and m.group(2) == path:
            ids.append(int(m.group(1)))
    return ids


class Publisher:
    """POSTs to /pub/CHANNEL over one keep-alive connection, so one child
    publishes them all, in order."""

    def __init__(self, h):
        self.h = h
        self.conn = http.client.HTTPConnection(h.host, h.port, timeout=30)

    def post(self, channel, body, ctype='text/plain; charset=utf-8',
             confirmed=True):
        """POST body; checks "confirmed" unless confirmed is None."""
        if isinstance(body, str):
            body = body.encode()
        for attempt in (1, 2):
            try:
                self.conn.request('POST', f'/pub/{channel}', body=body,
                                  headers={'Content-Type': ctype})
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # the server closed the idle connection: a new one (which
                # may go to the other child)
                self.conn.close()
                if attempt == 2:
                    raise
        assert r.status == 200, f'POST /pub/{channel}: {r.status} {data!r}'
        out = json.loads(data)
        assert out['broker'] is True, out
        if confirmed is not None:
            assert out['confirmed'] is confirmed, out
        return out

    def close(self):
        self.conn.close()


class Sub:
    """A subscriber that collects what it receives."""

    def __init__(self, ws, name):
        self.ws = ws
        self.name = name
        self.got = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for m in self.ws:
                self.got.append(m)
        except websockets.ConnectionClosed:
            pass

    def data(self):
        """What it got, without the sync probes."""
        return [m for m in self.got
                if not (isinstance(m, str) and m.startswith('sync-'))]

    def has_sync(self, token):
        return any(isinstance(m, str) and m == token for m in self.got)

    async def close(self):
        await self.ws.close()
        await self.task


async def subscribe(h, path, n, headers=None):
    """n subscribers of path on h (in batches, so the listen queue keeps
    up)."""
    subs = []
    while len(subs) < n:
        batch = min(25, n - len(subs))
        wss = await asyncio.gather(*[
            websockets.connect(h.ws_url(path), max_size=None,
                               compression=None, ping_interval=None,
                               open_timeout=20, extra_headers=headers)
            for _ in range(batch)])
        subs += [Sub(ws, f'{h.name}{path}#{len(subs) + i}')
                 for i, ws in enumerate(wss)]
    return subs


async def subscribe_both_children(h, path, first=4, most=48):
    """Subscribers of path on h until both of its children hold some;
    returns them and the pids of the children."""
    mark = h.mark()
    subs = await subscribe(h, path, first)
    while True:
        pids = {i >> 32 for i in ws_ids(h, path, mark)}
        if len(pids) == 2 and len(ws_ids(h, path, mark)) == len(subs):
            return subs, pids
        assert len(subs) < most, (f'{h!r}: {len(subs)} subscribers, all '
                                  f'on children {pids}')
        subs += await subscribe(h, path, 2)
        await asyncio.sleep(0.05)


async def until(pred, what, timeout):
    """Wait for pred(); what says what for (or a function that says it,
    with what there is when the time is up)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            if callable(what):
                what = what()
            raise AssertionError(f'{what}: not within {timeout}s')
        await asyncio.sleep(0.05)
    return time.monotonic()


_sync_count = 0


async def sync(pub, channel, subs, timeout=30):
    """Publish probes until every subscriber has one: every child's binding
    for channel is in place. Returns the seconds it took."""
    global _sync_count
    t0 = time.monotonic()
    deadline = t0 + timeout
    tokens = []
    while True:
        _sync_count += 1
        tokens.append(f'sync-{_sync_count}')
        await asyncio.to_thread(pub.post, channel, tokens[-1])
        wait_until = time.monotonic() + 0.3
        while time.monotonic() < wait_until:
            if all(any(s.has_sync(t) for t in tokens) for s in subs):
                return time.monotonic() - t0
            await asyncio.sleep(0.02)
        if time.monotonic() > deadline:
            missing = [s.name for s in subs
                       if not any(s.has_sync(t) for t in tokens)]
            raise AssertionError(f'sync on {channel}: {len(missing)} '
                                 f'subscribers without a probe after '
                                 f'{timeout}s: {missing[:10]}')


def post_alone(h, channel, body, tag):
    """POST body on a connection of its own (Connection: close), tagged
    for the pid log; the broker must have confirmed it."""
    r = wsit_post(h, f'/pub/{channel}', body.encode(),
                  'text/plain; charset=utf-8', headers=[('X-T360-Tag', tag)])
    assert r.status == 200, f'{h!r} POST /pub/{channel}: {r.status} {r.body!r}'
    out = json.loads(r.body)
    assert out['broker'] is True and out['confirmed'] is True, out
    return out


def publishers_on_both_children(h, tag, most=48):
    """Keep-alive connections to h, opened (and all kept open) until two
    of them are served by different children: which child accepts a new
    connection is the kernel's choice, so a POST on each of the two is the
    only way to be sure that both children publish. Returns those two,
    and every connection opened (to close)."""
    conns, by_pid = [], {}
    while len(by_pid) < 2:
        assert len(conns) < most, (f'{h!r}: {len(conns)} connections, all '
                                   f'on children {set(by_pid)}')
        conn = http.client.HTTPConnection(h.host, h.port, timeout=30)
        conns.append(conn)
        probe = f'{tag}-probe-{len(conns)}'
        post_on(conn, h, 't360-probe', 'probe', probe)
        assert wait_for(lambda: pids_of_tag(h, probe)), probe
        by_pid.setdefault(pids_of_tag(h, probe).pop(), conn)
    return list(by_pid.values()), conns


def post_on(conn, h, channel, body, tag):
    """POST body on keep-alive connection conn, tagged for the pid log;
    the broker must have confirmed it."""
    conn.request('POST', f'/pub/{channel}', body=body.encode(),
                 headers={'Content-Type': 'text/plain; charset=utf-8',
                          'X-T360-Tag': tag})
    r = conn.getresponse()
    data = r.read()
    assert r.status == 200, f'{h!r} POST /pub/{channel}: {r.status} {data!r}'
    out = json.loads(data)
    assert out['broker'] is True and out['confirmed'] is True, out
    return out


def pids_of_tag(h, tag):
    """The children of h that served the requests tagged tag."""
    path = os.path.join(h.logs_dir, 't360_pids')
    with open(path) as f:
        return {int(pid) for pid, _, t in
                (line.rstrip('\n').partition(' ') for line in f)
                if t == tag}


def first_difference(got, want):
    """Where got and want part, for an assert message."""
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return (f'message #{i} is {g!r}, not {w!r}: got '
                    f'{got[max(0, i - 2):i + 3]} ({len(got)} in all)')
    return f'{len(got)} messages, not {len(want)}: ends {got[-3:]}'


def run(coro, timeout=180):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def close_all(subs):
    await asyncio.gather(*[s.close() for s in subs],
                         return_exceptions=True)


# ---- across children and servers -------------------------------------------

def test_ws_360_01_post_crosses_children_and_servers(servers):
    """50 numbered messages POSTed to A reach every subscriber on both
    children of A and of B exactly once, in order, each confirmed by the
    broker; all of them through the broker, the POST's own child's
    subscribers included (it consumes its own messages)."""
    A, B = servers
    pub = Publisher(A)
    before = {h.name: status(h) for h in servers}

    async def main():
        subs_a, pids_a = await subscribe_both_children(A, '/sub/t360-01')
        subs_b, pids_b = await subscribe_both_children(B, '/sub/t360-01')
        subs = subs_a + subs_b
        try:
            await sync(pub, 't360-01', subs)
            delivered = []
            for i in range(50):
                out = await asyncio.to_thread(pub.post, 't360-01',
                                              f'message {i}')
                delivered.append(out['delivered'])
            want = [f'message {i}' for i in range(50)]
            await until(lambda: all(len(s.data()) >= 50 for s in subs),
                        'every subscriber has 50 messages', 20)
            # a duplicate would be right behind: one more round trip
            await sync(pub, 't360-01', subs)
            for s in subs:
                assert s.data() == want, \
                    f'{s.name}: got {s.data()[:5]}... ({len(s.data())})'
            # "delivered" counts A's subscribers, on both children (the
            # other child's count comes through shared memory); B's are
            # another server's
            assert delivered == [len(subs_a)] * 50, delivered
            return len(subs_a), len(subs_b), pids_a, pids_b
        finally:
            await close_all(subs)

    try:
        na, nb, pids_a, pids_b = run(main())
    finally:
        pub.close()
    assert pids_a == set(_children_of(A.pid)), (pids_a, A.pid)
    after = {h.name: status(h) for h in servers}
    a0, a1 = before[A.name], after[A.name]
    b0, b1 = before[B.name], after[B.name]
    assert a1['WebSocketBrokerPublished'] - a0['WebSocketBrokerPublished'] \
        >= 50, (a0, a1)
    # each child of B, and of A (the publishing one too), consumed the 50
    # (and the probes)
    assert b1['WebSocketBrokerConsumed'] - b0['WebSocketBrokerConsumed'] \
        >= 100, (b0, b1)
    assert a1['WebSocketBrokerConsumed'] - a0['WebSocketBrokerConsumed'] \
        >= 100, (a0, a1)
    assert b1['WebSocketBrokerPublished'] == b0['WebSocketBrokerPublished']
    for st in (a1, b1):
        assert st['WebSocketBrokerConnected'] == 2, st
        assert st['WebSocketBrokerReconnecting'] == 0, st
        assert st['WebSocketBrokerDropped'] == 0, st


def test_ws_360_01b_order_across_connections(servers):
    """50 numbered messages POSTed in turn through both children of A and
    both children of B (a keep-alive connection served by each): every
    subscriber on both children of A and of B gets all 50 exactly once, in
    the order they were POSTed. Each POST is answered once the broker has
    routed its message everywhere, so the next one, from whichever child,
    comes after it for every member. No sync first: a subscriber's 101
    means that its child's binding is in place."""
    A, B = servers
    tag = f't360-01b-{os.getpid()}-{time.monotonic_ns()}'
    opened = []

    async def main():
        subs_a, _ = await subscribe_both_children(A, '/sub/t360-01b')
        subs_b, _ = await subscribe_both_children(B, '/sub/t360-01b')
        subs = subs_a + subs_b
        try:
            pubs = []
            for h in servers:
                pinned, conns = await asyncio.to_thread(
                    publishers_on_both_children, h, tag)
                opened.extend(conns)
                pubs += [(h, conn) for conn in pinned]
            # A's first child, B's first, A's second, B's second, ...
            pubs = [pubs[0], pubs[2], pubs[1], pubs[3]]
            for i in range(50):
                h, conn = pubs[i % 4]
                await asyncio.to_thread(post_on, conn, h, 't360-01b',
                                        f'message {i}', tag)
            # the end marker, behind everything else: a duplicate or a
            # straggler would show before it
            await asyncio.to_thread(post_on, pubs[0][1], A, 't360-01b',
                                    'end', tag)
            await until(lambda: all('end' in s.data() for s in subs),
                        'every subscriber has the end marker', 20)
            want = [f'message {i}' for i in range(50)] + ['end']
            for s in subs:
                assert s.data() == want, \
                    f'{s.name}: {first_difference(s.data(), want)}'
        finally:
            await close_all(subs)
            for conn in opened:
                conn.close()

    run(main())
    # the POSTs came from every child of both servers
    for h in servers:
        children = set(_children_of(h.pid))
        assert wait_for(lambda: pids_of_tag(h, tag) == children), \
            (f'{h!r}: the POSTs were served by {pids_of_tag(h, tag)}, '
             f'not by all of {children}')
    for h in servers:
        st = status(h)
        assert st['WebSocketBrokerDropped'] == 0, st


def test_ws_360_01c_publish_right_after_subscribing(servers):
    """On a channel that is new each time, a subscriber connects to one
    server (the core waits for its child's binding before the 101) and a
    message is POSTed to the other server as soon as the 101 is there: the
    very first message reaches the subscriber. 20 times one after the
    other, then 20 at once (a busier broker binds later)."""
    A, B = servers
    pubs = {A.name: Publisher(A), B.name: Publisher(B)}
    run_id = time.monotonic_ns()
    tag = f't360-01c-{run_id}'

    async def one(i, post):
        sub_h, pub_h = (B, A) if i % 2 == 0 else (A, B)
        channel = f't360-01c-{run_id}-{i}'
        ws = await websockets.connect(sub_h.ws_url(f'/sub/{channel}'),
                                      compression=None, ping_interval=None,
                                      open_timeout=10)
        try:
            await asyncio.to_thread(post, pub_h, channel, f'first {i}')
            try:
                got = await asyncio.wait_for(ws.recv(), 10)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f'round {i}: the subscriber on {sub_h!r} did not get '
                    f'the message POSTed to {pub_h!r} right after its '
                    f'101') from None
            assert got == f'first {i}', f'round {i}: {got!r}'
        finally:
            await ws.close()

    def post_keep_alive(h, channel, body):
        pubs[h.name].post(channel, body)

    def post_new(h, channel, body):
        post_alone(h, channel, body, tag)

    async def main():
        for i in range(20):
            await one(i, post_keep_alive)
        await asyncio.gather(*[one(i, post_new) for i in range(20, 40)])

    try:
        run(main())
    finally:
        for p in pubs.values():
            p.close()


def test_ws_360_02_one_mib_binary(servers):
    """A 1 MiB binary POST to B reaches the subscribers of both servers
    once, byte for byte."""
    A, B = servers
    payload = os.urandom(1024 * 1024)
    pub = Publisher(B)

    async def main():
        subs = (await subscribe(A, '/sub/t360-02', 4)
                + await subscribe(B, '/sub/t360-02', 4))
        try:
            await sync(pub, 't360-02', subs)
            await asyncio.to_thread(pub.post, 't360-02', payload,
                                    'application/octet-stream')
            await asyncio.to_thread(pub.post, 't360-02', 'after')
            await until(lambda: all('after' in s.data() for s in subs),
                        'every subscriber has the message after it', 20)
            for s in subs:
                got = s.data()
                assert len(got) == 2 and isinstance(got[0], bytes), \
                    f'{s.name}: {[type(m).__name__ for m in got]}'
                assert got[0] == payload, f'{s.name}: {len(got[0])} bytes'
        finally:
            await close_all(subs)

    try:
        run(main())
    finally:
        pub.close()


PIKA_MESSAGES = [
    ('text/plain', b'plain text', 'plain text'),
    ('text/plain; charset=utf-8', 'h\u00e9llo \u20ac'.encode(),
     'h\u00e9llo \u20ac'),
    ('application/json', b'{"a": 1}', '{"a": 1}'),
    ('text/plain', b'\xff\xfe not UTF-8', b'\xff\xfe not UTF-8'),
    ('application/octet-stream', b'\x00\x01\x02', b'\x00\x01\x02'),
    (None, b'no content type', b'no content type'),
    ('text/html', b'', ''),
]


def test_ws_360_03_amqp_publish_reaches_subscribers(servers, bus):
    """What another AMQP client publishes to the exchange with routing key
    CHANNEL reaches the channel's subscribers on both servers: text for
    text/* and JSON that is UTF-8, binary otherwise."""
    A, B = servers
    pub = Publisher(A)

    async def main():
        subs = (await subscribe(A, '/sub/t360-03', 3)
                + await subscribe(B, '/sub/t360-03', 3))
        try:
            await sync(pub, 't360-03', subs)
            for ctype, body, _ in PIKA_MESSAGES:
                bus.basic_publish(
                    'websocket', 't360-03', body,
                    pika.BasicProperties(content_type=ctype))
            bus.basic_publish('websocket', 't360-03', b'last')
            await until(lambda: all(b'last' in s.data() for s in subs),
                        'every subscriber has the last message', 20)
            want = [w for _, _, w in PIKA_MESSAGES] + [b'last']
            for s in subs:
                assert s.data() == want, f'{s.name}: {s.data()}'
        finally:
            await close_all(subs)

    try:
        run(main())
    finally:
        pub.close()


def _consume(bus, queue, n, timeout=20):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        method, props, body = bus.basic_get(queue, auto_ack=True)
        if method is None:
            bus.connection.sleep(0.05)
            continue
        got.append((method, props, body))
    return got


def test_ws_360_04_client_publish_reaches_amqp_with_headers(servers, bus):
    """A Basic-authenticated WebSocket client publishing on A reaches an
    AMQP consumer with its content type and the x-websocket-* headers
    (user, WebSocket id, server, origin); a POST without a user has no
    user or id header. The subscribers on B get it too."""
    A, B = servers
    q = bus.queue_declare('', exclusive=True).method.queue
    bus.queue_bind(q, 'websocket', routing_key='t360-04')
    mark = A.mark()
    pub = Publisher(A)

    async def main():
        subs = await subscribe(B, '/sub/t360-04', 2)
        talker = await websockets.connect(
            A.ws_url('/talk/t360-04'), compression=None,
            ping_interval=None, extra_headers=basic('alice'))
        try:
            await sync(pub, 't360-04', subs)
            await talker.send('hello from alice')
            await talker.send(b'\x00binary\xff')
            await until(lambda: all(len(s.data()) >= 2 for s in subs),
                        'B\'s subscribers have the client\'s messages', 20)
            for s in subs:
                assert s.data() == ['hello from alice', b'\x00binary\xff'], \
                    f'{s.name}: {s.data()}'
        finally:
            await talker.close()
            await close_all(subs)

    try:
        run(main())
        pub.post('t360-04', 'from a POST')
    finally:
        pub.close()
    got = [m for m in _consume(bus, q, 100, timeout=3)
           if not m[2].startswith(b'sync-')]
    assert [b for _, _, b in got] == [b'hello from alice',
                                      b'\x00binary\xff', b'from a POST'], got
    ids = ws_ids(A, '/talk/t360-04', mark)
    assert len(ids) == 1, ids
    pids = set(_children_of(A.pid))
    for (method, props, body), ctype in zip(got, [
            'text/plain; charset=utf-8', 'application/octet-stream',
            'text/plain; charset=utf-8']):
        assert method.routing_key == 't360-04'
        assert props.content_type == ctype, (body, props)
        h = props.headers
        assert h['x-websocket-server'] == '127.0.0.1', h
        origin = h['x-websocket-origin']
        assert origin.startswith('127.0.0.1/'), h
        assert int(origin.split('/')[1]) in pids, (origin, pids)
    h0, h1, h2 = (p.headers for _, p, _ in got)
    assert h0['x-websocket-user'] == 'alice', h0
    assert h0['x-websocket-id'] == ids[0], (h0, ids)
    assert h1['x-websocket-user'] == 'alice', h1
    assert 'x-websocket-user' not in h2 and 'x-websocket-id' not in h2, h2


# ---- configuration -----------------------------------------------------------

SECRET = 's3cret-Pw'

BAD_URLS = {
    'no-host': (f'amqp://u:{SECRET}@:5672/', ['names no host']),
    'port-range': (f'amqp://u:{SECRET}@mq.example:99999/',
                   ['not an AMQP URL']),
    'port-zero': (f'amqp://u:{SECRET}@mq.example:0/', ['port 0']),
    'port-letters': (f'amqp://u:{SECRET}@mq.example:56x/',
                     ['not an AMQP URL']),
    'two-path-parts': (f'amqp://u:{SECRET}@mq.example/a/b',
                       ['not an AMQP URL']),
    'bad-escape': (f'amqp://u:{SECRET}@mq.example/%zz', ['not an AMQP URL']),
    'query': (f'amqp://u:{SECRET}@mq.example/?heartbeat=5',
              ['not an AMQP URL']),
    'no-slashes': (f'amqp:u:{SECRET}@mq.example', ['expected amqp://']),
    'empty-user': (f'amqp://:{SECRET}@mq.example/', ['empty user']),
    'other-scheme': (f'mqtt://u:{SECRET}@mq.example/',
                     ['no bus module', 'mqtt']),
    'no-scheme': ('mq.example', ['needs a URL']),
}


@pytest.mark.expect_log('AH01617')
def test_ws_360_04b_subscriber_auth(servers):
    """httpd's Require and Basic auth guard a subscriber location like any
    other: no credentials 401, a wrong password 401, alice 101."""
    A, _ = servers

    async def main():
        for headers in (None, basic('alice', 'wrong')):
            with pytest.raises(websockets.InvalidStatusCode) as e:
                await websockets.connect(A.ws_url('/talk/t360-04b'),
                                         extra_headers=headers,
                                         open_timeout=10)
            assert e.value.status_code == 401
        ws = await websockets.connect(A.ws_url('/talk/t360-04b'),
                                      extra_headers=basic('alice'),
                                      open_timeout=10)
        await ws.close()
    run(main())


def test_ws_360_04c_chat_across_servers(servers):
    """The chat's rooms are channels: a member on A and one on B hear each
    other's messages and join notices."""
    A, B = servers

    async def recv_type(ws, kind, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            m = json.loads(await asyncio.wait_for(
                ws.recv(), max(0.1, deadline - time.monotonic())))
            if m['type'] == kind:
                return m

    async def main():
        a = await websockets.connect(A.ws_url('/t360/chat'),
                                     compression=None, open_timeout=10)
        b = await websockets.connect(B.ws_url('/t360/chat'),
                                     compression=None, open_timeout=10)
        try:
            await a.send(json.dumps({'type': 'join', 'room': 'lobby',
                                     'user': 'ann'}))
            await recv_type(a, 'history')
            # the join is a subscription on A's bus: wait until B's
            # messages reach A (a's binding is asynchronous)
            await b.send(json.dumps({'type': 'join', 'room': 'lobby',
                                     'user': 'ben'}))
            await recv_type(b, 'history')
            deadline = time.monotonic() + 20
            while True:
                await b.send(json.dumps({'type': 'message', 'room': 'lobby',
                                         'text': 'probe'}))
                try:
                    m = await recv_type(a, 'message', timeout=0.5)
                    break
                except asyncio.TimeoutError:
                    assert time.monotonic() < deadline, \
                        'B\'s chat never reached A'
            assert m['user'] == 'ben' and m['text'] == 'probe'
            await a.send(json.dumps({'type': 'message', 'room': 'lobby',
                                     'text': 'hi ben'}))
            while True:
                m = await recv_type(b, 'message')
                if m['user'] == 'ann':
                    break
            assert m['text'] == 'hi ben'
        finally:
            await a.close()
            await b.close()
    run(main())


@pytest.mark.parametrize('case', sorted(BAD_URLS))
def test_ws_360_05_bad_broker_url_fails_configtest(servers, case):
    A, _ = servers
    url, words = BAD_URLS[case]
    rc, out = A.configtest(layout(A, url))
    assert rc != 0, f'{case}: apache2 -t accepted {url}:\n{out}'
    assert 'WebSocketBroker' in out and 'line' in out, f'{case}: {out}'
    for w in words:
        assert w in out, f'{case}: {w!r} not in:\n{out}'
    assert SECRET not in out, f'{case}: the password is in:\n{out}'


def test_ws_360_06_configtest_accepts_and_refuses(servers):
    """Good URLs pass; WebSocketBroker before the module is loaded, and a
    CA file that does not exist, do not."""
    A, _ = servers
    for url in ('amqp://mq.example', 'amqp://u:p@mq.example:5673/%2f',
                'AMQPS://u:p%40ss@mq.example/vhost',
                'amqps://u:p@[::1]:5671/'):
        rc, out = A.configtest(layout(A, url))
        assert rc == 0, f'{url}: {out}'
    rc, out = A.configtest(f'WebSocketBroker amqp://u:{SECRET}@mq.example/')
    assert rc != 0 and 'no bus module' in out and SECRET not in out, out
    rc, out = A.configtest(layout(A, 'amqps://mq.example/',
                                  'WebSocketBrokerCACertificateFile '
                                  '/nonexistent/ca.pem'))
    assert rc != 0 and 'WebSocketBrokerCACertificateFile' in out, out


# ---- TLS ------------------------------------------------------------------------

def test_ws_360_07_amqps(servers, broker, server_workdir):
    """amqps:// with the test CA connects (the broker's certificate and
    name verified) and carries messages to and from A; without that CA
    (the system's store) the connection is refused and logged once."""
    A, _ = servers
    ca = broker.tls_ca.ca_file
    d = make_server(server_workdir('t360-tls'), 't360-tls',
                    broker.tls_url('localhost'),
                    f'WebSocketBrokerCACertificateFile "{ca}"', start=False)
    bad = make_server(server_workdir('t360-tls-bad'), 't360-tls-bad',
                      broker.tls_url('localhost'), start=False)
    pub = Publisher(A)
    try:
        d.start()
        bad.start()
        wait_status(d, 'WebSocketBrokerConnected', 2)
        assert wait_log(d, 'WS00043', 2) == 2

        async def main():
            subs = await subscribe(d, '/sub/t360-07', 4)
            try:
                await sync(pub, 't360-07', subs)
                await asyncio.to_thread(pub.post, 't360-07', 'over TLS')
                await until(lambda: all('over TLS' in s.data()
                                        for s in subs), 'over TLS', 10)
            finally:
                await close_all(subs)

        run(main())
        wait_log(bad, 'WS00041', 2)
        lines = [line for line in bad.error_log_lines_since(0)
                 if 'WS00041' in line]
        assert all('verif' in line.lower() for line in lines), lines
        assert status(bad)['WebSocketBrokerReconnecting'] == 2
    finally:
        pub.close()
        for h in (d, bad):
            h.stop()


# ---- flow control -------------------------------------------------------------

def test_ws_360_08_broker_blocks_publishers(servers, broker):
    """The broker blocks publishers (memory alarm). A client publishing over
    its WebSocket is not held up; what waits for the broker is bounded
    (16 MiB): beyond it messages are dropped, counted and logged once. A
    POST meanwhile is answered at once with 503 and Retry-After when its
    child's queue is full, or after the 5 s the publisher waits for the
    broker with "confirmed": false. When the broker takes messages again
    the queued ones reach every member in order, the publishing child's
    own included (they wait for the broker too), and the end of the burst
    is logged."""
    A, B = servers
    mark = A.mark()
    before = status(A)
    taken_before = messages_in(A)
    pub = Publisher(A)
    big = os.urandom(1024 * 1024)

    async def main():
        subs = (await subscribe(A, '/sub/t360-08', 2)
                + await subscribe(B, '/sub/t360-08', 2))
        ws = await websockets.connect(
            A.ws_url('/talk/t360-08'), compression=None, ping_interval=None,
            max_size=None, open_timeout=10, extra_headers=basic('alice'))
        talker = Sub(ws, 'talker')
        everyone = subs + [talker]
        try:
            await sync(pub, 't360-08', everyone)
            await asyncio.to_thread(broker.ctl, 'set_vm_memory_high_watermark',
                                    '0')
            # the broker says so when the talker's child next publishes
            n = 0
            deadline = time.monotonic() + 20
            while not log_count(A, 'WS00048', mark):
                assert time.monotonic() < deadline, 'no WS00048'
                await ws.send(f'small {n}')
                n += 1
                await asyncio.sleep(0.1)
            t0 = time.monotonic()
            for i in range(20):
                await ws.send(big[:-2] + b'%02d' % i)
            took = time.monotonic() - t0
            wait_log(A, 'WS00044', 1, mark)
            # The talker's child takes the 20 in its own time: the POST
            # goes out once it has taken every one (published or dropped),
            # else it may find room in the queue between two drops, ending
            # the burst in the middle (and a second WS00044 begins another).
            await asyncio.to_thread(
                wait_for, lambda: messages_in(A) - taken_before >= n + 20, 30)
            assert messages_in(A) - taken_before >= n + 20, \
                'the talker\'s child did not take its 20 messages'
            # a POST on a connection of its own (either child), to a
            # channel without members
            t1 = time.monotonic()
            r = await asyncio.to_thread(wsit_post, A, '/pub/t360-08x',
                                        b'while blocked', 'text/plain')
            post = (r, time.monotonic() - t1)
            await asyncio.to_thread(broker.ctl, 'set_vm_memory_high_watermark',
                                    '0.4')
            wait_log(A, 'WS00050', 1, mark)
            # what was not dropped crosses; only then is there room in
            # the queue for more (the thread takes the whole queue and
            # counts it until it has sent the last)
            refused = 1 if r.status == 503 else 0
            dropped = status(A)['WebSocketBrokerDropped'] \
                - before['WebSocketBrokerDropped']
            crossed = 20 - (dropped - refused)
            await until(lambda: all(sum(isinstance(m, bytes)
                                        for m in s.data()) >= crossed
                                    for s in everyone),
                        lambda: f'the {crossed} queued messages cross '
                        f'(POST {r.status}, {dropped} dropped); '
                        f'the members have ' + str(
                            [sum(isinstance(m, bytes) for m in s.data())
                             for s in everyone]), 30)
            # behind the burst: the same child, the same queue
            await ws.send('drained')
            await until(lambda: all('drained' in s.data() for s in everyone),
                        'the message after the burst', 20)
            return n, took, post, [(s.name, s.data()) for s in everyone]
        finally:
            await close_all(everyone)
            await asyncio.to_thread(broker.ctl, 'set_vm_memory_high_watermark',
                                    '0.4')

    try:
        n, took, (r, post_took), got = run(main())
    finally:
        pub.close()
    assert took < 10, f'20 messages of 1 MiB took {took:.1f}s to send'
    if r.status == 503:
        # the talker's child, its queue full: dropped (and counted)
        assert r.headers.get('retry-after') == '1', r.headers
        assert post_took < 2, post_took
        refused = 1
    else:
        # the other child: queued, not confirmed while the broker blocks
        assert r.status == 200, r
        out = json.loads(r.body)
        assert out['confirmed'] is False, out
        assert 4.5 < post_took < 5 + SLACK, post_took
        refused = 0
    dropped = status(A)['WebSocketBrokerDropped'] \
        - before['WebSocketBrokerDropped']
    assert 0 < dropped - refused < 20, (dropped, refused)
    assert log_count(A, 'WS00044', mark) == 1
    wait_log(A, 'WS00045', 1, mark)
    assert f'{dropped} were dropped' in \
        [line for line in A.error_log_lines_since(mark)
         if 'WS00045' in line][0]
    for name, data in got:
        smalls = [m for m in data if isinstance(m, str) and
                  m.startswith('small')]
        bigs = [m for m in data if isinstance(m, bytes)]
        assert smalls == [f'small {i}' for i in range(n)], (name, smalls)
        # the first ones, in order, each whole, then the drops
        crossed = 20 - (dropped - refused)
        assert len(bigs) == crossed, (name, len(bigs), dropped, refused)
        assert bigs == [big[:-2] + b'%02d' % i for i in range(crossed)], \
            name
        assert data[-1] == 'drained', (name, data[-3:])


# ---- faults -----------------------------------------------------------------------

def test_ws_360_09_broker_stops_and_comes_back(servers, broker):
    """200 subscribers; the broker stops: every child notices and logs it
    once, a POST reaches the publishing child's own subscribers (delivered
    by the child itself, "confirmed": false) but does not cross, nothing
    crashes; the broker comes back: each child reconnects within the
    backoff cap and delivery through the broker resumes, exactly once."""
    A, B = servers
    marks = {h.name: h.mark() for h in servers}
    before = {h.name: status(h) for h in servers}
    pub = Publisher(A)

    async def main():
        subs_a = await subscribe(A, '/sub/t360-09', 100)
        subs_b = await subscribe(B, '/sub/t360-09', 100)
        subs = subs_a + subs_b
        try:
            await sync(pub, 't360-09', subs)
            await asyncio.to_thread(broker.stop)
            for h in servers:
                await asyncio.to_thread(wait_status, h,
                                        'WebSocketBrokerReconnecting', 2)
            out = await asyncio.to_thread(pub.post, 't360-09', 'outage',
                                          confirmed=False)
            local = out['delivered']
            assert 0 < local < len(subs_a), out
            await until(lambda: sum('outage' in s.data()
                                    for s in subs_a) >= local,
                        'local delivery during the outage', 10)

            await asyncio.to_thread(broker.start)
            t_up = time.monotonic()
            t_conn = []
            for h in servers:
                t_conn.append(await asyncio.to_thread(
                    wait_status, h, 'WebSocketBrokerConnected', 2))
            took = await sync(pub, 't360-09', subs)
            t_cross = time.monotonic()
            for i in range(20):
                await asyncio.to_thread(pub.post, 't360-09', f'after {i}')
            await until(lambda: all('after 19' in s.data() for s in subs),
                        'every subscriber has the messages after', 30)
            await sync(pub, 't360-09', subs)
            want = [f'after {i}' for i in range(20)]
            for s in subs:
                assert [m for m in s.data() if m != 'outage'] == want, \
                    f'{s.name}: {s.data()}'
                assert not s.ws.closed, f'{s.name} was closed'
            # what was published during the outage did not cross
            assert sum('outage' in s.data() for s in subs_a) == local
            assert not any('outage' in s.data() for s in subs_b)
            return (max(t_conn) - t_up, t_cross - t_up, took)
        finally:
            await close_all(subs)

    try:
        reconnect, cross, took = run(main(), timeout=300)
    finally:
        pub.close()
        if not broker.running:
            broker.start()
    print(f'\nreconnected {reconnect:.1f}s and delivering across servers '
          f'{cross:.1f}s after the broker accepted AMQP again')
    assert reconnect <= BACKOFF_CAP + SLACK, reconnect
    assert cross <= BACKOFF_CAP + 2 * SLACK, cross
    for h in servers:
        # once per outage and child, however many attempts it took
        assert log_count(h, 'WS00041', marks[h.name]) == 2, \
            '\n'.join(h.error_log_lines_since(marks[h.name]))
        assert log_count(h, 'WS00042', marks[h.name]) == 2
        st = status(h)
        assert st['WebSocketBrokerReconnects'] \
            - before[h.name]['WebSocketBrokerReconnects'] == 2, st
    assert status(A)['WebSocketBrokerDropped'] \
        > before[A.name]['WebSocketBrokerDropped']


async def post_locally(pub, channel, subs):
    """POST 'local' to channel while the server has no broker: only the
    members on the publishing child (of subs, on both children) get it."""
    out = await asyncio.to_thread(pub.post, channel, 'local', confirmed=False)
    assert 0 < out['delivered'] < len(subs), out
    await until(lambda: sum('local' in s.data() for s in subs)
                == out['delivered'], 'local delivery', 10)


def test_ws_360_10_broker_unreachable_at_startup(servers, broker,
                                                 server_workdir):
    """A server starts while the broker is down: it serves, delivers
    locally and says so once per child; when the broker starts it
    connects and its subscribers get messages from another server."""
    A, _ = servers
    broker.stop()
    c = make_server(server_workdir('t360-C'), 't360-C', broker.url,
                    start=False)
    pub_c = Publisher(c)
    pub_a = Publisher(A)
    try:
        c.start()
        wait_log(c, 'WS00041', 2)
        assert status(c)['WebSocketBrokerReconnecting'] == 2

        async def main():
            subs, pids = await subscribe_both_children(c, '/sub/t360-10')
            try:
                await post_locally(pub_c, 't360-10', subs)
                await asyncio.to_thread(broker.start)
                t_up = time.monotonic()
                await asyncio.to_thread(wait_status, c,
                                        'WebSocketBrokerConnected', 2)
                took = time.monotonic() - t_up
                # A's children were cut off too: A publishes through the
                # broker once they are back
                await asyncio.to_thread(wait_status, A,
                                        'WebSocketBrokerConnected', 2)
                await sync(pub_a, 't360-10', subs)
                await asyncio.to_thread(pub_a.post, 't360-10', 'from A')
                await until(lambda: all('from A' in s.data() for s in subs),
                            'a message from A', 10)
                return took
            finally:
                await close_all(subs)

        took = run(main(), timeout=300)
        assert took <= BACKOFF_CAP + SLACK, took
        assert log_count(c, 'WS00041') == 2
        assert log_count(c, 'WS00042') == 2
    finally:
        pub_c.close()
        pub_a.close()
        c.stop()
        if not broker.running:
            broker.start()


def test_ws_360_10b_broker_refuses_the_login(broker, server_workdir):
    """A wrong password in WebSocketBroker (the careless administrator):
    each child says once why the broker is out of reach, with the
    broker's reason and without the password; the server serves and
    delivers locally meanwhile."""
    wrong = 'not-the-Pw'
    url = broker.url.replace('guest:guest@', f'guest:{wrong}@')
    assert url != broker.url
    c = make_server(server_workdir('t360-D'), 't360-D', url, start=False)
    pub = Publisher(c)
    try:
        c.start()
        wait_log(c, 'WS00041', 2)
        refused = [line for line in c.error_log_lines_since(0)
                   if 'WS00041' in line]
        for line in refused:
            assert 'login: the broker closed the connection: 403' in line, \
                line
        assert status(c)['WebSocketBrokerReconnecting'] == 2

        async def main():
            subs, _ = await subscribe_both_children(c, '/sub/t360-10b')
            try:
                await post_locally(pub, 't360-10b', subs)
            finally:
                await close_all(subs)

        run(main(), timeout=60)
        # However many retries followed, each at trace level: 2 lines.
        assert log_count(c, 'WS00041') == 2
        assert not any(wrong in line for line in c.error_log_lines_since(0))
    finally:
        pub.close()
        c.stop()
        assert_no_child_crashes(c)


def test_ws_360_11_graceful_restart(servers, broker):
    """A graceful restart of A with subscribers open: the old children
    close their AMQP connections cleanly (the broker logs a close, not a
    lost client), the new ones connect, and channels cross again."""
    A, B = servers
    old = set(_children_of(A.pid))
    assert len(old) == 2, old
    since = len(broker.log_lines())
    pub = Publisher(B)

    async def hold():
        subs = await subscribe(A, '/sub/t360-11', 4)
        await sync(pub, 't360-11', subs)
        await asyncio.to_thread(A.restart, graceful=True)
        await until(lambda: all(s.task.done() for s in subs),
                    'the old children close their WebSockets', 15)

    run(hold())

    def closed_cleanly():
        lines = broker.log_lines()[since:]
        done = set()
        for pid in old:
            name = f'mod_websocket 127.0.0.1/{pid}/'
            mine = [line for line in lines if name in line]
            assert not any('unexpectedly' in line or 'error' in line.lower()
                           for line in mine), '\n'.join(mine)
            if any('closing AMQP connection' in line for line in mine):
                done.add(pid)
        return done == old

    deadline = time.monotonic() + 15
    while not closed_cleanly() or set(_children_of(A.pid)) & old:
        assert time.monotonic() < deadline, \
            (f'old children {old}: not gone, or no clean close of their '
             f'AMQP connections, after 15s')
        time.sleep(0.1)
    wait_status(A, 'WebSocketBrokerConnected', 2)

    async def after():
        subs = (await subscribe(A, '/sub/t360-11', 4)
                + await subscribe(B, '/sub/t360-11', 2))
        try:
            await sync(pub, 't360-11', subs)
            await asyncio.to_thread(pub.post, 't360-11', 'after restart')
            await until(lambda: all('after restart' in s.data()
                                    for s in subs), 'after restart', 10)
        finally:
            await close_all(subs)

    try:
        run(after())
    finally:
        pub.close()


def test_ws_360_12_stop_with_a_hung_broker(broker, server_workdir):
    """The broker hangs (SIGSTOP): stopping a server neither waits for it
    long nor leaves a child behind (every AMQP call has a deadline, and the
    child cuts the socket after 2 s)."""
    e = make_server(server_workdir('t360-E'), 't360-E', broker.url)
    try:
        wait_status(e, 'WebSocketBrokerConnected', 2)

        async def main():
            subs = await subscribe(e, '/sub/t360-12', 4)
            broker.freeze()
            t0 = time.monotonic()
            await asyncio.to_thread(e.stop)     # raises if a child was killed
            took = time.monotonic() - t0
            for s in subs:
                s.ws.transport.abort()
            await close_all(subs)
            return took

        took = run(main())
        print(f'\nstopped in {took:.1f}s with the broker hung')
    finally:
        try:
            broker.thaw()
        finally:
            e.stop(check=False)     # even if the broker was not running
    assert took < 10, f'stop took {took:.1f}s'
    assert_no_child_crashes(e)
    assert broker.accepts_amqp()
