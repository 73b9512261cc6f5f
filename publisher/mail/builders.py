"""Building messages on every core: worker processes, each with its own message builder.

Building a digest for one reader (their links, the MIME body, the DKIM signature) costs about
half a millisecond of Python and OpenSSL, and neither releases the GIL, so in one process it
competes with the SMTP conversations and the database commits for a single core. For a big
send the queue hands whole batches to these workers instead: each worker makes its own
builder once (``factory``: the same code the single-process path runs), builds a batch and
sends back the finished bytes; the sending process only talks SMTP and records results.

A worker never touches the queue: claims, leases and the record stay in the sending process,
so every guarantee of ``queue.py`` holds unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from typing import Protocol

from ..errors import DeliveryError
from ..models import Edition, Subscriber
from .mime import OutgoingMessage

Job = tuple[Edition, Subscriber, datetime]
# A message, or why it could not be built (an unusable address): a plain string crosses the
# process boundary where an exception with its own constructor may not.
Built = OutgoingMessage | str


class Builder(Protocol):
    def message(
        self, edition: Edition, subscriber: Subscriber, when: datetime
    ) -> OutgoingMessage: ...


_builder: Builder | None = None  # the worker's own, made once by ``_start``


def _start(factory: Callable[[], Builder]) -> None:
    global _builder
    _builder = factory()


def _build(jobs: Sequence[Job]) -> list[Built]:
    assert _builder is not None, "worker started without its builder"
    built: list[Built] = []
    for edition, subscriber, when in jobs:
        try:
            built.append(_builder.message(edition, subscriber, when))
        except DeliveryError as exc:
            built.append(exc.message)
    return built


def default_processes() -> int:
    """One worker per core but one (the sending process keeps a core); none on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, (cores or 1) - 1)


class BuildPool:
    """``processes`` workers building batches of messages with ``factory()``'s builder.

    Workers are spawned (not forked: the sending process already runs threads) and make
    their builder once, so a pool is worth it for a big send only.
    """

    def __init__(self, factory: Callable[[], Builder], processes: int) -> None:
        self._executor = ProcessPoolExecutor(
            processes, mp_context=get_context("spawn"), initializer=_start, initargs=(factory,)
        )

    def submit(self, jobs: Sequence[Job]) -> Future[list[Built]]:
        return self._executor.submit(_build, list(jobs))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
