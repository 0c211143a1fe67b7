"""Fixtures of the integration tests: one httpd per MPM for the session.

``httpd`` is the server of the current MPM (see --mpm in tests/conftest.py):
its config is the default one of tests/lib/httpd.py (/echo, /increment,
/test) plus every conf/*.conf of this directory, in name order, so each
topic adds the locations it needs there. pytest groups the tests by MPM,
so each server starts once and is stopped (and checked for crashes and
leftover processes) when its MPM is done.
"""

import pytest

from httpd import Httpd
from wsit import (integration_conf, ensure_test_module, write_htpasswd,
                  TRANSPORTS, Via)


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
    crashes = [line for line in h.error_log_lines_since(0)
               if 'AH00051' in line or 'AH00052' in line]
    assert not crashes, f'{h!r}: child crashes:\n' + '\n'.join(crashes)


@pytest.fixture(scope='session')
def htpasswd(httpd):
    """${workdir}/htpasswd of the integration server (wsit.USERS)."""
    return write_htpasswd(httpd.workdir)


@pytest.fixture(params=TRANSPORTS)
def via(request, httpd):
    """The integration server reached over each transport (wsit.Via);
    under prefork only over tcp (tests/conftest.py deselects the rest)."""
    return Via(httpd, request.param)

