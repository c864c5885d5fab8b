"""``nself-redis doctor``: health for ``nself doctor``, safe on production.

Exit status: 0 when no check errs (warnings do not fail), 1 when any does, 2 for bad
usage, an unreachable server or a refused password, 128 + the signal (130, 143) when
stopped by SIGINT/SIGTERM (its scratch keys deleted first). With ``--nagios``: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN (doctor could not look, or the deadline cut it short
before any check failed).
"""

from __future__ import annotations

import argparse
import sys

from pytest_nself_redis.doctor.bounds import Interrupted, signals_interrupt
from pytest_nself_redis.doctor.choices import CA_FLAG, DOCTOR_SUITES, URL_FLAG
from pytest_nself_redis.doctor.output import write_human, write_json, write_nagios
from pytest_nself_redis.doctor.runner import load_context, run_doctor
from pytest_nself_redis.durations import parse_seconds
from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.live.url import check_attach_options
from pytest_nself_redis.secrets import Redactor

NAGIOS_UNKNOWN = 3


def _seconds(options: argparse.Namespace) -> tuple[float, float] | str:
    """(timeout, deadline), or the one usage message naming the bad option."""
    values = []
    for option in ("timeout", "deadline"):
        raw = str(getattr(options, option))
        try:
            values.append(parse_seconds(raw))
        except ValueError as problem:
            return f"--{option} {raw!r}: {problem}"
    return values[0], values[1]


def run(options: argparse.Namespace, extra: list[str]) -> int:
    seconds = _seconds(options)
    if isinstance(seconds, str):
        if options.nagios:  # a monitoring system reads stdout and the status: UNKNOWN, not CRITICAL
            print(f"REDIS UNKNOWN - {seconds}")
            return NAGIOS_UNKNOWN
        print(f"nself-redis: {seconds}", file=sys.stderr)
        return int(ExitStatus.USAGE)
    timeout, deadline = seconds
    # The URL's password is known before anything can fail, so no message can show it.
    redactor = Redactor()
    redactor.add_url(options.redis_url)
    try:
        check_attach_options(options.redis_url, options.redis_ca, URL_FLAG, CA_FLAG)
        with signals_interrupt():
            context = load_context(options.project, options.env, options.nself_version)
            redactor = Redactor([*redactor.values, *context.redactor.values])
            report = run_doctor(
                context,
                options.redis_url,
                timeout,
                options.redis_ca,
                tuple(options.suite) if options.suite else DOCTOR_SUITES,
                deadline,
                insecure=options.insecure,
            )
    except Interrupted as stopped:
        print(f"nself-redis: doctor stopped by {stopped}; its scratch keys were deleted", file=sys.stderr)
        return stopped.exit_status
    except Exception as error:
        # A HarnessError is the user's to fix; anything else is ours, still one line, no traceback.
        message = str(error)
        if not isinstance(error, HarnessError):
            message = f"doctor could not complete ({type(error).__name__}: {error})"
        message = redactor.scrub(message)
        if options.nagios:
            print(f"REDIS UNKNOWN - {message}")
            return NAGIOS_UNKNOWN
        print(f"nself-redis: {message}", file=sys.stderr)
        return int(ExitStatus.USAGE)
    if options.json:
        write_json(report, sys.stdout, redactor)
    elif options.nagios:
        return write_nagios(report, sys.stdout, redactor)
    else:
        write_human(report, sys.stdout, redactor)
    return int(ExitStatus.CHECK_FAILED if report.status == "error" else ExitStatus.OK)
