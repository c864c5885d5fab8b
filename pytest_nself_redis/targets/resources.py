"""Removal of everything a run launched, also on failure, Ctrl-C and SIGTERM.

Each launched thing registers a cleanup callable; normal teardown unregisters it
after running it. Whatever is still registered when the interpreter exits (or a
termination signal arrives) is removed then.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cleanups: dict[int, tuple[str, Callable[[], None]]] = {}
_ids = itertools.count(1)
_handlers_installed = False
# Written into each run dir: `nself-redis cleanup` removes dirs whose owner is gone.
OWNER_FILE = "harness.pid"
TEMP_PREFIX = "nself-redis-"


def make_run_dir(run_id: str, purpose: str, parent: Path | None = None) -> Path:
    """A temp dir for one launched thing, stamped with our pid."""
    path = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{run_id}-{purpose}-", dir=parent))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    return path


def register(description: str, cleanup: Callable[[], None]) -> int:
    with _lock:
        token = next(_ids)
        _cleanups[token] = (description, cleanup)
        return token


def unregister(token: int) -> None:
    with _lock:
        _cleanups.pop(token, None)


def pending() -> list[str]:
    with _lock:
        return [description for description, _ in _cleanups.values()]


def cleanup_all() -> None:
    """Run every registered cleanup, newest first; one failing does not stop the rest."""
    while True:
        with _lock:
            if not _cleanups:
                return
            token = max(_cleanups)
            description, cleanup = _cleanups.pop(token)
        try:
            cleanup()
        except Exception as error:
            log.warning("could not remove %s: %s", description, error)


def _on_termination(signum: int, frame: FrameType | None) -> None:
    # Unwind like Ctrl-C so fixtures and finalizers run; atexit covers the rest.
    raise KeyboardInterrupt(f"terminated by signal {signal.Signals(signum).name}")


def install_handlers() -> None:
    """atexit cleanup, and SIGTERM/SIGHUP treated as Ctrl-C (main thread only)."""
    global _handlers_installed  # noqa: PLW0603 - process-wide, installed once
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(signum) in (signal.SIG_DFL, None):
                    signal.signal(signum, _on_termination)
