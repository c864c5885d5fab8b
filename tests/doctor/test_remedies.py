"""Doctor says what to fix: each failed check's remedy in the JSON (schema version 3), the
human lines and the GitHub annotations, and the override `nself-redis fix` writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import Launcher
from tests.doctor.test_doctor import as_json, by_id, doctor, url
from tests.doctor.test_formats import github_annotations
from tests.harness import NSELF_099, run_cli

MAXMEMORY = {
    "layer": "deployment",
    "consequence": "availability",
    "edit": "add --maxmemory 512mb to the redis command (docker-compose.yml:19)",
    "where": "docker-compose.yml:19",
    "fixed_by": "nself-redis fix --env staging",
}


def test_doctor_names_each_remedy_and_the_override_that_closes_the_gaps(
    tmp_path: Path, launch: Launcher
) -> None:
    project = tmp_path / "nself-0.9.9"
    shutil.copytree(NSELF_099, project)
    target = launch(project, "staging")  # runs the generated command: no maxmemory, no save, ...
    password = target.endpoint.password.reveal()

    document = as_json(doctor("--redis-url", url(target), "--json", project=project, env="staging"))
    assert document["version"] == 3
    checks = by_id(document)
    assert checks["config.setting.maxmemory"]["status"] == "error"
    assert checks["config.setting.maxmemory"]["remedy"] == MAXMEMORY
    assert checks["config.setting.save"]["remedy"]["consequence"] == "data loss"
    for check in document["checks"]:
        if check["status"] in ("ok", "skipped"):
            assert check["remedy"] is None, check["id"]
    fix = document["fix"]
    assert fix["command"] == "nself-redis fix --env staging --write"
    assert fix["file"] == "docker-compose.override.yml"
    assert {"config.setting.maxmemory", "config.setting.save", "config.setting.loglevel"} <= set(
        fix["closes"]
    )
    printed = run_cli(["fix", "--env", "staging", "--project", str(project)], tmp_path)
    assert fix["override"] == printed.stdout  # the same file, from the same plan
    assert password not in json.dumps(document)

    human = doctor("--redis-url", url(target), project=project, env="staging")
    assert (
        f"      fix: deployment: {MAXMEMORY['edit']} (nself-redis fix --env staging writes it)"
        in human.stdout
    )
    assert "`nself-redis fix --env staging --write` writes docker-compose.override.yml" in human.stdout

    summary = tmp_path / "summary.md"
    github = doctor(
        "--redis-url",
        url(target),
        "--format",
        "github",
        project=project,
        env="staging",
        environ={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(tmp_path)},
    )
    (annotation,) = [
        item for item in github_annotations(github.stdout) if item["title"] == "config.setting.maxmemory"
    ]
    assert annotation["message"].endswith(
        f" — fix (deployment: {MAXMEMORY['edit']} (nself-redis fix --env staging writes it))"
    )
    text = summary.read_text()
    assert "| | check | message | source | fix |" in text
    assert "~~~yaml\n# nself-redis fix:" in text
    assert password not in github.stdout + text + human.stdout
