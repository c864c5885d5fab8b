"""The compose service's container settings as Docker run arguments, each citing its line.

The docker target applies every one, so the container runs as the deployment's does
(limits, hardening, healthcheck); the process target can apply none and lists them.
When Docker refuses one, ``refused_by_message`` finds which from Docker's own words.
Plain data only: the Docker SDK stays in ``targets.docker`` and ``targets.docker_engine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_nself_redis.compose.runtime import ComposeValue, Healthcheck, RuntimeLimits, Ulimit

NANOSECONDS = 1_000_000_000
# Docker's interval when the healthcheck names none.
DEFAULT_HEALTH_INTERVAL = 30.0
DEFAULT_HEALTH_TIMEOUT = 30.0
# redis-cli options whose next word is a password: never shown.
_PASSWORD_OPTIONS = ("-a", "--pass", "--askpass", "--user")
# Linux resource numbers, as runc names a refused ulimit ("error setting rlimit type 7").
_RLIMIT_NUMBERS = {
    "cpu": 0,
    "fsize": 1,
    "data": 2,
    "stack": 3,
    "core": 4,
    "rss": 5,
    "nproc": 6,
    "nofile": 7,
    "memlock": 8,
    "as": 9,
    "locks": 10,
    "sigpending": 11,
    "msgqueue": 12,
    "nice": 13,
    "rtprio": 14,
    "rttime": 15,
}


@dataclass(frozen=True)
class ContainerSetting:
    """One container setting: what it is (``memory 512M (docker-compose.yml:25)``), the
    Docker SDK ``run()`` arguments that apply it, and words Docker's refusal of it would
    hold (lower case): ``clues`` name this one, ``family`` any setting of its kind."""

    key: str
    shown: str
    arguments: Mapping[str, Any]
    clues: tuple[str, ...] = ()
    family: tuple[str, ...] = ()
    # False for what changes nothing outside a container (a tmpfs mount).
    matters_outside: bool = True
    # True when the Docker SDK has no way to pass it (reported, not applied).
    unapplied: bool = False


def _seconds(value: float) -> str:
    return f"{value:g} s"


def describe_probe(check: Healthcheck) -> str:
    """``redis-cli ping, every 10 s``: the probe without its password, and how often."""
    if check.disabled:
        return "disabled"
    test = check.test
    if test is None:
        what = "the image's own probe"
    elif test[:1] == ("CMD-SHELL",):
        what = " ".join(test[1:])
    else:
        words = list(test[1:] if test[:1] == ("CMD",) else test)
        kept: list[str] = []
        index = 0
        while index < len(words):
            if words[index] in _PASSWORD_OPTIONS:
                index += 2  # the option and its password
                continue
            if words[index] != "--no-auth-warning":
                kept.append(words[index])
            index += 1
        what = " ".join(kept)
    interval = check.interval.value if check.interval and check.interval.value else None
    every = _seconds(interval) if interval else f"{_seconds(DEFAULT_HEALTH_INTERVAL)} (Docker's default)"
    return f"{what}, every {every}"


def _cited(name: str, value: ComposeValue[Any]) -> str:
    return f"{name} {value.cite()}"


def _durations(check: Healthcheck) -> dict[str, int]:
    found = {}
    for key, value in (
        ("interval", check.interval),
        ("timeout", check.timeout),
        ("start_period", check.start_period),
    ):
        if value is not None:
            found[key] = round(value.value * NANOSECONDS)
    return found


def _healthcheck(check: Healthcheck) -> list[ContainerSetting]:
    arguments: dict[str, Any] = _durations(check)
    if check.disabled:
        arguments["test"] = ["NONE"]
    elif check.test is not None:
        arguments["test"] = list(check.test)
    if check.retries is not None:
        arguments["retries"] = check.retries.value
    found = [
        ContainerSetting(
            "healthcheck",
            f"healthcheck {describe_probe(check)} ({check.source})",
            {"healthcheck": arguments},
            ("healthcheck", "health check"),
        )
    ]
    if check.start_interval is not None:
        # The Docker SDK's Healthcheck drops StartInterval (and engines before 25 ignore it).
        found.append(
            ContainerSetting(
                "healthcheck",
                _cited("healthcheck.start_interval", check.start_interval),
                {},
                unapplied=True,
            )
        )
    return found


def _capabilities(key: str, entries: Sequence[ComposeValue[str]]) -> list[ContainerSetting]:
    family = (key.replace("_", ""), "apply caps") if key == "cap_add" else ("capdrop",)
    return [
        ContainerSetting(
            key,
            _cited(key, entry),
            {key: [entry.value]},
            ('"cap_' + entry.value.strip().upper().removeprefix("CAP_").lower() + '"',),
            family,
        )
        for entry in entries
    ]


def _tmpfs(entry: ComposeValue[str]) -> ContainerSetting:
    path, _, options = entry.value.partition(":")
    return ContainerSetting(
        "tmpfs",
        _cited("tmpfs", entry),
        {"tmpfs": {path: options}},
        (f'"{path}"', f"'{path}'"),
        ("tmpfs",),
        matters_outside=False,
    )


def _security_opt(entry: ComposeValue[str]) -> ContainerSetting:
    option = entry.value.lower()
    name = option.replace("=", ":").partition(":")[0]
    return ContainerSetting(
        "security_opt",
        _cited("security_opt", entry),
        {"security_opt": [entry.value]},
        (f'"{option}"',),
        ("security-opt", name),
    )


def _ulimit(limit: Ulimit) -> ContainerSetting:
    name = limit.name.lower()
    number = _RLIMIT_NUMBERS.get(name)
    clues = (f"rlimit_{name}", f"ulimit type: {name}")
    return ContainerSetting(
        "ulimits",
        f"ulimits {limit.name} {limit.soft}:{limit.hard} ({limit.source})",
        {"ulimits": [{"name": limit.name, "soft": limit.soft, "hard": limit.hard}]},
        clues + ((f"rlimit type {number}:",) if number is not None else ()),
        ("ulimit", "rlimit"),
    )


def _sysctl(name: str, value: ComposeValue[str]) -> ContainerSetting:
    lowered = name.lower()
    return ContainerSetting(
        "sysctls",
        f"sysctls {name}={value.cite()}",
        {"sysctls": {name: value.value}},
        (f'"{lowered}"', f"'{lowered}", "/proc/sys/" + lowered.replace(".", "/")),
        ("sysctl",),
    )


def container_settings(runtime: RuntimeLimits) -> tuple[ContainerSetting, ...]:
    """Every container setting the service sets."""
    found: list[ContainerSetting] = []
    memory = runtime.memory
    if memory is not None and memory.value > 0:
        # The swap limit equal to the memory limit: no swap, so the limit is the limit.
        arguments = {"mem_limit": memory.value, "memswap_limit": memory.value}
        clues = ("memory limit", "memoryswap")
        found.append(ContainerSetting("memory", _cited("memory", memory), arguments, clues))
    cpu = runtime.cpu
    if cpu is not None and cpu.value > 0:
        arguments = {"nano_cpus": round(cpu.value * NANOSECONDS)}
        found.append(ContainerSetting("cpus", _cited("cpus", cpu), arguments, ("cpus", "nanocpu")))
    pids = runtime.pids
    if pids is not None and pids.value != 0:
        found.append(ContainerSetting("pids", _cited("pids", pids), {"pids_limit": pids.value}, ("pids",)))
    if runtime.read_only is not None and runtime.read_only.value:
        clues = ("read-only file system", "readonly")
        found.append(
            ContainerSetting("read_only", _cited("read_only", runtime.read_only), {"read_only": True}, clues)
        )
    found += [_tmpfs(entry) for entry in runtime.tmpfs]
    found += _capabilities("cap_add", runtime.cap_add)
    found += _capabilities("cap_drop", runtime.cap_drop)
    found += [_security_opt(entry) for entry in runtime.security_opt]
    found += [_ulimit(limit) for limit in runtime.ulimits]
    found += [_sysctl(name, value) for name, value in runtime.sysctls.items()]
    if runtime.user is not None:
        found.append(
            ContainerSetting(
                "user",
                _cited("user", runtime.user),
                {"user": runtime.user.value},
                ("find user", "find group", "no matching entries in passwd", "no matching entries in group"),
            )
        )
    if runtime.healthcheck is not None:
        found += _healthcheck(runtime.healthcheck)
    return tuple(found)


def docker_arguments(settings: Iterable[ContainerSetting]) -> dict[str, Any]:
    """The ``run()`` arguments of ``settings`` together: lists appended, mappings merged."""
    merged: dict[str, Any] = {}
    for setting in settings:
        for key, value in setting.arguments.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, Mapping) and key != "healthcheck":
                merged.setdefault(key, {}).update(value)
            else:
                merged[key] = value
    return merged


def refused_by_message(settings: Sequence[ContainerSetting], message: str) -> list[ContainerSetting]:
    """The settings Docker's refusal names: those it names alone, else those whose kind it
    names; none when it names no setting."""
    text = message.lower()
    named = [setting for setting in settings if any(clue in text for clue in setting.clues)]
    return named or [setting for setting in settings if any(word in text for word in setting.family)]
