"""``pytest -n`` without ``--dist``: which tests share a worker, and in what order they go out.

A bundled suite module runs whole on one worker for each env, so its module fixtures (the
latency session, the backup round, the Sentinel topology and its failover, the measured
tables) run once per env, as without -n, and its report tables come out whole. Work goes out
env by env, longest first by what each unit took last time (``work_units``), so a worker
moves on from an env and never comes back to it: it starts at most one server per env (the
env's session fixtures). Other tests are spread one by one, as ``--dist load`` would. An
explicit ``--dist`` is the user's choice and is kept.

Imported only when pytest-xdist asks for a scheduler, so the plugin runs without xdist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from pytest_nself_redis.plugin.work_units import bundled_modules, longest_first, recorded_seconds, scope_of


class SuiteScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type hints
    """xdist's scope scheduling with the scopes above, handed out env by env, longest first."""

    def __init__(self, config: pytest.Config, log: Any, envs: Sequence[str]) -> None:
        super().__init__(config, log)
        self.envs = tuple(envs)
        self._ordered = False
        self._bundled = bundled_modules(config)

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid, self.envs, self._bundled)

    def _assign_work_unit(self, node: Any) -> None:
        """Before the first unit goes out, put the queue (built and, with xdist's default
        ``--loadscope-reorder``, sorted largest first by test count) in the order above."""
        if not self._ordered:
            self._ordered = True
            units = {scope: list(tests) for scope, tests in self.workqueue.items()}
            order = longest_first(units, self.collection or [], self.envs, recorded_seconds(self.config))
            queued = dict(self.workqueue)
            self.workqueue.clear()
            for scope in order:
                self.workqueue[scope] = queued[scope]
        super()._assign_work_unit(node)
