"""JUnit XML per env, readable by any CI, with the env table as properties.

pytest's own ``--junitxml`` writes one file per run; a run over several envs
needs one file each, so the harness writes its own (same schema).
"""

from __future__ import annotations

import platform
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pytest_nself_redis.reporting.environment import EnvReport


@dataclass
class CaseRecord:
    """One test's outcome, already redacted."""

    classname: str
    name: str
    suite: str
    outcome: str  # passed, failed, error, skipped
    duration: float
    message: str = ""
    details: str = ""
    system_out: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def _flatten(rows: dict[str, str | dict[str, str]]) -> list[tuple[str, str]]:
    flat: list[tuple[str, str]] = []
    for key, value in rows.items():
        if isinstance(value, dict):
            flat.extend((f"{key}.{inner}", text) for inner, text in value.items())
        else:
            flat.append((key, value))
    return flat


def _clean(text: str) -> str:
    # XML 1.0 forbids most control characters; keep tabs and newlines.
    return "".join(ch if ch in "\t\n\r" or ord(ch) >= 32 else "?" for ch in text)


def write_junit(path: Path, report: EnvReport, cases: Sequence[CaseRecord]) -> None:
    suites = ET.Element("testsuites", name=f"nself-redis {report.env}")
    counts = {key: sum(1 for case in cases if case.outcome == key) for key in ("failed", "error", "skipped")}
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"nself-redis-{report.env}",
        tests=str(len(cases)),
        failures=str(counts["failed"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{sum(case.duration for case in cases):.3f}",
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        hostname=socket.gethostname(),
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in [*_flatten(report.rows()), ("python", platform.python_version())]:
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    for case in cases:
        element = ET.SubElement(
            suite, "testcase", classname=case.classname, name=case.name, time=f"{case.duration:.3f}"
        )
        case_properties = {"suite": case.suite, **case.properties}
        props = ET.SubElement(element, "properties")
        for name, value in case_properties.items():
            ET.SubElement(props, "property", name=name, value=_clean(value))
        if case.outcome in ("failed", "error", "skipped"):
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[case.outcome]
            detail = ET.SubElement(element, tag, message=_clean(case.message[:1000]))
            detail.text = _clean(case.details)
        if case.system_out:
            ET.SubElement(element, "system-out").text = _clean(case.system_out)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
