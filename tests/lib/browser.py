"""browser: run headless Chromium on a site's demo pages and judge what it
saw (tests/browser/run.mjs, playwright-core driving Debian's chromium).

    got = run_chromium('https://127.0.0.1:8443')
    assert_pages_work(got)
"""

import json
import os
import subprocess
import time

__all__ = ['CHROMIUM', 'run_chromium', 'assert_pages_work', 'OPENED',
           'logged_upgrades']

CHROMIUM = '/usr/bin/chromium'
BROWSER_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'browser')


def run_chromium(base, resolve=None):
    """What run.mjs saw on base (the echo page at /, the chat at /chat);
    resolve maps a host name to 127.0.0.1 for Chromium."""
    assert os.path.exists(CHROMIUM), \
        f'{CHROMIUM} missing: run scripts/install-deps (Debian chromium)'
    assert os.path.isdir(os.path.join(BROWSER_DIR, 'node_modules',
                                      'playwright-core')), \
        'playwright-core missing: run scripts/install-deps (npm ci)'
    args = ['node', os.path.join(BROWSER_DIR, 'run.mjs'), base]
    if resolve:
        args.append(resolve)
    p = subprocess.run(args, cwd=BROWSER_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=180)
    assert p.returncode == 0, f'run.mjs failed:\n{p.stderr.decode()[-3000:]}'
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def assert_pages_work(got):
    """The echo page echoed, a 1 MiB Blob came back intact, a close with
    1000 was clean, 40 WebSockets at once and 30 in a row echoed and closed
    cleanly, and two chat pages talked."""
    echo = got['echo_page']
    assert '← hello from chromium ✓' in echo.get('log', ''), echo
    blob = got['blob_and_close']
    assert blob.get('isBlob') and blob.get('size') == 1 << 20 \
        and blob.get('same'), f'1 MiB Blob: {blob}'
    assert blob['close'] == {'code': 1000, 'reason': '', 'wasClean': True}, \
        blob
    assert got['many'] == {'concurrent': 40, 'sequential': 30}, \
        f'40 at once and 30 in a row, each echoing and closing: {got["many"]}'
    chat = got['chat']
    assert 'seen' in chat, chat
    for seen in chat['seen']:
        assert 'ann: hello ben' in seen and 'ben: hi ann' in seen, chat


# WebSockets that run.mjs opens and sees open, by path: on /echo the echo
# page's, the Blob's and the 40 + 30 of "many"; on /chat the two chat
# pages'. (Pages it does not wait for may open more.)
OPENED = {'/echo': 72, '/chat': 2}


def logged_upgrades(upgrades, timeout=60):
    """{path: access log lines} of the WebSocket upgrades of each path of
    OPENED, once there are at least as many as run.mjs opened there;
    upgrades(path) returns the lines logged so far. The server logs a
    WebSocket when it ends, which may be after Chromium is gone: wait for
    the lines, up to timeout seconds (then return what there is)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {path: upgrades(path) for path in OPENED}
        if all(len(found[p]) >= n for p, n in OPENED.items()) or \
                time.monotonic() > deadline:
            return found
        time.sleep(0.1)
