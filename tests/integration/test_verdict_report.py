"""The HTML report opens with the verdict: pass or fail per env, failures by layer, and a fix
list ordered by consequence whose items link to their tests; seen in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

from tests.browser import browse, count_colour, png_pixels, png_size
from tests.harness import NSELF_099, NSELF_14, RunResult, assert_nothing_left, run_cli, run_suites

RANKS = {"data loss": 0, "security": 1, "availability": 2, "tuning": 3}
ITEM = re.compile(
    r'<li class="nself-fix (?P<outcome>\w+)">.*?\[(?P<label>[^\]]+)\].*?href="#(?P<anchor>[^"]+)"'
)
# The colours the verdict paints: a failing verdict's frame, data loss and tuning labels.
FAIL_RED, TUNING_BLUE, SECURITY_ORANGE = (176, 0, 32), (58, 90, 120), (179, 92, 0)


def run(project: Path, cwd: Path, envs: str, suites: str, run_id: str) -> RunResult:
    cwd.mkdir()
    return run_suites(
        project,
        cwd,
        "--nself-env",
        envs,
        "--nself-target",
        "process",
        "-m",
        suites,
        env={"NSELF_RUN_ID": run_id},
    )


def test_the_report_opens_with_the_verdict_and_what_to_fix_first(tmp_path: Path, run_id: str) -> None:
    project = tmp_path / "nself-1.4"
    shutil.copytree(NSELF_14, project)
    result = run(project, tmp_path / "run", "staging", "config or auth", run_id)
    assert result.status == 1
    page = result.reports / "report-staging.html"
    text = page.read_text()
    assert text.index('id="nself-verdict"') < text.index("<h2>Environment</h2>")
    assert "Verdict: staging: FAIL (7 failed, 18 passed, 2 skipped)" in text
    layers = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td></tr>", text)
    assert layers == [("env", "1"), ("deployment", "6"), ("server", "0"), ("host", "0")]

    items = ITEM.findall(text.split('<ol id="nself-fix-first">')[1].split("</ol>")[0])
    assert len(items) == 8  # 7 failures and the healthcheck's warning
    failed = [RANKS[label] for outcome, label, _ in items if outcome == "failed"]
    assert failed == sorted(failed)
    assert [label for _, label, _ in items][:2] == ["data loss", "security"]
    assert items[-1][:2] == ("warning", "security · warning")
    anchors = [unquote(anchor) for _, _, anchor in items]
    blob = json.loads(html.unescape(re.search(r'data-jsonblob="(.*?)"', text).group(1)))  # type: ignore[union-attr]
    assert set(anchors) <= set(blob["tests"])  # each item links to its test's row
    assert "<code>nself-redis fix --env staging</code> prints a compose override that closes 6" in text
    printed = run_cli(["fix", "--env", "staging", "--project", str(project)], tmp_path)
    assert html.escape(printed.stdout) in text  # the override itself, folded under the list
    assert "CVZuM9eCXed6Kd6zkVGldHqlxYcb" not in text  # the example's password

    assert "staging: FAIL (7 failed, 18 passed, 2 skipped)" in result.output
    assert "  1. [data loss] config.setting.save — deployment: add --save '900 1'" in result.output
    case = next(
        case
        for case in ET.parse(result.reports / "junit-staging.xml").getroot().iter("testcase")
        if case.get("name") == "test_setting_reaches_the_server[save]"
    )
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["check"] == "config.setting.save"
    assert properties["remedy.layer"] == "deployment"

    dom = browse(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for anchor in anchors:  # pytest-html's script drew a row with that id for every link
        assert f'id="{html.escape(anchor)}"' in dom.stdout, anchor
    shot_path = tmp_path / "verdict.png"
    shot = browse(page, f"--screenshot={shot_path}", "--window-size=1280,900", "--hide-scrollbars")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png_size(shot_path) == (1280, 900)
    if keep := os.environ.get("NSELF_KEEP_SCREENSHOT"):
        shutil.copy(shot_path, keep)
    pixels = png_pixels(shot_path)
    assert count_colour(pixels, FAIL_RED) > 5000  # the verdict's frame and headline, on top
    assert count_colour(pixels[:120], FAIL_RED) > 1000  # within the first 120 rows: it opens the page
    assert count_colour(pixels, TUNING_BLUE) > 100  # the fix list's tuning labels were drawn
    assert count_colour(pixels, SECURITY_ORANGE) > 100
    assert_nothing_left(run_id, docker=False)


def test_each_env_has_its_own_verdict(tmp_path: Path, run_id: str) -> None:
    """The override is written for staging: staging passes, dev (maxmemory 256mb) still fails."""
    project = tmp_path / "nself-0.9.9"
    shutil.copytree(NSELF_099, project)
    fixed = run_cli(["fix", "--env", "staging", "--project", str(project), "--write"], tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    result = run(project, tmp_path / "run", "dev,staging", "config", run_id)
    assert result.status == 1
    assert "staging: PASS (0 failed, 13 passed, 0 skipped)" in result.output
    assert "dev: FAIL (1 failed, 12 passed, 0 skipped)" in result.output
    staging = (result.reports / "report-staging.html").read_text()
    assert "Verdict: staging: PASS" in staging
    assert "Every env of this run: dev: FAIL · staging: pass" in staging
    assert 'id="nself-fix-first"' not in staging
    dev = (result.reports / "report-dev.html").read_text()
    assert "Verdict: dev: FAIL" in dev
    assert (
        "<code>config.setting.maxmemory</code></a> — deployment: set --maxmemory 256mb instead of "
        "--maxmemory 512mb in the redis command (docker-compose.override.yml:10) "
        "(nself-redis fix --env dev writes it)"
    ) in dev
    assert_nothing_left(run_id, docker=False)
