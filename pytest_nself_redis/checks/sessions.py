"""sessions: nself's session layout behaves as a session store must.

nself keeps a session as ``session:<id>`` (a JSON string: session_id, user_id,
created_at, last_accessed_at, expires_at, data) and indexes a user's sessions in
the set ``user:<uid>:sessions``. The checks write that layout under their own
prefix (never real ``session:*`` keys) and verify what a store relies on: the key
expires with the session, a refresh extends it without making it immortal and
never resurrects a session that is gone, revocation is immediate for every reader.
Times are ISO 8601 UTC with milliseconds (JavaScript's ``toISOString()``), taken
from the server's clock (``TIME``), the one clock every app instance shares.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import holds, probed, same, wait_until
from pytest_nself_redis.live.clients import clone

SESSION_FIELDS = ("session_id", "user_id", "created_at", "last_accessed_at", "expires_at", "data")
LONG_TTL_MS = 60_000
SHORT_TTL_MS = 300
REFRESH_FROM_MS, REFRESH_TO_MS = 1_000, 10_000
EXPIRY_WAIT_SECONDS = 3.0
# Allowed gap between expires_at and the key's PTTL: a round trip or two on a busy machine.
CLOCK_SLACK_MS = 1_000


def server_now(client: redis.Redis) -> datetime:
    seconds, microseconds = client.time()
    return datetime.fromtimestamp(seconds + microseconds / 1_000_000, UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class SessionStore:
    """nself's layout under ``prefix``: what an app does to create, read, refresh and revoke."""

    client: redis.Redis
    prefix: str

    def session_key(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def index_key(self, user_id: str) -> str:
        return f"{self.prefix}user:{user_id}:sessions"

    def create(self, user_id: str, ttl_ms: int, data: dict[str, Any]) -> dict[str, Any]:
        now = server_now(self.client)
        session_id = secrets.token_hex(16)
        document = {
            "session_id": session_id,
            "user_id": user_id,
            "created_at": iso(now),
            "last_accessed_at": iso(now),
            "expires_at": iso(now + timedelta(milliseconds=ttl_ms)),
            "data": data,
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self.session_key(session_id), json.dumps(document), px=ttl_ms)
        pipe.sadd(self.index_key(user_id), session_id)
        pipe.execute()
        return document

    def get(self, session_id: str, reader: redis.Redis | None = None) -> dict[str, Any] | None:
        raw = (reader or self.client).get(self.session_key(session_id))
        if raw is None:
            return None
        document: dict[str, Any] = json.loads(raw)
        return document

    def refresh(self, session_id: str, ttl_ms: int) -> dict[str, Any] | None:
        """Slide the expiry; ``SET ... XX PX`` so a session that is gone stays gone."""
        document = self.get(session_id)
        if document is None:
            return None
        now = server_now(self.client)
        document["last_accessed_at"] = iso(now)
        document["expires_at"] = iso(now + timedelta(milliseconds=ttl_ms))
        written = self.client.set(self.session_key(session_id), json.dumps(document), px=ttl_ms, xx=True)
        return document if written else None

    def revoke(self, user_id: str, session_id: str) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.session_key(session_id))
        pipe.srem(self.index_key(user_id), session_id)
        deleted, _ = pipe.execute()
        return int(deleted)

    def revoke_all(self, user_id: str) -> int:
        session_ids = sorted(self.client.smembers(self.index_key(user_id)))
        pipe = self.client.pipeline(transaction=True)
        for session_id in session_ids:
            pipe.delete(self.session_key(session_id))
        pipe.delete(self.index_key(user_id))
        return int(sum(pipe.execute()[:-1]))

    def active(self, user_id: str) -> list[str]:
        """The user's sessions that still exist (the index may name expired ones)."""
        session_ids = sorted(self.client.smembers(self.index_key(user_id)))
        if not session_ids:
            return []
        found = self.client.mget([self.session_key(session_id) for session_id in session_ids])
        return [session_id for session_id, raw in zip(session_ids, found, strict=True) if raw is not None]


@probed("sessions.layout", safe=True)
def session_layout(context: CheckContext, prefix: str) -> tuple[str, object]:
    """a session is stored as nself lays it out, with a TTL matching expires_at

    Promise: a session is a JSON string session:<id> (session_id, user_id, created_at, last_accessed_at,
    expires_at, data) whose key expires when the session does, indexed in user:<uid>:sessions."""
    store = SessionStore(context.client, prefix)
    data = {"roles": ["user", "editor"], "locale": "de-DE", "name": "Zoë 🚀"}
    created = store.create("u1", LONG_TTL_MS, data)
    session_id = created["session_id"]
    stored = store.get(session_id)
    holds(stored is not None, f"GET {store.session_key(session_id)} right after creating it returned nil")
    assert stored is not None
    same("fields of the stored session JSON", sorted(stored), sorted(SESSION_FIELDS))
    same("the stored session", stored, created)
    pttl = int(context.client.pttl(store.session_key(session_id)))
    holds(0 < pttl <= LONG_TTL_MS, f"PTTL of the session key is {pttl} ms (expected 1..{LONG_TTL_MS})")
    left_ms = (parse_iso(stored["expires_at"]) - server_now(context.client)).total_seconds() * 1000
    holds(
        abs(left_ms - pttl) <= CLOCK_SLACK_MS,
        f"expires_at says {left_ms:.0f} ms are left but the key's PTTL is {pttl} ms: the key would "
        "outlive (or die before) the session it holds",
    )
    same("SISMEMBER user:u1:sessions <id>", context.client.sismember(store.index_key("u1"), session_id), True)
    return (
        f"session:<id> holds the 6 fields (unicode data intact), PTTL {pttl} ms matches expires_at, "
        "user:<uid>:sessions indexes it",
        {"pttl_ms": pttl},
    )


@probed("sessions.expiry", safe=True)
def sessions_expire(context: CheckContext, prefix: str) -> tuple[str, object]:
    """an expired session is gone and cannot be refreshed back

    Promise: a session is served until its TTL and never after, by any connection, and a refresh cannot
    bring an expired session back."""
    store = SessionStore(context.client, prefix)
    started = time.monotonic()
    session_id = store.create("u1", SHORT_TTL_MS, {})["session_id"]
    first_read = store.get(session_id)
    first_read_ms = (time.monotonic() - started) * 1000
    if first_read_ms < SHORT_TTL_MS * 0.8:
        holds(
            first_read is not None,
            f"the session was gone {first_read_ms:.0f} ms after creation, before its {SHORT_TTL_MS} ms TTL",
        )
    gone = wait_until(lambda: store.get(session_id) is None, EXPIRY_WAIT_SECONDS)
    lifetime_ms = (time.monotonic() - started) * 1000
    holds(
        gone,
        f"a session with a {SHORT_TTL_MS} ms TTL was still served after {EXPIRY_WAIT_SECONDS:.0f} s",
    )
    other = clone(context.client)
    try:
        same("GET from another connection after expiry", store.get(session_id, other), None)
    finally:
        other.close()
    same("EXISTS session:<id> after expiry", context.client.exists(store.session_key(session_id)), 0)
    same("the user's active sessions after expiry (index entries filtered)", store.active("u1"), [])
    same(
        "refresh of the expired session (SET XX: must not write)",
        store.refresh(session_id, LONG_TTL_MS),
        None,
    )
    same("EXISTS after the attempted refresh", context.client.exists(store.session_key(session_id)), 0)
    return (
        f"a {SHORT_TTL_MS} ms session was served, then gone for every reader after {lifetime_ms:.0f} ms; "
        "a refresh did not resurrect it",
        {"ttl_ms": SHORT_TTL_MS, "gone_after_ms": round(lifetime_ms)},
    )


@probed("sessions.refresh", safe=True)
def refresh_extends_sessions(context: CheckContext, prefix: str) -> tuple[str, object]:
    """a refresh extends a session's life without making it immortal

    Promise: refreshing a session slides its expiry (key TTL and expires_at together) and keeps a TTL on
    it."""
    store = SessionStore(context.client, prefix)
    created = store.create("u1", REFRESH_FROM_MS, {"step": 1})
    session_id = created["session_id"]
    refreshed = store.refresh(session_id, REFRESH_TO_MS)
    holds(refreshed is not None, "the refresh of a live session (SET XX PX) was not written")
    assert refreshed is not None
    pttl = int(context.client.pttl(store.session_key(session_id)))
    holds(
        REFRESH_FROM_MS < pttl <= REFRESH_TO_MS,
        f"PTTL after refreshing to {REFRESH_TO_MS} ms is {pttl} ms"
        + (" (no TTL: the session would never expire)" if pttl == -1 else ""),
    )
    time.sleep(REFRESH_FROM_MS / 1000 + 0.2)
    after = store.get(session_id)
    holds(
        after is not None,
        f"the refreshed session was gone {REFRESH_FROM_MS + 200} ms later, though refreshed to "
        f"{REFRESH_TO_MS} ms",
    )
    assert after is not None
    same("created_at after refresh (unchanged)", after["created_at"], created["created_at"])
    holds(
        parse_iso(after["last_accessed_at"]) >= parse_iso(created["last_accessed_at"]),
        f"last_accessed_at went back: {created['last_accessed_at']} -> {after['last_accessed_at']}",
    )
    holds(
        parse_iso(after["expires_at"]) > parse_iso(created["expires_at"]),
        f"expires_at did not move: {created['expires_at']} -> {after['expires_at']}",
    )
    same("data after refresh", after["data"], {"step": 1})
    return (
        f"refreshed from {REFRESH_FROM_MS} to {REFRESH_TO_MS} ms (PTTL {pttl} ms), still served past the "
        "first expiry, expires_at and last_accessed_at moved",
        {"pttl_after_refresh_ms": pttl},
    )


@probed("sessions.revocation", safe=True)
def revocation_is_immediate(context: CheckContext, prefix: str) -> tuple[str, object]:
    """revoked sessions are gone at once, for every reader

    Promise: a revoked session (one, or all of a user's) is gone at once for every connection, cannot be
    refreshed back, and other users' sessions stay."""
    store = SessionStore(context.client, prefix)
    mine = [store.create("u1", LONG_TTL_MS, {"device": n})["session_id"] for n in range(3)]
    theirs = store.create("u2", LONG_TTL_MS, {})["session_id"]
    same("the user's active sessions", sorted(store.active("u1")), sorted(mine))
    other = clone(context.client)
    try:
        same("DEL of the revoked session", store.revoke("u1", mine[0]), 1)
        same("GET of the revoked session from another connection", store.get(mine[0], other), None)
        same(
            "SISMEMBER of the revoked session in the user's index",
            store.client.sismember(store.index_key("u1"), mine[0]),
            False,
        )
        same(
            "refresh of the revoked session (SET XX: must not write)",
            store.refresh(mine[0], LONG_TTL_MS),
            None,
        )
        same("sessions deleted by revoke-all (sign out everywhere)", store.revoke_all("u1"), 2)
        same(
            "GET of each of the user's sessions from another connection",
            [store.get(session_id, other) for session_id in mine],
            [None, None, None],
        )
        same("EXISTS user:u1:sessions after revoke-all", context.client.exists(store.index_key("u1")), 0)
        holds(store.get(theirs, other) is not None, "revoking user u1's sessions removed user u2's session")
    finally:
        other.close()
    return (
        "revoking one session and all of a user's took effect at once for another reader; others kept",
        None,
    )
