"""testca: a throwaway certificate authority for the TLS tests.

make_ca(directory) writes, with the openssl command line tool:
    ca.pem                  the test CA (clients trust it)
    server.pem, server.key  a certificate for SERVER_NAMES and 127.0.0.1,
                            signed by the CA
and returns a TestCA with those paths and ssl_context(alpn) for clients.
Existing files are reused, so one CA serves a whole test session.
"""

import os
import ssl
import subprocess

__all__ = ['TestCA', 'make_ca', 'SERVER_NAMES']

# Names the server certificate is valid for (subjectAltName).
SERVER_NAMES = ('localhost', 'ws.test', 'www.example.com')  # the last: conf-examples


class TestCA:
    def __init__(self, directory):
        self.dir = directory
        self.ca_file = os.path.join(directory, 'ca.pem')
        self.cert_file = os.path.join(directory, 'server.pem')
        self.key_file = os.path.join(directory, 'server.key')

    def ssl_context(self, alpn=None):
        """A client context trusting only the test CA; alpn: a list of
        protocols to offer (e.g. ['h2'])."""
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


def _openssl(*args, cwd):
    p = subprocess.run(('openssl',) + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise RuntimeError(f'openssl {" ".join(args)}: {p.stdout.decode()}')


def make_ca(directory):
    ca = TestCA(directory)
    if os.path.exists(ca.cert_file):
        return ca
    os.makedirs(directory, exist_ok=True)
    _openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30',
             '-subj', '/CN=mod_websocket test CA', '-keyout', 'ca.key',
             '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=directory)
    _openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes',
             '-subj', '/CN=localhost', '-keyout', 'server.key',
             '-out', 'server.csr', cwd=directory)
    san = ','.join([f'DNS:{n}' for n in SERVER_NAMES] + ['IP:127.0.0.1'])
    with open(os.path.join(directory, 'server.ext'), 'w') as f:
        f.write(f'subjectAltName={san}\n'
                'extendedKeyUsage=serverAuth\n'
                'basicConstraints=CA:FALSE\n')
    _openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem',
             '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30',
             '-extfile', 'server.ext', '-out', 'server.pem', cwd=directory)
    for name in ('server.pem', 'ca.pem'):
        os.chmod(os.path.join(directory, name), 0o644)
    return ca
