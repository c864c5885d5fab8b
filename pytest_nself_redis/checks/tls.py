"""tls: with REDIS_TLS_ENABLED=true the server speaks TLS only.

Also home of the raw-socket helpers the auth checks share: some promises are about
the exact bytes a server answers (``-NOAUTH``, ``-WRONGPASS``, a closed connection),
which redis-py hides behind its exception classes and its connection handshake.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

import redis

from pytest_nself_redis.checks.base import CheckContext, CheckResult, check, error, ok, skipped
from pytest_nself_redis.checks.config import config_get
from pytest_nself_redis.targets.base import tls_context, verifies

# A reply line longer than this is cut in messages: no Redis reply we look at is longer.
_SHOWN_REPLY = 120
# A plaintext server never answers a TLS hello (it waits for a command line), so the
# handshake is bounded; a TLS server answers in milliseconds even on a busy machine.
HANDSHAKE_WAIT = 3.0


@dataclass(frozen=True)
class Wire:
    """Where and how the clients of this run reach the server (host, port, TLS, timeout).

    ``verify`` is the run's TLS policy: certificate and host name checked, unless the user
    passed the insecure option. Every socket opened here follows it, so a check never sends
    a byte (let alone AUTH) to a server the run's own client would not trust.
    """

    host: str
    port: int
    timeout: float
    tls: bool
    ca_cert: str | None
    verify: bool = True

    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def open(self, *, tls: bool | None = None, timeout: float | None = None) -> socket.socket:
        """A connected socket; TLS as the clients use it unless ``tls`` says otherwise."""
        raw = socket.create_connection((self.host, self.port), timeout=timeout or self.timeout)
        use_tls = self.tls if tls is None else tls
        if not use_tls:
            return raw
        try:
            return tls_context(self.ca_cert, self.verify).wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def wire_of(client: redis.Redis) -> Wire:
    """The wire the given client uses (its pool's connection settings)."""
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    uses_tls = issubclass(client.connection_pool.connection_class, redis.SSLConnection)
    timeout = kwargs.get("socket_timeout") or 5.0
    return Wire(
        host=str(kwargs.get("host", "127.0.0.1")),
        port=int(kwargs.get("port", 6379)),
        timeout=float(timeout),
        tls=uses_tls,
        ca_cert=kwargs.get("ssl_ca_certs") if uses_tls else None,
        verify=verifies(kwargs) if uses_tls else True,
    )


def client_password(client: redis.Redis) -> str | None:
    """The password the authenticated client sends (never shown)."""
    password = client.connection_pool.connection_kwargs.get("password")
    return str(password) if password else None


def encode_command(*words: str | bytes) -> bytes:
    """One command in RESP, as every client library sends it."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode() if isinstance(word, str) else word
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


CLOSED = "(connection closed)"
TIMED_OUT = "(no reply)"


def read_reply_line(sock: socket.socket, wait: float) -> str:
    """The first reply line (``+PONG``, ``-NOAUTH ...``), or CLOSED / TIMED_OUT / a reset."""
    sock.settimeout(wait)
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
        except ssl.SSLError as problem:
            return f"(TLS error: {problem.reason or problem})"
        except OSError as problem:
            return f"(connection reset: {problem.strerror or problem})"
        if not chunk:
            return CLOSED if not data else _shown(data)
        data += chunk
    return _shown(data.split(b"\r\n", 1)[0])


def _shown(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if len(text) <= _SHOWN_REPLY else text[:_SHOWN_REPLY] + "..."


def exchange(wire: Wire, *commands: bytes, tls: bool | None = None) -> list[str]:
    """Send each command on one fresh connection and read one reply line after each."""
    replies: list[str] = []
    with wire.open(tls=tls) as sock:
        for command in commands:
            try:
                sock.sendall(command)
            except OSError as problem:
                replies.append(f"(send failed: {problem.strerror or problem})")
                break
            reply = read_reply_line(sock, wire.timeout)
            replies.append(reply)
            if not reply or reply[0] not in "+-:$*":
                break
    return replies


def is_resp_reply(reply: str) -> bool:
    """True when the line is a Redis reply (the other end spoke RESP)."""
    return bool(reply) and reply[0] in "+-:$*_"


def _not_promised(check_id: str, context: CheckContext) -> CheckResult | None:
    setting = context.settings.tls_enabled
    if setting.value:
        return None
    return skipped(
        check_id,
        f"TLS is not promised ({setting.cite()}): the server speaks plain TCP, "
        "and config.tls checks that it does",
        str(setting.source),
    )


@check("tls.accepts_tls_clients", safe=True)
def accepts_tls_clients(context: CheckContext) -> CheckResult:
    """TLS clients are served (certificate verified against the run's CA)"""
    not_promised = _not_promised("tls.accepts_tls_clients", context)
    if not_promised is not None:
        return not_promised
    setting, service = context.settings.tls_enabled, context.service
    wire = wire_of(context.client)
    head = f"Promise: Redis accepts TLS clients, as {setting.cite()} says."
    wait = min(HANDSHAKE_WAIT, wire.timeout)
    started = time.perf_counter()
    try:
        with wire.open(tls=True, timeout=wait) as sock:
            handshake_ms = (time.perf_counter() - started) * 1000
            assert isinstance(sock, ssl.SSLSocket)
            version, cipher = sock.version(), (sock.cipher() or ("?",))[0]
            sock.sendall(encode_command("PING"))
            reply = read_reply_line(sock, wire.timeout)
    except ssl.SSLCertVerificationError as problem:
        return error(
            "tls.accepts_tls_clients",
            f"{head} Broken: {wire.where()} speaks TLS but its certificate was not accepted "
            f"({problem.verify_message or problem.reason}; checked against {_trusted(wire)}): "
            "not the server this run trusts, so nothing was sent to it",
            str(setting.source),
            {"handshake": "certificate rejected"},
        )
    except (ssl.SSLError, OSError) as problem:
        deployed = service.args.value("tls-port")
        cause = (
            f"{service.describe()} sets no --tls-port ({service.command_source})"
            if deployed in (None, "0")
            else f"{service.describe()} sets --tls-port {deployed}"
        )
        return error(
            "tls.accepts_tls_clients",
            f"{head} Broken: a TLS handshake with {wire.where()} failed ({_ssl_reason(problem, wait)}); "
            f"the server does not speak TLS there: {cause}",
            str(setting.source),
            {"handshake": "failed"},
        )
    measured = {"tls_version": version, "cipher": cipher, "handshake_ms": round(handshake_ms, 2)}
    if not is_resp_reply(reply):
        return error(
            "tls.accepts_tls_clients",
            f"{head} Broken: the TLS handshake with {wire.where()} worked but a PING over it got {reply}",
            str(setting.source),
            measured,
        )
    authenticated = "not tried (the run's clients do not use TLS)"
    if wire.tls:
        try:
            authenticated = "PONG" if context.client.ping() is True else "no PONG"
        except redis.RedisError as problem:
            authenticated = f"{type(problem).__name__}: {problem}"
    how = (
        f"certificate and host name verified against {_trusted(wire)}"
        if wire.verify
        else "TLS verification OFF (--nself-redis-insecure / doctor --insecure): "
        "certificate and host name not checked"
    )
    message = (
        f"{head} Seen: {version} handshake with {wire.where()} ({cipher}, {handshake_ms:.1f} ms, {how}); "
        f"a PING over it got {reply}; an authenticated client over TLS: {authenticated}"
    )
    if wire.tls and authenticated != "PONG":
        return error("tls.accepts_tls_clients", message, str(setting.source), measured)
    return ok("tls.accepts_tls_clients", message, str(setting.source), measured)


def _trusted(wire: Wire) -> str:
    return wire.ca_cert or "the system's CAs"


def _ssl_reason(problem: BaseException, wait: float) -> str:
    if isinstance(problem, TimeoutError):
        return f"no answer to the TLS hello within {wait:.1f} s"
    if isinstance(problem, ssl.SSLError):
        return str(problem.reason or problem)
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror
    return type(problem).__name__


@check("tls.refuses_plaintext", safe=True)
def refuses_plaintext(context: CheckContext) -> CheckResult:
    """a plaintext client gets no reply (no plaintext listener is open)"""
    not_promised = _not_promised("tls.refuses_plaintext", context)
    if not_promised is not None:
        return not_promised
    setting, service = context.settings.tls_enabled, context.service
    wire = wire_of(context.client)
    head = f"Promise: Redis accepts TLS clients only, so plaintext gets no PONG ({setting.cite()})."
    try:
        reply = exchange(wire, encode_command("PING"), tls=False)[0]
    except OSError as problem:
        reply = f"(connect failed: {problem.strerror or problem})"
    broken: list[str] = []
    if is_resp_reply(reply):
        broken.append(f"a plaintext PING on {wire.where()} got {reply}: the server speaks plain TCP there")
    deployed_port = service.args.value("port")
    if deployed_port not in (None, "0"):
        broken.append(
            f"{service.describe()} sets --port {deployed_port} ({service.command_source}), "
            "a plaintext listener beside the TLS port; TLS only needs --port 0"
        )
    live = config_get(context.client, "port")
    live_port = live.get("port") if live else None
    if live_port not in (None, "0"):
        broken.append(f"the running server reports port={live_port}: a plaintext listener is open")
    measured = {"plaintext_reply": reply, "live_port": live_port}
    if broken:
        return error(
            "tls.refuses_plaintext", f"{head} Broken: " + "; ".join(broken), str(setting.source), measured
        )
    return ok(
        "tls.refuses_plaintext",
        f"{head} Kept: a plaintext PING on {wire.where()} got {reply}; live port="
        f"{live_port if live_port is not None else '? (CONFIG unavailable)'}",
        str(setting.source),
        measured,
    )
