"""Helpers for the harness's own tests: run the plugin in a real pytest process,
build throwaway nself projects, launch servers to break, and look for leftovers."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
COMPLETE = EXAMPLES / "complete"
NSELF_099 = EXAMPLES / "nself-0.9.9"
NSELF_14 = EXAMPLES / "nself-1.4"
RUN_TIMEOUT = 600


def _without_tls(project: Path) -> Path:
    """A copy of ``project`` whose prod promises no TLS (its REDIS_TLS_ENABLED line turned off,
    so every other line keeps its number), removed when the process ends."""
    # Not named nself-redis-*: `nself-redis cleanup` (tested here) removes such dirs it finds.
    copy = Path(tempfile.mkdtemp(prefix="plaintext-example-")) / project.name
    atexit.register(shutil.rmtree, copy.parent, True)
    shutil.copytree(project, copy)
    prod = copy / ".env.prod"
    lines = prod.read_text().splitlines(keepends=True)
    turned = [
        "REDIS_TLS_ENABLED=false\n" if line.startswith("REDIS_TLS_ENABLED=") else line for line in lines
    ]
    assert turned != lines, f"{project}'s prod promises no TLS to turn off"
    prod.write_text("".join(turned))
    return copy


# examples/complete with plaintext prod: for the tests that launch prod and reach it by redis://
# (doctor, probe, serve, the exporter, the nself plugin); the TLS prod is run by the suites'
# green tests and TLS attach by its own tests.
COMPLETE_WITHOUT_TLS = _without_tls(COMPLETE)


@dataclass
class Case:
    outcome: str
    message: str
    details: str


@dataclass
class RunResult:
    status: int
    stdout: str
    stderr: str
    reports: Path
    cases: dict[str, dict[str, Case]] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def case(self, name: str, env: str | None = None) -> Case:
        """A test by (a unique part of) its name, e.g. ``test_is_a_primary``."""
        envs = [env] if env else list(self.cases)
        matches = [
            (env_name, key)
            for env_name in envs
            for key in self.cases.get(env_name, {})
            if key == name or key.startswith(f"{name}[")
        ]
        assert len(matches) == 1, f"{name!r} matched {matches} in {list(self.cases)}"
        env_name, key = matches[0]
        return self.cases[env_name][key]

    def explain(self, tail: int = 3000) -> str:
        """Why a run that should have passed did not: each failed case's message and details as
        the JUnit files hold them (the output's tail alone can miss them), then the tail."""
        failed = [
            f"[{env}] {name}: {case.details or case.message}"[:2000]
            for env, cases in self.cases.items()
            for name, case in cases.items()
            if case.outcome in ("failed", "error")
        ]
        return "\n".join([*failed, self.output[-tail:]])

    def outcomes(self, env: str | None = None) -> dict[str, str]:
        envs = [env] if env else list(self.cases)
        return {key: case.outcome for name in envs for key, case in self.cases[name].items()}


def read_junit(reports: Path) -> dict[str, dict[str, Case]]:
    found: dict[str, dict[str, Case]] = {}
    for path in sorted(reports.glob("junit-*.xml")):
        env = path.stem.removeprefix("junit-")
        cases: dict[str, Case] = {}
        for element in ET.parse(path).getroot().iter("testcase"):
            outcome, message, details = "passed", "", ""
            for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
                child = element.find(tag)
                if child is not None:
                    outcome, message, details = name, child.get("message", ""), child.text or ""
            cases[element.get("name", "")] = Case(outcome, message, details)
        found[env] = cases
    return found


def base_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NSELF_", "PYTEST_")) and key != "ENV"
    }
    env["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    env.update(extra)
    return env


def run_pytest(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
    prefix: Sequence[str] = (),
) -> RunResult:
    """``python -m pytest ARGS`` in ``cwd`` with reports in ``cwd/reports``; ``prefix`` wraps the
    command (e.g. ``WITHOUT_FILE_ACCESS``)."""
    reports = cwd / "reports"
    command = [
        *prefix,
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--nself-reports",
        str(reports),
        *args,
    ]
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=base_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return RunResult(
        completed.returncode,
        completed.stdout,
        completed.stderr,
        reports,
        read_junit(reports) if reports.exists() else {},
    )


def run_suites(
    project: Path,
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
    prefix: Sequence[str] = (),
) -> RunResult:
    return run_pytest(
        ["--pyargs", "pytest_nself_redis.suites", "--nself-project", str(project), *args],
        cwd,
        env,
        timeout,
        prefix,
    )


def run_cli(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "pytest_nself_redis.cli", *args],
        cwd=cwd,
        env=base_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def make_project(
    directory: Path,
    base: Path | None = COMPLETE,
    env_files: Mapping[str, str] | None = None,
    compose: str | bytes | None = None,
) -> Path:
    """A project copied from ``base`` with env files appended to (or created) and an optional
    compose file. Appending keeps line numbers of the base and makes the new line win."""
    directory.mkdir(parents=True, exist_ok=True)
    if base is not None:
        for path in base.iterdir():
            if path.is_file():
                shutil.copy(path, directory / path.name)
    for name, text in (env_files or {}).items():
        with (directory / name).open("a") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    if isinstance(compose, bytes):
        (directory / "docker-compose.yml").write_bytes(compose)
    elif compose is not None:
        (directory / "docker-compose.yml").write_text(compose)
    return directory


def appended_line(name: str, base: Path = COMPLETE) -> int:
    """The line a setting appended by ``make_project`` lands on in ``base``'s file ``name``."""
    path = base / name
    return len(path.read_text().splitlines()) + 1 if path.exists() else 1


# Where a line appended to the complete example's .env.staging lands (cited as .env.staging:N).
STAGING_APPENDED = appended_line(".env.staging")


def without_file_access() -> tuple[str, ...]:
    """A command prefix under which file permissions hold: root reads a mode-000 file unless
    it runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (util-linux ``setpriv``)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: unreadable-file tests need setpriv (util-linux) to drop DAC override"
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")


# The staging promises of examples/complete, kept by a hand-written compose file that tests
# break one directive at a time. Messages cite the command as docker-compose.yml:5.
STAGING_COMMAND = (
    "redis-server --appendonly yes --appendfsync everysec --save '900 1' --maxmemory 128mb "
    "--maxmemory-policy noeviction --maxclients 2000 --timeout 300 --tcp-keepalive 60 "
    "--loglevel notice --requirepass ${REDIS_PASSWORD}"
)
COMPOSE_COMMAND_LINE = 5


def compose_file(
    command: str = STAGING_COMMAND, image: str = "redis:7-alpine", port: str = "127.0.0.1:${REDIS_PORT}:6379"
) -> str:
    """A docker-compose.yml with one redis service (command on line 5, port on line 9)."""
    return "\n".join(
        [
            "services:",
            "  redis:",
            f"    image: {image}",
            '    user: "999:999"',
            f"    command: {command}",
            "    volumes:",
            "      - redis_data:/data",
            "    ports:",
            f'      - "{port}"',
            "volumes:",
            "  redis_data:",
            "",
        ]
    )


def leftover_processes(run_id: str) -> list[str]:
    """redis-server processes whose working dir is one of this run's temp dirs."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if f"nself-redis-{run_id}-" in cwd:
            found.append(f"pid {proc.name} in {cwd}")
    return found


def leftover_dirs(run_id: str) -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(f"nself-redis-{run_id}-*"))


def leftover_docker(run_id: str) -> list[str]:
    from pytest_nself_redis.targets.docker_engine import LABEL, docker_client

    client = docker_client()
    selector = {"label": f"{LABEL}={run_id}"}
    return (
        [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
        + [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
        + [f"network {n.name}" for n in client.networks.list(filters=selector)]
    )


def assert_nothing_left(run_id: str, docker: bool) -> None:
    left = leftover_processes(run_id) + [str(path) for path in leftover_dirs(run_id)]
    if docker:
        left += leftover_docker(run_id)
    assert not left, f"run {run_id} left behind: {left}"


def signals_as_in_a_terminal() -> None:
    """In the child: SIGINT and SIGTERM delivered as a user's terminal would. An ignored or
    blocked signal is inherited across exec, and a test runner's worker may have either
    (seen under xdist in CI: the run then slept through Ctrl-C)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def interrupt(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    process.send_signal(sig)
