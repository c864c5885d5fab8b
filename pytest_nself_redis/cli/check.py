"""``nself-redis check``: the bundled suites through pytest, without learning its options."""

from __future__ import annotations

import argparse

import pytest

from pytest_nself_redis.plugin.bundled import SUITES_PACKAGE


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
