"""``pytest -n`` without ``--dist``: which tests share a worker, and in what order they go out.

A bundled suite module runs whole on one worker for each env, so its module fixtures (the
latency session, the backup round, the Sentinel topology and its failover, the measured
tables) run once per env, as without -n, and its report tables come out whole. Work goes out
env by env, in collection order, so a worker moves on from an env and never comes back to it:
it starts at most one server per env (the env's session fixtures). Other tests are spread one
by one, as ``--dist load`` would. An explicit ``--dist`` is the user's choice and is kept.

Imported only when pytest-xdist asks for a scheduler, so the plugin runs without xdist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from pytest_nself_redis.plugin.bundled import suites_dir


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


class SuiteScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type hints
    """xdist's scope scheduling with the scopes above, handed out env by env."""

    def __init__(self, config: pytest.Config, log: Any, envs: Sequence[str]) -> None:
        super().__init__(config, log)
        self.envs = tuple(envs)
        self._ordered = False
        root = config.rootpath
        folder = suites_dir().resolve()

        @cache
        def bundled(module: str) -> bool:
            return (root / module).resolve().parent == folder

        self._bundled = bundled

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid, self.envs, self._bundled)

    def _assign_work_unit(self, node: Any) -> None:
        """Before the first unit goes out, put the queue (built and, with xdist's default
        ``--loadscope-reorder``, sorted largest first) in env order."""
        if not self._ordered:
            self._ordered = True
            units = dict(self.workqueue)
            self.workqueue.clear()
            for scope in env_by_env(units, self.collection or [], self.envs):
                self.workqueue[scope] = units[scope]
        super()._assign_work_unit(node)
