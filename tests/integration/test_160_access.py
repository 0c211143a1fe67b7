"""160: httpd's access control (Require, Basic auth) decides before the
upgrade; the handler sees the authenticated user (conf/160_access.conf).
Over every transport: HTTP/1.1, TLS, h2c and h2 (via)."""

import pytest

from wsit import (ask, connect, refused, get, http_request,
                  handshake_request, basic, USERS, Via)


@pytest.mark.expect_log('AH01630')     # client denied by server configuration
def test_ws_160_01_require_all_denied(httpd):
    for name in ('tls', 'h2'):
        if name == 'h2' and httpd.mpm == 'prefork':
            continue        # no mod_http2 under prefork
        e = refused(Via(httpd, name), '/denied')
        assert e.status == 403, f'/denied over {name}: got {e.status}'
    e = refused(httpd, '/denied')
    assert e.status == 403, f'/denied: expected 403, got {e.status}'
    r = http_request(httpd.port, handshake_request(httpd, '/denied'))
    assert r.status == 403, f'/denied raw: expected 403:\n{r.head}'
    r = get(httpd, '/denied')
    assert r.status == 403, f'/denied without Upgrade:\n{r.head}'


def test_ws_160_02_auth_required(via, htpasswd):
    e = refused(via, '/auth')
    assert e.status == 401, f'/auth without credentials: {e.status}'
    assert e.headers.get('www-authenticate', '').startswith('Basic'), \
        f'401 without a Basic challenge: {e.headers}'


@pytest.mark.parametrize('user', sorted(USERS))
def test_ws_160_03_auth_ok(via, htpasswd, user):
    password = USERS[user][0]
    with connect(via, '/auth', headers=basic(user, password)) as ws:
        assert ask(ws, 'user') == user, f'r->user for {user}'
        assert ws.close() == (1000, b''), \
            f'close of /auth as {user}'


@pytest.mark.expect_log('AH01617')     # authentication failure
def test_ws_160_04_auth_wrong_password(via, htpasswd):
    e = refused(via, '/auth', headers=basic('alice', 'wrong'))
    assert e.status == 401, f'/auth with a wrong password: {e.status}'


def test_ws_160_05_no_user_without_auth(httpd):
    with connect(httpd, '/test') as ws:
        assert ask(ws, 'user') == '-', 'r->user without authentication'
