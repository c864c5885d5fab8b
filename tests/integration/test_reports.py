"""What the reports hold: env table, per-suite summary, failures with the server's evidence,
warnings, and nothing secret."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.harness import NSELF_099, run_suites


def html_data(path: Path) -> dict[str, Any]:
    match = re.search(r'data-jsonblob="(.*?)"', path.read_text())
    assert match, "pytest-html data blob not found"
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def test_reports_of_a_failing_run(tmp_path: Path) -> None:
    result = run_suites(
        NSELF_099,
        tmp_path,
        "--nself-env",
        "staging",
        "--nself-target",
        "process",
        "-m",
        "health or config or auth",
    )
    assert result.status == 1
    root = ET.parse(result.reports / "junit-staging.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    properties = {
        p.get("name", ""): p.get("value", "")
        for p in suite.iter("property")
        if p.get("name", "").split(".")[0] in ("env", "target", "server version", "settings")
    }
    assert properties["env"] == "staging"
    assert properties["server version"].startswith("7.")
    assert properties["target"].startswith("process ")
    assert properties["settings.REDIS_MAXMEMORY"] == "512mb (.env.staging:2)"
    assert properties["settings.REDIS_PASSWORD"] == "******** (.env.staging:1)"
    failures = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert len(failures) == 7
    evidence = failures[0].findtext("system-out") or ""
    assert "nself-redis server log (tail)" in evidence
    assert "nself-redis INFO summary" in evidence
    assert "maxmemory_policy: noeviction" in evidence
    warned = [
        case
        for case in suite.iter("testcase")
        if any(p.get("name") == "warning.1" for p in case.iter("property"))
    ]
    assert [case.get("name") for case in warned] == ["test_healthcheck_keeps_password_off_the_command_line"]

    page = result.reports / "report-staging.html"
    data = html_data(page)
    environment = data["environment"]
    assert environment["env"] == "staging"
    assert environment["settings"]["REDIS_MAXMEMORY"] == "512mb (.env.staging:2)"
    assert "warnings" in environment  # .env.runtime disagrees with the cascade
    text = page.read_text()
    assert 'id="nself-suite-summary"' in text
    assert "Warnings (promises kept only in part)" in text
    assert '<script src="http' not in text
    assert '<link rel="stylesheet" href="http' not in text
