"""Host and kernel checks where the server runs on this machine: real servers started with a low
open-file limit or a backlog over somaxconn, this machine's own kernel settings, and doctor
--local finding a server on this machine (in a container too).

A kernel setting this machine has right (or wrong) cannot be flipped for a test without
changing it for every process here, so the other value is read from a prepared copy of the
two files (``ServerHost``'s roots): the check's input, with the real server's config beside it.
"""

from __future__ import annotations

import resource
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.context import load_env_context
from pytest_nself_redis.live.host import PROC, SYS, THP_FILE, ServerHost, local_server
from pytest_nself_redis.project.model import NselfProject
from pytest_nself_redis.targets.base import Target, TargetOptions
from pytest_nself_redis.targets.process import find_redis_server
from pytest_nself_redis.targets.select import make_target
from tests.conftest import Launcher
from tests.doctor.test_doctor import as_json, by_id, doctor, url
from tests.harness import COMPLETE_WITHOUT_TLS
from tests.operations.conftest import run

HOST_CHECKS = ("operations.overcommit", "operations.thp", "operations.somaxconn", "operations.open_files")


def _kernel(tmp_path: Path, overcommit: str, thp: str) -> Path:
    """A copy of the two kernel files the checks read, holding the given values."""
    (tmp_path / "sys" / "vm").mkdir(parents=True)
    (tmp_path / "sys" / "vm" / "overcommit_memory").write_text(f"{overcommit}\n")
    (tmp_path / THP_FILE).parent.mkdir(parents=True)
    (tmp_path / THP_FILE).write_text(f"{thp}\n")
    return tmp_path


def _pid(target: Target) -> int | None:
    host = target.server_host()
    assert host is not None
    return host.pid


def _run_on(target: Target, check_id: str, host: ServerHost) -> CheckResult:
    context = replace(CheckContext.of(target, run_id="ops-host"), server_host=lambda: host)
    return REGISTRY.run(check_id, context)


def test_overcommit_as_this_machine_has_it(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    value = (PROC / "sys" / "vm" / "overcommit_memory").read_text().strip()
    result = run(target, "operations.overcommit")
    assert result.measured == {"vm.overcommit_memory": value}
    assert result.status is (Status.OK if value == "1" else Status.WARNING), result.message
    assert "(/proc/sys/vm/overcommit_memory) on this machine" in result.message


@pytest.mark.parametrize(
    ("value", "status"), [("1", Status.OK), ("0", Status.WARNING), ("2", Status.WARNING)]
)
def test_overcommit_values(launch: Launcher, tmp_path: Path, value: str, status: Status) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    kernel = _kernel(tmp_path, value, "always madvise [never]")
    result = _run_on(target, "operations.overcommit", ServerHost(_pid(target), proc=kernel))
    assert result.status is status, result.message
    if status is Status.WARNING:
        assert "sysctl vm.overcommit_memory=1" in result.message


@pytest.mark.parametrize(("disable_thp", "status"), [("no", Status.WARNING), ("yes", Status.OK)])
def test_thp_always_unless_redis_opts_out(
    launch: Launcher, tmp_path: Path, disable_thp: str, status: Status
) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--disable-thp", disable_thp))
    kernel = _kernel(tmp_path, "1", "[always] madvise never")
    result = _run_on(target, "operations.thp", ServerHost(_pid(target), proc=kernel, sys=kernel))
    assert result.status is status, result.message
    assert result.measured == {"thp": "always", "disable_thp": disable_thp}


def test_thp_as_this_machine_has_it(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    mode = (SYS / THP_FILE).read_text()
    result = run(target, "operations.thp")
    assert result.measured["thp"] in mode
    if "[always]" not in mode:
        assert result.status is Status.OK, result.message


def test_a_backlog_over_somaxconn(launch: Launcher) -> None:
    somaxconn = int((PROC / "sys" / "net" / "core" / "somaxconn").read_text())
    target = launch(COMPLETE_WITHOUT_TLS, "prod", extra_args=("--tcp-backlog", str(somaxconn * 2)))
    result = run(target, "operations.somaxconn")
    assert result.status is Status.WARNING, result.message
    assert result.measured == {"somaxconn": somaxconn, "tcp_backlog": somaxconn * 2}
    assert f"sysctl net.core.somaxconn={somaxconn * 2}" in result.message


@pytest.fixture
def low_limit_server(tmp_path: Path) -> Iterator[Target]:
    """prod's server started by a script that lowers the open-file limit (soft and hard) to 256
    first, as a unit file or container with a low nofile does: Redis cannot have its 10000
    clients and lowers maxclients to fit."""
    script = tmp_path / "redis-server"
    script.write_text(f'#!/bin/sh\nulimit -n 256\nexec {find_redis_server(None)} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    context = load_env_context(NselfProject.open(COMPLETE_WITHOUT_TLS), "prod")
    target = make_target("process", context, TargetOptions(run_id="ops-nofile", redis_server=str(script)))
    target.start()
    try:
        yield target
    finally:
        target.stop()


def test_maxclients_lowered_by_the_open_file_limit(low_limit_server: Target) -> None:
    result = run(low_limit_server, "operations.maxclients")
    assert result.status is Status.ERROR, result.message
    assert result.measured == {"asked": 10000, "live": 256 - 32}
    assert "REDIS_MAX_CLIENTS=10000 (.env.prod:" in result.message
    assert "Max open files is 256" in result.message
    assert "raise the limit to at least 10032" in result.message
    # The limit covers what Redis kept, so the open-file check itself holds.
    assert run(low_limit_server, "operations.open_files").status is Status.OK


def test_an_open_file_limit_lowered_under_a_running_server(low_limit_server: Target) -> None:
    host = low_limit_server.server_host()
    assert host is not None
    assert host.pid is not None
    resource.prlimit(host.pid, resource.RLIMIT_NOFILE, (100, 100))
    result = run(low_limit_server, "operations.open_files")
    assert result.status is Status.WARNING, result.message
    assert result.measured == {"open_files": "100", "maxclients": 224, "needed": 256}
    assert "Too many open files" in result.message


def test_maxclients_as_asked_on_the_complete_example(launch: Launcher) -> None:
    result = run(launch(COMPLETE_WITHOUT_TLS, "prod"), "operations.maxclients")
    assert result.status is Status.OK, result.message
    assert result.measured == {"asked": 10000, "live": 10000}


def test_an_attached_server_is_not_known_to_run_here(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    document = as_json(doctor("--redis-url", url(target), "--json", "--suite", "operations"))
    checks = by_id(document)
    for check_id in HOST_CHECKS:
        assert checks[check_id]["status"] == "skipped", checks[check_id]
        assert "--local says the server does" in checks[check_id]["message"]


def test_doctor_local_reads_the_host_of_a_server_here(launch: Launcher, target_kind: str) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", target_kind)
    document = as_json(doctor("--redis-url", url(target), "--json", "--suite", "operations", "--local"))
    checks = by_id(document)
    for check_id in HOST_CHECKS:
        assert checks[check_id]["status"] in ("ok", "warning"), checks[check_id]
    open_files = checks["operations.open_files"]["measured"]
    assert open_files["maxclients"] == 10000
    if target_kind == "docker":
        # Found by its pid inside the container; the limit is the container's.
        assert "container" in checks["operations.overcommit"]["message"]


def test_local_server_finds_the_process_info_names(launch: Launcher, target_kind: str) -> None:
    # A neighbour: in containers both servers are pid 1 on port 6379; the connection's local
    # address (the container's own) tells them apart.
    launch(COMPLETE_WITHOUT_TLS, "dev", target_kind)
    target = launch(COMPLETE_WITHOUT_TLS, "prod", target_kind)
    fields, laddr = target.client().info("server"), target.client().client_info()["laddr"]
    found = local_server(int(fields["process_id"]), int(fields["tcp_port"]), laddr)
    expected = target.server_host()
    assert expected is not None
    assert found.pid == expected.pid, found.why_no_pid
    assert bool(found.container) == (target_kind == "docker")
