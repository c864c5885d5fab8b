"""Just enough RESP for our own sockets: encode commands, find where replies end, read a reply line.

The sampler encodes every command before it starts the clock and only needs to know
when the last reply byte has arrived, so this is a scanner, not a full parser. The auth
and TLS checks judge the exact first line a server answers (``-NOAUTH``, ``-WRONGPASS``,
a closed connection), which redis-py hides behind its exception classes and handshake.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Sequence

from pytest_nself_redis.live.address import ServerAddress

# Reply type bytes (RESP2 plus the RESP3 ones a proxy might pass through).
_LINE = frozenset(b"+-:_,#(")
_BULK = frozenset(b"$!=")
_AGGREGATE = frozenset(b"*~>")
_MAP = frozenset(b"%|")
ERROR = ord("-")
INCOMPLETE = -1


class ProtocolError(Exception):
    """The bytes from the server are not RESP (something else answers on the port)."""


class ReplyError(Exception):
    """The server answered a command with an error reply (``-ERR ...``, ``-NOSCRIPT ...``)."""


Arg = bytes | str | int | float


def encode(*args: Arg) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def encode_many(commands: Sequence[Sequence[Arg]]) -> bytes:
    """Several commands in one write: a pipeline."""
    return b"".join(encode(*command) for command in commands)


def reply_end(buffer: bytes, start: int = 0) -> int:
    """Index just past the reply that begins at ``start``, or ``INCOMPLETE``."""
    if start >= len(buffer):
        return INCOMPLETE
    kind = buffer[start]
    line_end = buffer.find(b"\r\n", start)
    if line_end < 0:
        return INCOMPLETE
    if kind in _LINE:
        return line_end + 2
    try:
        length = int(buffer[start + 1 : line_end])
    except ValueError:
        raise ProtocolError(f"not a RESP length: {bytes(buffer[start : line_end + 2])[:40]!r}") from None
    if kind in _BULK:
        if length < 0:
            return line_end + 2
        end = line_end + 2 + length + 2
        return end if end <= len(buffer) else INCOMPLETE
    if kind in _AGGREGATE or kind in _MAP:
        position = line_end + 2
        for _ in range(max(length, 0) * (2 if kind in _MAP else 1)):
            position = reply_end(buffer, position)
            if position < 0:
                return INCOMPLETE
        return position
    raise ProtocolError(f"not a RESP reply: {bytes(buffer[start : start + 40])!r}")


def replies_end(buffer: bytes, count: int) -> int:
    """Index just past ``count`` consecutive replies, or ``INCOMPLETE``."""
    position = 0
    for _ in range(count):
        position = reply_end(buffer, position)
        if position < 0:
            return INCOMPLETE
    return position


def first_error(buffer: bytes, count: int) -> str | None:
    """The first top-level error reply among ``count`` complete replies, if any."""
    position = 0
    for _ in range(count):
        end = reply_end(buffer, position)
        if buffer[position] == ERROR:
            return bytes(buffer[position + 1 : end - 2]).decode(errors="replace")
        position = end
    return None


# A reply line longer than this is cut in messages: no Redis reply we look at is longer.
_SHOWN_REPLY = 120
CLOSED = "(connection closed)"
TIMED_OUT = "(no reply)"


def read_reply_line(sock: socket.socket, wait: float) -> str:
    """The first reply line (``+PONG``, ``-NOAUTH ...``), or CLOSED / TIMED_OUT / a reset."""
    deadline = time.monotonic() + wait
    data = b""
    while b"\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return TIMED_OUT if not data else _shown(data)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return TIMED_OUT if not data else _shown(data)
        except OSError as problem:
            return _failure(problem)
        if not chunk:
            return CLOSED if not data else _shown(data)
        data += chunk
    return _shown(data.split(b"\r\n", 1)[0])


def _failure(problem: OSError) -> str:
    """A failed read as a reply line. ssl is looked up, not imported: a process that never loaded
    it has no TLS socket to fail (a plain probe starts without it)."""
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(problem, ssl.SSLError):
        return f"(TLS error: {problem.reason or problem})"
    return f"(connection reset: {problem.strerror or problem})"


def _shown(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= _SHOWN_REPLY else text[:_SHOWN_REPLY] + "..."


def is_resp_reply(reply: str) -> bool:
    """True when the line is a Redis reply (the other end spoke RESP)."""
    return bool(reply) and reply[0] in "+-:$*_"


def exchange(address: ServerAddress, *commands: bytes, tls: bool | None = None) -> list[str]:
    """Send each command on one fresh connection and read one reply line after each."""
    replies: list[str] = []
    with address.open_socket(tls=tls) as sock:
        for command in commands:
            try:
                sock.sendall(command)
            except OSError as problem:
                replies.append(f"(send failed: {problem.strerror or problem})")
                break
            reply = read_reply_line(sock, address.timeout)
            replies.append(reply)
            if not reply or reply[0] not in "+-:$*":
                break
    return replies
