"""What a ``redis-server`` command line configures, in ``CONFIG GET`` terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_nself_redis.project.sizes import parse_redis_size

# Redis 7.0 defaults for the directives the harness compares.
REDIS_DEFAULTS = {
    "maxmemory": "0",
    "maxmemory-policy": "noeviction",
    "appendonly": "no",
    "appendfsync": "everysec",
    "save": "3600 1 300 100 60 10000",
    "maxclients": "10000",
    "timeout": "0",
    "tcp-keepalive": "300",
    "loglevel": "notice",
    "protected-mode": "yes",
    "requirepass": "",
    "port": "6379",
    "tls-port": "0",
    "bind": "* -::*",
}
# Directives whose arguments hold a password (``user`` holds ``>password`` rules).
SECRET_DIRECTIVES = frozenset(
    {"requirepass", "masterauth", "user", "tls-key-file-pass", "tls-client-key-file-pass"}
)
_SIZE_DIRECTIVES = {"maxmemory"}
_BOOL_DIRECTIVES = {"appendonly", "protected-mode"}


def normalise(directive: str, value: str) -> str:
    """The form ``CONFIG GET`` answers with, so command line and live server compare."""
    value = value.strip()
    if directive in _SIZE_DIRECTIVES:
        try:
            return str(parse_redis_size(value))
        except ValueError:
            return value
    if directive in _BOOL_DIRECTIVES:
        lowered = value.lower()
        return {"true": "yes", "false": "no", "1": "yes", "0": "no"}.get(lowered, lowered)
    if directive == "save":
        return " ".join(value.split())
    if directive in {"maxmemory-policy", "loglevel", "appendfsync"}:
        return value.lower()
    return value


@dataclass
class RedisArgs:
    """A parsed ``redis-server [config-file] --directive value ...`` command."""

    program: str
    config_file: str | None = None
    directives: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def last(self, name: str) -> tuple[str, ...] | None:
        found = None
        for directive, arguments in self.directives:
            if directive == name:
                found = arguments
        return found

    def sets(self, name: str) -> bool:
        return self.last(name) is not None

    def value(self, name: str) -> str | None:
        """The effective value as CONFIG GET would show it, or None when not set here."""
        if name == "save":
            return self._save()
        arguments = self.last(name)
        if arguments is None:
            return None
        return normalise(name, " ".join(arguments))

    def secret_values(self) -> list[str]:
        """Every password the command line gives (to register with the redactor)."""
        found = []
        for directive, arguments in self.directives:
            if directive == "user":
                found += [word[1:] for word in arguments if word.startswith(">")]
            elif directive in SECRET_DIRECTIVES:
                found.append(" ".join(arguments))
        return [value for value in found if value]

    def _save(self) -> str | None:
        pairs: list[str] = []
        seen = False
        for directive, arguments in self.directives:
            if directive != "save":
                continue
            seen = True
            joined = " ".join(arguments).split()
            if not joined:  # --save "" disables snapshots and clears earlier points
                pairs = []
            else:
                pairs.extend(joined)
        return " ".join(pairs) if seen else None


def parse_redis_args(argv: Sequence[str]) -> RedisArgs:
    """Parse a command line; options before a program name mean ``redis-server`` (entrypoint)."""
    items = list(argv)
    if not items or items[0].startswith("-"):
        items.insert(0, "redis-server")
    parsed = RedisArgs(program=items[0])
    rest = items[1:]
    if rest and not rest[0].startswith("--"):
        parsed.config_file = rest.pop(0)
    current: str | None = None
    arguments: list[str] = []
    for item in rest:
        if item.startswith("--") and len(item) > 2:
            if current is not None:
                parsed.directives.append((current, tuple(arguments)))
            current, arguments = item[2:].lower(), []
        elif current is not None:
            arguments.append(item)
    if current is not None:
        parsed.directives.append((current, tuple(arguments)))
    return parsed


def is_redis_server(program: str) -> bool:
    return program.rsplit("/", 1)[-1] == "redis-server"
