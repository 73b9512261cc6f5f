"""Collecting a folder into a real SQLite file: new, unchanged, edited, broken and duplicate files."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from publisher.config import Settings
from publisher.jobs import open_store, run_collect
from publisher.store.base import MIGRATIONS
from publisher.store.schema import metadata

from .conftest import SEED, count_rows, stored_article

SEED_KEY = f"newsroom:{SEED}"


def test_collect_stores_the_seed_exactly(settings: Settings, project: Path) -> None:
    with open_store(settings) as store:
        report = run_collect(settings, store)
        assert report.added == len(list((project / "content").iterdir()))
        assert report.errors == []
        seed = stored_article(store, SEED_KEY)
    assert seed is not None
    assert (
        seed.title == "US Under Secretary John Bass Visits Pakistan for Bilateral Cooperation Talks"
    )
    assert seed.author == "Web Desk"
    assert seed.section == "politics"
    assert seed.published == datetime(2024, 9, 17, 12, 50, tzinfo=UTC)
    assert seed.image_credit == "geo"
    assert len(seed.highlights) == 3
    assert seed.content_html.count("<p>") == 6
    assert "Related Post" not in seed.content_html
    assert seed.guid == f"tag:news.example.com,2024-09-17:{SEED_KEY}"
    assert seed.link == (
        "https://news.example.com/politics/"
        "us-under-secretary-john-bass-visits-pakistan-for-bilateral-cooperation-talks/"
    )
    assert (
        seed.slug == "us-under-secretary-john-bass-visits-pakistan-for-bilateral-cooperation-talks"
    )


def test_broken_file_reported_and_skipped(settings: Settings, project: Path) -> None:
    bad = project / "content" / "broken.txt"
    bad.write_text("A headline\n\nthis is not a dateline\nBody.\n", encoding="utf-8")
    (project / "content" / "bad-front-matter.md").write_text(
        "---\ntitle: [oops\n---\n", encoding="utf-8"
    )
    (project / "content" / "latin1.txt").write_bytes("Caf\xe9\n".encode("latin-1"))
    with open_store(settings) as store:
        report = run_collect(settings, store)
        good = len(list((project / "content").iterdir())) - 3
        assert report.added == good
        assert count_rows(store, "articles") == good
    by_path = {Path(e.path).name: e for e in report.errors}
    assert set(by_path) == {"broken.txt", "bad-front-matter.md", "latin1.txt"}
    assert by_path["broken.txt"].line == 3
    assert "dateline" in str(by_path["broken.txt"])
    assert str(bad) in str(by_path["broken.txt"])
    assert "UTF-8" in by_path["latin1.txt"].reason


def test_recollecting_unchanged_folder_adds_nothing(settings: Settings) -> None:
    with open_store(settings) as store:
        first = run_collect(settings, store)
        count = count_rows(store, "articles")
        second = run_collect(settings, store)
        assert (second.added, second.updated, second.unchanged) == (0, 0, first.added)
        assert count_rows(store, "articles") == count


def test_edited_file_updates_its_article(settings: Settings, project: Path) -> None:
    path = project / "content" / SEED
    with open_store(settings) as store:
        run_collect(settings, store)
        before = stored_article(store, SEED_KEY)
        count = count_rows(store, "articles")
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                "US Under Secretary John Bass Visits", "US Envoy John Bass Visits", 1
            ),
            encoding="utf-8",
        )
        report = run_collect(settings, store)
        after = stored_article(store, SEED_KEY)
        assert report.updated == 1 and report.added == 0
        assert count_rows(store, "articles") == count
    assert before is not None and after is not None
    assert after.title.startswith("US Envoy John Bass Visits")
    assert after.id == before.id  # same row: the digest cursor is not fooled into resending
    assert after.guid == before.guid  # feed readers see an update, not a new item
    assert after.content_hash != before.content_hash
    assert (
        after.updated is not None and before.updated is not None and after.updated > before.updated
    )
    assert after.first_seen == before.first_seen


def test_same_headline_is_not_a_duplicate_same_explicit_link_is(
    settings: Settings, project: Path
) -> None:
    seed = (project / "content" / SEED).read_text(encoding="utf-8")
    (project / "content" / "zz_copy_of_seed.txt").write_text(seed, encoding="utf-8")
    markets = (project / "content" / "2024-09-18-markets-rally.md").read_text(encoding="utf-8")
    link = "https://news.example.com/business/markets-rally/"
    for name in ("a-markets.md", "b-markets-again.md"):
        (project / "content" / name).write_text(
            markets.replace("+++\n", f'+++\nlink = "{link}"\n', 1), encoding="utf-8"
        )
    with open_store(settings) as store:
        report = run_collect(settings, store)
        original = stored_article(store, SEED_KEY)
        copy = stored_article(store, "newsroom:zz_copy_of_seed.txt")
        assert report.duplicates == 1  # only the second file naming the same link
        assert stored_article(store, "newsroom:b-markets-again.md") is None
        first = stored_article(store, "newsroom:a-markets.md")
    assert original is not None and copy is not None and first is not None
    assert first.link == link
    # Same headline, same section: the second one gets a suffix from its own identity.
    assert copy.link != original.link
    assert re.fullmatch(r"us-under-secretary-[a-z-]+-[0-9a-f]{6}", copy.slug), copy.slug
    assert copy.link == f"https://news.example.com/politics/{copy.slug}/"


def test_hostile_html_is_sanitised(settings: Settings, project: Path) -> None:
    (project / "content" / "hostile.md").write_text(
        '---\ntitle: "<b>Bold</b> title\\a"\ndate: 2024-10-01\nsection: tech\n---\n'
        '<script>alert(1)</script><p onclick="x()">Hi</p><iframe src="https://evil.example/"></iframe>\n',
        encoding="utf-8",
    )
    with open_store(settings) as store:
        run_collect(settings, store)
        article = stored_article(store, "newsroom:hostile.md")
    assert article is not None
    # A title is plain text: the tags are kept as the text they are (escaped on output), and
    # the control character is dropped.
    assert article.title == "<b>Bold</b> title"
    assert "<script" not in article.content_html and "onclick" not in article.content_html
    assert "evil.example" not in article.content_html
    assert "<p>Hi</p>" in article.content_html


def test_database_is_sqlite_wal_and_matches_migrations(settings: Settings, project: Path) -> None:
    with open_store(settings) as store:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        store.migrate()  # running again is harmless
    with sqlite3.connect(project / "data" / "publisher.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = raw.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    scripts = ScriptDirectory(str(MIGRATIONS))
    assert version == scripts.get_current_head()  # the newest migration, run on open


def test_unchanged_files_are_not_parsed_again(
    settings: Settings, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from publisher.sources import files

    with open_store(settings) as store:
        first = run_collect(settings, store)

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("an unchanged file was parsed again")

        monkeypatch.setitem(files.PARSERS, ".txt", refuse)
        monkeypatch.setitem(files.PARSERS, ".md", refuse)
        again = run_collect(settings, store)
        assert again.unchanged == first.added and again.errors == []
        # A changed file is parsed (and here refused), the others still are not.
        seed = project / "content" / SEED
        seed.write_text(seed.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        with pytest.raises(AssertionError, match="parsed again"):
            run_collect(settings, store)


def test_embeds_become_links(settings: Settings, project: Path) -> None:
    (project / "content" / "video.md").write_text(
        "---\ntitle: Video\ndate: 2024-10-01\nsection: tech\n---\n"
        '<iframe src="https://www.youtube.com/embed/xyz" width="560"></iframe>\n',
        encoding="utf-8",
    )
    with open_store(settings) as store:
        run_collect(settings, store)
        article = stored_article(store, "newsroom:video.md")
    assert article is not None
    assert "<iframe" not in article.content_html
    assert '<a href="https://www.youtube.com/embed/xyz">Watch the video</a>' in article.content_html
