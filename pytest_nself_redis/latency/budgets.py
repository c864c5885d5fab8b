"""Latency budgets per env, command and percentile, each with where it came from.

Layers, later wins for the (command, percentile) it sets:

1. the documented default of the env (stricter for prod, see ``DEFAULTS``);
2. ini ``nself_budget`` (lines ``CMD:PCT=MS``);
3. ``REDIS_LATENCY_BUDGET_<CMD>_<PCT>=MS`` in the env files (the env's own promise);
4. the ``NSELF_BUDGET`` environment variable (``;``-separated);
5. ``--nself-budget CMD:PCT=MS`` on the command line (repeatable).

Inside one layer a rule for ``ALL`` (or ``*``) is applied before rules for one command.
A budget is a limit on one percentile of the client-side round trip in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES
from pytest_nself_redis.project.envfile import EnvEntry

COMMANDS: tuple[str, ...] = ("PING", "GET", "SET", "INCR", "HSET", "EVALSHA", "PIPELINE")
ALL = "ALL"
ENV_PREFIX = "REDIS_LATENCY_BUDGET_"
ENVIRONMENT_VARIABLE = "NSELF_BUDGET"

# Documented defaults in ms (README "latency"). Loopback round trips of a healthy
# Redis take tens of microseconds at p50 and stay there under CPU contention; the
# tail is where a busy machine shows (measured on 2 overloaded cores: p99 up to 8 ms,
# p99.9 up to 18 ms). So p50 is tight everywhere and catches a server or network that
# adds a millisecond; p99 and p99.9 leave room for load and catch stalls.
# PIPELINE is one round trip carrying 16 commands.
_SINGLE = {
    "dev": {"p50": 2.0, "p99": 25.0, "p999": 100.0},
    "staging": {"p50": 1.5, "p99": 15.0, "p999": 75.0},
    "prod": {"p50": 1.0, "p99": 10.0, "p999": 50.0},
}
_PIPELINE_FACTOR = 2.0


def _defaults(env: str) -> dict[str, dict[str, float]]:
    single = _SINGLE.get(env, _SINGLE["dev"])
    table = {command: dict(single) for command in COMMANDS}
    table["PIPELINE"] = {name: value * _PIPELINE_FACTOR for name, value in single.items()}
    return table


DEFAULTS: dict[str, dict[str, dict[str, float]]] = {env: _defaults(env) for env in _SINGLE}


class BudgetError(HarnessError):
    """A budget that cannot be read: names the rule and where it was written."""


@dataclass(frozen=True)
class Budget:
    limit_ms: float
    source: str

    def describe(self) -> str:
        return f"{_number(self.limit_ms)} ms ({self.source})"


def _number(value: float) -> str:
    return f"{value:g}"


_PERCENTILE_NAMES = {name: name for name in PERCENTILES} | {"p99.9": "p999", "p100": "max"}
_VALUE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(ms|us|µs)?\s*\Z", re.IGNORECASE)


def parse_percentile(text: str) -> str | None:
    return _PERCENTILE_NAMES.get(text.strip().lower())


def parse_command(text: str) -> str | None:
    name = text.strip().upper()
    if name in ("*", ALL):
        return ALL
    return name if name in COMMANDS else None


def parse_limit(text: str) -> float | None:
    """Milliseconds; ``us``/``µs`` suffixes are converted. Must be positive."""
    match = _VALUE.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    if (match.group(2) or "ms").lower() in ("us", "µs"):
        value /= 1000
    return value if value > 0 else None


def _choices() -> str:
    return (
        f"commands {', '.join(COMMANDS)} or ALL; percentiles "
        f"{', '.join(PERCENTILES)}; a positive number of ms (e.g. GET:p99=2 or SET:p50=500us)"
    )


def rule_list(raw: str | Iterable[object] | None) -> tuple[str, ...]:
    """Rules as written: text separated by ``;`` or newlines (``NSELF_BUDGET``), or one rule
    per item (ini lines, each ``--nself-budget``); blank ones dropped. The one reader of rule
    lists, so every source splits them alike."""
    if not raw:
        return ()
    items = raw.replace(";", "\n").splitlines() if isinstance(raw, str) else raw
    return tuple(text for item in items if (text := str(item).strip()))


@dataclass(frozen=True)
class BudgetRules:
    """The override rules of each source, unparsed and kept apart: the sources layer (later
    wins per command and percentile), and every budget names the one it came from."""

    ini: tuple[str, ...] = ()
    environ: tuple[str, ...] = ()
    option: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    command: str
    percentile: str
    limit_ms: float
    source: str


def parse_rule(text: str, origin: str) -> Rule:
    """``CMD:PCT=MS`` from an option, environment variable or ini line."""
    head, sep, value = text.partition("=")
    command_text, colon, percentile_text = head.partition(":")
    command = parse_command(command_text) if colon else None
    percentile = parse_percentile(percentile_text) if colon else None
    limit = parse_limit(value) if sep else None
    if command is None or percentile is None or limit is None:
        raise BudgetError(f"latency budget {text.strip()!r} ({origin}) is not CMD:PCT=MS; use {_choices()}")
    return Rule(command, percentile, limit, f"{origin} {text.strip()}")


def rule_from_env(entry: EnvEntry) -> Rule:
    """``REDIS_LATENCY_BUDGET_<CMD>_<PCT>=MS`` from an env file, cited by file:line."""
    rest = entry.key[len(ENV_PREFIX) :]
    command_text, _, percentile_text = rest.rpartition("_")
    command = parse_command(command_text)
    percentile = parse_percentile(percentile_text)
    limit = parse_limit(entry.value)
    cited = f"{entry.key}={entry.value} ({entry.source})"
    if command is None or percentile is None or limit is None:
        raise BudgetError(
            f"{cited} is not a latency budget: name it {ENV_PREFIX}<CMD>_<PCT> and give ms; use {_choices()}"
        )
    return Rule(command, percentile, limit, cited)


@dataclass
class BudgetBook:
    """Every budget of one env: ``budget(command, percentile)`` or ``None`` when unbudgeted."""

    env: str
    budgets: dict[tuple[str, str], Budget] = field(default_factory=dict)

    @classmethod
    def defaults(cls, env: str) -> BudgetBook:
        table = DEFAULTS.get(env, DEFAULTS["dev"])
        origin = f"default for {env}" if env in DEFAULTS else f"default for {env} (dev's)"
        budgets = {
            (command, percentile): Budget(limit, origin)
            for command, limits in table.items()
            for percentile, limit in limits.items()
        }
        return cls(env, budgets)

    @classmethod
    def resolve(
        cls,
        env: str,
        env_values: Mapping[str, EnvEntry] | None = None,
        ini: Sequence[str] = (),
        environ: Sequence[str] = (),
        option: Sequence[str] = (),
    ) -> BudgetBook:
        book = cls.defaults(env)
        layers: list[Iterable[Rule]] = [
            [parse_rule(text, "ini nself_budget") for text in ini],
            [rule_from_env(entry) for key, entry in (env_values or {}).items() if key.startswith(ENV_PREFIX)],
            [parse_rule(text, ENVIRONMENT_VARIABLE) for text in environ],
            [parse_rule(text, "option --nself-budget") for text in option],
        ]
        for rules in layers:
            book.apply(rules)
        return book

    def apply(self, rules: Iterable[Rule]) -> None:
        ordered = sorted(rules, key=lambda rule: rule.command != ALL)
        for rule in ordered:
            for command in COMMANDS if rule.command == ALL else (rule.command,):
                self.budgets[(command, rule.percentile)] = Budget(rule.limit_ms, rule.source)

    def budget(self, command: str, percentile: str) -> Budget | None:
        return self.budgets.get((command, percentile))

    def of(self, command: str) -> dict[str, Budget]:
        return {name: budget for name in PERCENTILES if (budget := self.budget(command, name)) is not None}

    def loosest(self, command: str) -> Budget | None:
        """The largest budget of a command: one execution slower than this is over every budget."""
        budgets = self.of(command)
        return max(budgets.values(), key=lambda budget: budget.limit_ms) if budgets else None

    def rows(self) -> list[dict[str, object]]:
        """One row per command for report tables."""
        return [
            {
                "command": command,
                **{
                    LABEL[name]: (b.describe() if (b := self.budget(command, name)) else "—")
                    for name in PERCENTILES
                },
            }
            for command in COMMANDS
        ]
