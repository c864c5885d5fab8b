"""``nself-redis node-setup``: install BullMQ's pinned node modules for the queue suite."""

from __future__ import annotations

import argparse

from pytest_nself_redis import node
from pytest_nself_redis.errors import ExitStatus, HarnessError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "node-setup",
        help="install the node modules (bullmq, ioredis) the queue suite's BullMQ round trip needs",
        description="Run `npm ci` with the package's pinned package-lock.json into a cache directory "
        f"(default {node.default_dir()}; --dir or ${node.DIR_ENV} choose another). Nothing is done when "
        "the modules there are already those of this version. Needs node and npm on PATH "
        f"(or ${node.NODE_ENV} / ${node.NPM_ENV}) and the npm registry.",
    )
    parser.add_argument("--dir", help=f"where to install (default: ${node.DIR_ENV} or the user cache)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="only say whether the modules are ready (exit 0) or not (exit 1); install nothing",
    )
    parser.add_argument(
        "--timeout", type=float, default=node.INSTALL_TIMEOUT, help="seconds npm may take (default 600)"
    )
    parser.set_defaults(handler=run_node_setup)


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
