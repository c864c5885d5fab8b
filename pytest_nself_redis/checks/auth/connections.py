"""auth, the server's side: each promise probed on a connection of its own."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import redis

from pytest_nself_redis.checks.auth.base import (
    ask,
    needs_password,
    password_of,
    promise,
    requirepass_cause,
    source,
)
from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.probing import send
from pytest_nself_redis.checks.registry import check
from pytest_nself_redis.checks.results import Outcome, error, ok, skipped, verdict, warning
from pytest_nself_redis.live.address import ServerAddress
from pytest_nself_redis.live.refusals import explain
from pytest_nself_redis.live.resp import CLOSED, TIMED_OUT, encode, read_reply_line
from pytest_nself_redis.live.tls import share_tls_context

# How long an unauthenticated 100 MB request header may stay unanswered before we call it
# accepted: Redis refuses it at once, so this only bounds the broken case.
REFUSAL_WAIT = 2.0
OVERSIZED_REQUEST = (b"*100\r\n", b"$100000000\r\n")
# Characters that change a URL's meaning inside its userinfo: a password holding one must be
# percent-encoded, which nself's monitoring bundle does not do (docs/nself.md).
URL_RESERVED = frozenset("@:/?#[]%\\ \t")


@check("auth.noauth", safe=True)
@needs_password
def noauth_before_auth(context: CheckContext) -> Outcome:
    """a command before AUTH gets NOAUTH"""
    replies, seen = ask(context, "an unauthenticated PING", encode("PING"))
    if replies[0].startswith("+PONG"):
        seen += ": the server requires no password" + requirepass_cause(context)
    head = promise(context, "a client that has not authenticated gets NOAUTH")
    return verdict(replies[0].startswith("-NOAUTH"), f"{head} {seen}", source(context), replies[0])


@check("auth.wrongpass", safe=True)
@needs_password
def wrong_password_is_refused(context: CheckContext) -> Outcome:
    """a wrong password gets WRONGPASS"""
    wrong = "nself-harness-wrong-" + secrets.token_hex(8)
    replies, seen = ask(context, "AUTH with a wrong password", encode("AUTH", wrong), encode("PING"))
    kept = replies[0].startswith("-WRONGPASS") and not any(reply.startswith("+PONG") for reply in replies)
    head = promise(context, "a wrong password gets WRONGPASS")
    return verdict(kept, f"{head} {seen}", source(context), replies)


@check("auth.right_password", safe=True)
@needs_password
def right_password_works(context: CheckContext) -> Outcome:
    """REDIS_PASSWORD authenticates"""
    replies, seen = ask(context, "AUTH", encode("AUTH", password_of(context)), encode("PING"))
    if replies[0].startswith("-WRONGPASS"):
        seen += (
            ": the server requires a different password than REDIS_PASSWORD (a literal in the "
            "compose file, or a stale .env.runtime?)"
        )
    head = promise(context, "the password of the settings authenticates")
    return verdict(replies[:2] == ["+OK", "+PONG"], f"{head} {seen}", source(context), replies)


def password_url(address: ServerAddress, password: str) -> str:
    """``redis[s]://:PASSWORD@host:port/0`` with the password percent-encoded, as clients need it."""
    scheme = "rediss" if address.tls else "redis"
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{scheme}://:{quote(password, safe='')}@{host}:{address.port}/0"


def _ping_through(address: ServerAddress, password: str) -> tuple[bool, str]:
    """PING through the URL form, under the run's TLS policy (verified unless the user passed
    the insecure option): whether it answered PONG, and what it got."""
    client = share_tls_context(
        redis.Redis.from_url(password_url(address, password), **address.client_options())
    )
    try:
        answered = client.ping()
        return answered is True, "PONG" if answered is True else repr(answered)
    except redis.RedisError as problem:
        return False, f"{type(problem).__name__}: {problem}"
    finally:
        client.close()


@check("auth.url_form", safe=True)
@needs_password
def url_form_works(context: CheckContext) -> Outcome:
    """redis://:PASSWORD@host:port (URL-encoded) authenticates"""
    address = ServerAddress.of(context.client)
    password = password_of(context)
    encoded = password != quote(password, safe="")
    scheme = "rediss" if address.tls else "redis"
    form = f"{scheme}://:{'<url-encoded password>' if encoded else '<password>'}@{address.where()}/0"
    head = promise(context, f"clients reach Redis through the URL form {form}")
    answered, seen = _ping_through(address, password)
    if not answered:
        return error(f"{head} Broken: PING through it got {seen}", source(context), seen)
    reserved = sorted(set(password) & URL_RESERVED)
    if reserved:
        return warning(
            f"{head} Kept: PING through it got PONG. But the password holds {len(reserved)} kind(s) of "
            "character that must be percent-encoded in a URL, and nself's monitoring bundle writes "
            "redis://:${REDIS_PASSWORD}@redis:6379 unencoded (redis_exporter then fails to "
            "authenticate or to parse the URL); choose a password of letters, digits, - and _",
            source(context),
            {"ping": seen, "needs_encoding": True},
        )
    return ok(f"{head} Kept: PING through it got PONG", source(context), {"ping": seen})


def _send_oversized(address: ServerAddress) -> tuple[str, str]:
    """Send the huge request's header unauthenticated: the first reply line and, after an
    error, the next (the server closing the connection)."""
    wait = min(REFUSAL_WAIT, address.timeout)
    try:
        with address.open_socket() as sock:
            for part in OVERSIZED_REQUEST:
                try:
                    sock.sendall(part)
                except OSError:
                    break  # refused and closed after the first line already
            reply = read_reply_line(sock, wait)
            return reply, read_reply_line(sock, wait) if reply.startswith("-") else ""
    except OSError as problem:
        return f"(connect failed: {problem.strerror or problem})", ""


# Not for doctor: on a server that (wrongly) takes requests without a password the header makes
# it reserve 100 MB; the check sends it only after the server has refused an unauthenticated PING.
@check("auth.oversized_multibulk", safe=False)
@needs_password
def oversized_unauthenticated_request_is_refused(context: CheckContext) -> Outcome:
    """an unauthenticated *100 / $100000000 request is refused"""
    address = ServerAddress.of(context.client)
    ping = send(address, encode("PING"))[0]
    if not ping.startswith("-NOAUTH"):
        return skipped(
            f"not probed: the server requires no password (an unauthenticated PING got {ping}), so a "
            "100 MB request header would make it reserve the memory; auth.noauth reports the missing "
            "password",
            source(context),
        )
    head = (
        "Promise: a client that has not authenticated cannot make the server reserve memory for a "
        "huge request (*100 then $100000000 is refused or the connection closed)."
    )
    reply, after = _send_oversized(address)
    if reply.startswith("(connect failed"):
        return error(f"{head} Not checked: {address.where()} {reply}", source(context))
    closed = any(line == CLOSED or line.startswith("(connection reset") for line in (reply, after))
    measured = {"reply": reply, "closed": closed}
    if reply.startswith("-") or closed:
        closing = "; the server then closed the connection" if closed else ""
        return ok(
            f"{head} Kept: on {address.where()} the header got {reply}{closing}", source(context), measured
        )
    waited = f"no reply within {min(REFUSAL_WAIT, address.timeout):.1f} s" if reply == TIMED_OUT else reply
    return error(
        f"{head} Broken: on {address.where()} the unauthenticated header got {waited}: the server accepted "
        "it and waits for the 100 MB body, so it does not require a password" + requirepass_cause(context),
        source(context),
        measured,
    )


@check("auth.acl_nopass", safe=True)
def no_acl_user_without_a_password(context: CheckContext) -> Outcome:
    """no enabled ACL user gets in without a password"""
    head = (
        "Promise: there is no second way in: no enabled ACL user besides the default one is nopass "
        "(ACL LIST)."
    )
    try:
        rules: list[str] = [str(line) for line in context.client.acl_list()]
    except redis.RedisError as problem:
        return skipped(
            f"ACL LIST is not allowed here ({explain(problem)}), so the server's users cannot be checked",
            source(context),
        )
    users = [line.split() for line in rules if line.startswith("user ")]
    open_users = [words[1] for words in users if "on" in words[2:] and "nopass" in words[2:]]
    note = ""
    if "default" in open_users:
        # The first way in: auth.noauth probes it, auth.password_set judges the promise.
        open_users.remove("default")
        note = "; the default user takes no password (auth.noauth and auth.password_set report that)"
    if open_users:
        many = len(open_users) > 1
        return error(
            f"{head} Broken: ACL user{'s' if many else ''} {', '.join(open_users)} "
            f"{'are' if many else 'is'} enabled with nopass: anyone who reaches the port "
            f"gets in with AUTH {open_users[0]} <anything>{note}. Give each a password (ACL SETUSER "
            f"{open_users[0]} resetpass >...) or turn it off (ACL SETUSER {open_users[0]} off), and in "
            "the ACL file if the server loads one",
            source(context),
            open_users,
        )
    return ok(
        f"{head} Kept: {len(users)} ACL user{'s' if len(users) != 1 else ''}, none enabled with nopass{note}",
        source(context),
        [],
    )
