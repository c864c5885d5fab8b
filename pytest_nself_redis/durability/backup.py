"""A backup that is proven by restoring it: write a dataset, snapshot while writes go on,
validate the files with Redis's tools, start a fresh server on them (same image or binary,
same command; docker: a new volume seeded with the files; process: a new data dir) and
compare every key written before the snapshot.

Only a launched target can be restored from (the restored server is launched the same way).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from redis import exceptions as redis_errors

from pytest_nself_redis.durability.dataset import (
    TTL_TOLERANCE_MS,
    Comparison,
    compare,
    read_images,
    write_dataset,
)
from pytest_nself_redis.durability.fill import existing
from pytest_nself_redis.durability.recorder import AckLog, StreamWriter
from pytest_nself_redis.durability.snapshot import (
    BackupError,
    Snapshot,
    SnapshotFile,
    refuse_failed_save,
    take_snapshot,
)
from pytest_nself_redis.durability.validate import Validation, validate
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.live.keys import delete_prefix
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.select import make_target

PER_TYPE = 50
# Writes go on this long before the BGSAVE, and on through it and the copy.
WRITES_BEFORE_S = 0.2
STREAM_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Restore:
    """One restore: a fresh server started on one kind of file, compared with the source."""

    kind: str  # rdb or aof
    seconds: float
    comparison: Comparison
    acked_before: int  # writes acknowledged before the file was taken: each must be there
    lost: list[str]
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.comparison.ok and not self.lost

    def describe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.kind.upper()} restored in {self.seconds:.2f} s{note}: {self.comparison.describe()}; "
            f"{len(self.lost)} of the {self.acked_before} writes acknowledged before it was taken missing"
        )


@dataclass
class BackupResult:
    """What the backup and its restores showed, as the report states it."""

    target: str
    snapshot: Snapshot
    validations: list[Validation]
    restores: list[Restore] = field(default_factory=list)
    written_during: int = 0  # writes acknowledged while the snapshot was taken

    @property
    def valid(self) -> bool:
        return all(item.ok for item in self.validations)

    @property
    def ok(self) -> bool:
        return self.valid and bool(self.restores) and all(item.ok for item in self.restores)

    def figures(self) -> dict[str, Any]:
        """The numbers for reports (JUnit properties, the HTML table)."""
        figures: dict[str, Any] = {
            "target": self.target,
            "snapshot_bytes": self.snapshot.size,
            "files": ", ".join(f"{item.kind} {item.size} B" for item in self.snapshot.files),
            "save_s": round(self.snapshot.save_seconds, 3),
            "copy_s": round(self.snapshot.copy_seconds, 3),
            "valid": self.valid,
            "writes_during_snapshot": self.written_during,
        }
        for item in self.restores:
            figures[f"{item.kind}_restore_s"] = round(item.seconds, 3)
            figures[f"{item.kind}_keys_compared"] = item.comparison.compared
            figures[f"{item.kind}_missing"] = len(item.comparison.missing)
            figures[f"{item.kind}_changed"] = len(item.comparison.changed)
            figures[f"{item.kind}_ttl_drift_max_ms"] = item.comparison.ttl_drift_max_ms
            figures[f"{item.kind}_acked_writes_lost"] = len(item.lost)
        figures["ttl_tolerance_ms"] = TTL_TOLERANCE_MS
        return figures

    def describe(self) -> str:
        files = "; ".join(item.describe() for item in self.validations)
        snapshot = self.snapshot
        text = (
            f"snapshot of {snapshot.size} bytes ({self.target}): BGSAVE {snapshot.save_seconds:.2f} s, "
            f"copied in {snapshot.copy_seconds:.2f} s with {self.written_during} writes going on; {files}"
        )
        if snapshot.notes:
            text += "; " + "; ".join(snapshot.notes)
        if not self.restores:
            return text + "; not restored (the files are not valid)"
        return "; ".join([text, *(item.describe() for item in self.restores)])


def restore(source: Target, folder: Path, extra_args: tuple[str, ...] = ()) -> tuple[Target, float]:
    """A fresh server of the same kind, context and command (plus ``extra_args``), started on
    the files in ``folder``; returns it (the caller stops it) and the seconds to ready."""
    if not source.launched:
        raise BackupError(f"the {source.kind} target launches nothing, so it cannot restore a backup")
    options = replace(
        source.options,
        seed_dir=folder,
        host_port=None,
        network_mode=None,
        extra_args=(*source.options.extra_args, *extra_args),
    )
    restored = make_target(source.kind, source.context, options)
    began = time.monotonic()
    try:
        restored.start()
    except BaseException:
        restored.stop()
        raise
    return restored, time.monotonic() - began


def _restore_one(
    target: Target, item: SnapshotFile, snapshot: Snapshot, before: dict[str, Any], log: AckLog
) -> Restore:
    """Seed a fresh server with ``item`` alone and compare. With AOF on, Redis starts from the
    AOF and ignores a dump, so the dump is restored with appendonly off."""
    seed = item.path.parent.parent / f"restore-{item.kind}"
    seed.mkdir()
    if item.path.is_dir():
        shutil.copytree(item.path, seed / item.path.name)
    else:
        shutil.copy2(item.path, seed / item.path.name)
    aof_on = any(other.kind == "aof" for other in snapshot.files)
    extra: tuple[str, ...] = ("--appendonly", "no") if item.kind == "rdb" and aof_on else ()
    taken_at = snapshot.saved_at if item.kind == "rdb" else snapshot.aof_copied_at
    assert taken_at is not None
    note = "appendonly off, so Redis loads the dump" if extra else ""
    restored, seconds = restore(target, seed, extra)
    try:
        client = restored.client()
        comparison = compare(before, read_images(client, list(before)))
        must_hold = log.acknowledged_before(taken_at)
        found = existing(client, must_hold)
        lost = [key for key in must_hold if key not in found]
    finally:
        restored.stop()
    return Restore(item.kind, seconds, comparison, len(must_hold), lost, note)


def _snapshot_under_writes(target: Target, prefix: str, folder: Path, log: AckLog) -> Snapshot:
    """The snapshot, taken while one client writes new keys before, through and after it."""
    connection = target.endpoint.redis_kwargs(
        socket_timeout=STREAM_TIMEOUT_S, socket_connect_timeout=STREAM_TIMEOUT_S
    )
    writer = StreamWriter(connection, f"{prefix}during:", log)
    writer.start()
    try:
        # At least one write acknowledged first (a TLS handshake on a busy machine can outlast
        # the pause), so the snapshot always has writes it must hold.
        started = time.monotonic()
        time.sleep(WRITES_BEFORE_S)
        while not (log.acknowledged or log.stream_errors) and time.monotonic() - started < STREAM_TIMEOUT_S:
            time.sleep(0.01)
        return take_snapshot(target, folder)
    finally:
        writer.finish(timeout=STREAM_TIMEOUT_S + 2)


def backup_and_restore(
    target: Target, prefix: str, per_type: int = PER_TYPE, workdir: Path | None = None
) -> BackupResult:
    """The whole round: dataset, snapshot under writes, validation, restore, comparison.
    Every key under ``prefix`` is deleted from ``target`` afterwards. A server whose last save
    failed is refused before anything is written; a step the server refuses (MISCONF, OOM, an
    ACL) ends the round as a ``BackupError`` quoting it."""
    client = target.client()
    refuse_failed_save(target, client.info("persistence"))
    folder = resources.make_run_dir(target.options.run_id, "backup", workdir or target.options.workdir)
    token = resources.register(f"backup copy in {folder}", lambda: shutil.rmtree(folder, ignore_errors=True))
    try:
        keys = write_dataset(client, f"{prefix}data:", per_type)
        before = read_images(client, keys)
        log = AckLog()
        snapshot = _snapshot_under_writes(target, prefix, folder / "snapshot", log)
        result = BackupResult(target.kind, snapshot, validate(snapshot, target.options.redis_server))
        result.written_during = len(log.acknowledged)
        if result.valid:
            for item in snapshot.files:
                result.restores.append(_restore_one(target, item, snapshot, before, log))
        return result
    except redis_errors.RedisError as error:
        raise BackupError(f"the server refused a step of the backup: {error}") from None
    finally:
        with contextlib.suppress(redis_errors.RedisError):
            delete_prefix(client, prefix)
        shutil.rmtree(folder, ignore_errors=True)
        resources.unregister(token)


class BackupRound:
    """One backup round of a server, taken when first asked for and then kept, so the checks
    that read it (the files' validity, the restore) share it; a refusal is kept too."""

    def __init__(self, target: Target, prefix: str) -> None:
        self.target = target
        self.prefix = prefix
        self._result: BackupResult | None = None
        self._refusal: HarnessError | None = None

    @property
    def taken(self) -> BackupResult | None:
        """The result, when the round has run (for reports: never starts it)."""
        return self._result

    def result(self) -> BackupResult:
        """The round's result; raises what stopped it (a refused snapshot, a restored server
        that would not start: a ``HarnessError``), every time asked."""
        if self._refusal is not None:
            raise self._refusal
        if self._result is None:
            try:
                self._result = backup_and_restore(self.target, self.prefix)
            except HarnessError as refusal:
                self._refusal = refusal
                raise
        return self._result
