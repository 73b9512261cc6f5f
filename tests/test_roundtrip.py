"""Source → store → feeds → feedparser, as a reader sees them: nothing lost, every field of
every article the same, text byte for byte; every feed and archive clean for the W3C Feed
Validation Service (run offline, level AA); and what feed readers and browsers show."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from publisher.config import Settings, load_settings
from publisher.feeds import write_feeds
from publisher.jobs import open_store, run_collect
from publisher.models import Article
from publisher.store.schema import articles

from .conftest import write_config
from .feedhelpers import SITE, age_articles, build, multilingual_project, w3c_validate

FEEDS = f"{SITE}/feeds"
NOW = datetime(2024, 11, 5, tzinfo=UTC)


def _stored(settings: Settings) -> list[Article]:
    with open_store(settings) as store:
        with store.engine.connect() as conn:
            ids = [r.id for r in conn.execute(articles.select().order_by(articles.c.id))]
        return store.articles_by_ids(ids)


@pytest.fixture
def world(tmp_path: Path) -> Settings:
    """The multilingual fixtures collected, three of them archived in August, three in
    September, so every kind of document exists: site, section, author, tag, archives."""
    settings = multilingual_project(tmp_path)
    with open_store(settings) as store:
        run_collect(settings, store)
    age_articles(settings, "2024-08", ["world:ar/2024-09-21-central-bank.md", "world:zh/2024-09-22-ai-rules.md",
                               "world:tech/2024-09-27-e-reader-review.md"])  # fmt: skip
    age_articles(settings, "2024-09", ["world:ru/2024-09-23-budget.md", "world:el/2024-09-23-climate-summit.md",
                               "world:tech/2024-09-27-i-element.md"])  # fmt: skip
    with open_store(settings) as store:
        write_feeds(settings, store, now=NOW)
    return settings


def _text(detail: dict[str, Any], value: str) -> str:
    """A text construct as a reader shows it: HTML (an RSS description, an Atom title sent
    as escaped HTML) is rendered, plain text is taken as it is."""
    return html.unescape(value) if detail["type"] == "text/html" else value


def _image(content: str) -> tuple[str, str, str]:
    """(src, alt, credit) of the lead image figure at the top of an item's HTML."""
    figure = etree.HTML(content).find(".//figure")
    assert figure is not None
    img = figure.find("img")
    assert img is not None
    caption = figure.findtext("figcaption") or ""
    return img.get("src"), img.get("alt"), caption.removeprefix("Image: ")


def _check_entry(article: Article, entry: Any, fmt: str) -> None:
    """Every field of ``article`` as feedparser read it from ``fmt``."""
    assert entry.id == article.guid
    assert entry.link == article.link
    assert _text(entry.title_detail, entry.title) == article.title
    assert _text(entry.summary_detail, entry.summary) == (article.summary or article.title)
    if fmt == "rss":
        assert entry.published == format_datetime(article.published)
    else:
        assert entry.published == article.published.isoformat()
        assert (
            entry.updated
            == max(article.updated or article.published, article.published).isoformat()
        )
    assert [a["name"] for a in entry.get("authors", [])] == article.authors
    assert [t.term for t in entry.get("tags", [])] == list(
        dict.fromkeys([article.section, *article.tags])
    )
    if article.content_html:
        content = entry.content[0].value
        assert article.content_html in content  # the body byte for byte
        for highlight in article.highlights:
            assert f"<li>{html.escape(highlight)}</li>" in content
    else:
        assert "content" not in entry
    if article.image_url:
        assert [m["url"] for m in entry.media_content] == [article.image_url]
        assert [m["url"] for m in entry.media_thumbnail] == [article.image_url]
        if article.image_credit:
            assert [c["content"] for c in entry.media_credit] == [article.image_credit]
        assert _image(entry.content[0].value) == (
            article.image_url, article.image_alt or article.title, article.image_credit
        )  # fmt: skip
        [enclosure] = entry.enclosures
        assert enclosure["href"] == article.image_url and enclosure["type"] == "image/png"


def test_round_trip_loses_nothing(world: Settings, tmp_path: Path) -> None:
    stored = _stored(world)
    assert len(stored) == 14
    feeds = tmp_path / "feeds"
    for name, fmt in (("atom.xml", "atom"), ("rss.xml", "rss")):
        parsed = feedparser.parse(
            (feeds / name).read_bytes(), sanitize_html=False, resolve_relative_uris=False
        )
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        entries = {e.id: e for e in parsed.entries}
        assert set(entries) == {a.guid for a in stored}
        for article in stored:
            _check_entry(article, entries[article.guid], fmt)
    feed = json.loads((feeds / "feed.json").read_bytes())
    items = {i["id"]: i for i in feed["items"]}
    for article in stored:
        item = items[article.guid]
        assert (item["url"], item["title"]) == (article.link, article.title)
        assert item.get("summary", "") == article.summary
        assert item["date_published"] == article.published.isoformat()
        assert [a["name"] for a in item.get("authors", [])] == article.authors
        assert item.get("tags", []) == list(dict.fromkeys([article.section, *article.tags]))
        assert item.get("image", "") == article.image_url
        if article.content_html:
            assert article.content_html in item["content_html"]
        else:
            assert item["content_text"] == article.title
    # The archives hold the same entries, whole.
    august = feedparser.parse(
        (feeds / "archive" / "2024-08.xml").read_bytes(),
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    assert len(august.entries) == 3
    for entry in august.entries:
        _check_entry(next(a for a in stored if a.guid == entry.id), entry, "atom")


def test_every_feed_and_archive_is_clean_for_the_w3c_validator(
    world: Settings, tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds"
    files = sorted(p.relative_to(feeds).as_posix() for p in feeds.rglob("*.xml"))
    assert "archive/2024-08.xml" in files and "archive/2024-09.rss.xml" in files
    assert "section/科技/archive/2024-08.rss.xml" in files
    assert "tag/theatre/rss.xml" in files and "author/анна-петрова/atom.xml" in files
    assert w3c_validate(feeds, FEEDS) == {}


def test_the_sample_content_is_clean_for_the_w3c_validator(
    settings: Settings, project: Path
) -> None:
    with open_store(settings) as store:
        run_collect(settings, store)
    age_articles(settings, "2024-09", ["newsroom:000_70c30224e34ffb25.txt"])
    age_articles(settings, "2024-10", ["newsroom:2024-09-18-markets-rally.md"])
    with open_store(settings) as store:
        write_feeds(settings, store, now=NOW)
    feeds = project / "feeds"
    assert (feeds / "archive" / "2024-10.rss.xml").exists()
    assert w3c_validate(feeds, FEEDS) == {}


def test_articles_of_one_minute_get_distinct_updated(project: Path) -> None:
    settings = load_settings(write_config(project), environ={})
    dateline = "Web DeskSeptember 17, 2024 05:50 PMpolitics"
    for n in range(3):
        (project / "content" / f"same-minute-{n}.txt").write_text(
            f"Story number {n}\n\n{dateline}\nStandfirst {n}.\n\nBody {n}.\n", encoding="utf-8"
        )
    build(settings)
    atom = feedparser.parse((project / "feeds" / "section" / "politics" / "atom.xml").read_bytes())
    updated = sorted(e.updated for e in atom.entries if e.title.startswith(("Story", "US Under")))
    assert updated == [f"2024-09-17T17:50:0{s}+05:00" for s in range(4)]
    assert (
        w3c_validate(project / "feeds" / "section" / "politics", f"{FEEDS}/section/politics") == {}
    )


def test_readers_see_lead_images_icons_and_every_author(world: Settings, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    icon = f"{SITE}/images/2024/09/stock-exchange.png"
    rss = feedparser.parse((feeds / "rss.xml").read_bytes())
    assert rss.feed.image.href == icon and rss.feed.image.link == f"{SITE}/"
    atom = feedparser.parse((feeds / "atom.xml").read_bytes())
    assert (atom.feed.icon, atom.feed.logo) == (icon, icon)
    feed = json.loads((feeds / "feed.json").read_bytes())
    assert (feed["icon"], feed["favicon"]) == (icon, icon)
    review = next(e for e in rss.entries if "e-reader" in e.link)
    assert [a.name for a in review.authors] == ["Jo Park", "Sam Rivera"]
    media = review.media_content[0]
    assert (media["medium"], media["type"]) == ("image", "image/png")
    assert (
        int(media["filesize"])
        == (tmp_path / "media/images/2024/09/stock-exchange.png").stat().st_size
    )
    # Each author has a feed, and the article is in both.
    for slug in ("jo-park", "sam-rivera"):
        author = feedparser.parse((feeds / "author" / slug / "atom.xml").read_bytes())
        assert review.link in [e.link for e in author.entries]
    # Tag feeds, in the tag's own letters.
    tag = feedparser.parse((feeds / "tag" / "人工智能" / "atom.xml").read_bytes())
    assert [link.href for link in tag.feed.links if link.rel == "self"] == [
        f"{FEEDS}/tag/%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD/atom.xml"
    ]
    assert [e.title for e in tag.entries] == ["国务院发布生成式人工智能服务管理新规"]
    index = (feeds / "index.html").read_text(encoding="utf-8")
    assert "<h2>By tag</h2>" in index and "人工智能" in index


def _page(path: Path) -> etree._Element:
    transform = etree.XSLT(etree.parse(str(_xsl(path))))
    return etree.HTML(str(transform(etree.parse(str(path)))))


def _xsl(path: Path) -> Path:
    folder = path.parent
    while not (folder / "feed.xsl").exists():
        folder = folder.parent
    return folder / "feed.xsl"


def test_the_browser_page_shows_authors_images_dates_language_and_archives(
    tmp_path: Path,
) -> None:
    settings = multilingual_project(tmp_path, site='language = "ar"')
    with open_store(settings) as store:
        run_collect(settings, store)
    age_articles(settings, "2024-08", ["world:ar/2024-09-21-central-bank.md"])
    with open_store(settings) as store:
        write_feeds(settings, store, now=NOW)
    feeds = tmp_path / "feeds"
    for name in ("rss.xml", "atom.xml"):
        page = _page(
            feeds
            / "section"
            / "اقتصاد"
            / "archive"
            / f"2024-08{'.rss' if name == 'rss.xml' else ''}.xml"
        )
        assert page.get("lang") == "ar" and page.get("dir") == "rtl"
        assert "This is an archive" in "".join(page.itertext())
        page = _page(feeds / name)
        text = " ".join("".join(page.itertext()).split())
        assert page.get("dir") == "rtl" and "This is an archive" not in text
        assert page.xpath("//nav/a/@href") == ["/feeds/index.html"]
        assert "Jo Park, Sam Rivera · 27 Sep 2024, 13:00" in text
        assert "سارة العلي · 21 Sep 2024, 10:30" in text
        assert page.xpath("//div[@class='item']//img/@alt")[:1] == ["The e-reader on a café table"]
