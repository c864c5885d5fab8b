"""Property tests: two generated redis services merge exactly as Compose documents it, and
every merged value cites the file that set it. The expected result comes from a small
model of the documented rules, written independently of the merge code."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nself_redis.compose.service import load_compose_service

WORD = st.sampled_from(["a", "b", "c", "redis", "x1", "yes", "no-op"])
NAMES = st.sampled_from(["A", "B", "C", "D"])
TARGETS = st.sampled_from(["/data", "/etc/redis", "/tls", "/x"])
SOURCES = st.sampled_from(["redis_data", "other", "./conf", "./y"])
HOST_PORTS = st.sampled_from([6379, 6380, 16379])
HOST_IPS = st.sampled_from(["127.0.0.1", "0.0.0.0", "[::1]"])
CAPS = st.sampled_from(["ALL", "NET_RAW", "SYS_ADMIN", "CHOWN"])
SIZES = st.sampled_from(["256M", "512M", "1g", "1024", "64k"])
CPUS = st.sampled_from(["0.5", "1", "2.25"])
DURATIONS = st.sampled_from(["1s", "10s", "1m30s", "500ms"])


@st.composite
def services(draw: st.DrawFn) -> dict[str, Any]:
    """A redis service with any subset of the attributes whose merge rules differ."""
    service: dict[str, Any] = {}
    optional = {
        "image": st.builds(lambda tag: f"redis:{tag}", WORD),
        "user": st.sampled_from(["999:999", "1000", "redis"]),
        "command": st.one_of(
            st.lists(WORD, min_size=1, max_size=4).map(lambda words: ["redis-server", *words]),
            st.lists(WORD, max_size=4).map(lambda words: " ".join(["redis-server", *words])),
        ),
        "environment": st.one_of(
            st.dictionaries(NAMES, WORD, max_size=4),
            st.dictionaries(NAMES, WORD, max_size=4).map(lambda env: [f"{k}={v}" for k, v in env.items()]),
        ),
        "volumes": st.lists(st.builds(lambda s, t: f"{s}:{t}", SOURCES, TARGETS), max_size=4),
        "ports": st.lists(st.builds(lambda ip, port: f"{ip}:{port}:6379", HOST_IPS, HOST_PORTS), max_size=4),
        "cap_drop": st.lists(CAPS, max_size=4),
        "security_opt": st.lists(st.sampled_from(["no-new-privileges:true", "label:disable"]), max_size=3),
        "deploy": st.fixed_dictionaries({}, optional={"memory": SIZES, "cpus": CPUS}).map(
            lambda limits: {"resources": {"limits": limits}}
        ),
        "healthcheck": st.fixed_dictionaries(
            {},
            optional={
                "test": st.lists(WORD, min_size=1, max_size=3).map(lambda words: ["CMD", *words]),
                "interval": DURATIONS,
                "timeout": DURATIONS,
                "retries": st.integers(0, 9),
            },
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            service[key] = draw(strategy)
    return service


def _environment(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return dict(item.split("=", 1) for item in value)
    return dict(value or {})


def _one_per(items: list[str], key: Any) -> list[str]:
    kept: dict[Any, str] = {}
    for item in items:
        kept[key(item)] = item  # an existing key keeps its place, takes the later item
    return list(kept.values())


def expected(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """The documented rules: scalars and shell commands replaced, environment by name,
    volumes by target, ports by {ip, published, target}, cap_drop by value, other
    sequences appended, mappings (deploy limits, healthcheck) key by key."""

    def later(key: str) -> Any:
        return over.get(key, base.get(key))

    def limits(service: dict[str, Any]) -> dict[str, str]:
        return dict(service.get("deploy", {}).get("resources", {}).get("limits", {}))

    return {
        "image": later("image") or "redis:base",
        "user": later("user"),
        "command": later("command"),
        "environment": {**_environment(base.get("environment")), **_environment(over.get("environment"))},
        "volumes": _one_per([*base.get("volumes", []), *over.get("volumes", [])], lambda v: v.split(":")[1]),
        "ports": _one_per(
            [*base.get("ports", []), *over.get("ports", [])], lambda p: tuple(p.rsplit(":", 2)[:2])
        ),
        "cap_drop": _one_per([*base.get("cap_drop", []), *over.get("cap_drop", [])], lambda c: c),
        "security_opt": [*base.get("security_opt", []), *over.get("security_opt", [])],
        "limits": {**limits(base), **limits(over)},
        "healthcheck": {**base.get("healthcheck", {}), **over.get("healthcheck", {})},
    }


def _write(directory: Path, name: str, service: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump({"services": {"redis": service}}))
    return path


@settings(max_examples=150, deadline=None)
@given(base=services(), over=services())
def test_two_services_merge_as_compose_documents(base: dict[str, Any], over: dict[str, Any]) -> None:
    base = {"image": "redis:base", **base}
    want = expected(base, over)
    with tempfile.TemporaryDirectory() as folder:
        paths = [_write(Path(folder), "a.yml", base), _write(Path(folder), "b.yml", over)]
        service = load_compose_service(paths, {})
    runtime = service.runtime
    assert service.image == want["image"]
    assert service.user == want["user"]
    command = want["command"]
    if command is None:
        assert service.command == ("redis-server",)
    else:
        assert list(service.command) == (command if isinstance(command, list) else command.split())
        assert service.command_source.name == ("b.yml" if "command" in over else "a.yml")
    assert dict(service.environment) == want["environment"]
    assert list(service.volumes) == want["volumes"]
    assert [port.text for port in service.ports] == want["ports"]
    assert [value.text for value in runtime.cap_drop] == want["cap_drop"]
    assert [value.text for value in runtime.security_opt] == want["security_opt"]
    memory, cpus = runtime.deploy_memory, runtime.deploy_cpus
    assert (memory.text if memory else None) == want["limits"].get("memory")
    assert (cpus.text if cpus else None) == want["limits"].get("cpus")
    for found, key in ((memory, "memory"), (cpus, "cpus")):
        if found is not None:
            in_over = key in over.get("deploy", {}).get("resources", {}).get("limits", {})
            assert found.source.name == ("b.yml" if in_over else "a.yml")
    health = runtime.healthcheck
    if not want["healthcheck"] and "healthcheck" not in base and "healthcheck" not in over:
        assert health is None
        return
    assert health is not None
    want_health = want["healthcheck"]
    assert (list(health.test) if health.test else None) == want_health.get("test")
    assert (health.interval.text if health.interval else None) == want_health.get("interval")
    assert (health.timeout.text if health.timeout else None) == want_health.get("timeout")
    assert (health.retries.value if health.retries else None) == want_health.get("retries")


@settings(max_examples=80, deadline=None)
@given(service=services())
def test_one_file_reads_the_same_alone_and_merged_onto_an_empty_service(service: dict[str, Any]) -> None:
    service = {"image": "redis:base", **service}
    with tempfile.TemporaryDirectory() as folder:
        alone = load_compose_service(_write(Path(folder), "a.yml", service), {})
        paths = [_write(Path(folder), "a.yml", service), _write(Path(folder), "b.yml", {})]
        merged = load_compose_service(paths, {})
    assert (alone.image, alone.command, alone.volumes, alone.environment) == (
        merged.image,
        merged.command,
        merged.volumes,
        merged.environment,
    )
    assert [port.text for port in alone.ports] == [port.text for port in merged.ports]
    assert alone.runtime == merged.runtime
