"""The Sentinel topology, on both launch targets: all real servers, reachable (inside and
outside) only at 127.0.0.1 addresses, passwords kept out of argv, its readings honest on a
healthy deployment and on broken ones, and nothing left after teardown, Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.loopback import LOOPBACK
from pytest_nself_redis.secrets import Secret
from pytest_nself_redis.sentinel.readings import SentinelView, read_all, read_sentinel, replication_lag
from pytest_nself_redis.targets.topology import Topology
from pytest_nself_redis.targets.topology.base import SENTINEL_TIMERS_MS, Tamper
from pytest_nself_redis.targets.topology.plan import TopologyPlan
from tests.harness import (
    COMPLETE,
    assert_nothing_left,
    base_env,
    leftover_dirs,
    leftover_docker,
    leftover_processes,
    run_cli,
    signals_as_in_a_terminal,
)
from tests.sentinel.conftest import PROD_PASSWORD, Launch


def _views(topology: Topology) -> list[SentinelView]:
    """Every sentinel's view, the others found through the first, as an operator would."""
    first = topology.sentinels[0]

    def connect(host: str, port: int) -> redis.Redis:
        return redis.Redis(**topology.address(port, host).redis_kwargs())

    return read_all([(LOOPBACK, first.port)], topology.master_name, connect)


def _speaks_plaintext(address: ServerAddress) -> bool:
    """Whether a plaintext PING at ``address`` is answered at all (a TLS-only port never does)."""
    try:
        with address.open_socket(tls=False, timeout=2.0) as raw:
            raw.sendall(b"PING\r\n")
            return raw.recv(64) != b""
    except OSError:
        return False


def _served_only_over_verified_tls(launched: Topology) -> None:
    """Every node and sentinel answers over TLS verified against the run's CA (certificate and
    host name) and not at all in plaintext, on the one port it announces."""
    assert launched.tls is not None
    for mode in (os.stat(launched.tls.key).st_mode, os.stat(launched.tls.ca_cert.parent / "ca.key").st_mode):
        assert mode & 0o777 == 0o600, oct(mode)
    addresses = [node.endpoint for node in launched.nodes] + [
        launched.address(sentinel.port) for sentinel in launched.sentinels
    ]
    for address in addresses:
        assert (address.tls, address.verify, address.ca_file) == (True, True, str(launched.tls.ca_cert))
        kwargs = address.redis_kwargs()
        assert (kwargs["ssl_cert_reqs"], kwargs["ssl_check_hostname"]) == (ssl.CERT_REQUIRED, True)
        with redis.Redis(**kwargs) as client:
            assert client.ping() is True
        assert not _speaks_plaintext(address), f"{address.where()} answers in plaintext"
    # A client that trusts only the system's CAs does not accept the run's certificate.
    stranger = replace(addresses[-1], ca_file=None)
    with pytest.raises((redis.ConnectionError, OSError)), redis.Redis(**stranger.redis_kwargs()) as client:
        client.ping()
    for node in launched.nodes:
        assert node.client().config_get("port")["port"] == "0"
        assert node.client().config_get("tls-replication")["tls-replication"] == "yes"


@pytest.mark.parametrize("tls", ["tls", "plaintext"])
def test_a_topology_comes_up_and_hands_out_only_loopback_addresses(
    topology: Launch, target_kind: str, run_id: str, tls: str
) -> None:
    """prod promises TLS, so its topology serves TLS only; the same env with TLS off, plaintext."""
    launched = topology(target_kind, REDIS_TLS_ENABLED="true" if tls == "tls" else "false")
    if tls == "tls":
        _served_only_over_verified_tls(launched)
    else:
        assert launched.tls is None
        assert all(_speaks_plaintext(launched.address(sentinel.port)) for sentinel in launched.sentinels)
    assert launched.settled is not None
    assert launched.settled.ok, launched.settled.seen
    print(f"\n[{target_kind}] {launched.describe()}: settled in {launched.settled.seconds:.2f} s")
    client = launched.sentinel_client()
    primary = client.discover_master(launched.master_name)
    replicas = client.discover_slaves(launched.master_name)
    assert primary == (LOOPBACK, launched.nodes[0].endpoint.port)
    assert sorted(replicas) == sorted((LOOPBACK, node.endpoint.port) for node in launched.nodes[1:])
    views = _views(launched)
    assert len(views) == 3
    for view in views:
        assert view.error is None, view.error
        addresses = [view.master_ip] + [peer.ip for peer in view.replicas + view.sentinels]
        assert set(addresses) == {LOOPBACK}, f"{view.where} hands out {addresses}"
        assert (view.num_replicas, view.num_other_sentinels, view.quorum) == (1, 2, 2)
        assert view.ckquorum_ok, view.ckquorum
        assert view.down == []
    for sentinel in launched.sentinels:
        timers = launched.sentinel_connection(sentinel).execute_command("SENTINEL", "DEBUG")
        pairs = dict(zip(timers[::2], timers[1::2], strict=True))
        shortened = {name: int(pairs[name.upper()]) for name in SENTINEL_TIMERS_MS}
        assert shortened == SENTINEL_TIMERS_MS, f"sentinel {sentinel.port}: {pairs}"
    role, lag = replication_lag(launched.nodes[0].client().info("replication"))
    assert role == "master"
    assert [item.where for item in lag] == [f"{LOOPBACK}:{launched.nodes[1].endpoint.port}"]
    assert all(item.ok for item in lag), lag
    # Writes through the Sentinel-aware client reach the replica (over TLS when served so).
    master = client.master_for(launched.master_name)
    master.set("nself-harness:topology", "x")
    assert master.execute_command("WAIT", 1, 2000) == 1
    assert master.connection_pool.get_connection().__class__.__name__ == (
        "SentinelManagedSSLConnection" if tls == "tls" else "SentinelManagedConnection"
    )


def test_passwords_stay_out_of_argv_and_in_owner_only_files(topology: Launch) -> None:
    launched = topology("process")
    for node in launched.nodes:
        assert not any(PROD_PASSWORD in word for word in node.argv), node.argv  # type: ignore[attr-defined]
    for sentinel in launched.sentinels:
        process = sentinel.process  # type: ignore[attr-defined]
        assert not any(PROD_PASSWORD in str(word) for word in process.args)
        # Sentinel rewrites its config as it learns; the file stays its owner's only.
        mode = os.stat(sentinel.config_path).st_mode & 0o777  # type: ignore[attr-defined]
        assert mode == 0o600, oct(mode)
        assert "known-sentinel" in sentinel.config_path.read_text()  # type: ignore[attr-defined]


def _wrong_password(index: int, field: str) -> Tamper:
    def tamper(plan: TopologyPlan) -> TopologyPlan:
        change = {field: Secret("not-the-password")}
        return (
            plan.with_sentinel(index, **change) if field == "auth_pass" else plan.with_node(index, **change)
        )

    return tamper


def test_a_replica_that_never_syncs_shows_in_the_readings(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, _wrong_password(1, "masterauth"), settle_timeout=4)
    assert launched.settled is not None
    assert not launched.settled.ok
    assert any("master_link_status=down" in line for line in launched.settled.seen), launched.settled.seen
    _role, lag = replication_lag(launched.nodes[0].client().info("replication"))
    assert lag == []
    view = read_sentinel(launched.sentinel_connection(launched.sentinels[0]), launched.master_name, "s0")
    assert view.num_replicas == 0


def test_a_sentinel_that_cannot_reach_the_primary_calls_it_down(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, _wrong_password(2, "auth_pass"), settle_timeout=1)
    broken = launched.sentinels[2]
    deadline = time.monotonic() + 15
    view = read_sentinel(launched.sentinel_connection(broken), launched.master_name, "broken")
    while "s_down" not in view.down and time.monotonic() < deadline:
        time.sleep(0.25)
        view = read_sentinel(launched.sentinel_connection(broken), launched.master_name, "broken")
    assert view.down == ["s_down"], view
    healthy = read_sentinel(launched.sentinel_connection(launched.sentinels[0]), launched.master_name, "ok")
    assert healthy.down == []


def test_a_quorum_above_the_sentinels_fails_ckquorum(topology: Launch, target_kind: str) -> None:
    launched = topology(target_kind, settle_timeout=10, REDIS_SENTINEL_QUORUM="4")
    view = read_sentinel(launched.sentinel_connection(launched.sentinels[0]), launched.master_name, "s0")
    assert view.quorum == 4
    assert not view.ckquorum_ok
    assert "NOQUORUM" in view.ckquorum, view.ckquorum


HOLD = """
import sys, time
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets import resources
from pytest_nself_redis.targets.base import TargetOptions
from pytest_nself_redis.targets.topology import make_topology

resources.install_handlers()
context = load_env_context(NselfProject.open(sys.argv[1]), "prod")
with make_topology(sys.argv[2], context, TargetOptions(run_id=sys.argv[3]), settle_timeout=1):
    print("ready", flush=True)
    time.sleep(600)
"""


def _hold(tmp_path: Path, kind: str, run_id: str) -> subprocess.Popen[str]:
    """A process holding a started topology until a signal arrives."""
    script = tmp_path / "hold.py"
    script.write_text(HOLD)
    process = subprocess.Popen(
        [sys.executable, str(script), str(COMPLETE), kind, run_id],
        env=base_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=signals_as_in_a_terminal,  # noqa: PLW1509 - resets signal state only
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", line + process.communicate(timeout=30)[0][-2000:]
    return process


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_topology_leaves_nothing(
    tmp_path: Path, target_kind: str, run_id: str, sig: int
) -> None:
    process = _hold(tmp_path, target_kind, run_id)
    process.send_signal(sig)
    output = process.communicate(timeout=120)[0]
    assert process.returncode != 0, output
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_a_stopped_topology_leaves_nothing(topology: Launch, target_kind: str, run_id: str) -> None:
    launched = topology(target_kind, settle_timeout=1)
    launched.stop()
    launched.stop()  # twice is fine
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_a_killed_topology_is_cleaned_up_by_the_cleanup_command(
    tmp_path: Path, target_kind: str, run_id: str
) -> None:
    process = _hold(tmp_path, target_kind, run_id)
    process.kill()
    process.communicate(timeout=60)
    time.sleep(0.5)  # local servers and sentinels get SIGKILL through PDEATHSIG
    left = leftover_processes(run_id) + [str(path) for path in leftover_dirs(run_id)]
    assert not leftover_processes(run_id), left
    if target_kind == "docker":
        assert any(item.startswith("network ") for item in leftover_docker(run_id)), leftover_docker(run_id)
    completed = run_cli(["cleanup"], tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert_nothing_left(run_id, docker=target_kind == "docker")
