"""115: node's ws client (tests/clients, pinned by its package-lock.json) on
the echo handler, as applications on Node.js use it: UTF-8 text, 1 MiB of
binary, compressible text and an empty message echoed in order, a ping
answered, the closing handshake with 1000; over plain TCP and TLS, with
permessage-deflate negotiated where WebSocketDeflate is On (ws offers it
by default) and ignored where it is Off, and with the subprotocol the
handler picks."""

import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(os.path.dirname(HERE), 'clients')
PMD = 'permessage-deflate'


def node_ws(url, **opts):
    """What tests/clients/node_ws.mjs saw on url (its JSON line)."""
    node = shutil.which('node')
    assert node, 'node missing: scripts/install-deps installs nodejs'
    assert os.path.isdir(os.path.join(CLIENTS, 'node_modules', 'ws')), \
        'ws missing: scripts/install-deps runs npm ci in tests/clients'
    r = subprocess.run([node, os.path.join(CLIENTS, 'node_ws.mjs'), url,
                        json.dumps(opts)], capture_output=True, text=True,
                       timeout=60)
    lines = r.stdout.strip().splitlines()
    assert lines, f'node_ws.mjs printed nothing:\n{r.stderr}'
    out = json.loads(lines[-1])
    assert r.returncode == 0 and out['ok'], f'{url}: {out}\n{r.stderr}'
    return out


@pytest.mark.parametrize('path,deflate', [
    ('/echo', False),
    ('/pmd-echo', True),
], ids=['plain', 'permessage-deflate'])
@pytest.mark.parametrize('tls', [False, True], ids=['ws', 'wss'])
def test_ws_115_01_echo(httpd, path, deflate, tls):
    url = (f'wss://localhost:{httpd.tls_port}{path}' if tls
           else f'ws://127.0.0.1:{httpd.port}{path}')
    out = node_ws(url, ca=httpd.ca.ca_file)
    assert out['status'] == 101, out
    if deflate:
        assert out['extensions'].startswith(PMD), out
    else:
        assert out['extensions'] == '', out


def test_ws_115_02_no_deflate_offered(httpd):
    """Where WebSocketDeflate is On, a client that offers nothing gets
    nothing."""
    out = node_ws(f'ws://127.0.0.1:{httpd.port}/pmd-echo', deflate=False)
    assert out['extensions'] == '', out


def test_ws_115_03_subprotocol(httpd):
    """The test handler prefers "superchat" to "chat"; ws checks that the
    server picked one it offered."""
    out = node_ws(f'ws://127.0.0.1:{httpd.port}/test',
                  protocols=['chat', 'superchat'])
    assert out['protocol'] == 'superchat', out
