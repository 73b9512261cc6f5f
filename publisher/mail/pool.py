"""A pool of sending threads: one transport (one SMTP connection) each, one shared rate limit.

smtplib connections are not thread-safe, so every thread owns its transport for its whole
life and reuses it across messages. Threads are enough: sending is network-bound and smtplib
releases the GIL while it waits. Each result is handed to ``handle`` *in the sending thread,
right after the server's reply*, so the caller can commit it before the thread takes its next
message: a crash can then leave at most one accepted-but-unrecorded message per connection.

Stopping (``stop`` set) lets every thread finish the message it is sending, then exit; items
still queued are simply never sent, and the caller releases their claims.

``starting`` and the last argument of ``handle`` let the caller record, durably and before a
message leaves, that it is about to be sent: a thread takes its next item from the queue
*before* handing over the result of the current one, so the caller can mark the next item in
the same commit as the current result (no commit of its own). Only an item that had nothing to
ride with (a thread's first, or one taken after the queue ran dry) goes to ``starting`` alone.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import DeliveryError
from .mime import OutgoingMessage
from .ratelimit import RateLimiter
from .transports import SendFailure, Transport

log = logging.getLogger(__name__)

T = TypeVar("T")
# (item, message, reply, failure, the item this thread sends next or None)
Handler = Callable[[T, OutgoingMessage, str | None, SendFailure | None, T | None], None]
# A message, or what makes it: built in the sending thread, so that building and DKIM
# signing (OpenSSL releases the GIL) run on every core instead of one feeding thread.
Work = OutgoingMessage | Callable[[], OutgoingMessage]
Pair = tuple[T, Work]
Reject = Callable[[T, DeliveryError], None]


class SenderPool(Generic[T]):
    """``connections`` threads draining one bounded queue of (item, message) pairs."""

    def __init__(
        self,
        factory: Callable[[], Transport],
        connections: int,
        limiter: RateLimiter,
        handle: Handler[T],
        stop: threading.Event,
        starting: Callable[[T], None] | None = None,
        reject: Reject[T] | None = None,
    ) -> None:
        self.factory = factory
        self.limiter = limiter
        self.handle = handle
        self.starting = starting
        self.reject = reject  # a message that cannot be built (a bad address): not sent
        self.stop = stop
        self.error: BaseException | None = None
        self._queue: queue.Queue[Pair[T]] = queue.Queue(maxsize=connections * 4)
        self._closing = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"sender-{i}", daemon=True)
            for i in range(connections)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def put(self, item: T, message: Work) -> bool:
        """Queue one message or its maker (waits while the queue is full); False once the
        pool is stopping."""
        while not self.stop.is_set():
            try:
                self._queue.put((item, message), timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def close(self) -> None:
        """Let the threads send what is queued (unless stopping), then wait for them."""
        self._closing.set()
        for thread in self._threads:
            thread.join()

    def _take(self, wait: bool) -> Pair[T] | None:
        """The next queued pair; None when there is none (at once unless ``wait``), when the
        queue is empty and closing, or when stopping."""
        while not self.stop.is_set():
            try:
                return self._queue.get(timeout=0.1) if wait else self._queue.get_nowait()
            except queue.Empty:
                if not wait or self._closing.is_set():
                    return None
        return None

    def _work(self) -> None:
        transport: Transport | None = None
        following: Pair[T] | None = None  # taken already, and marked with the last result
        try:
            while not self.stop.is_set():
                if following is None:
                    current = self._take(wait=True)
                    if current is None:
                        return
                    if self.starting is not None:
                        self.starting(current[0])
                else:
                    current, following = following, None
                item, work = current
                try:
                    message = work() if callable(work) else work
                except DeliveryError as exc:
                    if self.reject is None:
                        raise
                    self.reject(item, exc)  # recorded; this thread takes the next one
                    continue
                if not self.limiter.acquire(self.stop):
                    return  # stopping: this one stays claimed until the caller releases it
                try:
                    if transport is None:
                        transport = self.factory()
                    try:
                        reply: str | None = transport.send(message)
                        failure: SendFailure | None = None
                    except SendFailure as exc:
                        reply, failure = None, exc
                finally:
                    self.limiter.release()  # the server has answered (or never will)
                following = self._take(wait=False)
                self.handle(item, message, reply, failure, following[0] if following else None)
        except BaseException as exc:  # a broken transport or database stops the whole run
            log.error("sending thread stopped: %s", exc)
            if self.error is None:
                self.error = exc
            self.stop.set()
        finally:
            if transport is not None:
                transport.close()
