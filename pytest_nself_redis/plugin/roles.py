"""Which pytest process this is under pytest-xdist (``pytest -n``), and how a worker that cannot
run stops the whole run with its one message.

A worker that meets bad input (a project that is not one, a port taken) ends its session as a
run without -n would, but xdist's controller would only see a worker gone with tests pending.
The worker leaves its message in ``config.workeroutput``; the controller ends the run with it,
as a usage error (status 4) or pytest.exit, exactly as without -n.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

# The key of a worker's stop message in ``config.workeroutput``.
STOP_KEY = "nself_redis_stop"
StopKind = Literal["usage", "exit"]


def worker_id(config: pytest.Config) -> str | None:
    """The pytest-xdist worker this process is (``gw0``), None in the controller or without -n."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if isinstance(workerinput, dict) else None


def is_controller(config: pytest.Config) -> bool:
    """True in the pytest-xdist controller (``-n`` with workers): it runs no test itself."""
    return config.pluginmanager.has_plugin("dsession")


def distributing(config: pytest.Config) -> bool:
    """True where pytest-xdist will start workers (known from the options, before it starts)."""
    return getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))


def leave_stop_message(config: pytest.Config, kind: StopKind, message: str) -> None:
    """In a worker, the message the controller ends the run with (elsewhere, nothing to do)."""
    if worker_id(config) is not None:
        config.workeroutput[STOP_KEY] = {"kind": kind, "message": message}  # type: ignore[attr-defined]


def stop_as_the_worker_did(workeroutput: dict[str, Any]) -> None:
    """End the controller's run with a worker's stop message, if it left one."""
    stop = workeroutput.get(STOP_KEY)
    if not isinstance(stop, dict):
        return
    message = str(stop.get("message", "nself-redis: a pytest-xdist worker could not run"))
    if stop.get("kind") == "usage":
        raise pytest.UsageError(message)
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)
