"""The latency runs as pytest-benchmark JSON, so ``pytest-benchmark compare A B`` compares two runs.

The statistics come from pytest-benchmark's own ``Stats`` (times in seconds, one
round trip per round); our percentiles and budgets ride along in ``extra_info``.
"""

from __future__ import annotations

import importlib
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_nself_redis.latency.budgets import BudgetBook
from pytest_nself_redis.latency.measure import CommandLatency


def _pytest_benchmark(module: str) -> Any:
    """pytest-benchmark's modules, untyped: import them as ``Any``."""
    return importlib.import_module(f"pytest_benchmark.{module}")


def _machine_info() -> dict[str, Any]:
    try:
        info: dict[str, Any] = _pytest_benchmark("plugin").pytest_benchmark_generate_machine_info()
        return info
    except Exception:  # an optional nicety (cpuinfo can fail in containers)
        return {
            "node": platform.node(),
            "machine": platform.machine(),
            "python_version": platform.python_version(),
        }


def _commit_info() -> dict[str, Any]:
    try:
        info: dict[str, Any] = _pytest_benchmark("utils").get_commit_info()
        return info
    except Exception:
        return {}


def _stats(result: CommandLatency) -> dict[str, Any]:
    stats = _pytest_benchmark("stats").Stats()
    for duration in result.durations_ns:
        stats.update(duration / 1e9)
    values: dict[str, Any] = stats.as_dict()
    values["iterations"] = 1
    return values


def benchmark_entry(env: str, result: CommandLatency, budgets: BudgetBook | None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "env": env,
        "command": result.command,
        "workload": result.description,
        "server": result.server,
        "percentiles_ms": result.percentiles.as_ms(),
    }
    if budgets is not None:
        extra["budgets_ms"] = {
            name: {"limit_ms": budget.limit_ms, "source": budget.source}
            for name, budget in budgets.of(result.command).items()
        }
    return {
        "group": f"latency {env}",
        "name": f"latency[{result.command}]",
        "fullname": f"pytest_nself_redis/suites/test_latency.py::{env}::{result.command}",
        "params": {"command": result.command},
        "param": result.command,
        "extra_info": extra,
        "options": {
            "timer": result.clock,
            "min_rounds": result.samples,
            "warmup": result.warmup,
            "disable_gc": True,
            "max_time": round(result.seconds, 3),
            "min_time": 0,
        },
        "stats": _stats(result),
    }


@dataclass
class BenchmarkRecord:
    """An env's latency runs as benchmark entries (plain data, so it crosses from a pytest-xdist
    worker to the controller), and the document's ``nself_latency`` extra."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, env: str, results: Sequence[CommandLatency], budgets: BudgetBook | None, extra: dict[str, Any]
    ) -> BenchmarkRecord:
        return cls([benchmark_entry(env, result, budgets) for result in results], extra)

    def join(self, other: BenchmarkRecord) -> None:
        """Add another part of the same env's runs (each command is measured by one test)."""
        self.entries.extend(other.entries)
        self.extra = self.extra or other.extra


def write_benchmark_document(path: Path, record: BenchmarkRecord) -> Path:
    """Write (or overwrite) ``path``; the record's extra goes under the top-level key ``nself_latency``."""
    document: dict[str, Any] = {
        "machine_info": _machine_info(),
        "commit_info": _commit_info(),
        "benchmarks": record.entries,
        "datetime": datetime.now(UTC).isoformat(),
        "version": importlib.import_module("pytest_benchmark").__version__,
    }
    if record.extra:
        document["nself_latency"] = record.extra
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def write_benchmark_json(
    path: Path,
    env: str,
    results: Sequence[CommandLatency],
    budgets: BudgetBook | None,
    *,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write (or overwrite) ``path``; ``extra`` goes under the top-level key ``nself_latency``."""
    return write_benchmark_document(path, BenchmarkRecord.of(env, results, budgets, extra or {}))
