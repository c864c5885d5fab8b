"""Compose-style ``${VAR}`` interpolation, as ``docker compose`` does it at ``up`` time.

Supported: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?message}``, ``${VAR?message}``, ``${VAR:+alt}``, ``${VAR+alt}`` (defaults
may nest, up to ``MAX_NESTING`` levels), and ``$$`` for a literal ``$``. An unset
variable without a default is empty, as in compose.

An error quotes the text from the ``$`` that went wrong, never the whole value: the
text before it may be a literal password.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping

from pytest_nself_redis.errors import ComposeError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
# Far beyond any real default chain, far below Python's recursion limit.
MAX_NESTING = 32
_EXCERPT = 40


class InterpolationError(ComposeError):
    pass


class _Interpolator:
    def __init__(self, text: str, variables: Mapping[str, str], where: str) -> None:
        self.text = text
        self.variables = variables
        self.where = where
        self.depth = 0

    def fail(self, why: str, at: int) -> InterpolationError:
        """The error for the expression starting at ``at`` (its ``$``)."""
        excerpt = self.text[at : at + _EXCERPT]
        more = "..." if len(self.text) > at + _EXCERPT else ""
        return InterpolationError(f"{self.where}: {why} in {excerpt!r}{more}")

    def run(self, start: int, opened_at: int | None) -> tuple[str, int]:
        """Expand from ``start``; inside a default (``opened_at`` is its ``${``), stop at
        the ``}`` that closes it."""
        out: list[str] = []
        i = start
        text = self.text
        while i < len(text):
            char = text[i]
            if char == "}" and opened_at is not None:
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
                value, i = self.braced(i)
                out.append(value)
            else:
                match = _NAME.match(text, i + 1)
                if match is None:
                    raise self.fail("a lone '$' (write '$$' for a literal dollar)", i)
                out.append(self.lookup(match.group()) or "")
                i = match.end()
        if opened_at is not None:
            raise self.fail("'${' is never closed", opened_at)
        return "".join(out), i

    def lookup(self, name: str) -> str | None:
        return self.variables.get(name)

    def braced(self, opened_at: int) -> tuple[str, int]:
        """The value of the ``${...}`` whose ``$`` is at ``opened_at``, and where it ends."""
        i = opened_at + 2
        match = _NAME.match(self.text, i)
        if match is None:
            raise self.fail("'${' must be followed by a variable name", opened_at)
        name = match.group()
        i = match.end()
        if i >= len(self.text):
            raise self.fail("'${' is never closed", opened_at)
        if self.text[i] == "}":
            return self.lookup(name) or "", i + 1
        operator = next((op for op in _OPERATORS if self.text.startswith(op, i)), None)
        if operator is None:
            raise self.fail(f"unexpected {self.text[i]!r} after ${{{name}", opened_at)
        if self.depth >= MAX_NESTING:
            raise self.fail(f"${{...}} defaults nest deeper than {MAX_NESTING} levels", opened_at)
        self.depth += 1
        try:
            argument, end = self.run(i + len(operator), opened_at)
        finally:
            self.depth -= 1
        value = self.lookup(name)
        empty_counts = operator.startswith(":")
        present = value is not None and (value != "" or not empty_counts)
        kind = operator[-1]
        if kind == "-":
            result = value if present and value is not None else argument
        elif kind == "?":
            if not present:
                state = "is not set" if value is None else "is empty"
                reason = f" ({argument})" if argument else ""
                raise InterpolationError(f"{self.where}: required variable {name} {state}{reason}")
            result = value or ""
        else:  # "+"
            result = argument if present else ""
        return result, end + 1


def interpolate(text: str, variables: Mapping[str, str], where: str) -> str:
    """Expand ``text``; errors name ``where`` (a file:line)."""
    value, _ = _Interpolator(text, variables, where).run(0, None)
    return value


class _Asked(Mapping[str, str]):
    """No variables at all, but a record of every name interpolation asked for."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def referenced_variables(text: str) -> set[str]:
    """The names ``text`` refers to: none means it is written out literally (a password in
    the file itself, a value nself 1.x wrote in)."""
    asked = _Asked()
    with contextlib.suppress(InterpolationError):
        interpolate(text, asked, "")
    return asked.names
