"""A rate limit shared by every connection of a sender: messages per second, hour and day.

Providers count what *they* receive, across all of a client's connections, so one limiter is
shared by all sending threads. It hands out send times by reservation (first come, first
served): a caller reserves the earliest moment every limit allows, then waits until then. The
pure part (``reserve``) takes its time from an injected clock, so its arithmetic is tested
without sleeping.

Per second, two rules hold together: sends are spaced at least ``1 / rate`` apart (smooth, no
bursts), and no more than ``rate`` sends start in any window of ``1 s + guard``. The guard
(200 ms by default, so at most about 83% of the nominal rate is used) absorbs the jitter
between our clock and the receiving server's: a message delayed on the wire, or a server that
stalls for a moment and then takes a backlog at once, would otherwise put more than ``rate``
messages into one server-side second. A 50 ms guard was seen to let 104 through. Hour and day limits are sliding windows (a log of the last
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

    ``reserve()`` returns the (clock) time the caller may send at; ``acquire()`` reserves and
    waits, waking early if ``stop`` is set (then it returns False and nothing should be sent).
    """

    def __init__(
        self,
        per_second: float = 0,
        windows: Iterable[tuple[int, float]] = (),
        *,
        guard: float = 0.2,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.windows = [SlidingWindow(limit, seconds) for limit, seconds in windows if limit > 0]
        if per_second > 0:
            self.windows.append(SlidingWindow(max(1, int(per_second)), 1.0 + guard))
        self._next = float("-inf")
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.interval == 0 and not self.windows

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
        return not (stop is not None and stop.is_set())
