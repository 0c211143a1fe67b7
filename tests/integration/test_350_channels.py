"""350: channels in one server, without a broker (conf/350_channels.conf):
pubsub subscribers (WebSocketChannel from the URL, an ap_expr), the HTTP
publisher (SetHandler websocket-publish), clients publishing
(WebSocketChannelPublish), bad names, slow subscribers, and the memory a
publish costs (one shared message, not a copy per member)."""

import json
import os
import socket

import pytest

from httpd import Httpd
from procs import children_of, status_kib
from wsraw import OP_BINARY, OP_TEXT
from wsit import (basic, connect, get, integration_conf, logged, post,
                  refused, server_status, wait_for, write_htpasswd)


def published(r):
    assert r.status == 200, (r.status, r.body[:300])
    return json.loads(r.body)


@pytest.fixture(scope='module')
def httpd(httpd, mpm, server_workdir):
    """Without a broker a channel's members are those of the publishing
    child: under event and worker, a server of one child (the shared one
    may start a second); under prefork, the shared one (whose tests that
    need one process are skipped)."""
    if mpm == 'prefork':
        write_htpasswd(httpd.workdir)
        yield httpd
        return
    h = Httpd(server_workdir(f't350-{mpm}'), mpm=mpm, name=f't350-{mpm}',
              extra_conf=integration_conf() + """
StartServers 1
ServerLimit 1
MaxRequestWorkers 25
""")
    write_htpasswd(h.workdir)
    h.start()
    yield h
    h.stop()


def skip_prefork(httpd):
    if httpd.mpm == 'prefork':
        pytest.skip('prefork: one process per WebSocket, and without a '
                    'broker channels stay in their process')


def test_ws_350_01_post_reaches_every_subscriber_in_order(httpd):
    skip_prefork(httpd)
    subs = [connect(httpd, '/sub/news') for _ in range(5)]
    other = connect(httpd, '/sub/sports')
    try:
        for i in range(20):
            out = published(post(httpd, '/pub/news', b'news %d' % i,
                                 'text/plain'))
            assert out['delivered'] == 5, out
        for ws in subs:
            for i in range(20):
                assert ws.recv_message() == (OP_TEXT, b'news %d' % i)
        other.send_frame(OP_TEXT, b'x')         # not allowed: closes 1008
        assert other.expect_close()[0] == 1008
    finally:
        for ws in subs + [other]:
            ws.close_socket()


@pytest.mark.parametrize('ctype,op', [('text/plain; charset=utf-8', OP_TEXT),
                                      ('application/json', OP_TEXT),
                                      ('application/octet-stream', OP_BINARY),
                                      (None, OP_BINARY)])
@pytest.mark.parametrize('chunked', [False, True])
def test_ws_350_02_text_or_binary_by_content_type(httpd, ctype, op, chunked):
    skip_prefork(httpd)
    body = (b'{"a": "\xe2\x9c\x93"}' if op == OP_TEXT
            else bytes(range(256)) * 40)
    with connect(httpd, '/sub/kinds') as ws:
        out = published(post(httpd, '/pub/kinds', body, ctype,
                             chunked=chunked))
        assert out == {'channels': 1, 'delivered': 1, 'broker': False,
                       'confirmed': False}
        assert ws.recv_message() == (op, body)


@pytest.mark.expect_log('WS00029')
def test_ws_350_03_publisher_refusals(httpd):
    assert post(httpd, '/pub/x', b'\xff\xfe', 'text/plain').status == 400
    assert get(httpd, '/pub/x').status == 405
    assert 'POST' in get(httpd, '/pub/x').headers.get('allow', '')
    assert post(httpd, '/t350/pub-small', b'x' * 1001).status == 413
    assert post(httpd, '/t350/pub-small', b'x' * 1001,
                chunked=True).status == 413
    assert post(httpd, '/t350/pub-small', b'x' * 1000).status == 200
    assert post(httpd, '/t350/pub-nochannel', b'x').status == 500
    assert post(httpd, '/t350/pub-auth', b'x').status == 401
    assert post(httpd, '/t350/pub-auth', b'x',
                headers=basic('alice').items()).status == 200
    assert post(httpd, '/t350/pub-auth', b'x', method='PUT',
                headers=basic('alice').items()).status == 200


def test_ws_350_04_bad_channel_names_refused(httpd):
    for query in ('bad%20name', 'x' * 201, 'a/b', ''):
        status = refused(httpd, f'/t350/query?{query}').status
        assert status == 400, (query, status)
    with connect(httpd, '/t350/query?' + 'x' * 200) as ws:
        ws.send_frame(OP_TEXT, b'publish?')
        assert ws.expect_close()[0] == 1008


def test_ws_350_05_clients_publish_where_allowed(httpd):
    skip_prefork(httpd)
    a = connect(httpd, '/talk/a')
    b = connect(httpd, '/talk/b')
    try:
        a.send_frame(OP_BINARY, b'\x00\x01 to all-talk and a')
        # a is in a and all-talk: it hears its message on both
        assert a.recv_message() == (OP_BINARY, b'\x00\x01 to all-talk and a')
        assert a.recv_message() == (OP_BINARY, b'\x00\x01 to all-talk and a')
        assert b.recv_message() == (OP_BINARY, b'\x00\x01 to all-talk and a')
        out = published(post(httpd, '/pub/b', b'only b', 'text/plain'))
        assert out['delivered'] == 1
        assert b.recv_message() == (OP_TEXT, b'only b')
    finally:
        a.close_socket()
        b.close_socket()


def test_ws_350_06_slow_subscriber_cut_off_others_served(httpd):
    """A subscriber that does not read is closed (1008) once its pending
    output is at its bound; the others get every message."""
    skip_prefork(httpd)
    mark = httpd.mark()
    slow = connect(httpd, '/t350/slow')
    fast = connect(httpd, '/t350/slow-sub')
    try:
        got = 0
        for i in range(400):
            published(post(httpd, '/pub/slowtest', b'%d ' % i + b'x' * 40000))
            op, data = fast.recv_message(timeout=10)
            assert data.startswith(b'%d ' % got), (got, data[:20])
            got += 1
        assert got == 400
        assert wait_for(lambda: logged(httpd, mark, 'WS00016'),
                        timeout=10), 'the slow subscriber was not closed'
        assert slow.tcp_closed(10)
    finally:
        slow.close_socket()
        fast.close_socket()


def test_ws_350_08_members_come_and_go(httpd):
    """Members join and leave in any order (a channel's array of members
    grows, a leaver's slot goes to the last one, and it shrinks): every
    member left gets each publish once, and nobody who left does."""
    skip_prefork(httpd)

    def members_now(n):
        # Each probe is a publish: those who stay get them all.
        return wait_for(lambda: published(post(httpd, '/pub/churn', b'probe',
                                               'text/plain'))['delivered']
                        == n)

    def read_to(ws, last):
        while True:
            op, data = ws.recv_message()
            if data == last:
                return
            assert data == b'probe', data

    # (worker: a thread per WebSocket, 25 in this server)
    subs = [connect(httpd, '/sub/churn') for _ in range(22)]
    stay = []
    try:
        gone = subs[::2] + subs[1:14:2]     # 18: every other, then more
        stay = [ws for ws in subs if ws not in gone]
        for ws in gone:
            ws.close_socket()
        assert members_now(4), 'the leavers were not taken off'
        assert published(post(httpd, '/pub/churn', b'one',
                              'text/plain'))['delivered'] == 4
        for ws in stay:
            read_to(ws, b'one')
        stay += [connect(httpd, '/sub/churn') for _ in range(16)]
        assert published(post(httpd, '/pub/churn', b'two',
                              'text/plain'))['delivered'] == 20
        for ws in stay:
            read_to(ws, b'two')
        for ws in stay[:17]:
            ws.close_socket()
        assert members_now(3)
        for ws in stay[17:]:
            read_to(ws, b'probe')
            ws.close_socket()
        assert members_now(0)
    finally:
        for ws in subs + stay:
            ws.close_socket()


def messages_out(h):
    return server_status(h)['WebSocketMessagesOut']


def test_ws_350_07_one_publish_is_one_message(mpm, server_workdir):
    """1,000 subscribers that do not read and one 1 MiB publish: the
    child grows by far less than 1,000 copies (one shared message)."""
    if mpm != 'event':
        pytest.skip('1,000 WebSockets need the event MPM\'s I/O threads')
    h = Httpd(server_workdir('t350-mem'), mpm='event', name='t350-mem',
              extra_conf=integration_conf() + """
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
AsyncRequestWorkerFactor 500
ListenBacklog 4096
""")
    h.start()
    subs = []
    try:
        for i in range(1000):
            ws = connect(h, '/sub/big', timeout=10)
            if i:
                # (a small buffer on a socket that reads would stall it)
                ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            subs.append(ws)
        child, = children_of(h.pid)
        before = status_kib(child)
        sent = messages_out(h)
        out = published(post(h, '/pub/big', os.urandom(1 << 20)))
        assert out['delivered'] == 1000, out
        # every member has framed it (and written what its socket took)
        assert wait_for(lambda: messages_out(h) - sent >= 1000, timeout=20)
        assert status_kib(child) - before < 100 * 1024, \
            f'the child grew by {status_kib(child) - before} KiB'
        op, data = subs[0].recv_message(timeout=20)
        assert op == OP_BINARY and len(data) == 1 << 20
    finally:
        for ws in subs:
            ws.close_socket()
        h.stop(timeout=10)
