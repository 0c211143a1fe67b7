"""400: every file of conf-examples/ runs in a real httpd, as a user would
use it, with only the site-specific values (port, certificate, document
root) replaced, so the examples cannot rot. The Debian files are installed
with `make install DESTDIR=...`, enabled with the real a2enmod (in a
private APACHE_CONFDIR) and loaded from where make install put them."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from browser import run_chromium, assert_pages_work, opened, logged_upgrades
from h2ws import H2WS
from httpd import Httpd, free_port, load_config
from rabbitmq import RabbitMQ
from testca import make_ca
from wsraw import RawWS, OP_TEXT, HandshakeError
from wsit import get, http_request, post, wait_for

CONF = load_config()
TOP_SRC = CONF['top_srcdir']
EXAMPLES = os.path.join(TOP_SRC, 'conf-examples')
DEMO_HTDOCS = os.path.join(TOP_SRC, 'demo', 'htdocs')
LIB = CONF['libexecdir']
SITE = 'www.example.com'


def example(name, replace):
    """The text of conf-examples/NAME with each key of replace (which must
    occur) replaced by its value."""
    with open(os.path.join(EXAMPLES, name)) as f:
        text = f.read()
    for old, new in replace.items():
        assert old in text, f'{name} no longer has {old!r}: update the test'
        text = text.replace(old, new)
    return text.replace('$', '$$')      # Httpd substitutes ${...}


def test_ws_400_01_every_example_has_a_header():
    for dirpath, _, files in os.walk(EXAMPLES):
        for name in files:
            with open(os.path.join(dirpath, name)) as f:
                head = f.read(600)
            assert head.startswith('# '), f'{name}: no header comment'
            assert 'mod_' in head or 'a2enmod' in head or 'Depends' in head, \
                f'{name}: the header does not name the modules it needs'


def test_ws_400_02_minimal(server_workdir):
    h = Httpd(server_workdir('ex-minimal'), name='ex-minimal',
              extra_conf=example('minimal.conf', {}))
    h.start()
    try:
        with RawWS.connect('127.0.0.1', h.port, '/echo') as ws:
            ws.send_frame(OP_TEXT, b'minimal')
            assert ws.recv_message() == (OP_TEXT, b'minimal')
            assert ws.close() == (1000, b'')
        r = get(h, '/echo')
        assert r.status == 200 and r.body.strip() == b'echo page', \
            'GET /echo without Upgrade is no longer the page'
        assert h.check_error_log() == []
    finally:
        h.stop()


def test_ws_400_03_pubsub_two_servers_one_broker(mpm, server_workdir):
    """pubsub.conf as it is (only the broker's port and the amqp module's
    path replaced) on two servers of two event children each and a
    private RabbitMQ: a POST to one reaches every subscriber of both."""
    if mpm != 'event':
        pytest.skip('two children holding subscribers: the event MPM')
    mq = RabbitMQ(server_workdir('ex-rabbitmq'))
    mq.start()
    servers = []
    subs = []
    try:
        for name in ('ex-pubsub-a', 'ex-pubsub-b'):
            h = Httpd(server_workdir(name), name=name, mpm='event')
            h.extra_conf = example('pubsub.conf', {
                '127.0.0.1:5672': f'127.0.0.1:{mq.port}',
                '/usr/lib/apache2/modules/mod_websocket_amqp.so':
                    h.module_path('amqp')}) + 'StartServers 2\n'
            h.start()
            servers.append(h)
        for h in servers:
            subs += [RawWS.connect('127.0.0.1', h.port, '/sub/news')
                     for _ in range(6)]

        # The subscriptions may reach the broker after the 101s: publish
        # probes until every subscriber has had one, any one (its binding
        # was in place when that probe went through the broker, so it is
        # for what follows), then count exactly. A probe that is slow to
        # come is still taken when it comes.
        heard = [False] * len(subs)

        def everyone_heard():
            for i, ws in enumerate(subs):
                try:
                    while not heard[i]:
                        got = ws.recv_message(timeout=0.05)
                        assert got is not None, f'subscriber {i} closed'
                        heard[i] = got[1].startswith(b'probe ')
                except socket.timeout:
                    pass
            return all(heard)
        n = 0
        deadline = time.monotonic() + 60
        while True:
            n += 1
            r = post(servers[0], '/pub/news', b'probe %d' % n, 'text/plain')
            assert r.status == 200 and json.loads(r.body)['broker'], r
            if wait_for(everyone_heard, timeout=1):
                break
            assert time.monotonic() < deadline, \
                f'subscribers that heard no probe in 60 s: ' \
                f'{[i for i, h in enumerate(heard) if not h]}'
        for i in range(10):
            assert post(servers[0], '/pub/news', b'event %d' % i,
                        'text/plain').status == 200
        for ws in subs:
            got = []
            while len(got) < 10:
                op, data = ws.recv_message(timeout=10)
                if not data.startswith(b'probe'):
                    got.append(data)
            assert got == [b'event %d' % i for i in range(10)]
        assert post(servers[1], '/pub/news', b'x').status == 200
        assert get(servers[1], '/pub/news').status == 405
    finally:
        for ws in subs:
            ws.close_socket()
        for h in servers:
            h.stop()
        mq.stop()


@pytest.fixture(scope='module', params=['https-site.conf',
                                        'https-site-h2.conf'])
def site(request, server_workdir):
    """The HTTPS site example on a test port, with the test CA's
    certificate (valid for www.example.com) and the demo's pages."""
    name = request.param
    workdir = server_workdir('ex-site')
    docroot = os.path.join(workdir, 'site')
    os.makedirs(docroot)
    for page in ('index.html', 'chat.html'):
        shutil.copy(os.path.join(DEMO_HTDOCS, page), docroot)
    os.chmod(docroot, 0o755)
    port = free_port()
    h = Httpd(workdir, name='ex-site')
    ca = make_ca(os.path.join(os.path.dirname(workdir), 'testca'))
    conf = '\n'.join([
        f'LoadModule ssl_module "{LIB}/mod_ssl.so"',
        f'LoadModule socache_shmcb_module "{LIB}/mod_socache_shmcb.so"',
        f'LoadModule alias_module "{LIB}/mod_alias.so"',
        f'Listen 127.0.0.1:{port} https',
        example(name, {'*:443': f'127.0.0.1:{port}',
                       f'/etc/ssl/certs/{SITE}.pem': ca.cert_file,
                       f'/etc/ssl/private/{SITE}.key': ca.key_file,
                       '/var/www/example': docroot})])
    h.extra_conf = conf
    h.start()
    h.site_port = port
    h.ca = ca
    h.h2 = name.endswith('-h2.conf')
    yield h
    h.stop()


def site_ws(site, path, h2=False, **kw):
    if h2:
        return H2WS.connect('127.0.0.1', site.site_port, path,
                            ssl_context=site.ca.ssl_context(['h2']),
                            server_hostname=SITE, **kw)
    return RawWS.connect('127.0.0.1', site.site_port, path,
                         ssl_context=site.ca.ssl_context(['http/1.1']),
                         server_hostname=SITE, **kw)


def https_get(site, path):
    sock = site.ca.ssl_context(['http/1.1']).wrap_socket(
        socket.create_connection(('127.0.0.1', site.site_port)),
        server_hostname=SITE)
    req = (f'GET {path} HTTP/1.1\r\nHost: {SITE}:{site.site_port}\r\n'
           'Connection: close\r\n\r\n').encode()
    return http_request(site.site_port, req, sock=sock)


def test_ws_400_10_site_pages(site):
    r = https_get(site, '/chat')
    assert r.status == 200 and b'mod_websocket chat' in r.body, r.head
    r = https_get(site, '/')
    assert r.status == 200 and b'mod_websocket demo' in r.body, r.head


@pytest.mark.parametrize('h2', [False, True], ids=['http1', 'h2'])
def test_ws_400_11_site_echo_and_chat(site, h2):
    if h2 and not site.h2:
        # ALPN: mod_ssl answers http/1.1 to an h2-only client
        with pytest.raises((HandshakeError, ssl.SSLError)):
            site_ws(site, '/echo', h2=True)
        return
    origin = f'https://{SITE}:{site.site_port}'
    tag = f'ex-{site.h2}-{h2}'
    with site_ws(site, '/echo', h2, origin=origin,
                 headers={'X-Test-Id': tag}) as ws:
        ws.send_frame(OP_TEXT, b'on the site')
        assert ws.recv_message() == (OP_TEXT, b'on the site')
        assert ws.close() == (1000, b'')
    entries = site.access_log_for(tag)
    assert [(e['request'], e['status']) for e in entries] == \
        [('GET /echo ' + ('HTTP/2.0' if h2 else 'HTTP/1.1'), '101')], entries
    a = site_ws(site, '/chat', h2, origin=origin)
    b = site_ws(site, '/chat', h2, origin=origin)
    for m, user in ((a, 'ann'), (b, 'ben')):
        m.send_frame(OP_TEXT, json.dumps({'type': 'join', 'room': 'ex',
                                          'user': user}).encode())
        assert json.loads(m.recv_message()[1])['type'] == 'history'
        assert json.loads(m.recv_message()[1])['user'] == user
    assert json.loads(a.recv_message()[1])['user'] == 'ben'
    a.send_frame(OP_TEXT, json.dumps({'type': 'message', 'room': 'ex',
                                      'text': 'hi ben'}).encode())
    for m in (a, b):
        msg = json.loads(m.recv_message()[1])
        assert (msg['type'], msg['user'], msg['text']) == \
            ('message', 'ann', 'hi ben'), msg
    assert a.close() == (1000, b'')
    assert json.loads(b.recv_message()[1])['type'] == 'leave'
    assert b.close() == (1000, b'')
    # Same origin is the vhost's https://NAME:PORT, nothing else
    for bad in (f'http://{SITE}:{site.site_port}', 'https://evil.example'):
        with pytest.raises(HandshakeError) as e:
            site_ws(site, '/echo', h2, origin=bad)
        assert e.value.status == 403, bad


def test_ws_400_20_debian_a2enmod(server_workdir):
    """make install DESTDIR=... puts the modules and mods-available files in
    place; a2enmod websocket_chat enables it and, by its Depends line,
    websocket; httpd loads what a2enmod enabled."""
    work = server_workdir('debian')
    dest = os.path.join(work, 'dest')
    p = subprocess.run(['make', '-C', CONF['top_builddir'], 'install',
                        f'DESTDIR={dest}',
                        'MODS_AVAILABLE=/etc/apache2/mods-available'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout.decode()[-3000:]
    avail = os.path.join(dest, 'etc/apache2/mods-available')
    for f in ('websocket.load', 'websocket.conf', 'websocket_echo.load',
              'websocket_chat.load', 'websocket_increment.load',
              'websocket_pubsub.load', 'websocket_amqp.load'):
        assert os.path.exists(os.path.join(avail, f)), f
    # a private /etc/apache2 for a2enmod, with the installed paths moved
    # under DESTDIR
    confdir = os.path.join(work, 'apache2')
    os.makedirs(os.path.join(confdir, 'mods-enabled'))
    shutil.copytree(avail, os.path.join(confdir, 'mods-available'))
    for f in os.listdir(os.path.join(confdir, 'mods-available')):
        path = os.path.join(confdir, 'mods-available', f)
        with open(path) as fh:
            text = fh.read()
        with open(path, 'w') as fh:
            fh.write(text.replace(f'{LIB}/', f'{dest}{LIB}/'))
    env = dict(os.environ, APACHE_CONFDIR=confdir)
    p = subprocess.run(['a2enmod', '-q', 'websocket_chat', 'websocket_echo'],
                       env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout.decode()
    enabled = sorted(os.listdir(os.path.join(confdir, 'mods-enabled')))
    assert enabled == ['websocket.conf', 'websocket.load',
                       'websocket_chat.load', 'websocket_echo.load'], enabled
    h = Httpd(os.path.join(work, 'httpd'), name='debian', load_modules=False,
              extra_conf=f'''
IncludeOptional "{confdir}/mods-enabled/*.load"
IncludeOptional "{confdir}/mods-enabled/*.conf"
<Location /echo>
    WebSocketHandler echo
</Location>
<Location /chat>
    WebSocketHandler chat
</Location>
''')
    h.start()
    try:
        with RawWS.connect('127.0.0.1', h.port, '/echo') as ws:
            ws.send_frame(OP_TEXT, b'from the installed module')
            assert ws.recv_message() == (OP_TEXT,
                                         b'from the installed module')
            assert ws.close() == (1000, b'')
        with RawWS.connect('127.0.0.1', h.port, '/chat') as ws:
            ws.send_frame(OP_TEXT, b'{"type":"join","room":"deb"}')
            assert json.loads(ws.recv_message()[1])['type'] == 'history'
        loaded = subprocess.run([CONF['httpd'], '-f', h.conf_path, '-M'],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT).stdout.decode()
        assert 'websocket_chat_module' in loaded, loaded
    finally:
        h.stop()


def test_ws_400_13_chromium_on_the_site(site):
    """The README's recipe, in a browser: Chromium on
    https://www.example.com:PORT/ and /chat (the site's own name and
    certificate) echoes and chats, over HTTP/2 where the example turns it
    on and over HTTP/1.1 where not."""
    with open(site.access_log) as f:
        mark = len(f.read().splitlines())
    got = run_chromium(f'https://{SITE}:{site.site_port}',
                       resolve=f'MAP {SITE} 127.0.0.1')
    assert_pages_work(got)
    want = 'HTTP/2.0' if site.h2 else 'HTTP/1.1'

    def upgrades(path):
        with open(site.access_log) as f:
            lines = f.read().splitlines()[mark:]
        return [e for e in lines if f'\tGET {path} ' in e and '\t101\t' in e]
    want_open = opened(got)
    for path, lines in logged_upgrades(upgrades, want_open).items():
        assert len(lines) >= want_open[path], \
            f'{len(lines)} WebSockets for {path} in the access log, ' \
            f'Chromium opened {want_open[path]}:\n' + '\n'.join(lines)
        assert all(f'\tGET {path} {want}\t' in e for e in lines), \
            '\n'.join(lines)
