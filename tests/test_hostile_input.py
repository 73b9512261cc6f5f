"""Hostile article files: script links, symlinks out of the content folder, secrets in errors.

Each is collected from a real folder into a real SQLite file and then written out the ways a
reader meets it: feeds, the public archive page and the digest email in the outbox.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import update

from publisher.config import Settings, load_settings
from publisher.jobs import open_store, run_collect, run_feeds, run_plan, run_send
from publisher.store.schema import articles

from .conftest import count_rows, stored_article, write_config
from .smtp_faults import add_subscribers

PAYLOADS = {
    "javascript": "javascript:alert(document.domain)",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "tab-split": "java\tscript:alert(document.domain)",
}


def written_text(project: Path) -> str:
    """Everything a reader can be shown: every feed, archive page and outbox message."""
    parts = []
    for folder in ("feeds", "archive", "outbox"):
        for path in sorted((project / folder).rglob("*")):
            if path.is_file():
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("key", ["link", "image"])
@pytest.mark.parametrize("fence", ["---", "+++"], ids=["yaml", "toml"])
def test_front_matter_url_that_is_not_http_is_refused_with_file_and_line(
    settings: Settings, project: Path, key: str, payload: str, fence: str
) -> None:
    value = PAYLOADS[payload].replace("\t", "\\t")
    assign = f'{key}: "{value}"' if fence == "---" else f'{key} = "{value}"'
    title = 'title: "Hostile"' if fence == "---" else 'title = "Hostile"'
    date = "date: 2024-10-01T09:00:00" if fence == "---" else "date = 2024-10-01T09:00:00"
    path = project / "content" / "hostile.md"
    path.write_text(f"{fence}\n{title}\n{date}\n{assign}\n{fence}\nBody.\n", encoding="utf-8")
    with open_store(settings) as store:
        report = run_collect(settings, store)
        assert stored_article(store, "newsroom:hostile.md") is None
        assert count_rows(store, "articles") == report.added > 0
    [error] = report.errors
    assert (error.path, error.line) == (str(path), 4)
    assert f"`{key}`" in error.reason and "http" in error.reason
    assert "alert" not in str(error) and "base64" not in str(error)


def test_urls_stored_before_the_rule_never_reach_feeds_archive_or_email(
    project: Path,
) -> None:
    """A row written before collection checked URLs (or by any other way in) is still safe."""
    settings = load_settings(write_config(project, extra='when_empty = "skip"'), environ={})
    with open_store(settings) as store:
        add_subscribers(store, ["ann@example.com"])
        run_collect(settings, store)
        with store.engine.begin() as conn:
            conn.execute(
                update(articles).values(
                    link=PAYLOADS["javascript"], image_url="data:image/svg+xml,<svg onload=x>"
                )
            )
        run_feeds(settings, store)
        run_plan(settings, store)
        report, _ = run_send(settings, store)
        assert report.sent == 1
    shown = written_text(project)
    assert (project / "archive" / "index.html").exists() and (project / "outbox").exists()
    assert "javascript:" not in shown and "alert(" not in shown
    assert "data:image" not in shown and "onload" not in shown
    assert "https://news.example.com/" in shown  # an unsafe link falls back to the front page


# -- symbolic links ------------------------------------------------------------------------
SECRET = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash"


def outside_files(tmp_path: Path) -> tuple[Path, Path]:
    """A readable article and a secret, both outside the project's content folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    article = elsewhere / "secret.md"
    article.write_text(
        "---\ntitle: Embargoed draft\ndate: 2024-10-01\n---\nNot for publication.\n",
        encoding="utf-8",
    )
    secret = elsewhere / "passwd"
    secret.write_text(SECRET + "\nsecond line\n", encoding="utf-8")
    return article, secret


def test_symlinks_out_of_the_content_folder_are_refused_unread(
    settings: Settings, project: Path, tmp_path: Path
) -> None:
    article, secret = outside_files(tmp_path)
    content = project / "content"
    (content / "linked.md").symlink_to(article)
    (content / "passwd.txt").symlink_to(secret)
    (content / "sub").mkdir()
    (content / "sub" / "dir").symlink_to(article.parent, target_is_directory=True)
    (content / "inside.md").symlink_to(content / "2024-09-18-markets-rally.md")
    with open_store(settings) as store:
        report = run_collect(settings, store)
        assert stored_article(store, "newsroom:linked.md") is None
        assert stored_article(store, "newsroom:inside.md") is None  # a duplicate link, not refused
    refused = {Path(e.path).name: e for e in report.errors}
    assert {"linked.md", "passwd.txt"} <= set(refused)
    for error in report.errors:
        text = str(error)
        assert "SECRET" not in text and "root:x" not in text and "Embargoed" not in text
    assert "outside the source folder" in refused["linked.md"].reason
    assert "outside the source folder" in refused["passwd.txt"].reason
    assert report.duplicates == 1  # inside.md: read (its target is inside), same link as its target


def test_error_messages_never_quote_the_file(settings: Settings, project: Path) -> None:
    (project / "content" / "notes.txt").write_text(
        f"Headline\n\n{SECRET}\nbody\n", encoding="utf-8"
    )
    (project / "content" / "bad-yaml.md").write_text(
        f"---\ntitle: [{SECRET}\n---\nbody\n", encoding="utf-8"
    )
    (project / "content" / "bad-date.md").write_text(
        f"---\ntitle: x\ndate: {SECRET}\n---\nbody\n", encoding="utf-8"
    )
    with open_store(settings) as store:
        report = run_collect(settings, store)
    assert {Path(e.path).name for e in report.errors} == {"notes.txt", "bad-yaml.md", "bad-date.md"}
    for error in report.errors:
        assert "SECRET" not in str(error) and "root:x" not in str(error), str(error)
        assert error.line is not None


def test_symlink_in_media_dir_does_not_leak_the_size_of_its_target(
    settings: Settings, project: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"x" * 12345)
    (project / "media" / "images" / "leak.png").symlink_to(secret)
    (project / "content" / "leak.md").write_text(
        "---\ntitle: Leak\ndate: 2024-10-02\nimage: /images/leak.png\n---\nBody.\n",
        encoding="utf-8",
    )
    with open_store(settings) as store:
        run_collect(settings, store)
        run_feeds(settings, store)
    rss = (project / "feeds" / "rss.xml").read_text(encoding="utf-8")
    assert "leak.png" in rss  # the image is still shown ...
    assert 'length="12345"' not in rss  # ... but nothing about the file the link points to
    assert os.path.getsize(project / "media" / "images" / "leak.png") == 12345
