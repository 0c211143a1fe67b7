"""Fixtures of the integration tests: one httpd per MPM for the session.

``httpd`` is the server of the current MPM (see --mpm in tests/conftest.py):
its config is the default one of tests/lib/httpd.py (/echo, /increment,
/test) plus every conf/*.conf of this directory, in name order, so each
topic adds the locations it needs there. pytest groups the tests by MPM,
so each server starts once and is stopped (and checked for crashes and
leftover processes) when its MPM is done.

``cfg`` is an Httpd of a test module's own that is never started: its
configtest() checks configs. ``h2d`` is a server of a test module's own
for HTTP/2: h2c with prior knowledge and WebSockets over HTTP/2 (RFC
8441), with the module's H2_CONF; event and worker only.
"""

import pytest

from httpd import Httpd
from wsit import (integration_conf, ensure_test_module, write_htpasswd,
                  assert_no_child_crashes, TRANSPORTS, Via)


@pytest.fixture(scope='session')
def httpd(mpm, server_workdir):
    """The running server of this MPM with every integration location."""
    assert ensure_test_module(), \
        'tests/integration/.libs/mod_websocket_test.so missing and make failed'
    h = Httpd(server_workdir(f'it-{mpm}'), mpm=mpm,
              extra_conf=integration_conf(), name=f'it-{mpm}', tls=True,
              h2=(mpm != 'prefork'))
    h.start()
    yield h
    h.stop()
    assert_no_child_crashes(h)


@pytest.fixture(scope='session')
def htpasswd(httpd):
    """${workdir}/htpasswd of the integration server (wsit.USERS)."""
    return write_htpasswd(httpd.workdir)


@pytest.fixture(params=TRANSPORTS)
def via(request, httpd):
    """The integration server reached over each transport (wsit.Via);
    under prefork only over tcp (tests/conftest.py deselects the rest)."""
    return Via(httpd, request.param)



@pytest.fixture(scope='module')
def h2d(request, mpm, server_workdir):
    """A server of the test module's own with h2c (prior knowledge) and
    H2WebSockets on (Httpd h2=True), its extra config the module's H2_CONF
    and its name the module's H2_NAME; not under prefork, where mod_http2
    stays inactive (AH10034)."""
    if mpm == 'prefork':
        pytest.skip('mod_http2 does not run under prefork (AH10034)')
    name = f'{request.module.H2_NAME}-{mpm}'
    h = Httpd(server_workdir(name), mpm=mpm, name=name, h2=True,
              extra_conf=request.module.H2_CONF)
    h.start()
    yield h
    h.stop()


@pytest.fixture(scope='module')
def cfg(mpm, server_workdir):
    """An Httpd that is never started: its configtest() checks configs."""
    return Httpd(server_workdir(f'config-{mpm}'), mpm=mpm,
                 name=f'config-{mpm}')
