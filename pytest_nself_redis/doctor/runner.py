"""Running the safe checks against a running server, each bounded, none able to harm it.

Only checks registered with ``safe=True`` run (they read, or write under their own
key prefix and delete what they wrote). A check the server does not allow for this
user (ACL) is skipped with the server's reason; one that times out is an error.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis import __version__
from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.context import EnvContext, load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.server import server_version
from pytest_nself_redis.targets.attach import AttachTarget
from pytest_nself_redis.targets.base import TargetOptions

# In report order. queue.bullmq (a Node round trip) is left to the suites: too slow here.
DOCTOR_SUITES = ("health", "config", "auth", "monitoring", "queue", "latency")
EXCLUDED = {"queue.bullmq"}
SCHEMA_VERSION = 1
# How doctor spells the options messages name.
URL_FLAG = "--redis-url"
CA_FLAG = "--redis-ca"


@dataclass
class DoctorReport:
    env: str
    target: str
    server_version: str
    results: list[CheckResult] = field(default_factory=list)
    duration_ms: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        counts = Counter(result.status.value for result in self.results)
        return {status.value: counts.get(status.value, 0) for status in Status}

    @property
    def status(self) -> str:
        totals = self.totals
        if totals["error"]:
            return "error"
        return "warning" if totals["warning"] else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "tool": f"nself-redis doctor {__version__}",
            "env": self.env,
            "target": self.target,
            "server_version": self.server_version,
            "status": self.status,
            "checks": [
                {
                    "id": result.id,
                    "suite": result.suite,
                    "status": result.status.value,
                    "message": result.message,
                    "source": result.source,
                    "measured": result.measured,
                }
                for result in self.results
            ],
            "totals": self.totals,
            "warnings": self.warnings,
            "duration_ms": round(self.duration_ms, 1),
        }


def _run_one(check_id: str, context: CheckContext) -> CheckResult:
    registered = REGISTRY[check_id]
    try:
        result = registered.function(context)
        if result.denied:
            return replace(
                result,
                status=Status.SKIPPED,
                message=f"{registered.title}: not allowed for this user ({result.message})",
            )
        return result
    except redis_errors.NoPermissionError as error:
        return CheckResult(
            check_id,
            registered.suite,
            Status.SKIPPED,
            f"{registered.title}: not allowed for this user ({error})",
        )
    except redis_errors.ResponseError as error:
        if "NOPERM" in str(error) or "unknown command" in str(error).lower():
            return CheckResult(
                check_id, registered.suite, Status.SKIPPED, f"{registered.title}: not allowed here ({error})"
            )
        return CheckResult(
            check_id,
            registered.suite,
            Status.ERROR,
            f"{registered.title}: the server answered with an error: {error}",
        )
    except redis_errors.TimeoutError:
        return CheckResult(
            check_id, registered.suite, Status.ERROR, f"{registered.title}: no reply within the timeout"
        )
    except redis_errors.ConnectionError as error:
        return CheckResult(
            check_id, registered.suite, Status.ERROR, f"{registered.title}: the connection failed ({error})"
        )


def doctor_checks(suites: tuple[str, ...] = DOCTOR_SUITES) -> list[str]:
    """The ids doctor runs: safe checks of the chosen suites, in suite order."""
    return [
        check_id
        for suite in suites
        for check_id, registered in REGISTRY.items()
        if registered.suite == suite and registered.safe and check_id not in EXCLUDED
    ]


def load_context(project_dir: str, env: str | None) -> EnvContext:
    project = NselfProject.open(project_dir)
    names = project.choose_envs(env, os.environ).names
    return load_env_context(project, names[0])


def run_doctor(
    context: EnvContext,
    redis_url: str | None,
    timeout: float,
    redis_ca: str | None = None,
    suites: tuple[str, ...] = DOCTOR_SUITES,
) -> DoctorReport:
    """Attach (errors raise TargetError/UnreachableError), run the safe checks, report."""
    started = time.monotonic()
    options = TargetOptions(
        run_id=f"doctor-{secrets.token_hex(3)}",
        redis_url=redis_url,
        redis_ca=redis_ca,
        url_flag=URL_FLAG,
        ca_flag=CA_FLAG,
        socket_timeout=timeout,
    )
    target = AttachTarget(context, options)
    target.start()
    try:
        client = target.client()
        report = DoctorReport(context.name, target.describe(), server_version(client))
        report.warnings = [item.describe() for item in context.runtime_disagreements]
        check_context = CheckContext.of(target, client)
        for check_id in doctor_checks(suites):
            report.results.append(_run_one(check_id, check_context))
    finally:
        target.stop()
    report.duration_ms = (time.monotonic() - started) * 1000
    return report
