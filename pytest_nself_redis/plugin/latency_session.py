"""The latency suite's per-env state: its budgets, results, and what they publish.

Kept out of the suite module so the suite stays one thin test per promise. The
budgets layer every source (``HarnessOptions.budgets`` keeps each source's rules
apart), so each budget can name where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.checks.latency import SUITE_PLAN, LatencyPlan
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.latency.budgets import COMMANDS, BudgetBook, BudgetRules
from pytest_nself_redis.latency.measure import CommandLatency
from pytest_nself_redis.latency.sampler import clock_overhead
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES, format_ms, meaningful
from pytest_nself_redis.plugin.benchmark_json import BenchmarkRecord
from pytest_nself_redis.reporting.charts import Bar, CommandChart, latency_section


def budget_book(rules: BudgetRules, context: EnvContext) -> BudgetBook:
    """Defaults, ini, env files, NSELF_BUDGET and --nself-budget, in that order (later wins)."""
    return BudgetBook.resolve(
        context.name, context.resolved.values, ini=rules.ini, environ=rules.environ, option=rules.option
    )


@dataclass
class LatencySession:
    env: str
    budgets: BudgetBook
    plan: LatencyPlan
    results: dict[str, CommandLatency] = field(default_factory=dict)
    outcomes: dict[str, CheckResult] = field(default_factory=dict)

    @classmethod
    def start(cls, rules: BudgetRules, context: EnvContext, plan: LatencyPlan = SUITE_PLAN) -> LatencySession:
        budgets = budget_book(rules, context)
        session = cls(context.name, budgets, plan)
        session.plan = replace(plan, budgets=budgets, record=session.record)
        return session

    def record(self, result: CommandLatency) -> None:
        self.results[result.command] = result

    def keep(self, result: CheckResult) -> CheckResult:
        """Remember a check's outcome for the report, and hand it on."""
        self.outcomes[result.id] = result
        return result

    # -- what the report shows ------------------------------------------------------------
    def charts(self) -> list[CommandChart]:
        charts = []
        for command in COMMANDS:
            result = self.results.get(command)
            if result is None:
                continue
            bars = []
            for name in PERCENTILES:
                budget = self.budgets.budget(command, name)
                bars.append(
                    Bar(
                        LABEL[name],
                        result.percentiles.ms(name),
                        budget.limit_ms if budget else None,
                        budget.source if budget else None,
                        judged=meaningful(name, result.samples),
                    )
                )
            charts.append(CommandChart(command, result.description, result.samples, tuple(bars)))
        return charts

    def overhead_lines(self) -> list[str]:
        """How the numbers were taken (information: the sampler's own overhead is measured by the
        harness's benchmarks, not judged in a user's run)."""
        lines = []
        if self.results:
            first = next(iter(self.results.values()))
            clock = clock_overhead()
            lines.append(
                f"Sampler: one raw socket, pre-encoded RESP, {first.clock} from send to the recv "
                f"that completes the reply; up to {self.plan.samples} round trips per command after "
                f"{self.plan.warmup} untimed ones (at most {self.plan.max_seconds:g} s each), GC paused; "
                f"reading the clock twice costs {clock.median_ns} ns."
            )
        for check_id in ("latency.slowlog", "latency.server_side"):
            outcome = self.outcomes.get(check_id)
            if outcome is not None and outcome.status is not Status.OK:
                lines.append(f"{check_id} ({outcome.status}): {outcome.message}")
        return lines

    def tables(self) -> list[tuple[str, Sequence[dict[str, object]]]]:
        tables: list[tuple[str, Sequence[dict[str, object]]]] = [
            (f"Latency budgets ({self.env}) and their sources", self.budgets.rows())
        ]
        server = self.outcomes.get("latency.server_side")
        if (
            server is not None
            and isinstance(server.measured, dict)
            and server.measured.get("latencystats_ms")
        ):
            rows: list[dict[str, object]] = [
                {"command": command, **{LABEL[name]: format_ms(value) for name, value in values.items()}}
                for command, values in server.measured["latencystats_ms"].items()
            ]
            tables.append(("Server-side latency (INFO latencystats, since start)", rows))
        return tables

    def html(self) -> str:
        return latency_section(self.env, self.charts(), self.overhead_lines(), self.tables())

    def benchmark(self) -> BenchmarkRecord:
        """The runs for the env's benchmark JSON (written with the other reports, at the end)."""
        extra: dict[str, Any] = {"env": self.env, "budgets": self.budgets.rows()}
        return BenchmarkRecord.of(self.env, list(self.results.values()), self.budgets, extra)
