"""The shared rate limit: its arithmetic with an injected clock, then over four real connections."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from publisher.config import load_settings
from publisher.jobs import open_store
from publisher.mail.ratelimit import RateLimiter, SlidingWindow

from .conftest import write_config
from .smtp_faults import (
    FaultyHandler,
    PrebuiltMessages,
    queue_digests,
    send_with,
    smtp_extra,
    smtp_server,
)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of events inside any half-open window [t, t + seconds)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        j = max(j, i)
        while j < len(times) and times[j] < t + seconds:
            j += 1
        best = max(best, j - i)
    return best


def test_per_second_pace_for_reservations_made_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=100, clock=clock)
    times = [limiter.reserve() for _ in range(350)]
    assert times[0] == clock.t
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.01 - 1e-9


def test_per_second_gate_counts_finished_and_in_flight_messages() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=3, clock=clock)
    assert [limiter.try_start() for _ in range(3)] == [0.0, 0.0, 0.0]
    # Three in flight: a fourth must wait, however long ago they started.
    clock.t += 5
    assert limiter.try_start() == RateLimiter.POLL
    limiter.release()
    limiter.release()  # two answered at t = 1005
    clock.t += 0.5
    # Two finished in the last second plus one in flight: still full, until 1005 + 1.05.
    assert limiter.try_start() == pytest.approx(0.55)
    clock.t += 0.56
    assert limiter.try_start() == 0.0  # the two have aged out
    assert limiter.try_start() == 0.0
    assert limiter.try_start() == RateLimiter.POLL  # three in flight again


def test_gate_bounds_server_side_seconds_whatever_the_latency() -> None:
    """Simulate sends whose latency varies wildly; the server stamps each message somewhere
    between its start and our seeing the reply. No server second may hold more than the rate."""
    import random

    rng = random.Random(7)
    clock = FakeClock(0.0)
    limiter = RateLimiter(per_second=20, clock=clock)
    in_flight: list[tuple[float, float]] = []  # (finish time, server stamp)
    stamps: list[float] = []
    while len(stamps) < 400:
        in_flight.sort()
        while in_flight and in_flight[0][0] <= clock.t:
            _, stamp = in_flight.pop(0)
            stamps.append(stamp)
            limiter.release()
        if limiter.try_start() == 0.0:
            latency = rng.choice([0.001, 0.01, 0.3, 0.9, 1.7])
            in_flight.append((clock.t + latency, clock.t + rng.random() * latency))
        else:
            clock.t += 0.001
    assert most_in_any_window(stamps, 1.0) <= 20


def test_time_passing_never_allows_a_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, clock=clock)
    first = limiter.reserve()
    clock.t += 60  # idle for a minute: the next send may go at once...
    second = limiter.reserve()
    assert second == clock.t and second > first
    third = limiter.reserve()  # ...but the one after it still waits its turn
    assert third == second + 0.1


def test_hour_and_day_windows_and_seeding_from_earlier_sends() -> None:
    clock = FakeClock()
    limiter = RateLimiter(windows=[(3, 3600.0), (5, 86400.0)], clock=clock)
    assert [limiter.reserve() for _ in range(3)] == [clock.t] * 3
    fourth = limiter.reserve()
    assert fourth == clock.t + 3600  # the hour is full
    fifth = limiter.reserve()
    assert fifth == clock.t + 3600
    assert limiter.reserve() == clock.t + 86400  # five a day

    seeded = RateLimiter(windows=[(3, 3600.0)], clock=clock)
    seeded.seed([10.0, 20.0, 7200.0])  # two sends this hour, one long ago
    assert seeded.reserve() == clock.t
    assert seeded.reserve() == clock.t - 20 + 3600  # the older of the seeded sends ages out


def test_sliding_window_rejects_nonsense_and_unlimited_never_waits() -> None:
    window = SlidingWindow(2, 10)
    window.record(0)
    window.record(1)
    assert window.earliest(5) == 10
    unlimited = RateLimiter()
    assert unlimited.unlimited and unlimited.acquire()


def test_acquire_gives_up_when_stopped() -> None:
    limiter = RateLimiter(per_second=0.1)  # one send per ten seconds
    assert limiter.acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    assert limiter.acquire(stop) is False
    assert stop.is_set() and time.monotonic() - started >= 0.15


@pytest.mark.slow
def test_500_messages_at_100_per_second_over_4_connections(project: Path) -> None:
    handler = FaultyHandler()
    with smtp_server(handler) as server:
        delivery = "connections = 4\nrate_per_second = 100\n"
        config = write_config(project, extra=smtp_extra(server.port, delivery=delivery))
        settings = load_settings(config, environ={})
        with open_store(settings) as store:
            queue_digests(settings, store, (f"r{i}@example.com" for i in range(500)))
            started = time.monotonic()
            report = send_with(settings, store, PrebuiltMessages())
            took = time.monotonic() - started
    assert report.sent == 500
    times = [a.at for a in handler.arrivals]
    assert len(times) == 500
    busiest = most_in_any_window(times, 1.0)
    print(f"\n500 messages in {took:.2f} s; busiest server-side second: {busiest}")
    assert busiest <= 100
    assert took >= 4.9
