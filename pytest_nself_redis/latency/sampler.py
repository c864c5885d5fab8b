"""Time round trips over one raw socket with a monotonic nanosecond clock.

redis-py parses every reply into Python objects and checks its connection before
each command; that costs more than a loopback round trip. The sampler instead
writes pre-encoded RESP and stops the clock when the ``recv`` that completes the
reply returns; replies are scanned (for completeness and errors) after the clock
stopped. The socket stays blocking with kernel send/receive timeouts, so no
``poll`` call is added to each round trip and no read can hang.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.resp import (
    INCOMPLETE,
    ProtocolError,
    ReplyError,
    encode,
    first_error,
    replies_end,
)

CLOCK = "time.perf_counter_ns"
# A kernel receive/send timeout on a blocking socket: EAGAIN, or "want read/write" under TLS.
_TIMEOUTS = (BlockingIOError, TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_clock = time.perf_counter_ns
_RECV = 1 << 16


class SamplerError(Exception):
    """The sampler could not complete a round trip: the message says which and why."""


def shown(address: ServerAddress) -> str:
    """The server as sampler messages name it (no credentials)."""
    return f"{'TLS ' if address.tls else ''}{address.where()}"


def _set_kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    whole = int(seconds)
    packed = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, packed)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, packed)


@contextlib.contextmanager
def kernel_timed(sock: socket.socket, seconds: float) -> Iterator[socket.socket]:
    """``sock`` blocking with kernel timeouts for a while (no ``poll`` per read, as the
    sampler wants), then back in the timeout mode it was in (a client's pooled connection's)."""
    before = sock.gettimeout()
    sock.settimeout(None)
    _set_kernel_timeouts(sock, seconds)
    try:
        yield sock
    finally:
        _set_kernel_timeouts(sock, 0)  # 0: none, as a socket starts
        sock.settimeout(before)


class RawConnection:
    """One socket to the server; authenticated and on the right db after ``open``."""

    def __init__(self, address: ServerAddress, sock: socket.socket | None = None) -> None:
        """``sock``: one already connected, authenticated and on the db (a client's pooled
        connection's, in ``kernel_timed`` mode); without it, ``open`` makes one."""
        self.address = address
        self._sock = sock

    def open(self) -> RawConnection:
        address = self.address
        try:
            sock = address.open_socket()  # the TLS handshake too, within the timeout
            if not address.unix_path:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Blocking with kernel timeouts: bounded, without a poll() per round trip.
            sock.settimeout(None)
            _set_kernel_timeouts(sock, address.timeout)
        except OSError as error:
            raise SamplerError(f"cannot connect to {shown(address)}: {error}") from None
        self._sock = sock
        if address.password:
            auth = ("AUTH", address.username, address.password.reveal()) if address.username else None
            self.call(encode(*(auth or ("AUTH", address.password.reveal()))), what="AUTH")
        if address.db:
            self.call(encode("SELECT", address.db), what="SELECT")
        return self

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def __enter__(self) -> RawConnection:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sock(self) -> socket.socket:
        if self._sock is None:
            raise SamplerError("the sampler's connection is not open")
        return self._sock

    def _receive(self) -> bytes:
        try:
            data = self.sock.recv(_RECV)
        except OSError as problem:
            raise self._failed(problem) from None
        if not data:
            raise SamplerError(f"{shown(self.address)} closed the connection")
        return data

    def _failed(self, problem: OSError, during: str = "") -> SamplerError:
        """What a failed socket call means: no reply within the timeout, or a broken connection."""
        if isinstance(problem, _TIMEOUTS):
            return SamplerError(
                f"no reply from {shown(self.address)} within {self.address.timeout:g} s{during}"
            )
        return SamplerError(f"connection to {shown(self.address)} failed: {problem}")

    def call(self, payload: bytes, replies: int = 1, what: str = "command") -> bytes:
        """Send and read ``replies`` complete replies, untimed; error replies raise."""
        self.sock.sendall(payload)
        data = self._receive()
        while _complete(data, replies) == INCOMPLETE:
            data += self._receive()
        error = first_error(data, replies)
        if error is not None:
            # Never echo the payload: AUTH carries the password.
            raise ReplyError(f"{what} answered -{error}")
        return data

    def time_round_trips(
        self, payload: bytes, replies: int, count: int, max_seconds: float | None = None
    ) -> list[int]:
        """Up to ``count`` timed round trips of ``payload``; nanoseconds each.

        The clock starts before ``sendall`` and stops when the ``recv`` that completes
        the last reply returns. Error replies raise after the clock stopped. With
        ``max_seconds``, sampling stops early once that much time has passed (a slow
        server then yields fewer samples instead of a long run).
        """
        sock = self.sock
        # The first read of each reply lands in one buffer made before the loop: the timed
        # path allocates nothing but the clock's integers, and makes two system calls.
        buffer = bytearray(_RECV)
        view = memoryview(buffer)
        send, receive, clock = sock.sendall, sock.recv_into, _clock
        durations = [0] * count
        deadline = clock() + (int(max_seconds * 1e9) if max_seconds else 1 << 62)
        for index in range(count):
            try:
                start = clock()
                if start > deadline:
                    return durations[:index]
                send(payload)
                size = receive(view)
                stop = clock()
                reply = bytes(view[:size])
                end = _complete(reply, replies) if size else 0
                while end == INCOMPLETE:  # a reply in several reads (long, or TLS records)
                    more = sock.recv(_RECV)
                    stop = clock()
                    if not more:
                        size = 0
                        break
                    reply += more
                    end = _complete(reply, replies)
            except OSError as problem:
                raise self._failed(problem, f" (round trip {index + 1} of {count})") from None
            if not size:
                raise SamplerError(f"{shown(self.address)} closed the connection")
            durations[index] = stop - start
            if reply[0] == 45 or (replies > 1 and first_error(reply, replies) is not None):
                raise ReplyError(f"answered -{first_error(reply, replies)}")
        return durations


def _complete(data: bytes, replies: int) -> int:
    try:
        return replies_end(data, replies)
    except ProtocolError as error:
        raise SamplerError(f"the server does not speak RESP: {error}") from None


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No garbage-collector pauses inside the timed loop (they would be ours, not Redis's)."""
    was_enabled = gc.isenabled()
    gc.disable()  # no collect() first: in a big test session one costs more than the sampling
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class ClockOverhead:
    """What reading the clock twice costs: the floor under every measured round trip."""

    min_ns: int
    median_ns: int
    resolution_ns: float


def clock_overhead(reads: int = 20_000) -> ClockOverhead:
    clock = _clock
    gaps = [0] * reads
    with quiet_gc():
        for index in range(reads):
            start = clock()
            gaps[index] = clock() - start
    gaps.sort()
    resolution = time.get_clock_info("perf_counter").resolution * 1e9
    return ClockOverhead(gaps[0], gaps[len(gaps) // 2], resolution)
