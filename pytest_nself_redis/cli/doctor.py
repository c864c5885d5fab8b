"""``nself-redis doctor``: health for ``nself doctor``, safe on production.

Exit status: 0 when no check errs (warnings do not fail), 1 when any does, 2 for bad
usage, an unreachable server or a refused password. With ``--nagios``: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN.
"""

from __future__ import annotations

import argparse
import sys

from pytest_nself_redis.doctor.output import write_human, write_json, write_nagios
from pytest_nself_redis.doctor.runner import CA_FLAG, DOCTOR_SUITES, URL_FLAG, load_context, run_doctor
from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.secrets import redact_url, url_password
from pytest_nself_redis.targets.attach import check_attach_options

NAGIOS_UNKNOWN = 3


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="non-destructive health checks against the RUNNING Redis of a project",
        description="Run the safe checks (health, config, auth, monitoring, queue readiness, a short "
        "latency sample) against the running server: host, port and password from the env, or "
        "--redis-url. Never writes outside its own key prefix; never changes config.",
    )
    parser.add_argument("--env", help="env name (default: as nself picks: NSELF_ENV, .env ENV=, $ENV, dev)")
    parser.add_argument("--project", default=".", help="nself project directory (default: .)")
    parser.add_argument(
        "--redis-url", help="reach the server here instead (redis[s]://[:password@]host:port)"
    )
    parser.add_argument("--redis-ca", help="CA certificate for a rediss:// server (default: system CAs)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON document (schema: doctor/schema.json)")
    output.add_argument("--nagios", action="store_true", help="one Nagios plugin line and status")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per network step (default 2)")
    parser.add_argument(
        "--suite", action="append", choices=DOCTOR_SUITES, help="only these suites (repeatable)"
    )
    parser.set_defaults(handler=run)


def run(options: argparse.Namespace, extra: list[str]) -> int:
    if options.timeout <= 0:
        print("nself-redis: --timeout must be positive", file=sys.stderr)
        return int(ExitStatus.USAGE)
    try:
        check_attach_options(options.redis_url, options.redis_ca, URL_FLAG, CA_FLAG)
        context = load_context(options.project, options.env)
        redactor = context.redactor
        if options.redis_url:
            redactor.add(url_password(options.redis_url))
        report = run_doctor(
            context,
            options.redis_url,
            options.timeout,
            options.redis_ca,
            tuple(options.suite) if options.suite else DOCTOR_SUITES,
        )
    except HarnessError as error:
        message = str(error)
        if options.redis_url:
            message = message.replace(options.redis_url, redact_url(options.redis_url))
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
