"""Security posture: which engine and version answers, what a leaked password could do, and known
critical flaws of that version.

Users without a password are ``auth.acl_nopass``'s; the default user reachable without one is
``auth.noauth``'s. These checks never run a dangerous command: ``ACL DRYRUN`` (Redis 7+) or the
user's ACL rules say whether it would be allowed.
"""

from __future__ import annotations

from collections.abc import Callable

from redis import exceptions as redis_errors

from pytest_nself_redis.checks.base import CheckContext
from pytest_nself_redis.checks.operations.advisories import ADVISORIES
from pytest_nself_redis.checks.operations.base import Unknown, config, info_section, operations_check
from pytest_nself_redis.checks.results import Outcome, ok, skipped, warning
from pytest_nself_redis.live.engine import Engine, engine_of
from pytest_nself_redis.live.refusals import explain, is_refused

USER = "default"
# Each dangerous command, with arguments of the right arity for ACL DRYRUN (never sent on its own).
DANGEROUS: dict[str, tuple[str, ...]] = {
    "FLUSHALL": ("FLUSHALL",),
    "FLUSHDB": ("FLUSHDB",),
    "CONFIG SET": ("CONFIG", "SET", "maxmemory", "0"),
    "DEBUG": ("DEBUG", "SLEEP", "0"),
    "KEYS": ("KEYS", "*"),
}
CLOSE_THEM = "ACL SETUSER default -flushall -flushdb -config|set -debug -keys"


def server_engine(context: CheckContext) -> Engine:
    """The engine INFO server names (raises Unknown when INFO is refused or names none)."""
    engine = engine_of(info_section(context, "server"))
    if engine is None:
        raise Unknown("INFO server names no redis_version or valkey_version")
    return engine


@operations_check("operations.engine")
def engine_is_named(context: CheckContext) -> Outcome:
    """the engine (Redis or Valkey) and its own version are known"""
    engine = server_engine(context)
    return ok(
        f"Promise: the report names the engine and its own version (INFO server_name, valkey_version, "
        f"redis_version). Seen: {engine.describe()}",
        measured={"engine": engine.name, "version": engine.version, "redis_version": engine.redis_version},
    )


def allowed_by_rules(rules: str, command: tuple[str, str | None], members: Callable[[str], set[str]]) -> bool:
    """Whether ACL rules (``+@all -@dangerous +flushdb``, applied in order) let ``command`` run:
    (name, subcommand) in lower case; ``members`` lists a category's commands (ACL CAT)."""
    name, sub = command
    full = f"{name}|{sub}" if sub else name
    allowed = False
    for rule in rules.lower().split():
        sign, target = rule[:1], rule[1:]
        if sign not in ("+", "-"):
            continue
        if target in ("@all", "allcommands"):
            allowed = sign == "+"
        elif target.startswith("@"):
            if {name, full} & members(target[1:]):
                allowed = sign == "+"
        elif target in (name, full):
            allowed = sign == "+"
    return allowed


def _by_rules(context: CheckContext) -> dict[str, str]:
    """Each dangerous command's fate read from ACL GETUSER's rules (servers without ACL DRYRUN)."""
    try:
        user = context.client.acl_getuser(USER)
    except redis_errors.RedisError as problem:
        raise Unknown(f"ACL GETUSER {USER} {explain(problem)}") from None
    flags = [str(flag) for flag in user.get("flags", [])]
    if "off" in flags:
        return dict.fromkeys(DANGEROUS, "the default user is off")
    rules = " ".join([*(["+@all"] if "allcommands" in flags else []), str(user.get("commands", ""))])
    cache: dict[str, set[str]] = {}

    def members(category: str) -> set[str]:
        if category not in cache:
            cache[category] = {str(item).lower() for item in context.client.acl_cat(category)}
        return cache[category]

    fates = {}
    for label, args in DANGEROUS.items():
        command = (args[0].lower(), args[1].lower() if args[0] == "CONFIG" else None)
        fates[label] = "allowed" if allowed_by_rules(rules, command, members) else "denied by its ACL rules"
    return fates


def _dry_runs(context: CheckContext) -> dict[str, str]:
    """Each dangerous command's fate for the default user: allowed, denied (and why), or not there."""
    fates: dict[str, str] = {}
    for label, args in DANGEROUS.items():
        try:
            reply = context.client.execute_command("ACL", "DRYRUN", USER, *args)
        except redis_errors.ResponseError as problem:
            text = str(problem)
            if "unknown subcommand" in text.lower() or "unknown command" in text.lower():
                return _by_rules(context)  # ACL DRYRUN is Redis 7+
            if "not found" in text.lower():
                fates[label] = "not there (renamed or disabled)"
                continue
            if is_refused(problem):
                raise Unknown(f"ACL DRYRUN {explain(problem)}") from None
            raise Unknown(f"ACL DRYRUN {USER} {label} answered {text}") from None
        fates[label] = "allowed" if str(reply) == "OK" else f"denied ({reply})"
    return fates


def _debug_switch(context: CheckContext, fates: dict[str, str]) -> None:
    """DEBUG allowed by ACL is still refused when enable-debug-command says so (Redis 7+)."""
    if fates.get("DEBUG") != "allowed":
        return
    try:
        switch = config(context, "enable-debug-command")
    except Unknown:
        return  # an older server (no such switch) or CONFIG refused: ACL is all that is known
    if switch == "no":
        fates["DEBUG"] = "refused by enable-debug-command no"
    elif switch == "local":
        fates["DEBUG"] = "allowed (enable-debug-command local: from connections on the server's host)"


@operations_check("operations.dangerous_commands")
def password_holders_cannot_wipe(context: CheckContext) -> Outcome:
    """the default user cannot run FLUSHALL, FLUSHDB, CONFIG SET, DEBUG or KEYS"""
    setting = context.settings.password
    if not setting.value.reveal():
        return skipped(
            f"no password is promised ({setting.cite()}): whoever reaches the port is the default user; "
            "auth.password_set reports that",
            str(setting.source),
        )
    promise = (
        f"Promise: the password ({setting.cite()}) is the only key, so the default user it authenticates "
        "should not also be able to wipe, slow or reconfigure the server: FLUSHALL, FLUSHDB, CONFIG SET, "
        "DEBUG and KEYS denied (ACL DRYRUN, never run)."
    )
    fates = _dry_runs(context)
    _debug_switch(context, fates)
    reachable = [label for label, fate in fates.items() if fate.startswith("allowed")]
    shown = "; ".join(f"{label}: {fate}" for label, fate in fates.items())
    if not reachable:
        return ok(f"{promise} Kept: {shown}", str(setting.source), fates)
    return warning(
        f"{promise} Seen: the default user can run {', '.join(reachable)} ({shown}). Anyone holding the "
        f"password can then empty or reconfigure the server. Deny what the applications do not use: "
        f"{CLOSE_THEM} (BullMQ and most clients need none of them; keep CONFIG GET, which some read), "
        "and the same in the ACL file or config the server loads",
        str(setting.source),
        fates,
    )


@operations_check("operations.known_cves")
def no_known_critical_flaw(context: CheckContext) -> Outcome:
    """the server's version has no known critical flaw left unfixed"""
    engine = server_engine(context)
    promise = "Promise: the server runs a release that fixes the known critical flaws of its branch."
    found, checked = [], []
    for advisory in ADVISORIES:
        verdict = advisory.affects(engine.name, engine.parsed)
        if verdict is None:
            continue
        affected, why = verdict
        checked.append(advisory.title)
        if affected:
            found.append((advisory, why))
    measured = {"engine": engine.name, "version": engine.version, "affected_by": [a.title for a, _ in found]}
    if not checked:
        return skipped(f"no advisory in this check's table covers {engine.describe()}")
    if not found:
        return ok(
            f"{promise} Kept: {engine.describe()} is not affected by {'; '.join(checked)}", measured=measured
        )
    listed = " ".join(
        f"Affected: {advisory.title} (published {advisory.published}; fixed in "
        f"{advisory.fixed_in(engine.name)}): {why}. Until it is upgraded, {advisory.workaround}."
        for advisory, why in found
    )
    return warning(
        f"{promise} Seen: {engine.describe()}. {listed} A warning, not an error: distributions (Debian, "
        "Ubuntu, Alpine, Red Hat) backport security fixes into the version they ship without changing its "
        "number, so check the package's changelog (apt changelog redis-server, apk info) before upgrading; "
        "an official image or a source build of this version is affected",
        measured=measured,
    )
