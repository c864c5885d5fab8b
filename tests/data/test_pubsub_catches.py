"""The pubsub suite fails where a server denies or renames its commands, naming the cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Launcher
from tests.data.conftest import add_user, attach_args, attach_url, harness_keys
from tests.harness import COMPLETE, run_suites

PUBSUB_TESTS = {
    "test_every_subscriber_receives",
    "test_pattern_subscriptions_match",
    "test_order_per_publisher",
    "test_unsubscribe_stops_delivery",
    "test_publish_to_nobody_counts_zero",
    "test_large_message_arrives_intact",
    "test_many_channels_on_one_connection",
}


@pytest.mark.parametrize(
    ("rules", "failing", "cause"),
    [
        (
            ("resetchannels",),
            PUBSUB_TESTS,
            "no permissions to access one of the channels used as arguments",
        ),
        (("-publish",), PUBSUB_TESTS, "no permissions to run the 'publish' command"),
        (
            ("-subscribe", "-psubscribe"),
            PUBSUB_TESTS - {"test_publish_to_nobody_counts_zero"},
            "no permissions to run the '",
        ),
    ],
    ids=["no-channels", "no-publish", "no-subscribe"],
)
def test_acl_denying_pubsub_fails_each_promise(
    tmp_path: Path, launch: Launcher, rules: tuple[str, ...], failing: set[str], cause: str
) -> None:
    target = launch(COMPLETE, "staging")
    add_user(target, "app", "app-Pw-5e6f7a", *rules)
    url = attach_url(target, "app", "app-Pw-5e6f7a")
    result = run_suites(COMPLETE, tmp_path, *attach_args(url, "staging", "pubsub"))
    outcomes = result.outcomes("staging")
    assert set(outcomes) == PUBSUB_TESTS
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == failing, result.output[
        -3000:
    ]
    for name in failing:
        details = result.case(name).details
        assert "refused by ACL" in details, name
        assert cause in details, name
    if "resetchannels" in rules:
        assert "unless granted (&* or allchannels)" in result.case("test_every_subscriber_receives").details
    assert harness_keys(target) == []


def test_renamed_publish_fails_each_promise(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging", extra_args=("--rename-command", "PUBLISH", ""))
    result = run_suites(COMPLETE, tmp_path, *attach_args(attach_url(target), "staging", "pubsub"))
    outcomes = result.outcomes("staging")
    assert set(outcomes.values()) == {"failed"}, result.output[-3000:]
    for name in PUBSUB_TESTS:
        details = result.case(name).details
        assert "unknown command 'PUBLISH'" in details, name
        assert "renamed or disabled on this server (rename-command)" in details, name
