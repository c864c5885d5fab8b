"""persistence: acknowledged writes survive restarts and crashes as the mode promises.

Each check puts a server the run launched through one scenario (graceful restart,
SIGKILL crash, or a new container on the same volume) while a client writes up to
the stop, then counts what survived against the promise of the persistence mode
(``durability.modes``). The counts go into the result's ``measured`` so the suite
can report them, not only pass or fail.

These checks need lifecycle control: each launches its own server through the
``launch`` input (the suites pass ``nself_variant``), so none is safe for ``doctor``
(which must never restart a production server). ``writes_survive`` judges one target.
"""

from __future__ import annotations

from typing import Any

from pytest_nself_redis.checks.base import CheckContext, VariantFactory
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, skipped, verdict
from pytest_nself_redis.durability import lifecycle
from pytest_nself_redis.durability.lifecycle import ScenarioError, exercise
from pytest_nself_redis.durability.modes import (
    CRASH,
    EVERYSEC_WINDOW_S,
    GRACEFUL,
    MATRIX,
    RECREATE,
    PersistenceMode,
    promised_mode,
)
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.layers import compare_layers, config_promises
from pytest_nself_redis.live.reads import config_get
from pytest_nself_redis.project.settings import RedisSettings, Setting
from pytest_nself_redis.targets.base import Target

SCENARIO_IDS = {GRACEFUL: "restart", CRASH: "crash", RECREATE: "recreate"}
SCENARIOS = {name: scenario for scenario, name in SCENARIO_IDS.items()}
DURABILITY_DIRECTIVES = ("appendonly", "appendfsync", "save")


def promise_source(mode: PersistenceMode, settings: RedisSettings) -> str:
    """Where the promised mode comes from: the env's settings, or the variant's overrides."""
    if mode.id != "configured":
        return "variant with " + ", ".join(f"{key}={value}" for key, value in mode.overrides.items())
    cited: list[Setting[Any]] = [settings.persistence]
    if settings.persistence.value:
        cited.append(settings.aof_enabled)
        if settings.aof_on:
            cited.append(settings.aof_fsync)
        cited += [settings.rdb_enabled] + ([settings.rdb_frequency] if settings.rdb_on else [])
    return ", ".join(setting.cite() for setting in cited)


def durability_layers(target: Target) -> list[str]:
    """The persistence directives that depart from the settings, each with its layer."""
    settings, service = target.context.settings, target.context.service
    promises = config_promises(settings)
    client = target.client()
    problems = []
    for directive in DURABILITY_DIRECTIVES:
        promise = promises.get(directive)
        if promise is None:
            continue
        result = compare_layers(promise, service, config_get(client, directive))
        if not result.ok:
            problems.append(result.message)
    return problems


def judge(mode: PersistenceMode, outcome: lifecycle.Outcome) -> tuple[str, list[str]]:
    """The promise of ``mode`` for this scenario and how the outcome broke it (empty: kept)."""
    broken: list[str] = []
    if outcome.acknowledged == 0:
        broken.append("no write was acknowledged, so nothing was tested")
    if outcome.scenario == CRASH:
        promise = mode.crash_promise()
        rule = mode.crash_rule
    else:
        promise = mode.restart_promise()
        rule = "zero" if mode.persistent else "everything"
    if rule == "everything":
        if outcome.survived or outcome.survival.in_flight_survived:
            broken.append(
                f"{outcome.survived} of {outcome.acknowledged} acknowledged writes survived although "
                "nothing should"
            )
    elif rule == "zero":
        if outcome.lost:
            broken.append(f"{outcome.lost} acknowledged writes were lost")
    elif rule == "window":
        if outcome.loss_window_ms > EVERYSEC_WINDOW_S * 1000:
            broken.append(
                f"{outcome.lost} acknowledged writes were lost, the oldest acknowledged "
                f"{outcome.loss_window_ms:.0f} ms before the kill (the bound is "
                f"{EVERYSEC_WINDOW_S * 1000:.0f} ms)"
            )
    elif outcome.lost_before_save:
        broken.append(f"{outcome.lost_before_save} writes acknowledged before the save point were lost")
    broken += [f"after the restart INFO persistence shows {problem}" for problem in outcome.info_problems()]
    return promise, broken


def writes_survive(context: CheckContext, target: Target, mode: PersistenceMode, scenario: str) -> Outcome:
    """Acknowledged writes survive ``scenario`` as ``mode`` promises; counts in ``measured``."""
    settings = target.context.settings
    source = promise_source(mode, settings)
    head = f"Promise ({mode.title}: {source}):"
    if (cannot := _cannot_run(target.kind, scenario)) is not None:
        return cannot
    if not target.supports_lifecycle:
        return skipped(f"the {target.kind} target cannot stop and start its server")
    layers = durability_layers(target)
    try:
        outcome = exercise(target, mode, scenario, context.key_prefix(f"{SCENARIO_IDS[scenario]}-{mode.id}-"))
    except (HarnessError, ScenarioError) as problem:
        return error(f"{head} the {scenario} could not be carried out: {problem}", source)
    promise, broken = judge(mode, outcome)
    if scenario == CRASH and layers:
        # A SIGKILL keeps the kernel's page cache, so a weaker fsync (or no AOF at all, with
        # a snapshot just taken) can pass this one crash: the deployment itself is the finding.
        broken.append(
            "the server does not run the promised persistence, so the promise holds by luck at best"
        )
    causes = f" Traced through the layers: {' '.join(layers)}" if layers and broken else ""
    tail = f" Broken: {'; '.join(broken)}.{causes}" if broken else " Kept."
    measured = {**outcome.counts(), "kept": not broken, "promise": promise}
    return verdict(not broken, f"{head} {promise}. Seen: {outcome.describe()}.{tail}", source, measured)


def _cannot_run(kind: str | None, scenario: str) -> Outcome | None:
    if scenario == RECREATE and kind not in (None, "docker"):
        return skipped(f"recreating the container needs the docker target; this run uses {kind}")
    return None


def _matrix(scenario: str) -> dict[str, tuple[PersistenceMode, str]]:
    """One family's parameters: each mode of the matrix, through ``scenario``."""
    return {mode.id: (mode, scenario) for mode in MATRIX}


@check(
    "persistence.restart.{}", params=_matrix(GRACEFUL), title="a graceful restart keeps what mode {} promises"
)
@check("persistence.crash.{}", params=_matrix(CRASH), title="a crash loses no more than mode {} allows")
@check(
    "persistence.recreate.{}", params=_matrix(RECREATE), title="a new container keeps what mode {} promises"
)
def mode_keeps_its_promise(
    context: CheckContext, case: tuple[PersistenceMode, str], *, launch: VariantFactory
) -> Outcome:
    """A scenario on a server launched for a mode of the matrix (none is launched for a scenario
    this run's target cannot carry out)."""
    mode, scenario = case
    if (cannot := _cannot_run(context.kind, scenario)) is not None:
        return cannot
    return writes_survive(context, launch((), **mode.overrides), mode, scenario)


@check("persistence.{}.configured", params=SCENARIOS, title="the configured mode keeps its promise ({})")
def configured_mode_keeps_its_promise(
    context: CheckContext, scenario: str, *, launch: VariantFactory
) -> Outcome:
    """The env's own deployment (its compose service, or the one rendered from the settings)."""
    if (cannot := _cannot_run(context.kind, scenario)) is not None:
        return cannot
    target = launch()
    return writes_survive(context, target, promised_mode(target.context.settings), scenario)
