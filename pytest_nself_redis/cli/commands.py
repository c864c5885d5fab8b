"""Every ``nself-redis`` subcommand's options, declared without importing its handler.

The handler's module (``cli/check.py`` with pytest, ``cli/doctor.py`` with the checks,
...) is imported only when its command runs, so ``--version`` and ``--help`` stay fast
and load neither pytest nor Docker.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import TypeAlias

from pytest_nself_redis.doctor.bounds import DEFAULT_DEADLINE
from pytest_nself_redis.doctor.choices import (
    DOCTOR_SUITES,
    FORMATS,
    SERVE_BIND,
    SERVE_CACHE,
    SERVE_PORT,
)
from pytest_nself_redis.project.generation import VERSION_CHOICES
from pytest_nself_redis.targets import TARGET_KINDS

Handler = Callable[[argparse.Namespace, list[str]], int]
# Commands whose callers read exit 2 as something else: bad arguments exit with this instead
# (a Docker HEALTHCHECK reserves 2; a probe is healthy or not).
USAGE_STATUS = {"probe": 1}
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Declare = Callable[[argparse.ArgumentParser], None]


def _deferred(module: str, function: str) -> Handler:
    """``function`` of ``pytest_nself_redis.cli.<module>``, imported when the command runs."""

    def run(options: argparse.Namespace, extra: list[str]) -> int:
        handler: Handler = getattr(importlib.import_module(f"pytest_nself_redis.cli.{module}"), function)
        return int(handler(options, extra))

    return run


def _check(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the bundled suites through pytest and write the reports. Arguments "
        "after the options (or after --) go to pytest unchanged, e.g. -m 'health or config'."
    )
    parser.add_argument("--env", help="env name or comma-separated list (default: as nself picks)")
    parser.add_argument("--project", help="nself project directory (default: current directory)")
    parser.add_argument("--target", choices=TARGET_KINDS, help="docker, process, attach or auto")
    parser.add_argument("--redis-url", help="attach to this running server")
    parser.add_argument("--reports", help="report directory (default: reports)")
    parser.set_defaults(handler=_deferred("check", "run_check"))


def _cleanup(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Normal runs remove everything they launch, also on failure and Ctrl-C. "
        "A run killed with SIGKILL cannot: this removes what it left (labelled containers and "
        "volumes, nself-redis-* temp dirs whose server is gone)."
    )
    parser.set_defaults(handler=_deferred("cleanup", "run_cleanup"))


def _sentinel_option(parser: argparse.ArgumentParser, url_help: str) -> None:
    """Doctor and serve read a running Sentinel deployment too; the probe checks one server."""
    parser.add_argument(
        "--sentinel-url",
        help="a sentinel of the env's running Sentinel deployment: the sentinel suite's safe checks "
        f"read it and the sentinels it knows ({url_help}; rediss:// is verified with --redis-ca)",
    )


def _project_options(parser: argparse.ArgumentParser) -> None:
    """Which project and env a command reads (every command but check, which takes a list of envs)."""
    parser.add_argument("--env", help="env name (default: as nself picks: NSELF_ENV, .env ENV=, $ENV, dev)")
    parser.add_argument("--project", default=".", help="nself project directory (default: .)")
    parser.add_argument(
        "--nself-version",
        choices=VERSION_CHOICES,
        help="the nself generation that wrote the project: 0 (0.9.x), 1 (1.x), auto (default: detect)",
    )


def _server_options(parser: argparse.ArgumentParser, url_help: str) -> None:
    """Where the running server is, as doctor, serve and probe find it: the project's env, or a URL."""
    _project_options(parser)
    parser.add_argument("--redis-url", help=url_help)
    parser.add_argument("--redis-ca", help="CA certificate for a rediss:// server (default: system CAs)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify a rediss:// server's certificate and host name (the output says "
        "TLS verification OFF, in red)",
    )


def _doctor(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run the safe checks (health, config, auth, monitoring, queue readiness, a short "
        "latency sample) against the running server: host, port and password from the env, or "
        "--redis-url. The password may instead come from the environment variable "
        "NSELF_REDIS_PASSWORD (or REDISCLI_AUTH), which keeps it out of the command line and ps: it "
        "overrides REDIS_PASSWORD of the env files and fills in when the URL has none. Never writes "
        "outside its own key prefix; never changes config."
    )
    _server_options(
        parser,
        "reach the server here instead (redis[s]://[:password@]host:port); better leave the "
        "password out and set NSELF_REDIS_PASSWORD or REDISCLI_AUTH",
    )
    _sentinel_option(parser, "redis://[:password@]host:port; without a password, REDIS_PASSWORD is tried")
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--format",
        choices=FORMATS,
        default="human",
        help="human (default); json (schema: doctor/schema.json); nagios (one plugin line and "
        "status); github (Actions annotations, and a summary appended to $GITHUB_STEP_SUMMARY); "
        "prometheus (textfile-collector metrics); health-json (application/health+json)",
    )
    output.add_argument("--json", action="store_const", const="json", dest="format", help="--format json")
    output.add_argument(
        "--nagios", action="store_const", const="nagios", dest="format", help="--format nagios"
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="write the output to FILE instead of stdout, atomically (a temporary name in the same "
        "directory, then renamed): e.g. --format prometheus --output /var/lib/node_exporter/redis.prom",
    )
    _run_bounds(parser)
    parser.set_defaults(handler=_deferred("doctor", "run"))


def _run_bounds(parser: argparse.ArgumentParser) -> None:
    """What a doctor run covers and how long it may take (doctor and serve)."""
    parser.add_argument("--timeout", default="2", help="seconds per network step (default 2)")
    parser.add_argument(
        "--deadline",
        default=f"{DEFAULT_DEADLINE:g}",
        help=f"seconds for the whole run, whatever the server does (default {DEFAULT_DEADLINE:g})",
    )
    parser.add_argument(
        "--suite", action="append", choices=DOCTOR_SUITES, help="only these suites (repeatable)"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="the server runs on this machine (directly or in a container): also read its host's "
        "kernel settings and the server process's limits (operations suite)",
    )


def _probe(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Connect, authenticate and PING (with --write also SET and DEL a key under the "
        "harness's prefix, with a TTL): exit 0 healthy, 1 unhealthy, for anything else too (bad "
        "arguments included; Docker reserves 2). One line of output. The password comes only from "
        "the environment (NSELF_REDIS_PASSWORD, REDISCLI_AUTH) or the env files, never from the "
        "command line, which ps and docker inspect show: a --redis-url with a password is refused."
    )
    _server_options(parser, "reach the server here (redis[s]://host:port[/db], without a password)")
    parser.add_argument("--timeout", default="2", help="seconds for the whole probe (default 2)")
    parser.add_argument(
        "--write", action="store_true", help="also a write round trip (catches MISCONF, READONLY, OOM)"
    )
    parser.set_defaults(handler=_deferred("probe", "run_probe"))


def _serve(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Answer GET /health and /healthz with doctor's JSON: 200 when no check errs, "
        "503 otherwise (or when doctor cannot look). Each answer is bounded by --deadline and "
        "kept for --cache seconds, so a storm of probes runs doctor once. Binds 127.0.0.1 unless "
        "--bind says otherwise. The password comes only from the environment (NSELF_REDIS_PASSWORD, "
        "REDISCLI_AUTH) or the env files: a --redis-url with a password is refused."
    )
    _server_options(parser, "reach the server here (redis[s]://host:port[/db], without a password)")
    _sentinel_option(parser, "redis://host:port, without a password: REDIS_PASSWORD is used")
    _run_bounds(parser)
    parser.add_argument("--bind", default=SERVE_BIND, help=f"address to listen on (default {SERVE_BIND})")
    parser.add_argument(
        "--port", default=str(SERVE_PORT), help=f"port to listen on, 1024 or above (default {SERVE_PORT})"
    )
    parser.add_argument(
        "--cache", default=SERVE_CACHE, help=f"seconds an answer is reused (default {SERVE_CACHE})"
    )
    parser.set_defaults(handler=_deferred("serve", "run_serve"))


def _fix(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Print the compose override that makes the redis service keep every promise of the env "
        "(maxmemory within 75%% of the container's memory limit, policy, save schedule, "
        "appendfsync, maxclients, timeout, keepalive, loglevel, TLS; the password through the "
        "container's environment, a healthcheck that does not show it). With --write, write it as "
        "docker-compose.override.yml beside the compose file (and list it in .nself/compose-files.txt "
        "for nself 1.x); an override it did not write is never replaced, no secret is ever written. "
        "Exit 0: every config promise kept; 1: some promise needs the env files changed (stderr says "
        "which); 2: bad usage or input."
    )
    _project_options(parser)
    parser.add_argument(
        "--write", action="store_true", help="write the override where compose reads it (default: print it)"
    )
    parser.set_defaults(handler=_deferred("fix", "run_fix"))


def _nself_plugin(parser: argparse.ArgumentParser) -> None:
    from pytest_nself_redis.nself_plugin import GENERATIONS

    parser.description = (
        "The package ships an nself plugin folder per nself generation: 0 (0.9.x: "
        "`nself plugin install $(nself-redis nself-plugin --path --generation 0)`, then "
        "`nself plugin redis-check doctor`) and 1 (1.x: manifest v2, `nself redis-check`, and a "
        "compose service running `nself-redis serve` for `nself doctor --deep`)."
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--path", action="store_true", help="print the folder's path")
    action.add_argument("--install", metavar="DIR", help="copy the folder to DIR/redis-check")
    parser.add_argument(
        "--generation", choices=GENERATIONS, default="1", help="0 (nself 0.9.x) or 1 (1.x, default)"
    )
    parser.set_defaults(handler=_deferred("nself_plugin", "run_nself_plugin"))


def _node_setup(parser: argparse.ArgumentParser) -> None:
    from pytest_nself_redis import node

    parser.description = (
        "Run `npm ci` with the package's pinned package-lock.json into a cache directory "
        f"(default {node.default_dir()}; --dir or ${node.DIR_ENV} choose another). Nothing is done when "
        "the modules there are already those of this version. Needs node and npm on PATH "
        f"(or ${node.NODE_ENV} / ${node.NPM_ENV}) and the npm registry."
    )
    parser.add_argument("--dir", help=f"where to install (default: ${node.DIR_ENV} or the user cache)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only say whether the modules are ready (exit 0) or not (exit 1); install nothing",
    )
    parser.add_argument(
        "--timeout", type=float, default=node.INSTALL_TIMEOUT, help="seconds npm may take (default 600)"
    )
    parser.set_defaults(handler=_deferred("node", "run_node_setup"))


# Each subcommand: its one-line help, and what declares its options (in ``--help`` order).
COMMANDS: dict[str, tuple[str, Declare]] = {
    "check": ("run the bundled suites against a project (exit status is pytest's)", _check),
    "cleanup": ("remove containers, volumes and temp dirs left by runs that were killed", _cleanup),
    "doctor": ("non-destructive health checks against the RUNNING Redis of a project", _doctor),
    "fix": ("the compose override that makes the redis service keep every promise of an env", _fix),
    "nself-plugin": (
        "where the nself plugin folder is (for `nself plugin install`), or install it",
        _nself_plugin,
    ),
    "node-setup": (
        "install the node modules (bullmq, ioredis) the queue suite's BullMQ round trip needs",
        _node_setup,
    ),
    "probe": ("a health probe for Docker HEALTHCHECK and Kubernetes: exit 0 healthy, 1 unhealthy", _probe),
    "serve": ("an HTTP health endpoint (/health, /healthz) for nself doctor --deep and probes", _serve),
}


def declare(subparsers: Subparsers, chosen: str | None = None) -> None:
    """Every subcommand with its help line; the options only of the one that runs (``chosen``), so
    a command imports only what its own options need (``probe`` is timed in milliseconds)."""
    for name, (help_line, options) in COMMANDS.items():
        parser = subparsers.add_parser(name, help=help_line)
        if name == chosen:
            options(parser)
