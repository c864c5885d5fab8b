"""One JSON document per run, described by ``doctor/schema.json`` (version 2)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pytest_nself_redis.doctor.formats.base import Rendered, Surroundings, Unavailable, exit_status, on_stderr

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport


def document(report: DoctorReport) -> str:
    """The report as JSON, every string scrubbed before it is escaped."""
    return json.dumps(report.redactor.scrub_data(report.to_json()), indent=2) + "\n"


def render(report: DoctorReport, where: Surroundings) -> Rendered:
    return Rendered(stdout=document(report), status=exit_status(report))


def render_unavailable(problem: Unavailable, where: Surroundings) -> Rendered:
    return on_stderr(problem)
