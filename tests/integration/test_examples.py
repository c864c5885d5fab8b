"""Each example's README says what the harness reports on it; these tests hold it to that."""

from __future__ import annotations

import re
from pathlib import Path

from tests.harness import NSELF_14, assert_nothing_left, run_suites

NSELF_14_PASSWORD = "CVZuM9eCXed6Kd6zkVGldHqlxYcb"  # written in examples/nself-1.4's compose file
EXPECTED_SECTION = "## What the harness is expected to report here"
# A row of the README's table: | suite | `test name` | why |
ROW = re.compile(r"^\| (\w+) \| `(test_[^`]+)` \|", re.MULTILINE)


def expected_failures(readme: Path) -> dict[str, str]:
    """The failing tests the README lists (test name -> suite), from its expected-report section."""
    text = readme.read_text(encoding="utf-8")
    section = text[text.index(EXPECTED_SECTION) :]
    following = section.find("\n## ", len(EXPECTED_SECTION))
    section = section if following < 0 else section[:following]
    return {name: suite for suite, name in ROW.findall(section)}


def test_the_readme_table_is_read() -> None:
    listed = expected_failures(NSELF_14 / "README.md")
    assert len(listed) == 13, listed
    assert listed["test_container_survives_a_fill"] == "headroom"
    assert listed["test_setting_reaches_the_server[maxclients]"] == "config"


def test_nself_14_fails_exactly_what_its_readme_lists(
    tmp_path: Path, run_id: str, docker_engine: None
) -> None:
    """Every bundled suite on the docker target (about two minutes)."""
    result = run_suites(NSELF_14, tmp_path, "--nself-target", "docker", env={"NSELF_RUN_ID": run_id})
    assert result.status == 1, result.output[-3000:]
    outcomes = result.outcomes("dev")
    failed = sorted(name for name, outcome in outcomes.items() if outcome in ("failed", "error"))
    assert failed == sorted(expected_failures(NSELF_14 / "README.md")), result.output[-3000:]
    assert NSELF_14_PASSWORD not in result.output
    assert all(NSELF_14_PASSWORD not in path.read_text() for path in result.reports.iterdir())
    assert_nothing_left(run_id, docker=True)
