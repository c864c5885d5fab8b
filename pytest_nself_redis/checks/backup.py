"""backup: a backup of the env's server restores, and its persistence is healthy enough that
a backup taken now holds what the server holds.

Safe (doctor runs them): readings of INFO against the env's save schedule (the age of the
last successful save, delayed AOF fsyncs, fork time), from ``durability.persistence_health``.
Unsafe (a launched server only): a snapshot taken while writes go on, validated with
``redis-check-rdb`` / ``redis-check-aof``, restored into a fresh server and compared key by
key (``durability.backup``); one round, shared by both checks, comes in as ``backup``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.registry import check, check_of
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, verdict, warning
from pytest_nself_redis.durability.persistence_health import ERROR, OK, SKIPPED, Finding, persistence_findings
from pytest_nself_redis.errors import HarnessError
from pytest_nself_redis.live.reads import info
from pytest_nself_redis.project.settings import RedisSettings, Setting

if TYPE_CHECKING:  # the round is the suites' (doctor runs no backup round): not loaded for doctor
    from pytest_nself_redis.durability.backup import BackupResult, BackupRound

INFO_SECTIONS = ("server", "persistence", "memory", "stats")


def _reading(context: CheckContext, name: str) -> Finding | None:
    """One persistence reading of the live server (None: not read here, e.g. AOF is off)."""
    fields: dict[str, Any] = {}
    for section in INFO_SECTIONS:
        fields.update(info(context.client, section))
    return next((item for item in persistence_findings(fields, context.settings) if item.name == name), None)


def _outcome(finding: Finding) -> Outcome:
    if finding.level == SKIPPED:
        return skipped(finding.message, finding.source)
    make = {OK: ok, ERROR: error}.get(finding.level, warning)
    return make(finding.message, finding.source, finding.measured)


@check("backup.save_age", safe=True)
def last_save_is_recent(context: CheckContext) -> Outcome:
    """the last successful save is as recent as the schedule (and a day) allow"""
    finding = _reading(context, "rdb_last_save_time")
    assert finding is not None  # always read
    return _outcome(finding)


@check("backup.aof_fsync", safe=True)
def fsyncs_keep_up(context: CheckContext) -> Outcome:
    """the disk keeps up with the append-only file's fsyncs"""
    finding = _reading(context, "aof_delayed_fsync")
    if finding is None:
        setting = context.settings.aof_enabled
        return skipped(
            f"AOF is off on the live server, so no fsync can lag ({setting.cite()}; the config "
            "suite checks whether it should be on)",
            str(setting.source),
        )
    return _outcome(finding)


@check("backup.fork_time", safe=True)
def forks_are_quick(context: CheckContext) -> Outcome:
    """a fork for a save or a rewrite stalls clients only briefly"""
    finding = _reading(context, "latest_fork_usec")
    assert finding is not None  # always read
    return _outcome(finding)


def _files_promised(settings: RedisSettings) -> tuple[str, str]:
    """(what the backup holds, the settings that say so) for messages."""
    cited: list[Setting[Any]] = [settings.persistence]
    if settings.persistence.value:
        cited += [settings.rdb_enabled, settings.aof_enabled]
    files = "the dump (BGSAVE)" + (" and the AOF folder" if settings.aof_on else "")
    return files, ", ".join(setting.cite() for setting in cited)


def _round(context: CheckContext, *, backup: BackupRound | None = None) -> BackupResult | Outcome:
    """The shared round's result, or why there is none (an outcome to return as is)."""
    files, cited = _files_promised(context.settings)
    if backup is None or not context.launched:
        return skipped(
            "a backup is proven by copying the server's files and restoring them into a server this "
            "run launches; an attached server's files are out of reach (run it on the docker or "
            "process target)"
        )
    try:
        return backup.result()
    except HarnessError as problem:
        return error(
            f"Promise: {files} of the live data can be taken and restored ({cited}). Seen: {problem}",
            str(context.settings.persistence.source),
        )


@check_of("backup.snapshot_valid", _round)
def snapshot_is_valid(context: CheckContext, result: BackupResult) -> Outcome:
    """a snapshot taken while writes go on passes Redis's own validation"""
    files, cited = _files_promised(context.settings)
    seen = "; ".join(item.describe() for item in result.validations)
    broken = [item for item in result.validations if not item.ok]
    message = (
        f"Promise: {files}, taken while {result.written_during} writes went on, pass "
        f"redis-check-rdb / redis-check-aof ({cited}). Seen: {seen}"
        + (f". Broken: {len(broken)} file(s) the server could not load as they are" if broken else ". Kept.")
    )
    return verdict(not broken, message, str(context.settings.persistence.source), result.figures())


@check_of("backup.restore", _round)
def restore_brings_back_every_key(context: CheckContext, result: BackupResult) -> Outcome:
    """a restored snapshot holds every key written before it, unchanged"""
    files, cited = _files_promised(context.settings)
    head = (
        f"Promise: a fresh server started on {files} holds every key written before the snapshot, with "
        f"its type, value and expiry ({cited})."
    )
    source = str(context.settings.persistence.source)
    if not result.valid:
        return error(
            f"{head} Seen: not restored, the files are not valid (backup.snapshot_valid says how)", source
        )
    broken = [item.describe() for item in result.restores if not item.ok]
    seen = "; ".join(item.describe() for item in result.restores)
    tail = f" Broken: {'; '.join(broken)}" if broken else " Kept."
    return verdict(not broken, f"{head} Seen: {seen}.{tail}", source, result.figures())
