"""Just enough RESP2 to time round trips: encode commands once, find where replies end.

The sampler encodes every command before it starts the clock and only needs to know
when the last reply byte has arrived, so this is a scanner, not a full parser.
"""

from __future__ import annotations

from collections.abc import Sequence

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
