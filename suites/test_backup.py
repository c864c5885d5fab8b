"""backup: a backup of the env's server restores every key, and its persistence is healthy
enough that a backup taken now holds what the server holds.

The persistence readings (safe, also in doctor) run on every target. The snapshot and the
restore need a server this run launched: its files are copied out (while writes go on),
validated with Redis's own tools, restored into a fresh server and compared key by key; one
round serves both tests, and its figures go to the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_nself_redis.checks import CheckContext, CheckResult
from pytest_nself_redis.durability.backup import BackupRound
from pytest_nself_redis.plugin.fixtures import ReportAttachments
from pytest_nself_redis.plugin.verdicts import record_measured, run_check
from pytest_nself_redis.targets.base import Target

pytestmark = pytest.mark.backup

FIGURES = ("snapshot_bytes", "save_s", "rdb_restore_s", "aof_restore_s", "rdb_missing", "aof_missing")


def test_last_save_is_recent(nself_checks: CheckContext) -> None:
    run_check("backup.save_age", nself_checks)


def test_fsyncs_keep_up(nself_checks: CheckContext) -> None:
    run_check("backup.aof_fsync", nself_checks)


def test_forks_are_quick(nself_checks: CheckContext) -> None:
    run_check("backup.fork_time", nself_checks)


@pytest.fixture(scope="module")
def backup_round(
    request: pytest.FixtureRequest, nself_target: Target, nself_checks: CheckContext, nself_env_name: str
) -> Iterator[BackupRound | None]:
    """One backup round of the env's launched server (None on attach), taken when a test first
    asks; its figures become the env's "backup" table in the HTML report."""
    if not nself_target.launched:
        yield None
        return
    round_ = BackupRound(nself_target, nself_checks.key_prefix("backup"))
    yield round_
    result = round_.taken
    if result is not None:
        rows = [{"file": item.describe()} for item in result.validations]
        rows += [{"file": item.describe()} for item in result.restores]
        attachments = ReportAttachments(request, nself_env_name)
        attachments.table("backup: the snapshot and its restore", [result.figures()])
        attachments.table("backup: validation and key-by-key comparison", rows)


@pytest.fixture
def run_backup_check(
    nself_checks: CheckContext,
    backup_round: BackupRound | None,
    record_property: Callable[[str, object], None],
) -> Callable[[str], CheckResult]:
    report = record_measured(record_property, **{name: name for name in FIGURES})
    return lambda check_id: run_check(check_id, nself_checks, backup=backup_round, report=report)


def test_snapshot_under_writes_is_valid(run_backup_check: Callable[[str], CheckResult]) -> None:
    run_backup_check("backup.snapshot_valid")


def test_restore_brings_back_every_key(run_backup_check: Callable[[str], CheckResult]) -> None:
    run_backup_check("backup.restore")
