"""The latency suite's per-env state: budgets from every source, results, and what they publish.

Kept out of the suite module so the suite stays one thin test per promise. The
budget sources are read one by one (not through ``HarnessOptions.budgets``, which
keeps only the winning source) so each budget can name where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from pytest_nself_redis.checks.base import CheckResult, Status
from pytest_nself_redis.checks.latency import SUITE_PLAN, LatencyPlan
from pytest_nself_redis.context import EnvContext
from pytest_nself_redis.latency.benchmark_json import write_benchmark_json
from pytest_nself_redis.latency.budgets import COMMANDS, BudgetBook
from pytest_nself_redis.latency.measure import CommandLatency
from pytest_nself_redis.latency.stats import LABEL, PERCENTILES, format_ms, meaningful
from pytest_nself_redis.reporting.charts import Bar, CommandChart, latency_section

OPTION = "nself_budget"
ENVIRONMENT_VARIABLE = "NSELF_BUDGET"


def _lines(raw: Any) -> list[str]:
    if not raw:
        return []
    if isinstance(raw, str):
        raw = raw.replace(";", "\n").splitlines()
    return [str(item).strip() for item in raw if str(item).strip()]


def budget_book(config: pytest.Config, context: EnvContext) -> BudgetBook:
    """Defaults, ini, env files, NSELF_BUDGET and --nself-budget, in that order (later wins)."""
    return BudgetBook.resolve(
        context.name,
        context.resolved.values,
        ini=_lines(config.getini(OPTION)),
        environ=_lines(os.environ.get(ENVIRONMENT_VARIABLE)),
        option=_lines(config.getoption(OPTION)),
    )


def benchmark_path(reports: Path, env: str) -> Path:
    return reports / f"benchmark-{env}.json"


@dataclass
class LatencySession:
    env: str
    budgets: BudgetBook
    plan: LatencyPlan
    results: dict[str, CommandLatency] = field(default_factory=dict)
    outcomes: dict[str, CheckResult] = field(default_factory=dict)

    @classmethod
    def start(
        cls, config: pytest.Config, context: EnvContext, plan: LatencyPlan = SUITE_PLAN
    ) -> LatencySession:
        budgets = budget_book(config, context)
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
        lines = []
        if self.results:
            first = next(iter(self.results.values()))
            lines.append(
                f"Sampler: one raw socket, pre-encoded RESP, {first.clock} from send to the recv "
                f"that completes the reply; up to {self.plan.samples} round trips per command after "
                f"{self.plan.warmup} untimed ones (at most {self.plan.max_seconds:g} s each), GC paused."
            )
        overhead = self.outcomes.get("latency.sampler_overhead")
        if overhead is not None and isinstance(overhead.measured, dict):
            measured = overhead.measured
            lines.append(
                f"Sampler overhead: PING p50 {format_ms(measured['sampler_p50_ms'])} (sampler) vs "
                f"{format_ms(measured['redis_benchmark_p50_ms'])} (`{measured['command']}`, PING_MBULK), "
                f"ratio {measured['ratio']:.2f} (limit {measured['limit']}x; median of the per-round "
                f"ratios over {len(measured['rounds'])} alternating rounds of {measured['requests']}, "
                f"p50s shown are the best of each; ratio of the medians {measured['median_ratio']:.2f}); "
                f"reading the clock twice costs "
                f"{measured['clock_read_ns']['median']} ns."
            )
        elif overhead is not None:
            lines.append(f"Sampler overhead: {overhead.message}")
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

    def write_json(self, reports: Path) -> Path:
        overhead = self.outcomes.get("latency.sampler_overhead")
        extra: dict[str, Any] = {
            "env": self.env,
            "budgets": self.budgets.rows(),
            "sampler_overhead": overhead.measured if overhead is not None else None,
        }
        return write_benchmark_json(
            benchmark_path(reports, self.env),
            self.env,
            list(self.results.values()),
            self.budgets,
            extra=extra,
        )
