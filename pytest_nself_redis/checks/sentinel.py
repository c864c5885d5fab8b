"""sentinel: the Sentinel deployment the env promises (REDIS_SENTINEL_*) watches the primary,
agrees, and fails over within the budget without losing what a replica acknowledged.

The deployment comes in as ``sentinel`` (``sentinel.access``): the topology the run launched
(docker or process), or a running one reached through ``--nself-sentinel-url`` / ``doctor
--sentinel-url``. The safe checks only read (SENTINEL MASTER / REPLICAS / SENTINELS /
CKQUORUM, INFO replication); the failover checks kill the primary, so they run on a topology
the run launched and nowhere else. Without ``REDIS_SENTINEL_ENABLED=true`` every check skips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check_of
from pytest_nself_redis.checks.results import Outcome, error, skipped, verdict, warning
from pytest_nself_redis.sentinel.access import Deployment, LaunchedDeployment
from pytest_nself_redis.sentinel.readings import LAG_BOUND_S, SentinelView, replication_lag

if TYPE_CHECKING:  # a failover runs only on a launched topology (the suites'): not loaded for doctor
    from pytest_nself_redis.sentinel.failover import FailoverResult

# Sentinel needs this long after down-after to elect a leader and promote a replica
# (measured on the harness's 2-core machine: about 1.3 s, docker and process alike).
ELECTION_MS = 2000
DOWN = frozenset({"s_down", "o_down"})


def _deployment(context: CheckContext, *, sentinel: Deployment | None = None) -> Deployment | Outcome:
    """The deployment the safe checks read, or why they are skipped."""
    enabled = context.settings.sentinel_enabled
    if not enabled.value:
        return skipped(f"this env promises no Sentinel ({enabled.cite()})", str(enabled.source))
    if sentinel is None:
        return skipped(
            f"Sentinel is promised ({enabled.cite()}) but no deployment is reachable here: for a "
            "running one give a sentinel's URL (--nself-sentinel-url, doctor --sentinel-url)",
            str(enabled.source),
        )
    return sentinel


def _tail(problems: list[str]) -> str:
    return f" Broken: {'; '.join(problems)}." if problems else " Kept."


def _unanswered(views: list[SentinelView]) -> list[str]:
    return [f"sentinel {view.where} did not answer ({view.error})" for view in views if view.error]


@check_of("sentinel.quorum", _deployment, safe=True)
def sentinels_can_agree(context: CheckContext, sentinel: Deployment) -> Outcome:
    """the sentinels can agree the primary is down and authorize a failover (CKQUORUM)"""
    quorum, count = context.settings.sentinel_quorum, context.settings.sentinel_count
    views = sentinel.views()
    problems = _unanswered(views)
    if quorum.value > count.value:
        problems.append(f"a quorum of {quorum.value} can never be reached by {count.value} sentinels")
    for view in views:
        if view.error is None and not view.ckquorum_ok:
            problems.append(f"sentinel {view.where} says {view.ckquorum}")
        elif view.error is None and view.quorum != quorum.value:
            problems.append(
                f"sentinel {view.where} monitors with quorum {view.quorum} (live), not {quorum.value}"
            )
    seen = "; ".join(f"{view.where}: {view.ckquorum or view.error}" for view in views)
    return verdict(
        not problems,
        f"Promise: {quorum.value} of {count.value} sentinels agree a primary is down, and CKQUORUM passes on "
        f"each ({quorum.cite()}, {count.cite()}). Seen: {seen}.{_tail(problems)}",
        str(quorum.source),
        {"sentinels": len(views), "ckquorum_ok": sum(view.ckquorum_ok for view in views)},
    )


@check_of("sentinel.primary", _deployment, safe=True)
def sentinels_see_one_live_primary(context: CheckContext, sentinel: Deployment) -> Outcome:
    """every sentinel names the same primary, none flags it down, and it answers as a primary"""
    name = context.settings.sentinel_master_name
    views = sentinel.views()
    answered = [view for view in views if view.error is None]
    problems = _unanswered(views)
    named = sorted({view.master for view in answered})
    if len(named) > 1:
        problems.append(f"the sentinels name {len(named)} different primaries ({', '.join(named)})")
    problems += [
        f"sentinel {view.where} flags the primary {view.master} {'+'.join(view.down)}"
        for view in answered
        if view.down
    ]
    primary = sentinel.primary(views)
    if primary.error is not None:
        problems.append(f"the primary {primary.where} cannot be read ({primary.error})")
    elif primary.info.get("role") != "master":
        problems.append(f"{primary.where} answers as role={primary.info.get('role')}")
    seen = "; ".join(
        f"{view.where} names {view.master} flags {','.join(sorted(view.flags))}" for view in answered
    )
    return verdict(
        not problems,
        f"Promise: the sentinels agree on one live primary for {name.cite()}. Seen: {seen or 'no answer'}."
        + _tail(problems),
        str(name.source),
        {"primary": primary.where, "down_flags": sorted({flag for view in answered for flag in view.down})},
    )


def _healthy(flags: frozenset[str]) -> bool:
    return not flags & DOWN


@check_of("sentinel.counts", _deployment, safe=True)
def sentinels_see_every_node(context: CheckContext, sentinel: Deployment) -> Outcome:
    """every sentinel sees the promised replicas and every other sentinel"""
    replicas, count = context.settings.replicas, context.settings.sentinel_count
    views = sentinel.views()
    problems = _unanswered(views)
    if len(views) != count.value:
        problems.append(f"{len(views)} sentinels were found, {count.value} are promised")
    seen = []
    for view in (view for view in views if view.error is None):
        up_replicas = sum(_healthy(peer.flags) for peer in view.replicas)
        up_sentinels = sum(_healthy(peer.flags) for peer in view.sentinels)
        seen.append(f"{view.where} sees {up_replicas} replicas and {up_sentinels} other sentinels")
        if up_replicas != replicas.value or up_sentinels != count.value - 1:
            problems.append(seen[-1])
    return verdict(
        not problems,
        f"Promise: each of {count.value} sentinels sees {replicas.value} replicas and the {count.value - 1} "
        f"other sentinels ({replicas.cite()}, {count.cite()}). Seen: {'; '.join(seen) or 'no answer'}."
        + _tail(problems),
        str(replicas.source),
        {"sentinels_found": len(views)},
    )


@check_of("sentinel.replication", _deployment, safe=True)
def replicas_are_in_sync(context: CheckContext, sentinel: Deployment) -> Outcome:
    """every promised replica is linked to the primary and its lag is bounded"""
    replicas = context.settings.replicas
    views = sentinel.views()
    primary = sentinel.primary(views)
    head = (
        f"Promise: {replicas.value} replicas replicate the primary, each online and acknowledging within "
        f"{LAG_BOUND_S} s ({replicas.cite()})."
    )
    if primary.error is not None:
        return error(
            f"{head} Seen: the primary {primary.where} cannot be read ({primary.error}).",
            str(replicas.source),
        )
    _, lags = replication_lag(primary.info)
    problems = (
        [] if len(lags) == replicas.value else [f"{len(lags)} replicas are connected to {primary.where}"]
    )
    problems += [
        f"replica {lag.where}: state={lag.state}, {lag.lag_s} s since its last ack"
        for lag in lags
        if not lag.ok
    ]
    problems += sentinel.unlinked()
    problems += [
        f"sentinel {view.where} sees replica {peer.where} with master-link-status {peer.link}"
        for view in views
        if view.error is None
        for peer in view.replicas
        if peer.link not in ("ok", "")
    ]
    seen = "; ".join(
        f"{lag.where} {lag.state}, {lag.offset_lag} bytes behind, last ack {lag.lag_s} s ago" for lag in lags
    )
    measured = {
        lag.where: {"offset_lag": lag.offset_lag, "lag_s": lag.lag_s, "state": lag.state} for lag in lags
    }
    return verdict(
        not problems, f"{head} Seen: {seen or 'no replica'}.{_tail(problems)}", str(replicas.source), measured
    )


@check_of("sentinel.down_after", _deployment, safe=True)
def down_after_fits_the_budget(context: CheckContext, sentinel: Deployment) -> Outcome:
    """the sentinels call a silent primary down early enough for the failover budget"""
    down, budget = context.settings.sentinel_down_after_ms, context.settings.sentinel_failover_budget_ms
    views = sentinel.views()
    problems = _unanswered(views)
    if down.value >= budget.value:
        problems.append(f"a failover cannot even start before down-after ({down.value} ms), past the budget")
    problems += [
        f"sentinel {view.where} waits {view.down_after_ms} ms (live down-after-milliseconds), "
        f"not {down.value}"
        for view in views
        if view.error is None and view.down_after_ms != down.value
    ]
    message = (
        f"Promise: a silent primary is called down after {down.value} ms ({down.cite()}), leaving room for "
        f"the election within the failover budget ({budget.cite()}). Seen: live down-after "
        f"{', '.join(str(view.down_after_ms) for view in views if view.error is None) or 'unknown'} ms."
    )
    if problems:
        return error(message + _tail(problems), str(down.source))
    if budget.value - down.value < ELECTION_MS:
        return warning(
            f"{message} Tight: Sentinel needs about {ELECTION_MS} ms more to elect a leader and promote a "
            "replica, so the budget may be missed",
            str(down.source),
        )
    return verdict(True, message + " Kept.", str(down.source))


def _failover(context: CheckContext, *, sentinel: Deployment | None = None) -> FailoverResult | Outcome:
    """The launched topology's measured failover (run once), or why there is none."""
    deployment = _deployment(context, sentinel=sentinel)
    if isinstance(deployment, Outcome):
        return deployment
    if not isinstance(deployment, LaunchedDeployment):
        return skipped(
            "a failover is forced only on a topology this run launched, never on a running deployment"
        )
    try:
        return deployment.failover(context.key_prefix("failover"))
    except Exception as problem:  # a topology that cannot even be asked is this check's error
        return error(f"the failover could not be carried out: {type(problem).__name__}: {problem}")


@check_of("sentinel.failover", _failover)
def failover_within_budget(context: CheckContext, result: FailoverResult) -> Outcome:
    """after the primary crashes, a new primary accepts writes within the failover budget"""
    budget, down = context.settings.sentinel_failover_budget_ms, context.settings.sentinel_down_after_ms
    measured = {**result.counts(), "timeline": [[round(at), event] for at, event in result.timeline]}
    return verdict(
        result.within_budget,
        f"Promise: after SIGKILL of the primary, a Sentinel-aware client's write is accepted by a new "
        f"primary within {budget.value} ms ({budget.cite()}; {down.cite()}). Seen: {result.describe()}."
        + ("" if result.within_budget else " Broken: the failover took longer than the budget allows."),
        str(budget.source),
        measured,
    )


@check_of("sentinel.acknowledged_writes", _failover)
def replicated_writes_survive_failover(context: CheckContext, result: FailoverResult) -> Outcome:
    """every write a replica acknowledged (WAIT 1) before the crash is on the new primary"""
    replicas = context.settings.replicas
    head = (
        "Promise: writes acknowledged with WAIT 1 before the primary's crash survive the failover "
        f"({replicas.cite()})."
    )
    counts = result.counts()
    if result.new_primary is None:
        return error(
            f"{head} Seen: no new primary took over, so every write is out of reach.",
            str(replicas.source),
            counts,
        )
    problems = (
        [f"{len(result.waited_lost)} were lost (first: {', '.join(result.waited_lost[:3])})"]
        if result.waited_lost
        else []
    )
    if not result.waited:
        problems.append(f"no replica acknowledged any write ({result.not_replicated} unconfirmed by WAIT)")
    return verdict(
        not problems,
        f"{head} Seen: {result.waited} acknowledged with WAIT 1, {len(result.waited_lost)} lost; "
        f"{result.unwaited} acknowledged without WAIT, {result.unwaited_lost} of them lost (reported, "
        f"not judged: replication is asynchronous).{_tail(problems)}",
        str(replicas.source),
        counts,
    )


@check_of("sentinel.rejoin", _failover)
def old_primary_rejoins(context: CheckContext, result: FailoverResult) -> Outcome:
    """the crashed primary, started again, rejoins as a replica of the new one"""
    enabled = context.settings.sentinel_enabled
    if result.new_primary is None:
        return error(
            "Promise: the old primary rejoins as a replica. Seen: no failover happened "
            f"({result.describe()})."
        )
    return verdict(
        result.rejoined,
        f"Promise: the crashed primary {result.old_primary}, started again, replicates the new primary "
        f"{result.new_primary} ({enabled.cite()}). Seen: {result.old_primary_role}."
        + ("" if result.rejoined else " Broken: it did not become a linked replica within 60 s."),
        str(enabled.source),
        {"old_primary": result.old_primary, "role": result.old_primary_role, "rejoined": result.rejoined},
    )
