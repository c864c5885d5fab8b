"""headroom.fits: maxmemory, a fork's copy-on-write and client buffers fit the container's limit.

Read from the deployment (the container's limit, with its line) and the running server
(``CONFIG GET``, ``INFO persistence``); it changes nothing, so it runs on every target.
"""

from __future__ import annotations

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.headroom.budget import Budget, budget_of, limit_size, redis_size
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, warning
from pytest_nself_redis.durability.oom import mib
from pytest_nself_redis.remedy import Consequence, Remedy, add_flags, set_setting


def _is_1x_compose(context: CheckContext) -> bool:
    env = context.env
    return env is not None and env.generation.is_1x and context.service.origin == "compose"


def lower_maxmemory(context: CheckContext, budget: Budget) -> str:
    """Where to set a maxmemory that fits, and to what."""
    service, setting = context.service, context.settings.maxmemory
    if not budget.safe_maxmemory:
        return f"no maxmemory fits: the client buffers alone ({mib(budget.clients)}) fill the limit"
    size = redis_size(budget.safe_maxmemory)
    if service.origin == "rendered":
        return f"set REDIS_MAXMEMORY={size} or less (now {setting.cite()})"
    if _is_1x_compose(context):
        written = service.compose_file.name if service.compose_file else "the compose file"
        return (
            f"add --maxmemory {size} (or less) to the redis command in a compose override: nself 1.x "
            f"does not read {setting.cite()} and rewrites {written} ({service.command_source}) on build"
        )
    return f"set --maxmemory {size} (or less) in the redis command ({service.command_source})"


def fitting_maxmemory(context: CheckContext, budget: Budget) -> Remedy | None:
    """What ``nself-redis fix`` can carry out: a maxmemory that fits (none when none does)."""
    if not budget.safe_maxmemory:
        return None
    setting, env = context.settings.maxmemory, context.settings.env
    if setting.value and setting.value <= budget.safe_maxmemory:
        # The promise fits; the deployment does not carry it (nself 1.x does not read it).
        return add_flags(context.service, ("--maxmemory", setting.text), Consequence.AVAILABILITY, env)
    return set_setting(setting, redis_size(budget.safe_maxmemory), Consequence.AVAILABILITY, env)


def raise_limit(context: CheckContext, budget: Budget) -> str:
    """Where to raise the container's limit so that the current maxmemory fits."""
    size = limit_size(budget.need)
    if context.service.origin == "rendered" or _is_1x_compose(context):
        memory = context.settings.memory
        return f"raise REDIS_MEMORY to {size} or more (now {memory.cite()}), which nself makes the limit"
    return f"raise the limit to {size} or more ({budget.limit.source})"


@check("headroom.fits", safe=True)
def memory_fits_the_container(context: CheckContext) -> Outcome:
    """maxmemory, a fork's copy-on-write and client buffers fit the container's memory limit"""
    budget = budget_of(context)
    service = context.service
    if budget is None:
        return skipped(
            f"{service.describe()} sets no memory limit (deploy.resources.limits.memory, mem_limit): "
            "the host's memory is the bound, and nothing kills the container for it",
            str(service.source),
        )
    head = (
        f"Promise: Redis stays inside its container's memory limit {budget.limit.cite()}: maxmemory, "
        "plus the copy-on-write a fork (BGSAVE, AOF rewrite) may need, plus client buffers fit in it, "
        "so Redis evicts or refuses writes before the kernel kills it."
    )
    seen = f"Seen: {budget.figures()}."
    source = str(budget.limit.source)
    measured = {
        "verdict": budget.verdict,
        "limit": budget.limit.value,
        "maxmemory": budget.maxmemory,
        "need": budget.need,
        "safe_maxmemory": budget.safe_maxmemory,
    }
    if budget.verdict in ("unbounded", "over"):
        # Both break the promise the same way (the kernel kills the container), and both are
        # closed by a maxmemory that fits.
        fix = lower_maxmemory(context, budget)
        if budget.verdict == "unbounded":
            broken = (
                "with no maxmemory Redis grows until the kernel kills the container (OOMKilled), with no "
                "eviction and no OOM error first (headroom.oom shows it)"
            )
        else:
            broken = f"{budget.sum(budget.fork_reserve)} is over the limit {mib(budget.limit.value)}"
            fix = f"{fix}, or {raise_limit(context, budget)}"
        return error(
            f"{head} {seen} Broken: {broken}. To keep the promise {fix}",
            source,
            measured,
            fitting_maxmemory(context, budget),
        )
    if budget.verdict == "tight":
        return warning(
            f"{head} {seen} Kept with the {mib(budget.fork_reserve)} set aside, not for a fork that "
            f"copies the whole dataset: {budget.sum(budget.fork_worst)} is over the limit "
            f"{mib(budget.limit.value)}, so heavy writes during a save may still get it killed. For "
            f"room to spare {lower_maxmemory(context, budget)}, or {raise_limit(context, budget)}",
            source,
            measured,
        )
    return ok(
        f"{head} {seen} Kept: {budget.sum(budget.fork_worst)} fits in {mib(budget.limit.value)}",
        source,
        measured,
    )
