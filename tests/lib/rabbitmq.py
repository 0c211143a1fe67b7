"""rabbitmq: a private RabbitMQ node for the broker tests.

    from rabbitmq import RabbitMQ
    mq = RabbitMQ(workdir)          # tls_ca=testca.TestCA for amqps too
    mq.start()                      # waits until it accepts AMQP (pika)
    ... amqp://guest:guest@127.0.0.1:{mq.port}/   (mq.url)
    mq.stop(); mq.start()           # same data, same ports
    mq.freeze(); mq.thaw()          # a hung broker (SIGSTOP/SIGCONT)
    mq.cleanup()

The node is Debian's rabbitmq-server (3.10), run as Debian's `rabbitmq`
user (when we are root) with everything of its own under workdir/rabbit
(owned by that user): node name mwstest-<random>@localhost, mnesia, logs,
config file, an empty enabled-plugins file (no plugins: faster start), pid
file and a private Erlang cookie ($HOME points there: 3.10 reads
$HOME/.erlang.cookie and no longer takes the cookie from the
environment). It listens on 127.0.0.1 only, on ports picked free at
runtime (below the kernel's ephemeral range where there is room, so that
none is taken while the node is down): AMQP (port), TLS (tls_port, with
tls_ca) and Erlang distribution (dist_port). guest/guest may log in because we connect from loopback.

We start /usr/lib/rabbitmq/bin/rabbitmq-server directly (not the
/usr/sbin wrapper, which changes to /var/lib/rabbitmq and drops our
environment) in a session of its own; stop() sends SIGTERM to that
process, which stops the broker cleanly (rabbitmq-server's own handler),
waits, and kills the session's leftovers by PID if it must. The Erlang
port mapper (epmd) that the first node of the machine starts is shared by
every Erlang node and stays running: it is not ours to stop.
"""

import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time

from procs import session_pids

__all__ = ['RabbitMQ', 'RabbitMQError', 'SERVER']

SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'


class RabbitMQError(Exception):
    """The node did not start or stop as asked."""


def _free_port(host='127.0.0.1', below=None):
    """A port free on host now, below the ephemeral range if there is room:
    the node is stopped and started again on the same ports, and while it
    is down no outgoing connection (whose local port the kernel takes from
    that range) or other suite's bind(0) may take them."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            first = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        first = 0
    for _ in range(200 if first > 11024 else 0):
        port = random.randrange(10000, first)
        if below is not None and port >= below:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if below is None or port < below:
            return port


class RabbitMQ:
    """One private RabbitMQ node; see the module docstring."""

    def __init__(self, workdir, tls_ca=None, user='rabbitmq'):
        self.host = '127.0.0.1'
        self.dir = os.path.join(os.path.abspath(workdir), 'rabbit')
        self.node = f'mwstest-{secrets.token_hex(4)}@localhost'
        self.port = _free_port()
        self.tls_port = _free_port() if tls_ca else None
        # the CLI tools use dist_port + 10000 and up: keep them below 65535
        self.dist_port = _free_port(below=55000)
        self.tls_ca = tls_ca
        self.log_dir = os.path.join(self.dir, 'log')
        self.log_file = os.path.join(self.log_dir, f'{self.node}.log')
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam(user)
        self._proc = None
        self._setup()

    # -- setup ----------------------------------------------------------------

    @property
    def url(self):
        return f'amqp://guest:guest@{self.host}:{self.port}/'

    def tls_url(self, host='localhost'):
        return f'amqps://guest:guest@{host}:{self.tls_port}/'

    def _setup(self):
        for d in ('', 'mnesia', 'log', 'tls'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        conf = ['log.file.level = info',
                'log.console = false',
                # no disk alarm on a small test disk
                'disk_free_limit.absolute = 1MB']
        if self.tls_ca:
            for name, src in (('ca.pem', self.tls_ca.ca_file),
                              ('server.pem', self.tls_ca.cert_file),
                              ('server.key', self.tls_ca.key_file)):
                shutil.copy(src, os.path.join(self.dir, 'tls', name))
            tls = os.path.join(self.dir, 'tls')
            conf += [f'listeners.ssl.default = {self.host}:{self.tls_port}',
                     f'ssl_options.cacertfile = {tls}/ca.pem',
                     f'ssl_options.certfile = {tls}/server.pem',
                     f'ssl_options.keyfile = {tls}/server.key',
                     'ssl_options.verify = verify_none',
                     'ssl_options.fail_if_no_peer_cert = false']
        self._write('rabbitmq.conf', '\n'.join(conf) + '\n')
        self._write('enabled_plugins', '[].\n')
        cookie = os.path.join(self.dir, '.erlang.cookie')
        if not os.path.exists(cookie):
            self._write('.erlang.cookie', secrets.token_hex(16).upper())
        os.chmod(cookie, 0o400)
        if self._user:
            for root, dirs, files in os.walk(self.dir):
                for name in [root] + [os.path.join(root, f) for f in files]:
                    os.chown(name, self._user.pw_uid, self._user.pw_gid)
            # the workdir's ancestors must be searchable by that user
            path = os.path.dirname(self.dir)
            while path != '/':
                st = os.stat(path)
                if not st.st_mode & 0o001 and st.st_uid == os.geteuid():
                    os.chmod(path, (st.st_mode & 0o7777) | 0o011)
                path = os.path.dirname(path)
        os.chmod(self.dir, 0o700)

    def _write(self, name, text):
        with open(os.path.join(self.dir, name), 'w') as f:
            f.write(text)

    def _env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('RABBITMQ_', 'ERL_'))}
        env.update({
            'HOME': self.dir,
            'RABBITMQ_NODENAME': self.node,
            'RABBITMQ_NODE_IP_ADDRESS': self.host,
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(self.dist_port),
            'RABBITMQ_MNESIA_BASE': os.path.join(self.dir, 'mnesia'),
            'RABBITMQ_LOG_BASE': self.log_dir,
            'RABBITMQ_CONFIG_FILE': os.path.join(self.dir, 'rabbitmq.conf'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': os.path.join(self.dir,
                                                          'enabled_plugins'),
            'RABBITMQ_PID_FILE': os.path.join(self.dir, 'rabbit.pid'),
            'RABBITMQ_ADVANCED_CONFIG_FILE': os.path.join(self.dir,
                                                          'advanced.config'),
            'RABBITMQ_CONF_ENV_FILE': os.path.join(self.dir, 'rabbitmq-env'),
            'LC_ALL': 'C.UTF-8',
        })
        return env

    def _as_user(self):
        if not self._user:
            return {}
        return {'user': self._user.pw_uid, 'group': self._user.pw_gid,
                'extra_groups': []}

    # -- lifecycle --------------------------------------------------------------

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout=90):
        """Start the node and wait until it accepts AMQP logins; returns
        the seconds it took."""
        if self.running:
            raise RabbitMQError(f'{self.node} is already running')
        t0 = time.monotonic()
        out = open(os.path.join(self.log_dir, 'stdout'), 'ab')
        try:
            self._proc = subprocess.Popen(
                [SERVER], cwd=self.dir, env=self._env(),
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, **self._as_user())
        finally:
            out.close()
        deadline = t0 + timeout
        while not self.accepts_amqp():
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                raise RabbitMQError(f'{self.node} exited with {rc} at '
                                    f'startup:\n{self.log_tail()}'
                                    f'{self._port_users()}')
            if time.monotonic() > deadline:
                self.stop()
                raise RabbitMQError(f'{self.node} did not accept AMQP on '
                                    f'port {self.port} within {timeout}s:\n'
                                    f'{self.log_tail()}')
            time.sleep(0.2)
        return time.monotonic() - t0

    def _port_users(self):
        """What holds the node's AMQP port, for a failed start's message."""
        try:
            out = subprocess.run(['ss', '-tanpH', f'sport = :{self.port}'],
                                 capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ''
        return f'\n--- sockets on port {self.port}:\n{out or "(none)"}'

    def accepts_amqp(self):
        """True if guest can log in right now (an AMQP handshake with
        pika, not just a TCP connect: the listener opens before the node
        is ready)."""
        import pika
        try:
            conn = pika.BlockingConnection(self.parameters(
                socket_timeout=2, blocked_connection_timeout=2,
                connection_attempts=1))
        except Exception:
            return False
        conn.close()
        return True

    def parameters(self, **kw):
        """pika.ConnectionParameters for this node as guest."""
        import pika
        return pika.ConnectionParameters(
            host=self.host, port=self.port,
            credentials=pika.PlainCredentials('guest', 'guest'), **kw)

    def stop(self, timeout=60):
        """Stop the node cleanly (SIGTERM: the server script stops the
        broker as `rabbitmqctl stop` would) and wait for every process it
        started; leftovers are killed by PID. Returns the seconds it
        took."""
        if self._proc is None:
            return 0.0
        proc, self._proc = self._proc, None
        t0 = time.monotonic()
        sid = proc.pid          # start_new_session: the session id is its pid
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while True:
            left = [p for p in session_pids(sid) if p != proc.pid]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for p in session_pids(sid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        return time.monotonic() - t0

    def freeze(self):
        """SIGSTOP every process of the node: it holds its connections but
        answers nothing (a hung broker). thaw() resumes it."""
        self._signal_all(signal.SIGSTOP)

    def thaw(self):
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, sig):
        if self._proc is None:
            raise RabbitMQError(f'{self.node} is not running')
        for p in session_pids(self._proc.pid):
            try:
                os.kill(p, sig)
            except OSError:
                pass

    def ctl(self, *args, timeout=60):
        """rabbitmqctl -n NODE args..., as the node's user with its cookie;
        returns its output (stdout) and raises on failure."""
        p = subprocess.run([CTL, '-n', self.node, '-q'] + list(args),
                           cwd=self.dir, env=self._env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, **self._as_user())
        if p.returncode != 0:
            raise RabbitMQError(f'rabbitmqctl {" ".join(args)}: '
                                f'{p.stderr.decode(errors="replace")}')
        return p.stdout.decode(errors='replace')

    def log_lines(self):
        try:
            with open(self.log_file, errors='replace') as f:
                return f.read().splitlines()
        except OSError:
            return []

    def log_tail(self, n=30):
        out = []
        for path in (self.log_file, os.path.join(self.log_dir, 'stdout')):
            try:
                with open(path, errors='replace') as f:
                    out.append(f'--- {path}:\n'
                               + ''.join(f.readlines()[-n:]))
            except OSError:
                pass
        return '\n'.join(out)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __repr__(self):
        return f'RabbitMQ({self.node!r}, port={self.port})'
