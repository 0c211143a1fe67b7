"""170: mod_deflate configured on a WebSocket location (SetOutputFilter,
AddOutputFilterByType) and a client that accepts gzip: the frames are
never compressed by mod_deflate (conf/170_mod_deflate.conf)."""

import os

import pytest

from wsraw import OP_TEXT, OP_BINARY
from wsit import (connect, exchange, run, ws_client, describe_mismatch,
                  get)

GZIP = {'Accept-Encoding': 'gzip, deflate'}
PATHS = ['/deflate', '/deflate-bytype']


def test_ws_170_00_deflate_active(httpd):
    """Control: mod_deflate does compress an ordinary response at /deflate
    (a file there, served when there is no Upgrade). A file, not a
    directory: mod_dir would redirect /deflate to /deflate/."""
    path = os.path.join(httpd.docroot, 'deflate')
    with open(path, 'w') as f:
        f.write('compress me ' * 500 + '\n')
    os.chmod(path, 0o644)
    r = get(httpd, '/deflate', headers=list(GZIP.items()))
    assert r.status == 200 and r.headers.get('content-encoding') == 'gzip', \
        f'mod_deflate is not active on /deflate:\n{r.head}'


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('opcode,size', [(OP_TEXT, 10), (OP_TEXT, 100000),
                                         (OP_BINARY, 100000),
                                         (OP_BINARY, 0)],
                         ids=['text-10', 'text-100k', 'binary-100k',
                              'binary-0'])
def test_ws_170_01_raw_echo(httpd, path, opcode, size):
    msg = (b'a' * size) if opcode == OP_TEXT else bytes(size)  # compressible
    with connect(httpd, path, headers=GZIP) as ws:
        assert 'content-encoding' not in ws.response_headers, \
            f'{path}: 101 with Content-Encoding: {ws.response_headers}'
        ws.send_frame(opcode, msg)
        got = ws.recv_message()
        assert got[0] == opcode and got[1] == msg, \
            f'{path} {size}: ' + describe_mismatch(got[1], msg)
        ws.send_frame(OP_TEXT, b'second')
        assert ws.recv_message() == (OP_TEXT, b'second'), f'{path}: second'
        assert ws.close() == (1000, b''), f'{path}: close'


@pytest.mark.parametrize('path', PATHS)
def test_ws_170_02_websockets_client(httpd, path):
    msgs = ['x' * 50000, os.urandom(70000), bytes(70000), 'short']
    got = run(exchange(
        lambda: ws_client(httpd, path, extra_headers=GZIP), msgs))
    for g, m in zip(got, msgs):
        assert g == m, f'{path}: echo of {type(m).__name__} {len(m)} differs'
