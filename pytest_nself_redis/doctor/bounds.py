"""What ends a doctor run early: one whole-run deadline, and SIGTERM/SIGINT.

A production health probe must end in bounded time whatever the server does (answers
PING, then stalls), and must not leave its scratch keys behind when it is stopped. The
deadline arms SIGALRM, which interrupts a blocked socket read in the main thread; outside
the main thread (doctor used as a library) each network step is still bounded by its
socket timeout, which never exceeds what is left of the deadline.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

DEFAULT_DEADLINE = 10.0
# Kept back from the checks for deleting the run's keys on a fresh connection when the run
# ends early (at most a quarter of the deadline), so the whole run fits in the deadline.
SWEEP_SECONDS = 1.0


class DeadlineReached(BaseException):
    """The deadline passed while doctor was busy. A BaseException, so a check's broad
    ``except Exception`` cannot swallow it and run on past the deadline."""


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived; the run deletes its keys, then the CLI exits 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class Deadline:
    """The end of the run, shared by every check: ``remaining`` bounds each check's socket
    timeout; once ``expired`` no further check starts."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.final = time.monotonic() + seconds
        self.ends = self.final - min(SWEEP_SECONDS, seconds / 4)
        self.reached = False

    def remaining(self) -> float:
        """What is left for checks."""
        return max(0.0, self.ends - time.monotonic())

    def sweep_seconds(self) -> float:
        """What is left for the sweep after the checks (at least a moment)."""
        return max(0.05, min(SWEEP_SECONDS, self.final - time.monotonic()))

    def expired(self) -> bool:
        if self.remaining() <= 0:
            self.reached = True
        return self.reached

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count: doctor loading its own code (the checks of the suites
        it runs, once the server has answered) is not the server making it wait."""
        started = time.monotonic()
        try:
            yield
        finally:
            shift = time.monotonic() - started
            self.final += shift
            self.ends += shift

    def step_timeout(self, timeout: float) -> float:
        """A socket timeout for the next step: ``timeout``, or what is left if that is less."""
        return max(0.05, min(timeout, self.remaining()))

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Raise ``DeadlineReached`` in the main thread when the deadline passes."""
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            yield
            return

        def fire(signum: int, frame: FrameType | None) -> None:
            self.reached = True
            raise DeadlineReached

        previous = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, max(self.remaining(), 0.001))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While inside, SIGTERM and SIGINT raise ``Interrupted`` (once: a second signal during
    the bounded cleanup is ignored). Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if caught:
            return
        caught.append(signum)
        if hasattr(signal, "setitimer"):
            # No deadline alarm may replace this while the run unwinds and deletes its keys.
            signal.setitimer(signal.ITIMER_REAL, 0)
        raise Interrupted(signum)

    names = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, handle) for signum in names}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
