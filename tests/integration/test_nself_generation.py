"""Through the plugin: an nself 1.x project is read as 1.x, a forced generation is honoured,
and the terminal and the JUnit report say which generation was used and why."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.harness import COMPLETE, NSELF_14, assert_nothing_left, run_suites

NSELF_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"


def _properties(reports: Path, env: str) -> dict[str, str]:
    suite = ET.parse(reports / f"junit-{env}.xml").getroot().find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def test_a_1x_project_is_read_as_1x(tmp_path: Path, run_id: str) -> None:
    result = run_suites(
        NSELF_14,
        tmp_path,
        "--nself-target",
        "process",
        "-m",
        "health",
        "-k",
        "test_answers_ping",
        env={"NSELF_RUN_ID": run_id},
    )
    assert result.status == 0, result.explain()
    assert "nself 1.x (.nself/ folder)" in result.output
    properties = _properties(result.reports, "dev")
    assert properties["nself generation"] == "1.x (.nself/ folder)"
    assert properties["settings.REDIS_MEMORY"] == "512M (.env.local:3)"
    assert properties["settings.REDIS_PASSWORD"] == "******** (.env.secrets:3)"
    assert NSELF_14_PASSWORD not in result.output
    assert all(NSELF_14_PASSWORD not in path.read_text() for path in result.reports.iterdir())
    assert_nothing_left(run_id, docker=False)


def test_the_generation_can_be_forced_and_the_report_says_by_what(tmp_path: Path, run_id: str) -> None:
    result = run_suites(
        COMPLETE,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "health",
        "-k",
        "test_answers_ping",
        env={"NSELF_RUN_ID": run_id, "NSELF_VERSION": "1"},
    )
    assert result.status == 0, result.explain()
    properties = _properties(result.reports, "staging")
    assert properties["nself generation"] == "1.x (forced by NSELF_VERSION 1)"
    # 1.x loads .env.secrets in every env, and .env.dev never under staging
    assert properties["settings.REDIS_PASSWORD"] == "******** (.env.secrets:2)"
    assert properties["settings.REDIS_TIMEOUT"] == "300 (documented default)"
    assert_nothing_left(run_id, docker=False)
