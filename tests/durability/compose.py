"""Compose files for the broken deployments: the staging promises of the complete example
(with the allkeys-lru policy these tests promise, see test_eviction_catches.PROMISE), kept by
``GOOD`` and broken one directive at a time by the tests."""

from __future__ import annotations

from tests.harness import STAGING_COMMAND, compose_file

GOOD = STAGING_COMMAND.replace("--maxmemory-policy noeviction", "--maxmemory-policy allkeys-lru")


def compose(old: str = "", new: str = "") -> str:
    """The good service with ``old`` replaced by ``new`` in its command."""
    command = GOOD.replace(old, new) if old else GOOD
    assert not old or command != GOOD, f"{old!r} is not in the good command"
    return compose_file(command)
