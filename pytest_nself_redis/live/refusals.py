"""What a failed command means: refused to this user, not there, the whole server refusing, or the
connection.

Checks, doctor and the latency sampler all turn a Redis error into a verdict; they must agree
on what each error is. A command refused by ACL (``NOPERM``) or renamed away (``unknown
command``) is about the user the harness connects as, not the server's health; a server-wide
refusal (MISCONF, READONLY, OOM, LOADING, NOREPLICAS) has one cause that one health check names.
The patterns match Redis's words with and without the error code, which redis-py drops for the
errors it has classes for (OOM, LOADING, READONLY, NOPERM).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from redis import exceptions as redis_errors


class Kind(StrEnum):
    ACL = "refused by ACL"
    UNKNOWN_COMMAND = "unknown command"
    SERVER_WIDE = "refused by the whole server"
    TIMEOUT = "timed out"
    CONNECTION = "connection failed"
    OTHER = "error"


@dataclass(frozen=True)
class ServerWide:
    """A refusal the server gives every client for one reason."""

    code: str
    reason: str
    pattern: re.Pattern[str]


MISCONF_RDB = ServerWide(
    "MISCONF", "the last RDB save failed", re.compile(r"MISCONF Redis is configured to save RDB snapshots")
)
MISCONF_AOF = ServerWide(
    "MISCONF",
    "writing the append-only file failed",
    re.compile(r"MISCONF (Errors writing to the AOF file|Redis is configured to persist data to AOF)"),
)
NOREPLICAS = ServerWide(
    "NOREPLICAS",
    "too few replicas for min-replicas-to-write",
    re.compile(r"Not enough good replicas to write"),
)
READONLY = ServerWide(
    "READONLY",
    "a read-only replica",
    re.compile(r"You can't write against a read only replica|script with write flag on readonly replica"),
)
OOM = ServerWide(
    "OOM", "used memory is over maxmemory", re.compile(r"command not allowed when used memory > 'maxmemory'")
)
LOADING = ServerWide(
    "LOADING", "still loading its dataset", re.compile(r"Redis is loading the dataset in memory")
)
SERVER_WIDE = (MISCONF_RDB, MISCONF_AOF, NOREPLICAS, READONLY, OOM, LOADING)


def server_wide(text: str) -> ServerWide | None:
    """The server-wide refusal a message quotes, if any."""
    return next((refusal for refusal in SERVER_WIDE if refusal.pattern.search(text)), None)


def says_noperm(text: str) -> bool:
    """The text quotes an ACL refusal (with or without redis-py's dropped ``NOPERM`` code)."""
    return "NOPERM" in text or "no permissions" in text


def says_unknown_command(text: str) -> bool:
    """The text quotes a command the server does not have (renamed or disabled)."""
    return "unknown command" in text.lower()


def classify(error: BaseException) -> Kind:
    """What kind of failure a Redis error (or a message quoting one) is."""
    text = str(error)
    if isinstance(error, redis_errors.NoPermissionError) or says_noperm(text):
        return Kind.ACL
    if says_unknown_command(text):
        return Kind.UNKNOWN_COMMAND
    if server_wide(text) is not None:
        return Kind.SERVER_WIDE
    if isinstance(error, redis_errors.TimeoutError):
        return Kind.TIMEOUT
    if isinstance(error, redis_errors.ConnectionError):
        return Kind.CONNECTION
    return Kind.OTHER


def is_refused(error: BaseException) -> bool:
    """The server refused the command to this user (ACL) or does not have it (renamed)."""
    return classify(error) in (Kind.ACL, Kind.UNKNOWN_COMMAND)


def explain(error: BaseException) -> str:
    """The error with what usually causes it, so a message names the cause."""
    text = str(error)
    kind = classify(error)
    if kind is Kind.ACL:
        text = text if text.startswith("NOPERM") else f"NOPERM {text}"
        hint = "see ACL GETUSER for its rules"
        if "channels" in text:
            hint = "Redis 7 gives a new ACL user no channels unless granted (&* or allchannels)"
        return f"refused by ACL ({text}): the user the suite connects as lacks this permission; {hint}"
    if kind is Kind.UNKNOWN_COMMAND:
        return f"unknown command ({text}): renamed or disabled on this server (rename-command)"
    if kind is Kind.TIMEOUT:
        return f"timed out ({text or 'no reply within the socket timeout'})"
    if kind is Kind.CONNECTION:
        return f"connection failed ({text})"
    return text
