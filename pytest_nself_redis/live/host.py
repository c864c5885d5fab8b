"""The machine a server runs on, as this one sees it: kernel settings and the server process's
limits, read from /proc and /sys, never written.

Only known where the server runs on this machine: a process or docker target the run launched,
or doctor told so (``--local``). The two roots are fields so the harness's own tests can point a
``ServerHost`` at a prepared tree (the harness's input, not a stand-in for Redis); every other
caller reads the real ones. Kernel settings under ``vm.`` are the whole machine's (a container
shares its host's); ``net.`` ones belong to the server's network namespace, which for a container
is its own: those are read inside it (``nsenter``, as root) or reported unknown with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
SYS = Path("/sys")
THP_FILE = "kernel/mm/transparent_hugepage/enabled"
SERVER_NAMES = ("redis-server", "valkey-server")
NSENTER_SECONDS = 2.0


@dataclass(frozen=True)
class Reading:
    """A value read from the host, where it came from, or why it is unknown (``value`` None)."""

    value: str | None
    source: str
    why_unknown: str = ""

    @property
    def known(self) -> bool:
        return self.value is not None

    def shown(self) -> str:
        return f"{self.value} ({self.source})" if self.known else f"unknown ({self.why_unknown})"


@dataclass(frozen=True)
class ServerHost:
    """Where a server runs: this machine, and its process as this machine numbers it.

    ``pid`` is None when the process could not be found here (``why_no_pid`` says why);
    ``container`` names the container the server runs in, if any (the wording of where to change
    a setting depends on it)."""

    pid: int | None
    container: str | None = None
    why_no_pid: str = ""
    proc: Path = PROC
    sys: Path = SYS

    def where(self) -> str:
        if self.container:
            return f"the Docker host of container {self.container}"
        return "this machine"

    def _read(self, path: Path) -> Reading:
        try:
            return Reading(path.read_text(encoding="utf-8", errors="replace").strip(), str(path))
        except OSError as problem:
            return Reading(None, str(path), f"{path} cannot be read: {problem.strerror or problem}")

    def sysctl(self, name: str) -> Reading:
        """A machine-wide kernel setting (``vm.overcommit_memory``), the same inside a container."""
        return self._read(self.proc / "sys" / name.replace(".", "/"))

    def transparent_hugepages(self) -> Reading:
        """The THP mode: the bracketed word of ``always [madvise] never``."""
        reading = self._read(self.sys / THP_FILE)
        if reading.value is None:
            return reading
        chosen = [word[1:-1] for word in reading.value.split() if word.startswith("[") and word.endswith("]")]
        if len(chosen) != 1:
            return Reading(None, reading.source, f"{reading.source} holds {reading.value!r}, no [mode]")
        return Reading(chosen[0], reading.source)

    def net_sysctl(self, name: str) -> Reading:
        """A network setting (``net.core.somaxconn``) of the server's network namespace."""
        relative = Path("sys") / name.replace(".", "/")
        if self.pid is None:
            return Reading(
                None, f"/proc/{relative}", f"the server's process is not known here: {self.why_no_pid}"
            )
        theirs, ours = self.proc / str(self.pid) / "ns" / "net", self.proc / "self" / "ns" / "net"
        try:
            same = not theirs.exists() or os.readlink(theirs) == os.readlink(ours)
        except OSError as problem:
            return Reading(None, str(theirs), f"{theirs} cannot be read: {problem.strerror or problem}")
        if same:
            return self._read(self.proc / relative)
        return self._read_in_namespace(theirs, Path("/proc") / relative)

    def _read_in_namespace(self, namespace: Path, path: Path) -> Reading:
        """``path`` as a process in that network namespace sees it (nsenter, which needs root)."""
        source = f"{path} in the network namespace of pid {self.pid}"
        nsenter = shutil.which("nsenter")
        if nsenter is None or os.geteuid() != 0:
            why = "nsenter is not installed" if nsenter is None else "entering it needs root"
            return Reading(None, source, f"the server has a network namespace of its own and {why}")
        try:
            completed = subprocess.run(
                [nsenter, f"--net={namespace}", "cat", str(path)],
                capture_output=True,
                text=True,
                timeout=NSENTER_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as problem:
            return Reading(None, source, f"nsenter failed: {problem}")
        if completed.returncode != 0:
            return Reading(
                None, source, f"nsenter failed: {completed.stderr.strip() or completed.returncode}"
            )
        return Reading(completed.stdout.strip(), source)

    def open_files(self) -> Reading:
        """The server process's soft limit of open files (``Max open files`` in its limits)."""
        if self.pid is None:
            return Reading(
                None, "/proc/<pid>/limits", f"the server's process is not known here: {self.why_no_pid}"
            )
        reading = self._read(self.proc / str(self.pid) / "limits")
        if reading.value is None:
            return reading
        for line in reading.value.splitlines():
            if line.startswith("Max open files"):
                words = line[len("Max open files") :].split()
                if words:
                    return Reading(words[0], reading.source)
        return Reading(None, reading.source, f"{reading.source} has no Max open files line")


def _proc_text(path: Path) -> str:
    try:
        return path.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _namespaced_pids(process_id: int, proc: Path) -> list[int]:
    """This machine's pids of the server processes that are ``process_id`` in a pid namespace of
    their own (a container's): the last number of their ``NSpid`` line."""
    found = []
    for status in proc.glob("[0-9]*/status"):
        try:
            lines = status.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        nspid = fields.get("NSpid", "").split()
        if len(nspid) > 1 and nspid[-1] == str(process_id) and fields.get("Name", "").strip() in SERVER_NAMES:
            found.append(int(nspid[0]))
    return found


def _container_of(directory: Path) -> str:
    """The short id of the Docker container a process runs in (from its cgroup), for messages."""
    text = _proc_text(directory / "cgroup")
    found = re.search(r"docker[/-]([0-9a-f]{12})", text)
    return found.group(1) if found else "(a container)"


def _serves(directory: Path, tcp_port: int) -> bool:
    """The process is a server (redis-server, valkey-server) whose title names ``tcp_port``."""
    name, title = _proc_text(directory / "comm"), _proc_text(directory / "cmdline")
    return name in SERVER_NAMES and (not tcp_port or f":{tcp_port}" in title)


def _tcp_address(address: str) -> str | None:
    """``172.17.0.3:6379`` as /proc/net/tcp writes it (``0300A8C0:18EB``); None for IPv6."""
    host, _, port = address.rpartition(":")
    try:
        octets = [int(part) for part in host.split(".")]
        if len(octets) != 4:
            return None
        return f"{''.join(f'{octet:02X}' for octet in reversed(octets))}:{int(port):04X}"
    except ValueError:
        return None


def _has_socket(directory: Path, address: str) -> bool:
    """The process's network namespace has a TCP socket bound to ``address`` (ip:port)."""
    wanted = _tcp_address(address)
    if wanted is None:
        return True  # IPv6 or unparsable: cannot tell, so it does not rule the process out
    rows = _proc_text(directory / "net" / "tcp").splitlines()[1:]
    return any(len(fields) > 1 and fields[1] == wanted for fields in (row.split() for row in rows))


def local_server(
    process_id: int, tcp_port: int, local_address: str | None = None, proc: Path = PROC, sys: Path = SYS
) -> ServerHost:
    """The server INFO says is ``process_id`` (listening on ``tcp_port``), when it runs here:
    that process of this machine, or the process of a container that is ``process_id`` in the
    container's own numbering (a containerised server reports that one), told apart from other
    containers' by ``local_address``, the server's end of this client's connection (CLIENT INFO
    laddr: the container's own address). None found, or several that fit, is said in
    ``why_no_pid``."""
    if _serves(proc / str(process_id), tcp_port):
        return ServerHost(process_id, proc=proc, sys=sys)
    candidates = [pid for pid in _namespaced_pids(process_id, proc) if _serves(proc / str(pid), tcp_port)]
    if local_address and len(candidates) > 1:
        candidates = [pid for pid in candidates if _has_socket(proc / str(pid), local_address)]
    if len(candidates) == 1:
        return ServerHost(
            candidates[0], container=_container_of(proc / str(candidates[0])), proc=proc, sys=sys
        )
    where = f"INFO process_id is {process_id} (port {tcp_port})"
    why = (
        f"{where} and {len(candidates)} containerised servers on this machine fit it (pids "
        f"{', '.join(map(str, candidates))}), so which one answers is not known"
        if candidates
        else f"{where}, and no redis-server or valkey-server process of this machine is that one"
    )
    return ServerHost(None, why_no_pid=why, proc=proc, sys=sys)
