"""What the compose service asks of the container around Redis: limits, hardening, health.

Read here, typed and located, so the docker target can reproduce them and the checks
can weigh them (a 512M memory limit with no ``maxmemory`` is an OOM kill waiting to
happen); nothing here applies them. Sizes parse as Docker parses them, durations as
Compose does (Go durations: ``10s``, ``1m30s``, ``500ms``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from pytest_nself_redis.compose.interpolate import interpolate
from pytest_nself_redis.compose.ports import as_text
from pytest_nself_redis.compose.yaml_lines import LineDict, LineList, shape_of
from pytest_nself_redis.errors import ComposeError
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import parse_flag
from pytest_nself_redis.project.sizes import DOCKER_SIZE_FORMS, parse_docker_size

T = TypeVar("T")
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_EXCERPT = 40


@dataclass(frozen=True)
class ComposeValue(Generic[T]):
    """One value of the compose service: parsed, as written (interpolated), and where."""

    value: T
    text: str
    source: Source

    def cite(self) -> str:
        """``512M (docker-compose.yml:31)``, the form messages use."""
        return f"{self.text} ({self.source})"


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int
    source: Source


@dataclass(frozen=True)
class Healthcheck:
    """The service's healthcheck; durations in seconds."""

    source: Source
    test: tuple[str, ...] | None = None
    test_source: Source | None = None
    interval: ComposeValue[float] | None = None
    timeout: ComposeValue[float] | None = None
    retries: ComposeValue[int] | None = None
    start_period: ComposeValue[float] | None = None
    start_interval: ComposeValue[float] | None = None
    disabled: bool = False


@dataclass(frozen=True)
class RuntimeLimits:
    """Container settings of the service. Compose has two spellings for three limits:
    ``deploy.resources.limits`` (``deploy_*``) and the service keys ``mem_limit``, ``cpus``,
    ``pids_limit``; ``memory``, ``cpu`` and ``pids`` give the one in effect (deploy's, as in
    the Compose Specification, else the service key's)."""

    user: ComposeValue[str] | None = None
    deploy_memory: ComposeValue[int] | None = None
    deploy_cpus: ComposeValue[float] | None = None
    deploy_pids: ComposeValue[int] | None = None
    mem_limit: ComposeValue[int] | None = None
    cpus: ComposeValue[float] | None = None
    pids_limit: ComposeValue[int] | None = None
    read_only: ComposeValue[bool] | None = None
    tmpfs: tuple[ComposeValue[str], ...] = ()
    cap_add: tuple[ComposeValue[str], ...] = ()
    cap_drop: tuple[ComposeValue[str], ...] = ()
    security_opt: tuple[ComposeValue[str], ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    sysctls: Mapping[str, ComposeValue[str]] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None

    @property
    def memory(self) -> ComposeValue[int] | None:
        """The container's memory limit in bytes, or None: no limit."""
        return self.deploy_memory or self.mem_limit

    @property
    def cpu(self) -> ComposeValue[float] | None:
        return self.deploy_cpus or self.cpus

    @property
    def pids(self) -> ComposeValue[int] | None:
        return self.deploy_pids or self.pids_limit

    def with_memory(self, memory: ComposeValue[int]) -> RuntimeLimits:
        """The same settings with another memory limit (a variant container's): the one in
        effect, whichever spelling the service used."""
        return replace(self, deploy_memory=memory, mem_limit=None)


def parse_duration(text: str) -> float:
    """Seconds for a Go duration (``1m30s``, ``500ms``, ``0``); ``ValueError`` otherwise."""
    stripped = text.strip()
    if stripped == "0":
        return 0.0
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(stripped):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if not stripped or position != len(stripped):
        raise ValueError("expected a duration: a number with a unit (ns, us, ms, s, m, h), e.g. 10s or 1m30s")
    return total


def parse_cpus(text: str) -> float:
    """A CPU limit (``0.5``, ``2``) as compose reads ``cpus``."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a number of CPUs, e.g. 0.5 or 2")
    return value


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,19}", text.strip()) or int(text) < minimum:
            raise ValueError(f"expected a whole number >= {minimum}")
        return int(text)

    return parse


def parse_limit_size(text: str) -> int:
    """A memory limit (``512M``) as Docker reads it, with compose's messages."""
    try:
        return parse_docker_size(text)
    except ValueError as error:
        if "larger" in str(error):
            raise ValueError("larger than any machine's memory (2^64 - 1 bytes)") from None
        raise ValueError(f"not a size: expected {DOCKER_SIZE_FORMS}") from None


class _Reader:
    """Reads typed values out of the merged service; errors name the file:line and the key."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables

    def text(self, value: Any, source: Source, what: str) -> str:
        where = str(source)
        return interpolate(as_text(value, where, what), self.variables, where)

    def one(
        self, mapping: LineDict, key: str, what: str, parse: Callable[[str], T]
    ) -> ComposeValue[T] | None:
        value = mapping.get(key)
        if value is None:
            return None
        source = mapping.source_of(key)
        text = self.text(value, source, what)
        try:
            return ComposeValue(parse(text), text, source)
        except ValueError as problem:
            shown = text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")
            raise ComposeError(f"{source}: {what} {shown!r}: {problem}") from None

    def strings(self, mapping: LineDict, key: str, what: str) -> tuple[ComposeValue[str], ...]:
        value = mapping.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            source = mapping.source_of(key)
            text = self.text(value, source, what)
            return (ComposeValue(text, text, source),)
        if not isinstance(value, list):
            raise ComposeError(f"{mapping.source_of(key)}: {what} should be a list, found {shape_of(value)}")
        found = []
        for index, item in enumerate(value):
            source = value.source_at(index) if isinstance(value, LineList) else mapping.source_of(key)
            text = self.text(item, source, f"{what} item")
            found.append(ComposeValue(text, text, source))
        return tuple(found)

    def mapping(self, parent: LineDict, key: str, what: str) -> LineDict | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, LineDict):
            found = shape_of(value)
            raise ComposeError(f"{parent.source_of(key)}: {what} should be a mapping, found {found}")
        return value

    def ulimits(self, service: LineDict) -> tuple[Ulimit, ...]:
        limits = self.mapping(service, "ulimits", "ulimits")
        found = []
        for name, value in (limits or {}).items():
            assert limits is not None
            source = limits.source_of(name)
            what = f"ulimits.{name}"
            if value is None:
                continue
            if isinstance(value, LineDict):
                soft = self.one(value, "soft", f"{what}.soft", _whole(-1))
                hard = self.one(value, "hard", f"{what}.hard", _whole(-1))
                if soft is None or hard is None:
                    raise ComposeError(f"{source}: {what} needs both soft and hard")
                found.append(Ulimit(str(name), soft.value, hard.value, source))
            else:
                single = self.one(limits, name, what, _whole(-1))
                assert single is not None
                found.append(Ulimit(str(name), single.value, single.value, source))
        return tuple(found)

    def sysctls(self, service: LineDict) -> dict[str, ComposeValue[str]]:
        sysctls = service.get("sysctls")
        if not isinstance(sysctls, LineDict):  # the merge made every form a mapping
            return {}
        found = {}
        for name, value in sysctls.items():
            source = sysctls.source_of(name)
            text = "" if value is None else self.text(value, source, f"sysctls.{name}")
            found[str(name)] = ComposeValue(text, text, source)
        return found

    def healthcheck(self, service: LineDict) -> Healthcheck | None:
        health = self.mapping(service, "healthcheck", "healthcheck")
        if health is None:
            return None
        test, test_source = None, None
        if health.get("test") is not None:
            test_source = health.source_of("test")
            test = health_test(health["test"], test_source, self.variables)
        disabled = self.one(health, "disable", "healthcheck.disable", parse_flag)
        return Healthcheck(
            source=service.source_of("healthcheck"),
            test=test,
            test_source=test_source,
            interval=self.one(health, "interval", "healthcheck.interval", parse_duration),
            timeout=self.one(health, "timeout", "healthcheck.timeout", parse_duration),
            retries=self.one(health, "retries", "healthcheck.retries", _whole(0)),
            start_period=self.one(health, "start_period", "healthcheck.start_period", parse_duration),
            start_interval=self.one(health, "start_interval", "healthcheck.start_interval", parse_duration),
            disabled=bool(disabled and disabled.value) or (test is not None and test[:1] == ("NONE",)),
        )


def health_test(value: Any, source: Source, variables: Mapping[str, str]) -> tuple[str, ...]:
    """``healthcheck.test`` as compose runs it: a list as is, a string as ``CMD-SHELL``."""
    where = str(source)
    if isinstance(value, list):
        return tuple(
            interpolate(as_text(item, where, "healthcheck test item"), variables, where) for item in value
        )
    if isinstance(value, str):
        return ("CMD-SHELL", interpolate(value, variables, where))
    raise ComposeError(f"{where}: healthcheck test should be a string or a list, found {shape_of(value)}")


def read_runtime(service: LineDict, variables: Mapping[str, str]) -> RuntimeLimits:
    """The container settings of the (merged) redis service."""
    read = _Reader(variables)
    deploy = read.mapping(service, "deploy", "deploy")
    resources = read.mapping(deploy, "resources", "deploy.resources") if deploy is not None else None
    limits = read.mapping(resources, "limits", "deploy.resources.limits") if resources is not None else None
    prefix = "deploy.resources.limits"
    return RuntimeLimits(
        user=read.one(service, "user", "user", str),
        deploy_memory=read.one(limits, "memory", f"{prefix}.memory", parse_limit_size) if limits else None,
        deploy_cpus=read.one(limits, "cpus", f"{prefix}.cpus", parse_cpus) if limits else None,
        deploy_pids=read.one(limits, "pids", f"{prefix}.pids", _whole(-1)) if limits else None,
        mem_limit=read.one(service, "mem_limit", "mem_limit", parse_limit_size),
        cpus=read.one(service, "cpus", "cpus", parse_cpus),
        pids_limit=read.one(service, "pids_limit", "pids_limit", _whole(-1)),
        read_only=read.one(service, "read_only", "read_only", parse_flag),
        tmpfs=read.strings(service, "tmpfs", "tmpfs"),
        cap_add=read.strings(service, "cap_add", "cap_add"),
        cap_drop=read.strings(service, "cap_drop", "cap_drop"),
        security_opt=read.strings(service, "security_opt", "security_opt"),
        ulimits=read.ulimits(service),
        sysctls=read.sysctls(service),
        healthcheck=read.healthcheck(service),
    )
