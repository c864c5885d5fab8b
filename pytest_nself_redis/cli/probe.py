"""``nself-redis probe``: exit 0 healthy, 1 unhealthy (anything else, bad arguments too), one line."""

from __future__ import annotations

import argparse
import os

from pytest_nself_redis.doctor.probe import Verdict, locate, probe
from pytest_nself_redis.durations import parse_seconds
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.secrets import PASSWORD_VARIABLES, Redactor

HEALTHY, UNHEALTHY = 0, 1
# Docker keeps only this much of a health check's output.
MAX_OUTPUT = 4096


def _shown(verdict: Verdict, redactor: Redactor) -> str:
    """``healthy: ...`` or ``unhealthy: ...``, scrubbed, one line, at most MAX_OUTPUT bytes."""
    line = " ".join(redactor.scrub(verdict.message).split())
    text = f"{'healthy' if verdict.healthy else 'unhealthy'}: {line}"
    return text.encode()[: MAX_OUTPUT - 1].decode(errors="ignore")


def run_probe(options: argparse.Namespace, extra: list[str]) -> int:
    redactor = Redactor(os.environ.get(name, "") for name in PASSWORD_VARIABLES)
    try:
        timeout = parse_seconds(options.timeout)
    except ValueError as problem:
        print(_shown(Verdict(False, f"--timeout {options.timeout!r}: {problem}"), redactor))
        return UNHEALTHY
    try:
        where = locate(
            options.redis_url,
            ca_file=options.redis_ca,
            insecure=options.insecure,
            project_dir=options.project,
            env=options.env,
            version=options.nself_version,
            environ=os.environ,
        )
        redactor.add(where.address.password)
        verdict = probe(where, timeout, options.write)
    except HarnessError as problem:
        verdict = Verdict(False, str(problem))
    except Exception as problem:  # still one line and exit 1: the caller only reads 0 or not
        verdict = Verdict(False, f"the probe could not complete ({type(problem).__name__}: {problem})")
    print(_shown(verdict, redactor))
    return HEALTHY if verdict.healthy else UNHEALTHY
