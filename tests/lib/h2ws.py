"""h2ws: a WebSocket over an HTTP/2 stream (RFC 8441) for tests, on h2c with
prior knowledge or h2 over TLS, using python3-h2. H2WS has RawWS's frame calls
(send_frame, recv_frame, recv_message, expect_close, close); "TCP closed"
means here that the server ended the stream (or the connection).

    ws = H2WS.connect('127.0.0.1', port, '/echo')
    ws.send_frame(OP_TEXT, b'hi'); ws.recv_message()
"""

import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from wsraw import RawWS, HandshakeError, RECV_CHUNK, TIMEOUT


class H2WS(RawWS):
    """One WebSocket on stream 1 of its own HTTP/2 connection."""

    def __init__(self, sock, conn, stream_id, status, headers):
        super().__init__(sock, status, headers)
        self.conn = conn
        self.stream_id = stream_id
        self.stream_ended = False

    @classmethod
    def connect(cls, host, port, path='/echo', protocols=None, origin=None,
                headers=None, timeout=TIMEOUT, ssl_context=None,
                server_hostname=None):
        """Open h2c (or h2 over TLS with ssl_context, which must offer
        ALPN h2), wait for SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441
        §3), send the extended CONNECT and wait for its 200. Raises
        HandshakeError for any other status."""
        name = server_hostname or host
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context:
            sock = ssl_context.wrap_socket(sock, server_hostname=name)
            if sock.selected_alpn_protocol() != 'h2':
                sock.close()
                raise HandshakeError(0, {}, b'', 'the server did not choose '
                                     'h2 by ALPN')
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True,
                                      header_encoding='utf-8'))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        deadline = time.monotonic() + timeout
        enabled = None
        while enabled is None:
            for ev in cls._read_events(sock, conn, deadline):
                if isinstance(ev, h2.events.RemoteSettingsChanged):
                    setting = ev.changed_settings.get(
                        h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                    enabled = bool(setting and setting.new_value)
        if not enabled:
            sock.close()
            raise HandshakeError(0, {}, b'', 'server did not enable the '
                                 'extended CONNECT (H2WebSockets off?)')
        stream_id = conn.get_next_available_stream_id()
        request = [(':method', 'CONNECT'), (':protocol', 'websocket'),
                   (':scheme', 'https' if ssl_context else 'http'),
                   (':path', path), (':authority', f'{name}:{port}'),
                   ('sec-websocket-version', '13')]
        if protocols:
            request.append(('sec-websocket-protocol', ', '.join(protocols)))
        if origin:
            request.append(('origin', origin))
        request += [(k.lower(), v) for k, v in (headers or {}).items()]
        conn.send_headers(stream_id, request)
        sock.sendall(conn.data_to_send())
        response = None
        while response is None:
            for ev in cls._read_events(sock, conn, deadline):
                if isinstance(ev, h2.events.ResponseReceived) \
                        and ev.stream_id == stream_id:
                    response = dict(ev.headers)
        status = int(response.get(':status', 0))
        if status != 200:
            sock.close()
            raise HandshakeError(status, response, b'')
        return cls(sock, conn, stream_id, status, response)

    @staticmethod
    def _read_events(sock, conn, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out')
        sock.settimeout(left)
        data = sock.recv(RECV_CHUNK)
        if not data:
            raise ConnectionError('connection closed')
        events = conn.receive_data(data)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        return events

    def send_raw(self, data, split=None, delay=0.0):
        """Send bytes as DATA frames on the stream (chopped as RawWS does),
        within the peer's flow-control window."""
        data = bytes(data)
        sizes = [1] * len(data) if split == 'bytewise' else list(split or [])
        chops, pos = [], 0
        for n in sizes:
            chops.append(data[pos:pos + n])
            pos += n
        if pos < len(data):
            chops.append(data[pos:])
        for i, chop in enumerate(chops):
            if i and delay:
                time.sleep(delay)
            self._send_data(chop)

    def _send_data(self, data):
        """Data for a stream the server has ended is dropped, as a kernel
        takes bytes for a peer that has stopped reading: the test then
        finds what the server sent before (its close frame) as over TCP."""
        while data and not self.stream_ended:
            try:
                window = min(
                    self.conn.local_flow_control_window(self.stream_id),
                    self.conn.max_outbound_frame_size)
                if window <= 0:
                    self._pump(time.monotonic() + TIMEOUT)
                    continue
                self.conn.send_data(self.stream_id, data[:window])
            except h2.exceptions.StreamClosedError:
                self.stream_ended = True
                return
            self.sock.sendall(self.conn.data_to_send())
            data = data[window:]

    def _pump(self, deadline):
        """Read once; buffer the stream's data. False once it ended."""
        if self.stream_ended:
            return False
        try:
            events = self._read_events(self.sock, self.conn, deadline)
        except (ConnectionError, OSError) as e:
            if isinstance(e, socket.timeout):
                raise
            self.stream_ended = True
            return False
        for ev in events:
            if isinstance(ev, h2.events.DataReceived) \
                    and ev.stream_id == self.stream_id:
                self._buf += ev.data
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, (h2.events.StreamEnded,
                                 h2.events.StreamReset)) \
                    and ev.stream_id == self.stream_id:
                self.stream_ended = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.stream_ended = True
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)
        return True

    def _fill(self, n, deadline):
        while len(self._buf) < n:
            if not self._pump(deadline):
                return len(self._buf) >= n
        return True

    def tcp_closed(self, timeout=TIMEOUT):
        """True if the server ends the stream within timeout."""
        deadline = time.monotonic() + timeout
        self._buf.clear()
        try:
            while self._pump(deadline):
                self._buf.clear()
        except socket.timeout:
            return False
        return True
