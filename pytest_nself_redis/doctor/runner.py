"""Running the safe checks against a running server, each bounded, none able to harm it.

Only checks registered with ``safe=True`` run (they read, or write under their own
key prefix and delete what they wrote). A check the server does not allow for this
user (ACL) is skipped with the server's reason; one that times out is an error. One
deadline bounds the whole run (``bounds``); a run that ends early (deadline, signal)
deletes every key of its prefix on a fresh connection before it returns. The checks run
side by side (``schedule``), and are reported in the registry's order. Only the suites run
are imported, once the server has answered, and that time (doctor's, not the server's) is
not counted against the deadline, as when they loaded with the CLI.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from redis import exceptions as redis_errors

from pytest_nself_redis import __version__
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import REGISTRY, RegisteredCheck
from pytest_nself_redis.checks.results import CheckResult, Status
from pytest_nself_redis.context import (
    EnvContext,
    load_env_context,
    open_project,
    with_password_from_environment,
)
from pytest_nself_redis.doctor.bounds import DEFAULT_DEADLINE, SWEEP_SECONDS, Deadline, DeadlineReached
from pytest_nself_redis.doctor.choices import CA_FLAG, DOCTOR_SUITES, SENTINEL_URL_FLAG, URL_FLAG
from pytest_nself_redis.doctor.schedule import run_all
from pytest_nself_redis.errors import UnreachableError
from pytest_nself_redis.live.expiring import HARNESS_PREFIX, expiring
from pytest_nself_redis.live.keys import delete_prefix
from pytest_nself_redis.live.reads import server_info
from pytest_nself_redis.live.refusals import Kind, classify
from pytest_nself_redis.remedy import fix_command, proposed_override
from pytest_nself_redis.secrets import Redactor
from pytest_nself_redis.targets.attach import AttachTarget
from pytest_nself_redis.targets.base import INSECURE_NOTE, TargetOptions

SCHEMA_VERSION = 3
# ``measured`` of a check the deadline stopped or kept from running.
DEADLINE_MARK = "deadline reached"


@dataclass
class DoctorReport:
    env: str
    target: str
    server_version: str
    results: list[CheckResult] = field(default_factory=list)
    duration_ms: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # The user turned TLS verification off (--insecure): a warning entry, and red on a terminal.
    tls_unverified: bool = False
    deadline_reached: bool = False
    deadline_ids: set[str] = field(default_factory=set)
    # INFO (default sections) as read when the run started, for the formats that show the
    # server's own numbers (Nagios perfdata, Prometheus); {} where INFO was refused.
    info: dict[str, Any] = field(default_factory=dict)
    # Every secret of the run (the env's, the URL's): each format scrubs with it before it
    # serialises, so no escaping can hide a secret from it.
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    # The project the settings' sources (``.env.prod:7``) are relative to.
    project_dir: Path | None = None
    # When the run started (seconds since the epoch), for formats that timestamp observations.
    started_at: float = field(default_factory=time.time)
    # The compose override ``nself-redis fix`` would write (file, text), None without a compose
    # file; made only when a report shows it (a healthy run never renders one).
    override: Callable[[], tuple[str, str] | None] = field(default=lambda: None, repr=False, compare=False)

    @property
    def totals(self) -> dict[str, int]:
        counts = Counter(result.status.value for result in self.results)
        return {status.value: counts.get(status.value, 0) for status in Status}

    def cut_short(self, result: CheckResult) -> bool:
        """The deadline, not the server, is why this check has no verdict."""
        return result.id in self.deadline_ids

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
                    "blocked_by": result.blocked_by,
                    "remedy": result.remedy.to_json() if result.remedy else None,
                }
                for result in self.results
            ],
            "totals": self.totals,
            "warnings": self.warnings,
            "deadline_reached": self.deadline_reached,
            "duration_ms": round(self.duration_ms, 1),
            "fix": self.fix_json(),
        }

    def fix_json(self) -> dict[str, Any] | None:
        """What ``nself-redis fix`` closes of this run's failures and warnings, and its override."""
        closes = [result.id for result in self.results if result.remedy and result.remedy.fixed_by]
        override = self.override() if closes else None
        if override is None:
            return None
        file, text = override
        return {
            "command": f"{fix_command(self.env)} --write",
            "file": file,
            "closes": closes,
            "override": text,
        }


def _run_one(check_id: str, context: CheckContext, inputs: dict[str, Any] | None = None) -> CheckResult:
    """The check's result; also a refusal it raised is marked blocked by its root cause.
    ``inputs`` (e.g. the Sentinel deployment of --sentinel-url) go to the checks that take them."""
    return REGISTRY.attribute(_outcome(check_id, context, inputs or {}), context)


def _outcome(check_id: str, context: CheckContext, inputs: dict[str, Any]) -> CheckResult:
    registered = REGISTRY[check_id]
    try:
        result = registered.run(
            context, **{name: value for name, value in inputs.items() if registered.takes(name)}
        )
        if result.denied:
            return replace(
                result,
                status=Status.SKIPPED,
                message=f"{registered.title}: not allowed for this user ({result.message})",
            )
        return result
    except DeadlineReached:
        return stopped(check_id)
    except redis_errors.RedisError as error:
        return _raised(registered, error)
    except Exception as error:
        # One check's surprise (a reply Redis never gives, a bug) is its error, never the report's.
        return CheckResult(
            check_id,
            registered.suite,
            Status.ERROR,
            f"{registered.title}: the check could not complete ({type(error).__name__}: {error})",
        )


def _raised(registered: RegisteredCheck, error: redis_errors.RedisError) -> CheckResult:
    """A Redis error a check let through: a refusal to this user (ACL, a renamed command) is a
    skip, as doctor may run as a deliberately limited user; anything else is an error."""
    kind = classify(error)
    title, suite = registered.title, registered.suite
    if kind is Kind.ACL and isinstance(error, redis_errors.NoPermissionError):
        return CheckResult(
            registered.id, suite, Status.SKIPPED, f"{title}: not allowed for this user ({error})"
        )
    if kind in (Kind.ACL, Kind.UNKNOWN_COMMAND):
        return CheckResult(registered.id, suite, Status.SKIPPED, f"{title}: not allowed here ({error})")
    if kind is Kind.TIMEOUT:
        return CheckResult(registered.id, suite, Status.ERROR, f"{title}: no reply within the timeout")
    if kind is Kind.CONNECTION:
        return CheckResult(registered.id, suite, Status.ERROR, f"{title}: the connection failed ({error})")
    return CheckResult(
        registered.id, suite, Status.ERROR, f"{title}: the server answered with an error: {error}"
    )


def doctor_checks(suites: tuple[str, ...] = DOCTOR_SUITES) -> list[str]:
    """The ids doctor runs: safe checks of the chosen suites, in suite order (importing only
    those suites' check modules)."""
    return [registered.id for suite in suites for registered in REGISTRY.suite(suite) if registered.safe]


def load_context(project_dir: str, env: str | None, version: str | None = None) -> EnvContext:
    project = open_project(project_dir, version)
    names = project.choose_envs(env, os.environ).names
    return with_password_from_environment(load_env_context(project, names[0]), os.environ)


def stopped(check_id: str) -> CheckResult:
    registered = REGISTRY[check_id]
    return CheckResult(
        check_id,
        registered.suite,
        Status.ERROR,
        f"{registered.title}: stopped, deadline reached while it ran",
        measured=DEADLINE_MARK,
    )


def not_run(check_id: str, deadline: Deadline) -> CheckResult:
    registered = REGISTRY[check_id]
    return CheckResult(
        check_id,
        registered.suite,
        Status.ERROR,
        f"{registered.title}: not run, deadline reached (--deadline {deadline.seconds:g} s)",
        measured=DEADLINE_MARK,
    )


def sweep(target: AttachTarget, prefix: str, seconds: float = SWEEP_SECONDS) -> None:
    """Delete the run's keys on a fresh connection, within ``seconds`` (they expire anyway)."""
    try:
        client = target.client(socket_timeout=seconds, socket_connect_timeout=seconds)
        delete_prefix(client, prefix, max_seconds=seconds)
    except (redis_errors.RedisError, OSError):
        pass


def run_redactor(context: EnvContext, *urls: str | None) -> Redactor:
    """The secrets of a run: the env's and the passwords of its URLs (as written and decoded)."""
    redactor = Redactor(context.redactor.values)
    for url in urls:
        redactor.add_url(url)
    return redactor


def _new_report(
    context: EnvContext, target: AttachTarget, urls: tuple[str | None, ...], started_at: float
) -> DoctorReport:
    """The report of a started target: its warnings (TLS unverified first) and the INFO read."""
    report = DoctorReport(
        context.name,
        target.describe(),
        "unknown",
        redactor=run_redactor(context, *urls),
        project_dir=context.project.dir,
        started_at=started_at,
    )
    report.warnings = [item.describe() for item in context.runtime_disagreements]
    report.override = lambda: proposed_override(context, f"nself-redis {__version__}")
    if target.endpoint.unverified_tls:
        report.tls_unverified = True
        report.warnings.insert(0, INSECURE_NOTE)
    report.info = server_info(target.client())
    report.server_version = str(report.info.get("redis_version", "unknown"))
    return report


def _inputs(
    target: AttachTarget, bound: Deadline, timeout: float, sentinel_url: str | None
) -> dict[str, Any]:
    """What doctor passes to the checks that take it: the Sentinel deployment of --sentinel-url."""
    inputs: dict[str, Any] = {"sentinel": None}
    if sentinel_url is not None:
        from pytest_nself_redis.sentinel.access import attached_from_url  # only with --sentinel-url

        step = bound.step_timeout(timeout)
        insecure, ca_cert = target.options.insecure, target.options.redis_ca
        inputs["sentinel"] = attached_from_url(
            sentinel_url, target.context.settings, step, SENTINEL_URL_FLAG, insecure=insecure, ca_cert=ca_cert
        )
    return inputs


def _run_checks(
    report: DoctorReport,
    target: AttachTarget,
    check_ids: list[str],
    bound: Deadline,
    timeout: float,
    *,
    inputs: dict[str, Any],
) -> None:
    """The checks side by side (``schedule``); none starts once the deadline has passed. Each
    worker thread has a client of its own, reused by the checks it runs one after another (a
    connection and AUTH per worker, not per check; the checks leave no state on it: a check
    that names or blocks a connection clones its own). The results in ``check_ids``' order;
    one running at the deadline is reported stopped (the rest, not run, are added by the
    caller). The target closes the workers' clients when it stops."""
    base = CheckContext.of(target, target.client())
    own = threading.local()

    def run(check_id: str) -> CheckResult | None:
        if bound.expired():
            return None
        client: redis.Redis | None = getattr(own, "client", None)
        if client is None:
            step = bound.step_timeout(timeout)
            client = own.client = expiring(target.client(socket_timeout=step, socket_connect_timeout=step))
        return _run_one(check_id, replace(base, client=client), inputs)

    progress = run_all(
        check_ids,
        run,
        bound,
        traits=REGISTRY.__getitem__,
        stop=target.close_clients,
    )
    for check_id in check_ids:
        if check_id in progress.finished:
            report.results.append(progress.finished[check_id])
        elif check_id in progress.stopped:
            report.results.append(stopped(check_id))


def _start(target: AttachTarget, deadline: float) -> None:
    try:
        target.start()
    except DeadlineReached:
        raise UnreachableError(
            f"{target.describe()} did not let doctor start within --deadline {deadline:g} s"
        ) from None


def run_doctor(  # noqa: PLR0917 - the CLI's options, in its order
    context: EnvContext,
    redis_url: str | None,
    timeout: float,
    redis_ca: str | None = None,
    suites: tuple[str, ...] = DOCTOR_SUITES,
    deadline: float = DEFAULT_DEADLINE,
    *,
    insecure: bool = False,
    sentinel_url: str | None = None,
    local: bool = False,
) -> DoctorReport:
    """Attach (errors raise TargetError/UnreachableError), run the safe checks, report.

    Ends within ``deadline`` seconds (plus the sweep): a check still running then is stopped
    and reported, the ones after it are reported as not run.
    """
    started, started_at = time.monotonic(), time.time()
    bound = Deadline(deadline)
    options = TargetOptions(
        run_id=f"doctor-{secrets.token_hex(3)}",
        redis_url=redis_url,
        redis_ca=redis_ca,
        socket_timeout=bound.step_timeout(timeout),
        insecure=insecure,
        url_flag=URL_FLAG,
        ca_flag=CA_FLAG,
        local=local,
    )
    target = AttachTarget(context, options)
    check_ids: list[str] | None = None
    report: DoctorReport | None = None
    finished = False
    try:
        with bound.armed():
            _start(target, deadline)
            report = _new_report(context, target, (redis_url, sentinel_url), started_at)
            inputs = _inputs(target, bound, timeout, sentinel_url)
        with bound.paused():  # outside the alarm: importing is never interrupted
            check_ids = doctor_checks(suites)
        _run_checks(report, target, check_ids, bound, timeout, inputs=inputs)
        finished = True
    except DeadlineReached:
        bound.reached = True
        finished = report is not None
        if report is None:
            raise UnreachableError(
                f"{target.describe()} did not answer within --deadline {deadline:g} s"
            ) from None
    finally:
        if not finished or bound.reached:
            sweep(target, f"{HARNESS_PREFIX}{options.run_id}:", bound.sweep_seconds())
        target.stop()
    assert report is not None
    # None: the deadline came before the checks were chosen.
    return _concluded(report, doctor_checks(suites) if check_ids is None else check_ids, bound, started)


def _concluded(report: DoctorReport, check_ids: list[str], bound: Deadline, started: float) -> DoctorReport:
    """Every chosen check in the registry's order, the ones the deadline kept from running
    reported so; the deadline's marks and the run's duration."""
    ran = {result.id: result for result in report.results}
    report.results = [ran.get(check_id) or not_run(check_id, bound) for check_id in check_ids]
    report.deadline_reached = bound.reached
    report.deadline_ids = {result.id for result in report.results if result.measured == DEADLINE_MARK}
    report.duration_ms = (time.monotonic() - started) * 1000
    return report
