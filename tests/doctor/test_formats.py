"""Every doctor format against real servers: each is valid for the program that reads it (a
Monitoring Plugins perfdata regex, GitHub's workflow-command syntax, prometheus_client's parser,
the health-check draft's keys, the JSON schema), a failing server maps to the right status in
each, and no secret reaches any of them, however its characters would be escaped."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.doctor.choices import FORMATS
from pytest_nself_redis.doctor.formats import Unavailable, render, render_unavailable
from pytest_nself_redis.doctor.formats.github import escape_data, escape_property
from pytest_nself_redis.doctor.runner import DoctorReport
from pytest_nself_redis.secrets import Redactor
from tests.conftest import Launcher
from tests.doctor.test_doctor import SCHEMA, doctor
from tests.harness import COMPLETE_WITHOUT_TLS, appended_line, make_project

# Monitoring Plugins guidelines: STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max] ...
NAGIOS_LINE = re.compile(
    r"^REDIS (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\r\n]+?)(?: \| (?P<perf>.+))?$"
)
NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
PERF_ITEM = re.compile(rf"^'[^'=]+'={NUMBER}(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;(?:{NUMBER})?){{0,4}}$")
NAGIOS_CODES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
# GitHub workflow commands: ::name key=value,...::message, data and properties escaped.
ANNOTATION = re.compile(
    r"^::(?P<kind>error|warning|notice)(?: (?P<props>[^\r\n]*?))?::(?P<message>[^\r\n]*)$"
)
PROPERTY = re.compile(r"^(?P<key>file|line|endLine|col|endColumn|title)=(?P<value>[^,:\r\n]*)$")
ESCAPED_PERCENT = re.compile(r"%(?!25|0D|0A|3A|2C)")
# draft-inadarei-api-health-check
HEALTH_TOP = {
    "status",
    "version",
    "releaseId",
    "notes",
    "output",
    "checks",
    "links",
    "serviceId",
    "description",
}
HEALTH_ENTRY = {
    "componentId",
    "componentType",
    "observedValue",
    "observedUnit",
    "status",
    "affectedEndpoints",
    "time",
    "output",
    "links",
}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")
# A password every format would escape: % (GitHub), : and , (GitHub properties), " and \ (JSON,
# Prometheus labels), | (the Nagios perfdata separator), = and ' (perfdata labels), { } (metrics).
HOSTILE = "Pw%25:a,b\"c\\d|e%0Af=g{h}'-4Kq9x"


def nagios_parts(stdout: str) -> tuple[str, str, list[str]]:
    (line,) = stdout.splitlines()
    found = NAGIOS_LINE.match(line)
    assert found, line
    items = found["perf"].split(" ") if found["perf"] else []
    for item in items:
        assert PERF_ITEM.match(item), f"not Monitoring Plugins perfdata: {item!r} in {line}"
    return found["state"], found["text"], items


def perf_item(items: list[str], label: str) -> list[str]:
    (item,) = [item for item in items if item.startswith(f"'{label}'=")]
    return item.split("=", 1)[1].split(";")


def github_annotations(stdout: str) -> list[dict[str, Any]]:
    found = []
    for line in stdout.splitlines():
        if not line.startswith("::"):
            continue
        match = ANNOTATION.match(line)
        assert match, line
        properties = {}
        for pair in (match["props"] or "").split(",") if match["props"] else []:
            prop = PROPERTY.match(pair)
            assert prop, f"{pair!r} in {line}"
            properties[prop["key"]] = prop["value"]
        assert not ESCAPED_PERCENT.search(match["message"]), line
        found.append({"kind": match["kind"], "message": match["message"], **properties})
    return found


SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
    r"(?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))$"
)


def textfile_families(text: str) -> dict[str, Any]:
    """The families prometheus_client parses, after checking what the textfile collector needs:
    one HELP and one TYPE per metric, before its samples, and no timestamps."""
    declared: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split(" ")[2]
            assert current not in declared, f"{current} declared twice"
            declared[current] = ["HELP"]
        elif line.startswith("# TYPE "):
            assert line.split(" ")[2] == current, line
            declared[current].append("TYPE")
        else:
            sample = SAMPLE.match(line)
            assert sample, f"not one sample without a timestamp: {line!r}"
            assert sample["name"] == current, f"{line!r} outside its family ({current})"
    assert all(parts == ["HELP", "TYPE"] for parts in declared.values()), declared
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families
    return families


def samples(families: dict[str, Any], name: str) -> list[Any]:
    family = families[name.removesuffix("_total")]
    return [sample for sample in family.samples if sample.name == name]


def health_document(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    assert set(document) <= HEALTH_TOP, set(document) - HEALTH_TOP
    assert document["status"] in ("pass", "warn", "fail")
    for key, entries in document["checks"].items():
        assert re.fullmatch(r"redis:[A-Za-z0-9_.-]+", key), key
        for entry in entries:
            assert set(entry) <= HEALTH_ENTRY, (key, set(entry) - HEALTH_ENTRY)
            assert entry["status"] in ("pass", "warn", "fail"), entry
            assert RFC3339.match(entry["time"]), entry
            assert ("output" in entry) == (entry["status"] != "pass"), entry
    return document


def run_all(url: str, project: Path = COMPLETE_WITHOUT_TLS, **environ: str) -> dict[str, Any]:
    """Doctor once per format (the github one with a step summary that already holds a line)."""
    summary = project.parent / f"summary-{time.monotonic_ns()}.md"
    summary.write_text("earlier step\n")
    runs: dict[str, Any] = {}
    for name in FORMATS:
        extra = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(project.parent)}
        env = {**environ, **(extra if name == "github" else {})}
        runs[name] = doctor("--redis-url", url, "--format", name, project=project, environ=env)
    runs["summary"] = summary.read_text()
    return runs


def test_every_format_of_a_healthy_server(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(tmp_path / "project", COMPLETE_WITHOUT_TLS)
    target = launch(project, "prod")
    password = target.endpoint.password.reveal()
    target.client().mset({f"order:{n}": "x" * 100 for n in range(10)})  # the app's keys, one prefix
    runs = run_all(f"redis://127.0.0.1:{target.endpoint.port}", project, NSELF_REDIS_PASSWORD=password)
    document = json.loads(runs["json"].stdout)
    jsonschema.validate(document, SCHEMA)
    assert document["totals"]["error"] == 0, runs["json"].stdout
    # Each format is read on its own: runs are separate, and their verdicts could differ.
    state, text, items = nagios_parts(runs["nagios"].stdout)
    assert runs["nagios"].returncode == NAGIOS_CODES[state], text
    memory = perf_item(items, "used_memory")
    assert memory[0].endswith("B")
    maxmemory = 256 * 1024 * 1024  # REDIS_MAXMEMORY=256mb in the example's prod
    assert memory[1:] == [str(int(maxmemory * 0.9)), str(maxmemory), "0", str(maxmemory)]
    assert perf_item(items, "connected_clients")[4] == "10000"  # max: maxclients
    assert perf_item(items, "evicted_keys")[0] == "0c"
    assert perf_item(items, "mem_fragmentation_ratio")[1] == "1.4"  # warn: MEMORY DOCTOR's threshold
    assert perf_item(items, "rejected_connections")[0] == "0c"
    assert perf_item(items, "blocked_clients")[0] == "0"
    p99 = perf_item(items, "latency_get_p99")
    assert p99[0].endswith("ms")
    assert p99[2] == "10"  # crit: the GET p99 budget of prod (ms)

    found = github_annotations(runs["github"].stdout)
    errors = [item for item in found if item["kind"] == "error"]
    assert runs["github"].returncode == (1 if errors else 0)
    assert runs["summary"].startswith("earlier step\n"), "the summary must be appended, not replaced"
    assert "### nself-redis doctor · env prod" in runs["summary"]
    passed = re.search(r"([0-9]+) ok</summary>", runs["summary"])
    assert passed, runs["summary"]
    assert runs["summary"].count("| ✅ |") == int(passed[1]) > 0

    families = textfile_families(runs["prometheus"].stdout)
    overall = samples(families, "nself_redis_doctor_status")[0].value
    assert runs["prometheus"].returncode == (1 if overall == 2 else 0)
    assert samples(families, "redis_up")[0].value == 1
    assert samples(families, "redis_memory_used_bytes")[0].value > 0
    assert samples(families, "redis_memory_max_bytes")[0].value == maxmemory
    assert samples(families, "redis_evicted_keys_total")[0].value == 0
    assert samples(families, "redis_mem_fragmentation_ratio")[0].value > 0
    used = samples(families, "redis_memory_used_bytes")[0].value
    assert samples(families, "redis_memory_used_peak_bytes")[0].value >= used
    (orders,) = samples(families, "nself_redis_keyspace_prefix_keys")
    assert (orders.labels["prefix"], orders.value) == ("order:", 10)
    assert samples(families, "nself_redis_keyspace_prefix_memory_bytes")[0].value > 10 * 100
    statuses = {s.labels["check"]: s.value for s in samples(families, "nself_redis_check_status")}
    assert statuses["health.ping"] == 0
    assert max(set(statuses.values()) - {3}) == overall
    assert samples(families, "nself_redis_doctor_duration_seconds")[0].value > 0
    latency = samples(families, "nself_redis_latency_seconds")
    assert {s.labels["command"] for s in latency} >= {"GET", "SET", "PING"}

    health = health_document(runs["health-json"].stdout)
    assert runs["health-json"].returncode == (1 if health["status"] == "fail" else 0)
    entries = [entry for key, found in health["checks"].items() if key.count(".") for entry in found]
    assert health["status"] == max((entry["status"] for entry in entries), key=["pass", "warn", "fail"].index)
    assert health["checks"]["redis:memory"][0]["observedUnit"] == "bytes"
    assert health["checks"]["redis:health.ping"][0]["status"] == "pass"
    assert {entry["componentId"] for entry in health["checks"]["redis:responseTime"]} >= {"GET", "SET"}

    assert runs["human"].returncode in (0, 1)
    for run in runs.values():
        shown = run if isinstance(run, str) else run.stdout + run.stderr
        assert password not in shown


def test_a_failing_check_maps_to_each_formats_failure(tmp_path: Path, launch: Launcher) -> None:
    """Queues run in prod: allkeys-lru there is an error, cited at the line that sets it."""
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.prod": "REDIS_MAXMEMORY_POLICY=allkeys-lru"},
    )
    line = appended_line(".env.prod")
    target = launch(project, "prod")
    password = target.endpoint.password.reveal()
    runs = run_all(f"redis://127.0.0.1:{target.endpoint.port}", project, NSELF_REDIS_PASSWORD=password)
    assert runs["json"].returncode == 1
    assert json.loads(runs["json"].stdout)["status"] == "error"

    state, text, _ = nagios_parts(runs["nagios"].stdout)
    assert (state, runs["nagios"].returncode) == ("CRITICAL", 2)
    assert "Eviction policy is allkeys-lru" in text

    assert runs["github"].returncode == 1
    found = github_annotations(runs["github"].stdout)
    assert found[0]["kind"] == "error", "errors first: GitHub shows a step's first few annotations"
    (error,) = [item for item in found if item["kind"] == "error"]
    assert error["title"] == "queue.eviction_policy"
    assert (error["file"], error["line"]) == ("project/.env.prod", str(line))
    assert "| ❌ | `queue.eviction_policy` |" in runs["summary"]

    assert runs["prometheus"].returncode == 1
    families = textfile_families(runs["prometheus"].stdout)
    statuses = {s.labels["check"]: s.value for s in samples(families, "nself_redis_check_status")}
    assert statuses["queue.eviction_policy"] == 2
    assert samples(families, "nself_redis_doctor_status")[0].value == 2

    assert runs["health-json"].returncode == 1
    health = health_document(runs["health-json"].stdout)
    assert health["status"] == "fail"
    assert health["checks"]["redis:queue.eviction_policy"][0]["status"] == "fail"
    assert "Eviction policy is allkeys-lru" in health["output"]


def test_a_server_without_the_promised_password_is_unavailable_in_each(
    tmp_path: Path, launch: Launcher
) -> None:
    """The env promises a password the server does not have: doctor cannot look, and says so in
    each format's own way."""
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.secrets": f"REDIS_PASSWORD={HOSTILE}"}
    )
    target = launch(project, "prod", REDIS_PASSWORD="")
    assert not target.endpoint.password
    runs = run_all(f"redis://127.0.0.1:{target.endpoint.port}", project, NSELF_REDIS_PASSWORD=HOSTILE)
    message = "has no password, but one was given"
    assert runs["human"].returncode == runs["json"].returncode == 2
    assert message in runs["human"].stderr
    assert runs["json"].stdout == ""
    state, text, _ = nagios_parts(runs["nagios"].stdout)
    assert (state, runs["nagios"].returncode) == ("UNKNOWN", 3)
    assert message in text
    assert runs["github"].returncode == 2
    (error,) = github_annotations(runs["github"].stdout)
    assert (error["kind"], error["title"]) == ("error", "nself-redis doctor")
    assert "could not check Redis" in runs["summary"]
    assert runs["prometheus"].returncode == 2
    families = textfile_families(runs["prometheus"].stdout)
    assert samples(families, "redis_up")[0].value == 0
    assert samples(families, "nself_redis_doctor_status")[0].value == 3
    assert runs["health-json"].returncode == 2
    health = health_document(runs["health-json"].stdout)
    assert health["status"] == "fail"
    assert message in health["output"]
    for run in runs.values():
        shown = run if isinstance(run, str) else run.stdout + run.stderr
        assert HOSTILE not in shown
        assert "Kq9x" not in shown


def test_a_hostile_password_never_reaches_a_format(tmp_path: Path, launch: Launcher) -> None:
    project = make_project(
        tmp_path / "project", COMPLETE_WITHOUT_TLS, env_files={".env.secrets": f"REDIS_PASSWORD={HOSTILE}"}
    )
    target = launch(project, "prod")
    assert target.endpoint.password.reveal() == HOSTILE
    runs = run_all(f"redis://127.0.0.1:{target.endpoint.port}", project, NSELF_REDIS_PASSWORD=HOSTILE)
    assert runs["json"].returncode in (0, 1), runs["json"].stderr
    for name, run in runs.items():
        shown = run if isinstance(run, str) else run.stdout + run.stderr
        for form in forms(HOSTILE):
            assert form not in shown, (name, form)


def forms(secret: str) -> set[str]:
    """The secret as each format would escape it."""
    label = secret.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return {
        secret,
        json.dumps(secret)[1:-1],
        escape_data(secret),
        escape_property(secret),
        label,
        secret.replace("|", "/"),
        "Kq9x",  # a piece no escaping changes
    }


def report_full_of(secret: str) -> DoctorReport:
    """A report with the secret everywhere a format reads text from."""
    report = DoctorReport(
        f"prod-{secret}",
        f"attach redis://:{secret}@127.0.0.1:6379/0",
        f"7.0.15-{secret}",
        redactor=Redactor([secret]),
        info={"used_memory": 1000, "maxmemory": 0, "connected_clients": 1, "evicted_keys": 0},
    )
    for status in (Status.OK, Status.WARNING, Status.ERROR, Status.SKIPPED):
        report.results.append(
            CheckResult(
                f"health.check_{status.value}",
                "health",
                status,
                f"saw {secret} here",
                f".env.prod:7 ({secret})",
                {secret: [secret], "command": secret, "percentiles_ms": {"p50": 1.0}},
            )
        )
    report.results.append(
        CheckResult(
            "latency.get",
            "latency",
            Status.OK,
            f"GET {secret}",
            None,
            {"command": f"GET{secret}", "percentiles_ms": {"p50": 0.1, "p99": 0.2}},
        )
    )
    report.warnings.append(f"warning about {secret}")
    return report


@pytest.mark.parametrize("name", FORMATS)
def test_each_format_scrubs_before_it_escapes(name: str) -> None:
    """A secret holding what the format escapes would slip past a scrub done afterwards."""
    report = report_full_of(HOSTILE)
    rendered = render(name, report)
    shown = rendered.stdout + rendered.stderr + (rendered.step_summary or "")
    for form in forms(HOSTILE):
        assert form not in shown, form
    problem = Unavailable(f"cannot reach redis://:{HOSTILE}@host ({HOSTILE})", Redactor([HOSTILE]), "prod")
    rendered = render_unavailable(name, problem)
    shown = rendered.stdout + rendered.stderr + (rendered.step_summary or "")
    for form in forms(HOSTILE):
        assert form not in shown, form


def test_output_file_is_replaced_atomically(tmp_path: Path, launch: Launcher) -> None:
    """--output writes under a temporary name in the same directory, then renames: the collector
    never sees a partial file, and nothing is left beside the result."""
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    collector = tmp_path / "textfile"
    collector.mkdir()
    output = collector / "nself_redis.prom"
    output.write_text("# an older file\n")
    completed = doctor(
        "--redis-url",
        f"redis://127.0.0.1:{target.endpoint.port}",
        "--format",
        "prometheus",
        "--output",
        str(output),
        environ={"NSELF_REDIS_PASSWORD": password},
    )
    assert completed.returncode in (0, 1), completed.stderr
    assert completed.stdout == ""
    assert [path.name for path in collector.iterdir()] == ["nself_redis.prom"]
    assert oct(output.stat().st_mode & 0o777) == "0o644"
    assert samples(textfile_families(output.read_text()), "redis_up")[0].value == 1
    missing = doctor(
        "--redis-url",
        "redis://127.0.0.1:1",
        "--format",
        "prometheus",
        "--output",
        str(tmp_path / "no" / "x.prom"),
    )
    assert missing.returncode == 2
    assert "--output" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_json_and_nagios_stay_aliases_of_one_format() -> None:
    both = doctor("--json", "--format", "nagios")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr
    bad = doctor("--format", "xml")
    assert bad.returncode == 2
    assert "invalid choice: 'xml'" in bad.stderr


def test_skips_for_one_reason_are_said_once() -> None:
    """Five sentinel checks skipped because no deployment is reachable: one line names all five;
    a skip for another reason, and the JSON's one entry per check, stay as they are."""
    report = DoctorReport("prod", "attach 127.0.0.1:6379", "7.0.15")
    reason = "Sentinel is promised (REDIS_SENTINEL_ENABLED=true (.env.prod:19)) but none is reachable"
    ids = [f"sentinel.check_{number}" for number in range(5)]
    report.results += [CheckResult(check_id, "sentinel", Status.SKIPPED, reason) for check_id in ids]
    report.results.append(CheckResult("sentinel.other", "sentinel", Status.SKIPPED, "another reason"))
    lines = render("human", report).stdout.splitlines()
    folded = [line for line in lines if reason in line]
    assert folded == [f"  ○ {reason} (for 5 checks: {', '.join(ids)})"]
    assert "  ○ another reason" in lines
    assert len(json.loads(render("json", report).stdout)["checks"]) == 6
