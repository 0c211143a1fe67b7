"""wsraw: a raw RFC 6455 client for tests, able to send malformed frames.

Standard library only. Unlike a conforming client (python3-websockets) it
lets a test put any bit on the wire: reserved opcodes and RSV bits, unmasked
or non-minimally encoded frames, lying length fields, and frames written to
the socket in chops (one byte at a time, or in given sizes).

    ws = RawWS.connect('127.0.0.1', port, '/echo')
    ws.send_frame(OP_TEXT, b'Hello', split='bytewise')
    assert ws.recv_message() == (OP_TEXT, b'Hello')
    assert ws.close() == (1000, b'')

Received frames must be unmasked (RFC 6455 §5.1); a masked one is unmasked
all the same and counted in ``ws.masked_frames`` for the test to check.

permessage-deflate (RFC 7692) for raw frames: offer it with
``RawWS.connect(..., extensions='permessage-deflate')`` and build a
PerMessageDeflate from the answer; it compresses what the test sends and
inflates what comes back, with the agreed parameters:

    ws = RawWS.connect('127.0.0.1', port, '/pmd',
                       extensions='permessage-deflate')
    pmd = PerMessageDeflate.from_response(ws.response_headers)
    ws.send_frame(OP_TEXT, pmd.compress(b'Hello'), rsv=RSV1)
    assert pmd.recv_message(ws)[:2] == (OP_TEXT, b'Hello')
"""

import base64
import collections
import hashlib
import os
import re
import socket
import ssl
import struct
import time
import zlib

__all__ = ['RawWS', 'Frame', 'HandshakeError', 'TIMEOUT', 'OP_CONT',
           'OP_TEXT', 'OP_BINARY', 'OP_CLOSE', 'OP_PING', 'OP_PONG',
           'make_handshake_request', 'accept_key', 'RSV1',
           'parse_extensions', 'PerMessageDeflate', 'DeflatedMessage',
           'DEFLATE_TAIL']

# Opcodes, RFC 6455 §5.2.
OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

# The "per-message compressed" bit, RFC 7692 §6 (rsv= of send_frame).
RSV1 = 4

# RFC 6455 §1.3: the GUID hashed with Sec-WebSocket-Key.
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

# Largest response head accepted before giving up on a handshake.
MAX_HEAD = 64 * 1024

RECV_CHUNK = 256 * 1024

# How long a call waits by default for what a test expects to come (a
# frame, a close, the end of TCP, a handshake's answer): generous, since
# the tests run on loaded machines, and free when it comes in time. A test
# that checks that nothing comes passes its own, short, timeout.
TIMEOUT = 20.0

Frame = collections.namedtuple('Frame', 'fin rsv opcode payload')
Frame.__doc__ = """One received frame: fin (bool), rsv (0-7, RSV1 is 4),
opcode (int) and payload (bytes, unmasked)."""


class HandshakeError(Exception):
    """The server did not answer the upgrade with a valid 101.

    ``status`` is the HTTP status (an int, None if no status line came),
    ``headers`` a dict with lower-case names, ``body`` the response body.
    """

    def __init__(self, status, headers, body, msg=None):
        self.status = status
        self.headers = headers
        self.body = body
        super().__init__(msg or f'handshake failed: HTTP {status}')


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2 5.4)."""
    if isinstance(key, bytes):
        key = key.decode('ascii')
    digest = hashlib.sha1((key + WS_GUID).encode('ascii')).digest()
    return base64.b64encode(digest).decode('ascii')


def _header_items(headers):
    """(name, value) pairs from a dict, a list of pairs or None."""
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def headers_of(lines):
    """The header lines of an HTTP head (str, without the status line) as a
    dict: lower-case names, the values of a repeated name joined by ', '."""
    headers = {}
    for line in lines:
        name, _, value = line.partition(':')
        name = name.strip().lower()
        value = value.strip()
        headers[name] = (headers[name] + ', ' + value
                         if name in headers else value)
    return headers


def make_handshake_request(path, host, key=None, version='13',
                           upgrade='websocket', connection='Upgrade',
                           method='GET', http='HTTP/1.1', extra_headers=None):
    """The bytes of an opening handshake request (RFC 6455 §4.1).

    key=None makes a random key. Passing None for host, version, upgrade or
    connection, or False for key, leaves that header out, so a test can send
    an incomplete request. extra_headers (dict or list of pairs) follow in
    order; a value may be str (sent as UTF-8) or bytes.
    """
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode('ascii')
    lines = [f'{method} {path} {http}'.encode('utf-8')]
    fixed = [('Host', host), ('Upgrade', upgrade), ('Connection', connection),
             ('Sec-WebSocket-Key', key if key is not False else None),
             ('Sec-WebSocket-Version', version)]
    for name, value in fixed + _header_items(extra_headers):
        if value is None:
            continue
        if isinstance(value, str):
            value = value.encode('utf-8')
        lines.append(name.encode('ascii') + b': ' + value)
    return b'\r\n'.join(lines) + b'\r\n\r\n'


def _mask(key, data):
    """XOR data with the 4-byte key repeated (RFC 6455 §5.3).

    One big-integer XOR over the whole payload: fast enough for megabytes.
    """
    n = len(data)
    if n == 0:
        return b''
    stream = (key * (n // 4 + 1))[:n]
    x = int.from_bytes(data, 'big') ^ int.from_bytes(stream, 'big')
    return x.to_bytes(n, 'big')


def build_frame(opcode, payload=b'', fin=True, rsv=0, mask=True,
                length_override=None, nonminimal_len=False):
    """The wire bytes of one frame; see RawWS.send_frame for the options."""
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    payload = bytes(payload)
    length = len(payload) if length_override is None else length_override
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask is not False else 0
    if nonminimal_len in (True, 64) or length > 0xFFFF:
        head = struct.pack('!BBQ', b0, mbit | 127, length)
    elif nonminimal_len == 16 or length >= 126:
        head = struct.pack('!BBH', b0, mbit | 126, length)
    else:
        head = struct.pack('!BB', b0, mbit | length)
    if mask is False:
        return head + payload
    key = os.urandom(4) if mask is True else bytes(mask)
    return head + key + _mask(key, payload)


class RawWS:
    """A client WebSocket over a plain TCP socket; use RawWS.connect()."""

    def __init__(self, sock, status, headers, buffered=b''):
        self.sock = sock
        self.status = status
        self.response_headers = headers
        self.masked_frames = 0
        self._buf = bytearray(buffered)
        self._frags = None      # (opcode, [payloads]) of a message in flight

    # -- opening handshake ------------------------------------------------

    @classmethod
    def connect(cls, host, port, path='/echo', headers=None, protocols=None,
                origin=None, extra=b'', timeout=TIMEOUT, extensions=None,
                ssl_context=None, server_hostname=None):
        """Open TCP and do the opening handshake with a random 16-byte key.

        headers: dict or list of pairs added to the request; protocols: list
        sent as Sec-WebSocket-Protocol; origin: sent as Origin; extensions:
        sent as Sec-WebSocket-Extensions, a str for one header line or a
        list of str for one line each (the answer is in
        ``response_headers['sec-websocket-extensions']``). ``extra`` is
        written in the same sendall as the request (frames pipelined behind
        the handshake). With ssl_context the connection is TLS (wss://) to
        server_hostname (default: host), which is also the Host header.
        Raises HandshakeError on a non-101 answer or a wrong
        Sec-WebSocket-Accept; bytes after the 101's head are kept for
        recv_frame.
        """
        key = base64.b64encode(os.urandom(16)).decode('ascii')
        hdrs = _header_items(headers)
        if protocols:
            hdrs.append(('Sec-WebSocket-Protocol', ', '.join(protocols)))
        if origin is not None:
            hdrs.append(('Origin', origin))
        if isinstance(extensions, str):
            extensions = [extensions]
        for value in extensions or ():
            hdrs.append(('Sec-WebSocket-Extensions', value))
        name = server_hostname or host
        hostport = f'[{name}]:{port}' if ':' in name else f'{name}:{port}'
        req = make_handshake_request(path, hostport, key=key,
                                     extra_headers=hdrs)
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if ssl_context:
                sock = ssl_context.wrap_socket(sock, server_hostname=name)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(req + bytes(extra))
            status, rheaders, rest = cls._read_head(sock)
            if status != 101:
                body = cls._read_body(sock, rheaders, rest)
                raise HandshakeError(status, rheaders, body)
            if rheaders.get('sec-websocket-accept') != accept_key(key):
                raise HandshakeError(
                    status, rheaders, b'',
                    'bad Sec-WebSocket-Accept: '
                    f'{rheaders.get("sec-websocket-accept")!r}')
        except BaseException:
            sock.close()
            raise
        return cls(sock, status, rheaders, rest)

    @staticmethod
    def _read_head(sock):
        """(status, headers, bytes after the head) of an HTTP response."""
        data = b''
        while b'\r\n\r\n' not in data:
            if len(data) > MAX_HEAD:
                raise HandshakeError(None, {}, data, 'response head too big')
            chunk = sock.recv(4096)
            if not chunk:
                raise HandshakeError(None, {}, data,
                                     'connection closed during handshake')
            data += chunk
        head, rest = data.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        parts = lines[0].split(' ', 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise HandshakeError(None, {}, data,
                                 f'bad status line {lines[0]!r}') from None
        return status, headers_of(lines[1:]), rest

    @staticmethod
    def _read_body(sock, headers, rest):
        """The body of a refusal: by Content-Length, chunked, or to EOF."""
        body = bytearray(rest)
        clen = headers.get('content-length')
        chunked = 'chunked' in headers.get('transfer-encoding', '').lower()
        try:
            while True:
                if clen is not None and len(body) >= int(clen):
                    return bytes(body[:int(clen)])
                if chunked and body.endswith(b'0\r\n\r\n'):
                    return bytes(body)
                chunk = sock.recv(RECV_CHUNK)
                if not chunk:
                    return bytes(body)
                body += chunk
        except OSError:
            return bytes(body)

    # -- sending -----------------------------------------------------------

    def send_raw(self, data, split=None, delay=0.0):
        """Write bytes as they are, chopped as ``split`` says (see
        send_frame), sleeping ``delay`` seconds between chops."""
        data = bytes(data)
        if split is None:
            self.sock.sendall(data)
            return
        if split == 'bytewise':
            sizes = [1] * len(data)
        else:
            sizes = list(split)
        pos = 0
        for i, n in enumerate(sizes):
            if pos >= len(data):
                break
            if i and delay:
                time.sleep(delay)
            self.sock.sendall(data[pos:pos + n])
            pos += n
        if pos < len(data):
            if delay:
                time.sleep(delay)
            self.sock.sendall(data[pos:])

    def send_frame(self, opcode, payload=b'', fin=True, rsv=0, mask=True,
                   length_override=None, split=None, nonminimal_len=False,
                   delay=0.0):
        """Send one frame, valid or not, and return its wire bytes.

        payload: bytes (str is sent as UTF-8). rsv: the three RSV bits as an
        int (4 = RSV1). mask: True for a random key from os.urandom, False
        for an unmasked frame, or 4 bytes to use as the key.
        length_override: the value put in the length field whatever the
        payload's size. nonminimal_len: True (or 64) for the 8-byte length
        form, 16 for the 2-byte form, even where a shorter one fits.
        split: None writes the frame at once; a list of sizes writes chops of
        those sizes (the rest, if any, last); 'bytewise' writes one byte per
        send. TCP_NODELAY is set, so chops leave as separate segments;
        ``delay`` seconds are slept between chops.
        """
        data = build_frame(opcode, payload, fin, rsv, mask, length_override,
                           nonminimal_len)
        self.send_raw(data, split, delay)
        return data

    # -- receiving -----------------------------------------------------------

    def _fill(self, n, deadline):
        """Buffer at least n bytes; False on EOF first. socket.timeout when
        the deadline passes."""
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('timed out')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(RECV_CHUNK, n - len(self._buf)))
            except (ConnectionResetError, ssl.SSLEOFError):
                chunk = b''
            if not chunk:
                return False
            self._buf += chunk
        return True

    def recv_frame(self, timeout=TIMEOUT):
        """The next frame as a Frame; None if the peer closed TCP (a partial
        frame before EOF is dropped). Raises socket.timeout if no complete
        frame comes in time; bytes read so far stay buffered."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        b0, b1 = self._buf[0], self._buf[1]
        length = b1 & 0x7F
        hlen = 2 + {126: 2, 127: 8}.get(length, 0) + (4 if b1 & 0x80 else 0)
        if not self._fill(hlen, deadline):
            return None
        if length == 126:
            length = struct.unpack_from('!H', self._buf, 2)[0]
        elif length == 127:
            length = struct.unpack_from('!Q', self._buf, 2)[0]
        if not self._fill(hlen + length, deadline):
            return None
        payload = bytes(self._buf[hlen:hlen + length])
        if b1 & 0x80:
            self.masked_frames += 1
            payload = _mask(bytes(self._buf[hlen - 4:hlen]), payload)
        del self._buf[:hlen + length]
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload)

    def recv_message(self, timeout=TIMEOUT):
        """The next message as (opcode, payload), fragments joined; control
        frames (ping, pong, close) are returned as they come, even between
        fragments. None if the peer closed TCP. Raises AssertionError on a
        fragmentation error of the server's (RFC 6455 §5.4)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None
            if f.opcode >= 0x8:
                return f.opcode, f.payload
            if f.opcode == OP_CONT:
                if self._frags is None:
                    raise AssertionError(f'continuation without a message: '
                                         f'{f!r:.200}')
                self._frags[1].append(f.payload)
            else:
                if self._frags is not None:
                    raise AssertionError(f'new message opcode {f.opcode} '
                                         'inside a fragmented message')
                self._frags = (f.opcode, [f.payload])
            if f.fin:
                opcode, parts = self._frags
                self._frags = None
                return opcode, b''.join(parts)

    @staticmethod
    def parse_close(payload):
        """(code or None, reason) of a close payload (RFC 6455 §5.5.1)."""
        if len(payload) == 0:
            return None, b''
        if len(payload) == 1:
            raise AssertionError(
                f'close frame with 1-byte payload {payload!r}')
        return struct.unpack('!H', payload[:2])[0], bytes(payload[2:])

    def expect_close(self, timeout=TIMEOUT):
        """Read until a close frame and return (code or None, reason).
        Pings and pongs are skipped; a data frame or EOF first raises
        AssertionError naming what came."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                raise AssertionError('connection closed without a close frame')
            if f.opcode == OP_CLOSE:
                return self.parse_close(f.payload)
            if f.opcode not in (OP_PING, OP_PONG):
                raise AssertionError(f'expected close, got {f!r:.200}')

    def tcp_closed(self, timeout=TIMEOUT):
        """True if the peer closes TCP within timeout; anything it sends
        until then is read and discarded."""
        deadline = time.monotonic() + timeout
        self._buf.clear()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(RECV_CHUNK):
                    return True
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
                return True

    def close(self, code=1000, reason=b''):
        """Send a close frame (code None: empty payload), wait for the
        server's and return its (code, reason)."""
        if isinstance(reason, str):
            reason = reason.encode('utf-8')
        payload = b'' if code is None else struct.pack('!H', code) + reason
        self.send_frame(OP_CLOSE, payload)
        return self.expect_close()

    def close_socket(self):
        """Close the TCP socket at once (no close handshake)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_socket()


# -- permessage-deflate (RFC 7692) -------------------------------------------

# What a Z_SYNC_FLUSH ends with (an empty stored block), removed from the
# end of a compressed message by the sender and put back by the receiver
# (RFC 7692 §7.2.1, §7.2.2).
DEFLATE_TAIL = b'\x00\x00\xff\xff'

# One piece of a Sec-WebSocket-Extensions value: a token, a quoted-string
# (RFC 7230 §3.2.6) or one of the separators , ; =
_EXT_LEX = re.compile(r'[ \t]*(?:([!#$%&\'*+.^_`|~0-9A-Za-z-]+)'
                      r'|"((?:[^"\\]|\\.)*)"|([,;=]))')

DeflatedMessage = collections.namedtuple('DeflatedMessage',
                                         'opcode payload compressed wire')
DeflatedMessage.__doc__ = """A message read by PerMessageDeflate.recv_message:
opcode, payload (inflated), compressed (RSV1 was set) and wire (the size of
its frame payloads together, as sent)."""


def parse_extensions(value):
    """A Sec-WebSocket-Extensions value as [(name, [(param, value or
    None), ...]), ...] (RFC 6455 §9.1; quoted values unquoted). Raises
    ValueError if the value does not follow that grammar."""
    items, pos, text = [], 0, value.strip()
    pieces = []
    while pos < len(text):
        m = _EXT_LEX.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f'bad extension list at {pos}: {value!r}')
        pos = m.end()
        if m.group(1) is not None:
            pieces.append(('tok', m.group(1)))
        elif m.group(2) is not None:
            pieces.append(('str', re.sub(r'\\(.)', r'\1', m.group(2))))
        else:
            pieces.append((m.group(3), None))
    pieces.append((',', None))
    i = 0
    while i < len(pieces):
        kind, name = pieces[i]
        if kind != 'tok':
            raise ValueError(f'extension name expected: {value!r}')
        params, i = [], i + 1
        while pieces[i][0] == ';':
            kind, pname = pieces[i + 1] if i + 1 < len(pieces) else (',', '')
            if kind != 'tok':
                raise ValueError(f'parameter name expected: {value!r}')
            i += 2
            pvalue = None
            if pieces[i][0] == '=':
                kind, pvalue = pieces[i + 1] if i + 1 < len(pieces) \
                    else (',', None)
                if kind not in ('tok', 'str'):
                    raise ValueError(f'parameter value expected: {value!r}')
                i += 2
            params.append((pname, pvalue))
        if pieces[i][0] != ',':
            raise ValueError(f'"," or ";" expected: {value!r}')
        items.append((name, params))
        i += 1
    return items


class PerMessageDeflate:
    """The client's half of permessage-deflate with agreed parameters
    (RFC 7692 §7): compress() makes the payload of a message to send with
    RSV1, recv_message() reads and inflates the server's. Each side keeps
    its LZ77 window from message to message unless its
    *_no_context_takeover was agreed; the server's messages are inflated
    with exactly server_max_window_bits, so a server that reaches further
    back than it agreed to makes zlib fail ("invalid distance too far
    back"), and one that takes over context it agreed not to fails the
    same way."""

    def __init__(self, server_no_context_takeover=False,
                 client_no_context_takeover=False, server_max_window_bits=15,
                 client_max_window_bits=15, level=6):
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.level = level
        self._compressor = None
        self._decompressor = None

    @classmethod
    def from_params(cls, params, **kw):
        """From the parameters of an accepted offer, [(name, value)].
        Raises ValueError on a parameter RFC 7692 §7.1 does not allow in a
        response."""
        agreed = {}
        for name, value in params:
            if name in agreed:
                raise ValueError(f'{name} repeated')
            if name in ('server_no_context_takeover',
                        'client_no_context_takeover'):
                if value is not None:
                    raise ValueError(f'{name}={value!r}: no value allowed')
                agreed[name] = True
            elif name in ('server_max_window_bits', 'client_max_window_bits'):
                if value is None or not re.fullmatch(r'[89]|1[0-5]', value):
                    raise ValueError(f'{name}={value!r}: 8..15 expected')
                agreed[name] = int(value)
            else:
                raise ValueError(f'unknown parameter {name}')
        return cls(**agreed, **kw)

    @classmethod
    def from_response(cls, headers, **kw):
        """From a 101's headers (a dict with lower-case names) or the value
        of its Sec-WebSocket-Extensions: None if the server accepted no
        extension. Raises ValueError if it answered anything but exactly
        one permessage-deflate with valid parameters."""
        if isinstance(headers, dict):
            headers = headers.get('sec-websocket-extensions')
        if headers is None:
            return None
        exts = parse_extensions(headers)
        if len(exts) != 1 or exts[0][0] != 'permessage-deflate':
            raise ValueError(f'not one permessage-deflate: {headers!r}')
        return cls.from_params(exts[0][1], **kw)

    @property
    def can_compress(self):
        """False when the agreed client window is 8 bits: zlib deflates
        with 9..15 only, so such a client sends its messages uncompressed
        (RFC 7692 §6: each message may be)."""
        return self.client_max_window_bits >= 9

    def compress(self, data, fin=True):
        """The compressed payload of a message (or of its next part: call
        with fin=False for every part but the last). Each part is flushed
        (Z_SYNC_FLUSH) so the server can inflate it at once; the last one
        loses the trailing 00 00 ff ff (RFC 7692 §7.2.1)."""
        if self._compressor is None:
            if not self.can_compress:
                raise ValueError('zlib cannot deflate with an 8-bit window')
            self._compressor = zlib.compressobj(
                self.level, zlib.DEFLATED, -self.client_max_window_bits)
        out = (self._compressor.compress(bytes(data))
               + self._compressor.flush(zlib.Z_SYNC_FLUSH))
        if fin:
            if out.endswith(DEFLATE_TAIL):
                out = out[:-len(DEFLATE_TAIL)]
            if self.client_no_context_takeover:
                self._compressor = None
        return out

    def decompress(self, payload):
        """Inflate the payload of one whole compressed message from the
        server (RFC 7692 §7.2.2). zlib.error if it is not valid with the
        agreed window and context."""
        d = self._decompressor
        if d is None or self.server_no_context_takeover or d.eof:
            # a message ending in a BFINAL block (§7.2.3.4) ends the stream
            d = zlib.decompressobj(-self.server_max_window_bits)
        out = d.decompress(bytes(payload) + DEFLATE_TAIL)
        # after a BFINAL block only the appended tail may follow, perhaps
        # behind an empty block's header byte (§7.2.3.4's example)
        if d.unconsumed_tail or (d.eof and d.unused_data not in
                                 (b'', DEFLATE_TAIL, b'\0' + DEFLATE_TAIL)):
            raise zlib.error('data after the end of the deflate stream')
        self._decompressor = d
        return out

    def recv_message(self, ws, timeout=TIMEOUT):
        """The next message from RawWS ws as a DeflatedMessage (control
        frames come as they are, with compressed False); None if the peer
        closed TCP. Raises AssertionError if the server sets RSV1 anywhere
        but on the first frame of a data message, or RSV2/RSV3."""
        deadline = time.monotonic() + timeout
        parts, first = [], None
        while True:
            f = ws.recv_frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None
            if f.opcode >= 0x8:
                if f.rsv:
                    raise AssertionError(f'server set RSV={f.rsv} on a '
                                         f'control frame: {f!r:.200}')
                return DeflatedMessage(f.opcode, f.payload, False,
                                       len(f.payload))
            if f.rsv & ~RSV1 or (f.rsv and f.opcode == OP_CONT):
                kind = 'continuation' if f.opcode == OP_CONT else 'data'
                raise AssertionError(f'server set RSV={f.rsv} on a {kind} '
                                     f'frame: {f!r:.200}')
            if f.opcode == OP_CONT:
                if first is None:
                    raise AssertionError(f'continuation without a message: '
                                         f'{f!r:.200}')
            else:
                if first is not None:
                    raise AssertionError(f'new message opcode {f.opcode} '
                                         'inside a fragmented message')
                first = f
            parts.append(f.payload)
            if f.fin:
                data = b''.join(parts)
                compressed = bool(first.rsv & RSV1)
                payload = self.decompress(data) if compressed else data
                return DeflatedMessage(first.opcode, payload, compressed,
                                       len(data))
