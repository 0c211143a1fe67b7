"""220: configuration mistakes stop httpd with a message saying what is
wrong: `apache2 -t` (the config test) and a real start both fail."""

import subprocess

import pytest

from httpd import Httpd


def location(*lines):
    body = '\n'.join(f'    {line}' for line in lines)
    return f'<Location /x>\n{body}\n</Location>\n'


BAD = {
    'unknown-handler': (location('WebSocketHandler nosuch'), ['nosuch']),
    'size-suffix': (location('WebSocketHandler echo',
                             'WebSocketMaxMessageSize 10abc'),
                    ['WebSocketMaxMessageSize', '10abc']),
    'size-negative': (location('WebSocketHandler echo',
                               'WebSocketMaxMessageSize -1'),
                      ['WebSocketMaxMessageSize', '-1']),
    'size-zero': (location('WebSocketHandler echo',
                           'WebSocketMaxMessageSize 0'),
                  ['WebSocketMaxMessageSize']),
    'size-empty-number': (location('WebSocketHandler echo',
                                   'WebSocketMaxFrameSize K'),
                          ['WebSocketMaxFrameSize']),
    'size-overflow': (location('WebSocketHandler echo',
                               'WebSocketMaxMessageSize '
                               '99999999999999999999999'),
                      ['WebSocketMaxMessageSize']),
    'origin-check': (location('WebSocketHandler echo',
                              'WebSocketOriginCheck Maybe'),
                     ['WebSocketOriginCheck']),
    'trusted-origin': (location('WebSocketHandler echo',
                                'WebSocketTrustedOrigin good.example'),
                       ['WebSocketTrustedOrigin', 'good.example']),
    'trusted-origin-path': (location('WebSocketHandler echo',
                                     'WebSocketTrustedOrigin '
                                     'https://good.example/path'),
                            ['WebSocketTrustedOrigin']),
    'handler-no-arg': (location('WebSocketHandler'), ['WebSocketHandler']),
}


@pytest.mark.parametrize('case', sorted(BAD))
def test_ws_220_01_configtest_fails(cfg, case):
    conf, words = BAD[case]
    rc, out = cfg.configtest(conf)
    assert rc != 0, f'{case}: apache2 -t accepted:\n{conf}\n{out}'
    assert 'Syntax OK' not in out, f'{case}: apache2 -t said Syntax OK:\n{out}'
    for w in words:
        assert w in out, f'{case}: the message does not name {w!r}:\n{out}'


def test_ws_220_02_start_fails_unknown_handler(server_workdir, mpm):
    """Starting with an unknown handler fails and the log names it."""
    h = Httpd(server_workdir(f'nosuch-{mpm}'), mpm=mpm, name=f'nosuch-{mpm}',
              extra_conf=location('WebSocketHandler nosuch'))
    h.write_conf()
    p = subprocess.run([h.config['httpd'], '-f', h.conf_path,
                        '-DFOREGROUND'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20,
                       start_new_session=True)
    out = p.stdout.decode('utf-8', 'replace')
    log = '\n'.join(h.error_log_lines_since(0))
    assert p.returncode != 0, f'apache2 started with WebSocketHandler ' \
                              f'nosuch:\n{out}\n{log}'
    assert 'nosuch' in out + log, f'no message naming nosuch:\n{out}\n{log}'


@pytest.mark.parametrize('conf', [
    location('WebSocketHandler echo', 'WebSocketMaxMessageSize 16M',
             'WebSocketMaxFrameSize 64K', 'WebSocketOriginCheck off',
             'WebSocketTrustedOrigin https://a.example http://b.example:81'),
    location('WebSocketHandler increment', 'WebSocketMaxMessageSize 1',
             'WebSocketOriginCheck Trusted'),
    'WebSocketMaxMessageSize 1G\n' + location('WebSocketHandler test'),
], ids=['all', 'minimal', 'server-wide'])
def test_ws_220_03_configtest_ok(cfg, conf):
    """Control: valid values pass."""
    rc, out = cfg.configtest(conf)
    assert rc == 0 and 'Syntax OK' in out, f'valid config refused:\n' \
                                           f'{conf}\n{out}'
