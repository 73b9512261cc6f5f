"""A rate limit shared by every connection of a sender: messages per second, hour and day.

Providers count what *they* receive, across all of a client's connections, so one limiter is
shared by all sending threads. It hands out send times by reservation (first come, first
served): a caller reserves the earliest moment every limit allows, then waits until then. The
pure part (``reserve``) takes its time from an injected clock, so its arithmetic is tested
without sleeping.

Per second, two rules hold together. Sends are spaced at least ``1 / rate`` apart (smooth, no
bursts). And a send may only start while the messages *finished* in the last ``1 s + guard``
plus those still in flight are fewer than ``rate``. Counting by start time is not enough: the
server stamps a message somewhere between our start and our seeing its reply, so a thread that
stalls (or a server that stalls and then takes a backlog at once) lets messages started more
than a second apart land in the same server-side second; counting finished plus in-flight
messages bounds what any server-side second can hold, whatever the latency. (Start-time
counting with a 50 ms guard, then a 200 ms one, was seen to let 104 through.) The guard (50 ms)
absorbs the offset between our clock and the server's. Hour and day limits are sliding windows (a log of the last
``limit`` send times); they can be seeded with recent sends from the database so a restart
does not forget what was already sent today.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

Clock = Callable[[], float]


class SlidingWindow:
    """At most ``limit`` events in any window of ``seconds``."""

    def __init__(self, limit: int, seconds: float) -> None:
        if limit < 1 or seconds <= 0:
            raise ValueError("a window needs a positive limit and length")
        self.limit = limit
        self.seconds = seconds
        self.log: deque[float] = deque(maxlen=limit)

    def earliest(self, t: float) -> float:
        """The first moment at or after ``t`` when one more event is allowed."""
        if len(self.log) < self.limit:
            return t
        return max(t, self.log[0] + self.seconds)

    def record(self, t: float) -> None:
        self.log.append(t)


class RateLimiter:
    """Thread-safe reservations against a per-second pace and any number of sliding windows.

    ``reserve()`` returns the (clock) time the caller may send at; ``acquire()`` reserves,
    waits, then waits for the per-second gate (``try_start``), waking early if ``stop`` is set
    (then it returns False and nothing should be sent). Every successful ``acquire()`` must be
    followed by ``release()`` when the server has answered (or the attempt failed).
    """

    POLL = 0.005  # how often a send blocked only by messages in flight looks again

    def __init__(
        self,
        per_second: float = 0,
        windows: Iterable[tuple[int, float]] = (),
        *,
        guard: float = 0.05,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.windows = [SlidingWindow(limit, seconds) for limit, seconds in windows if limit > 0]
        self.per_second = max(1, int(per_second)) if per_second > 0 else 0
        self.second = 1.0 + guard
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._next = float("-inf")
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.interval == 0 and not self.windows and not self.per_second

    def seed(self, ages: Iterable[float]) -> None:
        """Count sends that happened ``age`` seconds ago (oldest first) toward the windows."""
        now = self.clock()
        with self._lock:
            for age in sorted(ages, reverse=True):
                for window in self.windows:
                    if age < window.seconds:
                        window.record(now - age)

    def reserve(self) -> float:
        """Book the earliest allowed send time (never before now) and return it."""
        with self._lock:
            t = max(self.clock(), self._next)
            # A later window constraint can move t past an earlier one's; loop until stable.
            while True:
                moved = max([t, *(w.earliest(t) for w in self.windows)])
                if moved == t:
                    break
                t = moved
            for window in self.windows:
                window.record(t)
            self._next = t + self.interval
            return t

    def try_start(self) -> float:
        """Start a send if the per-second gate allows it (0.0), else how long to wait first."""
        with self._lock:
            if not self.per_second:
                return 0.0
            now = self.clock()
            while self._finished and self._finished[0] <= now - self.second:
                self._finished.popleft()
            if len(self._finished) + self._in_flight < self.per_second:
                self._in_flight += 1
                return 0.0
            if self._in_flight >= self.per_second or not self._finished:
                return self.POLL  # messages in flight block: look again soon
            return max(self._finished[0] + self.second - now, self.POLL)

    def release(self) -> None:
        """A started send has finished (accepted, refused or failed): count it as done now."""
        with self._lock:
            if self.per_second and self._in_flight > 0:
                self._in_flight -= 1
                self._finished.append(self.clock())

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Wait for a send slot; False when ``stop`` was set while waiting."""
        if self.unlimited:
            return not (stop is not None and stop.is_set())
        at = self.reserve()
        while (delay := at - self.clock()) > 0:
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                return False
        while (delay := self.try_start()) > 0:
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                return False
        if stop is not None and stop.is_set():
            self.release()
            return False
        return True
