"""The client the harness writes with on servers it did not launch: every key it creates under
nself-harness: has a TTL at once, and everything else (replies, errors, other keys) is as if
the command had been sent alone."""

from __future__ import annotations

import pytest
import redis

from pytest_nself_redis.live.expiring import SCRATCH_TTL_SECONDS, expiring, without_ttls
from pytest_nself_redis.targets.base import Target
from tests.conftest import Launcher
from tests.harness import COMPLETE

PREFIX = "nself-harness:texp:"


def test_writes_create_keys_with_a_ttl_and_keep_their_replies(launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    client = expiring(target.client())
    assert client.rpush(f"{PREFIX}list", "a", "b") == 2
    assert client.set(f"{PREFIX}short", "v", px=5000) is True
    assert client.lmove(f"{PREFIX}list", f"{PREFIX}moved", "LEFT", "RIGHT") == "a"
    assert client.eval("return redis.call('INCRBY', KEYS[1], 3)", 1, f"{PREFIX}script") == 3
    assert client.xgroup_create(f"{PREFIX}stream", "g", id="0", mkstream=True) is True
    with client.pipeline(transaction=False) as pipe:
        assert pipe.sadd(f"{PREFIX}set", "x").get(f"{PREFIX}missing").hset(
            f"{PREFIX}hash", "f", "v"
        ).execute() == [
            1,
            None,
            1,
        ]
    for name in ("list", "moved", "script", "stream", "set", "hash"):
        assert 0 < client.ttl(f"{PREFIX}{name}") <= SCRATCH_TTL_SECONDS, name
    assert 0 < client.pttl(f"{PREFIX}short") <= 5000  # the command's own TTL is kept (NX)
    client.set("app:key", "v")  # not ours: untouched
    assert client.ttl("app:key") == -1


def limited_wrapped(target: Target) -> redis.Redis:
    return expiring(target.connect(password="reader-Pw-1", username="reader"))


def test_errors_read_as_the_commands_own(launch: Launcher) -> None:
    target = launch(COMPLETE, "staging")
    plain, wrapped = target.client(), expiring(target.client())
    plain.set(f"{PREFIX}string", "v", ex=60)
    errors = []
    for client in (plain, wrapped):
        with pytest.raises(redis.ResponseError) as caught:
            client.rpush(f"{PREFIX}string", "x")
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]
    target.client().acl_setuser(
        "reader", enabled=True, passwords=["+reader-Pw-1"], commands=["+@read", "+multi", "+exec"], keys=["*"]
    )
    denials = []
    for client in (target.connect(password="reader-Pw-1", username="reader"), limited_wrapped(target)):
        with pytest.raises(redis.exceptions.NoPermissionError) as denied:
            client.set(f"{PREFIX}denied", "v")
        denials.append(str(denied.value))
    assert denials[0] == denials[1] == "this user has no permissions to run the 'set' command"
    assert without_ttls(wrapped).set(f"{PREFIX}bare", "v") is True
    assert wrapped.ttl(f"{PREFIX}bare") == -1
