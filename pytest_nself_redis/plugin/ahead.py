"""Checks on servers of their own, run ahead of their tests, several at a time.

A check that launches its own servers (a persistence scenario, an eviction policy) shares
nothing with the env's server or with the other checks, and spends most of its time
waiting: on a launch, a restart, a pause its promise needs (the LRU clock's tick, a crash
past the everysec window). So a suite module that runs such checks starts every one its
selected tests will ask for when the first of them asks, ``WORKERS`` at a time, and each
test then reports its own check's result: the same check, run the same way, with the same
verdict and numbers, only not alone. Each check's servers are removed as soon as it is done.

The module's tests come from the session's selection (``-k``, ``--nself-suites``, ...): what
no test will ask for is never run. A test whose check was not started ahead runs it itself.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult
from pytest_nself_redis.plugin.run import ENV_FIXTURE, NselfRun
from pytest_nself_redis.targets.base import Target

# Checks running at once. They wait far more than they compute (and the GIL serialises what
# they compute), so more than the cores; few enough that the servers they launch do not
# crowd a small machine.
WORKERS = 8
# How long closing waits for a running check once its servers are gone (it then fails fast).
CLOSE_TIMEOUT_S = 30.0


class VariantLauncher:
    """The ``launch`` input of one check: servers like the env's with overridden settings,
    each removed by ``stop_all`` (from any thread, as often as needed)."""

    def __init__(self, run: NselfRun, env: str) -> None:
        self._run = run
        self._env = env
        self._lock = threading.Lock()
        self._launched: list[Target] = []

    def __call__(self, extra_args: tuple[str, ...] = (), **overrides: Any) -> Target:
        target = self._run.launch_variant(self._env, extra_args, overrides)
        with self._lock:
            self._launched.append(target)
        return target

    def stop_all(self) -> None:
        with self._lock:
            launched, self._launched = self._launched, []
        for target in launched:
            target.stop()


def launching_checks(params: Iterable[object]) -> list[str]:
    """The ids among a test's parameters that name a check launching its own servers."""
    return [
        value for value in params if isinstance(value, str) and value in REGISTRY and REGISTRY[value].launches
    ]


class VariantRuns:
    """The launching checks of one suite module for one env, started together ahead of their
    tests (``start``); ``result(check_id)`` is one's result, waited for. The fixture
    ``nself_variant_runs`` makes one per module and env."""

    def __init__(self, run: NselfRun, env: str, context: CheckContext, workers: int = WORKERS) -> None:
        self._run = run
        self._env = env
        self._context = context
        self._workers = workers
        self._futures: dict[str, Future[CheckResult]] = {}
        self._pending: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._launchers: dict[str, VariantLauncher] = {}
        self._threads: list[threading.Thread] = []
        self._removals: dict[str, threading.Thread] = {}
        self._closing = threading.Event()

    def start(self, check_ids: Sequence[str]) -> None:
        """Queue each check (in the order given, once) and start the workers."""
        for check_id in check_ids:
            if check_id not in self._futures:
                self._futures[check_id] = Future()
                self._pending.put(check_id)
        for index in range(min(self._workers, len(self._futures))):
            self._pending.put(None)
            # Daemon: a run interrupted mid-check must not wait for it at exit (its servers
            # are removed by the run's cleanup, and die with their launching thread anyway).
            worker = threading.Thread(target=self._work, name=f"nself-ahead-{index}", daemon=True)
            worker.start()
            self._threads.append(worker)

    def result(self, check_id: str) -> CheckResult:
        """The check's result (an exception it raised is raised here); a check not started
        ahead runs now, in this thread."""
        future = self._futures.get(check_id)
        if future is None:
            return self._run_one(check_id)
        try:
            return future.result()
        finally:
            removal = self._removals.get(check_id)
            if removal is not None:  # its servers are gone when its test reports it
                removal.join(CLOSE_TIMEOUT_S)

    def _work(self) -> None:
        while (check_id := self._pending.get()) is not None:
            future = self._futures[check_id]
            if self._closing.is_set() or not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._run_one(check_id, remove_aside=True))
            except BaseException as problem:  # a failed launch, or pytest's skip/fail
                future.set_exception(problem)

    def _run_one(self, check_id: str, remove_aside: bool = False) -> CheckResult:
        """Run a check with its own launcher; its servers are removed once it is done: with
        ``remove_aside``, by a thread of their own (a container takes a fifth of a second to
        remove), so the worker goes on to the next check meanwhile."""
        launcher = VariantLauncher(self._run, self._env)
        self._launchers[check_id] = launcher
        try:
            return REGISTRY.run(check_id, self._context, launch=launcher)
        finally:
            if remove_aside:
                removal = threading.Thread(
                    target=launcher.stop_all, name=f"nself-remove-{check_id}", daemon=True
                )
                self._removals[check_id] = removal
                removal.start()
            else:
                launcher.stop_all()
            self._launchers.pop(check_id, None)

    def close(self) -> None:
        """Cancel what has not started, remove the servers of what runs (it then ends at
        once, failing) and wait for the workers."""
        self._closing.set()
        for future in self._futures.values():
            future.cancel()
        for launcher in list(self._launchers.values()):
            with contextlib.suppress(Exception):
                launcher.stop_all()
        for worker in self._threads:
            worker.join(CLOSE_TIMEOUT_S)
        for removal in list(self._removals.values()):
            removal.join(CLOSE_TIMEOUT_S)


def module_checks(request: pytest.FixtureRequest, env: str) -> list[str]:
    """The launching checks the selected tests of the requesting module will ask for in
    ``env``, in the order they run: tests that use ``nself_variant_runs``, by their parameters."""
    module = request.node
    found: list[str] = []
    for item in request.session.items:
        if item.getparent(pytest.Module) is not module or "nself_variant_runs" not in getattr(
            item, "fixturenames", ()
        ):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is None or str(callspec.params.get(ENV_FIXTURE, env)) != env:
            continue
        found += launching_checks(callspec.params.values())
    return found
