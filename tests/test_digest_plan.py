"""Planning: due times across DST, sections and variants, caps, notes, the safe cut, commands."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from publisher.config import Settings, load_settings
from publisher.digest.plan import plan_editions
from publisher.digest.schedule import next_due, reschedule, slot_for
from publisher.jobs import open_store, run_collect, run_digest
from publisher.models import Subscriber
from publisher.store.editions import safe_max_article_id
from publisher.store.schema import articles

from .conftest import cli, write_config


def slot(settings: Settings, **prefs: object):  # type: ignore[no-untyped-def]
    return slot_for(Subscriber(id=1, email="a@example.com", **prefs), settings)  # type: ignore[arg-type]


def test_daily_due_time_keeps_local_hour_across_dst(settings: Settings) -> None:
    london = slot(settings, timezone="Europe/London", send_hour=7)
    before = next_due(datetime(2024, 3, 30, 8, 0, tzinfo=UTC), london)
    after = next_due(before, london)
    assert before == datetime(2024, 3, 31, 6, 0, tzinfo=UTC)  # 07:00 BST, the day clocks change
    assert after == datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
    autumn = next_due(datetime(2024, 10, 26, 12, 0, tzinfo=UTC), london)
    assert autumn == datetime(2024, 10, 27, 7, 0, tzinfo=UTC)  # 07:00 GMT again


def test_send_hour_in_a_dst_gap_moves_to_the_first_real_time(settings: Settings) -> None:
    new_york = slot(settings, timezone="America/New_York", send_hour=2)
    due = next_due(datetime(2024, 3, 10, 0, 0, tzinfo=UTC), new_york)  # 2024-03-09 19:00 local
    assert due.astimezone(new_york.tz).strftime("%Y-%m-%d %H:%M") == "2024-03-10 03:00"


def test_weekly_due_on_the_chosen_weekday_and_defaults_from_config(settings: Settings) -> None:
    friday = slot(settings, frequency="weekly", weekday=4, send_hour=9, timezone="Asia/Tokyo")
    due = next_due(datetime(2024, 9, 16, 0, 0, tzinfo=UTC), friday)  # a Monday
    assert due == datetime(2024, 9, 20, 0, 0, tzinfo=UTC)  # Friday 09:00 in Tokyo
    site = slot(settings)  # no preferences: site zone (Karachi) and send_time 07:00
    assert next_due(datetime(2024, 9, 16, 0, 0, tzinfo=UTC), site) == datetime(
        2024, 9, 16, 2, 0, tzinfo=UTC
    )
    broken = slot(settings, timezone="Mars/Olympus", send_hour=99, frequency="hourly")
    assert broken == site  # bad data falls back to the defaults instead of crashing


def test_sections_make_variants_and_unmatched_articles_are_not_owed_later(
    settings: Settings,
) -> None:
    with open_store(settings) as store:
        politics, _ = store.add_subscriber("p@example.com", sections=["Politics"])
        everything, _ = store.add_subscriber("all@example.com")
        also_politics, _ = store.add_subscriber("p2@example.com", sections=["politics "])
        sport, _ = store.add_subscriber("s@example.com", sections=["sports"])
        run_collect(settings, store)
        now = datetime(2024, 9, 20, 1, 0, tzinfo=UTC)
        planned = plan_editions(settings, store, now)
        by_sub = {sid: p for p in planned for sid in p.subscriber_ids}
        assert by_sub[politics.id] is by_sub[also_politics.id]  # same articles: one variant
        assert by_sub[politics.id].article_count == 2
        assert by_sub[everything.id].article_count == 6
        assert by_sub[sport.id].article_count == 1
        assert len(planned) == 3
        # Switching to all sections later does not bring back the passed-over articles.
        reschedule(settings, store, store.subscriber_by_email("p@example.com"), now, sections=None)  # type: ignore[arg-type]
        later = plan_editions(settings, store, now + timedelta(days=2))
        assert later == []


def test_cap_leaves_the_rest_for_the_next_digest(project: Path) -> None:
    settings = load_settings(write_config(project, extra="max_articles = 4\n"), environ={})
    with open_store(settings) as store:
        store.add_subscriber("ann@example.com")
        run_collect(settings, store)
        now = datetime(2024, 9, 20, 1, 0, tzinfo=UTC)
        first = plan_editions(settings, store, now)
        second = plan_editions(settings, store, now + timedelta(days=1))
        assert [p.article_count for p in first + second] == [4, 2]
        assert set(first[0].article_ids).isdisjoint(second[0].article_ids)


def test_nothing_new_is_skipped_or_a_short_note(project: Path) -> None:
    settings = load_settings(write_config(project, extra='when_empty = "note"\n'), environ={})
    with open_store(settings) as store:
        run_collect(settings, store)
        store.add_subscriber("ann@example.com")
        report = run_digest(settings, store)
        assert [p.edition.kind for p in report.planned if p.edition] == ["note"]
        assert report.sent.sent == 1
        mail = next((project / "outbox" / "new").iterdir()).read_bytes()
        body = message_from_bytes(mail, policy=policy.default).get_body(("plain",))
        assert "Nothing new has been published" in body.get_content()  # type: ignore[union-attr]
    skip = load_settings(write_config(project), environ={})
    with open_store(skip) as store:
        store.add_subscriber("bob@example.com")
        assert run_digest(skip, store, now=datetime.now(UTC) + timedelta(days=3)).planned == []


def test_a_bad_subscriber_address_is_reported_and_the_rest_sent(settings: Settings) -> None:
    with open_store(settings) as store:
        store.add_subscriber("ann@example.com")
        store.add_subscriber("bad\r\nBcc: x@example.com")
        run_collect(settings, store)
        report = run_digest(settings, store)
        assert (report.sent.sent, report.sent.failed) == (1, 1)
        assert "invalid recipient" in report.sent.errors[0]


def test_cut_waits_for_articles_still_being_inserted_on_postgresql(
    project: Path, pg_url: str
) -> None:
    settings = load_settings(write_config(project), environ={"PUBLISHER_DATABASE_URL": pg_url})
    with open_store(settings) as store:
        row = {
            "key": "k", "guid": "g", "source": "s", "title": "t", "link": "l",
            "published_at": datetime.now(UTC), "updated_at": datetime.now(UTC),
            "first_seen_at": datetime.now(UTC), "content_hash": "h",
        }  # fmt: skip
        writer = store.engine.connect()
        writer.begin()
        writer.execute(insert(articles).values(**row))  # uncommitted: its id must not be skipped
        with store.engine.connect() as reader:
            reader.execute(text("SET lock_timeout = '200ms'"))
            reader.commit()
            with pytest.raises(OperationalError, match="lock timeout"), reader.begin():
                safe_max_article_id(reader)
        done: list[int] = []
        thread = threading.Thread(target=lambda: done.append(store.cut_article_id()))
        thread.start()
        writer.commit()
        writer.close()
        thread.join(30)
        assert done == [1]


def test_plan_preview_test_send_and_archive_commands(project: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    controller, sink = smtp_server
    config = str(project / "config.toml")
    cli("subscribers", "add", "ann@example.com", "--name", "Ann", "--config", config)
    cli("collect", "--config", config)
    dry = cli("digest", "plan", "--dry-run", "--config", config)
    assert dry.exit_code == 0 and "6 articles for 1 subscribers" in dry.output
    assert "ann@example.com" in dry.output
    out = project / "pv"
    preview = cli(
        "digest",
        "preview",
        "--subscriber",
        "ann@example.com",
        "--out",
        str(out),
        "--config",
        config,
    )
    assert preview.exit_code == 0, preview.output
    assert "Hello Ann," in (out / "digest.txt").read_text(encoding="utf-8")
    assert b"List-Unsubscribe-Post" in (out / "digest.eml").read_bytes()
    dated = cli("digest", "preview", "--date", "2024-09-19", "--out", str(out), "--config", config)
    assert "2 articles" in dated.output
    real = cli("digest", "plan", "--config", config)
    assert "edition 1" in real.output
    again = cli("digest", "plan", "--config", config)
    assert "nobody is due" in again.output
    # The archive has the edition without personal links, an index and a valid feed.
    pages = list((project / "archive").glob("*/*.html"))
    assert len(pages) == 1
    page = pages[0].read_text(encoding="utf-8")
    assert "unsubscribe" not in page.lower() and "Hello" not in page
    for name, version in (("feed.xml", "atom10"), ("rss.xml", "rss20")):
        feed = feedparser.parse(str(project / "archive" / name))
        assert feed.bozo == 0 and feed.version == version and len(feed.entries) == 1
        assert feed.entries[0].link.endswith(pages[0].name)
        assert [link.rel for link in feed.entries[0].links].count("alternate") == 1
    assert pages[0].name in (project / "archive" / "index.html").read_text(encoding="utf-8")
    # test-send goes through the configured transport and queues nothing.
    smtp = write_config(
        project,
        extra=f'\n[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\n',
    )
    sent = cli("digest", "test-send", "--to", "editor@example.com", "--config", str(smtp))
    assert sent.exit_code == 0, sent.output
    assert [m.rcpt_tos for m in sink.messages] == [["editor@example.com"]]
    assert cli("digest", "plan", "--dry-run", "--config", str(smtp)).output.startswith(
        "plan: nobody"
    )


def test_subscribers_set_and_dkim_show(project: Path, dkim_key_pem: bytes) -> None:
    config = str(project / "config.toml")
    cli("subscribers", "add", "ann@example.com", "--config", config)
    result = cli(
        "subscribers", "set", "ann@example.com", "--timezone", "Europe/London", "--hour", "6",
        "--frequency", "weekly", "--weekday", "friday", "--sections", "politics,business",
        "--config", config,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with open_store(load_settings(config, environ={})) as store:
        sub = store.subscriber_by_email("ann@example.com")
        assert sub is not None and sub.sections == ["politics", "business"]
        assert sub.next_due_at is not None and sub.next_due_at.astimezone().weekday() == 4
    bad = cli(
        "subscribers", "set", "ann@example.com", "--timezone", "Nowhere/Land", "--config", config
    )
    assert bad.exit_code == 1 and "unknown time zone" in bad.output
    missing = cli("dkim", "show", "--config", config)
    assert missing.exit_code == 1 and "[dkim]" in missing.output
    (project / "dkim.pem").write_bytes(dkim_key_pem)
    dkim_config = write_config(
        project,
        extra='\n[dkim]\nselector = "d1"\ndomain = "news.example.com"\nkey_path = "dkim.pem"\n',
    )
    shown = cli("dkim", "show", "--config", str(dkim_config))
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith('d1._domainkey.news.example.com. IN TXT "v=DKIM1; k=rsa; p=MIIB')


def test_a_planner_that_lost_a_race_writes_nothing(settings: Settings) -> None:
    from publisher.errors import StoreError
    from publisher.store.editions import CursorMove, NewEdition

    with open_store(settings) as store:
        sub, _ = store.add_subscriber("ann@example.com")
        run_collect(settings, store)
        due = datetime(2024, 9, 21, 2, 0, tzinfo=UTC)
        stale = CursorMove(
            sub.id, old_cursor=sub.last_article_id + 99, new_cursor=6, next_due_at=due,
            old_due_at=None,
        )  # fmt: skip
        with pytest.raises(StoreError, match="another planner"):
            store.queue_editions(due, [NewEdition("digest", "v", [1, 2], [sub.id])], [stale])
        assert store.list_editions() == [] and store.delivery_counts() == {}
        again = store.subscriber_by_email("ann@example.com")
        assert again is not None and again.last_article_id == sub.last_article_id
