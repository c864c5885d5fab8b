"""The work units of a run of the bundled suites (a suite module for one env), and how long
each took last time, so ``pytest -n`` can hand out the longest first.

pytest-xdist hands out units largest first by test count, but a unit's length is not its
count: prod's Sentinel module has eight tests and waits on a failover, so it went out last and
ran alone at the end. Each unit's seconds (setup, call and teardown of its tests) are added up
as the reports arrive, in the xdist controller or in the one process without -n, and kept in
pytest's cache (``.pytest_cache``) for the next run. Without the cache, or on a first run, the
order is the collection's, env by env.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache

import pytest

from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.plugin.bundled import suites_dir

CACHE_KEY = "nself-redis/unit-seconds"


def env_of(nodeid: str, envs: Sequence[str]) -> str:
    """The env a test id runs for: its first parameter (the plugin parametrizes
    ``nself_env_name`` before pytest applies the test's own parameters); "" when the run has
    one env, whose test ids carry none."""
    name = nodeid.rpartition("::")[2]
    start = name.find("[")
    if start < 0 or not name.endswith("]"):
        return ""
    params = name[start + 1 : -1]
    return max((env for env in envs if params == env or params.startswith(f"{env}-")), key=len, default="")


def scope_of(nodeid: str, envs: Sequence[str], bundled: Callable[[str], bool]) -> str:
    """The work unit a test belongs to: its bundled suite module for its env, else itself."""
    module = nodeid.split("::", 1)[0]
    if not bundled(module):
        return nodeid
    return f"{module}::[{env_of(nodeid, envs)}]"


def unit_name(nodeid: str, envs: Sequence[str]) -> str:
    """A unit's name from run to run: its module's file name (the bundled suites share one
    folder, whatever the rootdir makes of its path) and env, the env named even when the run has
    only one (its test ids carry none), so a one-env run teaches the next multi-env run."""
    module = nodeid.split("::", 1)[0].rpartition("/")[2]
    return f"{module}::[{env_of(nodeid, envs) or (envs[0] if envs else '')}]"


def bundled_modules(config: pytest.Config) -> Callable[[str], bool]:
    """Whether a test id's module is one of the bundled suites': a path from the rootdir into
    their folder (a checkout, or ``--pyargs``), or, when pytest collects their installed folder
    from outside the rootdir, the bare file name it then gives their tests (``test_health.py``)
    of a file there and not in the rootdir."""
    root, folder = config.rootpath, suites_dir().resolve()

    @cache
    def bundled(module: str) -> bool:
        if (root / module).resolve().parent == folder:
            return True
        return "/" not in module and (folder / module).is_file() and not (root / module).exists()

    return bundled


def env_by_env(
    units: Mapping[str, Iterable[str]], collection: Sequence[str], envs: Sequence[str]
) -> list[str]:
    """The units (scope → test ids) in the order of their env's first test in the collection,
    keeping their order within an env."""
    rank: dict[str, int] = {}
    for nodeid in collection:
        rank.setdefault(env_of(nodeid, envs), len(rank))

    def env_rank(scope: str) -> int:
        first = next(iter(units[scope]), "")
        return rank.get(env_of(first, envs), len(rank))

    return sorted(units, key=env_rank)


def longest_first(
    units: Mapping[str, Sequence[str]],
    collection: Sequence[str],
    envs: Sequence[str],
    seconds: Mapping[str, float],
) -> list[str]:
    """The units env by env (a worker moves on from an env and never comes back to it, so it
    starts at most one server per env), the env with the most work first and, within an env,
    the longest unit first: the last units out are short ones, and the workers end together.
    A unit not seen before counts its tests at the known seconds per test. With nothing known,
    ``env_by_env``."""
    ordered = env_by_env(units, collection, envs)
    known = {scope: seconds[name] for scope in ordered if (name := _name(units[scope], envs)) in seconds}
    if not known:
        return ordered
    per_test = sum(known.values()) / max(1, sum(len(units[scope]) for scope in known))
    estimate = {scope: known.get(scope, per_test * len(units[scope])) for scope in ordered}
    env_total: defaultdict[str, float] = defaultdict(float)
    for scope in ordered:
        env_total[_env(units[scope], envs)] += estimate[scope]
    position = {scope: index for index, scope in enumerate(ordered)}
    return sorted(
        ordered,
        key=lambda scope: (-env_total[_env(units[scope], envs)], -estimate[scope], position[scope]),
    )


def _name(nodeids: Sequence[str], envs: Sequence[str]) -> str:
    return unit_name(nodeids[0], envs) if nodeids else ""


def _env(nodeids: Sequence[str], envs: Sequence[str]) -> str:
    return env_of(nodeids[0], envs) if nodeids else ""


def recorded_seconds(config: pytest.Config) -> dict[str, float]:
    """What the last runs recorded (empty without pytest's cache, or with something else in it)."""
    store = getattr(config, "cache", None)
    found = store.get(CACHE_KEY, {}) if store is not None else {}
    if not isinstance(found, dict):
        return {}
    return {str(name): float(value) for name, value in found.items() if isinstance(value, int | float)}


class UnitSeconds:
    """Adds up each bundled unit's seconds as the test reports arrive; at the end, keeps them in
    pytest's cache beside what earlier runs recorded for other units."""

    def __init__(self, config: pytest.Config, envs: Callable[[], Sequence[str]]) -> None:
        self.config = config
        self.envs = envs  # asked at the end: the run knows its envs by then, or has failed
        self.bundled = bundled_modules(config)
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.bundled(report.nodeid.split("::", 1)[0]):
            self.seconds[report.nodeid] += report.duration

    def pytest_sessionfinish(self) -> None:
        store = getattr(self.config, "cache", None)
        if store is None or not self.seconds:
            return
        try:
            envs = self.envs()
        except HarnessError:
            return
        units: defaultdict[str, float] = defaultdict(float)
        for nodeid, seconds in self.seconds.items():
            units[unit_name(nodeid, envs)] += seconds
        merged = recorded_seconds(self.config)
        merged.update({name: round(value, 3) for name, value in units.items()})
        store.set(CACHE_KEY, merged)
