"""The nself plugin folders: installed and run the way each nself generation does it.

nself 0.9.x reads plugin.json with grep and sed, copies a local folder into its plugin
directory and runs ``bash actions/<action>.sh`` with NSELF_PROJECT_DIR and NSELF_PLUGIN_PATH
exported from wherever the user stands; nself 1.x execs ``bin/nself-<command>`` with the
variables the manifest declares. Both end in this package's real ``nself-redis``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import pytest_nself_redis
from pytest_nself_redis.nself_plugin import NAME, folder
from tests.conftest import Launcher
from tests.doctor.test_doctor import SCHEMA
from tests.harness import COMPLETE_WITHOUT_TLS, base_env, make_project

VENV_BIN = Path(sys.executable).parent
ACTIONS = ("doctor", "check", "probe")
# How nself 0.9.9 reads a plugin.json (src/cli/plugin.sh, src/cli/doctor.sh): grep and sed.
NAME_OF = (
    r"""grep '"name"' "$1/plugin.json" | head -1 """
    r"""| sed 's/.*"name"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/'"""
)
VERSION_OF = r"""grep '"version"' "$1/plugin.json" | head -1 | sed 's/.*: *"\([^"]*\)".*/\1/'"""
ACTION_HELP = (
    r"""grep -A1 "\"$2\"" "$1/plugin.json" | grep -v "$2" | head -1 | sed 's/.*":\s*"\([^"]*\)".*/\1/'"""
)


def nself_reads(script: str, *args: str) -> str:
    completed = subprocess.run(
        ["bash", "-c", script, "nself", *args], capture_output=True, text=True, check=True, timeout=30
    )
    return completed.stdout.strip()


def manifest(generation: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder(generation) / "plugin.json").read_text())
    return data


def cli(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_nself_redis.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=base_env(**environ),
    )


def path_with(*directories: Path) -> str:
    return os.pathsep.join([*(str(directory) for directory in directories), "/usr/bin", "/bin"])


def run_script(
    script: Path, *args: str, cwd: Path, path: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    env = {**base_env(**environ), "PATH": path}
    return subprocess.run(
        [str(script), *args] if script.parent.name == "bin" else ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )


def install_like_nself_09(source: Path, home: Path) -> Path:
    """nself 0.9's install_local_plugin: the name from plugin.json, then ``cp -r``."""
    name = nself_reads(NAME_OF, str(source))
    plugins = home / ".nself" / "plugins"
    plugins.mkdir(parents=True)
    subprocess.run(["cp", "-r", str(source), str(plugins / name)], check=True, timeout=30)
    return plugins / name


def test_the_path_command_names_each_generations_folder() -> None:
    for generation in ("0", "1"):
        completed = cli("nself-plugin", "--path", "--generation", generation)
        assert completed.returncode == 0, completed.stderr
        assert Path(completed.stdout.strip()) == folder(generation)
        assert (folder(generation) / "plugin.json").is_file()
    assert Path(cli("nself-plugin", "--path").stdout.strip()) == folder("1")  # the current nself
    assert cli("nself-plugin").returncode == 2
    assert cli("nself-plugin", "--path", "--generation", "2").returncode == 2


def test_nself_09_reads_the_manifest_as_meant() -> None:
    source = folder("0")
    assert nself_reads(NAME_OF, str(source)) == NAME
    assert nself_reads(VERSION_OF, str(source)) == pytest_nself_redis.__version__
    data = manifest("0")
    for action in ACTIONS:
        script = source / "actions" / f"{action}.sh"
        assert script.is_file()
        assert os.access(script, os.X_OK)
        assert data["actions"][action]["script"] == f"actions/{action}.sh"
        assert nself_reads(ACTION_HELP, str(source), action) == data["actions"][action]["description"]
    assert {"name", "version", "description", "author", "category", "minNselfVersion"} <= set(data)


def test_nself_1x_manifest_v2() -> None:
    data = manifest("1")
    assert data["manifest_version"] == 2
    for key in ("name", "version", "description", "category", "license", "maturity", "service"):
        assert data[key], key
    assert (data["name"], data["version"]) == (NAME, pytest_nself_redis.__version__)
    assert data["license"] in ("free", "licensed")
    assert data["service"]["kind"] == "cli"
    (command,) = data["commands"]
    assert command["name"] == "redis-check"
    binary = folder("1") / command["bin"]
    assert binary.name == f"nself-{command['name']}"  # nself <command> runs bin/nself-<command>
    assert os.access(binary, os.X_OK)
    declared = {item["name"] for item in data["env"]}
    assert {"REDIS_PASSWORD", "REDIS_PORT", "NSELF_REDIS_PASSWORD"} <= declared
    assert all(item.get("secret") for item in data["env"] if "PASSWORD" in item["name"])
    dockerfile = (folder("1") / "Dockerfile").read_text()
    assert f"ARG NSELF_REDIS_VERSION={pytest_nself_redis.__version__}" in dockerfile


def test_scripts_are_posix_shell_and_share_one_finder() -> None:
    scripts = [*folder("0").glob("actions/*.sh"), folder("1") / "bin" / "nself-redis-check"]
    libraries = [folder(generation) / "lib" / "nself-redis.sh" for generation in ("0", "1")]
    for script in [*scripts, *libraries]:
        for shell in ("bash", "dash"):
            checked = subprocess.run(
                [shell, "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
            )
            assert checked.returncode == 0, (shell, script, checked.stderr)
    for script in scripts:
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n")
        assert "set -eu" in text
    # Each folder is installed alone, so each carries the finder; the copies must not drift.
    assert libraries[0].read_bytes() == libraries[1].read_bytes()


def test_nself_09_runs_doctor_for_its_project_from_anywhere(tmp_path: Path, launch: Launcher) -> None:
    plugin = install_like_nself_09(folder("0"), tmp_path / "home")
    healthy = launch(COMPLETE_WITHOUT_TLS, "prod")
    elsewhere = tmp_path / "elsewhere"  # no env files: doctor run here would exit 2
    elsewhere.mkdir()
    env = {"NSELF_PROJECT_DIR": str(COMPLETE_WITHOUT_TLS), "NSELF_PLUGIN_PATH": str(plugin)}
    password = healthy.endpoint.password.reveal()
    url = f"redis://127.0.0.1:{healthy.endpoint.port}"
    completed = run_script(
        plugin / "actions" / "doctor.sh",
        *("--env", "prod", "--redis-url", url, "--format", "json"),
        cwd=elsewhere,
        path=path_with(VENV_BIN),
        NSELF_REDIS_PASSWORD=password,
        **env,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr
    document = json.loads(completed.stdout)
    assert document["env"] == "prod"
    assert f":{healthy.endpoint.port}/" in document["target"]
    # The exit status is doctor's: 1 when a check errs (allkeys-lru where queues run) ...
    project = make_project(
        tmp_path / "project",
        COMPLETE_WITHOUT_TLS,
        env_files={".env.prod": "REDIS_MAXMEMORY_POLICY=allkeys-lru"},
    )
    broken = launch(project, "prod")
    failing = run_script(
        plugin / "actions" / "doctor.sh",
        *("--env", "prod", "--redis-url", f"redis://127.0.0.1:{broken.endpoint.port}", "--json"),
        cwd=elsewhere,
        path=path_with(VENV_BIN),
        NSELF_REDIS_PASSWORD=broken.endpoint.password.reveal(),
        NSELF_PROJECT_DIR=str(project),
        NSELF_PLUGIN_PATH=str(plugin),
    )
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["status"] == "error"
    # ... and 2 when it cannot look.
    unreachable = run_script(
        plugin / "actions" / "doctor.sh",
        *("--env", "prod", "--redis-url", "redis://127.0.0.1:1"),
        cwd=elsewhere,
        path=path_with(VENV_BIN),
        **env,
    )
    assert unreachable.returncode == 2
    assert "nothing answers as Redis at 127.0.0.1:1" in unreachable.stderr
    probe = run_script(
        plugin / "actions" / "probe.sh",
        *("--redis-url", url),
        cwd=elsewhere,
        path=path_with(VENV_BIN),
        NSELF_REDIS_PASSWORD=password,
        **env,
    )
    assert probe.returncode == 0, probe.stdout
    assert password not in completed.stdout + completed.stderr + probe.stdout


def test_the_command_is_found_as_a_module_or_reported_missing(tmp_path: Path, launch: Launcher) -> None:
    plugin = install_like_nself_09(folder("0"), tmp_path / "home")
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    # No nself-redis on PATH, but a python3 that has the package: python3 -m pytest_nself_redis.cli.
    only_python = tmp_path / "only-python"
    only_python.mkdir()
    python = only_python / "python3"  # a venv's python works through a wrapper, not a symlink
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    found = run_script(
        plugin / "actions" / "probe.sh",
        *("--redis-url", url),
        cwd=tmp_path,
        path=path_with(only_python),
        NSELF_REDIS_PASSWORD=target.endpoint.password.reveal(),
        NSELF_PROJECT_DIR=str(COMPLETE_WITHOUT_TLS),
    )
    assert found.returncode == 0, found.stdout + found.stderr
    # Python without the package (a bare venv) and no command: one message, exit 127.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    missing = run_script(
        plugin / "actions" / "doctor.sh",
        cwd=tmp_path,
        path=path_with(bare / "bin"),
        NSELF_PROJECT_DIR=str(COMPLETE_WITHOUT_TLS),
    )
    assert missing.returncode == 127
    assert "the nself-redis command is not installed: pip install pytest-nself-redis" in missing.stderr


def test_nself_1x_runs_the_mounted_command(tmp_path: Path, launch: Launcher) -> None:
    """nself 1.x execs bin/nself-redis-check in the project with the declared variables:
    REDIS_PASSWORD resolved through the cascade reaches nself-redis in its environment."""
    source = folder("1")
    target = launch(COMPLETE_WITHOUT_TLS, "prod")
    password = target.endpoint.password.reveal()
    binary = source / "bin" / "nself-redis-check"
    url = f"redis://127.0.0.1:{target.endpoint.port}"
    path = path_with(VENV_BIN)
    arguments = ("--env", "prod", "--redis-url", url, "--json")
    doctor = run_script(binary, *arguments, cwd=COMPLETE_WITHOUT_TLS, path=path, REDIS_PASSWORD=password)
    assert doctor.returncode == 0, doctor.stderr
    jsonschema.validate(json.loads(doctor.stdout), SCHEMA)
    probe = run_script(
        binary, "probe", "--redis-url", url, cwd=COMPLETE_WITHOUT_TLS, path=path, REDIS_PASSWORD=password
    )
    assert (probe.returncode, probe.stdout.split(":")[0]) == (0, "healthy"), probe.stdout
    wrong = run_script(binary, "shell", cwd=COMPLETE_WITHOUT_TLS, path=path)
    assert wrong.returncode == 2
    assert "usage: nself redis-check [doctor|check|probe|serve]" in wrong.stderr


def test_install_copies_a_runnable_folder(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    installed = cli("nself-plugin", "--install", str(plugins), "--generation", "0")
    assert installed.returncode == 0, installed.stderr
    destination = plugins / NAME
    assert Path(installed.stdout.strip()) == destination
    assert all(os.access(script, os.X_OK) for script in destination.glob("actions/*.sh"))
    assert (destination / "lib" / "nself-redis.sh").is_file()
    # Again, now the 1.x folder: our own earlier copy is replaced.
    again = cli("nself-plugin", "--install", str(plugins), "--generation", "1")
    assert again.returncode == 0, again.stderr
    assert json.loads((destination / "plugin.json").read_text())["manifest_version"] == 2
    assert not (destination / "actions").exists()
    # Someone else's folder of that name is left alone.
    foreign = tmp_path / "other"
    (foreign / NAME).mkdir(parents=True)
    (foreign / NAME / "notes.txt").write_text("mine")
    refused = cli("nself-plugin", "--install", str(foreign))
    assert refused.returncode == 2
    assert "exists and is not a redis-check plugin" in refused.stderr
    assert (foreign / NAME / "notes.txt").read_text() == "mine"
    nowhere = cli("nself-plugin", "--install", str(tmp_path / "missing"))
    assert nowhere.returncode == 2
    assert "no such directory" in nowhere.stderr


def test_the_compose_service_for_nself_doctor_deep() -> None:
    """nself doctor --deep probes containers labelled nself.plugin at a host port >= 1024."""
    document = yaml.safe_load((folder("1") / "compose.yml").read_text())
    (service,) = document["services"].values()
    assert service["labels"]["nself.plugin"] == NAME
    (binding,) = service["ports"]
    host, host_port, container_port = binding.split(":")
    assert host == "127.0.0.1"
    assert int(host_port) >= 1024
    command = service["command"]
    assert command[0] == "serve"
    assert command[command.index("--port") + 1] == container_port
    assert command[command.index("--bind") + 1] == "0.0.0.0"  # inside the container; published on loopback
    assert "@" not in command[command.index("--redis-url") + 1]  # no password on the command line
    assert service["environment"]["NSELF_REDIS_PASSWORD"] == "${REDIS_PASSWORD:-}"
    assert "/healthz" in " ".join(service["healthcheck"]["test"])
    assert manifest("1")["compose"] == "compose.yml"


@pytest.mark.parametrize("generation", ["0", "1"])
def test_install_then_path_round_trip_keeps_every_file(tmp_path: Path, generation: str) -> None:
    completed = cli("nself-plugin", "--install", str(tmp_path), "--generation", generation)
    assert completed.returncode == 0, completed.stderr
    shipped = sorted(path.relative_to(folder(generation)) for path in folder(generation).rglob("*"))
    copied = sorted(path.relative_to(tmp_path / NAME) for path in (tmp_path / NAME).rglob("*"))
    assert copied == shipped
