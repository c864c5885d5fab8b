"""Host and kernel, where the server runs on this machine: what Redis itself warns about at start.

Read from /proc and /sys (``live.host``), never changed. These are the machine's settings, not
the project's: the findings are warnings, and each says where to change the setting (a
container shares its host's kernel, so ``vm.*`` and transparent huge pages are changed on the
host; ``net.core.somaxconn`` belongs to the container's own network namespace).
"""

from __future__ import annotations

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.base import (
    Unknown,
    config,
    info_section,
    local_host,
    number,
    operations_check,
)
from pytest_nself_redis.checks.operations.clients import RESERVED_FDS
from pytest_nself_redis.checks.results import Outcome, ok, warning
from pytest_nself_redis.live.host import ServerHost

OVERCOMMIT = "vm.overcommit_memory"
SOMAXCONN = "net.core.somaxconn"


def _on_the_host(host: ServerHost) -> str:
    if host.container:
        return f"on the Docker host, not in container {host.container} (the kernel is the host's)"
    return "on this machine"


@operations_check("operations.overcommit")
def overcommit_is_on(context: CheckContext) -> Outcome:
    """vm.overcommit_memory is 1, so a fork for a save cannot fail"""
    host = local_host(context)
    reading = host.sysctl(OVERCOMMIT)
    if not reading.known:
        raise Unknown(f"{OVERCOMMIT}: {reading.why_unknown}")
    promise = (
        f"Promise: a background save or AOF rewrite can always fork: {OVERCOMMIT} is 1, as Redis asks "
        "('WARNING Memory overcommit must be enabled!' in its log otherwise)."
    )
    seen = f"{OVERCOMMIT}={reading.shown()} on {host.where()}"
    if reading.value == "1":
        return ok(f"{promise} Kept: {seen}", measured={OVERCOMMIT: reading.value})
    return warning(
        f"{promise} Seen: {seen}: with 0 (heuristic) or 2 (never) the kernel may refuse the fork of a big "
        "dataset, the save fails and, with stop-writes-on-bgsave-error, writes are refused (MISCONF). "
        f"Change it {_on_the_host(host)}: sysctl {OVERCOMMIT}=1, and '{OVERCOMMIT} = 1' in "
        "/etc/sysctl.conf to keep it after a reboot",
        measured={OVERCOMMIT: reading.value},
    )


@operations_check("operations.thp")
def transparent_hugepages_are_not_forced(context: CheckContext) -> Outcome:
    """transparent huge pages are not forced on the server"""
    host = local_host(context)
    reading = host.transparent_hugepages()
    if not reading.known:
        raise Unknown(f"transparent huge pages: {reading.why_unknown}")
    promise = (
        "Promise: transparent huge pages do not slow forks and copy-on-write: the kernel's mode is madvise "
        "or never, or Redis turns them off for itself (disable-thp yes, Redis 6.2 and later)."
    )
    seen = f"transparent_hugepage={reading.shown()} on {host.where()}"
    if reading.value != "always":
        return ok(f"{promise} Kept: {seen}", measured={"thp": reading.value})
    try:
        disabled = config(context, "disable-thp")
    except Unknown as unknown:
        raise Unknown(f"THP is 'always' here and {unknown}, so whether Redis opts out is not known") from None
    measured = {"thp": reading.value, "disable_thp": disabled}
    if disabled == "yes":
        return ok(f"{promise} Kept: {seen}, and the server runs with disable-thp yes", measured=measured)
    return warning(
        f"{promise} Seen: {seen} and disable-thp {disabled}: forks take longer and every write after a fork "
        "copies a 2 MB page instead of 4 KB, so latency and memory jump during saves. Set disable-thp yes in "
        f"the server's config, or change it {_on_the_host(host)}: echo madvise > "
        "/sys/kernel/mm/transparent_hugepage/enabled (and in the boot settings to keep it)",
        measured=measured,
    )


@operations_check("operations.somaxconn")
def somaxconn_allows_the_backlog(context: CheckContext) -> Outcome:
    """net.core.somaxconn is not below the server's tcp-backlog"""
    host = local_host(context)
    try:
        backlog = int(config(context, "tcp-backlog"))
    except ValueError as problem:
        raise Unknown(str(problem)) from None
    reading = host.net_sysctl(SOMAXCONN)
    if not reading.known or not str(reading.value).isdigit():
        raise Unknown(f"{SOMAXCONN}: {reading.why_unknown or reading.value}")
    somaxconn = int(str(reading.value))
    promise = (
        f"Promise: the server's listen queue is as long as its tcp-backlog ({backlog}): the "
        "kernel caps it at "
        f"{SOMAXCONN} (Redis logs 'The TCP backlog setting of {backlog} cannot be enforced' otherwise)."
    )
    seen = f"{SOMAXCONN}={reading.shown()}"
    measured = {"somaxconn": somaxconn, "tcp_backlog": backlog}
    if somaxconn >= backlog:
        return ok(f"{promise} Kept: {seen}", measured=measured)
    where = (
        f"in the compose service (sysctls: {SOMAXCONN}: {backlog}): the setting belongs to the container's "
        "network namespace"
        if host.container
        else f"on this machine: sysctl {SOMAXCONN}={backlog}, and in /etc/sysctl.conf to keep it"
    )
    return warning(
        f"{promise} Seen: {seen}: a burst of new connections beyond {somaxconn} waiting is "
        "dropped, and clients "
        f"see connect timeouts. Change it {where}",
        measured=measured,
    )


@operations_check("operations.open_files")
def open_files_cover_maxclients(context: CheckContext) -> Outcome:
    """the server's open-file limit covers maxclients"""
    try:
        host = local_host(context)
        maxclients = number(info_section(context, "clients"), "maxclients", "clients")
    except (Unknown, ValueError) as problem:
        raise Unknown(str(problem)) from None
    reading = host.open_files()
    if not reading.known:
        raise Unknown(f"the server's open-file limit: {reading.why_unknown}")
    needed = maxclients + RESERVED_FDS
    promise = (
        f"Promise: the server can hold maxclients ({maxclients}) connections: its open-file "
        "limit is at least "
        f"maxclients + {RESERVED_FDS} = {needed}."
    )
    seen = f"Max open files {reading.shown()}"
    limit = None if reading.value == "unlimited" else int(str(reading.value))
    measured = {"open_files": reading.value, "maxclients": maxclients, "needed": needed}
    if limit is None or limit >= needed:
        return ok(f"{promise} Kept: {seen}", measured=measured)
    where = (
        "in the compose service (ulimits: nofile)"
        if host.container
        else "where the server is started (LimitNOFILE in its systemd unit, ulimit -n)"
    )
    return warning(
        f"{promise} Seen: {seen}: accept() fails with 'Too many open files' before maxclients is reached, "
        f"and a restart lowers maxclients to {max(limit - RESERVED_FDS, 0)}. Raise it {where}",
        measured=measured,
    )
