"""``nself-redis node-setup``: install BullMQ's pinned node modules for the queue suite."""

from __future__ import annotations

import argparse

from pytest_nself_redis import node
from pytest_nself_redis.errors import ExitStatus, HarnessError


def _describe(readiness: node.NodeStatus) -> str:
    modules = ", ".join(f"{name} {version}" for name, version in sorted(readiness.installed.items()))
    return f"node modules ready in {readiness.directory}: {modules} (node {readiness.node_version})"


def run_node_setup(options: argparse.Namespace, extra: list[str]) -> int:
    if options.check:
        readiness = node.status(options.dir)
        print(_describe(readiness) if readiness.ready else f"not ready: {readiness.reason}")
        return int(ExitStatus.OK if readiness.ready else ExitStatus.CHECK_FAILED)
    try:
        readiness = node.install(options.dir, timeout=options.timeout)
    except node.NodeSetupError as failure:
        raise HarnessError(f"node-setup: {failure}") from None
    if not readiness.ready:
        raise HarnessError(f"node-setup: installed, but still not ready: {readiness.reason}")
    print(_describe(readiness))
    return int(ExitStatus.OK)
