"""``nself-redis fix``: the compose override that makes the redis service keep every promise.

Prints the override (``compose.override``) for one env; with ``--write`` puts it where the
generation's compose tooling reads it: ``docker-compose.override.yml`` beside the compose
file, and for an nself 1.x project that lists its files in ``.nself/compose-files.txt``, a
line there too. It writes no other file, never a secret, and never over an override it did
not write. Before anything is written, the override is merged over the project's compose
files in memory and every config promise is judged against the result.

Exit status: 0 the deployment with the override keeps every config promise of the env; 1
the override is printed (or written) but some promise no deployment can keep, because the
env files contradict the service (a maxmemory with no headroom below the container's memory
limit): stderr names the setting to change; 2 bad usage or input (no project, an unknown env,
an invalid value, no compose file or no redis service, an override it did not write, a file
it cannot write), with one message and nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pytest_nself_redis import __version__
from pytest_nself_redis.cli.files import write_atomically
from pytest_nself_redis.compose.files import COMPOSE_FILES_LIST
from pytest_nself_redis.compose.override import MARK, Override, override_path, plan_override, written_by_fix
from pytest_nself_redis.compose.service import RedisService, load_compose_service
from pytest_nself_redis.context import EnvContext, load_env_context, open_project
from pytest_nself_redis.errors import ExitStatus, HarnessError
from pytest_nself_redis.layers import LayerVerdict, compare_layers, config_promises
from pytest_nself_redis.project.provenance import shown_name
from pytest_nself_redis.remedy import fix_command

# Secrets shorter than this would match ordinary words of the override (a false alarm).
SECRET_SCAN_MIN = 4


@dataclass(frozen=True)
class Plan:
    """What ``fix`` would write for one env, and where."""

    context: EnvContext
    override: Override
    text: str
    path: Path
    name: str
    # nself 1.x's list of compose files, when the project has one.
    listing: Path | None

    @property
    def listed(self) -> bool:
        files = self.context.compose_files
        return files is not None and self.path in files.paths


def _context(options: argparse.Namespace) -> EnvContext:
    project = open_project(options.project, options.nself_version)
    names = project.choose_envs(options.env, os.environ).names
    if len(names) != 1:
        raise HarnessError(f"--env {options.env}: fix writes one env's override at a time (got {len(names)})")
    return load_env_context(project, names[0])


def plan(options: argparse.Namespace) -> Plan:
    """The override for the env, or the one message saying why there is none."""
    context = _context(options)
    service = context.service
    if service.origin != "compose" or service.compose_file is None or context.compose_files is None:
        raise HarnessError(
            f"{context.project.dir} has no compose file to override: run `nself build` first (the "
            "harness checks a project without one against the service the settings describe)"
        )
    override = plan_override(context.settings, service)
    text = override.text(f"nself-redis {__version__}")
    _refuse_secrets(context, text)
    path = override_path(service.compose_file)
    listing = context.project.dir / COMPOSE_FILES_LIST
    uses_list = context.generation.is_1x and context.compose_files.chosen_by == COMPOSE_FILES_LIST
    return Plan(
        context, override, text, path, shown_name(path, context.project.dir), listing if uses_list else None
    )


def _refuse_secrets(context: EnvContext, text: str) -> None:
    """Never write a secret: any of the env's secret values in the text stops the command."""
    found = [value for value in context.redactor.values if len(value) >= SECRET_SCAN_MIN and value in text]
    if found:
        raise HarnessError(
            "the override would hold a secret of the env (a value of the compose command carried over); "
            "nothing written: move it to the environment and reference it"
        )


def foreign_override(plan: Plan) -> str | None:
    """Why ``--write`` must refuse: an override at the target (or its ``.yaml`` spelling) that
    ``fix`` did not write; None when there is none."""
    for candidate in (plan.path, plan.path.with_suffix(".yaml")):
        if candidate.exists() and not written_by_fix(candidate):
            name = shown_name(candidate, plan.context.project.dir)
            return (
                f"{name} exists and nself-redis fix did not write it (its first line is not "
                f"'{MARK} ...'): nothing written. Merge the override `{fix_command(plan.override.env)}` "
                f"prints into {name} by hand, or move {name} away and run it again with --write"
            )
    return None


def merged_service(plan: Plan) -> RedisService:
    """The redis service as compose would run it with the override: the project's files, then
    the override (read from a temporary copy, so nothing is written to judge it)."""
    files = plan.context.compose_files
    assert files is not None
    paths = [path for path in files.paths if path != plan.path]
    names = [name for path, name in zip(files.paths, files.names, strict=True) if path != plan.path]
    variables = plan.context.resolved.compose_variables()
    with tempfile.TemporaryDirectory(prefix="nself-redis-fix-") as directory:
        copy = Path(directory) / plan.path.name
        copy.write_text(plan.text, encoding="utf-8")
        return load_compose_service([*paths, copy], variables, [*names, plan.name])


def judged(plan: Plan) -> list[LayerVerdict]:
    """Every config promise against the service with the override (no server: live unknown)."""
    service = merged_service(plan)
    return [
        compare_layers(promise, service, None) for promise in config_promises(plan.context.settings).values()
    ]


def _listing_lines(plan: Plan) -> list[str]:
    """``.nself/compose-files.txt`` with the override added (it lists the files compose reads)."""
    assert plan.listing is not None
    text = plan.listing.read_text(encoding="utf-8")
    note = (
        f"# added by nself-redis fix (`nself build` writes this list again: run "
        f"`{fix_command(plan.override.env)} --write` after it)"
    )
    return [*text.rstrip("\n").split("\n"), note, plan.name]


def write(plan: Plan) -> list[str]:
    """Write the override (and list it for nself 1.x); what was written, for the user."""
    refusal = foreign_override(plan)
    if refusal is not None:
        raise HarnessError(refusal)
    write_atomically(plan.path, plan.text, plan.name)
    done = [f"wrote {plan.name}"]
    if plan.listing is not None and not plan.listed:
        lines = _listing_lines(plan)
        write_atomically(plan.listing, "\n".join(lines) + "\n", COMPOSE_FILES_LIST)
        done.append(f"listed it in {COMPOSE_FILES_LIST}")
    return done


def where_it_goes(plan: Plan) -> str:
    """How compose picks the override up, for a printed (not written) override."""
    if plan.listing is not None:
        listed = "it is listed" if plan.listed else f"add the line `{plan.name}` to it"
        return (
            f"save it as {plan.name}; compose reads the files {COMPOSE_FILES_LIST} lists, and {listed} "
            f"(--write does both; `nself build` writes the list again: run fix after it)"
        )
    return f"save it as {plan.name} beside the compose file: compose reads it after it (--write does)"


def report(plan: Plan, verdicts: list[LayerVerdict]) -> tuple[list[str], int]:
    """Lines for stderr and the exit status: every promise kept, or which cannot be."""
    broken = [verdict for verdict in verdicts if not verdict.ok]
    env = plan.override.env
    if not broken:
        return [f"with it, the deployment keeps all {len(verdicts)} config promises of env {env}"], 0
    kept = len(verdicts) - len(broken)
    lines = [f"with it, the deployment keeps {kept} of {len(verdicts)} config promises of env {env}:"]
    for verdict in broken:
        change = verdict.remedy.line() if verdict.remedy else verdict.message
        lines.append(f"  {verdict.promise.id}: {change}")
    return lines, int(ExitStatus.CHECK_FAILED)


def run_fix(options: argparse.Namespace, extra: list[str]) -> int:
    found = plan(options)
    verdicts = judged(found)
    lines, status = report(found, verdicts)
    if options.write:
        lines = write(found) + lines
    else:
        sys.stdout.write(found.text)
        lines.insert(0, where_it_goes(found))
        refusal = foreign_override(found)
        if refusal is not None:
            lines.append(f"--write would refuse: {refusal.split(': nothing written')[0]}")
    for line in lines:
        print(f"nself-redis fix: {found.context.redactor.scrub(line)}", file=sys.stderr)
    return status
