"""Fixtures for the self-tests of the pubsub, datastructures, monitoring and queue suites."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from pytest_nself_redis import node
from pytest_nself_redis.targets.base import Target
from tests.harness import REPO, run_cli

STRICT = ("1", "true", "yes")


def node_required() -> bool:
    """CI sets NSELF_REQUIRE_NODE=1: a missing Node then fails instead of skipping."""
    return os.environ.get("NSELF_REQUIRE_NODE", "").lower() in STRICT


@pytest.fixture(scope="session")
def node_env() -> dict[str, str]:
    """BullMQ's modules installed with the real ``nself-redis node-setup`` (npm ci; a no-op when the
    cache is current). Returns the environment a suite run needs to find them and to insist on them."""
    directory = node.modules_dir()
    if node.find_binary("node", node.NODE_ENV) is None or node.find_binary("npm", node.NPM_ENV) is None:
        reason = "the BullMQ self-tests need node and npm on PATH"
        if node_required():
            pytest.fail(f"NSELF_REQUIRE_NODE is set but {reason}", pytrace=False)
        pytest.skip(reason)
    completed = run_cli(["node-setup", "--dir", str(directory)], REPO, timeout=900)
    if completed.returncode != 0:
        pytest.fail(f"nself-redis node-setup failed:\n{completed.stdout}{completed.stderr}", pytrace=False)
    return {node.DIR_ENV: str(directory), "NSELF_REQUIRE_NODE": "1"}


def add_user(target: Target, name: str, password: str, *rules: str) -> None:
    """An ACL user on a launched server: every key and channel, all commands, then ``rules``."""
    target.client().execute_command(
        "ACL", "SETUSER", name, "reset", "on", f">{password}", "~*", "&*", "+@all", *rules
    )


def attach_url(
    target: Target, user: str | None = None, password: str | None = None, port: int | None = None
) -> str:
    """The URL to attach the suites to a launched server (as ``user``, or the default user)."""
    if user is None:
        password = target.endpoint.password.reveal()
        return f"redis://:{password}@127.0.0.1:{port or target.endpoint.port}"
    return f"redis://{user}:{password}@127.0.0.1:{port or target.endpoint.port}"


def attach_args(url: str, env: str, marker: str) -> list[str]:
    return ["--nself-env", env, "--nself-target", "attach", "--nself-redis-url", url, "-m", marker]


def harness_keys(target: Target) -> list[str]:
    """Keys the checks left behind on a server (there must be none)."""
    client: redis.Redis = target.client()
    return sorted(client.scan_iter(match="nself-harness:*", count=1000))


def reports_text(reports: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in reports.iterdir() if path.is_file())
