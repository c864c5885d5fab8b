"""The Node side of the queue suite: BullMQ's modules, where they live, and the round trip.

``package.json`` and ``package-lock.json`` beside this file pin bullmq and ioredis;
``nself-redis node-setup`` installs them (``npm ci``) into a cache directory, so an
installed package never writes into site-packages. The queue suite runs
``bullmq_roundtrip.cjs`` with the server's connection in the environment (never on
the command line) and reads the one JSON object it prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nself_redis.live.address import ServerAddress

HERE = Path(__file__).resolve().parent
PACKAGE_FILES = ("package.json", "package-lock.json")
SCRIPT = HERE / "bullmq_roundtrip.cjs"
# Environment variables: the modules directory, the node and npm binaries.
DIR_ENV, NODE_ENV, NPM_ENV = "NSELF_NODE_DIR", "NSELF_NODE", "NSELF_NPM"
# Written after a successful install: which package-lock the modules came from.
STAMP = ".nself-redis-lock.sha256"
MODULES = ("bullmq", "ioredis")
INSTALL_TIMEOUT = 600.0


def default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pytest-nself-redis" / "node"


def modules_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the modules are (or go): the argument, then $NSELF_NODE_DIR, then the user cache."""
    chosen = explicit or os.environ.get(DIR_ENV)
    return Path(chosen).expanduser().resolve() if chosen else default_dir()


def find_binary(name: str, env_var: str) -> str | None:
    return shutil.which(os.environ.get(env_var) or name)


def lock_digest() -> str:
    return hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()


def pinned_versions() -> dict[str, str]:
    manifest = json.loads((HERE / "package.json").read_text())
    return dict(manifest["dependencies"])


@dataclass(frozen=True)
class NodeStatus:
    """Whether the round trip can run here, and if not, why (a sentence for a skip reason)."""

    ready: bool
    reason: str
    directory: Path
    node: str | None = None
    node_version: str | None = None
    installed: dict[str, str] = field(default_factory=dict)


def _node_version(node: str) -> str | None:
    try:
        completed = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=15, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() or None


def _installed(directory: Path) -> dict[str, str]:
    found = {}
    for module in MODULES:
        manifest = directory / "node_modules" / module / "package.json"
        if manifest.is_file():
            found[module] = str(json.loads(manifest.read_text()).get("version", "?"))
    return found


def status(directory: str | os.PathLike[str] | None = None) -> NodeStatus:
    where = modules_dir(directory)
    node = find_binary("node", NODE_ENV)
    if node is None:
        return NodeStatus(
            False,
            f"node not found on PATH (install Node.js 18 or later, or name the binary in ${NODE_ENV})",
            where,
        )
    version = _node_version(node)
    if version is None:
        return NodeStatus(False, f"{node} --version did not answer", where, node)
    installed = _installed(where)
    setup = f"run `nself-redis node-setup` (or set ${DIR_ENV} to where it installed them)"
    missing = [module for module in MODULES if module not in installed]
    if missing:
        return NodeStatus(
            False,
            f"BullMQ's node modules ({', '.join(missing)}) are not installed in {where}: {setup}",
            where,
            node,
            version,
            installed,
        )
    stamp = where / STAMP
    if not stamp.is_file() or stamp.read_text().strip() != lock_digest():
        return NodeStatus(
            False,
            f"the node modules in {where} were not installed from this version's package-lock "
            f"(pinned {pinned_versions()}, found {installed}): {setup}",
            where,
            node,
            version,
            installed,
        )
    return NodeStatus(True, "ready", where, node, version, installed)


class NodeSetupError(Exception):
    """npm could not install the modules; the message carries npm's last lines."""


def install(directory: str | os.PathLike[str] | None = None, timeout: float = INSTALL_TIMEOUT) -> NodeStatus:
    """``npm ci`` the pinned modules into the directory (idempotent: skipped when up to date)."""
    where = modules_dir(directory)
    current = status(where)
    if current.ready:
        return current
    npm = find_binary("npm", NPM_ENV)
    if current.node is None or npm is None:
        raise NodeSetupError(
            current.reason if current.node is None else f"npm not found on PATH (${NPM_ENV})"
        )
    where.mkdir(parents=True, exist_ok=True)
    for name in PACKAGE_FILES:
        shutil.copyfile(HERE / name, where / name)
    (where / STAMP).unlink(missing_ok=True)
    # --ignore-scripts: nothing of ours needs an install script (msgpackr falls back to plain JS).
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
    try:
        completed = subprocess.run(
            command, cwd=where, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise NodeSetupError(f"npm ci in {where} did not finish within {timeout:.0f} s") from None
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-15:])
        raise NodeSetupError(f"npm ci in {where} failed (exit {completed.returncode}):\n{tail}")
    (where / STAMP).write_text(lock_digest() + "\n")
    return status(where)


def _script_environment(address: ServerAddress) -> dict[str, str]:
    """The process environment for the script: where the server is and how to reach it (the
    password in the environment, never on the command line)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NSELF_REDIS_")}
    env.update(
        NSELF_REDIS_HOST=address.host,
        NSELF_REDIS_PORT=str(address.port),
        NSELF_REDIS_DB=str(address.db),
    )
    if address.username:
        env["NSELF_REDIS_USERNAME"] = address.username
    if address.password:
        env["NSELF_REDIS_PASSWORD"] = address.password.reveal()
    if address.tls:
        env["NSELF_REDIS_TLS"] = "1"
        if address.ca_file:
            env["NSELF_REDIS_TLS_CA"] = address.ca_file
        if not address.verify:
            env["NSELF_REDIS_TLS_INSECURE"] = "1"
    return env


def run_roundtrip(
    address: ServerAddress,
    prefix: str,
    directory: Path,
    *,
    jobs: int = 20,
    delay_ms: int = 400,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Run the BullMQ round trip against ``address`` (TLS under the run's policy: verified against
    its CA or the system's, host name included, unless the user's insecure option); returns its
    JSON result (``ok`` false with ``error`` on failure)."""
    node = find_binary("node", NODE_ENV)
    if node is None:
        return {"ok": False, "stage": "start", "error": "node not found"}
    env = _script_environment(address)
    command = [
        node,
        # The system's CA store (as OpenSSL and Python see it), not only Node's bundled one.
        "--use-openssl-ca",
        str(SCRIPT),
        "--modules",
        str(directory),
        "--prefix",
        prefix,
        "--jobs",
        str(jobs),
        "--delay-ms",
        str(delay_ms),
        "--timeout-ms",
        str(int(timeout * 1000)),
    ]
    try:
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout + 10, check=False
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "stage": "node", "error": f"node did not exit within {timeout + 10:.0f} s"}
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join((completed.stdout + completed.stderr).strip().splitlines()[-5:])
        return {
            "ok": False,
            "stage": "node",
            "error": f"the script printed no result (exit {completed.returncode}): {tail}",
        }
    result: dict[str, Any] = json.loads(lines[-1])
    return result
