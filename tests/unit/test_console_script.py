"""The console script's choices for the whole process: which commands run without the cycle
collector (a bounded one-shot command), which keep it (a pytest session, a server)."""

from __future__ import annotations

import gc
import sys

import pytest

from pytest_nself_redis.cli import main as cli


@pytest.mark.parametrize(
    ("arguments", "collecting"),
    [
        (["doctor", "--env", "prod"], False),
        (["probe", "--redis-url", "redis://127.0.0.1:6379"], False),
        (["check", "--env", "staging"], True),
        (["serve"], True),
        (["--version"], True),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_only_bounded_commands_run_without_the_cycle_collector(
    monkeypatch: pytest.MonkeyPatch, arguments: list[str], collecting: bool
) -> None:
    seen: list[bool] = []

    def main() -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(sys, "argv", ["nself-redis", *arguments])
    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(gc, "freeze", lambda: None)  # this test session goes on collecting
    try:
        with pytest.raises(SystemExit) as ended:
            cli.run()
    finally:
        gc.enable()
    assert ended.value.code == 0
    assert seen == [collecting]
