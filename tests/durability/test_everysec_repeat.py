"""The everysec crash bound, repeated: five SIGKILLs of a server writing as fast as one client
can, each counted against the bound (no acknowledged write lost that was acknowledged more
than 2 s before the kill). Prints how often it held and the largest loss window seen."""

from __future__ import annotations

from collections.abc import Callable

from pytest_nself_redis.checks import Status
from pytest_nself_redis.checks import persistence as checks
from pytest_nself_redis.durability.modes import BY_ID, CRASH
from tests.durability.conftest import Server

REPEATS = 5
EVERYSEC = BY_ID["aof-everysec"]


def test_everysec_crash_bound_holds_every_time(
    server: Server, target_kind: str, record_property: Callable[[str, object], None]
) -> None:
    runs = []
    for _ in range(REPEATS):
        target, context = server(kind=target_kind, **EVERYSEC.overrides)
        result = checks.writes_survive(context, target, EVERYSEC, CRASH)
        assert isinstance(result.measured, dict), result.message
        runs.append((result.status, result.measured, result.message))
        target.stop()  # one server at a time; the fixture's own stop later is a no-op
    held = sum(1 for status, _, _ in runs if status is Status.OK)
    windows = [measured["loss_window_ms"] for _, measured, _ in runs]
    summary = (
        f"everysec crash bound on {target_kind}: held {held} of {REPEATS}; largest loss window "
        f"{max(windows):.1f} ms; lost per run {[measured['lost'] for _, measured, _ in runs]}; "
        f"acknowledged per run {[measured['acknowledged'] for _, measured, _ in runs]}"
    )
    print(summary)
    record_property("held", held)
    record_property("largest_loss_window_ms", max(windows))
    failures = [message for status, _, message in runs if status is not Status.OK]
    assert held == REPEATS, f"{summary}\n" + "\n".join(failures)
