"""The datastructures and sessions promises fail where a server denies the commands they
rest on, each naming the command; and the checks leave no key behind."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Launcher
from tests.data.conftest import add_user, attach_args, attach_url, harness_keys
from tests.harness import COMPLETE, run_suites

# test -> the first command it sends that the user below may not run
DENIED = {
    "test_lists_behave": "rpush",
    "test_sets_behave": "sadd",
    "test_sorted_sets_behave": "zadd",
    "test_hashes_behave": "hset",
    "test_streams_behave": "xadd",
    "test_hyperloglog_within_standard_error": "pfadd",
    "test_key_ttl_semantics": "append",
    "test_strings_are_binary_safe": "getrange",
    # sessions take their timestamps from the server's clock
    "test_session_layout": "time",
    "test_sessions_expire": "time",
    "test_refresh_extends_sessions": "time",
    "test_revocation_is_immediate": "time",
}
RULES = (
    "-@list",
    "-@set",
    "-@sortedset",
    "-@hash",
    "-@stream",
    "-@hyperloglog",
    "-append",
    "-getrange",
    "-time",
)


def test_each_denied_family_fails_its_promise(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    add_user(target, "app", "app-Pw-0d1e2f", *RULES)
    url = attach_url(target, "app", "app-Pw-0d1e2f")
    result = run_suites(COMPLETE, tmp_path, *attach_args(url, "staging", "datastructures"))
    outcomes = result.outcomes("staging")
    assert outcomes == dict.fromkeys(DENIED, "failed"), result.output[-3000:]
    for name, command in DENIED.items():
        details = result.case(name).details
        assert f"no permissions to run the '{command}' command" in details, (name, details)
        assert details.startswith("Promise: "), name
    assert harness_keys(target) == []


def test_green_run_leaves_no_key_on_an_attached_server(tmp_path: Path, launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    before = target.client().dbsize()
    result = run_suites(
        COMPLETE,
        tmp_path,
        *attach_args(attach_url(target), "staging", "datastructures or pubsub or monitoring or queue"),
        "-k",
        "not bullmq",
    )
    failed = {name for name, outcome in result.outcomes("staging").items() if outcome == "failed"}
    assert failed == set(), result.output[-3000:]  # staging runs queues: noeviction
    assert harness_keys(target) == []
    assert target.client().dbsize() == before
