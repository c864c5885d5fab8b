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

from pytest_nself_redis import node
from pytest_nself_redis.doctor.bounds import DEFAULT_DEADLINE
from pytest_nself_redis.doctor.choices import DOCTOR_SUITES
from pytest_nself_redis.project.generation import VERSION_CHOICES
from pytest_nself_redis.targets import TARGET_KINDS

Handler = Callable[[argparse.Namespace, list[str]], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _deferred(module: str, function: str) -> Handler:
    """``function`` of ``pytest_nself_redis.cli.<module>``, imported when the command runs."""

    def run(options: argparse.Namespace, extra: list[str]) -> int:
        handler: Handler = getattr(importlib.import_module(f"pytest_nself_redis.cli.{module}"), function)
        return int(handler(options, extra))

    return run


def _check(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run the bundled suites against a project (exit status is pytest's)",
        description="Run the bundled suites through pytest and write the reports. Arguments "
        "after the options (or after --) go to pytest unchanged, e.g. -m 'health or config'.",
    )
    parser.add_argument("--env", help="env name or comma-separated list (default: as nself picks)")
    parser.add_argument("--project", help="nself project directory (default: current directory)")
    parser.add_argument("--target", choices=TARGET_KINDS, help="docker, process, attach or auto")
    parser.add_argument("--redis-url", help="attach to this running server")
    parser.add_argument("--reports", help="report directory (default: reports)")
    parser.set_defaults(handler=_deferred("check", "run_check"))


def _cleanup(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "cleanup",
        help="remove containers, volumes and temp dirs left by runs that were killed",
        description="Normal runs remove everything they launch, also on failure and Ctrl-C. "
        "A run killed with SIGKILL cannot: this removes what it left (labelled containers and "
        "volumes, nself-redis-* temp dirs whose server is gone).",
    )
    parser.set_defaults(handler=_deferred("cleanup", "run_cleanup"))


def _doctor(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="non-destructive health checks against the RUNNING Redis of a project",
        description="Run the safe checks (health, config, auth, monitoring, queue readiness, a short "
        "latency sample) against the running server: host, port and password from the env, or "
        "--redis-url. The password may instead come from the environment variable "
        "NSELF_REDIS_PASSWORD (or REDISCLI_AUTH), which keeps it out of the command line and ps: it "
        "overrides REDIS_PASSWORD of the env files and fills in when the URL has none. Never writes "
        "outside its own key prefix; never changes config.",
    )
    parser.add_argument("--env", help="env name (default: as nself picks: NSELF_ENV, .env ENV=, $ENV, dev)")
    parser.add_argument("--project", default=".", help="nself project directory (default: .)")
    parser.add_argument(
        "--nself-version",
        choices=VERSION_CHOICES,
        help="the nself generation that wrote the project: 0 (0.9.x), 1 (1.x), auto (default: detect)",
    )
    parser.add_argument(
        "--redis-url",
        help="reach the server here instead (redis[s]://[:password@]host:port); better leave the "
        "password out and set NSELF_REDIS_PASSWORD or REDISCLI_AUTH",
    )
    parser.add_argument("--redis-ca", help="CA certificate for a rediss:// server (default: system CAs)")
    parser.add_argument(
        "--sentinel-url",
        help="a sentinel of the env's running Sentinel deployment (redis://[:password@]host:port): "
        "the sentinel suite's safe checks read it and the sentinels it knows (without a password, "
        "REDIS_PASSWORD is tried)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify a rediss:// server's certificate and host name (the output says "
        "TLS verification OFF, in red)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="the server runs on this machine (directly or in a container): also read its host's "
        "kernel settings and the server process's limits (operations suite)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON document (schema: doctor/schema.json)")
    output.add_argument("--nagios", action="store_true", help="one Nagios plugin line and status")
    parser.add_argument("--timeout", default="2", help="seconds per network step (default 2)")
    parser.add_argument(
        "--deadline",
        default=f"{DEFAULT_DEADLINE:g}",
        help=f"seconds for the whole run, whatever the server does (default {DEFAULT_DEADLINE:g})",
    )
    parser.add_argument(
        "--suite", action="append", choices=DOCTOR_SUITES, help="only these suites (repeatable)"
    )
    parser.set_defaults(handler=_deferred("doctor", "run"))


def _node_setup(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "node-setup",
        help="install the node modules (bullmq, ioredis) the queue suite's BullMQ round trip needs",
        description="Run `npm ci` with the package's pinned package-lock.json into a cache directory "
        f"(default {node.default_dir()}; --dir or ${node.DIR_ENV} choose another). Nothing is done when "
        "the modules there are already those of this version. Needs node and npm on PATH "
        f"(or ${node.NODE_ENV} / ${node.NPM_ENV}) and the npm registry.",
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


def declare(subparsers: Subparsers) -> None:
    """Every subcommand, in the order ``--help`` lists them."""
    for add in (_check, _cleanup, _doctor, _node_setup):
        add(subparsers)
