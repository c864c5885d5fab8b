"""How a suite states a promise: ``expect(condition, message)``.

A failed promise shows its message alone (no assertion introspection), because
the message already says the promise, the setting's source and what was seen.
"""

from __future__ import annotations

import warnings

import pytest


class PromiseWarning(UserWarning):
    """A promise kept only partly: reported, never fails the run."""


def expect(condition: object, message: str) -> None:
    if not condition:
        pytest.fail(message, pytrace=False)


def warn(message: str) -> None:
    warnings.warn(message, PromiseWarning, stacklevel=2)
