"""Collects the conformance results and prints the Autobahn-like table.

The test module appends one cases.Result per case to the list the
``conformance_results`` fixture returns; at the end of the session the
table is written to $WS_REPORT_DIR/conformance-report.txt (or pytest's base
temporary directory) and printed in the terminal summary.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402

RESULTS = pytest.StashKey[list]()
REPORT = pytest.StashKey[tuple]()


@pytest.fixture(scope='session')
def conformance_results(request, tmp_path_factory):
    results = request.config.stash.setdefault(RESULTS, [])
    yield results
    if not results:
        return
    table = cases.format_table(results, 'mod_websocket conformance '
                               '(Autobahn categories 1-7, 9, 10, 12, 13)')
    outdir = os.environ.get('WS_REPORT_DIR') or str(
        tmp_path_factory.getbasetemp())
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, 'conformance-report.txt')
    with open(path, 'w') as f:
        f.write(table)
    request.config.stash[REPORT] = (table, path)


def pytest_terminal_summary(terminalreporter, config):
    report = config.stash.get(REPORT, None)
    if report is None:
        return
    table, path = report
    terminalreporter.section('conformance report')
    terminalreporter.write(table)
    terminalreporter.write_line(f'(written to {path})')
