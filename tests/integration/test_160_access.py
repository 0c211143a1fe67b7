"""160: httpd's access control (Require, Basic auth) decides before the
upgrade; the handler sees the authenticated user (conf/160_access.conf)."""

import pytest

from wsraw import OP_TEXT
from wsit import (connect, refused, get, http_request, handshake_request,
                  basic, USERS)


def ask(ws, text):
    ws.send_frame(OP_TEXT, text.encode())
    got = ws.recv_message()
    assert got is not None and got[0] == OP_TEXT, f'{text!r}: got {got!r}'
    return got[1].decode()


@pytest.mark.expect_log('AH01630')     # client denied by server configuration
def test_ws_160_01_require_all_denied(httpd):
    e = refused(httpd, '/denied')
    assert e.status == 403, f'/denied: expected 403, got {e.status}'
    r = http_request(httpd.port, handshake_request(httpd, '/denied'))
    assert r.status == 403, f'/denied raw: expected 403:\n{r.head}'
    r = get(httpd, '/denied')
    assert r.status == 403, f'/denied without Upgrade:\n{r.head}'


def test_ws_160_02_auth_required(httpd, htpasswd):
    e = refused(httpd, '/auth')
    assert e.status == 401, f'/auth without credentials: {e.status}'
    assert e.headers.get('www-authenticate', '').startswith('Basic'), \
        f'401 without a Basic challenge: {e.headers}'


@pytest.mark.parametrize('user', sorted(USERS))
def test_ws_160_03_auth_ok(httpd, htpasswd, user):
    password = USERS[user][0]
    with connect(httpd, '/auth', headers=basic(user, password)) as ws:
        assert ask(ws, 'user') == user, f'r->user for {user}'
        assert ws.close() == (1000, b''), \
            f'close of /auth as {user}'


@pytest.mark.expect_log('AH01617')     # authentication failure
def test_ws_160_04_auth_wrong_password(httpd, htpasswd):
    e = refused(httpd, '/auth', headers=basic('alice', 'wrong'))
    assert e.status == 401, f'/auth with a wrong password: {e.status}'


def test_ws_160_05_no_user_without_auth(httpd):
    with connect(httpd, '/test') as ws:
        assert ask(ws, 'user') == '-', 'r->user without authentication'
