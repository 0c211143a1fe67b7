"""pytest setup shared by tests/integration and tests/conformance.

- tests/lib is put on sys.path (httpd.py, wsraw.py);
- --mpm selects the MPMs (comma list, default event,worker,prefork): a test
  or fixture that takes the fixture ``mpm`` runs once per MPM (session
  scope, so the tests of one MPM run together and share its server);
- ``server_workdir(name)`` makes a work directory for an Httpd under one
  session directory in /tmp, removed at the end unless a test failed or
  --keep-workdir was given;
- after every test, the error log of every running Httpd must be free of
  lines at level error or worse and of child crashes (Httpd.
  check_error_log). A test that provokes such lines declares their tags:
  @pytest.mark.expect_log('AH01630', 'WS00012'), or at run time
  ``expect_log('AH01617')`` through the fixture of that name.
"""

import os
import shutil
import sys
import tempfile

import pytest

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib')
if LIB not in sys.path:
    sys.path.insert(0, LIB)

from httpd import Httpd, MPMS  # noqa: E402

EXPECTED_LOGNOS = pytest.StashKey[list]()


def pytest_addoption(parser):
    group = parser.getgroup('mod_websocket')
    group.addoption('--mpm', default=','.join(MPMS),
                    help='comma list of the MPMs to test with '
                         f'(default {",".join(MPMS)})')
    group.addoption('--keep-workdir', action='store_true',
                    help='keep the servers\' work directories (config, '
                         'logs) even when every test passed')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'expect_log(*tags): error log tags (AH01630, WS00012) '
                   'this test provokes on purpose')
    config.addinivalue_line(
        'markers', 'slow: takes several seconds (idle timeouts)')
    mpms = selected_mpms(config)
    bad = [m for m in mpms if m not in MPMS]
    if bad:
        raise pytest.UsageError(f'--mpm: unknown MPM(s) {bad}; use {MPMS}')


def selected_mpms(config):
    return [m.strip() for m in config.getoption('--mpm').split(',')
            if m.strip()]


@pytest.fixture(scope='session', params=MPMS)
def mpm(request):
    """The MPM under test; the ones not chosen with --mpm are deselected.
    (A real fixture, not pytest_generate_tests: directly parametrized
    session arguments are not shared between test functions, and every
    test would restart the server.)"""
    return request.param


@pytest.fixture(scope='session')
def mpms(request):
    """The list of MPMs chosen with --mpm (for fixtures that set up all of
    them at once)."""
    return selected_mpms(request.config)


def pytest_collection_modifyitems(config, items):
    """Deselect the MPMs not chosen with --mpm, and under prefork every
    transport of tests/integration's ``via`` but tcp (mod_http2 does not
    run there, and TLS takes the blocking runner as under worker)."""
    chosen = selected_mpms(config)
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, 'callspec', None), 'params', {})
        if ('mpm' in params and params['mpm'] not in chosen) or \
                (params.get('mpm') == 'prefork'
                 and params.get('via', 'tcp') != 'tcp'):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope='session')
def server_workdir(request):
    """server_workdir(name) -> a fresh directory www-data can read."""
    root = tempfile.mkdtemp(prefix='mws-tests-')
    os.chmod(root, 0o755)
    made = []

    def make(name):
        d = tempfile.mkdtemp(prefix=f'{name}-', dir=root)
        os.chmod(d, 0o755)
        made.append(d)
        return d

    yield make
    keep = request.config.getoption('--keep-workdir')
    if keep or request.session.testsfailed:
        print(f'\nserver work directories (config, logs) kept in {root}')
    else:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def expect_log(request):
    """expect_log(*tags): the running test provokes error log lines with
    these tags on purpose."""
    tags = request.node.stash.setdefault(EXPECTED_LOGNOS, [])

    def add(*more):
        tags.extend(more)
    return add


@pytest.fixture(autouse=True)
def _check_error_logs(request):
    """No error (or worse) and no crash in any running server's error log
    during the test, except the tags the test declared."""
    for h in Httpd.live():
        h.mark()
    yield
    tags = list(request.node.stash.get(EXPECTED_LOGNOS, []))
    for m in request.node.iter_markers('expect_log'):
        tags.extend(m.args)
    problems = []
    for h in Httpd.live():
        bad = h.check_error_log(ignore_lognos=tags)
        if bad:
            problems.append(f'{h!r}:\n  ' + '\n  '.join(bad))
    if problems:
        pytest.fail('unexpected lines in the error log (declare provoked '
                    'ones with @pytest.mark.expect_log):\n'
                    + '\n'.join(problems), pytrace=False)
