"""The compose override that makes the ``redis`` service keep every promise of an env.

nself's generators write a fixed command (REFERENCE: 0.9.x reads none of maxmemory, policy,
save, maxclients, timeout, keepalive, loglevel or TLS; 1.x adds ``--maxclients 50`` and a
container limit). ``nself-redis fix`` closes the gap with an override file, which Compose
merges over the generated one: ``command`` and ``healthcheck.test`` are replaced whole, the
environment is merged key by key.

What it writes:

- the command, through a one-line shell (``shell`` reads it back) so the password comes from
  the container's environment, never the command line (``docker ps``, ``docker inspect``'s
  ``Cmd``): every promised flag, plus the base command's other directives (secrets excepted);
- ``environment: REDIS_PASSWORD: ${REDIS_PASSWORD}``: compose fills it in from the env files
  at ``up`` time, so no secret is ever written in the file;
- a healthcheck that hands the password to redis-cli through ``REDISCLI_AUTH``;
- for TLS, the certificates' mount.

maxmemory keeps ``HEADROOM_PERCENT`` % of the container's memory limit at most: the rest is
for what Redis uses beyond its dataset (fork copy-on-write during a save or rewrite, client
buffers, fragmentation). A promise above that cannot be kept by the deployment: the override
sets the ceiling, and the env files must change (``MemoryFit``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis.compose.redis_args import SECRET_DIRECTIVES
from pytest_nself_redis.compose.render import (
    TLS_DIR,
    healthcheck_shell,
    promised_flags,
    size_word,
    tls_flags,
)
from pytest_nself_redis.compose.runtime import ComposeValue
from pytest_nself_redis.compose.service import RedisService
from pytest_nself_redis.project.settings import RedisSettings

HEADROOM_PERCENT = 75
# The first line of every override ``nself-redis fix`` writes: it rewrites only such files.
MARK = "# nself-redis fix:"
OVERRIDE_SUFFIX = ".override.yml"
_MIB = 1024**2
_PASSWORD = '"$REDIS_PASSWORD"'
_ARGUMENTS = '"$@"'


@dataclass(frozen=True)
class MemoryFit:
    """REDIS_MAXMEMORY against the container's memory limit (None: the service sets none)."""

    promised: int
    limit: ComposeValue[int] | None

    @property
    def ceiling(self) -> int | None:
        """The largest maxmemory that leaves the headroom, in whole MiB; None without a limit."""
        if self.limit is None:
            return None
        return self.limit.value * HEADROOM_PERCENT // 100 // _MIB * _MIB

    @property
    def fits(self) -> bool:
        ceiling = self.ceiling
        return ceiling is None or 0 < self.promised <= ceiling

    @property
    def value(self) -> int:
        """What the override sets: the promise when it fits, else the ceiling."""
        ceiling = self.ceiling
        return self.promised if self.fits or ceiling is None else ceiling

    def needed_limit(self) -> str:
        """The smallest container limit (in M) that fits the promise with its headroom."""
        needed = -(-self.promised * 100 // HEADROOM_PERCENT)
        return f"{-(-needed // _MIB)}M"


def memory_fit(settings: RedisSettings, service: RedisService) -> MemoryFit:
    return MemoryFit(settings.maxmemory.value, service.runtime.memory)


def _is_tls(directive: str) -> bool:
    return directive.startswith("tls-") or directive == "port"


def _carried(service: RedisService, owned: set[str], keep_tls: bool) -> list[str]:
    """The base command's other directives, kept as they are (never a secret's)."""
    args = service.args
    words = [args.config_file] if args.config_file else []
    for directive, arguments in args.directives:
        if directive in owned or directive in SECRET_DIRECTIVES:
            continue
        if _is_tls(directive) and not (keep_tls or (directive == "port" and arguments != ("0",))):
            continue
        words += [f"--{directive}", *arguments]
    return words


@dataclass(frozen=True)
class Override:
    """What the override sets for one env; ``text`` is the file."""

    env: str
    flags: tuple[str, ...]
    password: bool
    tls_mount: bool
    memory: MemoryFit
    healthcheck: str
    # Directives of the base command that hold a secret and are not carried over.
    dropped: tuple[str, ...] = ()
    # What the override does with REDIS_MAXMEMORY, and why (the header says it).
    memory_note: str = ""

    def script(self) -> str:
        """The shell line, as the container's shell gets it."""
        words = ["exec", "redis-server", *(shlex.quote(word) for word in self.flags)]
        if self.password:
            words += ["--requirepass", _PASSWORD]
        return " ".join([*words, _ARGUMENTS])

    def _script_lines(self) -> list[str]:
        """The script folded over lines (YAML's ``>-`` joins them with spaces), ``$`` doubled
        for compose: one directive a line."""
        lines, current = ["exec redis-server"], ""
        for word in [*self.flags, *(["--requirepass", _PASSWORD] if self.password else [])]:
            if word.startswith("--") and current:
                lines.append(current)
                current = ""
            shown = word if word == _PASSWORD else shlex.quote(word)
            current = f"{current} {shown}".strip()
        lines += [current, _ARGUMENTS] if current else [_ARGUMENTS]
        return [line.replace("$", "$$") for line in lines]

    def header(self, tool: str) -> list[str]:
        """What the file says about itself, ``MARK`` first (``tool``: ``nself-redis 0.1.0``)."""
        lines = [
            f"{MARK} the redis service as env {self.env} promises it ({tool}).",
            f"`nself-redis fix --env {self.env} --write` rewrites this file; it refuses any override that",
            "does not start with the line above. No secret is written here: compose fills in",
            "${REDIS_PASSWORD} from the env files at `up` time, and the container's shell hands it to",
            "redis-server and to redis-cli (REDISCLI_AUTH), never on a command line.",
            self.memory_note,
        ]
        if self.dropped:
            lines.append(f"Not carried over from the base command (a secret): {', '.join(self.dropped)}.")
        return [lines[0], *(f"# {line}" for line in lines[1:])]

    def text(self, tool: str) -> str:
        """The override file: its header as comments, then the service."""
        lines = self.header(tool)
        lines += ["services:", "  redis:", "    command:", "      - sh", "      - -c", "      - >-"]
        lines += [f"        {line}" for line in self._script_lines()]
        lines += ["      - redis-server"]
        if self.password:
            lines += ["    environment:", "      REDIS_PASSWORD: ${REDIS_PASSWORD}"]
        lines += ["    healthcheck:", "      test:", "        - CMD-SHELL", "        - >-"]
        lines += [f"          {self.healthcheck}"]
        if self.tls_mount:
            lines += ["    volumes:", f"      - ./tls:{TLS_DIR}:ro"]
        return "\n".join(lines) + "\n"


def plan_override(settings: RedisSettings, service: RedisService) -> Override:
    """The override that makes ``service`` keep every promise of ``settings``."""
    fit = memory_fit(settings, service)
    flags = promised_flags(settings, fit.value)
    flags[flags.index("--maxmemory") + 1] = size_word(fit.value)
    owned = {word[2:] for word in flags if word.startswith("--")} | {"requirepass"}
    tls = settings.tls_enabled.value
    deployed_tls = service.args.value("tls-port") not in (None, "0")
    carried = _carried(service, owned, keep_tls=tls and deployed_tls)
    tls_mount = tls and not deployed_tls
    if tls_mount:
        carried += tls_flags()
    healthcheck = healthcheck_shell(settings, with_password=bool(settings.password.value))
    dropped = tuple(
        f"--{directive}"
        for directive, _ in service.args.directives
        if directive in SECRET_DIRECTIVES and directive != "requirepass"
    )
    return Override(
        settings.env,
        tuple(flags + carried),
        bool(settings.password.value),
        tls_mount,
        fit,
        healthcheck,
        dropped,
        _memory_note(settings, fit),
    )


def _memory_note(settings: RedisSettings, fit: MemoryFit) -> str:
    promised = settings.maxmemory.cite()
    if fit.limit is None:
        return f"maxmemory: {promised}; the service sets no container memory limit."
    ceiling = size_word(fit.ceiling or 0)
    share = f"{HEADROOM_PERCENT} % of the container's memory limit {fit.limit.cite()} is {ceiling}"
    if fit.fits:
        return f"maxmemory: {promised}, within {share}."
    return (
        f"maxmemory: {ceiling}, not {promised}: {share}, and the rest is for forks, client buffers and "
        f"fragmentation. Change the env files: REDIS_MAXMEMORY={ceiling}, or a limit of {fit.needed_limit()}."
    )


def override_path(compose_file: Path) -> Path:
    """``docker-compose.override.yml`` beside ``docker-compose.yml`` (``compose.override.yml``
    beside ``compose.yaml``): the file Compose reads after the base without ``-f``."""
    stem = compose_file.name.rsplit(".", 1)[0]
    return compose_file.with_name(f"{stem}{OVERRIDE_SUFFIX}")


def written_by_fix(path: Path) -> bool:
    """Whether ``path`` is an override ``nself-redis fix`` wrote (its first line is ``MARK``)."""
    try:
        with path.open(encoding="utf-8") as stream:
            return stream.readline().startswith(MARK)
    except (OSError, UnicodeDecodeError):
        return False
