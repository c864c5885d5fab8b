"""tls: with REDIS_TLS_ENABLED=true the server speaks TLS only.

The handshake and the plaintext probe use sockets of their own (``live``), under the run's
TLS policy, and judge the first reply line the server sends.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import send
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, verdict
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.live.resp import encode, is_resp_reply, read_reply_line
from pytest_nself_redis.remedy import Consequence, Remedy, add_flags, deployment, server

# A plaintext server never answers a TLS hello (it waits for a command line), so the
# handshake is bounded; a TLS server answers in milliseconds even on a busy machine.
HANDSHAKE_WAIT = 3.0


CheckFunction = Callable[[CheckContext], Outcome]


def when_promised(function: CheckFunction) -> CheckFunction:
    """Skip (with the reason) a TLS check when the settings promise no TLS."""

    @functools.wraps(function)
    def run(context: CheckContext) -> Outcome:
        setting = context.settings.tls_enabled
        if setting.value:
            return function(context)
        return skipped(
            f"TLS is not promised ({setting.cite()}): the server speaks plain TCP, "
            "and config.tls checks that it does",
            str(setting.source),
        )

    return run


@dataclass(frozen=True)
class Handshake:
    version: str | None
    cipher: str
    ms: float
    reply: str


def _handshake(address: ServerAddress, wait: float) -> Handshake:
    """A TLS handshake (the run's TLS policy) and a PING over it; raises what the handshake raised."""
    started = time.perf_counter()
    with address.open_socket(tls=True, timeout=wait) as sock:
        ms = (time.perf_counter() - started) * 1000
        assert isinstance(sock, ssl.SSLSocket)
        version, cipher = sock.version(), (sock.cipher() or ("?",))[0]
        sock.sendall(encode("PING"))
        return Handshake(version, cipher, ms, read_reply_line(sock, address.timeout))


def _no_tls_cause(service: RedisService) -> str:
    deployed = service.args.value("tls-port")
    if deployed in (None, "0"):
        return f"{service.describe()} sets no --tls-port ({service.command_source})"
    return f"{service.describe()} sets --tls-port {deployed}"


def _authenticated(context: CheckContext, address: ServerAddress) -> str:
    """What an authenticated PING over TLS got, when the run's clients use TLS."""
    if not address.tls:
        return "not tried (the run's clients do not use TLS)"
    try:
        return "PONG" if context.client.ping() is True else "no PONG"
    except redis.RedisError as problem:
        return f"{type(problem).__name__}: {problem}"


def _tls_remedy(context: CheckContext) -> Remedy:
    """No TLS where it is promised: the deployment's flags (``nself-redis fix`` writes them), or
    a server that does not run its deployment's TLS."""
    service = context.service
    if service.args.value("tls-port") in (None, "0"):
        return deployment(
            f"the redis command needs --port 0 --tls-port 6379 and the certificate flags "
            f"({service.command_source})",
            Consequence.SECURITY,
            str(service.command_source),
            context.settings.env,
        )
    return server("restart Redis from its deployment (it sets --tls-port)", Consequence.SECURITY)


@check("tls.accepts_tls_clients", safe=True)
@when_promised
def accepts_tls_clients(context: CheckContext) -> Outcome:
    """TLS clients are served (certificate verified against the run's CA)"""
    setting = context.settings.tls_enabled
    address = ServerAddress.of(context.client)
    head = f"Promise: Redis accepts TLS clients, as {setting.cite()} says."
    wait = min(HANDSHAKE_WAIT, address.timeout)
    try:
        shake = _handshake(address, wait)
    except ssl.SSLCertVerificationError as problem:
        return error(
            f"{head} Broken: {address.where()} speaks TLS but its certificate was not accepted "
            f"({problem.verify_message or problem.reason}; checked against {_trusted(address)}): "
            "not the server this run trusts, so nothing was sent to it",
            str(setting.source),
            {"handshake": "certificate rejected"},
        )
    except (ssl.SSLError, OSError) as problem:
        return error(
            f"{head} Broken: a TLS handshake with {address.where()} failed ({_ssl_reason(problem, wait)}); "
            f"the server does not speak TLS there: {_no_tls_cause(context.service)}",
            str(setting.source),
            {"handshake": "failed"},
            _tls_remedy(context),
        )
    measured = {"tls_version": shake.version, "cipher": shake.cipher, "handshake_ms": round(shake.ms, 2)}
    if not is_resp_reply(shake.reply):
        return error(
            f"{head} Broken: the TLS handshake with {address.where()} worked but a PING over it got "
            f"{shake.reply}",
            str(setting.source),
            measured,
        )
    authenticated = _authenticated(context, address)
    how = (
        f"certificate and host name verified against {_trusted(address)}"
        if address.verify
        else "TLS verification OFF (--nself-redis-insecure / doctor --insecure): "
        "certificate and host name not checked"
    )
    message = (
        f"{head} Seen: {shake.version} handshake with {address.where()} ({shake.cipher}, {shake.ms:.1f} ms, "
        f"{how}); a PING over it got {shake.reply}; an authenticated client over TLS: {authenticated}"
    )
    return verdict(not (address.tls and authenticated != "PONG"), message, str(setting.source), measured)


def _trusted(address: ServerAddress) -> str:
    return address.ca_file or "the system's CAs"


def _ssl_reason(problem: BaseException, wait: float) -> str:
    if isinstance(problem, TimeoutError):
        return f"no answer to the TLS hello within {wait:.1f} s"
    if isinstance(problem, ssl.SSLError):
        return str(problem.reason or problem)
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror
    return type(problem).__name__


PLAIN_TOO = "restart Redis from its deployment (it listens in plain TCP too)"


@check("tls.refuses_plaintext", safe=True)
@when_promised
def refuses_plaintext(context: CheckContext) -> Outcome:
    """a plaintext client gets no reply (no plaintext listener is open)"""
    setting, service = context.settings.tls_enabled, context.service
    address = ServerAddress.of(context.client)
    head = f"Promise: Redis accepts TLS clients only, so plaintext gets no PONG ({setting.cite()})."
    reply = send(address, encode("PING"), tls=False)[0]
    broken: list[str] = []
    if is_resp_reply(reply):
        broken.append(f"a plaintext PING on {address.where()} got {reply}: the server speaks plain TCP there")
    deployed_port = service.args.value("port")
    if deployed_port not in (None, "0"):
        broken.append(
            f"{service.describe()} sets --port {deployed_port} ({service.command_source}), "
            "a plaintext listener beside the TLS port; TLS only needs --port 0"
        )
    live_port = config_get(context.client, "port")
    if live_port not in (None, "0"):
        broken.append(f"the running server reports port={live_port}: a plaintext listener is open")
    measured = {"plaintext_reply": reply, "live_port": live_port}
    if broken:
        env, plain = context.settings.env, f"--port {deployed_port}"
        fix = (
            add_flags(service, ("--port", "0"), Consequence.SECURITY, env, plain)
            if deployed_port not in (None, "0")
            else server(
                "restart Redis from its deployment (it listens in plain TCP too)", Consequence.SECURITY
            )
        )
        return error(f"{head} Broken: " + "; ".join(broken), str(setting.source), measured, fix)
    return ok(
        f"{head} Kept: a plaintext PING on {address.where()} got {reply}; live port="
        f"{live_port if live_port is not None else '? (CONFIG unavailable)'}",
        str(setting.source),
        measured,
    )
