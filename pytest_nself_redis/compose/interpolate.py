"""Compose-style ``${VAR}`` interpolation, as ``docker compose`` does it at ``up`` time.

Supported: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?message}``, ``${VAR?message}``, ``${VAR:+alt}``, ``${VAR+alt}`` (defaults
may nest), and ``$$`` for a literal ``$``. An unset variable without a default is
empty, as in compose.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

from pytest_nself_redis.errors import ComposeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ComposeError):
    pass


class _Interpolator:
    def __init__(self, text: str, variables: Mapping[str, str], where: str) -> None:
        self.text = text
        self.variables = variables
        self.where = where
        self.used: set[str] = set()

    def fail(self, why: str) -> InterpolationError:
        return InterpolationError(f"{self.where}: {why} in {self.text[:60]!r}")

    def run(self, start: int, stop_at_brace: bool) -> tuple[str, int]:
        """Expand from ``start``; stop at an unmatched ``}`` when inside a default."""
        out: list[str] = []
        i = start
        text = self.text
        while i < len(text):
            char = text[i]
            if char == "}" and stop_at_brace:
                return "".join(out), i
            if char != "$":
                out.append(char)
                i += 1
                continue
            following = text[i + 1 : i + 2]
            if following == "$":
                out.append("$")
                i += 2
            elif following == "{":
                value, i = self.braced(i + 2)
                out.append(value)
            else:
                match = _NAME.match(text, i + 1)
                if match is None:
                    raise self.fail("a lone '$' (write '$$' for a literal dollar)")
                out.append(self.lookup(match.group()) or "")
                i = match.end()
        if stop_at_brace:
            raise self.fail("'${' is never closed")
        return "".join(out), i

    def lookup(self, name: str) -> str | None:
        self.used.add(name)
        return self.variables.get(name)

    def braced(self, i: int) -> tuple[str, int]:
        match = _NAME.match(self.text, i)
        if match is None:
            raise self.fail("'${' must be followed by a variable name")
        name = match.group()
        i = match.end()
        if i >= len(self.text):
            raise self.fail("'${' is never closed")
        if self.text[i] == "}":
            return self.lookup(name) or "", i + 1
        operator = next((op for op in _OPERATORS if self.text.startswith(op, i)), None)
        if operator is None:
            raise self.fail(f"unexpected {self.text[i]!r} after ${{{name}")
        argument, end = self.run(i + len(operator), stop_at_brace=True)
        value = self.lookup(name)
        empty_counts = operator.startswith(":")
        present = value is not None and (value != "" or not empty_counts)
        kind = operator[-1]
        if kind == "-":
            result = value if present and value is not None else argument
        elif kind == "?":
            if not present:
                raise self.fail(f"required variable {name} is not set ({argument or 'no message'})")
            result = value or ""
        else:  # "+"
            result = argument if present else ""
        return result, end + 1


def interpolate(text: str, variables: Mapping[str, str], where: str) -> str:
    """Expand ``text``; errors name ``where`` (a file:line)."""
    value, _ = _Interpolator(text, variables, where).run(0, stop_at_brace=False)
    return value


def referenced_variables(text: str) -> set[str]:
    """Names a string refers to (used to find where a value came from)."""
    interpolator = _Interpolator(text, {}, "")
    with contextlib.suppress(InterpolationError):
        interpolator.run(0, stop_at_brace=False)
    return interpolator.used
