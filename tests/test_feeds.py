"""Feeds as feed readers see them: parsed back with feedparser, validated against the Atom and
JSON Feed schemas, written atomically, stable when nothing changed, archived, and announced."""

from __future__ import annotations

import html as html_module
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs
from xml.etree import ElementTree

import feedparser
import pytest
from lxml import etree

from publisher import atomicfile
from publisher.config import Settings, load_settings
from publisher.jobs import open_store, run_collect
from publisher.store.schema import articles, feed_state

from .conftest import SEED, cli, write_config
from .feedhelpers import (
    age_articles,
    assert_valid_atom,
    assert_valid_json_feed,
    build,
    http_server,
)
from .test_run_once import SEED_LINK, SEED_TITLE

SEED_ID = f"tag:news.example.com,2024-09-17:newsroom:{SEED}"
KINDS = ["", "section/politics", "author/web-desk"]


@pytest.mark.parametrize("folder", KINDS, ids=["site", "section", "author"])
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_xml_feeds_parse_with_the_right_fields(
    settings: Settings, project: Path, folder: str, name: str
) -> None:
    build(settings)
    path = project / "feeds" / folder / name
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if name == "rss.xml" else "atom10")
    expected_self = "/".join(p for p in ["https://news.example.com/feeds", folder, name] if p)
    assert [link.href for link in parsed.feed.links if link.rel == "self"] == [expected_self]
    assert parsed.feed.link == "https://news.example.com/"
    seed = next(e for e in parsed.entries if e.id == SEED_ID)
    assert seed.title == SEED_TITLE
    assert seed.link == SEED_LINK
    assert seed.author == "Web Desk"
    assert [t.term for t in seed.tags] == ["politics"]
    # The dateline's local time, in the site's zone as the source meant it, not moved to UTC.
    assert seed.published in ("Tue, 17 Sep 2024 17:50:00 +0500", "2024-09-17T17:50:00+05:00")
    assert datetime(*seed.published_parsed[:6], tzinfo=UTC) == datetime(
        2024, 9, 17, 12, 50, tzinfo=UTC
    )
    assert seed.summary.startswith("John Bass visits Pakistan to enhance bilateral cooperation")
    content = seed.content[0].value
    assert "In a significant diplomatic move" in content and "Related Post" not in content
    assert "<li>John Bass discusses counter-terrorism with Pakistani officials.</li>" in content
    dates = [e.published_parsed for e in parsed.entries]
    assert dates == sorted(dates, reverse=True)
    if folder == "section/politics":
        assert {e.tags[0].term for e in parsed.entries} == {"politics"}
    if folder == "author/web-desk":
        assert {e.author for e in parsed.entries} == {"Web Desk"}
    if name == "atom.xml":
        assert_valid_atom(path)
        assert seed.updated_parsed is not None


@pytest.mark.parametrize("folder", KINDS, ids=["site", "section", "author"])
def test_json_feed_is_valid_with_the_right_fields(
    settings: Settings, project: Path, folder: str
) -> None:
    build(settings)
    feed = assert_valid_json_feed(project / "feeds" / folder / "feed.json")
    assert feed["feed_url"] == "/".join(
        p for p in ["https://news.example.com/feeds", folder, "feed.json"] if p
    )
    assert feed["home_page_url"] == "https://news.example.com/"
    seed = next(item for item in feed["items"] if item["id"] == SEED_ID)
    assert seed["url"] == SEED_LINK and seed["title"] == SEED_TITLE
    assert seed["date_published"] == "2024-09-17T17:50:00+05:00"
    assert seed["authors"] == [{"name": "Web Desk"}]
    assert seed["tags"] == ["politics"]
    assert "In a significant diplomatic move" in seed["content_html"]


def test_enclosures_have_exact_length_and_type(settings: Settings, project: Path) -> None:
    build(settings)
    image = project / "media" / "images" / "2024" / "09" / "stock-exchange.png"
    url = "https://news.example.com/images/2024/09/stock-exchange.png"
    rss = feedparser.parse((project / "feeds" / "rss.xml").read_bytes())
    entry = next(e for e in rss.entries if "Stocks Close" in e.title)
    assert entry.enclosures == [
        {"href": url, "length": str(image.stat().st_size), "type": "image/png"}
    ]
    atom = etree.parse(str(project / "feeds" / "atom.xml"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = atom.xpath(
        "//a:entry[a:title='Stocks Close at Record High as Inflation Cools']/a:link", namespaces=ns
    )
    attrs = sorted((link.get("rel"), link.get("type"), link.get("length")) for link in links)
    assert attrs == [
        ("alternate", "text/html", None),
        ("enclosure", "image/png", str(image.stat().st_size)),
    ]
    feed = assert_valid_json_feed(project / "feeds" / "feed.json")
    assert next(i for i in feed["items"] if "Stocks" in i["title"])["image"] == url


def test_enclosure_size_learnt_over_http_and_cached(project: Path) -> None:
    with http_server() as (base, recorder):
        recorder.headers = {"Content-Length": "48213", "Content-Type": "image/jpeg"}
        (project / "content" / "remote.md").write_text(
            f"---\ntitle: Remote image\ndate: 2024-10-02\nsection: national\nimage: {base}/img/a.jpg\n---\nBody.\n",
            encoding="utf-8",
        )
        config = write_config(project, extra="")
        text = config.read_text().replace(
            "fetch_media = false", "fetch_media = true\nmedia_allow_private = true"
        )
        config.write_text(text)
        settings = load_settings(config, environ={})
        build(settings)
        build(settings)
        heads = [r for r in recorder.requests if r[0] == "HEAD"]
        assert len(heads) == 1 and heads[0][1] == "/img/a.jpg"
    rss = feedparser.parse((project / "feeds" / "rss.xml").read_bytes())
    entry = next(e for e in rss.entries if e.title == "Remote image")
    assert entry.enclosures[0]["length"] == "48213" and entry.enclosures[0]["type"] == "image/jpeg"


def test_feedgen_pitfalls_are_worked_around(settings: Settings, project: Path) -> None:
    build(settings, now=datetime(2024, 9, 30, tzinfo=UTC))
    feeds = project / "feeds"
    atom_bytes = (feeds / "atom.xml").read_bytes()
    rss_bytes = (feeds / "rss.xml").read_bytes()
    # 1. Atom entry links keep rel/type: exactly one alternate per entry (feedgen#135).
    for entry in feedparser.parse(atom_bytes).entries:
        rels = [(link.rel, link.type) for link in entry.links]
        assert rels.count(("alternate", "text/html")) == 1, rels
    # 2. No CDATA anywhere; Atom content is type="html".
    assert b"CDATA" not in atom_bytes and b"CDATA" not in rss_bytes
    assert b'<content type="html">' in atom_bytes
    # 3. Each format has its own self link, and RSS's <link> is the site, not the feed.
    for data, name in ((atom_bytes, "atom.xml"), (rss_bytes, "rss.xml")):
        links = feedparser.parse(data).feed.links
        assert [link.href for link in links if link.rel == "self"] == [
            f"https://news.example.com/feeds/{name}"
        ]
    assert b"feeds/atom.xml" not in rss_bytes and b"feeds/rss.xml" not in atom_bytes
    assert b"<link>https://news.example.com/</link>" in rss_bytes
    # 4. Build dates come from the articles, not the clock: a later rebuild is byte-identical.
    newest = "2024-09-20T11:20:00+05:00"
    assert f"<updated>{newest}</updated>".encode() in atom_bytes
    assert b"<lastBuildDate>Fri, 20 Sep 2024 11:20:00 +0500</lastBuildDate>" in rss_bytes
    for path in feeds.rglob("*.xml"):
        path.unlink()
    with open_store(settings) as store, store.engine.begin() as conn:
        conn.execute(feed_state.delete())  # forget what was written: a full rebuild
    time.sleep(1.1)  # a later wall clock must not change a byte
    build(settings, now=datetime(2024, 9, 30, tzinfo=UTC))
    assert (feeds / "atom.xml").read_bytes() == atom_bytes
    assert (feeds / "rss.xml").read_bytes() == rss_bytes


def test_unchanged_feeds_are_not_rebuilt_or_rewritten(settings: Settings, project: Path) -> None:
    first = build(settings)
    assert len(first.written) > 30
    old = time.time() - 3600
    files = [p for p in (project / "feeds").rglob("*") if p.is_file()]
    for path in files:
        os.utime(path, (old, old))
    second = build(settings)
    assert second.written == [] and second.removed == []
    assert all(p.stat().st_mtime == old for p in files)
    # An edit rewrites exactly the feeds that show the article: site, its section, its author.
    seed = project / "content" / SEED
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Related Post", "Related Post\n"), encoding="utf-8"
    )
    assert build(settings).written == []  # chrome only: same article, same feeds
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Talks\n", "Talks Today\n", 1), encoding="utf-8"
    )
    third = build(settings)
    folders = {p.parent.relative_to(project / "feeds").as_posix() for p in third.written}
    assert folders == {".", "section/politics", "author/web-desk"}


def test_removed_sections_and_authors_lose_their_feeds(settings: Settings, project: Path) -> None:
    build(settings)
    assert (project / "feeds" / "section" / "sports" / "rss.xml").exists()
    (project / "content" / "2024-09-19-cricket-series.txt").unlink()
    with open_store(settings) as store, store.engine.begin() as conn:
        conn.execute(articles.delete().where(articles.c.section == "sports"))
    report = build(settings)
    assert not (project / "feeds" / "section" / "sports").exists()
    assert not (project / "feeds" / "author" / "sports-desk").exists()
    assert {p.name for p in report.removed} == {"sports", "sports-desk"}
    opml = (project / "feeds" / "feeds.opml").read_text()
    assert "sports" not in opml.lower()


def test_archives_are_written_once_and_chained(settings: Settings, project: Path) -> None:
    with open_store(settings) as store:
        run_collect(settings, store)
    age_articles(settings, "2024-09", [f"newsroom:{SEED}", "newsroom:2024-09-18-markets-rally.md"])
    age_articles(settings, "2024-10", ["newsroom:2024-09-19-ai-policy.md"])
    now = datetime(2024, 11, 5, tzinfo=UTC)
    build(settings, now=now)
    feeds = project / "feeds"
    september, october = feeds / "archive" / "2024-09.xml", feeds / "archive" / "2024-10.xml"
    for path in (september, october):
        assert_valid_atom(path)
    sept = feedparser.parse(september.read_bytes())
    assert {e.title for e in sept.entries} == {
        SEED_TITLE,
        "Stocks Close at Record High as Inflation Cools",
    }
    links = {link.rel: link.href for link in sept.feed.links}
    assert links["self"] == "https://news.example.com/feeds/archive/2024-09.xml"
    assert links["current"] == "https://news.example.com/feeds/atom.xml"
    assert "prev-archive" not in links
    # The oldest archive has no earlier one to point to: it is not marked fh:archive, which
    # would make it an incomplete archive (the W3C validator's ArchiveIncomplete warning).
    assert b"<fh:archive" not in september.read_bytes()
    assert b"<fh:archive" in october.read_bytes()
    octo = {link.rel: link.href for link in feedparser.parse(october.read_bytes()).feed.links}
    assert octo["prev-archive"] == "https://news.example.com/feeds/archive/2024-09.xml"
    # RSS readers get the same chain in RSS (RFC 5005 with atom:link).
    rss_october = feeds / "archive" / "2024-10.rss.xml"
    rss_links = {
        link.rel: link.href for link in feedparser.parse(rss_october.read_bytes()).feed.links
    }
    assert rss_links["prev-archive"] == "https://news.example.com/feeds/archive/2024-09.rss.xml"
    assert rss_links["current"] == "https://news.example.com/feeds/rss.xml"
    assert [e.title for e in feedparser.parse(rss_october.read_bytes()).entries] == [
        "Government Publishes Draft Rules for Artificial Intelligence in Public Services"
    ]
    for name, suffix in (("atom.xml", ".xml"), ("rss.xml", ".rss.xml")):
        current = {
            link.rel: link.href for link in feedparser.parse((feeds / name).read_bytes()).feed.links
        }
        assert current["prev-archive"] == f"https://news.example.com/feeds/archive/2024-10{suffix}"
    politics = feeds / "section" / "politics" / "archive" / "2024-09.xml"
    assert [e.title for e in feedparser.parse(politics.read_bytes()).entries] == [SEED_TITLE]

    # Rebuilding, even after the archived article is edited, never changes an archive.
    before = {p: p.read_bytes() for p in feeds.rglob("archive/*.xml")}
    seed = project / "content" / SEED
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Talks\n", "Talks (updated)\n", 1),
        encoding="utf-8",
    )
    build(settings, now=now)
    build(settings, now=datetime(2024, 12, 2, tzinfo=UTC))
    assert {p: p.read_bytes() for p in before} == before
    current = feedparser.parse((feeds / "atom.xml").read_bytes())
    assert any(e.title == SEED_TITLE + " (updated)" for e in current.entries)


def test_websub_hubs_are_linked_and_pinged(project: Path) -> None:
    with http_server() as (hub, recorder):
        config = write_config(project)
        config.write_text(
            config.read_text().replace('dir = "feeds"', f'dir = "feeds"\nhubs = ["{hub}/hub"]')
        )
        settings = load_settings(config, environ={})
        report = build(settings)
        posts = [r for r in recorder.requests if r[0] == "POST"]
        assert report.pings.sent == len(posts) > 30
        _method, path, headers, body = posts[0]
        assert path == "/hub"
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = parse_qs(body.decode())
        assert form["hub.mode"] == ["publish"]
        topics = {parse_qs(r[3].decode())["hub.url"][0] for r in posts}
        assert "https://news.example.com/feeds/atom.xml" in topics
        assert "https://news.example.com/feeds/section/politics/rss.xml" in topics
        atom = feedparser.parse((project / "feeds" / "atom.xml").read_bytes())
        assert [link.href for link in atom.feed.links if link.rel == "hub"] == [f"{hub}/hub"]
        rss = (project / "feeds" / "rss.xml").read_text()
        assert f'rel="hub" href="{hub}/hub"' in rss
        feed = assert_valid_json_feed(project / "feeds" / "feed.json")
        assert feed["hubs"] == [{"type": "WebSub", "url": f"{hub}/hub"}]

        # Nothing changed: no pings. A hub that fails is retried on the next run.
        recorder.requests.clear()
        assert build(settings).pings.sent == 0 and recorder.requests == []
        (project / "content" / "new.md").write_text(
            "---\ntitle: New story\ndate: 2024-10-05\nsection: national\n---\nBody.\n",
            encoding="utf-8",
        )
        recorder.status = 503
        failed = build(settings)
        # site and section "national", three formats each; the story has no author feed
        assert failed.pings.sent == 0 and len(failed.pings.failed) == 6
        recorder.status = 202
        recorder.requests.clear()
        retried = build(settings)
        assert retried.pings.sent == 6 and len(recorder.requests) == 6


def test_hostile_content_makes_clean_valid_feeds(settings: Settings, project: Path) -> None:
    (project / "content" / "hostile.md").write_text(
        "---\n"
        'title: "<script>x</script>Breaking \\x01 <em>news</em> & more"\n'
        "date: 2024-10-03T10:00:00\n"
        'author: "Eve <eve@evil.example>"\n'
        "section: national\n"
        "---\n"
        '<p onmouseover="steal()">Hi <a href="javascript:alert(1)">x</a> <a href="/local">y</a></p>\n'
        '<iframe src="https://evil.example/frame"></iframe><style>p{}</style>\n'
        '<img src="/pic.png" onerror="x()">\u0007\n',
        encoding="utf-8",
    )
    build(settings)
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse((project / "feeds" / name).read_bytes())
        assert parsed.bozo == 0
        entry = next(e for e in parsed.entries if "Breaking" in e.title)
        # A title is text: what looks like markup stays as written, escaped in the feed. (Atom
        # sends a title holding end tags as escaped HTML, which a reader shows as this text.)
        title = entry.title
        if entry.title_detail.type == "text/html":
            title = html_module.unescape(title)
        assert title == "<script>x</script>Breaking <em>news</em> & more"
        html = entry.content[0].value
        for bad in (
            "onmouseover",
            "javascript:",
            "evil.example",
            "<script",
            "<style",
            "onerror",
            "\x07",
        ):
            assert bad not in html
        assert 'href="https://news.example.com/local"' in html
        assert 'src="https://news.example.com/pic.png"' in html
    assert_valid_atom(project / "feeds" / "atom.xml")
    assert_valid_json_feed(project / "feeds" / "feed.json")


def test_crash_mid_write_keeps_previous_feed(
    settings: Settings, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(settings)
    path = project / "feeds" / "rss.xml"
    before = path.read_bytes()
    (project / "content" / "new.md").write_text(
        "---\ntitle: Fresh story\ndate: 2030-01-01\nsection: politics\n---\nBody.\n",
        encoding="utf-8",
    )

    def explode(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomicfile.os, "fsync", explode)
    with pytest.raises(Exception, match="No space left"):
        build(settings)
    assert path.read_bytes() == before
    assert [p for p in (project / "feeds").rglob("*.tmp")] == []
    monkeypatch.undo()
    assert any(p == path for p in build(settings).written)  # the next run catches up


def test_index_opml_and_stylesheet(settings: Settings, project: Path) -> None:
    build(settings)
    feeds = project / "feeds"
    opml = ElementTree.parse(feeds / "feeds.opml")
    urls = {o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")}
    assert len(urls) == 12  # site + 5 sections + 6 authors
    assert "https://news.example.com/feeds/author/web-desk/rss.xml" in urls
    index = (feeds / "index.html").read_text()
    assert index.count('/feed.json">JSON Feed</a>') == 12
    assert '<link rel="alternate" type="application/rss+xml"' in index
    transform = etree.XSLT(etree.parse(str(feeds / "feed.xsl")))
    for name in ("rss.xml", "atom.xml"):
        xml = (feeds / "section" / "politics" / name).read_bytes()
        assert b'<?xml-stylesheet type="text/xsl" href="/feeds/feed.xsl"?>' in xml
        page = str(transform(etree.fromstring(xml)))
        assert "Subscribe" in page and SEED_TITLE in page
        assert "https://news.example.com/feeds/section/politics/" + name in page


def test_feeds_check_passes_and_catches_problems(project: Path) -> None:
    config = str(project / "config.toml")
    assert cli("collect", "--config", config).exit_code == 0
    ok = cli("feeds", "--check", "--config", config)
    assert ok.exit_code == 0, ok.output
    assert "0 problems" in ok.output
    rss = project / "feeds" / "section" / "politics" / "rss.xml"
    rss.write_text(rss.read_text().replace("tag:news.example.com", "urn:oops").replace("+0500", ""))
    bad = cli("feeds", "--check", "--config", config)
    assert bad.exit_code == 1
    assert "is not a tag: URI" in bad.output and "has no time zone" in bad.output


def test_author_email_only_when_configured(project: Path) -> None:
    config = write_config(project)
    config.write_text(
        config.read_text().replace(
            'dir = "feeds"',
            'dir = "feeds"\nauthor_emails = { "Sara Khan" = "sara@news.example.com" }',
        )
    )
    build(load_settings(config, environ={}))
    rss = feedparser.parse((project / "feeds" / "rss.xml").read_bytes())
    by_title = {e.title: e for e in rss.entries}
    sara = by_title["Stocks Close at Record High as Inflation Cools"]
    assert sara.author_detail.email == "sara@news.example.com"
    assert "email" not in by_title[SEED_TITLE].author_detail
    atom = (project / "feeds" / "atom.xml").read_text()
    assert atom.count("<email>") == 1 and "<email>sara@news.example.com</email>" in atom
    assert_valid_atom(project / "feeds" / "atom.xml")
