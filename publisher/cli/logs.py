"""Logs an operator reads: one line per job run with its figures, warnings, start and stop.

Every line carries its time with the zone and the job it belongs to (``collect:``,
``send:``...): the job that is running (``jobs.current_job``), or the part of publisher the
logger belongs to when the line comes from a thread of its own. Third-party chatter
(APScheduler, Alembic, uvicorn, premailer) shows only with ``-vv``. ``--log-format json``
writes one JSON object per line for log collectors.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

from ..context import current_job

# Where a line comes from when no job is running in its thread.
PARTS = {
    "publisher.collect": "collect",
    "publisher.sources": "collect",
    "publisher.feeds": "feeds",
    "publisher.digest": "digest",
    "publisher.mail.bounces": "inbox",
    "publisher.readers.inbox": "inbox",
    "publisher.mail": "send",
    "publisher.readers": "readers",
    "publisher.web": "web",
    "publisher.daemon": "daemon",
    "publisher.store": "store",
}
QUIET = ("apscheduler", "alembic", "uvicorn", "sqlalchemy", "httpx")  # premailer: digest.render


class JobFilter(logging.Filter):
    """Gives every record a ``job``: the running job, else the part of publisher it is from."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job.get()
        if not job:
            job = next(
                (part for prefix, part in PARTS.items() if record.name.startswith(prefix)),
                record.name.split(".")[-1],
            )
        record.job = job
        return True


def _when(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="seconds")


class TextFormatter(logging.Formatter):
    """``2026-11-28T07:00:03+05:00 INFO send: 1,204 sent, 3 retry, 0 failed in 12.0 s``"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_when(record)} {record.levelname} {record.job}: {record.getMessage()}"  # type: ignore[attr-defined]
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, job, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _when(record),
            "level": record.levelname.lower(),
            "job": record.job,  # type: ignore[attr-defined]
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(verbose: int, log_format: str = "text", *, progress: bool = False) -> None:
    """Configure the root logger once per command.

    ``progress`` (the daemon, ``run --once``, ``serve``): job lines at the default level;
    other commands print their own report and log only warnings. ``-v`` shows publisher's
    details, ``-vv`` everything, third parties included.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "publisher", False)]:
        root.removeHandler(old)
    handler.publisher = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    ours = logging.DEBUG if verbose else (logging.INFO if progress else logging.WARNING)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
    logging.getLogger("publisher").setLevel(ours)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
