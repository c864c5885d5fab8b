"""`nself-redis doctor`: the non-destructive checks against the running Redis of a project."""

from pytest_nself_redis.doctor.runner import DOCTOR_SUITES, DoctorReport, run_doctor

__all__ = ["DOCTOR_SUITES", "DoctorReport", "run_doctor"]
