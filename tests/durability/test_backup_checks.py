"""Every backup check fails on a server whose backups would not hold, naming the cause, and
passes on the complete example: checks run in this process as the suites and doctor run
them (``REGISTRY.run``, the shared round as the ``backup`` input)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.durability.backup import BackupResult, BackupRound
from pytest_nself_redis.durability.snapshot import take_snapshot
from pytest_nself_redis.durability.validate import validate
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.durability.test_backup import _make_saves_fail, _truncate
from tests.harness import COMPLETE

READINGS = ("backup.save_age", "backup.aof_fsync", "backup.fork_time")
ROUND = ("backup.snapshot_valid", "backup.restore")


def _run(target: Target, check_id: str, backup: BackupRound | None = None) -> CheckResult:
    """As the suite runs it: the round goes to the checks that take one."""
    inputs = {"backup": backup} if REGISTRY[check_id].takes("backup") else {}
    return REGISTRY.run(check_id, CheckContext.of(target, run_id="backup-checks"), **inputs)


def test_the_complete_example_keeps_every_backup_promise(launch: Launcher, target_kind: str) -> None:
    target = launch(COMPLETE, "prod", target_kind)
    shared = BackupRound(target, "nself-harness:backup-checks:")
    results = [_run(target, check_id, shared) for check_id in READINGS + ROUND]
    for result in results:
        print(f"\n[{target_kind}] {result.id}: {result.status.value}: {result.message}")
    assert [result.status for result in results] == [Status.OK] * len(results), [r.message for r in results]
    restore = results[-1]
    assert restore.measured["rdb_keys_compared"] == restore.measured["aof_keys_compared"] == 300
    assert "REDIS_AOF_ENABLED=true (.env.dev:" in restore.message


class CorruptedRound(BackupRound):
    """A round whose dump got truncated after the copy (a backup damaged in storage)."""

    def __init__(self, target: Target, folder: Path) -> None:
        super().__init__(target, "nself-harness:corrupted:")
        self.folder = folder
        self.damaged: BackupResult | None = None

    def result(self) -> BackupResult:
        if self.damaged is None:
            snapshot = take_snapshot(self.target, self.folder)
            _truncate(next(item.path for item in snapshot.files if item.kind == "rdb"), 0.5)
            self.damaged = BackupResult(self.target.kind, snapshot, validate(snapshot))
        return self.damaged


def test_a_corrupted_snapshot_fails_both_checks_in_the_tools_words(
    launch: Launcher, target_kind: str, tmp_path: Path
) -> None:
    target = launch(COMPLETE, "prod", target_kind)
    target.client().mset({f"nself-harness:corrupt:{n}": "x" * 200 for n in range(500)})
    corrupted = CorruptedRound(target, tmp_path / "snapshot")
    valid = _run(target, "backup.snapshot_valid", corrupted)
    assert valid.status is Status.ERROR, valid.message
    assert "redis-check-rdb dump.rdb: NOT valid: --- RDB ERROR DETECTED ---" in valid.message
    assert "redis-check-aof appendonly.aof.manifest: valid" in valid.message
    assert "Broken: 1 file(s) the server could not load as they are" in valid.message
    restored = _run(target, "backup.restore", corrupted)
    assert restored.status is Status.ERROR
    assert "not restored, the files are not valid" in restored.message


def test_a_server_whose_saves_fail_fails_both_checks_with_the_cause(
    launch: Launcher, target_kind: str
) -> None:
    target = launch(COMPLETE, "prod", target_kind)
    client = target.client()
    client.set("nself-harness:failing", "x")
    _make_saves_fail(target)
    client.bgsave()
    deadline = time.monotonic() + 10
    while int(client.info("persistence")["rdb_bgsave_in_progress"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    shared = BackupRound(target, "nself-harness:failing-round:")
    for check_id in ROUND:
        result = _run(target, check_id, shared)
        assert result.status is Status.ERROR, result.message
        assert "its last save failed (rdb_last_bgsave_status=err)" in result.message
        assert "Error moving temp DB file" in result.message
        assert "REDIS_PERSISTENCE=true (.env.dev:" in result.message
    assert client.dbsize() == 1, "refused before the round wrote anything"


def test_a_save_schedule_that_never_runs_is_caught(launch: Launcher) -> None:
    """The env promises a save every second with changes waiting; the server has no save
    point at all, so changes wait on and on."""
    target = launch(COMPLETE, "prod", "process", ("--save", ""), REDIS_RDB_FREQUENCY="1")
    target.client().set("nself-harness:unsaved", "x")
    time.sleep(12)  # the schedule (1 s) plus the grace (10 s), passed
    result = _run(target, "backup.save_age")
    assert result.status is Status.WARNING, result.message
    assert "REDIS_RDB_FREQUENCY=1 (variant override)" in result.message
    assert "changes since: the schedule is behind" in result.message


def test_an_attached_server_is_never_backed_up(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod", "process")
    attached = replace(CheckContext.of(target, run_id="attached"), launched=False)
    for check_id in ROUND:
        result = REGISTRY.run(check_id, attached, backup=BackupRound(target, "nself-harness:never:"))
        assert result.status is Status.SKIPPED
        assert "an attached server's files are out of reach" in result.message
    assert target.client().dbsize() == 0, "a skipped backup wrote nothing"
