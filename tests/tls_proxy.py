"""A man in the middle for the TLS self-tests: real sockets on 127.0.0.1, Python's ssl module.

The first ``forward`` connections are piped byte for byte to a real TLS redis-server (so
the client sees the server's own certificate); every later one is answered with a
certificate of the test's choosing (self-signed, or for another host name). When a
client accepts that certificate, the interceptor relays to the real server and records
every byte the client sent: a client that verifies must leave ``received`` empty. A
client that speaks plaintext to it is recorded too. Bounded: daemon threads, timeouts,
``stop`` closes every socket.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from pytest_nself_redis.targets.tls import SERVER_EXTENSIONS

LOOPBACK = "127.0.0.1"
TLS_HANDSHAKE_RECORD = 0x16
WAIT = 5.0
# tls.refuses_plaintext sends one unauthenticated PING without TLS, by design (it asks whether
# a plaintext client is served); nothing else may ever arrive without TLS.
PLAINTEXT_PROBE = b"*1\r\n$4\r\nPING\r\n"


def self_signed(directory: Path, name: str = "mitm") -> tuple[Path, Path]:
    """A self-signed certificate naming localhost and 127.0.0.1: right name, untrusted issuer."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def signed_for_another_host(
    directory: Path, ca_dir: Path, host: str = "elsewhere.example"
) -> tuple[Path, Path]:
    """A certificate signed by the run's CA (``ca_dir`` holds ca.crt and ca.key) for ``host`` only:
    trusted issuer, wrong name."""
    cert, key, csr, ext = (directory / f"{host}.{suffix}" for suffix in ("crt", "key", "csr", "ext"))
    # Every extension the run's own certificates carry but the name, so that a strict verifier
    # (Python 3.13's default) refuses it for its name only.
    kept = [extension for extension in SERVER_EXTENSIONS if not extension.startswith("subjectAltName=")]
    ext.write_text("".join(f"{extension}\n" for extension in [*kept, f"subjectAltName=DNS:{host}"]))
    for command in (
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={host}",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        ],
        [
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_dir / "ca.crt"),
            "-CAkey",
            str(ca_dir / "ca.key"),
            "-CAcreateserial",
            "-CAserial",
            str(directory / "ca.srl"),
            "-days",
            "1",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ],
    ):
        subprocess.run(["openssl", *command], check=True, capture_output=True, timeout=60)
    return cert, key


class TlsInterceptor:
    def __init__(
        self, upstream: tuple[str, int], upstream_ca: Path, cert: Path, key: Path, forward: int = 1
    ) -> None:
        self.upstream = upstream
        self.upstream_ca = upstream_ca
        self.forward = forward
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self.forwarded = 0
        self.handshakes: list[str] = []  # "accepted", or why the client refused the certificate
        self.received = bytearray()  # what clients sent after accepting our certificate
        self.plaintext = bytearray()  # what clients sent without TLS at all
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def intercepted(self) -> int:
        return len(self.handshakes) + (1 if self.plaintext else 0)

    def assert_sent_nothing(self) -> None:
        """Some client met our certificate, none accepted it, and not a byte came through."""
        assert bytes(self.plaintext) in (b"", PLAINTEXT_PROBE), bytes(self.plaintext)[:200]
        assert bytes(self.received) == b"", bytes(self.received)[:200]
        assert self.handshakes, f"no connection met the interceptor's certificate ({self.connections} in all)"
        assert "accepted" not in self.handshakes, self.handshakes

    def __enter__(self) -> TlsInterceptor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self.listener.close()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._keep(client).settimeout(WAIT)
            self.connections += 1
            if self.forwarded < self.forward:
                self.forwarded += 1
                upstream = self._keep(socket.create_connection(self.upstream, timeout=WAIT))
                self._pipe(client, upstream)
                self._pipe(upstream, client)
            else:
                threading.Thread(target=self._intercept, args=(client,), daemon=True).start()

    def _intercept(self, client: socket.socket) -> None:
        try:
            first = client.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first and first[0] != TLS_HANDSHAKE_RECORD:
            self._drain(client, self.plaintext)
            return
        try:
            wrapped = self._keep(self.context.wrap_socket(client, server_side=True))
        except (ssl.SSLError, OSError) as refusal:
            self.handshakes.append(f"refused: {refusal}")
            return
        self.handshakes.append("accepted")
        try:
            context = ssl.create_default_context(cafile=str(self.upstream_ca))
            upstream = self._keep(
                context.wrap_socket(
                    socket.create_connection(self.upstream, timeout=WAIT), server_hostname=self.upstream[0]
                )
            )
        except (ssl.SSLError, OSError) as failure:
            # Record what the client sends, then hang up: a client left waiting on a reply that
            # never comes (ioredis has no command timeout) would hold the test to its deadline.
            self.handshakes.append(f"upstream failed: {failure}")
            self._drain(wrapped, self.received)
            with contextlib.suppress(OSError):
                wrapped.close()
            return
        threading.Thread(target=self._relay, args=(wrapped, upstream), daemon=True).start()

    def _drain(self, sock: socket.socket, record: bytearray) -> None:
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                with self._lock:
                    record.extend(chunk)

    def _relay(self, client: ssl.SSLSocket, upstream: ssl.SSLSocket) -> None:
        """Both directions of an intercepted connection in one thread: an SSL socket must not be
        read in one thread while written in another (OpenSSL's object is not thread-safe; under
        load, two pipe threads once left a client's connect hanging). Non-blocking, so a TLS
        record that is not data (a session ticket) never blocks the other direction."""
        peer = {client: upstream, upstream: client}
        for sock in peer:
            sock.setblocking(False)
        with contextlib.suppress(OSError):
            self._relay_until_closed(client, peer)
        for sock in peer:  # one side closed: so does the other, as the pipes did
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _relay_until_closed(self, client: ssl.SSLSocket, peer: dict[ssl.SSLSocket, ssl.SSLSocket]) -> None:
        while not self._stopped.is_set():
            ready = [sock for sock in peer if sock.pending()]
            if not ready:
                ready = select.select(list(peer), [], [], 0.2)[0]
            for source in ready:
                try:
                    chunk = source.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                if not chunk:
                    return
                if source is client:
                    with self._lock:
                        self.received.extend(chunk)
                self._send_all(peer[source], chunk)

    def _send_all(self, sink: ssl.SSLSocket, data: bytes) -> None:
        view, deadline = memoryview(data), time.monotonic() + WAIT
        while view:
            try:
                view = view[sink.send(view) :]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                if time.monotonic() > deadline:
                    raise TimeoutError("the relay could not send within its wait") from None
                select.select([], [sink], [], 0.05)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """One direction of a forwarded connection (plain sockets: the TLS is end to end)."""

        def run() -> None:
            with contextlib.suppress(OSError):
                while not self._stopped.is_set():
                    try:
                        chunk = source.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    sink.sendall(chunk)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        threading.Thread(target=run, daemon=True).start()
