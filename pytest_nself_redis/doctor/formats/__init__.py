"""Doctor's output formats, one module each, all fed the same ``DoctorReport``.

``human`` (nself doctor's style), ``json`` (``doctor/schema.json``), ``nagios`` (a Monitoring
Plugins line), ``github`` (Actions annotations and a step summary), ``prometheus`` (the
textfile collector) and ``health-json`` (``application/health+json``). Each renders a report,
or an ``Unavailable`` when doctor could not look, to a ``Rendered``; each scrubs with the
run's Redactor before it serialises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pytest_nself_redis.doctor.formats import github, healthjson, human, jsondoc, nagios, prometheus
from pytest_nself_redis.doctor.formats.base import Rendered, Surroundings, Unavailable

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

__all__ = ["Rendered", "Surroundings", "Unavailable", "render", "render_unavailable"]


class Format(Protocol):
    def render(self, report: DoctorReport, where: Surroundings) -> Rendered: ...

    def render_unavailable(self, problem: Unavailable, where: Surroundings) -> Rendered: ...


# By the name --format takes (doctor.choices.FORMATS).
MODULES: dict[str, Format] = {
    "human": human,
    "json": jsondoc,
    "nagios": nagios,
    "github": github,
    "prometheus": prometheus,
    "health-json": healthjson,
}


def render(name: str, report: DoctorReport, where: Surroundings | None = None) -> Rendered:
    return MODULES[name].render(report, where or Surroundings())


def render_unavailable(name: str, problem: Unavailable, where: Surroundings | None = None) -> Rendered:
    return MODULES[name].render_unavailable(problem, where or Surroundings())
