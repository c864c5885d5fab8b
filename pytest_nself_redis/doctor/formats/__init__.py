"""Doctor's output formats, one module each, all fed the same ``DoctorReport``.

``human`` (nself doctor's style), ``json`` (``doctor/schema.json``), ``nagios`` (a Monitoring
Plugins line), ``github`` (Actions annotations and a step summary), ``prometheus`` (the
textfile collector) and ``health-json`` (``application/health+json``). Each renders a report,
or an ``Unavailable`` when doctor could not look, to a ``Rendered``; each scrubs with the
run's Redactor before it serialises.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

from pytest_nself_redis.doctor.formats.base import Rendered, Surroundings, Unavailable

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport

__all__ = ["Rendered", "Surroundings", "Unavailable", "render", "render_unavailable"]


class Format(Protocol):
    def render(self, report: DoctorReport, where: Surroundings) -> Rendered: ...

    def render_unavailable(self, problem: Unavailable, where: Surroundings) -> Rendered: ...


# Each format's module by the name --format takes (doctor.choices.FORMATS), imported when used:
# a run renders one.
MODULES: dict[str, str] = {
    "human": "human",
    "json": "jsondoc",
    "nagios": "nagios",
    "github": "github",
    "prometheus": "prometheus",
    "health-json": "healthjson",
}


def format_named(name: str) -> Format:
    return cast("Format", importlib.import_module(f"{__name__}.{MODULES[name]}"))


def render(name: str, report: DoctorReport, where: Surroundings | None = None) -> Rendered:
    return format_named(name).render(report, where or Surroundings())


def render_unavailable(name: str, problem: Unavailable, where: Surroundings | None = None) -> Rendered:
    return format_named(name).render_unavailable(problem, where or Surroundings())
