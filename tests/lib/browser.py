"""browser: run headless Chromium on a site's demo pages and judge what it
saw (tests/browser/run.mjs, playwright-core driving Debian's chromium).

    got = run_chromium('https://127.0.0.1:8443',
                       publish=http_publisher('https://127.0.0.1:8443'))
    assert_pages_work(got, events=True)
"""

import http.client
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

__all__ = ['CHROMIUM', 'run_chromium', 'http_publisher', 'assert_pages_work',
           'opened', 'logged_upgrades']

CHROMIUM = '/usr/bin/chromium'
BROWSER_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'browser')
RUN_TIMEOUT = 180


def http_publisher(base):
    """A publish(channel, body, content_type) that POSTs body to
    base/pub/CHANNEL (the demo's websocket-publish location) with
    http.client and returns the publisher's JSON answer; https:// is not
    verified (the demo's certificate is self-signed)."""
    url = urllib.parse.urlsplit(base)

    def publish(channel, body, content_type):
        if url.scheme == 'https':
            c = http.client.HTTPSConnection(
                url.hostname, url.port, timeout=20,
                context=ssl._create_unverified_context())
        else:
            c = http.client.HTTPConnection(url.hostname, url.port,
                                           timeout=20)
        try:
            c.request('POST', f'/pub/{channel}', body=body,
                      headers={'Content-Type': content_type})
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        assert r.status == 200, (r.status, data[:300])
        return json.loads(data)
    return publish


def _answer(publish, request):
    """What run.mjs asked to publish, published; the answer or an error."""
    try:
        if 'text' in request:
            return publish(request['channel'], request['text'].encode(),
                           'text/plain; charset=utf-8')
        return publish(request['channel'],
                       bytes(i % 251 for i in range(request['binary'])),
                       'application/octet-stream')
    except Exception as e:      # reported to run.mjs and judged later
        return {'error': repr(e)}


def run_chromium(base, resolve=None, publish=None):
    """What run.mjs saw on base (the echo page at /, the chat at /chat,
    and with publish, a publish(channel, body, content_type) callable, the
    events page at /events); resolve maps a host name to 127.0.0.1 for
    Chromium."""
    assert os.path.exists(CHROMIUM), \
        f'{CHROMIUM} missing: run scripts/install-deps (Debian chromium)'
    assert os.path.isdir(os.path.join(BROWSER_DIR, 'node_modules',
                                      'playwright-core')), \
        'playwright-core missing: run scripts/install-deps (npm ci)'
    args = ['node', os.path.join(BROWSER_DIR, 'run.mjs')]
    if publish:
        args.append('--events')
    args.append(base)
    if resolve:
        args.append(resolve)
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(args, cwd=BROWSER_DIR, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=err, text=True)
        # the whole run's deadline: a hung browser is killed
        watchdog = threading.Timer(RUN_TIMEOUT, p.kill)
        watchdog.start()
        lines = []
        try:
            for line in p.stdout:
                if line.startswith('PUBLISH '):
                    answer = _answer(publish, json.loads(line[8:]))
                    p.stdin.write('PUBLISHED ' + json.dumps(answer) + '\n')
                    p.stdin.flush()
                else:
                    lines.append(line)
            p.wait()
        finally:
            watchdog.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
        err.seek(0)
        stderr = err.read().decode('utf-8', 'replace')
    assert p.returncode == 0, \
        f'run.mjs failed ({p.returncode}):\n{stderr[-3000:]}'
    return json.loads(lines[-1])


def assert_pages_work(got, events=False):
    """The echo page echoed, a 1 MiB Blob came back intact, a close with
    1000 was clean, 40 WebSockets at once and 30 in a row echoed and closed
    cleanly, the echo page sent a picked file and showed the same size and
    SHA-256 coming back, two chat pages talked, and (events) the events
    page showed what was POSTed to its channel, text and binary, and the
    curl line that publishes to it."""
    echo = got['echo_page']
    assert '← hello from chromium ✓' in echo.get('log', ''), echo
    blob = got['blob_and_close']
    assert blob.get('isBlob') and blob.get('size') == 1 << 20 \
        and blob.get('same'), f'1 MiB Blob: {blob}'
    assert blob['close'] == {'code': 1000, 'reason': '', 'wasClean': True}, \
        blob
    assert got['many'] == {'concurrent': 40, 'sequential': 30}, \
        f'40 at once and 30 in a row, each echoing and closing: {got["many"]}'
    f = got['echo_file']
    assert 'error' not in f, f
    assert (f['sentSize'], f['echoSize']) == (str(f['size']),) * 2, f
    assert f['sentSha256'] == f['echoSha256'] == f['sha256'], f
    assert f['match'] == 'yes' and 'match ✓' in f['text'], f
    chat = got['chat']
    assert 'seen' in chat, chat
    for seen in chat['seen']:
        assert 'ann: hello ben' in seen and 'ben: hi ann' in seen, chat
    if events:
        ev = got['events_page']
        assert 'error' not in ev, ev
        for answer in ev['answers']:
            assert answer.get('delivered') == 1, ev
        assert ev['text'] in ev['seen'] \
            and 'binary, 4097 bytes' in ev['seen'], ev
        k = '-k ' if got['base'].startswith('https:') else ''
        assert ev['curl'] == (
            f"curl {k}-X POST -H 'Content-Type: text/plain' --data 'hello' "
            f"{got['base']}/pub/{ev['channel']}"), ev


def opened(got):
    """{path: n} of the WebSockets run.mjs opened and saw open in the run
    that gave got: on /echo the echo page's in the two steps that wait for
    it (echo_page, echo_file), the Blob's and the 40 + 30 of "many"; on
    /chat the two chat pages'; with the events page, its subscription on
    /sub/CHANNEL. (Pages it does not wait for may open more.)"""
    paths = {'/echo': 73, '/chat': 2}
    channel = got.get('events_page', {}).get('channel')
    if channel:
        paths[f'/sub/{channel}'] = 1
    return paths


def logged_upgrades(upgrades, paths, timeout=60):
    """{path: access log lines} of the WebSocket upgrades of each path of
    paths ({path: n}, see opened()), once there are at least n for each;
    upgrades(path) returns the lines logged so far. The server logs a
    WebSocket when it ends, which may be after Chromium is gone: wait for
    the lines, up to timeout seconds (then return what there is)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {path: upgrades(path) for path in paths}
        if all(len(found[p]) >= n for p, n in paths.items()) or \
                time.monotonic() > deadline:
            return found
        time.sleep(0.1)
