"""500: a real browser on the demo site. Debian's Chromium, headless and
driven by playwright-core (tests/browser/run.mjs), loads the pages that
scripts/demo serves, from a server configured by the same scripts/demo-conf,
over http:// (WebSockets over HTTP/1.1) and https:// (HTTP/2, where
Chromium opens its WebSockets as RFC 8441 streams since H2WebSockets is on):
the echo page echoes, a 1 MiB Blob comes back intact, a close with 1000 is
clean, a file picked on the echo page comes back with the same size and
SHA-256, two chat pages talk, the events page shows what Python POSTs to
its channel (/pub/CHANNEL), and the access log shows which protocol each
WebSocket used."""

import os
import re
import socket
import subprocess

import pytest

from browser import (run_chromium, http_publisher, assert_pages_work, opened,
                     logged_upgrades)
from httpd import Httpd, HttpdError, free_port, load_config

CONF = load_config()


class DemoHttpd(Httpd):
    """The demo site (scripts/demo-conf) run like any test server."""

    def __init__(self, workdir):
        super().__init__(workdir, name='demo')
        self.tls_port = free_port(self.host)
        self.conf_path = os.path.join(self.workdir, 'httpd.conf')
        self.error_log = os.path.join(self.logs_dir, 'error.log')
        self.access_log = os.path.join(self.logs_dir, 'access.log')
        self.pid_file = os.path.join(self.logs_dir, 'httpd.pid')

    def write_conf(self, extra_conf=None, path=None):
        env = dict(os.environ, WS_DEMO_PORT=str(self.port),
                   WS_DEMO_TLS_PORT=str(self.tls_port))
        env.pop('WS_DEMO_BROKER', None)     # the demo as shipped: no broker
        p = subprocess.run([os.path.join(CONF['top_srcdir'], 'scripts',
                                         'demo-conf'), self.workdir],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise HttpdError(f'demo-conf: {p.stdout.decode()}')
        return self.conf_path

    def configtest(self, extra_conf=None):
        self.write_conf()
        p = subprocess.run([self.config['httpd'], '-t', '-f', self.conf_path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def _answers(self):
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=2) as s:
                s.sendall(b'GET /chat HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')
                data = b''
                while chunk := s.recv(4096):
                    data += chunk
            return (data.startswith(b'HTTP/1.1 200')
                    and b'mod_websocket chat' in data)
        except OSError:
            return False


@pytest.fixture(scope='module')
def demo(server_workdir):
    h = DemoHttpd(server_workdir('demo'))
    h.start()
    yield h
    h.stop()


def websocket_lines(h, path, mark):
    """Access log lines of WebSocket upgrades of path since mark."""
    with open(h.access_log) as f:
        lines = f.read().splitlines()[mark:]
    return [line for line in lines
            if re.search(rf'"GET {path} HTTP/[0-9.]+" 101 ', line)]


@pytest.mark.parametrize('scheme', ['http', 'https'])
def test_ws_500_chromium_demo(demo, scheme):
    port = demo.port if scheme == 'http' else demo.tls_port
    base = f'{scheme}://127.0.0.1:{port}'
    with open(demo.access_log) as f:
        mark = len(f.read().splitlines())
    got = run_chromium(base, publish=http_publisher(base))
    assert_pages_work(got, events=True)

    want = 'HTTP/2.0' if scheme == 'https' else 'HTTP/1.1'
    want_open = opened(got)
    logged = logged_upgrades(lambda path: websocket_lines(demo, path, mark),
                             want_open)
    for path, lines in logged.items():
        assert len(lines) >= want_open[path], \
            f'{len(lines)} WebSockets for {path} in the access log, ' \
            f'Chromium opened {want_open[path]}'
        assert all(f'"GET {path} {want}" 101' in line for line in lines), \
            f'{path} over {scheme}: want {want}:\n' + '\n'.join(lines)
    assert demo.check_error_log() == []
