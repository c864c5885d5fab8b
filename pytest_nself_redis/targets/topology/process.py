"""The Sentinel topology as local processes: each data node a ``ProcessTarget`` on its own
loopback port, each sentinel ``redis-server <config> --sentinel`` from the same binary.

Passwords never reach argv: the data nodes put them in their 0600 config file (as the
process target always does), and each sentinel's config, which holds them too, is written
0600 before the first byte. On TLS the run's certificates (keys 0600) sit in the topology's
folder, read by every node and sentinel in place. Every process dies with the harness
(PDEATHSIG, ``spawn_server``) and is removed on teardown, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from pathlib import Path

from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.loopback import LOOPBACK, held_across_stop
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import Target
from pytest_nself_redis.targets.process import (
    ProcessTarget,
    _config_line,
    _write_private,
    find_redis_server,
    spawn_server,
)
from pytest_nself_redis.targets.readiness import wait_until_ready
from pytest_nself_redis.targets.tls import prepare_tls
from pytest_nself_redis.targets.topology.base import Topology
from pytest_nself_redis.targets.topology.plan import (
    NodePlan,
    SentinelPlan,
    TopologyPlan,
    node_directives,
    sentinel_directives,
)


def as_args(directives: list[tuple[str, list[str]]]) -> tuple[str, ...]:
    """Directives as ``--name value ...`` words for redis-server."""
    return tuple(word for name, values in directives for word in (f"--{name}", *values))


class SentinelProcess:
    """``redis-server sentinel-<port>.conf --sentinel`` in the topology's run dir."""

    def __init__(
        self, binary: str, folder: Path, address: ServerAddress, config: str, timeout: float
    ) -> None:
        self.binary = binary
        self.port = address.port
        self.address = address
        self.config_path = folder / f"sentinel-{self.port}.conf"
        self.log_path = folder / f"sentinel-{self.port}.log"
        self.config = config
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        _write_private(self.config_path, self.config)
        self.resume()

    def resume(self) -> None:
        argv = [self.binary, str(self.config_path), "--sentinel"]
        self.process = spawn_server(argv, self.log_path, self.config_path.parent)
        wait_until_ready(
            lambda: self.address.client(socket_timeout=1.0, socket_connect_timeout=1.0),
            what=f"sentinel on {LOOPBACK}:{self.port}",
            timeout=self.timeout,
            is_running=lambda: self.process is not None and self.process.poll() is None,
            log_tail=self.log_tail,
            address=(LOOPBACK, self.port),
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with held_across_stop(self.address):  # until ``resume`` listens there again
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def describe(self) -> str:
        return f"sentinel process on {LOOPBACK}:{self.port}"


class ProcessTopology(Topology):
    kind = "process"

    def _open(self) -> None:
        self.binary = find_redis_server(self.options.redis_server)
        self.folder: Path | None = None

    def _prepare(self, plan: TopologyPlan) -> None:
        self.folder = resources.make_run_dir(self.options.run_id, "sentinels", self.options.workdir)
        if plan.tls:
            self.tls = prepare_tls(self.folder / "tls")

    def _data_node(self, plan: TopologyPlan, node: NodePlan) -> Target:
        return ProcessTarget(self.context, self.node_options(node.port, as_args(node_directives(plan, node))))

    def _sentinel_node(self, plan: TopologyPlan, sentinel: SentinelPlan) -> SentinelProcess:
        assert self.folder is not None
        directives = sentinel_directives(plan, sentinel, str(self.folder), str(self.folder / "tls"))
        config = "".join(f"{_config_line(name, values)}\n" for name, values in directives)
        address = self.address(sentinel.port)
        return SentinelProcess(self.binary, self.folder, address, config, self.options.startup_timeout)

    def _teardown(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
