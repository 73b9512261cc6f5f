"""Permanent URLs: the slug rule, and databases from before slugs were stored (migration
0006_slugs on SQLite and PostgreSQL): every article keeps its link, every section and author
its feed folder, and nothing is renumbered afterwards."""

# Greek, Cyrillic, full-width and typographic letters are what these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from publisher.config import Settings, load_settings
from publisher.jobs import open_store, run_collect
from publisher.sanitize import plain_text
from publisher.slugs import LinkRules, slugify, suffixed
from publisher.store import Store
from publisher.store.schema import metadata
from publisher.urls import as_uri

from .feedhelpers import SITE, build, multilingual_project


@pytest.mark.parametrize(
    ("name", "ascii_only", "slug"),
    [
        ("US Under Secretary John Bass Visits Pakistan", False, "us-under-secretary-john-bass-visits-pakistan"),
        ("Économie : la croissance ralentit", False, "economie-la-croissance-ralentit"),
        ("Straße und Øresund", False, "strasse-und-oresund"),
        ("Привет, мир!", False, "привет-мир"),
        ("हिन्दी समाचार", False, "हिन्दी-समाचार"),  # virama and vowel signs stay with their letters
        ("中国经济", True, "zhong-guo-jing-ji"),
        ("Привет, мир!", True, "privet-mir"),
        ("!!! ???", False, "untitled"),
        ("ＦＵＬＬ　ｗｉｄｔｈ", False, "full-width"),
    ],
)  # fmt: skip
def test_slugify(name: str, ascii_only: bool, slug: str) -> None:
    assert slugify(name, ascii_only=ascii_only) == slug


def test_long_slugs_are_cut_at_a_word_and_suffixes_are_stable() -> None:
    title = "A very long headline " * 8
    slug = slugify(title)
    assert len(slug) <= 80 and slugify(title, max_length=200).startswith(slug + "-")
    devanagari = slugify("क्षि" * 40)  # no dash to cut at: never between a letter and its marks
    assert len(devanagari) <= 80 and devanagari.endswith("ि")
    assert suffixed("release-notes", "world:a.md") == suffixed("release-notes", "world:a.md")
    assert suffixed("release-notes", "world:a.md") != suffixed("release-notes", "world:b.md")
    assert (
        LinkRules(SITE).article_link("科技", "新规")
        == f"{SITE}/%E7%A7%91%E6%8A%80/%E6%96%B0%E8%A7%84/"
    )
    assert LinkRules(SITE).article_link("", "x") == f"{SITE}/x/"


def test_text_fields_decode_entities_once_and_keep_no_break_spaces() -> None:
    assert plain_text("Tom &amp;amp; Jerry&nbsp;: <i>live</i>\n  again") == (
        "Tom &amp; Jerry\u00a0: <i>live</i> again"
    )
    assert plain_text("«\u202fOui\u202f»\u3000x\x07") == "«\u202fOui\u202f»\u3000x"
    assert as_uri("https://пример.рф/статья?q=мир#я") == (
        "https://xn--e1afmkfd.xn--p1ai/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F?q=%D0%BC%D0%B8%D1%80#%D1%8F"
    )


# What publisher before 0006 stored for three of the multilingual fixtures: the Russian
# headline's slug was "untitled" (the Greek one, also "untitled", was dropped as a duplicate
# then; here it came in under an explicit link), and non-Latin sections and authors got the
# feed folders untitled, untitled-2 in name order.
OLD_ROWS = [
    ("world:fr/2024-09-25-avignon.md", "Festival d’Avignon", f"{SITE}/culture/festival-d-avignon-une-edition-historique/", "Camille Dubois", "Culture"),
    ("world:el/2024-09-23-climate-summit.md", "Η Αθήνα υποδέχεται", f"{SITE}/world/athens-summit/", "Νίκος Παπαδόπουλος", "Κόσμος"),
    ("world:ru/2024-09-23-budget.md", "Госдума приняла бюджет", f"{SITE}/untitled/untitled/", "Анна Петрова", "Политика"),
]  # fmt: skip


def _old_database(url: str) -> None:
    store = Store(url, migrate=False)
    store.migrate("0004_readers")
    when = datetime(2024, 9, 20, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    with store.engine.begin() as conn:
        for n, (key, title, link, author, section) in enumerate(OLD_ROWS):
            conn.execute(
                text(
                    "INSERT INTO articles (key, guid, source, title, link, author, section, "
                    "summary, content_html, highlights, tags, image_url, image_alt, image_credit, "
                    "published_at, updated_at, first_seen_at, content_hash, source_hash, changed_at) "
                    "VALUES (:key, :guid, 'world', :title, :link, :author, :section, '', '<p>x</p>', "
                    "'[]', '[]', '', '', '', :when, :when, :when, :hash, NULL, :when)"
                ),
                {"key": key, "guid": f"tag:news.example.com,2024-09-20:{key}", "title": title,
                 "link": link, "author": author, "section": section, "when": when, "hash": f"{n}" * 64},
            )  # fmt: skip
    store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The multilingual project on a database last used by publisher before 0006."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'publisher.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    multilingual_project(tmp_path)
    _old_database(url)
    yield load_settings(tmp_path / "config.toml", environ={"PUBLISHER_DATABASE_URL": url})


def test_migration_keeps_every_link_and_feed_folder(old_world: Settings, tmp_path: Path) -> None:
    with open_store(old_world) as store:  # opening migrates to 0006
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            rows = {
                r.key: r
                for r in conn.execute(text("SELECT key, link, slug, authors FROM articles"))
            }
        assert {key: rows[key].link for key, *_ in OLD_ROWS} == {
            key: link for key, _, link, *_ in OLD_ROWS
        }
        assert rows["world:ru/2024-09-23-budget.md"].slug == "untitled"
        assert json.loads(rows["world:el/2024-09-23-climate-summit.md"].authors) == [
            "Νίκος Παπαδόπουλος"
        ]
        assert store.group_slugs("section") == {
            "Culture": "culture",
            "Κόσμος": "untitled",
            "Политика": "untitled-2",
        }
        assert store.group_slugs("author") == {
            "Camille Dubois": "camille-dubois", "Νίκος Παπαδόπουλος": "untitled", "Анна Петрова": "untitled-2",
        }  # fmt: skip
        report = run_collect(old_world, store)
        assert report.added == 11 and report.duplicates == 0
        with store.engine.connect() as conn:
            links = dict(conn.execute(text("SELECT key, link FROM articles")).all())
        # Stored links never move, whatever the new rule would make of the headline.
        assert {key: links[key] for key, *_ in OLD_ROWS} == {
            key: link for key, _, link, *_ in OLD_ROWS
        }
        assert store.group_slugs("section")["Политика"] == "untitled-2"
        assert store.group_slugs("section")["科技"] == "科技"  # newcomers get their own letters
    build(old_world)
    feeds = tmp_path / "feeds"
    assert (feeds / "section" / "untitled-2" / "atom.xml").exists()
    assert (feeds / "author" / "untitled-2" / "rss.xml").exists()
    assert (feeds / "author" / "иван-смирнов" / "rss.xml").exists()
    assert b"/untitled/untitled/" in (feeds / "author" / "untitled-2" / "rss.xml").read_bytes()


def test_migration_down_and_up_again_on_a_full_database(tmp_path: Path) -> None:
    settings = multilingual_project(tmp_path)
    with open_store(settings) as store:
        run_collect(settings, store)
        links = {a.key: a.link for a in store.latest_articles(100)}
        store.migrate("0004_readers", downgrade=True)
        store.migrate()
        assert {a.key: a.link for a in store.latest_articles(100)} == links
        assert store.group_slugs("section")["Product"] == "product"


def test_html_fields_of_other_sources_become_text_once() -> None:
    from publisher.sources.text import html_to_text

    upstream = "Why the port needs a <em>second</em> pier &amp; a &lt;b&gt; tag<script>x()</script>"
    assert plain_text(html_to_text(upstream)) == "Why the port needs a second pier & a <b> tag"
    assert plain_text(html_to_text("caf&eacute;&nbsp;: AT&amp;amp;T")) == "café\u00a0: AT&amp;T"
