#!/usr/bin/python3
"""Run the conformance cases against any echo endpoint, without httpd.

    /usr/bin/python3 tests/conformance/run.py ws://127.0.0.1:PORT/echo \
        [--cases '6.*' ...] [--deflate-path /echo-deflate] [--report FILE] \
        [--list]

Categories 12 and 13 offer permessage-deflate; they run on the URL's path
unless --deflate-path names another (an echo with compression enabled).

Prints the summary table and exits 1 if any case failed.
"""

import argparse
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('url', nargs='?', help='ws://host:port/path')
    ap.add_argument('--cases', nargs='*', default=None, metavar='PATTERN',
                    help='case ids or fnmatch patterns (e.g. 6.* 7.1.?); '
                         'comma-separated lists work too')
    ap.add_argument('--deflate-path', metavar='PATH',
                    help='path of the echo endpoint with permessage-deflate '
                         'for categories 12 and 13 (default: the URL\'s)')
    ap.add_argument('--report', help='also write the table to this file')
    ap.add_argument('--list', action='store_true',
                    help='list the selected cases and exit')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='print each result as it comes')
    args = ap.parse_args(argv)

    patterns = [p for arg in (args.cases or []) for p in arg.split(',') if p]
    selected = cases.select(patterns)
    if not selected:
        ap.error(f'no case matches {patterns}')
    if args.list:
        for c in selected:
            print(f'{c.id:<9} {c.desc}\n{"":<9} expect: {c.expect}')
        return 0
    if not args.url:
        ap.error('a ws:// URL is needed')
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != 'ws' or not url.hostname:
        ap.error('only ws://host:port/path URLs are supported')
    path = (url.path or '/') + (f'?{url.query}' if url.query else '')

    t0 = time.monotonic()
    results = []
    for c in selected:
        r = cases.run_case(c, url.hostname, url.port or 80, path,
                           args.deflate_path)
        results.append(r)
        if args.verbose:
            print(f'{r.id:<9} {r.verdict:<7} {r.detail}', flush=True)
    table = cases.format_table(results, f'conformance of {args.url}')
    table += f'run time {time.monotonic() - t0:.1f} s\n'
    sys.stdout.write(table)
    if args.report:
        with open(args.report, 'w') as f:
            f.write(table)
    return 1 if any(r.verdict != 'OK' for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
