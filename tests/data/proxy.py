"""A loopback TCP proxy in front of a real Redis that rewrites INFO replies.

It lets the monitoring and queue self-tests show a server whose INFO lies (an old
version, a missing field, frozen counters) without a fake Redis: every command goes to
the real server; only bulk replies that are INFO text (they start with ``# ``) pass
through ``rewrite``. Bounded: daemon threads, and ``stop`` closes every socket.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable

LOOPBACK = "127.0.0.1"
Rewrite = Callable[[str], str]


def _line_end(buffer: bytearray, start: int) -> int | None:
    end = buffer.find(b"\r\n", start)
    return None if end < 0 else end


def reply_end(buffer: bytearray, start: int) -> int | None:
    """Where the RESP reply starting at ``start`` ends, or None while it is incomplete."""
    if start >= len(buffer):
        return None
    line_end = _line_end(buffer, start)
    if line_end is None:
        return None
    kind, header = chr(buffer[start]), buffer[start + 1 : line_end]
    after = line_end + 2
    if kind in "+-:_,#(":
        return after
    if kind in "$=!":
        length = int(header)
        if length < 0:
            return after
        return after + length + 2 if len(buffer) >= after + length + 2 else None
    if kind in "*>~%|":
        count = int(header)
        count = count * 2 if kind in "%|" else count
        position: int | None = after
        for _ in range(max(count, 0)):
            assert position is not None
            position = reply_end(buffer, position)
            if position is None:
                return None
        return position
    raise ValueError(f"not a RESP reply: {bytes(buffer[start : start + 20])!r}")


def set_field(name: str, value: object) -> Rewrite:
    """An INFO rewrite that replaces one field's value (e.g. redis_version)."""
    pattern = re.compile(rf"^{re.escape(name)}:.*$", re.MULTILINE)
    return lambda text: pattern.sub(lambda _: f"{name}:{value}\r", text)


def drop_field(name: str) -> Rewrite:
    pattern = re.compile(rf"^{re.escape(name)}:.*\r?\n", re.MULTILINE)
    return lambda text: pattern.sub("", text)


def chain(*rewrites: Rewrite) -> Rewrite:
    def apply(text: str) -> str:
        for rewrite in rewrites:
            text = rewrite(text)
        return text

    return apply


class InfoRewritingProxy:
    def __init__(self, upstream_port: int, rewrite: Rewrite, upstream_host: str = LOOPBACK) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rewrite = rewrite
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.rewritten = 0

    def __enter__(self) -> InfoRewritingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            for sock in [self._listener, *self._sockets]:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._copy, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client), daemon=True).start()

    def _copy(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        self._close_pair(source, target)

    def _replies(self, upstream: socket.socket, client: socket.socket) -> None:
        buffer = bytearray()
        with contextlib.suppress(OSError):
            while chunk := upstream.recv(65536):
                buffer += chunk
                out, position = bytearray(), 0
                while (end := reply_end(buffer, position)) is not None:
                    out += self._transform(bytes(buffer[position:end]))
                    position = end
                del buffer[:position]
                if out:
                    client.sendall(out)
        self._close_pair(upstream, client)

    def _transform(self, reply: bytes) -> bytes:
        if not reply.startswith(b"$"):
            return reply
        header_end = reply.index(b"\r\n")
        data = reply[header_end + 2 : -2]
        if not data.startswith(b"# "):
            return reply
        self.rewritten += 1
        changed = self.rewrite(data.decode()).encode()
        return b"$%d\r\n%s\r\n" % (len(changed), changed)

    @staticmethod
    def _close_pair(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
