"""Log output for people (text) or for log collectors (one JSON object per event).

One handler on the root logger, installed by the command line for every command, and the only
one: Scrapy is told not to install its own (``install_root_handler=False``), so ``--debug`` prints
each line once. Without ``--debug`` a failure is one line: tracebacks of Scrapy and Twisted (an
unreachable host used to print two, about 70 lines) are cut to their last line, and the errors
Scrapy's retry and robots.txt middlewares log on the way to a failure the crawl reports itself
go to DEBUG. In JSON mode every line on stderr is a JSON object, tracebacks (with ``--debug``)
included as a field.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

#: Loggers whose errors are steps on the way to a failure that is reported once, by the crawl
#: session ("could not fetch URL: reason") or the command: shown with --debug only.
STEPS_TO_A_FAILURE = (
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.robotstxt",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message and the event's fields."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class OneLinePerFailure(logging.Filter):
    """The level the user asked for, whatever levels libraries give their own loggers (Scrapy
    sets ``scrapy`` to DEBUG); the aggregator's loggers keep theirs (the scheduler's events are
    INFO). Without --debug: the failure's intermediate steps are demoted to DEBUG, and a
    traceback or a multi-line message is cut to one line (``message: ExceptionType: text``)."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if self.threshold <= logging.DEBUG:
            return True
        if record.name.startswith(STEPS_TO_A_FAILURE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        if record.levelno < self.threshold and not record.name.startswith("aggregator."):
            return False
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if str(exc) not in message:
                message = f"{message}: {type(exc).__name__}: {exc}"
            record.exc_info, record.exc_text = None, None
        if "\n" in message:
            message = " ".join(part.strip() for part in message.splitlines() if part.strip())
        record.msg, record.args = message, None
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (click's test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(*, level: str = "WARNING", json_lines: bool = False, timestamps: bool = False) -> None:
    """Log to stderr at ``level`` (DEBUG shows tracebacks), as JSON lines or
    ``[time] LEVEL name: message``; replaces a handler an earlier call installed, and only that."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    threshold = logging.getLevelName(level)
    handler = StderrHandler()
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter(("%(asctime)s " if timestamps else "") + "%(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(OneLinePerFailure(threshold))
    root.addHandler(handler)
    root.setLevel(threshold)
    # The CLI's own event logs (the scheduler's "started", "crawl_finished"...) are the output of
    # a command that runs unattended: INFO whatever the level of library chatter.
    logging.getLogger("aggregator.scheduler").setLevel(logging.INFO)
