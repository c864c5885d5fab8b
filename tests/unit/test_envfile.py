"""The .env parser: nself's format, with a file:line on every value and every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nself_redis.project.envfile import EnvFileError, parse_env_text, read_env_file

FILE = Path("/p/.env.staging")


def parse(text: str) -> dict[str, tuple[str, int | None]]:
    env = parse_env_text(text, FILE)
    return {key: (entry.value, entry.source.line) for key, entry in env.entries.items()}


def test_plain_values_comments_and_export() -> None:
    text = "# header\n\nA=1\nexport B=two\n  C = three  \nD=x # trailing note\nE=a#b\n"
    assert parse(text) == {"A": ("1", 3), "B": ("two", 4), "C": ("three", 5), "D": ("x", 6), "E": ("a#b", 7)}


def test_one_layer_of_matching_quotes_is_stripped() -> None:
    assert parse('A="x y"\nB=\'p#q\'\nC="\'in\'"\nD="v" # note\nE=""\n') == {
        "A": ("x y", 1),
        "B": ("p#q", 2),
        "C": ("'in'", 3),
        "D": ("v", 4),
        "E": ("", 5),
    }


def test_no_variable_expansion() -> None:
    assert parse("A=$HOME\nB=${A}\n") == {"A": ("$HOME", 1), "B": ("${A}", 2)}


def test_a_later_line_wins_and_remembers_its_line() -> None:
    assert parse("A=1\nA=2\n") == {"A": ("2", 2)}


def test_crlf_line_endings() -> None:
    assert parse("A=1\r\nB=2\r\n") == {"A": ("1", 1), "B": ("2", 2)}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("A=1\njust words\n", 2, "expected KEY=VALUE"),
        ("1A=x\n", 1, "not a valid variable name"),
        ("A B=x\n", 1, "not a valid variable name"),
        ('A="open\n', 1, "never closed"),
        ('A="x"y\n', 1, "after the closing"),
        ("=x\n", 1, "not a valid variable name"),
    ],
)
def test_a_malformed_line_names_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(EnvFileError) as caught:
        parse_env_text(text, FILE)
    assert str(caught.value).startswith(f".env.staging:{line}: ")
    assert fragment in str(caught.value)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\nB=\xff\n")
    with pytest.raises(EnvFileError, match=r"^\.env:2: not UTF-8 text$"):
        read_env_file(path)


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfA=1\n")
    assert read_env_file(path).entries["A"].value == "1"


@pytest.mark.parametrize(
    "line",
    [
        "REDIS_PASSWORD Sup3r-s3cret-Value",
        "export REDIS_PASSWORD Sup3r-s3cret-Value",
        "REDIS_PASSWORD Sup3r-s3cret-Value=x",
        'REDIS_PASSWORD="ab"Sup3r-s3cret-Value',
        "API_TOKEN:Sup3r-s3cret-Value",
        "OLD MY_SECRET Sup3r-s3cret-Value",
        "redis_password\tSup3r-s3cret-Value",
    ],
)
def test_a_malformed_line_never_quotes_a_secret(line: str) -> None:
    """The value is not known to the redactor yet: the message itself must hold it back."""
    with pytest.raises(EnvFileError) as caught:
        parse_env_text(f"A=1\n{line}\n", FILE)
    message = str(caught.value)
    assert message.startswith(".env.staging:2: ")
    assert "Sup3r" not in message
    assert "s3cret" not in message


def test_a_malformed_line_without_a_secret_is_quoted() -> None:
    with pytest.raises(EnvFileError, match=r"found 'just some words'"):
        parse_env_text("just some words\n", FILE)
