"""Property tests: arbitrary input never gives a traceback, only a value or a clear
error that names the file and line."""

from __future__ import annotations

import re
import string
from pathlib import Path
from urllib.parse import unquote

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pytest_nself_redis.compose.interpolate import MAX_NESTING, InterpolationError, interpolate
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.compose.yaml_reader import MAX_DEPTH
from pytest_nself_redis.errors import ComposeError, ProjectError
from pytest_nself_redis.live.url import endpoint_from_url
from pytest_nself_redis.project.envfile import EnvEntry, EnvFileError, parse_env_text, read_env_file
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import SETTING_KEYS, settings_from_env
from pytest_nself_redis.project.sizes import parse_redis_size
from pytest_nself_redis.secrets import MASK, Redactor, redact_url

ENV = Path("/project/.env.prod")
LOCATED = re.compile(r"^\.env\.prod:(\d+): \S")
KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
SAFE_VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-_.:/@$%{}", max_size=30)
env_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.builds(lambda k, v: f"{k}={v}", KEYS, st.text(max_size=20)),
        st.builds(lambda k, v: f'export {k}="{v}"', KEYS, st.text(max_size=20)),
        st.sampled_from(["# comment", "", "   ", "A='x", 'B="y', "=", "==", "export", "x y=z"]),
    ),
    max_size=12,
)


@given(env_lines)
def test_any_env_text_gives_values_or_a_located_error(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        env = parse_env_text(text, ENV)
    except EnvFileError as error:
        match = LOCATED.match(str(error))
        assert match, str(error)
        assert 1 <= int(match.group(1)) <= text.count("\n") + 1
        return
    for entry in env.entries.values():
        assert entry.source.line is not None
        assert "\x00" not in entry.value


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_give_values_or_a_located_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / ".env.prod"
    path.write_bytes(data)
    try:
        read_env_file(path)
    except EnvFileError as error:
        assert LOCATED.match(str(error)), str(error)


@given(st.dictionaries(KEYS, SAFE_VALUE, max_size=8), st.sampled_from(["", "'", '"']))
def test_written_values_read_back(values: dict[str, str], quote: str) -> None:
    text = "\n".join(f"{key}={quote}{value}{quote}" for key, value in values.items())
    parsed = parse_env_text(text, ENV)
    assert {key: entry.value for key, entry in parsed.entries.items()} == values


@given(st.text(max_size=60), st.dictionaries(KEYS, st.text(max_size=10), max_size=5))
def test_any_compose_string_interpolates_or_names_the_place(text: str, variables: dict[str, str]) -> None:
    try:
        result = interpolate(text, variables, "docker-compose.yml:3")
    except InterpolationError as error:
        assert str(error).startswith("docker-compose.yml:3: ")
        return
    assert isinstance(result, str)


@given(st.text(max_size=60))
def test_escaped_dollars_come_back_unchanged(text: str) -> None:
    assert interpolate(text.replace("$", "$$"), {}, "f:1") == text


@given(st.text(max_size=20))
def test_any_size_text_is_a_size_or_a_value_error(text: str) -> None:
    try:
        value = parse_redis_size(text)
    except ValueError as error:
        assert "size" in str(error) or "larger" in str(error)
        return
    assert 0 <= value < 2**64


@given(
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(
        [
            ("", 1),
            ("k", 1000),
            ("kb", 1024),
            ("m", 10**6),
            ("MB", 1024**2),
            ("g", 10**9),
            ("Gb", 1024**3),
            ("b", 1),
        ]
    ),
)
def test_sizes_multiply_as_redis_does(number: int, unit: tuple[str, int]) -> None:
    suffix, factor = unit
    assert parse_redis_size(f"{number}{suffix}") == number * factor


@given(st.dictionaries(st.sampled_from(SETTING_KEYS), st.text(max_size=12), max_size=6))
def test_any_setting_values_give_settings_or_a_located_error(values: dict[str, str]) -> None:
    entries = {
        key: EnvEntry(key, value, Source(ENV, line))
        for line, (key, value) in enumerate(values.items(), start=1)
    }
    try:
        settings_from_env("prod", entries)
    except ProjectError as error:
        for problem in str(error).splitlines()[1:]:
            assert re.search(r"\(\.env\.prod:\d+\): ", problem), problem


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.text(max_size=120))
def test_any_compose_text_gives_a_service_or_a_compose_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(f"services:\n  redis:\n    image: redis:7-alpine\n{text}", encoding="utf-8")
    try:
        load_compose_service(path, {"REDIS_PASSWORD": "x"})
    except ComposeError as error:
        assert str(error).startswith("docker-compose.yml")


PASSWORD = st.text(min_size=1, max_size=30).filter(lambda text: "\x00" not in text)


@given(password=PASSWORD, user=st.sampled_from(["", "app"]), port=st.integers(1, 65535))
def test_a_url_password_is_never_shown_and_always_read_whole(password: str, user: str, port: int) -> None:
    url = f"rediss://{user}:{password}@127.0.0.1:{port}/0"
    assert redact_url(url) == f"rediss://{user}:{MASK}@127.0.0.1:{port}/0"
    endpoint = endpoint_from_url(url)
    assert endpoint.password.reveal() == unquote(password)
    assert (endpoint.host, endpoint.port) == ("127.0.0.1", port)


@given(st.text(max_size=80))
def test_redact_url_never_raises(text: str) -> None:
    assert isinstance(redact_url(text), str)
    assert isinstance(Redactor().scrub(text), str)


# Any value YAML can hold, for any place of the compose file.
YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
SERVICE_KEYS = (
    *("image", "command", "user", "volumes", "ports", "environment", "healthcheck", "deploy", "mem_limit"),
    *("cpus", "pids_limit", "read_only", "tmpfs", "cap_add", "cap_drop", "security_opt", "ulimits"),
    *("sysctls", "labels", "dns"),
)
REDIS_SERVICE = "services:\n  redis:\n    image: redis:7-alpine\n"


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text, encoding="utf-8")
    load_compose_service(path, {"REDIS_PASSWORD": "x"})


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(place=st.sampled_from(("document", "services", "redis", *SERVICE_KEYS)), value=YAML_VALUES)
def test_any_shape_anywhere_gives_a_service_or_a_located_compose_error(
    tmp_path: Path, place: str, value: object
) -> None:
    service: dict[str, object] = {"image": "redis:7-alpine", "command": "redis-server --port 6379"}
    document: object = {"services": {"redis": service}}
    if place == "document":
        document = value
    elif place == "services":
        document = {"services": value}
    elif place == "redis":
        document = {"services": {"redis": value}}
    else:
        service[place] = value
    try:
        _load(tmp_path, yaml.safe_dump(document))
    except ComposeError as error:
        assert str(error).startswith("docker-compose.yml"), str(error)
        assert "LineDict" not in str(error), str(error)
        assert "LineList" not in str(error), str(error)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(key=YAML_VALUES.filter(lambda value: isinstance(value, (list, dict))), depth=st.integers(0, 4))
def test_a_list_or_mapping_as_a_key_names_its_line(tmp_path: Path, key: object, depth: int) -> None:
    flow = yaml.safe_dump(key, default_flow_style=True, width=10**6).strip()
    nesting = "".join("    " + "  " * level + f"k{level}:\n" for level in range(depth))
    indent = "    " + "  " * depth
    try:
        _load(tmp_path, f"{REDIS_SERVICE}{nesting}{indent}? {flow}\n{indent}: 1\n")
    except ComposeError as error:
        assert str(error).startswith(f"docker-compose.yml:{4 + depth}: a mapping key should be a string")
        return
    raise AssertionError("a list or mapping as a key was accepted")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(depth=st.integers(0, 3000), opening=st.sampled_from(["[", "{a: "]))
# The limit's edges, for both shapes (the mapping's edge was once found by chance alone).
@example(depth=MAX_DEPTH - 3, opening="[")
@example(depth=MAX_DEPTH - 2, opening="[")
@example(depth=MAX_DEPTH - 4, opening="{a: ")
@example(depth=MAX_DEPTH - 3, opening="{a: ")
def test_yaml_nesting_of_any_depth_gives_a_service_or_a_located_error(
    tmp_path: Path, depth: int, opening: str
) -> None:
    closing = "]" if opening == "[" else "}"
    # Above the flow: the document, services and redis; the innermost mapping {a: } holds one
    # more node, its empty value (the innermost list [] holds none).
    levels = depth + 3 + (1 if opening != "[" and depth else 0)
    try:
        _load(tmp_path, f"{REDIS_SERVICE}    labels: {opening * depth}{closing * depth}\n")
    except ComposeError as error:
        assert levels > MAX_DEPTH, str(error)
        assert str(error) == f"docker-compose.yml:4: nests deeper than {MAX_DEPTH} levels"
        return
    assert levels <= MAX_DEPTH


@settings(deadline=None)
@given(
    depth=st.integers(0, 3000),
    operator=st.sampled_from([":-", "-", ":+", "+", ":?", "?"]),
    closed=st.booleans(),
    variables=st.sampled_from([{}, {"A": "a"}, {"A": ""}]),
)
def test_nested_defaults_of_any_depth_give_a_value_or_a_located_error(
    depth: int, operator: str, closed: bool, variables: dict[str, str]
) -> None:
    text = f"${{A{operator}" * depth + "x" + ("}" * depth if closed else "")
    try:
        value = interpolate(text, variables, "docker-compose.yml:5")
    except InterpolationError as error:
        assert str(error).startswith("docker-compose.yml:5: ")
        if depth > MAX_NESTING:
            assert f"nest deeper than {MAX_NESTING} levels" in str(error)
        return
    assert depth <= MAX_NESTING
    assert closed or depth == 0
    assert value in ("", "a", "x")
