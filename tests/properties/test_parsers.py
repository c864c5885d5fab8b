"""Property tests: arbitrary input never gives a traceback, only a value or a clear
error that names the file and line."""

from __future__ import annotations

import re
import string
from pathlib import Path
from urllib.parse import unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nself_redis.compose.interpolate import InterpolationError, interpolate
from pytest_nself_redis.compose.service import load_compose_service
from pytest_nself_redis.errors import ComposeError, ProjectError
from pytest_nself_redis.project.envfile import EnvEntry, EnvFileError, parse_env_text, read_env_file
from pytest_nself_redis.project.provenance import Source
from pytest_nself_redis.project.settings import SETTING_KEYS, settings_from_env
from pytest_nself_redis.project.sizes import parse_redis_size
from pytest_nself_redis.secrets import MASK, Redactor, redact_url
from pytest_nself_redis.targets.attach import endpoint_from_url

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
