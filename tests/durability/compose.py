"""Compose files for the broken deployments: the staging promises of the complete example,
kept by ``GOOD`` and broken one directive at a time by the tests."""

from __future__ import annotations

COMPOSE = """services:
  redis:
    image: redis:7-alpine
    user: "999:999"
    command: {command}
    volumes:
      - redis_data:/data
    ports:
      - "127.0.0.1:${{REDIS_PORT}}:6379"
volumes:
  redis_data:
"""
COMMAND_LINE = 5  # the line of ``command:`` above, as messages cite it
GOOD = (
    "redis-server --appendonly yes --appendfsync everysec --save '900 1' --maxmemory 128mb "
    "--maxmemory-policy allkeys-lru --maxclients 2000 --timeout 300 --tcp-keepalive 60 "
    "--loglevel notice --requirepass ${REDIS_PASSWORD}"
)


def compose(old: str = "", new: str = "") -> str:
    """The good service with ``old`` replaced by ``new`` in its command."""
    command = GOOD.replace(old, new) if old else GOOD
    assert not old or command != GOOD, f"{old!r} is not in the good command"
    return COMPOSE.format(command=command)
