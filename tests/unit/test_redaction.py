"""Passwords holding URL characters (/ # ? @ : " \\ and non-ASCII) are parsed whole and never
shown: URL redaction trusts nothing after the last @, JSON is scrubbed before it is escaped."""

from __future__ import annotations

import json

import pytest

from pytest_nself_redis.checks import CheckResult, Status
from pytest_nself_redis.doctor.formats import render
from pytest_nself_redis.doctor.runner import DoctorReport
from pytest_nself_redis.errors import TargetError
from pytest_nself_redis.live.url import endpoint_from_url
from pytest_nself_redis.secrets import MASK, Redactor, redact_url, url_password

PASSWORDS = [
    "pa/ss#word",
    "k9Vq/x7Rw#m2Zt@p4Ly:c8Hn",
    'q"uo\\te@:/#?x',
    "ünï€ødé/pässwørd#1",
    "a?b&c=d@e:f",
    "trailing@",
]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("user", ["", "app"])
def test_a_url_password_is_masked_whole(password: str, user: str) -> None:
    for scheme in ("redis", "rediss"):
        url = f"{scheme}://{user}:{password}@127.0.0.1:6379/2"
        assert redact_url(url) == f"{scheme}://{user}:{MASK}@127.0.0.1:6379/2"
        assert url_password(url) == password
        text = f"attach {url} (from --nself-redis-url) failed"
        assert (
            Redactor().scrub(text)
            == f"attach {scheme}://{user}:{MASK}@127.0.0.1:6379/2 (from --nself-redis-url) failed"
        )


@pytest.mark.parametrize("password", PASSWORDS)
def test_the_endpoint_gets_the_whole_password(password: str) -> None:
    endpoint = endpoint_from_url(f"rediss://app:{password}@127.0.0.1:6380/3")
    assert endpoint.password.reveal() == password
    assert (endpoint.host, endpoint.port, endpoint.db, endpoint.username) == ("127.0.0.1", 6380, 3, "app")
    assert endpoint.tls
    assert endpoint.verify
    assert password not in endpoint.describe()


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize(
    "template",
    [
        "redis://:{pw}@127.0.0.1:notaport",
        "redis://:{pw}@127.0.0.1:6379/notadb",
        "http://:{pw}@127.0.0.1:6379",
        "redis://:{pw}@",
        "redis://:{pw}@[::1",
        ":{pw}@127.0.0.1:6379",
        "redis:/:{pw}@127.0.0.1:6379",
    ],
)
def test_a_bad_url_is_refused_without_its_password(password: str, template: str) -> None:
    with pytest.raises(TargetError) as refused:
        endpoint_from_url(template.format(pw=password))
    assert password not in str(refused.value)


def test_redact_url_never_raises_and_keeps_what_has_no_password() -> None:
    for text in ("redis://[::1", "redis://host:99999999", "not a url", "redis://user@host:1", ""):
        assert redact_url(text) == text


def test_a_redactor_learns_the_password_as_written_and_decoded() -> None:
    redactor = Redactor()
    redactor.add_url("redis://:p%40ss%2Fw0rd@host:6379")
    assert redactor.scrub("p@ss/w0rd and p%40ss%2Fw0rd") == f"{MASK} and {MASK}"


@pytest.mark.parametrize("password", PASSWORDS)
def test_doctor_json_is_scrubbed_before_escaping(password: str) -> None:
    """A message holding the password (with " or \\ it is escaped in JSON) is scrubbed first."""
    report = DoctorReport("prod", "attach redis://127.0.0.1:6379/0", "7.0.15", redactor=Redactor([password]))
    report.results.append(
        CheckResult("health.ping", "health", Status.OK, f"saw {password}", "x", {password: [password]})
    )
    report.warnings.append(f"warning about {password}")
    text = render("json", report).stdout
    for form in (password, json.dumps(password)[1:-1], json.dumps(password, ensure_ascii=False)[1:-1]):
        assert form not in text
    document = json.loads(text)
    assert document["checks"][0]["message"] == f"saw {MASK}"
    assert document["checks"][0]["measured"] == {MASK: [MASK]}
