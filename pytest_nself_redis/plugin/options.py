"""The plugin's options: each one a command-line flag, an environment variable and an ini key.

Precedence is command line, then environment variable, then ini; an option given
nowhere is ``None`` (not a falsy default), so the code below can tell "unset" apart.
The latency budget rules are the exception: every source is kept, since they layer
(a rule overrides only its own command and percentile) and each budget names its source.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from pytest_nself_redis.durations import parse_seconds
from pytest_nself_redis.latency.budgets import BudgetRules, rule_list
from pytest_nself_redis.project.generation import VERSION_CHOICES
from pytest_nself_redis.targets import TARGET_KINDS

GROUP = "nself-redis"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DIGITS = re.compile(r"[0-9]+")
MAX_PORT = 65535
# A day: every wait stays bounded, and socket and clock arithmetic stay in range.


@dataclass(frozen=True)
class OptionSpec:
    flag: str
    help: str
    kind: str = "string"  # string, bool, port, seconds, list (rules kept per source)
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest

    @property
    def envvar(self) -> str:
        return self.dest.upper()


BUDGET = OptionSpec(
    "--nself-budget",
    "latency budget override, COMMAND:PERCENTILE=MS (e.g. GET:p99=2); repeatable",
    kind="list",
    metavar="CMD:PCT=MS",
)
VERSION = OptionSpec(
    "--nself-version",
    "the nself generation that wrote the project: 0 (0.9.x), 1 (1.x) or auto (default: "
    "detected from .nself/, .env.computed, .env.runtime and the compose file)",
    choices=VERSION_CHOICES,
)
OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "--nself-env",
        "env(s) to check: dev, staging, prod or a comma-separated list "
        "(dev,staging,prod runs every test once per env). Default: NSELF_ENV, the ENV= line "
        "of .env, $ENV, dev",
        metavar="NAME[,NAME...]",
    ),
    OptionSpec(
        "--nself-suites",
        "bundled suites to run: all, none, or a comma list (auth,config,...). Default: all of them "
        "when no test paths are named, none when paths are named",
        metavar="all|none|NAME[,NAME...]",
    ),
    OptionSpec(
        "--nself-project", "the nself project directory (default: the current directory)", metavar="DIR"
    ),
    OptionSpec(
        "--nself-target",
        "how the Redis under test comes to be (default auto: docker when "
        "an engine answers and the image is local, else process)",
        choices=TARGET_KINDS,
    ),
    OptionSpec(
        "--nself-redis-url",
        "attach to this running server (redis://[:password@]host:port"
        "[/db]); implies --nself-target attach under auto. Attached, the password may come from "
        "the environment variable NSELF_REDIS_PASSWORD (or REDISCLI_AUTH) instead, out of argv: it "
        "overrides REDIS_PASSWORD and fills in when the URL has none",
        metavar="URL",
    ),
    OptionSpec(
        "--nself-redis-ca",
        "CA certificate to verify a rediss:// server with (default: the system's CAs)",
        metavar="PATH",
    ),
    OptionSpec(
        "--nself-redis-insecure",
        "do not verify the TLS certificate and host name of a rediss:// server (the reports say "
        "TLS verification OFF); without it the certificate is checked against --nself-redis-ca "
        "or the system's CAs",
        kind="bool",
    ),
    OptionSpec(
        "--nself-sentinel-url",
        "a sentinel of the env's running Sentinel deployment (redis://[:password@]host:port): the "
        "sentinel suite reads it and the sentinels it knows (safe checks only, never a failover) "
        "instead of launching a topology; without a password in the URL, REDIS_PASSWORD is tried; "
        "a rediss:// sentinel is verified with --nself-redis-ca like the server",
        metavar="URL",
    ),
    OptionSpec("--nself-redis-server", "the redis-server binary for the process target", metavar="PATH"),
    OptionSpec(
        "--nself-reports",
        "directory for JUnit XML, HTML and benchmark JSON (default: reports); 'none' writes no reports",
        metavar="DIR",
    ),
    OptionSpec(
        "--nself-allow-destructive",
        "run destructive, needs_restart and load tests against an attached server too",
        kind="bool",
    ),
    VERSION,
    OptionSpec(
        "--nself-compose",
        "where the deployment comes from: auto (the project's compose files when present: "
        ".nself/compose-files.txt for nself 1.x, else docker-compose.yml and its override; else "
        "rendered from the settings), file, render, or a comma list of compose files merged in "
        "that order (relative to the project)",
        metavar="auto|file|render|FILE[,FILE...]",
    ),
    OptionSpec(
        "--nself-port",
        "host port for launched servers on 127.0.0.1 (default 0: a free one)",
        kind="port",
        metavar="PORT",
    ),
    OptionSpec(
        "--nself-startup-timeout",
        "seconds a launched server may take to answer PING (default 20)",
        kind="seconds",
        metavar="S",
    ),
    OptionSpec(
        "--nself-timeout",
        "socket timeout in seconds for every Redis call (default 5)",
        kind="seconds",
        metavar="S",
    ),
    OptionSpec(
        "--nself-limiter",
        "import path of your own rate limiter (module:attribute) for the ratelimit suite to check "
        "besides the built-in ones",
        metavar="MODULE:NAME",
    ),
    BUDGET,
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "nself Redis conformance harness")
    for spec in OPTIONS:
        help_text = f"{spec.help} [env {spec.envvar}, ini {spec.ini}]"
        if spec.kind == "bool":
            group.addoption(
                spec.flag, action="store_const", const=True, default=None, dest=spec.dest, help=help_text
            )
        elif spec.kind == "list":
            group.addoption(
                spec.flag, action="append", default=None, dest=spec.dest, metavar=spec.metavar, help=help_text
            )
        else:
            group.addoption(
                spec.flag,
                action="store",
                default=None,
                dest=spec.dest,
                metavar=spec.metavar or spec.dest.split("_")[-1].upper(),
                help=help_text,
            )
        ini_type: Literal["linelist", "string"] = "linelist" if spec.kind == "list" else "string"
        parser.addini(spec.ini, help=spec.help, type=ini_type, default=None)


def _convert(spec: OptionSpec, raw: Any, origin: str) -> Any:
    text = str(raw).strip()
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise pytest.UsageError(f"nself-redis: {origin}={text!r}: expected true or false")
    if spec.kind == "port":
        if not _DIGITS.fullmatch(text) or int(text) > MAX_PORT:
            raise pytest.UsageError(
                f"nself-redis: {origin}={text!r}: expected a port from 0 to {MAX_PORT} (0 picks a free one)"
            )
        return int(text)
    if spec.kind == "seconds":
        try:
            return parse_seconds(text)
        except ValueError as problem:
            raise pytest.UsageError(f"nself-redis: {origin}={text!r}: {problem}") from None
    if spec.choices and text not in spec.choices:
        raise pytest.UsageError(f"nself-redis: {origin}={text!r}: choose one of {', '.join(spec.choices)}")
    return text


def _given(spec: OptionSpec, config: pytest.Config) -> tuple[Any, str] | None:
    """The value that wins (the command line, a non-blank environment variable, then the ini
    file) and how a message names where it came from; None when none is given."""
    cli = config.getoption(spec.dest)
    if cli is not None:
        return cli, spec.flag
    env_value = os.environ.get(spec.envvar, "")
    if env_value.strip():
        return env_value, spec.envvar
    ini_value = config.getini(spec.ini)
    if ini_value not in (None, "", []):
        return ini_value, f"ini {spec.ini}"
    return None


def resolve_option(spec: OptionSpec, config: pytest.Config) -> Any:
    given = _given(spec, config)
    return None if given is None else _convert(spec, *given)


def rules_of(spec: OptionSpec, config: pytest.Config) -> BudgetRules:
    """A list option from every source, not only the winning one: its rules layer."""
    return BudgetRules(
        ini=rule_list(config.getini(spec.ini)),
        environ=rule_list(os.environ.get(spec.envvar)),
        option=rule_list(config.getoption(spec.dest)),
    )


def origin_of(flag: str, config: pytest.Config) -> str:
    """How a message names where the value of the option ``flag`` came from."""
    return _origin(next(spec for spec in OPTIONS if spec.flag == flag), config)


def _origin(spec: OptionSpec, config: pytest.Config) -> str:
    """How a message names where the option's value came from (the ini file when nowhere)."""
    given = _given(spec, config)
    return f"ini {spec.ini}" if given is None else given[1]


@dataclass(frozen=True)
class HarnessOptions:
    env: str | None
    suites: str | None
    project: Path
    target: str
    redis_url: str | None
    redis_ca: str | None
    redis_insecure: bool
    sentinel_url: str | None
    redis_server: str | None
    reports: Path | None
    allow_destructive: bool
    compose: str
    # --nself-version (0, 1, auto) and where it was given, or None: detect.
    version: str | None
    version_origin: str
    port: int | None
    startup_timeout: float
    timeout: float
    budgets: BudgetRules
    limiter: str | None

    @classmethod
    def from_config(cls, config: pytest.Config) -> HarnessOptions:
        values = {spec.dest: resolve_option(spec, config) for spec in OPTIONS if spec.kind != "list"}
        base = config.invocation_params.dir
        project = Path(values["nself_project"]).expanduser() if values["nself_project"] else base
        if values["nself_project"] and not project.is_absolute():
            # An ini value is relative to the ini file; a flag or variable to where pytest runs.
            from_ini = origin_of("--nself-project", config).startswith("ini ")
            project = (config.rootpath if from_ini else base) / project
        reports_raw = values["nself_reports"] or "reports"
        reports = None if reports_raw == "none" else base / reports_raw
        return cls(
            env=values["nself_env"],
            suites=values["nself_suites"],
            project=project,
            target=values["nself_target"] or "auto",
            redis_url=values["nself_redis_url"],
            redis_ca=values["nself_redis_ca"],
            redis_insecure=bool(values["nself_redis_insecure"]),
            sentinel_url=values["nself_sentinel_url"],
            redis_server=values["nself_redis_server"],
            reports=reports,
            allow_destructive=bool(values["nself_allow_destructive"]),
            compose=values["nself_compose"] or "auto",
            version=values["nself_version"],
            version_origin=_origin(VERSION, config),
            port=values["nself_port"] or None,
            startup_timeout=values["nself_startup_timeout"] or 20.0,
            timeout=values["nself_timeout"] or 5.0,
            budgets=rules_of(BUDGET, config),
            limiter=values["nself_limiter"],
        )
