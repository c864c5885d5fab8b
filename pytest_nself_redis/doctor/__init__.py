"""`nself-redis doctor`: the non-destructive checks against the running Redis of a project.

The runner (and with it the checks) loads when first named, so the CLI can declare
doctor's options from ``doctor.choices`` and ``doctor.bounds`` alone.
"""

from typing import TYPE_CHECKING

from pytest_nself_redis.doctor.choices import DOCTOR_SUITES
from pytest_nself_redis.lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_nself_redis.doctor.runner import DoctorReport, run_doctor

__all__ = ["DOCTOR_SUITES", "DoctorReport", "run_doctor"]

__getattr__, __dir__ = lazy_exports(__name__, {"DoctorReport": "runner", "run_doctor": "runner"})
