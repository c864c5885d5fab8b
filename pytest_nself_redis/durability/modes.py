"""The persistence modes and what each promises about acknowledged writes.

After a graceful stop (SIGTERM) Redis fsyncs the AOF and, when snapshots are on,
writes a final RDB before it exits: every acknowledged write survives, in every mode
but "none". After a crash (SIGKILL) the promise depends on the mode:

- AOF ``always``: the AOF is fsynced before a write is acknowledged, so none is lost.
- AOF ``everysec`` (and ``no``): Redis writes the AOF buffer to the kernel before it
  answers, except that with ``everysec`` it may postpone that write for up to 2 s
  while a background fsync is still running (``flushAppendOnlyFile`` in aof.c, and
  redis.conf: "you may lose up to 2 seconds of data"). A SIGKILL keeps the kernel's
  page cache, so the writes at risk are those acknowledged within the last 2 s before
  the kill: the bound checked is that no lost write was acknowledged earlier than
  ``EVERYSEC_WINDOW_S`` before the kill signal was sent. (On a power loss the kernel
  cache goes too, adding up to 1 s of fsync interval for everysec and ~30 s for "no";
  a process crash cannot show that.)
- RDB only: the last snapshot survives; writes after it may be lost, none before it.
  The check forces its own save point (BGSAVE, waited for) before more writes.
- none (``REDIS_PERSISTENCE=false``): nothing survives a restart of any kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_nself_redis.project.settings import RedisSettings

EVERYSEC_WINDOW_S = 2.0
GRACEFUL, CRASH, RECREATE = "graceful restart", "crash (SIGKILL)", "recreate container"


@dataclass(frozen=True)
class PersistenceMode:
    id: str
    title: str
    aof: bool
    fsync: str | None
    rdb: bool
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def persistent(self) -> bool:
        return self.aof or self.rdb

    @property
    def crash_rule(self) -> str:
        """How much a SIGKILL may lose: zero, window, save_point or everything."""
        if not self.persistent:
            return "everything"
        if self.aof:
            return "zero" if self.fsync == "always" else "window"
        return "save_point"

    def crash_promise(self) -> str:
        return {
            "zero": "no acknowledged write is lost (the AOF is fsynced before each reply)",
            "window": (
                f"only writes acknowledged in the last {EVERYSEC_WINDOW_S:.0f} s before the kill may be "
                f"lost (appendfsync {self.fsync}: Redis may hold the AOF buffer back for up to 2 s)"
            ),
            "save_point": "writes after the last snapshot may be lost, none acknowledged before it",
            "everything": "nothing survives (no AOF, no snapshots)",
        }[self.crash_rule]

    def restart_promise(self) -> str:
        if not self.persistent:
            return "nothing survives a restart (no AOF, no snapshots)"
        how = "fsyncs the AOF" if self.aof else "writes a final snapshot"
        return (
            f"every acknowledged write survives a graceful restart (on SIGTERM Redis {how} before it exits)"
        )


def _overrides(aof: bool, fsync: str, rdb: bool) -> dict[str, str]:
    return {
        "REDIS_PERSISTENCE": "true",
        "REDIS_AOF_ENABLED": "true" if aof else "false",
        "REDIS_AOF_FSYNC": fsync,
        "REDIS_RDB_ENABLED": "true" if rdb else "false",
    }


MATRIX = (
    PersistenceMode("rdb", "RDB only", False, None, True, _overrides(False, "everysec", True)),
    PersistenceMode(
        "aof-everysec", "AOF everysec", True, "everysec", False, _overrides(True, "everysec", False)
    ),
    PersistenceMode("aof-always", "AOF always", True, "always", False, _overrides(True, "always", False)),
    PersistenceMode("both", "AOF everysec + RDB", True, "everysec", True, _overrides(True, "everysec", True)),
    PersistenceMode("none", "none", False, None, False, {"REDIS_PERSISTENCE": "false"}),
)
BY_ID = {mode.id: mode for mode in MATRIX}


def promised_mode(settings: RedisSettings) -> PersistenceMode:
    """The mode an env's settings promise (no overrides: the env's own deployment)."""
    aof, rdb = settings.aof_on, settings.rdb_on
    fsync = settings.aof_fsync.value if aof else None
    if aof and rdb:
        title = f"AOF {fsync} + RDB"
    elif aof:
        title = f"AOF {fsync}"
    elif rdb:
        title = "RDB only"
    else:
        title = "none"
    return PersistenceMode("configured", title, aof, fsync, rdb)
