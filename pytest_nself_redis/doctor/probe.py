"""``nself-redis probe``: is the server up and answering? For Docker HEALTHCHECK and Kubernetes exec probes.

A probe runs every few seconds on the server's own host, so it is small and quick: one
socket, RESP by hand (``live.resp``), no redis-py, pytest or Docker, and the whole probe
bounded by one timeout. It answers healthy (exit 0) or unhealthy (exit 1, never 2: Docker
reserves it), with one line of output. The password never comes from the command line, which
every process can read (``ps``, ``docker inspect``): NSELF_REDIS_PASSWORD, REDISCLI_AUTH, or
the project's env files. ``--write`` adds a write round trip (a key under the harness's prefix,
created with a TTL and deleted at once), which also catches a server that answers PING but
refuses writes (MISCONF, READONLY, OOM).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pytest_nself_redis.doctor.bounds import Deadline, DeadlineReached
from pytest_nself_redis.doctor.choices import CA_FLAG, URL_FLAG
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.prefix import HARNESS_PREFIX
from pytest_nself_redis.live.resp import CLOSED, TIMED_OUT, Arg, encode, read_reply_line
from pytest_nself_redis.live.url import endpoint_from_url, refuse_password
from pytest_nself_redis.project.generation import Generation
from pytest_nself_redis.secrets import PASSWORD_VARIABLES, Secret

# How long the --write key may outlive a probe that dies between SET and DEL.
WRITE_TTL_MS = 10_000


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    message: str


@dataclass(frozen=True)
class Where:
    """The server to probe and where each part of its address came from (for messages)."""

    address: ServerAddress
    origin: str
    password_origin: str


def _compose_evidence(directory: Path) -> Generation | None:
    """What the compose file's shape says of the generation, as doctor reads it; YAML is loaded only
    when the env files leave the generation open and there is a compose file to read."""
    from pytest_nself_redis.compose.names import find_compose_file

    if find_compose_file(directory) is None:
        return None
    from pytest_nself_redis.compose.shape import compose_generation

    return compose_generation(directory)


def _password_from_environment(environ: Mapping[str, str]) -> tuple[Secret, str] | None:
    for name in PASSWORD_VARIABLES:
        if environ.get(name):
            return Secret(environ[name]), f"environment variable {name}"
    return None


def locate(
    url: str | None,
    *,
    ca_file: str | None,
    insecure: bool,
    project_dir: str,
    env: str | None,
    version: str | None,
    environ: Mapping[str, str],
) -> Where:
    """The address from ``--redis-url`` (the project is not read), else 127.0.0.1 and the env's
    REDIS_PORT, as doctor attaches; the password from the environment, else the env files."""
    from_environment = _password_from_environment(environ)
    if url is not None:
        refuse_password(
            url, URL_FLAG, "a probe's command line is shown to every process (ps, docker inspect)"
        )
        address = endpoint_from_url(url, ca_file, insecure, URL_FLAG, CA_FLAG)
        password, origin = from_environment or (Secret(""), "none given")
        return Where(replace(address, password=password), URL_FLAG, origin)
    if ca_file is not None:
        raise TargetError(f"{CA_FLAG} applies only to a rediss:// {URL_FLAG} (TLS); no URL was given")
    from pytest_nself_redis.project.model import NselfProject  # only here: a URL needs no project

    project = NselfProject.open(project_dir, version, environ, "--nself-version", _compose_evidence)
    name = project.choose_envs(env, environ).names[0]
    settings = project.settings(name)
    if not settings.enabled.value:
        raise TargetError(
            f"REDIS_ENABLED is not true for env {name} ({settings.enabled.cite()}): no Redis to probe"
        )
    if not settings.port.value:
        raise TargetError(f"{settings.port.cite()} publishes no host port; pass {URL_FLAG} redis://host:port")
    password, origin = from_environment or (settings.password.value, settings.password.cite())
    return Where(ServerAddress(port=settings.port.value, password=password), settings.port.cite(), origin)


def _meaning(step: str, reply: str, where: Where, seconds: float) -> str:
    """Why a step's reply is not the one a healthy server gives."""
    server = where.address.where()
    if reply == TIMED_OUT:
        return f"{server} did not answer {step} within {seconds:g} s"
    if reply == CLOSED or reply.startswith("(connection"):
        return f"{server} closed the connection at {step} {reply}"
    if "NOAUTH" in reply:
        return f"{server} requires a password and none was given (set NSELF_REDIS_PASSWORD or REDISCLI_AUTH)"
    if "WRONGPASS" in reply or "invalid password" in reply:
        return f"{server} rejected the password from {where.password_origin} (WRONGPASS)"
    if "without any password configured" in reply:
        return (
            f"{server} has no password, but one was given ({where.password_origin}): "
            "it is not the server the env describes"
        )
    if "LOADING" in reply:
        return f"{server} is still loading its dataset ({reply})"
    return f"{server} answered {step} with {reply}"


def _steps(address: ServerAddress, write: bool) -> list[tuple[str, tuple[Arg, ...], str]]:
    """(name, command, the reply line a healthy server starts with)."""
    steps: list[tuple[str, tuple[Arg, ...], str]] = []
    if address.password:
        user: tuple[Arg, ...] = (address.username,) if address.username else ()
        steps.append(("AUTH", ("AUTH", *user, address.password.reveal()), "+OK"))
    steps.append(("PING", ("PING",), "+PONG"))
    if write:
        key = f"{HARNESS_PREFIX}probe:{os.urandom(4).hex()}"  # (not secrets: it loads hashlib)
        if address.db:
            steps.append(("SELECT", ("SELECT", address.db), "+OK"))
        steps.append(("SET", ("SET", key, "1", "PX", WRITE_TTL_MS), "+OK"))
        steps.append(("DEL", ("DEL", key), ":1"))
    return steps


def probe(where: Where, timeout: float, write: bool = False) -> Verdict:
    """Connect, authenticate, PING (and with ``write`` SET and DEL a key), all within ``timeout``."""
    address = where.address
    bound = Deadline(timeout)
    started = time.monotonic()
    try:
        with bound.armed(), address.open_socket(timeout=bound.step_timeout(timeout)) as sock:
            for name, command, healthy in _steps(address, write):
                sock.sendall(encode(*command))
                reply = read_reply_line(sock, bound.step_timeout(timeout))
                if not reply.startswith(healthy):
                    return Verdict(False, _meaning(name, reply, where, timeout))
    except DeadlineReached:
        return Verdict(False, f"{address.where()} did not answer within {timeout:g} s")
    except OSError as problem:
        reason = problem.strerror or str(problem) or type(problem).__name__
        return Verdict(
            False, f"nothing answers as Redis at {address.where()} (from {where.origin}): {reason}"
        )
    elapsed = (time.monotonic() - started) * 1000
    done = "PONG and a write round trip" if write else "PONG"
    return Verdict(True, f"{done} from {address.where()} in {elapsed:.1f} ms")
