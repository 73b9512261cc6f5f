"""Feeds plan from ``article_groups`` and claimed feed seconds, on SQLite and PostgreSQL.

The store answers "the newest N of each group, and its archive months" through indexes; these
tests hold it to what a plain reading of every stored article says, through inserts and
edits that move articles between sections, authors, tags and dates.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from publisher.models import Article
from publisher.store import Store
from publisher.store import articles as articles_module
from publisher.store.groups import first_free_seconds
from publisher.store.schema import article_groups, articles

KINDS = ("section", "author", "tag")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    url = (
        f"sqlite:///{tmp_path / 'groups.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    opened = Store(url)
    opened.migrate()
    request.addfinalizer(opened.close)
    return opened


def _article(rng: random.Random, n: int, version: int = 0) -> Article:
    authors = rng.sample(["Ann", "Bo", "Chen", "Dara", "Émile"], rng.randint(0, 2))
    return Article(
        key=f"t:{n}",
        source="t",
        title=f"Story {n} v{version}",
        link="",
        published=datetime(2024, 9, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 2000)),
        section=rng.choice(["", "World", "Business", "Sport"]),
        authors=authors,
        tags=rng.sample(["climate", "markets", "elections"], rng.randint(0, 2)),
        content_html=f"<p>{n} {version}</p>",
    )


def _collect_months(
    store: Store, monkeypatch: pytest.MonkeyPatch, batches: dict[str, list[Article]]
) -> None:
    """Store each batch as if collected in its month ("2024-07")."""
    for month, batch in batches.items():
        moment = datetime.fromisoformat(f"{month}-10T08:00:00+00:00")
        monkeypatch.setattr(articles_module, "now_utc", lambda moment=moment: moment)
        store.upsert_articles([(a, f"tag:{a.key}") for a in batch])


def _expected(
    store: Store, limit: int, before: str
) -> dict[tuple[str, str], tuple[list[int], list[str]]]:
    """The plan read the slow way: every article, grouped and sorted in Python."""
    members: dict[tuple[str, str], list[tuple[datetime, int, str]]] = defaultdict(list)
    with store.engine.connect() as conn:
        for r in conn.execute(select(articles)).mappings():
            keys = [("site", ""), ("section", r["section"])]
            keys += [("author", a) for a in json.loads(r["authors"])]
            keys += [("tag", t) for t in json.loads(r["tags"])]
            for key in dict.fromkeys(k for k in keys if k[1] or k[0] == "site"):
                members[key].append(
                    (r["published_at"], r["id"], r["first_seen_at"].strftime("%Y-%m"))
                )
    return {
        key: (
            [i for _, i, _ in sorted(rows, reverse=True)[:limit]],
            sorted({p for _, _, p in rows if p < before}),
        )
        for key, rows in members.items()
    }


def test_feed_groups_match_every_article_read_through_edits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    _collect_months(
        store,
        monkeypatch,
        {month: [_article(rng, n) for n in range(i * 40, i * 40 + 40)]
         for i, month in enumerate(["2024-07", "2024-08", "2024-09", "2024-10"])},
    )  # fmt: skip
    # Edits move articles between groups and dates; their archive month stays their first.
    _collect_months(
        store, monkeypatch, {"2024-10": [_article(rng, n, 1) for n in range(0, 160, 3)]}
    )
    for limit, before in ((5, "2024-10"), (1000, "2024-09"), (1, "2025-01")):
        found = {
            (g.kind, g.name): (g.article_ids, g.periods)
            for g in store.feed_groups(KINDS, limit, before)
        }
        assert found == _expected(store, limit, before)
    only_sections = store.feed_groups(["section"], 3, None)
    assert {g.kind for g in only_sections} == {"site", "section"}
    assert all(g.periods == [] for g in only_sections)


def test_an_empty_store_plans_the_site_feed_alone(store: Store) -> None:
    assert [
        (g.kind, g.article_ids, g.periods) for g in store.feed_groups(KINDS, 50, "2024-10")
    ] == [("site", [], [])]


def _seconds(store: Store) -> dict[str, int | None]:
    with store.engine.connect() as conn:
        return {
            r.key: r.feed_second
            for r in conn.execute(select(articles.c.key, articles.c.feed_second))
        }


def test_feed_seconds_are_distinct_and_never_move_once_claimed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    minute = datetime(2024, 9, 17, 12, 50, tzinfo=UTC)
    same = [Article(key=f"m:{n}", source="m", title=f"Same minute {n}", link="", published=minute)
            for n in range(30)]  # fmt: skip
    _collect_months(store, monkeypatch, {"2024-09": same[:20]})
    first = _seconds(store)
    base = int(minute.timestamp())
    # Collect claims as it stores: the minute's own second and the ones after it, in order.
    assert [first[f"m:{n}"] for n in range(20)] == list(range(base, base + 20))
    _collect_months(store, monkeypatch, {"2024-09": same[20:]})
    second = _seconds(store)
    assert {k: second[k] for k in first} == first  # nobody moved
    assert sorted(second.values()) == list(range(base, base + 30))  # type: ignore[type-var]
    # An edit gives up its second and claims again: the first free one at or after its own.
    edited = Article(key="m:3", source="m", title="Same minute 3, corrected", link="",
                     published=minute, updated=minute + timedelta(seconds=5))  # fmt: skip
    store.upsert_articles([(edited, "unused")])
    assert _seconds(store)["m:3"] == base + 30
    # An edit back to a free second takes it: its own, now that nobody holds it.
    store.upsert_articles([(replace(same[3], title="Same minute 3, again"), "unused")])
    assert _seconds(store)["m:3"] == base + 3
    assert store.claim_feed_seconds() == 0
    everything = _ids_and_seconds(store)
    assert store.feed_seconds(list(everything)) == everything


def test_a_database_from_before_feed_seconds_claims_them_in_the_old_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    minute = datetime(2024, 9, 17, 12, 50, tzinfo=UTC)
    batch = [replace(_article(rng, n), published=minute + timedelta(seconds=rng.randint(0, 9)))
             for n in range(40)]  # fmt: skip
    _collect_months(store, monkeypatch, {"2024-09": batch})
    with store.engine.begin() as conn:
        rows = conn.execute(
            select(articles.c.id, articles.c.published_at, articles.c.updated_at)
        ).all()
        conn.execute(update(articles).values(feed_second=None))  # as migration 0007 leaves them
    assert store.claim_feed_seconds() == 40
    # What feeds showed before 0007: every article sorted by (second, id), each taking the
    # first second at or after its own that an earlier one has not.
    expected, used = {}, set()
    for second, article_id in sorted((int(max(r[1], r[2]).timestamp()), r[0]) for r in rows):
        while second in used:
            second += 1
        used.add(second)
        expected[article_id] = second
    assert _ids_and_seconds(store) == expected
    assert (
        len(set(expected.values())) == 40 and max(expected.values()) > int(minute.timestamp()) + 9
    )


def _ids_and_seconds(store: Store) -> dict[int, int]:
    with store.engine.connect() as conn:
        return {
            r.id: r.feed_second for r in conn.execute(select(articles.c.id, articles.c.feed_second))
        }


def test_first_free_seconds_walks_runs_of_taken_seconds() -> None:
    assert first_free_seconds([(10, 1), (10, 2), (11, 3)], []) == {1: 10, 2: 11, 3: 12}
    assert first_free_seconds([(11, 3), (10, 2), (10, 1)], []) == {1: 10, 2: 11, 3: 12}
    assert first_free_seconds([(10, 4), (20, 5)], [10, 11, 12, 14, 20]) == {4: 13, 5: 21}
    many = first_free_seconds([(0, i) for i in range(5000)], range(0, 10_000, 2))
    assert sorted(many.values()) == list(range(1, 10_000, 2))


def test_upgrading_fills_article_groups_from_stored_articles(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.migrate()
    rng = random.Random(3)
    store.upsert_articles([(_article(rng, n), f"tag:{n}") for n in range(50)])
    with store.engine.connect() as conn:
        written = sorted(tuple(r) for r in conn.execute(select(article_groups)))
    store.migrate("0006_slugs", downgrade=True)
    store.migrate()
    with store.engine.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(select(article_groups))) == written
    assert len(written) > 50
    store.close()
