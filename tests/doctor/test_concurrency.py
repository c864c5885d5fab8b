"""Doctor runs its checks side by side: independent ones overlap, an exclusive one (it measures
time) runs with no busy check beside it (only waiting ones, asleep in their waits), the results
keep the registry's order, and the deadline still ends the run, with the main thread's alarm
and without it (doctor used as a library from another thread).

The checks here are declared by the tests (and removed after), in a suite of their own, and
run against a real launched server, as doctor runs any check."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, Outcome, Status, check
from pytest_nself_redis.checks.results import ok
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.doctor.bounds import Deadline
from pytest_nself_redis.doctor.runner import DoctorReport, doctor_checks, run_doctor
from pytest_nself_redis.doctor.schedule import WORKERS, phases, taken
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS

SUITE = "zzconcurrency"


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@pytest.fixture
def declare() -> Iterator[Callable[..., None]]:
    """Declare a check of the test's suite (safe, so doctor runs it); removed afterwards."""
    declared: list[str] = []

    def add(
        name: str,
        function: Callable[[CheckContext], Outcome],
        *,
        exclusive: bool = False,
        waits: bool = False,
        slow: bool = False,
    ) -> None:
        check(f"{SUITE}.{name}", safe=True, exclusive=exclusive, waits=waits, slow=slow)(function)
        declared.append(f"{SUITE}.{name}")

    yield add
    for check_id in declared:
        REGISTRY.remove(check_id)


def recorded(spans: dict[str, Span], name: str, seconds: float) -> Callable[[CheckContext], Outcome]:
    """A check that talks to the server for ``seconds`` and records when it ran."""

    def run(context: CheckContext) -> Outcome:
        """a check that records when it ran"""
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            context.client.ping()
            time.sleep(0.01)
        spans[name] = Span(started, time.monotonic())
        return ok(f"{name} ran")

    return run


def doctor(target: Target, deadline: float = 10.0) -> DoctorReport:
    context = load_env_context(NselfProject.open(COMPLETE_WITHOUT_TLS), "prod")
    url = f"redis://:{target.endpoint.password.reveal()}@127.0.0.1:{target.endpoint.port}"
    return run_doctor(context, url, 5.0, suites=(SUITE,), deadline=deadline)


def test_independent_checks_overlap_and_an_exclusive_one_runs_alone(
    launch: Launcher, declare: Callable[..., None]
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    spans: dict[str, Span] = {}
    side_by_side_names = [f"n{number}" for number in range(WORKERS)]
    names = [*side_by_side_names[:-1], "timed", side_by_side_names[-1], "late"]
    for name in names:
        declare(name, recorded(spans, name, 0.3), exclusive=name == "timed")
    report = doctor(target)
    assert [result.id for result in report.results] == [f"{SUITE}.{name}" for name in names]
    assert all(result.status is Status.OK for result in report.results), report.results
    # One batch: as many side by side as there are workers (the one after waits for a free one).
    side_by_side = [spans[name] for name in side_by_side_names]
    assert all(one.overlaps(other) for one in side_by_side for other in side_by_side), spans
    alone = [spans[name] for name in names if name != "timed"]
    assert not any(spans["timed"].overlaps(other) for other in alone), spans
    # The exclusive check runs after the others, once they have left the server quiet.
    assert spans["timed"].start >= max(spans[name].end for name in names if name != "timed")


def blocked(spans: dict[str, Span], name: str, seconds: float) -> Callable[[CheckContext], Outcome]:
    """A check that waits as the queue suite's do: in a blocking read that times out."""

    def run(context: CheckContext) -> Outcome:
        """a check that waits in a blocking read"""
        started = time.monotonic()
        context.client.blpop([f"nself-harness:{SUITE}:{name}"], timeout=seconds)
        spans[name] = Span(started, time.monotonic())
        return ok(f"{name} waited")

    return run


def test_an_exclusive_check_runs_during_the_waits_once_the_busy_checks_are_done(
    launch: Launcher, declare: Callable[..., None]
) -> None:
    """The waiting checks are asleep on the server (a blocked read costs neither it nor doctor any
    time): the exclusive one need not wait for them, only for the busy ones."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    spans: dict[str, Span] = {}
    declare("busy", recorded(spans, "busy", 0.2))
    declare("timed", recorded(spans, "timed", 0.2), exclusive=True)
    declare("waiting", blocked(spans, "waiting", 1.0), waits=True)
    report = doctor(target)
    names = ("busy", "timed", "waiting")
    assert [result.id for result in report.results] == [f"{SUITE}.{name}" for name in names]
    assert all(result.status is Status.OK for result in report.results), report.results
    assert spans["timed"].start >= spans["busy"].end, spans
    assert spans["timed"].overlaps(spans["waiting"]), spans
    assert spans["timed"].end < spans["waiting"].end, spans


def test_doctor_runs_each_latency_check_alone_and_waiting_ones_are_marked() -> None:
    ids = doctor_checks()
    latency = [check_id for check_id in ids if REGISTRY[check_id].suite == "latency"]
    assert len(latency) >= 9, latency
    waiting = {check_id for check_id in ids if REGISTRY[check_id].waits}
    together, busy, alone = phases(ids, REGISTRY.__getitem__)
    assert alone == latency
    # ... after the rest, which run side by side, the waiting ones first; each latency check
    # starts once every busy one is done.
    assert sorted(together) == sorted(check_id for check_id in ids if check_id not in latency)
    assert together[: len(waiting)] == [check_id for check_id in ids if check_id in waiting]
    assert busy == together[len(waiting) :]
    assert {"queue.streams", "queue.blocking_pop", "monitoring.expired_keys"} == waiting
    # The exporter it starts scrapes the server: it is busy, not asleep; it waits for the
    # exporter to start, so it is the first busy check taken.
    assert busy[0] == "monitoring.exporter"


def _hold(seconds: float) -> Callable[[CheckContext], Outcome]:
    """A check that goes on talking to the server past any deadline (up to ``seconds``), as a
    check that ignores its closed connection would."""

    def run(context: CheckContext) -> Outcome:
        """a check that does not stop by itself"""
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            with contextlib.suppress(Exception):
                context.client.ping()
            time.sleep(0.02)
        return ok("held")

    return run


def _assert_cut_off(report: DoctorReport, elapsed: float, deadline: float) -> None:
    results = {result.id: result for result in report.results}
    assert report.deadline_reached
    held = results[f"{SUITE}.held"]
    assert (held.status, held.message) == (
        Status.ERROR,
        "a check that does not stop by itself: stopped, deadline reached while it ran",
    )
    after = results[f"{SUITE}.after"]
    assert after.status is Status.ERROR
    assert after.message.endswith(f"not run, deadline reached (--deadline {deadline:g} s)")
    assert [result.id for result in report.results] == [f"{SUITE}.held", f"{SUITE}.after"]
    # The deadline, then at most the moment for the running check to clean up and the sweep.
    assert elapsed < deadline + 1.5, f"doctor took {elapsed:.1f} s with a deadline of {deadline} s"


@pytest.mark.parametrize("thread", ["main", "another"])
def test_the_deadline_cuts_off_a_check_that_would_run_on(
    launch: Launcher, declare: Callable[..., None], thread: str
) -> None:
    """In the main thread the alarm ends the wait; in another thread (no alarm there) the wait's
    own timeout does. Either way the run ends at the deadline, the running check reported
    stopped and the one after it not run."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    declare("held", _hold(8.0), exclusive=True)
    declare("after", recorded({}, "after", 0.0), exclusive=True)  # exclusive ones run in order
    found: list[tuple[DoctorReport, float]] = []

    def run() -> None:
        started = time.monotonic()
        report = doctor(target, deadline=2.0)
        found.append((report, time.monotonic() - started))

    if thread == "main":
        run()
    else:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(30)
    (report, elapsed), *_ = found
    _assert_cut_off(report, elapsed, 2.0)


def test_more_checks_than_workers_all_run(launch: Launcher, declare: Callable[..., None]) -> None:
    """A batch larger than the pool: every check runs once, the results in order."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    spans: dict[str, Span] = {}
    names = [f"n{number:02d}" for number in range(WORKERS * 3 + 1)]
    for name in names:
        declare(name, recorded(spans, name, 0.02))
    report = doctor(target)
    assert [result.id for result in report.results] == [f"{SUITE}.{name}" for name in names]
    assert sorted(spans) == names
    assert all(result.status is Status.OK for result in report.results)


def test_loading_the_checks_does_not_count_against_the_deadline() -> None:
    """Doctor imports the suites it runs once the server has answered (on a loaded machine that
    can take a second): that is doctor's time, not the server's, as when the checks loaded with
    the CLI, so the checks still get the deadline's time."""
    bound = Deadline(1.0)
    with bound.paused():
        time.sleep(0.4)
    assert bound.remaining() > 0.6  # 0.75 (a quarter is kept for the sweep) less a moment
    time.sleep(0.1)
    assert bound.remaining() < 0.7  # and the clock runs again


@dataclass(frozen=True)
class Declared:
    exclusive: bool = False
    waits: bool = False
    slow: bool = False


def by_name(check_id: str) -> Declared:
    """A check declared as its name says: ``wait...`` waits, ``slow...`` is slow."""
    return Declared(waits=check_id.startswith("wait"), slow=check_id.startswith("slow"))


def test_waiting_checks_start_first_but_leave_a_worker_for_the_rest() -> None:
    """A server that stalls blocking reads (long timeouts of their own) must not hold every worker:
    the quick checks go on and report what the server does."""
    batch = ["quick1", *(f"wait{n}" for n in range(WORKERS + 1)), "quick2"]
    order = taken(batch, by_name)
    assert order[: WORKERS - 1] == [f"wait{n}" for n in range(WORKERS - 1)]
    later = [f"wait{n}" for n in range(WORKERS - 1, WORKERS + 1)]
    assert order[WORKERS - 1 :] == ["quick1", *later, "quick2"]
    assert taken(["a", "b"], by_name) == ["a", "b"]


def test_a_slow_busy_check_is_taken_after_the_waiting_ones_and_before_the_quick_ones() -> None:
    batch = ["quick1", "slow1", "wait0", "quick2", "slow2"]
    order = taken(batch, by_name)
    assert order == ["wait0", "slow1", "slow2", "quick1", "quick2"]


def test_a_slow_check_starts_beside_the_quick_ones_and_an_exclusive_one_still_waits_for_it(
    launch: Launcher, declare: Callable[..., None]
) -> None:
    """Declared last, the slow check is not left until the quick ones are done: its time overlaps
    theirs. It is busy all the same: the exclusive check starts after it."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    spans: dict[str, Span] = {}
    quick = [f"q{number}" for number in range(2 * WORKERS)]
    for name in quick:
        declare(name, recorded(spans, name, 0.05))
    declare("timed", recorded(spans, "timed", 0.05), exclusive=True)
    declare("slow", recorded(spans, "slow", 0.4), slow=True)
    report = doctor(target)
    assert all(result.status is Status.OK for result in report.results), report.results
    assert spans["slow"].start < min(spans[name].start for name in quick[WORKERS:]), spans
    assert spans["timed"].start >= spans["slow"].end, spans
