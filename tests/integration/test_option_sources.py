"""Where a plugin option's value comes from: the command line, then a non-blank environment
variable, then the ini file; what uses the value and what names its source agree on that order."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.harness import COMPLETE, assert_nothing_left, run_pytest

PING = ("--pyargs", "pytest_nself_redis.suites", "-m", "health", "-k", "test_answers_ping")


def test_blank_variables_leave_the_ini_values_and_the_ini_is_named(tmp_path: Path, run_id: str) -> None:
    """A relative ini ``nself_project`` is read from the ini file's folder, also when the run
    starts in a subfolder with NSELF_PROJECT set blank (it was looked for in the subfolder)."""
    root = tmp_path / "root"
    shutil.copytree(COMPLETE, root / "project")
    (root / "pytest.ini").write_text("[pytest]\nnself_project = project\nnself_version = 1\n")
    (root / "sub").mkdir()
    result = run_pytest(
        [*PING, "--nself-env", "staging", "--nself-target", "process"],
        root / "sub",
        env={"NSELF_RUN_ID": run_id, "NSELF_PROJECT": "  ", "NSELF_VERSION": " "},
    )
    assert result.status == 0, result.explain()
    suite = ET.parse(result.reports / "junit-staging.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
    assert properties["nself generation"] == "1.x (forced by ini nself_version 1)"
    assert_nothing_left(run_id, docker=False)
