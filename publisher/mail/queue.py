"""Drain the deliveries queue: claim due rows, send them over a pool, record each reply at once.

The deliveries table is the queue and the record of truth. This module claims batches of due
rows under a lease (renewed while the run is alive), has each message built by the
``MessageBuilder`` it is given (it knows nothing of what the mail says), and hands it to a
``SenderPool``; every sending thread commits the outcome of a message right after the server's
reply and before it takes the next one. So:

- a crash loses nothing: rows it held are still ``claimed`` (or ``sending``) and are
  resumed, as they are, once their lease expires;
- a row is durably marked ``sending`` before its message leaves (in the commit of the
  thread's previous result, so it costs no commit of its own): after a crash, the rows left
  ``sending`` are exactly those that may have been delivered, and resuming them records an
  ``interrupted`` attempt that ``publisher deliveries`` shows;
- the one duplicate window runs from the final "." of DATA (from then on the server may keep
  the message) to our commit of ``sent``: the server's own processing, its reply, and one
  commit. A crash inside it leaves a row that was delivered but looks unsent, and it is sent
  again: at most one such message per connection per crash, because a thread waits for its
  commit before it sends its next message;
- a stop (SIGTERM, Ctrl-C) lets in-flight messages finish and record, then releases every
  claim this run still holds back to ``queued``/``retry``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from ..config import DeliveryConfig
from ..errors import DeliveryError
from ..models import Delivery, Edition, Subscriber
from ..store.deliveries import Attempt
from ..store.protocols import QueueStore
from .builders import BuildPool, Built, Job
from .mime import OutgoingMessage
from .pool import SenderPool
from .ratelimit import RateLimiter
from .transports import SendFailure, TransportChoice

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    """What one send run did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    suppressed: int = 0  # deliveries skipped because their subscriber is no longer active
    newly_suppressed: list[str] = field(default_factory=list)  # addresses suppressed this run
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.sent + self.retry + self.failed + self.suppressed


Progress = Callable[[SendReport], None]


class MessageBuilder(Protocol):
    """Builds one subscriber's message for an edition. The queue knows nothing of what the mail
    says: ``jobs.py`` hands in ``digest.compose.DigestComposer``; benchmarks and crash tests
    pass prebuilt messages to measure the queue alone."""

    def message(
        self, edition: Edition, subscriber: Subscriber, when: datetime
    ) -> OutgoingMessage: ...

    def refuse(self, edition: Edition, subscriber: Subscriber) -> str:
        """Why this subscriber may no longer get this edition ("" when they may): a digest
        goes only to active readers, a confirmation only to pending ones."""
        ...


def make_worker_id() -> str:
    """Unique per run, readable in ``claimed_by``: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def backoff(conf: DeliveryConfig, attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    cap = min(conf.backoff_max_seconds, conf.backoff_seconds * 2 ** max(0, attempts - 1))
    return float(cap / 2 + (rng or random).uniform(0, cap / 2))


def make_limiter(conf: DeliveryConfig, store: QueueStore) -> RateLimiter:
    """The configured limits, with the hour/day windows seeded from attempts already made."""
    windows = [(conf.rate_per_hour, 3600.0), (conf.rate_per_day, 86400.0)]
    limiter = RateLimiter(conf.rate_per_second, windows)
    longest = max((seconds for limit, seconds in windows if limit), default=0.0)
    if longest:
        now = datetime.now(UTC)
        since = now - timedelta(seconds=longest)
        limiter.seed((now - t).total_seconds() for t in store.attempt_times_since(since))
    return limiter


class GroupCommit:
    """Commit attempts from several sending threads together, each thread waiting for its own.

    The first thread to arrive while no commit runs becomes the leader: it commits every
    attempt queued so far in one transaction, then wakes the others; those that arrived during
    that commit form the next group. A thread never sends its next message before its result
    is committed, so the duplicate window stays one message per connection, while the
    database sees one commit per group instead of one per message.
    """

    def __init__(self, store: QueueStore, worker: str) -> None:
        self.worker = worker
        self._cond = threading.Condition()
        self._pending: list[_Waiting] = []
        self._committing = False
        self.commits = 0  # how many transactions recorded how many attempts: the grouping
        self.recorded = 0
        # Attempts whose commit failed for good (the store already retried deadlocks): the
        # server may have accepted them, so they must not be released back to the queue.
        self.unrecorded: list[Attempt] = []
        self._writer = store.attempt_writer(worker)  # used by one leader at a time

    def close(self) -> None:
        self._writer.close()

    def record_leftovers(self) -> set[int]:
        """Try once more to record what failed to commit; return the ids still unrecorded.

        Called when the run ends, before claims are released: rows left unrecorded stay
        claimed and are resumed when their lease expires, as after a crash.
        """
        if not self.unrecorded:
            return set()
        try:
            self._writer.write(self.unrecorded)
        except Exception as exc:
            log.error("could not record %d attempts: %s", len(self.unrecorded), exc)
            return {a.delivery.id for a in self.unrecorded}
        finally:
            self._writer.close()
        self.unrecorded = []
        return set()

    def record(self, attempt: Attempt | None, sending: Delivery | None = None) -> bool:
        """Commit ``attempt`` and/or mark ``sending`` (with whoever else is waiting); True if
        the attempt's hard bounce suppressed someone."""
        mine = _Waiting(attempt, sending)
        with self._cond:
            self._pending.append(mine)
            while not mine.done and self._committing:
                self._cond.wait()
            if mine.done:
                return mine.result()
            self._committing = True
            group, self._pending = self._pending, []
            self.commits += 1
            self.recorded += len(group)
        with_attempts = [w for w in group if w.attempt is not None]
        try:
            results = self._writer.write(
                [w.attempt for w in with_attempts if w.attempt is not None],
                [w.sending.id for w in group if w.sending is not None],
            )
            for waiting, result in zip(with_attempts, results, strict=True):
                waiting.suppressed = result
        except BaseException as exc:
            self._writer.close()  # a connection in an unknown state is not reused
            with self._cond:
                self.unrecorded += [w.attempt for w in with_attempts if w.attempt is not None]
            for waiting in group:
                waiting.error = exc
        finally:
            with self._cond:
                for waiting in group:
                    waiting.done = True
                self._committing = False
                self._cond.notify_all()
        return mine.result()


@dataclass
class _Waiting:
    attempt: Attempt | None
    sending: Delivery | None = None
    done: bool = False
    suppressed: bool = False
    error: BaseException | None = None

    def result(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.suppressed


class _Recorder:
    """Turns one transport result into the row's next state, committed in the sending thread."""

    def __init__(
        self, store: QueueStore, conf: DeliveryConfig, worker: str, progress: Progress | None
    ) -> None:
        self.conf = conf
        self.commits = GroupCommit(store, worker)
        self.progress = progress
        self.report = SendReport()
        self.lock = threading.Lock()

    def starting(self, delivery: Delivery) -> None:
        """Mark ``delivery`` as being sent, alone (there was no result to ride with)."""
        self.commits.record(None, delivery)

    def handle(
        self,
        delivery: Delivery,
        message: OutgoingMessage,
        reply: str | None,
        failure: SendFailure | None,
        following: Delivery | None = None,
    ) -> None:
        """Record one result, and mark ``following`` (the thread's next message) as sending
        in the same commit."""
        mid = message.message_id
        if failure is None:
            self.commits.record(Attempt(delivery, "sent", reply or "", mid), following)
            self._count("sent")
            return
        attempts = delivery.attempts + 1
        if failure.permanent or attempts >= self.conf.max_attempts:
            why = failure.reply
            if not failure.permanent:
                why = f"gave up after {attempts} attempts: {why}"
            hard = failure.bounce and failure.permanent
            threshold = self.conf.suppress_after_bounces if hard else 0
            suppressed = self.commits.record(
                Attempt(delivery, "failed", why, mid, bounce_threshold=threshold), following
            )
            self._count("failed", f"{message.recipient}: {why}", suppressed, message.recipient)
            return
        wait = backoff(self.conf, attempts)
        later = datetime.now(UTC) + timedelta(seconds=wait)
        self.commits.record(Attempt(delivery, "retry", failure.reply, mid, later), following)
        self._count("retry", f"{message.recipient}: {failure.reply} (retry in {wait:.0f} s)")

    def reject(self, delivery: Delivery, error: DeliveryError) -> None:
        """A message that could not be built (an unusable address): failed, not sent."""
        self.skip(delivery, "failed", error.message, f"subscriber {delivery.subscriber_id}")

    def skip(self, delivery: Delivery, outcome: str, reason: str, recipient: str) -> None:
        """Record a delivery that is not sent at all (inactive subscriber, unusable address)."""
        self.commits.record(Attempt(delivery, outcome, reason))
        self._count(outcome, f"{recipient}: {reason}")

    def _count(
        self, outcome: str, error: str = "", suppressed: bool = False, who: str = ""
    ) -> None:
        with self.lock:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            if error:
                self.report.errors.append(error)
                log.warning("delivery to %s (%s)", error, outcome)
            if suppressed:
                self.report.newly_suppressed.append(who)
            if self.progress is not None:
                self.progress(self.report)


LEASE_FAILURES_TO_STOP = 3


class LeaseKeeper(threading.Thread):
    """Renews this run's leases every third of a lease until the run ends.

    One failed renewal is logged and retried at the next tick: a lease still has two thirds of
    its time left. After ``LEASE_FAILURES_TO_STOP`` failures in a row the leases may already
    have run out, and another sender may have taken the rows over: the keeper then records the
    error and sets ``stop``, so this run claims nothing more and sends nothing it may no
    longer own.
    """

    def __init__(self, store: QueueStore, worker: str, lease: float, stop: threading.Event) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.store, self.worker, self.lease, self.stop = store, worker, lease, stop
        self.done = threading.Event()
        self.error: DeliveryError | None = None

    def run(self) -> None:
        failures = 0
        while not self.done.wait(self.lease / 3):
            try:
                self.store.renew_leases(self.worker, self.lease)
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning(
                    "could not renew leases for %s (%d in a row): %s", self.worker, failures, exc
                )
                if failures >= LEASE_FAILURES_TO_STOP:
                    self.error = DeliveryError(
                        f"stopped sending: {failures} lease renewals in a row failed ({exc})",
                        "check the database; unsent claims are resumed when their lease expires",
                    )
                    self.stop.set()
                    return


def send_pending(
    conf: DeliveryConfig,
    store: QueueStore,
    transport: TransportChoice,
    builder: MessageBuilder,
    *,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    worker: str | None = None,
    kinds: Sequence[str] | None = None,
    builders: BuildPool | None = None,
) -> SendReport:
    """Send every due delivery (queued, retries whose time has come, expired claims), or only
    those of editions of ``kinds``.

    Messages are built by the sending threads, or, with ``builders``, by worker processes a
    batch at a time, the next batch building while this one is on the wire.

    Returns when nothing is due, or soon after ``stop`` is set. Raises a transport's fatal
    error (login refused, ...) or a lease keeper's after releasing the claims.
    """
    stop = stop or threading.Event()
    worker = worker or make_worker_id()
    recorder = _Recorder(store, conf, worker, progress)
    pool: SenderPool[Delivery] = SenderPool(
        transport.factory,
        transport.connections,
        make_limiter(conf, store),
        recorder.handle,
        stop,
        starting=recorder.starting,
        reject=recorder.reject,
    )
    keeper = LeaseKeeper(store, worker, conf.lease_seconds, stop)
    editions: dict[int, Edition] = {}
    building: deque[tuple[list[Delivery], Future[list[Built]]]] = deque()

    def hand_over(rows: list[Delivery], built: list[Built]) -> None:
        """Built messages to the senders; one that could not be built is recorded as failed."""
        for delivery, item in zip(rows, built, strict=True):
            if isinstance(item, str):
                recorder.reject(delivery, DeliveryError(item, permanent=True))
            elif not pool.put(delivery, item):
                return  # stopping: the rest stay claimed and are released below

    pool.start()
    keeper.start()
    try:
        while not stop.is_set():
            batch = store.claim_deliveries(
                worker, conf.batch_size, conf.lease_seconds, edition_kinds=kinds
            )
            if not batch:
                break
            subscribers = store.subscribers_by_ids({d.subscriber_id for d in batch})
            rows: list[Delivery] = []
            jobs: list[Job] = []
            for delivery in batch:
                if stop.is_set():
                    break
                subscriber = subscribers.get(delivery.subscriber_id)
                if delivery.edition_id not in editions:
                    editions[delivery.edition_id] = store.get_edition(delivery.edition_id)
                edition = editions[delivery.edition_id]
                if subscriber is None:
                    who = f"subscriber {delivery.subscriber_id}"
                    recorder.skip(delivery, "suppressed", "subscriber is gone", who)
                    continue
                refused = builder.refuse(edition, subscriber)
                if refused:
                    recorder.skip(delivery, "suppressed", refused, subscriber.email)
                    continue
                when = datetime.now(UTC)
                if builders is not None:
                    rows.append(delivery)
                    jobs.append((edition, subscriber, when))
                else:  # built and signed by the thread that sends it; a bad address is
                    # recorded as failed there and the run goes on
                    pool.put(delivery, partial(builder.message, edition, subscriber, when))
            if builders is not None and jobs:
                building.append((rows, builders.submit(jobs)))
                while len(building) > 1:  # the newest builds while the one before is sent
                    done_rows, future = building.popleft()
                    hand_over(done_rows, future.result())
        while building and not stop.is_set():
            done_rows, future = building.popleft()
            hand_over(done_rows, future.result())
    finally:
        pool.close()
        keep = recorder.commits.record_leftovers()
        recorder.commits.close()
        keeper.done.set()
        keeper.join()
        released = store.release_claims(worker, keep)
        if released:
            log.info("released %d claimed deliveries back to the queue", released)
        if keep:
            log.error(
                "%d deliveries may have been sent but could not be recorded; they stay "
                "claimed and are resumed when their lease expires",
                len(keep),
            )
    group = recorder.commits
    log.debug("recorded %d attempts in %d commits", group.recorded, group.commits)
    recorder.report.interrupted = stop.is_set() and pool.error is None and keeper.error is None
    if pool.error is not None:
        raise pool.error
    if keeper.error is not None:
        raise keeper.error
    return recorder.report
