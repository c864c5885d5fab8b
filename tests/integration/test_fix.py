"""`nself-redis fix` proves itself: every deployment-layer failure of the config suite on the
nself examples has a remedy, and after `fix --write` the same run passes on both targets; a
hand-written override is refused; no secret is ever written; bad input is one message."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_nself_redis.compose.override import MARK
from tests.harness import (
    COMPLETE,
    NSELF_099,
    NSELF_14,
    assert_nothing_left,
    compose_file,
    make_project,
    run_cli,
    run_suites,
)

# Each example with the env whose promises fit its container (nself 1.4's staging does not: below).
EXAMPLES = {"nself-0.9.9": (NSELF_099, "staging"), "nself-1.4": (NSELF_14, "dev")}
# The config promises neither generator applies: the failures before the fix, on both examples.
GAPS = {"maxmemory", "maxmemory-policy", "save", "maxclients", "timeout", "tcp-keepalive", "loglevel"}
PASSWORD_LINE = re.compile(r"^(?:export\s+)?[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN)[A-Z0-9_]*=(.*)$")


def copy(example: Path, where: Path) -> Path:
    project = where / example.name
    shutil.copytree(example, project)
    return project


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes() for path in project.rglob("*") if path.is_file()
    }


def workdir(path: Path) -> Path:
    path.mkdir()
    return path


def config_failures(reports: Path, env: str) -> dict[str, dict[str, str]]:
    """Failed config tests by promise id, with their JUnit properties and message."""
    found = {}
    for case in ET.parse(reports / f"junit-{env}.xml").getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            continue
        properties = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        properties["message"] = failure.get("message", "")
        found[properties["check"].removeprefix("config.setting.")] = properties
    return found


def fix(project: Path, env: str, *more: str, cwd: Path) -> tuple[int, str, str]:
    completed = run_cli(["fix", "--env", env, "--project", str(project), *more], cwd)
    return completed.returncode, completed.stdout, completed.stderr


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_every_deployment_gap_has_a_remedy_and_fix_closes_them(
    example: str, target_kind: str, tmp_path: Path, run_id: str
) -> None:
    source, env = EXAMPLES[example]
    project = copy(source, tmp_path)
    run = ("--nself-env", env, "--nself-target", target_kind, "-m", "config")
    before = run_suites(project, workdir(tmp_path / "before"), *run, env={"NSELF_RUN_ID": run_id})
    assert before.status == 1, before.output[-3000:]
    failures = config_failures(before.reports, env)
    assert set(failures) == GAPS
    for promise, properties in failures.items():
        assert "Broken at the deployment layer" in properties["message"], promise
        assert properties["remedy.layer"] == "deployment", promise
        assert properties["remedy.fixed_by"] == f"nself-redis fix --env {env}", promise
        assert properties["remedy.where"].startswith("docker-compose.yml:"), promise
    assert "fix first:" in before.output

    status, stdout, stderr = fix(project, env, "--write", cwd=tmp_path)
    assert status == 0, stderr
    assert stdout == ""
    assert f"with it, the deployment keeps all 10 config promises of env {env}" in stderr

    after = run_suites(project, workdir(tmp_path / "after"), *run, env={"NSELF_RUN_ID": run_id})
    assert after.status == 0, after.output[-3000:]
    assert set(after.outcomes().values()) <= {"passed", "skipped"}
    assert f"{env}: PASS" in after.output
    assert "merged with docker-compose.override.yml" in after.output
    assert_nothing_left(run_id, docker=target_kind == "docker")


def test_a_hand_written_override_is_refused(tmp_path: Path) -> None:
    project = copy(NSELF_099, tmp_path)
    mine = "services:\n  redis:\n    command: redis-server --appendonly yes --maxmemory 1gb\n"
    (project / "docker-compose.override.yml").write_text(mine)
    before = snapshot(project)
    status, stdout, stderr = fix(project, "staging", "--write", cwd=tmp_path)
    assert status == 2, stderr
    assert stdout == ""
    assert stderr.strip().splitlines() == [
        "nself-redis: docker-compose.override.yml exists and nself-redis fix did not write it (its first "
        f"line is not '{MARK} ...'): nothing written. Merge the override `nself-redis fix --env staging` "
        "prints into docker-compose.override.yml by hand, or move docker-compose.override.yml away and "
        "run it again with --write"
    ]
    assert snapshot(project) == before
    # Printing is still allowed, and says what --write would do.
    status, stdout, stderr = fix(project, "staging", cwd=tmp_path)
    assert stdout.startswith(MARK)
    assert "--write would refuse: docker-compose.override.yml exists" in stderr
    assert snapshot(project) == before


def test_its_own_override_is_rewritten_and_listed_once(tmp_path: Path) -> None:
    project = copy(NSELF_14, tmp_path)
    listing = project / ".nself" / "compose-files.txt"
    for _ in range(2):
        status, _, stderr = fix(project, "dev", "--write", cwd=tmp_path)
        assert status == 0, stderr
    lines = listing.read_text().splitlines()
    assert lines[0] == "docker-compose.yml"
    assert lines.count("docker-compose.override.yml") == 1
    assert lines[1].startswith("# added by nself-redis fix")
    assert (project / "docker-compose.override.yml").read_text().startswith(MARK)


def test_printing_writes_nothing(tmp_path: Path) -> None:
    project = copy(NSELF_14, tmp_path)
    before = snapshot(project)
    status, stdout, stderr = fix(project, "dev", cwd=tmp_path)
    assert status == 0, stderr
    assert stdout.startswith(MARK)
    assert "add the line `docker-compose.override.yml` to it" in stderr
    assert snapshot(project) == before


def _secret_values(project: Path) -> set[str]:
    """Every password-like value the project holds: its env files' and its compose file's."""
    values = set()
    for path in project.glob(".env*"):
        for line in path.read_text().splitlines():
            match = PASSWORD_LINE.match(line.strip())
            if match and match.group(1).strip("'\""):
                values.add(match.group(1).strip("'\""))
    compose = (project / "docker-compose.yml").read_text()
    values.update(re.findall(r"--requirepass ([^\s$][^\s]*)", compose))
    return values


@pytest.mark.parametrize("example", list(EXAMPLES))
@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_no_secret_is_ever_written_into_the_override(example: str, env: str, tmp_path: Path) -> None:
    project = copy(EXAMPLES[example][0], tmp_path)
    secrets = _secret_values(project)
    assert secrets, "the scan sees none of the example's passwords"
    status, stdout, stderr = fix(project, env, "--write", cwd=tmp_path)
    assert status in (0, 1), stderr
    written = (project / "docker-compose.override.yml").read_text()
    for secret in secrets:
        assert secret not in written
        assert secret not in stdout + stderr
    assert "REDIS_PASSWORD: ${REDIS_PASSWORD}" in written
    assert '--requirepass "$$REDIS_PASSWORD"' in written


def test_a_promise_no_deployment_can_keep_is_an_env_edit(tmp_path: Path, run_id: str) -> None:
    """nself 1.4 staging promises maxmemory 768mb in the 512M container .env.local asks for."""
    project = copy(NSELF_14, tmp_path)
    status, _, stderr = fix(project, "staging", "--write", cwd=tmp_path)
    assert status == 1, stderr
    assert "keeps 9 of 10 config promises of env staging" in stderr
    assert ".env.staging:4: REDIS_MAXMEMORY=384mb, or .env.local:3: REDIS_MEMORY=1024M" in stderr
    written = (project / "docker-compose.override.yml").read_text()
    assert "--maxmemory 384mb" in written
    assert "# maxmemory: 384mb, not REDIS_MAXMEMORY=768mb (.env.staging:4)" in written
    run = run_suites(
        project,
        workdir(tmp_path / "after"),
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "config",
        env={"NSELF_RUN_ID": run_id},
    )
    assert run.status == 1
    failures = config_failures(run.reports, "staging")
    assert list(failures) == ["maxmemory"]
    assert failures["maxmemory"]["remedy.layer"] == "env"
    assert_nothing_left(run_id, docker=False)


BAD_INPUT = {
    "no-project": ("{missing}", "staging", ()),
    "no-compose-file": (
        str(COMPLETE),
        "staging",
        ("has no compose file to override: run `nself build` first",),
    ),
    "two-envs": ("{example}", "dev,staging", ("fix writes one env's override at a time",)),
    "invalid-value": ("{broken}", "staging", ("REDIS_MAXMEMORY=lots", "expected a whole number of bytes")),
    "redis-disabled": ("{disabled}", "staging", ("REDIS_ENABLED is not true for env staging",)),
}


def test_a_secret_the_base_command_carries_is_never_copied(tmp_path: Path) -> None:
    """A directive of the base command is carried over as it is, unless that would write a secret."""
    secret = "Sekrit-Value-12345"
    project = make_project(
        tmp_path / "p",
        NSELF_099,
        {".env": f"REDIS_PASSWORD={secret}"},
        compose=compose_file(f"redis-server --bind {secret}"),
    )
    before = snapshot(project)
    status, stdout, stderr = fix(project, "staging", "--write", cwd=tmp_path)
    assert status == 2, stderr
    assert "the override would hold a secret of the env" in stderr
    assert secret not in stdout + stderr
    assert snapshot(project) == before


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_message_and_writes_nothing(case: str, tmp_path: Path) -> None:
    places = {
        "missing": str(tmp_path / "nowhere"),
        "example": str(copy(NSELF_099, tmp_path)),
        "broken": str(make_project(tmp_path / "broken", NSELF_099, {".env.staging": "REDIS_MAXMEMORY=lots"})),
        "disabled": str(make_project(tmp_path / "disabled", NSELF_099, {".env": "REDIS_ENABLED=false"})),
    }
    where, env, fragments = BAD_INPUT[case]
    project = Path(where.format(**places))
    before = snapshot(project) if project.is_dir() else {}
    status, stdout, stderr = fix(project, env, "--write", cwd=tmp_path)
    assert status == 2, stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("nself-redis: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr
    assert (snapshot(project) if project.is_dir() else {}) == before
