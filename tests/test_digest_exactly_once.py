"""The exactly-once invariant, by simulation (hypothesis).

Weeks of random article arrivals (some back-dated), subscribers in many zones with their own
hours, daily or weekly, and sections, who change their settings and join along the way, with the
planner run at random intervals (sometimes after a long outage) and the store reopened now and
then (a restart). An oracle independent of the
planner checks, for every subscriber and article:

* no article is ever received twice;
* an article collected after the subscriber joined is in the first digest cut for them after
  its arrival if it matches their sections at that cut, and in no digest otherwise;
* each cut happens at the first planner run at or after the subscriber's due time, and every
  due time set is their local send hour (daily) or that hour on their weekday (weekly), across
  daylight-saving changes.
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from publisher.config import Settings, parse_settings
from publisher.digest.plan import plan_editions
from publisher.digest.schedule import reschedule
from publisher.models import Article, Subscriber
from publisher.readers.links import link
from publisher.store import Store
from publisher.subscribers import section_filter
from publisher.web.app import create_app

from .conftest import stored_article

pytestmark = pytest.mark.slow  # `make test-fast` leaves it out

SECTIONS = ["politics", "business", "sports", "world"]
ZONES = [
    None,
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
]
START = datetime(2024, 3, 27, 0, 0, tzinfo=UTC)  # Europe springs forward and Sydney falls back
_TEMPLATE: list[Path] = []


def template_db() -> Path:
    """A migrated empty database, made once; each example works on its own copy."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="publisher-exactly-once-"))
        Store(f"sqlite:///{folder / 'template.db'}").close()
        _TEMPLATE.append(folder / "template.db")
    return _TEMPLATE[0]


prefs_strategy = st.fixed_dictionaries(
    {
        "timezone": st.sampled_from(ZONES),
        "send_hour": st.one_of(st.none(), st.integers(0, 23)),
        "frequency": st.sampled_from(["daily", "daily", "weekly"]),
        "weekday": st.one_of(st.none(), st.integers(0, 6)),
        "sections": st.one_of(
            st.none(), st.lists(st.sampled_from(SECTIONS), min_size=1, max_size=3, unique=True)
        ),
    }
)
step_strategy = st.fixed_dictionaries(
    {
        "advance": st.sampled_from([20, 45, 60, 60, 90, 180, 300, 600, 2000]),  # minutes
        "articles": st.lists(
            st.tuples(st.sampled_from([*SECTIONS, "arts"]), st.integers(-72, 2)),  # hours back
            max_size=3,
        ),
        # (which subscriber, new preferences, through the web form or not, pause in days)
        "change": st.one_of(
            st.none(),
            st.tuples(
                st.integers(0, 50),
                prefs_strategy,
                st.booleans(),
                st.one_of(st.none(), st.integers(0, 9)),
            ),
        ),
        "join": st.one_of(st.none(), prefs_strategy),
    }
)


@dataclass
class Observed:
    """What the simulation saw of one subscriber."""

    joined_cursor: int
    cuts: list[int] = field(default_factory=list)  # run indexes at which they were cut
    sections_at: dict[int, frozenset[str] | None] = field(default_factory=dict)
    received: dict[int, list[int]] = field(default_factory=dict)  # run -> article ids


def check_due_time(due: datetime, run_at: datetime, sub: Subscriber, settings: Settings) -> None:
    zone = ZoneInfo(sub.timezone) if sub.timezone else settings.site.tz
    local = due.astimezone(zone)
    hour = sub.send_hour if sub.send_hour is not None else 7
    # The hour itself, or the hour after when it fell into a spring-forward gap.
    assert local.minute == 0 and local.hour in (hour, (hour + 1) % 24), (local, hour)
    if local.hour != hour:
        naive = local.replace(tzinfo=None, hour=hour)
        assert naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).hour != hour
    if sub.frequency == "weekly":
        weekday = sub.weekday if sub.weekday is not None else 0
        assert local.weekday() == weekday
        assert due - run_at <= timedelta(days=7, hours=1)
    else:
        assert due - run_at <= timedelta(days=1, hours=1)
    assert due > run_at


def change_through_the_web(
    settings: Settings,
    store: Store,
    target: Subscriber,
    prefs: dict[str, object],
    pause: int | None,
    now: datetime,
) -> None:
    """Post the preferences form as a reader would (GET for the form and cookie, then POST),
    with the web app's clock at the simulation's time. A pause lets owed articles wait."""
    client = TestClient(create_app(settings, store, clock=lambda: now), base_url=settings.site.url)
    path = urlsplit(link(settings, "preferences", target)).path
    page = client.get(path)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    sections = prefs["sections"] or ["__all__"]
    form = {
        "csrf": csrf[1],
        "sections": sections,
        "frequency": prefs["frequency"],
        "weekday": str(prefs["weekday"] if prefs["weekday"] is not None else 0),
        "timezone": prefs["timezone"] or settings.site.timezone,
        "send_hour": "" if prefs["send_hour"] is None else str(prefs["send_hour"]),
        "paused_until": (now.date() + timedelta(days=pause)).isoformat()
        if pause is not None
        else "",
    }
    answer = client.post(path, data=form)
    # A section no article has had yet is not offered, so the form is refused and nothing
    # changes; otherwise it is saved.
    seen_sections = set(store.sections_seen())
    if prefs["sections"] and not set(prefs["sections"]) <= seen_sections:  # type: ignore[arg-type]
        assert answer.status_code == 400, answer.text
        return
    assert answer.status_code == 200 and "Saved." in answer.text, answer.text
    stored = store.subscriber(target.id)
    assert stored is not None and stored.frequency == prefs["frequency"]


def simulate(initial: list[dict[str, object]], steps: list[dict[str, object]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="publisher-sim-"))
    try:
        shutil.copy(template_db(), folder / "db.sqlite")
        settings = parse_settings(
            {
                "site": {"timezone": "Europe/Paris", "url": "https://news.example.com"},
                "sources": [{"kind": "files", "name": "none", "path": "."}],
                "database": {"url": f"sqlite:///{folder / 'db.sqlite'}"},
                "digest": {"max_articles": 1000, "send_time": "07:00"},
            },
            folder,
            "test",
            environ={},
        )
        run_simulation(settings, initial, steps)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_simulation(
    settings: Settings,
    initial: list[dict[str, object]],
    steps: list[dict[str, object]],
) -> int:
    """Run the scenario, check the oracle, and return how many article deliveries it saw."""
    store = Store(settings.database_url, migrate=False)
    now = START
    seen: dict[int, Observed] = {}
    arrivals: dict[int, tuple[int, str]] = {}  # article id -> (arrived before run, section)
    count = 0

    def join(prefs: dict[str, object]) -> None:
        nonlocal count
        count += 1
        sub, _ = store.add_subscriber(f"s{count}@example.com", f"S {count}", **prefs)
        seen[sub.id] = Observed(joined_cursor=sub.last_article_id)

    for prefs in initial:
        join(prefs)
    for run, step in enumerate(steps):
        if run % 10 == 9:  # a restart: everything the planner needs is in the database
            store.close()
            store = Store(settings.database_url, migrate=False)
        now += timedelta(minutes=int(step["advance"]))  # type: ignore[call-overload]
        for section, hours_back in step["articles"]:  # type: ignore[attr-defined]
            key = f"a{len(arrivals)}"
            article = Article(
                key,
                "sim",
                key,
                f"https://news.example.com/{key}",
                now + timedelta(hours=hours_back),
                section=section,
            )
            store.upsert_articles([(article, key)])
            stored = stored_article(store, key)
            assert stored is not None and stored.id is not None
            arrivals[stored.id] = (run, section)
        if step["join"] is not None:
            join(step["join"])  # type: ignore[arg-type]
        if step["change"] is not None:
            index, prefs, via_web, pause = step["change"]  # type: ignore[misc]
            ids = sorted(seen)
            target = store.subscribers_by_ids([ids[index % len(ids)]])[ids[index % len(ids)]]
            if via_web:
                change_through_the_web(settings, store, target, prefs, pause, now)
            else:
                reschedule(settings, store, target, now, **prefs)
        before = {s.id: s for s in store.list_subscribers("active")}
        planned = plan_editions(settings, store, now)
        after = {s.id: s for s in store.list_subscribers("active")}
        for plan in planned:
            for sid in plan.subscriber_ids:
                seen[sid].received[run] = plan.article_ids
        for sid, old in before.items():
            new = after[sid]
            was_due = old.next_due_at is None or old.next_due_at <= now
            assert (new.next_due_at != old.next_due_at) == was_due
            if was_due:
                seen[sid].cuts.append(run)
                seen[sid].sections_at[run] = section_filter(old.sections)
                assert new.next_due_at is not None
                check_due_time(new.next_due_at, now, new, settings)
            else:
                assert new.last_article_id == old.last_article_id
                assert run not in seen[sid].received

    store.close()
    for sid, obs in seen.items():
        got = [a for ids in obs.received.values() for a in ids]
        assert len(got) == len(set(got)), f"subscriber {sid} got an article twice"
        for article_id, (arrived, section) in arrivals.items():
            holders = [run for run, ids in obs.received.items() if article_id in ids]
            if article_id <= obs.joined_cursor:
                assert holders == []  # collected before they joined: never owed
                continue
            first_cut = next((run for run in obs.cuts if run >= arrived), None)
            if first_cut is None:
                assert holders == []  # still owed at the end of the simulation
                continue
            wanted = obs.sections_at[first_cut]
            matches = wanted is None or section in wanted
            assert holders == ([first_cut] if matches else []), (sid, article_id, arrived, obs)
    return sum(len(ids) for obs in seen.values() for ids in obs.received.values())


@hsettings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure replays as it happened
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    initial=st.lists(prefs_strategy, min_size=1, max_size=5),
    steps=st.lists(step_strategy, min_size=30, max_size=110),
)
def test_every_article_exactly_once_in_the_first_cut_after_it_arrived(
    initial: list[dict[str, object]], steps: list[dict[str, object]]
) -> None:
    simulate(initial, steps)


def test_exactly_once_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    """The same simulation, one seeded scenario, on PostgreSQL (its SQL paths differ)."""
    rng = random.Random(20240327)

    def prefs() -> dict[str, object]:
        sections = rng.sample(SECTIONS, rng.randint(1, 3)) if rng.random() < 0.6 else None
        return {
            "timezone": rng.choice(ZONES),
            "send_hour": rng.choice([None, rng.randint(0, 23)]),
            "frequency": rng.choice(["daily", "daily", "weekly"]),
            "weekday": rng.choice([None, rng.randint(0, 6)]),
            "sections": sections,
        }

    steps = [
        {
            "advance": rng.choice([45, 60, 180, 600, 2000]),
            "articles": [
                (rng.choice([*SECTIONS, "arts"]), rng.randint(-72, 2))
                for _ in range(rng.randint(0, 3))
            ],
            "change": (rng.randint(0, 50), prefs(), rng.random() < 0.5, rng.choice([None, 3]))
            if rng.random() < 0.15
            else None,
            "join": prefs() if rng.random() < 0.1 else None,
        }
        for _ in range(80)
    ]
    settings = parse_settings(
        {
            "site": {"timezone": "Europe/Paris", "url": "https://news.example.com"},
            "sources": [{"kind": "files", "name": "none", "path": "."}],
            "database": {"url": pg_url},
            "digest": {"max_articles": 1000},
        },
        tmp_path,
        "test",
        environ={},
    )
    Store(pg_url).close()  # migrate once; the simulation opens it without migrating
    assert run_simulation(settings, [prefs() for _ in range(6)], steps) > 50
