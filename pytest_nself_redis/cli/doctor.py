"""``nself-redis doctor``: health for ``nself doctor``, safe on production.

Exit status: 0 when no check errs (warnings do not fail), 1 when any does, 2 for bad
usage, an unreachable server or a refused password, 128 + the signal (130, 143) when
stopped by SIGINT/SIGTERM (its scratch keys deleted first). With ``--format nagios``: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN (doctor could not look, or the deadline cut it short
before any check failed). The github, prometheus and health-json formats exit as human.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from pytest_nself_redis.cli.files import write_atomically
from pytest_nself_redis.doctor.bounds import Interrupted, signals_interrupt
from pytest_nself_redis.doctor.choices import CA_FLAG, DOCTOR_SUITES, SENTINEL_URL_FLAG, URL_FLAG
from pytest_nself_redis.doctor.formats import Rendered, Surroundings, Unavailable, render, render_unavailable
from pytest_nself_redis.doctor.formats.nagios import UNKNOWN
from pytest_nself_redis.doctor.runner import DoctorReport, load_context, run_doctor
from pytest_nself_redis.durations import parse_seconds
from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.live.url import check_attach_options, endpoint_from_url
from pytest_nself_redis.secrets import Redactor

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


def seconds_options(options: argparse.Namespace, *names: str) -> list[float] | str:
    """Each named option in seconds, or the one usage message naming the bad option."""
    values = []
    for option in names:
        raw = str(getattr(options, option))
        try:
            values.append(parse_seconds(raw))
        except ValueError as problem:
            return f"--{option} {raw!r}: {problem}"
    return values


def deliver(
    rendered: Rendered,
    output: str | None,
    environ: Mapping[str, str],
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Put a format's text where it belongs; its exit status."""
    if rendered.stdout:
        if output:
            write_atomically(Path(output), rendered.stdout, f"--output {output}")
        else:
            stdout.write(rendered.stdout)
    if rendered.stderr:
        stderr.write(rendered.stderr)
    summary = environ.get(STEP_SUMMARY)
    if rendered.step_summary and summary:
        try:
            with open(summary, "a", encoding="utf-8") as stream:  # appended: earlier steps' stay
                stream.write(rendered.step_summary)
        except OSError as problem:
            raise HarnessError(
                f"${STEP_SUMMARY} {summary}: cannot be appended to ({problem.strerror})"
            ) from None
    return rendered.status


def surroundings(options: argparse.Namespace, environ: Mapping[str, str], stream: TextIO) -> Surroundings:
    colour = not options.output and stream.isatty() and "NO_COLOR" not in environ
    workspace = Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())
    return Surroundings(colour=colour, workspace=workspace)


def examine(options: argparse.Namespace, timeout: float, deadline: float) -> DoctorReport | Unavailable:
    """Load the project's env and run the checks; what stopped doctor from looking, if anything,
    as an ``Unavailable`` whose message no secret of the env or the URL can reach."""
    # The URL's password is known before anything can fail, so no message can show it.
    redactor = Redactor()
    redactor.add_url(options.redis_url)
    redactor.add_url(options.sentinel_url)
    started, started_at = time.monotonic(), time.time()
    try:
        check_attach_options(options.redis_url, options.redis_ca, URL_FLAG, CA_FLAG)
        if options.sentinel_url is not None:
            endpoint_from_url(options.sentinel_url, url_flag=SENTINEL_URL_FLAG)
        context = load_context(options.project, options.env, options.nself_version)
        for value in context.redactor.values:
            redactor.add(value)
        return run_doctor(
            context,
            options.redis_url,
            timeout,
            options.redis_ca,
            tuple(options.suite) if options.suite else DOCTOR_SUITES,
            deadline,
            insecure=options.insecure,
            sentinel_url=options.sentinel_url,
            local=options.local,
        )
    except Exception as error:
        # A HarnessError is the user's to fix; anything else is ours, still one line, no traceback.
        message = str(error)
        if not isinstance(error, HarnessError):
            message = f"doctor could not complete ({type(error).__name__}: {error})"
        return Unavailable(message, redactor, options.env, (time.monotonic() - started) * 1000, started_at)


def run(options: argparse.Namespace, extra: list[str]) -> int:
    seconds = seconds_options(options, "timeout", "deadline")
    if isinstance(seconds, str):
        if options.format == "nagios":  # a monitoring system reads stdout and the status: UNKNOWN
            print(f"REDIS UNKNOWN - {seconds}")
            return UNKNOWN
        print(f"nself-redis: {seconds}", file=sys.stderr)
        return int(ExitStatus.USAGE)
    timeout, deadline = seconds
    try:
        with signals_interrupt():
            outcome = examine(options, timeout, deadline)
    except Interrupted as stopped:
        print(f"nself-redis: doctor stopped by {stopped}; its scratch keys were deleted", file=sys.stderr)
        return stopped.exit_status
    where = surroundings(options, os.environ, sys.stdout)
    if isinstance(outcome, Unavailable):
        rendered = render_unavailable(options.format, outcome, where)
    else:
        rendered = render(options.format, outcome, where)
    return deliver(rendered, options.output, os.environ, sys.stdout, sys.stderr)
