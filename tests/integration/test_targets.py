"""Targets: loopback only, readiness through LOADING, lifecycle that keeps the data,
a timeout that shows the server's log, and servers that die with their launching thread."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from redis import exceptions as redis_errors

from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.loopback import free_loopback_port, held_across_stop
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets import readiness
from pytest_nself_redis.targets.base import TargetOptions
from pytest_nself_redis.targets.docker import DockerTarget
from pytest_nself_redis.targets.docker_engine import LABEL, discard, docker_client
from pytest_nself_redis.targets.process import ProcessTarget, find_redis_server, spawn_server
from pytest_nself_redis.targets.select import make_target
from tests.conftest import Launcher
from tests.harness import COMPLETE, make_project, run_suites


def fill(client: object, count: int, prefix: str = "k") -> None:
    with client.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
        for n in range(count):
            pipe.set(f"{prefix}{n}", n)
        pipe.execute()


def test_launched_servers_listen_on_loopback_only(launch: Launcher, target_kind: str) -> None:
    target = launch(COMPLETE, "staging", kind=target_kind)
    assert target.endpoint.host == "127.0.0.1"
    if isinstance(target, DockerTarget):
        assert target.container is not None
        target.container.reload()
        bindings = target.container.attrs["HostConfig"]["PortBindings"]
        assert [binding["HostIp"] for values in bindings.values() for binding in values] == ["127.0.0.1"]
    else:
        assert target.client().config_get("bind") == {"bind": "127.0.0.1"}


def test_restart_crash_and_recreate_keep_the_data(launch: Launcher, target_kind: str) -> None:
    # AOF everysec + RDB: a graceful stop keeps everything; so does a crash after an fsync.
    target = launch(COMPLETE, "staging", kind=target_kind, REDIS_AOF_FSYNC="always")
    fill(target.client(), 1000)
    target.restart()
    assert target.client().dbsize() == 1000
    target.client().set("after-restart", "1")
    target.crash_and_restart()
    assert target.client().dbsize() == 1001
    assert "Redis is starting" in target.log_tail(200) or "Server initialized" in target.log_tail(200)
    if isinstance(target, DockerTarget):
        first = target.container.id if target.container else None
        target.recreate()
        assert target.container is not None
        assert target.container.id != first
        assert target.client().dbsize() == 1001


def test_readiness_waits_through_loading(launch: Launcher) -> None:
    target = launch(
        COMPLETE,
        "staging",
        REDIS_AOF_ENABLED="false",
        extra_args=("--key-load-delay", "50", "--loading-process-events-interval-bytes", "1024"),
    )
    fill(target.client(), 20_000)
    target.restart()  # SIGTERM saves the snapshot; loading it takes about a second
    assert target.readiness is not None
    assert target.readiness.transient["loading"] > 0, target.readiness
    assert target.client().dbsize() == 20_000


def test_a_timeout_carries_the_log_tail(tmp_path: object) -> None:
    context = load_env_context(
        NselfProject.open(COMPLETE), "staging", overrides={"REDIS_AOF_ENABLED": "false"}
    )
    target = make_target(
        "process",
        context,
        TargetOptions(
            run_id="tlog",
            startup_timeout=0.5,
            extra_args=("--key-load-delay", "1000000", "--loading-process-events-interval-bytes", "1024"),
        ),
    )
    target.start()
    try:
        fill(target.client(), 50)
        target.terminate()
        with pytest.raises(TargetError) as caught:
            target.resume()
        message = str(caught.value)
        assert "was not ready within 0.5 s" in message
        assert "its log ends:" in message
        assert "Loading RDB" in message or "DB loaded" in message or "loading" in message.lower()
    finally:
        target.stop()


def test_protected_mode_behind_docker_is_named_at_once(docker_engine: None) -> None:
    context = load_env_context(NselfProject.open(COMPLETE), "dev", overrides={"REDIS_PASSWORD": ""})
    target = make_target("docker", context, TargetOptions(run_id="tdeny", startup_timeout=20))
    started = time.monotonic()
    try:
        with pytest.raises(TargetError, match=r"refuses this client \(-DENIED\): protected mode is on"):
            target.start()
    finally:
        target.stop()
    assert time.monotonic() - started < 15  # named on the first refusal, not at the timeout


def test_attach_over_tls_with_the_run_ca(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(tmp_path / "project", env_files={".env.staging": "REDIS_TLS_ENABLED=true"})
    target = launch(project, "staging")
    assert target.endpoint.tls
    assert target.server_tls is not None
    password = target.endpoint.password.reveal()
    result = run_suites(
        project,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "attach",
        "--nself-redis-url",
        f"rediss://:{password}@127.0.0.1:{target.endpoint.port}",
        "--nself-redis-ca",
        str(target.server_tls.ca_cert),
        "-m",
        "health or tls",
    )
    outcomes = result.outcomes("staging")
    assert outcomes["test_answers_ping"] == "passed", result.output[-2000:]
    assert outcomes["test_accepts_tls_clients"] == "passed", result.output[-2000:]
    assert outcomes["test_refuses_plaintext"] == "passed", result.output[-2000:]
    assert password not in result.output


def test_a_launch_is_not_broken_by_another_thread_rewriting_the_environment(tmp_path: Path) -> None:
    """As pytest does (PYTEST_CURRENT_TEST) while a run-ahead thread launches a variant server:
    the vforked child read the process's environment as it was being rewritten, and the exec
    failed with EFAULT, "[Errno 14] Bad address" (seen in a three-env run; here 43 of the 150
    launches failed before the environment went in as a copy)."""
    stop = threading.Event()

    def rewrite() -> None:
        count = 0
        while not stop.is_set():
            count += 1
            os.environ[f"NSELF_REWRITTEN_{count % 50}"] = "x" * (count % 300)
            os.environ.pop(f"NSELF_REWRITTEN_{count * 3 % 50}", None)

    rewriter = threading.Thread(target=rewrite, daemon=True)
    rewriter.start()
    failed: list[OSError] = []
    try:
        for _ in range(150):
            try:
                spawn_server(["/bin/true"], tmp_path / "log", tmp_path).wait(timeout=10)
            except OSError as error:
                failed.append(error)
    finally:
        stop.set()
        rewriter.join(timeout=5)
        for number in range(50):
            os.environ.pop(f"NSELF_REWRITTEN_{number}", None)
    assert failed == [], f"{len(failed)} of 150 launches failed: {failed[:2]}"


def test_a_port_chosen_for_a_launch_goes_to_no_other_process_before_its_server_listens(
    tmp_path: Path,
) -> None:
    """Two xdist workers choosing ports at once were once given the same one: a server then
    failed to bind and its readiness probe was refused by the other's password."""
    port = free_loopback_port()
    other_worker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import socket\n"
            "for _ in range(30000):\n"
            "    with socket.socket() as s:\n"
            "        s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    handed_out = {int(line) for line in other_worker.stdout.split()}
    assert len(handed_out) > 5000, "the other process should have been given thousands of ports"
    assert port not in handed_out, f"port {port} was handed to another process"
    server = spawn_server(
        [find_redis_server(None), "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        tmp_path / "log",
        tmp_path,
    )
    try:
        readiness.wait_until_ready(
            lambda: redis.Redis(host="127.0.0.1", port=port, socket_timeout=1),
            what=f"redis-server on 127.0.0.1:{port}",
            timeout=10,
            is_running=lambda: server.poll() is None,
            log_tail=(tmp_path / "log").read_text,
            address=("127.0.0.1", port),
        )
    finally:
        server.kill()
        server.wait(timeout=10)


def _free_port_below_the_ephemeral_range() -> int:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(max(1024, low - 8000), low), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port below the ephemeral range")


@pytest.mark.parametrize("stop", ["kill", "terminate"])
def test_a_stopped_servers_port_is_held_until_it_listens_again(run_id: str, stop: str) -> None:
    """Between a crash or a stop and the restart, another worker could be given the port (or
    use it for an outgoing connection), and the restarted server then found it taken. Its port
    is given here (``--nself-port``), so no launch's own hold covers it; it is below the
    kernel's ephemeral range, so no other worker can be handed it meanwhile."""
    port = _free_port_below_the_ephemeral_range()
    context = load_env_context(NselfProject.open(COMPLETE), "staging")
    target = make_target("process", context, TargetOptions(run_id=run_id, host_port=port))
    with target:
        target.client().set("kept", "1")
        getattr(target, stop)()
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # as another program would: refused while held
        target.resume()
        assert target.client().get("kept") == "1"


@pytest.mark.parametrize("env", ["staging", "prod"], ids=["plaintext", "TLS"])
def test_a_port_is_held_from_the_instant_its_server_is_gone(run_id: str, env: str) -> None:
    """A hold taken after the stop left an instant free: between the server's exit and the
    hold, another worker was once given the port, and a restart under -n found it taken. The
    server is asked to close a connection first, and its own TIME_WAIT holds the port: here the
    server is killed behind the target's back, so nothing is done after it is gone."""
    port = _free_port_below_the_ephemeral_range()
    context = load_env_context(NselfProject.open(COMPLETE), env)
    target = make_target("process", context, TargetOptions(run_id=run_id, host_port=port))
    with target:
        assert target.endpoint.tls == (env == "prod")
        target.close_clients()  # no connection of ours left open to hold it instead
        assert isinstance(target, ProcessTarget)
        process = target.process
        assert process is not None
        with held_across_stop(target.endpoint):
            process.kill()
            process.wait(timeout=10)
            with socket.socket() as other, pytest.raises(OSError):
                other.bind(("127.0.0.1", port))  # inside: before the hold that follows the stop


def test_a_spawned_server_is_private_and_dies_with_the_thread_that_launched_it(tmp_path: Path) -> None:
    """umask 077 without a fork of the harness (no Python in the child), and SIGKILL when its
    launching thread ends: what lets a check run ahead on a worker thread leave nothing."""
    spawned: list[subprocess.Popen[bytes]] = []

    def argv() -> list[str]:
        return [find_redis_server(None), "--port", str(free_loopback_port()), "--save", ""]

    def running(process: subprocess.Popen[bytes]) -> None:
        """Until the server's own program runs (setpriv sets the signal before it execs it)."""
        deadline, program = time.monotonic() + 10, os.path.realpath(find_redis_server(None))
        while os.readlink(f"/proc/{process.pid}/exe") != program:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.01)

    def launch() -> None:
        spawned.append(spawn_server(argv(), tmp_path / "log", tmp_path))
        running(spawned[0])

    worker = threading.Thread(target=launch)
    worker.start()
    worker.join()
    (process,) = spawned
    try:
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        process.kill()
    # The same launch from this thread: the server lives, with a private umask.
    process = spawn_server(argv(), tmp_path / "log", tmp_path)
    try:
        running(process)
        assert "Umask:\t0077" in Path(f"/proc/{process.pid}/status").read_text()
        assert process.poll() is None
    finally:
        process.kill()
        process.wait(timeout=10)


def test_connections_closed_at_once_are_not_taken_for_protected_mode_until_they_persist() -> None:
    """A port proxy closes connections until its server listens; looking for the -DENIED
    banner on each of those cost up to 0.5 s. It is looked for once they went on for
    DENIED_AFTER_S, and then found."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(0.2)
        closures = readiness._Closures(listener.getsockname())
        closed = redis_errors.ConnectionError("Connection closed by server.")
        assert not closures.denied(closed)
        with pytest.raises(TimeoutError):
            listener.accept()  # no banner probe connected
        closures.since = time.monotonic() - readiness.DENIED_AFTER_S

        def deny() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"-DENIED Redis is running in protected mode\r\n")

        server = threading.Thread(target=deny)
        server.start()
        assert closures.denied(closed)
        server.join(5)
        assert not closures.denied(redis_errors.ConnectionError("Connection refused."))
        assert closures.since is None


HALF_WRITTEN_VERSION = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class _GarblingEngineProxy:
    """A unix socket in front of the real engine that answers the first ``/version`` with a
    reply lacking ApiVersion (as a busy dockerd now and then does) and forwards all else."""

    def __init__(self, path: Path, engine: str = "/var/run/docker.sock") -> None:
        self.path, self.engine, self.garbled = path, engine, 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            first = client.recv(65536)
            if b"/version " in first and not self.garbled:
                self.garbled += 1
                client.sendall(HALF_WRITTEN_VERSION)
                return
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
                upstream.connect(self.engine)
                upstream.sendall(first)
                pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
                pump.start()
                self._pump(upstream, client)
                pump.join(5)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(5)


@pytest.mark.docker
def test_a_garbled_engine_handshake_is_asked_again(
    docker_engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = _GarblingEngineProxy(tmp_path / "engine.sock")
    try:
        monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
        client = docker_client(timeout=10)
        assert client.version()["ApiVersion"]
        assert proxy.garbled == 1
    finally:
        proxy.close()


def test_discard_removes_what_is_there_and_takes_a_resource_already_gone_in_its_stride(
    docker_engine: None, run_id: str
) -> None:
    """Teardown removes a volume once; a second removal (it is gone) and nothing at all are no error."""
    client = docker_client()
    volume = client.volumes.create(f"nself-redis-discard-{run_id}", labels={LABEL: run_id})
    discard(volume, force=True)
    assert client.volumes.list(filters={"name": volume.name}) == []
    discard(volume, force=True)
    discard(None, force=True)
