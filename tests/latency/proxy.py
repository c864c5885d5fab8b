"""A loopback TCP proxy that makes a real Redis slow: every request waits ``delay`` seconds.

The latency suite must fail on a slow server; a proxy between it and a real Redis
adds a known delay to every round trip without touching the server. Each chunk
from the client is held for ``delay`` before it is forwarded (a pipeline written at
once is one chunk, so one delay); replies pass straight back. ``delayed_connections``
(1-based, in the order accepted) makes only those slow: a passing stall, not a slow server.
Bounded: it listens on 127.0.0.1 only, accepts at most ``max_connections``, every socket has a timeout, the
threads are daemons, and ``stop`` closes every socket and joins every thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Container
from types import TracebackType

LOOPBACK = "127.0.0.1"


class DelayProxy:
    def __init__(
        self,
        upstream_port: int,
        delay: float,
        *,
        upstream_host: str = LOOPBACK,
        max_connections: int = 16,
        idle_timeout: float = 60.0,
        delayed_connections: Container[int] | None = None,
        delayed_requests: int | None = None,
    ) -> None:
        self.delayed_connections = delayed_connections
        # Requests delayed in all (None: every one): a stall that passes. May be set while it runs.
        self.delayed_requests = delayed_requests
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.connections = 0
        self.refused = 0
        self.forwarded_requests = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        assert self._listener is not None, "the proxy is not started"
        port: int = self._listener.getsockname()[1]
        return port

    def start(self) -> DelayProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, 0))
        listener.listen(self.max_connections)
        listener.settimeout(0.2)  # so the accept loop notices stop()
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            sockets = [*self._sockets, *([self._listener] if self._listener else [])]
            self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, f"proxy threads still running after stop: {alive}"

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        sock.settimeout(self.idle_timeout)
        with self._lock:
            self._sockets.append(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.connections >= self.max_connections:
                self.refused += 1
                client.close()
                continue
            self.connections += 1
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._track(sock)
            slow = self.delayed_connections is None or self.connections in self.delayed_connections
            self._spawn(self._pump, client, upstream, self.delay if slow else 0.0)
            self._spawn(self._pump, upstream, client, 0.0)

    def _stalling(self) -> bool:
        return self.delayed_requests is None or self.forwarded_requests < self.delayed_requests

    def _pump(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while not self._stopping.is_set():
                data = source.recv(1 << 16)
                if not data:
                    break
                if delay and (
                    self.delayed_requests is None or self.forwarded_requests < self.delayed_requests
                ):
                    time.sleep(delay)
                    self.forwarded_requests += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
