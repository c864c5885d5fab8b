"""Scrubbing secrets from test reports and log records before anything prints them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from pytest_nself_redis.secrets import Redactor


def scrub_report(report: pytest.TestReport | pytest.CollectReport, redactor: Redactor) -> None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, reason = longrepr
        report.longrepr = (path, line, redactor.scrub(str(reason)))
    elif longrepr is not None:
        text = report.longreprtext
        scrubbed = redactor.scrub(text)
        if scrubbed != text:
            report.longrepr = scrubbed
    report.sections = [(title, redactor.scrub(content)) for title, content in report.sections]
    if isinstance(report, pytest.TestReport):
        report.user_properties = [
            (name, redactor.scrub(str(value))) for name, value in report.user_properties
        ]


class ScrubbingLogRecords:
    """A log record factory that masks secrets in every message, whoever logs it."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            return record
        scrubbed = self.redactor.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return record

    def install(self) -> None:
        logging.setLogRecordFactory(self)

    def uninstall(self) -> None:
        if logging.getLogRecordFactory() is self:
            logging.setLogRecordFactory(self.previous)
