"""The redis-server command line behind a one-line shell wrapper.

A compose command cannot read the container's environment, so a password kept out of the
command (and out of ``docker ps`` and ``docker inspect``'s ``Cmd``) goes through a shell:
``["sh", "-c", 'exec redis-server --maxmemory 512mb --requirepass "$REDIS_PASSWORD" "$@"',
"redis-server"]``, which is what ``nself-redis fix`` writes. Only that shape is read: ``sh``
(or ``bash``, ``ash``, ``dash``) ``-c``, an optional ``exec``, then a plain command whose
words are literals, ``$NAME`` / ``${NAME}`` references to the service's environment or
``"$@"`` (the words after the script's ``$0``). Anything else a shell would do (pipes, ``;``,
``$(...)``, a reference inside a word), or another program, leaves the command as written.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from pytest_nself_redis.compose.redis_args import is_redis_server

_SHELLS = frozenset({"sh", "bash", "ash", "dash"})
_REFERENCE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})\Z")
_ALL_ARGUMENTS = "$@"


def _words(script: str) -> list[str] | None:
    """The script's words, or None when it uses anything but words (an operator, a comment)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return None
    if any(word and all(char in "();<>|&" for char in word) for word in words):
        return None
    return words


def _expand(word: str, environment: Mapping[str, str], arguments: Sequence[str]) -> list[str] | None:
    if word == _ALL_ARGUMENTS:
        return list(arguments)
    match = _REFERENCE.match(word)
    if match:
        return [environment.get(match.group(1) or match.group(2), "")]
    if "$" in word or "`" in word:
        return None
    return [word]


def unwrap_shell(command: Sequence[str], environment: Mapping[str, str]) -> tuple[str, ...] | None:
    """The redis-server command line a ``sh -c 'exec redis-server ...'`` command runs, its
    references filled in from ``environment``; None when ``command`` is not such a wrapper (or
    does more, or runs another program)."""
    if len(command) < 3 or command[0].rsplit("/", 1)[-1] not in _SHELLS or command[1] != "-c":
        return None
    words = _words(command[2])
    if not words:
        return None
    if words[0] == "exec":
        words = words[1:]
    if not words or not is_redis_server(words[0]):
        return None
    positional = list(command[4:])  # command[3] is the script's $0
    expanded: list[str] = []
    for word in words:
        found = _expand(word, environment, positional)
        if found is None:
            return None
        expanded.extend(found)
    return tuple(expanded)


def shell_reference(word: str) -> bool:
    """Whether a command word, as the container's shell gets it, is one ``$NAME`` reference."""
    return _REFERENCE.match(word) is not None
