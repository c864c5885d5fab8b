"""Backups proven by restoring them, on real servers of both launch targets: green on the
complete example, and each way a backup goes wrong caught with its cause.

- snapshot under writes + validation + restore + comparison: every key back, figures stated;
- a truncated file: caught by redis-check-rdb / redis-check-aof, in the tool's own words;
- a server whose last save failed: refused, naming the status and what its log says;
- the comparison itself: a missing, changed, retyped or re-expired key is each caught.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

from pytest_nself_redis.durability.backup import backup_and_restore
from pytest_nself_redis.durability.dataset import TTL_TOLERANCE_MS, compare, read_images, write_dataset
from pytest_nself_redis.durability.persistence_health import persistence_findings
from pytest_nself_redis.durability.snapshot import BackupError, take_snapshot
from pytest_nself_redis.durability.validate import validate
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE, assert_nothing_left


def test_a_snapshot_taken_during_an_aof_rewrite_waits_for_its_own_save(
    launch: Launcher, tmp_path: Path
) -> None:
    """BGSAVE SCHEDULE answers "scheduled" while a rewrite runs, with no save in progress yet:
    the copy then looked for a dump that was not there (seen under -n 2, three envs)."""
    target = launch(COMPLETE, "prod", "process")
    client = target.client()
    with client.pipeline(transaction=False) as pipe:
        for number in range(300):
            pipe.set(f"nself-harness:rewrite:{number}", number)
        pipe.execute()
    client.config_set("rdb-key-save-delay", "2000")  # µs per key: a rewrite of some 0.6 s
    client.bgrewriteaof()
    assert int(client.info("persistence")["aof_rewrite_in_progress"]) == 1
    snapshot = take_snapshot(target, tmp_path / "snapshot")
    assert [item.kind for item in snapshot.files] == ["rdb", "aof"]
    assert snapshot.files[0].path.stat().st_size > 0


@pytest.mark.parametrize(
    ("overrides", "kinds"),
    [({}, ["rdb", "aof"]), ({"REDIS_AOF_ENABLED": "false"}, ["rdb"])],
    ids=["aof-and-rdb", "rdb-only"],
)
def test_a_backup_taken_under_writes_restores_every_key(
    launch: Launcher, target_kind: str, run_id: str, overrides: dict[str, str], kinds: list[str]
) -> None:
    target = launch(COMPLETE, "prod", target_kind, (), **overrides)
    result = backup_and_restore(target, f"nself-harness:{run_id}:backup:")
    print(f"\n[{target_kind}] {result.describe()}\n{result.figures()}")
    assert result.ok, result.describe()
    assert [item.kind for item in result.restores] == kinds
    assert result.written_during > 0, "no write went on during the snapshot"
    for restored in result.restores:
        assert restored.comparison.compared == 300
        assert restored.comparison.ttl_drift_max_ms <= TTL_TOLERANCE_MS
        assert restored.acked_before > 0
    figures = result.figures()
    assert figures["snapshot_bytes"] > 0
    assert figures["rdb_missing"] == 0
    # The source keeps nothing of the round, and the restored servers are gone.
    assert target.client().dbsize() == 0
    target.stop()
    assert_nothing_left(run_id, docker=target_kind == "docker")


def _truncate(path: Path, keep: float) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(int(size * keep))


def test_a_truncated_snapshot_is_caught_in_the_tools_words(
    launch: Launcher, target_kind: str, tmp_path: Path
) -> None:
    target = launch(COMPLETE, "prod", target_kind)
    write_dataset(target.client(), "nself-harness:trunc:", per_type=40)
    snapshot = take_snapshot(target, tmp_path / "snapshot")
    assert all(item.ok for item in validate(snapshot)), "the untouched copy should be valid"
    rdb = next(item for item in snapshot.files if item.kind == "rdb")
    aof = next(item for item in snapshot.files if item.kind == "aof")
    _truncate(rdb.path, 0.6)
    incr = sorted(aof.path.glob("*.incr.aof"))[-1]
    _truncate(incr, 0.5)
    checked = {item.tool: item for item in validate(snapshot)}
    rdb_check, aof_check = checked["redis-check-rdb"], checked["redis-check-aof"]
    assert not rdb_check.ok
    # The tool's own words: where it broke (the reason depends on what the cut went through).
    assert "--- RDB ERROR DETECTED ---" in rdb_check.words, rdb_check.describe()
    assert any(word.startswith("[offset ") for word in rdb_check.words), rdb_check.describe()
    assert not aof_check.ok
    assert "is not valid" in aof_check.describe(), aof_check.describe()


def _make_saves_fail(target: Target) -> None:
    """A folder where the dump goes: the save is written, then cannot be renamed into place."""
    if target.kind == "process":
        (target.data_dir / "dump.rdb").mkdir()  # type: ignore[attr-defined]
        (target.data_dir / "dump.rdb" / "in-the-way").touch()  # type: ignore[attr-defined]
        return
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        folder = tarfile.TarInfo("dump.rdb")
        folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o755, 999, 999
        tar.addfile(folder)
        tar.addfile(tarfile.TarInfo("dump.rdb/in-the-way"), io.BytesIO(b""))
    target.container.put_archive("/data", archive.getvalue())  # type: ignore[attr-defined]


def test_a_server_whose_last_save_failed_is_refused_with_the_cause(
    launch: Launcher, target_kind: str, tmp_path: Path
) -> None:
    target = launch(COMPLETE, "prod", target_kind)
    client = target.client()
    client.set("nself-harness:failed-save", "x")
    _make_saves_fail(target)
    client.bgsave()
    for _ in range(500):
        info = client.info("persistence")
        if not int(info["rdb_bgsave_in_progress"]):
            break
        time.sleep(0.02)
    assert info["rdb_last_bgsave_status"] == "err"
    with pytest.raises(BackupError) as refused:
        take_snapshot(target, tmp_path / "snapshot")
    message = str(refused.value)
    assert "its last save failed (rdb_last_bgsave_status=err)" in message, message
    assert "Error moving temp DB file" in message, message
    assert "Is a directory" in message, message
    assert not (tmp_path / "snapshot").exists(), "nothing is copied from a refused server"
    findings = {item.name: item for item in persistence_findings(client.info("everything"), target.settings)}
    assert findings["rdb_last_bgsave_status"].level == "error"
    assert "MISCONF" in findings["rdb_last_bgsave_status"].message


def test_the_comparison_catches_every_kind_of_difference(launch: Launcher) -> None:
    target = launch(COMPLETE, "prod", "process")
    client = target.client()
    keys = write_dataset(client, "nself-harness:cmp:", per_type=4)
    before = read_images(client, keys)
    assert compare(before, read_images(client, keys)).ok, "a server compared with itself differs"
    prefix = "nself-harness:cmp:"
    client.delete(f"{prefix}string:0")  # missing
    client.set(f"{prefix}string:2", "another value")  # changed value
    client.delete(f"{prefix}list:0")
    client.sadd(f"{prefix}list:0", "now a set")  # changed type
    client.zadd(f"{prefix}zset:0", {"member-0-0": 99})  # changed score
    client.persist(f"{prefix}hash:1")  # lost its expiry
    client.pexpire(f"{prefix}set:1", 10 * TTL_TOLERANCE_MS)  # expiry moved
    result = compare(before, read_images(client, keys))
    assert result.missing == [f"{prefix}string:0"]
    assert sorted(result.changed) == sorted([f"{prefix}string:2", f"{prefix}list:0", f"{prefix}zset:0"])
    assert sorted(result.ttl_broken) == sorted([f"{prefix}hash:1", f"{prefix}set:1"])
    assert result.ttl_drift_max_ms > TTL_TOLERANCE_MS
    assert not result.ok
    assert "1 missing; 3 changed (type or value)" in result.describe()
