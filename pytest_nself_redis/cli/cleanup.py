"""``nself-redis cleanup``: remove what a killed run could not (containers, volumes, temp dirs)."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import tempfile
from pathlib import Path

from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.targets.resources import OWNER_FILE, TEMP_PREFIX


def _alive(pid_text: str) -> bool:
    try:
        os.kill(int(pid_text), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def stale_temp_dirs() -> tuple[list[Path], list[str]]:
    """Run dirs whose harness process is gone (the server died with it: PDEATHSIG), and why
    others were left alone: the temp dir is shared, and another user's run dirs are not ours
    to judge or remove (nor, at 0700, readable)."""
    stale, skipped = [], []
    uid = os.getuid()
    for path in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            status = path.lstat()
            if not stat.S_ISDIR(status.st_mode):
                continue
            if status.st_uid != uid:
                skipped.append(f"skipped {path}: owned by uid {status.st_uid}, not by this user (uid {uid})")
                continue
            owner = path / OWNER_FILE
            if not owner.exists() or not _alive(owner.read_text().strip()):
                stale.append(path)
        except OSError as problem:
            skipped.append(f"skipped {path}: cannot read it ({problem.strerror or problem})")
    return stale, skipped


def run_cleanup(options: argparse.Namespace, extra: list[str]) -> int:
    removed: list[str] = []
    try:
        from pytest_nself_redis.targets.docker_engine import remove_leftovers

        removed += remove_leftovers()
    except TargetError as error:
        print(f"docker: skipped ({error})")
    stale, skipped = stale_temp_dirs()
    for line in skipped:
        print(line)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(f"temp dir {path}")
    for line in removed or ["nothing to remove"]:
        print(line)
    return 0
