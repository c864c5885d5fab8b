"""doctor stays a report whatever the server does: odd INFO replies are one check's error,
a stalling server is cut off by one whole-run deadline, bad numbers are a usage error, and a
signal mid-run leaves no key behind."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import ClassVar

import pytest
import redis

from tests.conftest import Launcher
from tests.data.proxy import InfoRewritingProxy, Rewrite, drop_field, set_field
from tests.doctor.test_doctor import as_json, by_id, doctor, url
from tests.harness import COMPLETE_WITHOUT_TLS, base_env


@pytest.mark.parametrize(
    ("rewrite", "check_id", "reason"),
    [
        (drop_field("role"), "health.primary", "INFO has no role"),
        (set_field("loading", "abc"), "health.loading", "INFO loading='abc' is not a number"),
    ],
    ids=["no-role", "loading-abc"],
)
def test_odd_info_is_one_checks_error(launch: Launcher, rewrite: Rewrite, check_id: str, reason: str) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    with InfoRewritingProxy(target.endpoint.port, rewrite) as proxy:
        url = f"redis://:{password}@127.0.0.1:{proxy.port}"
        completed = doctor("--redis-url", url, "--json", "--suite", "health")
        nagios = doctor("--redis-url", url, "--nagios", "--suite", "health")
    assert "Traceback" not in completed.stderr + nagios.stderr, completed.stderr + nagios.stderr
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    check = by_id(as_json(completed))[check_id]
    assert check["status"] == "error", check
    assert reason in check["message"], check["message"]
    assert nagios.returncode == 2, nagios.stdout + nagios.stderr
    assert nagios.stdout.startswith("REDIS CRITICAL - "), nagios.stdout
    assert password not in completed.stdout + nagios.stdout + json.dumps(completed.stderr)


def test_a_check_that_raises_is_that_checks_error(launch: Launcher) -> None:
    """A check that raises something no one foresaw (here: a check registered by this test whose
    message would hold the password) is reported as that check's error, type and message, with the
    password masked; the run goes on."""
    from pytest_nself_redis.checks import REGISTRY, CheckContext, Outcome, check
    from pytest_nself_redis.context import load_env_context
    from pytest_nself_redis.doctor.formats import render
    from pytest_nself_redis.doctor.runner import run_doctor
    from pytest_nself_redis.project.model import NselfProject

    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()

    def surprised(context: CheckContext) -> Outcome:
        """a check that meets a reply it never expected"""
        raise ValueError(f"cannot parse reply for {context.settings.password.value.reveal()}")

    check("health.zz_surprised", safe=True)(surprised)
    try:
        context = load_env_context(NselfProject.open(COMPLETE_WITHOUT_TLS), "prod")
        report = run_doctor(
            context, f"redis://:{password}@127.0.0.1:{target.endpoint.port}", 2.0, suites=("health",)
        )
    finally:
        REGISTRY.remove("health.zz_surprised")
    text = render("json", report).stdout  # scrubbed with the run's own redactor
    checks = by_id(json.loads(text))
    result = checks["health.zz_surprised"]
    assert result["status"] == "error"
    assert "could not complete (ValueError: cannot parse reply for ********)" in result["message"], result
    assert password not in text
    assert checks["health.monitoring_fields"]["status"] == "ok"  # the run went on


def test_odd_info_in_the_other_checks_is_named(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    with InfoRewritingProxy(target.endpoint.port, set_field("maxclients", "abc")) as proxy:
        url = f"redis://:{password}@127.0.0.1:{proxy.port}"
        completed = doctor("--redis-url", url, "--json", "--suite", "health", "--suite", "monitoring")
    assert "Traceback" not in completed.stderr, completed.stderr
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    checks = by_id(as_json(completed))
    assert "INFO maxclients='abc' is not a number" in checks["health.clients"]["message"]
    assert "INFO maxclients='abc' is not a number" in checks["monitoring.connections_alert"]["message"]
    assert checks["monitoring.metrics"]["status"] == "ok"  # the run went on


# What doctor may take beyond its deadline: starting Python and importing (slow under load).
MARGIN = 5


class StallingServer:
    """Answers PING (and the commands a client sends on connecting) like Redis, then never
    answers anything else on that connection: a server that hangs after saying hello."""

    ANSWERED: ClassVar[dict[bytes, bytes]] = {
        b"PING": b"+PONG\r\n",
        b"CLIENT": b"+OK\r\n",
        b"AUTH": b"+OK\r\n",
        b"SELECT": b"+OK\r\n",
    }

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self.stalled = 0

    def __enter__(self) -> StallingServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                buffer += chunk
                while (command := _first_word(buffer)) is not None:
                    name, buffer = command
                    reply = self.ANSWERED.get(name.upper())
                    if reply is None:
                        self.stalled += 1
                        while client.recv(65536):  # swallow everything from now on
                            pass
                        return
                    client.sendall(reply)


def _first_word(buffer: bytes) -> tuple[bytes, bytes] | None:
    """The name of the first complete RESP command in ``buffer`` and what follows it."""
    if not buffer.startswith(b"*"):
        return None
    lines = buffer.split(b"\r\n")
    try:
        count = int(lines[0][1:])
    except ValueError:
        return None
    if len(lines) < 1 + 2 * count + 1:
        return None
    consumed = b"\r\n".join(lines[: 1 + 2 * count]) + b"\r\n"
    return lines[2], buffer[len(consumed) :]


def test_a_stalling_server_is_cut_off_by_the_deadline() -> None:
    with StallingServer() as server:
        started = time.monotonic()
        completed = doctor(
            "--redis-url", f"redis://127.0.0.1:{server.port}", "--timeout", "1", "--deadline", "4", "--json"
        )
        elapsed = time.monotonic() - started
    assert server.stalled, "the server never stalled: the test proves nothing"
    assert "Traceback" not in completed.stderr, completed.stderr
    # The margin is the interpreter's start and imports (seconds on a loaded machine).
    assert elapsed < 4 + MARGIN, f"doctor took {elapsed:.1f} s with --deadline 4"
    assert completed.returncode == 1, completed.stdout[-2000:] + completed.stderr
    document = as_json(completed)
    messages = [check["message"] for check in document["checks"]]
    assert any("no reply within" in message for message in messages), messages
    not_run = [check for check in document["checks"] if "deadline reached" in check["message"]]
    assert not_run, messages
    assert all(check["status"] == "error" for check in not_run)
    assert document["deadline_reached"] is True


def test_the_default_deadline_bounds_a_stalling_server() -> None:
    """Before the deadline, --timeout 1 against this server took a minute."""
    with StallingServer() as server:
        started = time.monotonic()
        completed = doctor("--redis-url", f"redis://127.0.0.1:{server.port}", "--timeout", "1", "--nagios")
        elapsed = time.monotonic() - started
    assert elapsed < 10 + MARGIN, f"doctor took {elapsed:.1f} s with the default --deadline 10"
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout.startswith("REDIS CRITICAL - "), completed.stdout


@pytest.mark.parametrize("option", ["--timeout", "--deadline"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "abc", "86401"])
def test_bad_seconds_are_one_usage_message(option: str, value: str) -> None:
    completed = doctor("--redis-url", "redis://127.0.0.1:1", option, value)
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    errors = [line for line in completed.stderr.splitlines() if "error" in line or "nself-redis:" in line]
    assert len(errors) == 1, completed.stderr
    assert f"{option} '{value}': expected seconds, more than 0 and at most 86400" in errors[0]
    assert completed.stdout == ""


def test_bad_seconds_under_nagios_are_unknown() -> None:
    completed = doctor("--redis-url", "redis://127.0.0.1:1", "--deadline", "inf", "--nagios")
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert completed.stdout.startswith("REDIS UNKNOWN - --deadline 'inf': expected seconds"), completed.stdout


# Every harness key there is, and those without a TTL, in one atomic look.
WITHOUT_TTL = """
local keys = redis.call('KEYS', ARGV[1])
local bare = {}
for _, key in ipairs(keys) do
  if redis.call('TTL', key) == -1 then table.insert(bare, key) end
end
return {#keys, bare}
"""


class KeyWatch:
    """Looks at the harness's keys as fast as it can while doctor runs: did any exist, and did
    any ever lack a TTL (a key written without one, even for a moment)?"""

    def __init__(self, client: redis.Redis, pattern: str = "nself-harness:*") -> None:
        self.client = client
        self.pattern = pattern
        self.seen = threading.Event()
        self.bare: set[str] = set()
        self.looks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> KeyWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        script = self.client.register_script(WITHOUT_TTL)
        while not self._stop.is_set():
            count, bare = script(args=[self.pattern])
            self.looks += 1
            if count:
                self.seen.set()
            self.bare.update(bare)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_run_leaves_no_key(launch: Launcher, signum: int, status: int) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    client.set("app:order:1", "kept")
    command = [
        sys.executable,
        "-m",
        "pytest_nself_redis.cli",
        "doctor",
        "--project",
        str(COMPLETE_WITHOUT_TLS),
    ]
    command += ["--env", "prod", "--json", "--redis-url", url(target)]
    with KeyWatch(target.client()) as watch:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=base_env()
        )
        try:
            assert watch.seen.wait(30), "doctor never wrote a key: the signal would prove nothing"
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == status, stdout[-2000:] + stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert sorted(client.scan_iter(match="nself-harness:*")) == []
    assert client.get("app:order:1") == "kept"
    assert watch.bare == set(), f"keys written without a TTL: {sorted(watch.bare)[:10]}"


def test_every_key_doctor_writes_carries_a_ttl(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    client = target.client()
    with KeyWatch(target.client()) as watch:
        completed = doctor("--redis-url", url(target), "--json")
    assert completed.returncode in (0, 1), completed.stderr
    assert watch.seen.is_set(), "no key seen: the watch proves nothing"
    assert watch.bare == set(), f"keys written without a TTL: {sorted(watch.bare)[:10]}"
    assert sorted(client.scan_iter(match="nself-harness:*")) == []


def test_a_check_is_not_for_doctor_unless_it_says_so() -> None:
    from pytest_nself_redis.checks import REGISTRY, CheckContext, Outcome, check
    from pytest_nself_redis.checks.results import ok
    from pytest_nself_redis.doctor.runner import doctor_checks

    def probe(context: CheckContext) -> Outcome:
        """a check that says nothing about its safety"""
        return ok("fine")

    check("health.zz_unmarked")(probe)
    try:
        assert REGISTRY["health.zz_unmarked"].safe is False
        assert "health.zz_unmarked" not in doctor_checks()
    finally:
        REGISTRY.remove("health.zz_unmarked")
    assert "queue.bullmq" not in doctor_checks()
    assert "ratelimit.concurrency" not in doctor_checks(("ratelimit",))
