"""Every module and function of the package stays small enough to read whole.

No module over ``MAX_MODULE_LINES`` lines; no function over ``MAX_FUNCTION_LINES`` (from its
``def`` to its last line) unless its docstring says why, in a sentence starting "Long
because". A module that grows past the limit splits by job; a function, into steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.harness import REPO

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON = "Long because"
SOURCES = (REPO / "pytest_nself_redis", REPO / "suites")


def _python_files() -> list[Path]:
    return sorted(path for root in SOURCES for path in root.rglob("*.py") if "node_modules" not in path.parts)


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of each function longer than the limit whose docstring gives no reason."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        lines = (node.end_lineno or node.lineno) - node.lineno + 1
        if lines > MAX_FUNCTION_LINES and REASON not in (ast.get_docstring(node) or ""):
            found.append((node.name, lines))
    return found


def test_the_sources_are_found() -> None:
    files = _python_files()
    assert len(files) > 50, files
    assert REPO / "pytest_nself_redis" / "checks" / "registry.py" in files


def test_no_module_is_over_the_limit() -> None:
    over = {
        str(path.relative_to(REPO)): lines
        for path in _python_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not over, f"split these by job (at most {MAX_MODULE_LINES} lines): {over}"


def test_no_function_is_over_the_limit_without_a_reason() -> None:
    over = {
        f"{path.relative_to(REPO)}:{name}": lines
        for path in _python_files()
        for name, lines in long_functions(path.read_text(encoding="utf-8"))
    }
    assert not over, (
        f"split these into steps (at most {MAX_FUNCTION_LINES} lines), or say why in the "
        f'docstring ("{REASON} ..."): {over}'
    )


@pytest.mark.parametrize(
    ("docstring", "flagged"),
    [('"""Does one thing."""', True), ('"""A table.\n\n    Long because it is one table."""', False)],
    ids=["no reason", "a reason"],
)
def test_a_long_function_is_flagged_unless_its_docstring_says_why(docstring: str, flagged: bool) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    source = f"def long():\n    {docstring}\n{body}\n\n\ndef short():\n    return 1\n"
    assert long_functions(source) == ([("long", MAX_FUNCTION_LINES + 2)] if flagged else [])
