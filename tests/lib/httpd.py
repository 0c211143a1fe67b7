"""httpd: a private apache2 with mod_websocket loaded, for the test suites.

Each Httpd owns one work directory (config, docroot, logs, pid file) and
runs the real server found by configure (tests/config.ini) on a loopback
port picked at runtime, so parallel runs never collide:

    from httpd import Httpd
    h = Httpd(Httpd.make_workdir('conf-'), mpm='event', extra_conf='''
        <Location /chat>
            WebSocketHandler echo
        </Location>''')
    h.start()
    ...  ws://127.0.0.1:{h.port}/echo  (h.ws_url('/echo'))
    assert h.check_error_log() == []
    h.stop()

The server runs in the foreground (-DFOREGROUND) as a child process of the
caller, in a session of its own, so its main PID is known for sure; stop()
signals only that PID and then waits for the child processes it had,
killing leftovers by their PIDs.

API (stable; tests/integration and tests/conformance use it):
    Httpd(workdir, mpm='event', extra_conf='', name='ws', loglevel=None,
          tls=False, h2=False, load_modules=True)
    .port .host .base_url .origin .ws_url(path) .url(path) .workdir
    .tls_port .ca (testca.TestCA) .wss_url(path)   (tls=True)
    .docroot .conf_path .error_log .access_log (paths) .pid .running
    .start()  .stop(timeout=20, check=True)  .graceful_stop(timeout=15)
    .restart(extra_conf=None, graceful=False)
    .configtest(extra_conf=None) -> (returncode, output)   (apache2 -t)
    .mark()  .error_log_lines_since(mark=None)
    .check_error_log(ignore_lognos=(), mark=None) -> [unexpected lines]
    .access_log_entries() .access_log_for(test_id, count=1, timeout=20)
    .cleanup()   Httpd.make_workdir(prefix)   Httpd.live()
The log level is "info websocket:debug", or $MWS_TEST_LOGLEVEL (e.g.
"info websocket:trace3") when set.

Every config loads mod_websocket and every handler module built in the
tree (handlers/.libs/mod_websocket_NAME.so whose source registers a
WebSocket handler; those extra_conf loads itself are left to it), and has
the default locations

    <Location /echo>       WebSocketHandler echo      </Location>
    <Location /increment>  WebSocketHandler increment </Location>
    <Location /test>       WebSocketHandler test      </Location>

(/test only when the test-only handler module has been built; none of
this with load_modules=False, whose extra_conf loads the modules), a docroot
with index.html (so GET / answers 200) and a file "echo" ("echo page"), so
a GET /echo without Upgrade is served as if the module were not there.
tls=True adds a TLS vhost (ServerName localhost) on tls_port with a
certificate of a test CA (tests/lib/testca.py) that inherits all of the
above; h2=True loads mod_http2 with H2WebSockets on (h2c with prior
knowledge on port, h2 by ALPN on tls_port).
extra_conf is appended; ${workdir}, ${docroot}, ${port}, ${logs} and
${host} in it are substituted (string.Template, so write $$ for a literal
$).

Access log lines are tab-separated (see ACCESS_FIELDS) and end with the
request's X-Test-Id header, so a test can find the line of its own request.

Error log checks: mark() remembers the log's end; check_error_log() returns
the lines since the last mark at level error or worse ([x:error], [x:crit],
[x:alert], [x:emerg]) and every child crash (AH00051/AH00052), minus those
naming a tag in ignore_lognos (e.g. 'WS00012', 'AH01630'). Client protocol
violations are logged by the module at INFO and never show up here.
"""

import atexit
import configparser
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
import weakref

from procs import children_of
from testca import make_ca

__all__ = ['Httpd', 'HttpdError', 'load_config', 'free_port',
           'ACCESS_FIELDS', 'MPMS']

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MPMS = ('event', 'worker', 'prefork')

# Fields of an access log line, in order (LogFormat "wstest" below).
ACCESS_FIELDS = ('client', 'user', 'time', 'request', 'status', 'bytes',
                 'duration_us', 'bytes_in', 'bytes_out', 'protocol',
                 'test_id')

# httpd modules the configs use (all shared objects in Debian's apache2,
# except log_config/logio/unixd, which are compiled in).
STD_MODULES = ('authz_core', 'authz_host', 'authz_user', 'authn_core',
               'authn_file', 'auth_basic', 'mime', 'dir', 'reqtimeout',
               'deflate', 'filter', 'headers', 'setenvif', 'status')

MPM_CONF = {
    'event': """
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 5
MaxSpareThreads 50
MaxConnectionsPerChild 0
""",
    'worker': """
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 5
MaxSpareThreads 50
MaxConnectionsPerChild 0
""",
    'prefork': """
StartServers 2
MinSpareServers 2
MaxSpareServers 10
ServerLimit 40
MaxRequestWorkers 40
MaxConnectionsPerChild 0
""",
}

CONF_TEMPLATE = """\
# Written by tests/lib/httpd.py for one test server ($name, mpm $mpm).
ServerRoot "$workdir"
DefaultRuntimeDir "$workdir/run"
PidFile "$workdir/run/httpd.pid"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
$user_group
LoadModule mpm_${mpm}_module "$libexecdir/mod_mpm_${mpm}.so"
$std_modules
$mpm_conf
TypesConfig "$workdir/conf/mime.types"
ErrorLog "$workdir/logs/error_log"
LogLevel $loglevel
LogFormat "%h\\t%u\\t%t\\t%r\\t%>s\\t%b\\t%D\\t%I\\t%O\\t%H\\t%{X-Test-Id}i" \\
    wstest
CustomLog "$workdir/logs/access_log" wstest
DocumentRoot "$workdir/htdocs"
DirectoryIndex index.html
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$workdir/htdocs">
    Require all granted
</Directory>
Timeout 30
KeepAliveTimeout 5

$websocket_conf
$protocol_conf
# ---- extra configuration ----
$extra_conf
"""

MIME_TYPES = """\
text/html html htm
text/plain txt
text/css css
application/javascript js
application/json json
"""


class HttpdError(Exception):
    """The server did not start, restart or stop as asked."""


def load_config(path=None):
    """[global] of tests/config.ini (written by configure), with defaults
    for a tree where configure has not run yet."""
    path = path or os.path.join(TESTS_DIR, 'config.ini')
    conf = {
        'httpd': '/usr/sbin/apache2',
        'apxs': '/usr/bin/apxs',
        'libexecdir': '/usr/lib/apache2/modules',
        'top_builddir': os.path.dirname(TESTS_DIR),
        'top_srcdir': os.path.dirname(TESTS_DIR),
    }
    if os.path.exists(path):
        cp = configparser.ConfigParser(interpolation=None)
        cp.read(path)
        if cp.has_section('global'):
            conf.update({k: v for k, v in cp.items('global') if v})
    return conf


def free_port(host='127.0.0.1'):
    """A TCP port free on host right now (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return False
    # the state follows the parenthesised command name
    return stat[stat.rfind(')') + 2:][:1] not in ('Z', 'X', '')


def _children_of(ppid):
    """PIDs of the live processes whose parent is ppid."""
    return children_of(ppid)


_ERROR_RE = re.compile(r'\] \[[\w.-]*:(error|crit|alert|emerg)\] ')
_CRASH_RE = re.compile(r'AH0005[12]:')


class Httpd:
    """One private apache2 with mod_websocket; see the module docstring."""

    _live = weakref.WeakSet()

    def __init__(self, workdir, mpm='event', extra_conf='', name='ws',
                 loglevel=None, config=None, tls=False, h2=False,
                 load_modules=True):
        if mpm not in MPM_CONF:
            raise ValueError(f'unknown mpm {mpm!r}, use one of {MPMS}')
        self.config = config or load_config()
        self.workdir = os.path.abspath(workdir)
        self.mpm = mpm
        self.name = name
        self.extra_conf = extra_conf
        self.loglevel = (loglevel or os.environ.get('MWS_TEST_LOGLEVEL')
                         or 'info websocket:debug')
        self.host = '127.0.0.1'
        self.port = free_port(self.host)
        self.h2 = h2
        self.load_modules = load_modules
        self.tls_port = free_port(self.host) if tls else None
        # one CA for all servers of a session (their workdirs' parent)
        self.ca = (make_ca(os.path.join(os.path.dirname(self.workdir),
                                        'testca')) if tls else None)
        self.conf_path = os.path.join(self.workdir, 'conf', 'httpd.conf')
        self.docroot = os.path.join(self.workdir, 'htdocs')
        self.logs_dir = os.path.join(self.workdir, 'logs')
        self.error_log = os.path.join(self.logs_dir, 'error_log')
        self.access_log = os.path.join(self.logs_dir, 'access_log')
        self.pid_file = os.path.join(self.workdir, 'run', 'httpd.pid')
        self.stderr_path = os.path.join(self.logs_dir, 'stderr')
        self._proc = None
        self._stderr = None
        self._mark = 0
        self._token = f'{self.name}-{os.getpid()}-{id(self):x}-{time.time()}'
        self._setup_workdir()

    # -- paths and URLs ---------------------------------------------------

    @property
    def base_url(self):
        return f'http://{self.host}:{self.port}'

    def url(self, path='/'):
        return f'{self.base_url}{path}'

    def ws_url(self, path='/echo'):
        return f'ws://{self.host}:{self.port}{path}'

    def wss_url(self, path='/echo', host='localhost'):
        """wss:// on the TLS vhost (tls=True), by a name its certificate
        has."""
        return f'wss://{host}:{self.tls_port}{path}'

    @property
    def origin(self):
        """The Origin a browser would send for a page of this server."""
        return self.base_url

    @property
    def top_builddir(self):
        return self.config['top_builddir']

    def module_path(self, name):
        """Path of a module built in the tree: 'websocket', 'test' or a
        handler module's NAME (handlers/mod_websocket_NAME.c)."""
        top = self.top_builddir
        if name == 'websocket':
            return os.path.join(top, '.libs', 'mod_websocket.so')
        if name == 'test':
            return os.path.join(top, 'tests', 'integration', '.libs',
                                'mod_websocket_test.so')
        return os.path.join(top, 'handlers', '.libs',
                            f'mod_websocket_{name}.so')

    def handler_names(self):
        """Every handler module built in the tree (handlers/.libs), by
        NAME, in name order: those whose source registers a WebSocket
        handler (WEBSOCKET_PROVIDER_GROUP). Bus modules (amqp) are left to
        the configurations that name a broker."""
        pattern = os.path.join(self.top_builddir, 'handlers', '.libs',
                               'mod_websocket_*.so')
        names = []
        for so in sorted(glob.glob(pattern)):
            name = os.path.basename(so)[len('mod_websocket_'):-len('.so')]
            src = os.path.join(self.config['top_srcdir'], 'handlers',
                               f'mod_websocket_{name}.c')
            try:
                with open(src, encoding='utf-8') as f:
                    if 'WEBSOCKET_PROVIDER_GROUP' in f.read():
                        names.append(name)
            except FileNotFoundError:
                pass            # left over from a handler since removed
        return names

    @property
    def has_test_module(self):
        return os.path.exists(self.module_path('test'))

    @staticmethod
    def make_workdir(prefix='mws-httpd-', parent=None):
        """A fresh directory that www-data can read (under /tmp unless told
        otherwise; pytest's own tmp dirs are 0700 and so unusable)."""
        d = tempfile.mkdtemp(prefix=prefix, dir=parent)
        os.chmod(d, 0o755)
        return d

    # -- config ---------------------------------------------------------------

    def _setup_workdir(self):
        for d in ('', 'conf', 'htdocs', 'logs', 'run'):
            os.makedirs(os.path.join(self.workdir, d), exist_ok=True)
            os.chmod(os.path.join(self.workdir, d), 0o755)
        self._write(os.path.join(self.workdir, 'conf', 'mime.types'),
                    MIME_TYPES)
        self._write(os.path.join(self.docroot, 'index.html'),
                    f'<html><body>mod_websocket test server {self._token}'
                    f'</body></html>\n')
        # GET /echo without Upgrade is served from here
        self._write(os.path.join(self.docroot, 'echo'), 'echo page\n')
        if os.geteuid() == 0:
            self._check_traversable()

    def _check_traversable(self):
        """Children run as www-data: every ancestor must be searchable.

        pytest's tmp dirs (/tmp/pytest-of-root/pytest-N/...) are 0700: our
        own directories under the temp dir get o+x (search, not listing);
        pytest puts its root back to 0700 at its next session anyway."""
        tmp = os.path.realpath(tempfile.gettempdir())
        path = os.path.realpath(self.workdir)
        while path != '/':
            st = os.stat(path)
            if not st.st_mode & 0o001:
                if st.st_uid == os.geteuid() and path.startswith(tmp + '/'):
                    os.chmod(path, (st.st_mode & 0o7777) | 0o011)
                else:
                    raise HttpdError(
                        f'{path} is not searchable by others, so www-data '
                        f'cannot read {self.workdir}; use '
                        f'Httpd.make_workdir()')
            path = os.path.dirname(path)

    @staticmethod
    def _write(path, text):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o644)

    def subst(self, text):
        """${workdir}, ${docroot}, ${port}, ${logs}, ${host} substituted in
        text."""
        return string.Template(text).safe_substitute(
            workdir=self.workdir, docroot=self.docroot, port=self.port,
            logs=self.logs_dir, host=self.host)

    def conf_text(self, extra_conf=None):
        """The whole config for this server with extra_conf (default: the
        one given to the constructor) appended."""
        extra = self.extra_conf if extra_conf is None else extra_conf
        lib = self.config['libexecdir']
        std = '\n'.join(f'LoadModule {m}_module "{lib}/mod_{m}.so"'
                        for m in STD_MODULES)
        return string.Template(CONF_TEMPLATE).substitute(
            name=self.name, mpm=self.mpm, workdir=self.workdir,
            port=self.port, user_group=self._user_group(), libexecdir=lib,
            std_modules=std, mpm_conf=MPM_CONF[self.mpm],
            loglevel=self.loglevel,
            websocket_conf=(self._websocket_conf(extra) if self.load_modules
                            else '# mod_websocket: loaded by the extra '
                                 'configuration'),
            protocol_conf=self._protocol_conf(),
            extra_conf=self.subst(extra))

    @staticmethod
    def _user_group():
        if os.geteuid() != 0:
            return ''
        try:
            pwd.getpwnam('www-data')
            return 'User www-data\nGroup www-data'
        except KeyError:
            return 'User nobody\nGroup nogroup'

    def _websocket_conf(self, extra):
        """mod_websocket and every handler module built in the tree (but
        those the extra configuration loads itself, unless only where
        <IfModule !...> finds them missing), and the default locations."""
        handlers = [f'LoadModule websocket_module '
                    f'"{self.module_path("websocket")}"']
        for name in self.handler_names():
            module = f'websocket_{name}_module'
            if (f'LoadModule {module} ' not in extra
                    or f'<IfModule !{module}>' in extra):
                handlers.append(f'LoadModule {module} '
                                f'"{self.module_path(name)}"')
        test_location = ''
        if self.has_test_module:
            handlers.append(f'LoadModule websocket_test_module '
                            f'"{self.module_path("test")}"')
            test_location = ('<Location /test>\n'
                             '    WebSocketHandler test\n'
                             '</Location>\n')
        return '\n'.join(
            ['# mod_websocket and its handlers, as built in the tree']
            + handlers
            + ['<Location /echo>', '    WebSocketHandler echo', '</Location>',
               '<Location /increment>', '    WebSocketHandler increment',
               '</Location>', test_location])

    def _protocol_conf(self):
        """mod_http2 (h2=True: h2c with prior knowledge on the plain port,
        h2 on the TLS one, WebSockets over both) and a TLS vhost on
        tls_port (tls=True) that inherits every <Location> above."""
        lib = self.config['libexecdir']
        conf = []
        if self.h2:
            conf += [f'LoadModule http2_module "{lib}/mod_http2.so"',
                     'Protocols h2c http/1.1', 'H2Direct on',
                     'H2WebSockets on']
        if self.tls_port:
            conf += [f'LoadModule ssl_module "{lib}/mod_ssl.so"',
                     f'LoadModule socache_shmcb_module '
                     f'"{lib}/mod_socache_shmcb.so"',
                     f'Listen {self.host}:{self.tls_port} https',
                     f'SSLSessionCache "shmcb:{self.workdir}/run/'
                     f'ssl_scache(512000)"',
                     f'<VirtualHost {self.host}:{self.tls_port}>',
                     '    ServerName localhost',
                     '    SSLEngine on',
                     f'    SSLCertificateFile "{self.ca.cert_file}"',
                     f'    SSLCertificateKeyFile "{self.ca.key_file}"']
            if self.h2:
                conf.append('    Protocols h2 http/1.1')
            conf.append('</VirtualHost>')
        return '\n'.join(conf)

    def write_conf(self, extra_conf=None, path=None):
        """Write the config (to conf/httpd.conf unless path is given) and
        return its path."""
        path = path or self.conf_path
        self._write(path, self.conf_text(extra_conf))
        return path

    def configtest(self, extra_conf=None):
        """Run `apache2 -t` on the config with extra_conf (in a file of its
        own; the running config is left alone). Returns (returncode,
        output): stdout and stderr together."""
        fd, path = tempfile.mkstemp(prefix='configtest-', suffix='.conf',
                                    dir=os.path.join(self.workdir, 'conf'))
        os.close(fd)
        self.write_conf(extra_conf, path)
        p = subprocess.run([self.config['httpd'], '-t', '-f', path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30, env=self._env())
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    @staticmethod
    def _env():
        env = dict(os.environ)
        # Debian's apachectl variables are not used by our configs; a
        # stray APACHE_* must not change anything either.
        for k in list(env):
            if k.startswith('APACHE_'):
                del env[k]
        return env

    # -- lifecycle ----------------------------------------------------------

    @property
    def pid(self):
        """PID of the main (parent) process, or None if not running."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return None

    @property
    def running(self):
        return self.pid is not None

    def start(self, timeout=15):
        """Write the config, start the server and wait until it answers
        GET / with 200 and this server's own index page. Raises HttpdError
        with the server's messages if it does not come up. If the port was
        taken meanwhile, a new one is picked (up to 3 times)."""
        if self.running:
            raise HttpdError(f'{self.name} is already running')
        for attempt in range(3):
            try:
                return self._start(timeout)
            except HttpdError as e:
                if 'could not bind' not in str(e) or attempt == 2:
                    raise
                self.port = free_port(self.host)

    def _start(self, timeout):
        self.write_conf()
        rc, out = self.configtest()
        if rc != 0:
            raise HttpdError(f'{self.name}: config test failed:\n{out}')
        # startup lines are checked by the first check_error_log()
        self._mark = self._log_size()
        if os.path.exists(self.pid_file):
            os.unlink(self.pid_file)
        self._stderr = open(self.stderr_path, 'ab')
        self._proc = subprocess.Popen(
            [self.config['httpd'], '-f', self.conf_path, '-DFOREGROUND'],
            stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=self._stderr, env=self._env(),
            # its own session: at shutdown the MPMs signal their whole
            # process group (prefork: killpg), which must not be ours
            start_new_session=True)
        Httpd._live.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                self._close_stderr()
                Httpd._live.discard(self)
                raise HttpdError(
                    f'{self.name}: apache2 exited with {self._proc.returncode}'
                    f' at startup:\n{self._startup_messages()}')
            if self._answers():
                return self
            if time.monotonic() > deadline:
                msgs = self._startup_messages()
                self.stop(check=False)
                raise HttpdError(f'{self.name}: no answer on port {self.port}'
                                 f' within {timeout}s:\n{msgs}')
            time.sleep(0.05)

    def _answers(self):
        """True if GET / gets a 200 with our index page (not some other
        server's that took the port) right now."""
        try:
            with socket.create_connection((self.host, self.port),
                                          timeout=2) as s:
                s.sendall(b'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')
                data = b''
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return (data.startswith(b'HTTP/1.1 200')
                        and self._token.encode() in data)
        except OSError:
            return False

    def _startup_messages(self):
        out = []
        for path in (self.stderr_path, self.error_log):
            try:
                with open(path, errors='replace') as f:
                    out.append(f'--- {path}:\n' + ''.join(f.readlines()[-30:]))
            except OSError:
                pass
        return '\n'.join(out)

    def _close_stderr(self):
        if self._stderr:
            self._stderr.close()
            self._stderr = None

    def stop(self, timeout=20, check=True):
        """Stop the server (SIGTERM to its main PID, what `-k stop` does) and
        wait until the main process and every child it had are gone. Left
        over children are killed by PID and reported (HttpdError) when
        check is true."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        leftovers = []
        if proc.poll() is None:
            kids = set(_children_of(proc.pid))
            proc.send_signal(signal.SIGTERM)
            grace = 5
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                leftovers.append(proc.pid)
                grace = 0.5     # the children are as stuck as their parent
            deadline = time.monotonic() + grace
            while any(_proc_alive(k) for k in kids) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            for k in kids:
                if _proc_alive(k):
                    leftovers.append(k)
                    try:
                        os.kill(k, signal.SIGKILL)
                    except OSError:
                        pass
        self._close_stderr()
        Httpd._live.discard(self)
        if check and leftovers:
            raise HttpdError(f'{self.name}: processes still alive after stop '
                             f'(killed): {leftovers}')

    def graceful_stop(self, timeout=15):
        """Graceful stop (SIGWINCH, what `-k graceful-stop` does): children
        finish their connections, then everything exits. Returns the
        seconds it took; on timeout the server is stopped hard and
        HttpdError raised."""
        if not self.running:
            raise HttpdError(f'{self.name} is not running')
        kids = set(_children_of(self._proc.pid))
        t0 = time.monotonic()
        self._proc.send_signal(signal.SIGWINCH)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(timeout=3, check=False)
            raise HttpdError(f'{self.name}: graceful stop not done in '
                             f'{timeout}s (stopped hard)') from None
        deadline = time.monotonic() + 5
        while any(_proc_alive(k) for k in kids) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - t0
        leftovers = [k for k in kids if _proc_alive(k)]
        for k in leftovers:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        self.stop()         # the main process is gone: just the bookkeeping
        if leftovers:
            raise HttpdError(f'{self.name}: children still alive after a '
                             f'graceful stop (killed): {leftovers}')
        return took

    def restart(self, extra_conf=None, graceful=False, timeout=15):
        """Rewrite the config (with extra_conf if given) and restart: SIGHUP
        (hard) or SIGUSR1 (graceful). Waits until the new generation logs
        that it resumed operations and answers. A config that fails the
        config test raises HttpdError and leaves the server as it was."""
        if not self.running:
            raise HttpdError(f'{self.name} is not running')
        if extra_conf is not None:
            rc, out = self.configtest(extra_conf)
            if rc != 0:
                raise HttpdError(f'{self.name}: config test failed:\n{out}')
            self.extra_conf = extra_conf
        self.write_conf()
        resumed = self._count_in_log('resuming normal operations')
        self._proc.send_signal(signal.SIGUSR1 if graceful else signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while (self._count_in_log('resuming normal operations') <= resumed
               or not self._answers()):
            if self._proc.poll() is not None:
                raise HttpdError(f'{self.name}: apache2 exited at restart:\n'
                                 f'{self._startup_messages()}')
            if time.monotonic() > deadline:
                raise HttpdError(f'{self.name}: restart not done in {timeout}s'
                                 f':\n{self._startup_messages()}')
            time.sleep(0.05)
        return self

    def _count_in_log(self, needle):
        try:
            with open(self.error_log, errors='replace') as f:
                return sum(1 for line in f if needle in line)
        except OSError:
            return 0

    # -- logs -----------------------------------------------------------------

    def _log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def mark(self):
        """Remember the end of the error log; returns the mark."""
        self._mark = self._log_size()
        return self._mark

    def error_log_lines_since(self, mark=None):
        """Error log lines written after mark (default: the last mark())."""
        mark = self._mark if mark is None else mark
        try:
            with open(self.error_log, 'rb') as f:
                f.seek(mark)
                data = f.read()
        except OSError:
            return []
        return data.decode('utf-8', 'replace').splitlines()

    def check_error_log(self, ignore_lognos=(), mark=None):
        """Unexpected lines since the mark: level error or worse, and child
        crashes; lines containing one of ignore_lognos are left out."""
        bad = []
        for line in self.error_log_lines_since(mark):
            if not (_ERROR_RE.search(line) or _CRASH_RE.search(line)):
                continue
            if any(tag in line for tag in ignore_lognos):
                continue
            bad.append(line)
        return bad

    def access_log_entries(self):
        """The access log as a list of dicts (keys: ACCESS_FIELDS)."""
        try:
            with open(self.access_log, errors='replace') as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        entries = []
        for line in lines:
            fields = line.split('\t')
            entry = dict(zip(ACCESS_FIELDS, fields))
            entry['line'] = line
            entries.append(entry)
        return entries

    def access_log_for(self, test_id, count=1, timeout=20):
        """The access log entries of requests sent with header X-Test-Id:
        test_id, waiting up to timeout seconds for at least count of them
        (a WebSocket is logged when it closes), and 0.2 s more for any
        surplus ones."""
        def find():
            return [e for e in self.access_log_entries()
                    if e.get('test_id') == test_id]
        deadline = time.monotonic() + timeout
        while True:
            found = find()
            if len(found) >= count:
                time.sleep(0.2)     # a duplicate would come right after
                return find()
            if time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def __repr__(self):
        return (f'Httpd({self.name!r}, mpm={self.mpm}, port={self.port}, '
                f'workdir={self.workdir!r})')

    @classmethod
    def live(cls):
        """The servers started and not yet stopped."""
        return [h for h in list(cls._live) if h._proc is not None]

    def cleanup(self):
        """Stop (if running) and remove the work directory."""
        self.stop(check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)


@atexit.register
def _stop_all():
    """Never leave a server behind when the test process exits."""
    for h in Httpd.live():
        try:
            h.stop(check=False)
        except Exception:
            pass
