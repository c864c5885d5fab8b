"""headroom.oom: the consequence, shown. A variant of the deployment's own service runs in a
scale model of its container and is filled (``durability.oom``). Killed by the kernel, it is
restarted and the acknowledged writes that are gone are counted; then the same fill runs on a
variant with the largest maxmemory that leaves headroom, which must live through a BGSAVE.

The model: the share of the limit that scales with the dataset becomes ``PROOF_DATA``
(maxmemory scaled alike), and what Redis takes beyond its dataset whatever the container's
size (``FIXED_OVERHEAD``: the process, its allocator, the AOF's page cache) is kept, so
``maxmemory + overhead <= limit`` holds in the model exactly when it holds at full size.

It launches its own containers (the ``launch`` input), so doctor never runs it.
"""

from __future__ import annotations

from typing import Any

from pytest_nself_redis.checks.base import CheckContext, VariantFactory
from pytest_nself_redis.checks.headroom.budget import Budget, budget_of, redis_size
from pytest_nself_redis.checks.headroom.fits import fitting_maxmemory, lower_maxmemory
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped
from pytest_nself_redis.durability.oom import (
    MIB,
    VALUE_BYTES,
    FillError,
    FillResult,
    fill,
    mib,
    restart_and_count,
)
from pytest_nself_redis.errors import HarnessError

PROOF_DATA = 64 * MIB
# Measured on redis:7-alpine with appendonly yes: the kill comes 15-22 MiB above used_memory.
FIXED_OVERHEAD = 24 * MIB
DEPLOYED, REMEDY = "the deployment's command", "with --maxmemory {}"


def _whole_mib(size: float) -> int:
    """A maxmemory for the proof in whole MiB, as messages write it (at least 1 MiB when not 0)."""
    return max(MIB, int(size) // MIB * MIB) if size > 0 else 0


def _scale(budget: Budget) -> float:
    return min(1.0, PROOF_DATA / budget.limit.value)


def proof_limit(budget: Budget) -> int:
    """The model's container limit: the scaled share, plus the overhead that does not scale."""
    scale = _scale(budget)
    return _whole_mib(budget.limit.value * scale + FIXED_OVERHEAD * (1 - scale))


def _scaled(budget: Budget) -> int:
    """The deployment's maxmemory in the model."""
    return _whole_mib(budget.maxmemory * _scale(budget))


def _run(
    context: CheckContext, launch: VariantFactory, budget: Budget, maxmemory: int, label: str
) -> FillResult:
    """One variant in the model's container, filled; restarted and counted when killed."""
    extra = ("--maxmemory", str(maxmemory)) if maxmemory else ()
    limit = proof_limit(budget)
    target = launch(extra, REDIS_MEMORY=f"{limit // MIB}M")
    result = fill(target, context.key_prefix(f"headroom-{label}-"), limit, maxmemory)
    if result.killed:
        restart_and_count(target, result)
    return result


def _killed(result: FillResult) -> str:
    lost = result.lost or 0
    survived = result.acknowledged - lost
    return (
        f"the kernel killed the container ({result.state.describe() if result.state else '?'}) after "
        f"{result.acknowledged} acknowledged writes of {VALUE_BYTES // 1024} KiB in {result.seconds:.1f} s, "
        f"used_memory {mib(result.used)} (RSS {mib(result.rss)}) in the last INFO before the kill; "
        f"restarted (in {result.restart_s or 0:.1f} s), it had {survived} of them: {lost} acknowledged "
        "writes lost"
    )


def _lived(result: FillResult) -> str:
    return (
        f"Redis held the line at used_memory {mib(result.peak)} (RSS {mib(result.rss)}): "
        f"{result.held_by()}; a BGSAVE under the fill ended {result.bgsave}; the container lived "
        f"({result.acknowledged} acknowledged writes in {result.seconds:.1f} s)"
    )


def _failed_to_hold(result: FillResult) -> str | None:
    """How a fill that was not OOM-killed still broke (or could not test) the promise."""
    if result.state is not None:
        return f"the server went away without an OOM kill: {result.state.describe()}"
    if not result.held:
        return (
            f"{mib(result.written)} written in {result.seconds:.1f} s: neither the kernel nor Redis "
            "stopped it (does this engine enforce memory limits?)"
        )
    if result.bgsave != "ok":
        return f"the BGSAVE under the fill ended {result.bgsave or 'never'} (its fork failed or was killed)"
    return None


def _remedy(context: CheckContext, budget: Budget, launch: VariantFactory) -> tuple[str, FillResult | None]:
    """The same fill with the largest maxmemory that leaves headroom, scaled like the deployment's."""
    maxmemory = _whole_mib(budget.safe_maxmemory * _scale(budget)) if budget.safe_maxmemory else 0
    if not maxmemory:
        return " No maxmemory leaves room here: the client buffers alone fill the limit.", None
    result = _run(context, launch, budget, maxmemory, "remedy")
    what = REMEDY.format(redis_size(maxmemory))
    if result.killed or _failed_to_hold(result):
        shown = _killed(result) if result.killed else _failed_to_hold(result)
        return f" {what.capitalize()} too: {shown}.", result
    return (
        f" {what.capitalize()} ({redis_size(budget.safe_maxmemory)} scaled alike, the largest that "
        f"leaves room for a fork and client buffers in {mib(budget.limit.value)}) the same fill met "
        f"{result.held_by()}, a BGSAVE under it ended ok and the container lived. "
        f"So {lower_maxmemory(context, budget)}.",
        result,
    )


def _measured(results: dict[str, FillResult]) -> dict[str, Any]:
    first = next(iter(results.values()))
    return {
        "limit": first.limit,
        "killed": first.killed,
        "used_at_kill": first.used if first.killed else None,
        "acknowledged": first.acknowledged,
        "lost": first.lost,
        "rows": [result.row(label) for label, result in results.items()],
    }


@check("headroom.oom")
def container_survives_a_fill(context: CheckContext, *, launch: VariantFactory) -> Outcome:
    """filled to its memory limit, the container is not killed by the kernel"""
    if context.kind != "docker":
        return skipped(
            f"the proof needs a container whose memory limit the kernel enforces: --nself-target docker "
            f"(this run uses {context.kind}); headroom.fits still does the arithmetic"
        )
    budget = budget_of(context)
    if budget is None:
        return skipped(f"{context.service.describe()} sets no memory limit: nothing to fill up to")
    scaled = _scaled(budget)
    shown = redis_size(scaled) if scaled else "0 (no limit, as deployed)"
    head = (
        "Promise: filled with writes, Redis holds the line (evicts, or refuses with OOM) before the "
        f"kernel kills its container. Shown on a variant of the deployment ({context.service.describe()}) "
        f"in a {mib(proof_limit(budget))} container, a model of {budget.limit.cite()}: "
        f"{mib(PROOF_DATA)} for the share that scales with the dataset, maxmemory scaled alike "
        f"({shown}), plus what Redis takes beyond its dataset at any size."
    )
    source = str(budget.limit.source)
    try:
        results = {DEPLOYED: _run(context, launch, budget, scaled, "deployed")}
        first = results[DEPLOYED]
        if first.killed:
            told, remedy = _remedy(context, budget, launch)
            if remedy is not None:
                results[REMEDY.format(redis_size(remedy.maxmemory))] = remedy
            fix = fitting_maxmemory(context, budget)
            return error(f"{head} Broken: {_killed(first)}.{told}", source, _measured(results), fix)
    except (HarnessError, FillError) as problem:
        return error(f"{head} The fill could not be carried out: {problem}", source)
    broken = _failed_to_hold(first)
    if broken:
        return error(
            f"{head} Broken: {broken}.", source, _measured(results), fitting_maxmemory(context, budget)
        )
    return ok(f"{head} Kept: {_lived(first)}.", source, _measured(results))
