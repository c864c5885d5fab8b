"""Known critical flaws by engine and release branch: the first release of each branch that
carries the fix.

A version below the fixed release of its branch is reported, as a warning: distributions
(Debian, Ubuntu, Alpine, Red Hat) backport security fixes into the version they ship without
changing its number, so only the package's changelog can say whether a server is affected.
A branch newer than every branch listed was released with the fix; an older branch that is not
listed has no fixed release (end of life).
"""

from __future__ import annotations

from dataclasses import dataclass

Version = tuple[int, ...]
Branch = tuple[int, int]


@dataclass(frozen=True)
class Advisory:
    title: str
    published: str
    # engine name -> branch -> first fixed release of that branch.
    fixed: dict[str, dict[Branch, Version]]
    workaround: str

    def fixed_in(self, engine: str) -> str:
        releases = self.fixed.get(engine, {}).values()
        return ", ".join(".".join(map(str, release)) for release in sorted(releases))

    def affects(self, engine: str, version: Version) -> tuple[bool, str] | None:
        """Whether this engine version predates the fix, and how the table says so; None when
        the table knows nothing of the engine."""
        branches = self.fixed.get(engine)
        if not branches:
            return None
        branch = (*version, 0, 0)[:2]
        shown = ".".join(map(str, version))
        if branch in branches:
            release = branches[branch]
            fixed = ".".join(map(str, release))
            if version >= release:
                return (
                    False,
                    f"{engine} {shown} is at or above {fixed}, the {branch[0]}.{branch[1]} branch's fix",
                )
            return True, f"{engine} {shown} is below {fixed}, the {branch[0]}.{branch[1]} branch's fix"
        if branch > max(branches):
            return False, f"the {branch[0]}.{branch[1]} branch came out after the fix"
        return True, (
            f"no release of the {branch[0]}.{branch[1]} branch is known to carry the fix (end of life or not "
            "in this check's table)"
        )


ADVISORIES = (
    Advisory(
        title=(
            "the Lua scripting flaws of October 2025: CVE-2025-49844 (a use-after-free that "
            "lets a script run "
            "code on the host), CVE-2025-46817, CVE-2025-46818, CVE-2025-46819"
        ),
        published="2025-10-03",
        fixed={
            "Redis": {
                (6, 2): (6, 2, 20),
                (7, 2): (7, 2, 11),
                (7, 4): (7, 4, 6),
                (8, 0): (8, 0, 4),
                (8, 2): (8, 2, 2),
            },
            "Valkey": {(7, 2): (7, 2, 11), (8, 0): (8, 0, 6), (8, 1): (8, 1, 4)},
        },
        workaround=(
            "deny scripting to users that do not need it (ACL SETUSER <user> -@scripting; BullMQ needs "
            "EVALSHA, so its user keeps it)"
        ),
    ),
)
