"""``nself-redis serve``: doctor's verdict over HTTP until stopped; exit 0 when stopped by SIGTERM
or SIGINT, 2 for bad usage or an address it cannot listen on."""

from __future__ import annotations

import argparse
import sys

from pytest_nself_redis.cli.doctor import examine, seconds_options
from pytest_nself_redis.doctor.bounds import Interrupted
from pytest_nself_redis.doctor.choices import CA_FLAG, SENTINEL_URL_FLAG, URL_FLAG
from pytest_nself_redis.doctor.serve import Cache, listen, serve
from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.live.url import check_attach_options, refuse_password

LOWEST_PORT, HIGHEST_PORT = 1024, 65535


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not LOWEST_PORT <= port <= HIGHEST_PORT:
        raise HarnessError(
            f"--port {text!r}: expected a port from {LOWEST_PORT} to {HIGHEST_PORT} "
            "(nself doctor --deep probes host ports of 1024 and above)"
        )
    return port


def run_serve(options: argparse.Namespace, extra: list[str]) -> int:
    seconds = seconds_options(options, "timeout", "deadline", "cache")
    if isinstance(seconds, str):
        raise HarnessError(seconds)
    timeout, deadline, cache_seconds = seconds
    port = _port(options.port)
    for url, flag in ((options.redis_url, URL_FLAG), (options.sentinel_url, SENTINEL_URL_FLAG)):
        refuse_password(url, flag, "serve's command line is shown to every process (ps, docker)")
    check_attach_options(options.redis_url, options.redis_ca, URL_FLAG, CA_FLAG)
    cache = Cache(lambda: examine(options, timeout, deadline), cache_seconds)
    try:
        server = listen(options.bind, port, cache)
    except OSError as problem:
        raise HarnessError(
            f"cannot listen on {options.bind}:{port} ({problem.strerror or problem}); "
            "choose another --bind or --port"
        ) from None
    try:
        serve(server)
    except Interrupted as stopped:
        print(f"nself-redis serve: stopped by {stopped}", file=sys.stderr)
    return int(ExitStatus.OK)
