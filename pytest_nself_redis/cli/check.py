"""``nself-redis check``: the bundled suites through pytest, without learning its options."""

from __future__ import annotations

import argparse

import pytest

from pytest_nself_redis.plugin.bundled import SUITES_PACKAGE
from pytest_nself_redis.targets.select import TARGET_KINDS


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    parser.set_defaults(handler=run_check)


def pytest_args(options: argparse.Namespace, extra: list[str]) -> list[str]:
    """The bundled suites by module name, so pytest finds the user's own ini file (its nself_*
    keys, markers, addopts) from where the command runs, as plain ``pytest`` would."""
    args = ["--pyargs", SUITES_PACKAGE]
    for flag, value in (
        ("--nself-env", options.env),
        ("--nself-project", options.project),
        ("--nself-target", options.target),
        ("--nself-redis-url", options.redis_url),
        ("--nself-reports", options.reports),
    ):
        if value:
            args += [flag, value]
    return args + [arg for arg in extra if arg != "--"]


def run_check(options: argparse.Namespace, extra: list[str]) -> int:
    return int(pytest.main(pytest_args(options, extra)))
