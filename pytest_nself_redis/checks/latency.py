"""latency: round trips of common commands stay within the env's budgets.

Each command is timed by the raw-socket sampler (``pytest_nself_redis.latency``)
and its p50/p95/p99/p99.9/max compared with the budgets of the env (documented
defaults, ``REDIS_LATENCY_BUDGET_<CMD>_<PCT>`` in the env files, ini and option).
The checks are safe for doctor: they write only under their own key prefix and
delete it, and read SLOWLOG / INFO. Called without a plan (as doctor does) they
take a short sample (``DOCTOR_SAMPLES``) and the env's default budgets; the suite
passes its ``plan`` as the checks' input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, warning
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.latency.budgets import COMMANDS, Budget, BudgetBook
from pytest_nself_redis.latency.measure import CommandLatency, measure
from pytest_nself_redis.latency.sampler import SamplerError
from pytest_nself_redis.latency.server_stats import latencystats, slowlog
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES, fewest_samples, format_ms, meaningful
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.live.refusals import says_noperm

# The suite: enough samples for a p99.9 backed by 5 values beyond it, in well under
# a second per command on loopback; the time cap keeps a slow server from taking minutes.
SUITE_SAMPLES = 5000
SUITE_WARMUP = 500
SUITE_MAX_SECONDS = 2.0
# doctor (production): the fewest round trips that judge p99 (p99.9 is not judged then), so it
# adds a negligible load and takes a small part of doctor's time.
DOCTOR_SAMPLES = fewest_samples("p99")
DOCTOR_WARMUP = DOCTOR_SAMPLES // 10
DOCTOR_MAX_SECONDS = 1.0


@dataclass(frozen=True)
class LatencyPlan:
    """How much to sample and what to judge by; ``record`` receives every measurement
    (the suite uses it for charts and benchmark JSON)."""

    samples: int = DOCTOR_SAMPLES
    warmup: int = DOCTOR_WARMUP
    max_seconds: float | None = DOCTOR_MAX_SECONDS
    budgets: BudgetBook | None = None
    record: Callable[[CommandLatency], None] | None = None

    def book(self, context: CheckContext) -> BudgetBook:
        if self.budgets is not None:
            return self.budgets
        if context.env is not None:
            return env_budgets(context.env)
        return BudgetBook.defaults(context.settings.env)


SUITE_PLAN = LatencyPlan(SUITE_SAMPLES, SUITE_WARMUP, SUITE_MAX_SECONDS)


def _promise(command: str, budgets: dict[str, Budget]) -> str:
    limits = "; ".join(f"{LABEL[name]} ≤ {budget.describe()}" for name, budget in budgets.items())
    return f"{command} round trips stay within budget: {limits or 'no budget set'}"


def _seen_percentiles(result: CommandLatency) -> str:
    return ", ".join(f"{LABEL[name]} {format_ms(result.percentiles.ms(name))}" for name in PERCENTILES)


def _seen(result: CommandLatency) -> str:
    return (
        f"{result.command} ({result.description}) over {result.samples} round trips "
        f"to {result.server}: {_seen_percentiles(result)}"
    )


def _over(result: CommandLatency, book: BudgetBook) -> dict[str, Budget]:
    """The judged percentiles over their budgets (too few samples: not judged)."""
    return {
        name: budget
        for name, budget in book.of(result.command).items()
        if meaningful(name, result.samples) and result.percentiles.ms(name) > budget.limit_ms
    }


def over_budget(result: CommandLatency, book: BudgetBook) -> list[str]:
    """Each judged percentile over its budget, named with value and budget."""
    return [
        f"{result.command} {LABEL[name]} = {format_ms(result.percentiles.ms(name))} "
        f"is over its budget of {budget.describe()}"
        for name, budget in _over(result, book).items()
    ]


def judge(result: CommandLatency, book: BudgetBook) -> Outcome:
    """Compare measured percentiles with budgets; the message names each one over budget."""
    budgets = book.of(result.command)
    over = over_budget(result, book)
    unjudged = [LABEL[name] for name in budgets if not meaningful(name, result.samples)]
    measured = {
        "command": result.command,
        "samples": result.samples,
        "warmup": result.warmup,
        "clock": result.clock,
        "percentiles_ms": result.percentiles.as_ms(),
        "budgets_ms": {name: {"limit_ms": b.limit_ms, "source": b.source} for name, b in budgets.items()},
        "over_budget": list(_over(result, book)),
        "not_judged": unjudged,
    }
    note = f" (not judged, too few samples: {', '.join(unjudged)})" if unjudged else ""
    message = f"Promise: {_promise(result.command, budgets)}. Seen: {_seen(result)}{note}"
    sources = "; ".join(sorted({budget.source for budget in budgets.values()}))
    if over:
        return error(f"{'; '.join(over)}. {message}", sources, measured)
    return ok(message, sources, measured)


@check(
    "latency.{}",
    params=COMMANDS,
    safe=True,
    exclusive=True,
    title="{} round trips stay within the env's latency budget",
)
def within_budget(context: CheckContext, command: str, plan: LatencyPlan | None = None) -> Outcome:
    """Time ``command`` and judge its percentiles against the env's budgets.

    A sample over budget is taken again once before it fails: a busy machine running the
    harness (a CI runner, say) stalls a few round trips now and then, a slow server stalls
    them every time. The verdict rests on the second sample; the message gives both."""
    plan = plan or LatencyPlan()
    book = plan.book(context)
    first = _sample(context, command, plan, book)
    if isinstance(first, Outcome):
        return first
    verdict = judge(first, book)
    if not verdict.failed:
        return _recorded(plan, first, verdict)
    second = _sample(context, command, plan, book)
    if isinstance(second, Outcome):
        return second
    confirmed = judge(second, book)
    earlier = f"a first sample was over budget too ({_seen_percentiles(first)})"
    if confirmed.failed:
        message = f"{confirmed.message}; {earlier}, so it is no passing stall"
        return _recorded(plan, second, replace(confirmed, message=message))
    spike = (
        f"{'; '.join(over_budget(first, book))} in a first sample, within budget in a second: "
        "a passing stall (load on the machine running the harness, or on the server), "
        f"not judged a failure. {confirmed.message}"
    )
    return _recorded(plan, second, warning(spike, confirmed.source, confirmed.measured))


def _sample(
    context: CheckContext, command: str, plan: LatencyPlan, book: BudgetBook
) -> CommandLatency | Outcome:
    """One measurement, or the outcome that says why there is none."""
    try:
        return measure(
            context.client,
            command,
            context.key_prefix("latency"),
            samples=plan.samples,
            warmup=plan.warmup,
            timeout=ServerAddress.of(context.client).timeout,
            max_seconds=plan.max_seconds,
        )
    except SamplerError as failure:
        if says_noperm(str(failure)):
            # Whether this user may run the command is the auth/queue suites' question.
            return skipped(f"{command} is not allowed for this user, so it was not timed: {failure}")
        return error(
            f"Promise: {_promise(command, book.of(command))}. Seen: no measurement, {failure}",
            measured={"command": command, "error": str(failure)},
        )


def _recorded(plan: LatencyPlan, result: CommandLatency, outcome: Outcome) -> Outcome:
    """The measurement the verdict rests on goes to the report's charts and benchmark JSON."""
    if plan.record is not None:
        plan.record(result)
    return outcome


def _slowlog_budget(book: BudgetBook, command: str) -> Budget | None:
    """A command we budget: its loosest budget. Any other command blocks the single-threaded
    server for everyone, so it is held to the loosest single-command budget."""
    if command in COMMANDS:
        return book.loosest(command)
    singles = [budget for name in COMMANDS if name != "PIPELINE" if (budget := book.loosest(name))]
    return max(singles, key=lambda budget: budget.limit_ms) if singles else None


@check("latency.slowlog", safe=True, exclusive=True)
def slowlog_within_budget(context: CheckContext, plan: LatencyPlan | None = None) -> Outcome:
    """no SLOWLOG entry took longer than the latency budget"""
    book = (plan or LatencyPlan()).book(context)
    try:
        entries = slowlog(context.client)
    except Exception as failure:
        return skipped(f"SLOWLOG is not readable here ({failure})")
    threshold = config_get(context.client, "slowlog-log-slower-than")
    logged_from = "an unknown threshold (CONFIG GET denied)"
    if threshold is not None:
        if int(threshold) < 0:
            return skipped("the slow log is off (slowlog-log-slower-than=-1): nothing to report")
        logged_from = f"slowlog-log-slower-than={threshold} µs ({int(threshold) / 1000:g} ms)"
    over = []
    for entry in entries:
        budget = _slowlog_budget(book, entry.command)
        if budget is not None and entry.duration_ms > budget.limit_ms:
            over.append((entry, budget))
    measured = {
        "entries": len(entries),
        "over_budget": [
            {
                "id": entry.id,
                "command": entry.command,
                "duration_ms": entry.duration_ms,
                "age_s": round(entry.age_seconds),
                "budget_ms": budget.limit_ms,
                "budget_source": budget.source,
            }
            for entry, budget in over
        ],
        "threshold": threshold,
    }
    promise = (
        "Promise: no command runs longer on the server than the latency budget (a slow command "
        "blocks every client)"
    )
    scope = f"{len(entries)} SLOWLOG entries (logged from {logged_from})"
    if not over:
        return ok(f"{promise}. Seen: none over budget among {scope}", measured=measured)
    listed = "; ".join(f"{entry.describe()}, over {budget.describe()}" for entry, budget in over[:10])
    more = f" and {len(over) - 10} more" if len(over) > 10 else ""
    return warning(
        f"{len(over)} SLOWLOG entries over budget: {listed}{more}. {promise}. Seen: {scope}",
        measured=measured,
    )


@check("latency.server_side", safe=True, exclusive=True)
def server_side_within_budget(context: CheckContext, plan: LatencyPlan | None = None) -> Outcome:
    """the server's own latency (INFO latencystats) stays within the budgets"""
    book = (plan or LatencyPlan()).book(context)
    stats = latencystats(context.client)
    if stats is None:
        return skipped(
            "the server reports no INFO latencystats (Redis before 7.0, or latency-tracking no)",
        )
    over: list[str] = []
    rows: dict[str, dict[str, float]] = {}
    for command in COMMANDS:
        percentiles = stats.get(command.lower())
        if not percentiles:
            continue
        rows[command] = percentiles
        for name, value in percentiles.items():
            budget = book.budget(command, name)
            if budget is not None and value > budget.limit_ms:
                over.append(
                    f"server-side {command} {LABEL[name]} = {format_ms(value)} is over the round-trip "
                    f"budget of {budget.describe()}"
                )
    shown = "; ".join(
        f"{command} " + ", ".join(f"{LABEL[name]} {format_ms(value)}" for name, value in values.items())
        for command, values in rows.items()
    )
    message = (
        "Promise: the server's own execution time (INFO latencystats, since start or CONFIG "
        f"RESETSTAT) stays within the round-trip budgets. Seen: {shown or 'no tracked command yet'}"
    )
    measured = {"latencystats_ms": rows, "over_budget": over}
    if over:
        return warning(f"{'; '.join(over)}. {message}", measured=measured)
    return ok(message, measured=measured)


def env_budgets(env: EnvContext, environ: Mapping[str, str] | None = None) -> BudgetBook:
    """The budgets of an env outside pytest (doctor): defaults, ``REDIS_LATENCY_BUDGET_*`` in the
    env files, then ``NSELF_BUDGET`` (``;``-separated). Raises ``BudgetError`` naming a bad one."""
    raw = (os.environ if environ is None else environ).get("NSELF_BUDGET", "")
    rules = [item.strip() for item in raw.replace(";", "\n").splitlines() if item.strip()]
    return BudgetBook.resolve(env.name, env.resolved.values, environ=rules)
