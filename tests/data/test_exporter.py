"""The real redis_exporter (Debian's prometheus-redis-exporter) against real servers, given the
address the way each nself generation writes it: up with every documented name but the one
the docs misname, and a failure that names its cause when it cannot read the server."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from pytest_nself_redis.checks import REGISTRY, CheckContext, CheckResult, Status
from pytest_nself_redis.live.exporter import exporter_binary, parse_metrics, scrape_once
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE_WITHOUT_TLS, NSELF_14, make_project

OLD_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"
BUNDLE, PROFILE = "nself 0.9.x monitoring bundle", "nself 0.9.x `nself metrics` profile"


@pytest.fixture(autouse=True)
def _exporter_installed() -> None:
    # scripts/setup.sh installs it (as CI does): a missing exporter is a broken set-up, not a skip.
    assert exporter_binary() is not None, "prometheus-redis-exporter is missing: run scripts/setup.sh"


def _run(target: Target) -> CheckResult:
    return REGISTRY.run("monitoring.exporter", CheckContext.of(target, run_id="exporter"))


def _exporters() -> list[str]:
    """This process's exporter children still running (none may outlive a check)."""
    children = []
    for listing in Path("/proc/self/task").glob("*/children"):
        children += listing.read_text().split()
    running = []
    for pid in children:
        try:
            # comm is cut at 15 characters: prometheus-redis-exporter shows as prometheus-redi.
            if Path(f"/proc/{pid}/comm").read_text().strip() in ("prometheus-redi", "redis_exporter"):
                running.append(pid)
        except OSError:
            continue
    return running


def test_both_addresses_of_nself_0_9_read_the_server(launch: Launcher, target_kind: str) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod", target_kind)
    result = _run(target)
    print(result.message)
    assert result.status is Status.WARNING, result.message
    forms = result.measured["forms"]
    assert set(forms) == {BUNDLE, PROFILE}
    assert all(form["redis_up"] == 1 for form in forms.values()), forms
    assert result.measured["missing"] == ["redis_used_memory_bytes"]
    assert "REDIS_ADDR=redis://:<password>@127.0.0.1:" in result.message
    assert "every documented name is exported but redis_used_memory_bytes" in result.message
    assert target.endpoint.password.reveal() not in result.message + str(result.measured)
    assert _exporters() == []  # stopped


def test_without_a_password_the_address_carries_none(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "dev", REDIS_PASSWORD="")
    result = _run(target)
    assert result.status is Status.WARNING, result.message
    assert f"REDIS_ADDR=redis://127.0.0.1:{target.endpoint.port})" in result.message
    assert "REDIS_PASSWORD=(empty)" in result.message


def _nself_14_with_password(directory: Path, password: str) -> Path:
    """The 1.4 example with another password, everywhere nself 1.x wrote it."""
    shutil.copytree(NSELF_14, directory)
    for name in ("docker-compose.yml", ".env.secrets", ".env.computed"):
        path = directory / name
        path.write_text(path.read_text().replace(OLD_14_PASSWORD, password))
    return directory


def test_nself_1_writes_the_password_url_encoded(tmp_path: Path, launch: Launcher) -> None:
    # A password the unencoded 0.9 URL cannot carry reads fine once encoded.
    target = launch(_nself_14_with_password(tmp_path / "p", "ab/cd#ef?gh-42"), "dev")
    result = _run(target)
    assert list(result.measured["forms"]) == ["nself 1.x (its REDIS_URL form)"], result.message
    assert result.measured["forms"]["nself 1.x (its REDIS_URL form)"]["redis_up"] == 1, result.message
    assert "REDIS_ADDR=redis://:<password, URL-encoded>@127.0.0.1:" in result.message


def test_a_password_the_unencoded_url_breaks_fails_the_bundle(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "dev", REDIS_PASSWORD="ab/cd#ef-0123456789")
    result = _run(target)
    assert result.status is Status.ERROR, result.message
    forms = result.measured["forms"]
    assert forms[BUNDLE]["redis_up"] == 0
    assert forms[PROFILE]["redis_up"] == 1  # the password apart in REDIS_PASSWORD reads fine
    assert "the password holds '#', '/', which an unencoded URL cannot carry" in result.message
    assert "RedisDown fires for this exporter" in result.message
    for piece in ("ab/cd#ef-0123456789", "ef-0123456789"):
        assert piece not in result.message + str(result.measured)


def test_an_exporter_that_cannot_authenticate_names_the_cause(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    # The server's password moved on; nself still writes the env's REDIS_PASSWORD.
    target.client().config_set("requirepass", "moved-on-7c2f9e1b")
    context = CheckContext.of(target, target.connect(password="moved-on-7c2f9e1b"), run_id="exporter")
    result = REGISTRY.run("monitoring.exporter", context)
    assert result.status is Status.ERROR, result.message
    assert all(form["redis_up"] == 0 for form in result.measured["forms"].values())
    assert "WRONGPASS" in result.message
    assert "AUTH with REDIS_PASSWORD=******** (.env.secrets:2)" in result.message


def test_one_scrape_is_bounded(launch: Launcher) -> None:
    target = launch(COMPLETE_WITHOUT_TLS, "dev", REDIS_PASSWORD="")
    started = time.monotonic()
    scraped = scrape_once({"REDIS_ADDR": f"redis://127.0.0.1:{target.endpoint.port}"})
    assert time.monotonic() - started < 5
    assert scraped.up == 1
    # A server that accepts and never answers: the exporter's own 3 s timeout ends the scrape.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        hung = scrape_once({"REDIS_ADDR": f"redis://127.0.0.1:{silent.getsockname()[1]}"})
    assert hung.up == 0
    assert hung.scrape_error
    assert time.monotonic() - started < 8


def test_metrics_text_is_read_by_name() -> None:
    values, error = parse_metrics(
        "# HELP redis_up Information about the Redis instance\n# TYPE redis_up gauge\nredis_up 1\n"
        'redis_commands_total{cmd="get"} 5\nredis_memory_used_bytes 9.65736e+05\n'
        'redis_exporter_last_scrape_error{err="NOAUTH Authentication required."} 1\n'
    )
    assert values == {
        "redis_up": 1.0,
        "redis_commands_total": 5.0,
        "redis_memory_used_bytes": 965736.0,
        "redis_exporter_last_scrape_error": 1.0,
    }
    assert error == "NOAUTH Authentication required."


def test_a_tls_server_is_never_given_the_password_in_plaintext(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.prod": "REDIS_TLS_ENABLED=true"}
    )
    target = launch(project, "prod")
    assert target.endpoint.tls
    result = _run(target)
    assert result.status is Status.SKIPPED
    assert "the server speaks TLS here" in result.message
