"""headroom: Redis fits its container's memory limit, with room for a fork and client buffers.

The arithmetic runs on every target; the proof fills a small variant container until the
kernel kills it (docker target), counts the acknowledged writes a restart lost, and shows
the same fill lived through with a maxmemory that leaves headroom. Its figures (limit, used
at the kill, writes acknowledged and lost) go to the HTML report, the JUnit properties and
the closing note.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult, VariantFactory
from pytest_nself_redis.durability.oom import mib
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import record_measured, run_check

pytestmark = pytest.mark.headroom


def test_memory_fits_the_container(nself_checks: CheckContext) -> None:
    run_check("headroom.fits", nself_checks)


@pytest.mark.needs_restart
def test_container_survives_a_fill(
    nself_checks: CheckContext,
    nself_variant: VariantFactory,
    nself_report: ReportAttachments,
    record_property: Callable[[str, object], None],
) -> None:
    properties = record_measured(
        record_property, limit="limit", used_at_kill="used_at_kill", acknowledged="acknowledged", lost="lost"
    )

    def report(result: CheckResult) -> None:
        properties(result)
        measured = result.measured if isinstance(result.measured, dict) else {}
        rows = measured.get("rows") or []
        if rows:
            nself_report.table("headroom: a container filled to its memory limit", rows)
        if measured.get("killed"):
            nself_report.closing_line(
                f"headroom: OOMKilled at used_memory {mib(measured['used_at_kill'])} in a "
                f"{mib(measured['limit'])} container; {measured['acknowledged']} writes acknowledged, "
                f"{measured['lost']} lost after the restart"
            )
        elif rows:
            first = rows[0]
            nself_report.closing_line(
                f"headroom: a {first['limit']} container with maxmemory {first['maxmemory']}: "
                f"{first['outcome']}, BGSAVE {first['bgsave']}; {first['acknowledged']} writes acknowledged"
            )

    run_check("headroom.oom", nself_checks, launch=nself_variant, report=report)
