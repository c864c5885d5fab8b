"""Doctor's checks side by side, within the run's deadline.

The checks are independent (each has its own client and its own key prefix), so a few worker
threads run them at once and a run costs about its slowest checks (the queue suite's blocking
waits) instead of their sum. A check declared ``waits`` starts first (``taken``), so its wait
overlaps the others' work, and one declared ``slow`` (it starts a program) next, so its time
overlaps the quick checks' instead of following them. A check declared ``exclusive`` (it
measures time: the latency suite) runs once the busy checks are done, one at a time, beside
nothing but the waiting checks still asleep in their waits (a blocked read costs neither the
server nor the harness any time), so its sampling overlaps their waits instead of following
them. The main thread only waits, so the deadline's SIGALRM and SIGTERM/SIGINT still reach it.
When the run ends early, the checks not started are cancelled and the running ones cut off
(``stop`` closes their connections) and given a moment to clean up before the caller sweeps. The
workers are daemon threads: a check that ignores its closed connection cannot hold the process
past the deadline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Protocol

from pytest_nself_redis.checks.results import CheckResult
from pytest_nself_redis.doctor.bounds import Deadline, DeadlineReached

# One for each check that waits (the two blocking reads, the expiries) and two for the rest (one
# may be starting redis_exporter); more only adds connections to the server.
WORKERS = 5
Job = Callable[[], CheckResult | None]


class Traits(Protocol):
    """How a check is scheduled, as it was declared (the registry's ``RegisteredCheck``)."""

    @property
    def exclusive(self) -> bool: ...
    @property
    def waits(self) -> bool: ...
    @property
    def slow(self) -> bool: ...


Declared = Callable[[str], Traits]


def phases(check_ids: Sequence[str], traits: Declared) -> tuple[list[str], list[str], list[str]]:
    """What runs side by side (every independent check, in the order the workers take them:
    ``taken``), the busy ones among them, which must be done before an exclusive check starts
    (the waiting ones taken first may still be asleep beside it), and the exclusive checks, in
    order. What says whether the server is healthy comes first, inside any deadline."""
    together = taken([check_id for check_id in check_ids if not traits(check_id).exclusive], traits)
    early = _early(together, traits)
    busy = [check_id for check_id in together if check_id not in early]
    return together, busy, [check_id for check_id in check_ids if traits(check_id).exclusive]


class Workers:
    """Daemon threads taking jobs from one queue (``concurrent.futures`` joins its threads at
    exit, so a stuck job there would outlive the deadline)."""

    def __init__(self, count: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[CheckResult | None], Job] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"nself-redis-doctor-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> Future[CheckResult | None]:
        future: Future[CheckResult | None] = Future()
        self._jobs.put((future, job))
        return future

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as problem:  # handed to whoever waits on it
                future.set_exception(problem)

    def close(self) -> None:
        """Each thread ends after the job it is on."""
        for _ in self._threads:
            self._jobs.put(None)


@dataclass
class Progress:
    """What became of each check: its result, or it was running when the run ended."""

    finished: dict[str, CheckResult] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)


def _wait(futures: Iterable[Future[CheckResult | None]], bound: Deadline) -> bool:
    """Until every future is done (True) or the deadline passes (False). The alarm is armed only
    here, so it can only interrupt the wait."""
    try:
        with bound.armed():
            _, pending = wait(list(futures), timeout=bound.remaining())
    except DeadlineReached:
        bound.reached = True
        return False
    if pending:
        bound.reached = True
    return not pending


def run_all(
    check_ids: Sequence[str],
    run: Callable[[str], CheckResult | None],
    bound: Deadline,
    *,
    traits: Declared,
    stop: Callable[[], None],
) -> Progress:
    """``run(check_id)`` for each id (None: it did not start, the deadline had passed), in
    ``phases``, until all are done or the deadline passes. An exception in the main thread
    (a signal) ends the run the same way, then goes on up."""
    pool = Workers(WORKERS)
    futures: dict[str, Future[CheckResult | None]] = {}
    progress = Progress()
    together, busy, alone = phases(check_ids, traits)
    try:
        futures.update((check_id, pool.submit(_bind(run, check_id))) for check_id in together)
        if _wait([futures[check_id] for check_id in busy], bound):
            for check_id in alone:
                if bound.expired():
                    break
                futures[check_id] = pool.submit(_bind(run, check_id))
                if not _wait([futures[check_id]], bound):
                    break
            else:
                _wait(futures.values(), bound)
    finally:
        _settle(futures, progress, stop, bound)
        pool.close()
    return progress


def taken(batch: Sequence[str], traits: Declared) -> list[str]:
    """The order the workers take a batch in: up to ``WORKERS - 1`` waiting checks first (their
    waits overlap the others' work), then the slow busy ones (so their time overlaps the quick
    ones' instead of following it), then the rest in order. One worker is always left for the
    quick checks: a server that stalls the waiting ones (blocking reads with long timeouts)
    cannot hold every worker, and the quick checks still report what it does."""
    early = _early(batch, traits)
    slow = [check_id for check_id in batch if check_id not in early and traits(check_id).slow]
    return early + slow + [check_id for check_id in batch if check_id not in early + slow]


def _early(batch: Sequence[str], traits: Declared) -> list[str]:
    return [check_id for check_id in batch if traits(check_id).waits][: WORKERS - 1]


def _bind(run: Callable[[str], CheckResult | None], check_id: str) -> Job:
    return lambda: run(check_id)


def _settle(
    futures: dict[str, Future[CheckResult | None]],
    progress: Progress,
    stop: Callable[[], None],
    bound: Deadline,
) -> None:
    """Results of the finished checks; the ones not started cancelled; the running ones stopped
    and waited for (briefly) so they delete their keys before the sweep. A job that had only
    just been taken when the deadline passed did not start its check (it returns None): it is
    not reported stopped, the caller reports it not run."""
    running: dict[str, Future[CheckResult | None]] = {}
    for check_id, future in futures.items():
        if future.cancel():
            continue
        if future.done():
            if (result := future.result()) is not None:
                progress.finished[check_id] = result
        else:
            running[check_id] = future
    if not running:
        return
    stop()
    wait(running.values(), timeout=max(0.05, bound.sweep_seconds() / 2))
    for check_id, future in running.items():
        if not future.done() or future.exception() is not None or future.result() is not None:
            progress.stopped.append(check_id)
