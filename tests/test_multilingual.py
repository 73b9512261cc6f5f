"""Real newsrooms' content (tests/data/multilingual): one test per problem the issue found.

Every script keeps its articles and its own letters in their URLs; URLs never move when a
headline is edited or an author is added; duplicates are only what is really the same;
text fields stay text, bodies stay as written; and every bad file is named and skipped.
"""

# Greek, Cyrillic, full-width and typographic letters are what these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import feedparser
import pytest
from lxml import etree

from publisher.collect import CollectReport
from publisher.config import Settings, load_settings
from publisher.jobs import open_store, run_collect
from publisher.models import Article
from publisher.store import Store
from publisher.store.schema import article_urls, articles

from .feedhelpers import SITE, build, multilingual_project

NON_LATIN = {
    "ar/2024-09-21-central-bank.md": "البنك-المركزي-يخفض-أسعار-الفائدة-للمرة-الثالثة-هذا-العام",
    "zh/2024-09-22-ai-rules.md": "国务院发布生成式人工智能服务管理新规",
    "ja/2024-09-22-typhoon.md": "台風10号-九州に上陸へ-交通機関に大きな影響",
    "ru/2024-09-23-budget.md": "госдума-приняла-бюджет-на-2025-год-в-первом-чтении",
    "el/2024-09-23-climate-summit.md": "η-αθήνα-υποδέχεται-τη-σύνοδο-κορυφής-για-το-κλίμα",
    "hi/2024-09-24-cricket.txt": "भारत-ने-बांग्लादेश-को-पहले-टेस्ट-में-280-रन-से-हराया",
}


@pytest.fixture
def world(tmp_path: Path) -> Settings:
    return multilingual_project(tmp_path)


def collect(settings: Settings) -> tuple[CollectReport, dict[str, Article]]:
    """Collect, and every stored article by its path in the content folder."""
    with open_store(settings) as store:
        report = run_collect(settings, store)
        return report, everything(store)


def everything(store: Store) -> dict[str, Article]:
    with store.engine.connect() as conn:
        ids = [row.id for row in conn.execute(articles.select())]
    return {a.key.split(":", 1)[1]: a for a in store.articles_by_ids(ids)}


def test_non_latin_headlines_keep_their_letters_and_every_article(world: Settings) -> None:
    report, stored = collect(world)
    assert report.added == 14 and report.duplicates == 0
    assert len({a.link for a in stored.values()}) == len(stored)  # nobody shares a link
    for path, slug in NON_LATIN.items():
        article = stored[path]
        assert article.slug == slug
        assert article.link.isascii()  # a URI, the letters percent-encoded
        assert unquote(article.link).endswith(f"/{slug}/")
    zh = stored["zh/2024-09-22-ai-rules.md"]
    assert zh.link == (
        f"{SITE}/%E7%A7%91%E6%8A%80/%E5%9B%BD%E5%8A%A1%E9%99%A2%E5%8F%91%E5%B8%83%E7%94%9F"
        "%E6%88%90%E5%BC%8F%E4%BA%BA%E5%B7%A5%E6%99%BA%E8%83%BD%E6%9C%8D%E5%8A%A1%E7%AE%A1"
        "%E7%90%86%E6%96%B0%E8%A7%84/"
    )  # 科技/国务院发布生成式人工智能服务管理新规/
    # Latin letters lose their accents, as WordPress does.
    assert stored["de/2024-09-26-linux-611.md"].slug.startswith("linux-6-11-ist-da-die-wichtigsten")
    assert stored["fr/2024-09-25-avignon.md"].slug == "festival-d-avignon-une-edition-historique"


def test_slug_ascii_transliterates(tmp_path: Path) -> None:
    settings = multilingual_project(tmp_path, site="slug_ascii = true")
    _, stored = collect(settings)
    zh = stored["zh/2024-09-22-ai-rules.md"]
    assert zh.slug.startswith("guo-wu-yuan-fa-bu-sheng-cheng-shi")
    assert zh.link == f"{SITE}/ke-ji/{zh.slug}/"
    assert stored["ru/2024-09-23-budget.md"].slug.startswith("gosduma-priniala-biudzhet")
    assert all(re.fullmatch(r"[a-z0-9-]+", a.slug) for a in stored.values())


def test_sections_and_authors_keep_their_names_and_slugs_when_one_is_added(
    tmp_path: Path,
) -> None:
    settings = multilingual_project(tmp_path, site="slug_ascii = true")
    build(settings)
    with open_store(settings) as store:
        authors, sections = store.group_slugs("author"), store.group_slugs("section")
    assert authors["王伟"] == "wang-wei" and sections["Политика"] == "politika"
    assert authors["Анна Петрова"] == "anna-petrova"  # display names kept as written
    feeds = tmp_path / "feeds"
    wang = (feeds / "author" / "wang-wei" / "atom.xml").read_bytes()
    # A newcomer whose name transliterates the same and sorts first: numbering by name order
    # used to hand them wang-wei and give 王伟's readers someone else's stories.
    (tmp_path / "content" / "zh" / "2024-09-28-new-author.md").write_text(
        '---\ntitle: "新作者的第一篇报道"\ndate: 2024-09-28T08:00:00+08:00\n'
        'author: "汪伟"\nsection: "科技"\n---\n正文。\n',
        encoding="utf-8",
    )
    assert "汪伟" < "王伟"
    build(settings)
    with open_store(settings) as store:
        after = store.group_slugs("author")
        assert {name: after[name] for name in authors} == authors
        assert store.group_slugs("section") == sections
    assert re.fullmatch(r"wang-wei-[0-9a-f]{6}", after["汪伟"])
    assert (feeds / "author" / "wang-wei" / "atom.xml").read_bytes() == wang
    newcomer = feedparser.parse((feeds / "author" / after["汪伟"] / "atom.xml").read_bytes())
    assert [e.author for e in newcomer.entries] == ["汪伟"]


def test_editing_a_headline_keeps_the_link(world: Settings, tmp_path: Path) -> None:
    _, before = collect(world)
    build(world)
    path = tmp_path / "content" / "ru" / "2024-09-23-budget.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("в первом чтении", "в первом и втором чтении"),
        encoding="utf-8",
    )
    report, after = collect(world)
    assert report.updated == 1
    old, new = before["ru/2024-09-23-budget.md"], after["ru/2024-09-23-budget.md"]
    assert new.title.endswith("в первом и втором чтении")
    assert (new.link, new.slug, new.guid) == (old.link, old.slug, old.guid)
    build(world)
    atom = feedparser.parse((tmp_path / "feeds" / "atom.xml").read_bytes())
    entry = next(e for e in atom.entries if e.id == old.guid)
    assert entry.link == old.link and entry.title == new.title


def test_an_explicit_slug_moves_the_link_and_keeps_the_old_one(
    world: Settings, tmp_path: Path
) -> None:
    _, before = collect(world)
    path = tmp_path / "content" / "ja" / "2024-09-22-typhoon.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("---\n", "---\nslug: typhoon-10\n", 1), encoding="utf-8")
    _, after = collect(world)
    old, new = before["ja/2024-09-22-typhoon.md"], after["ja/2024-09-22-typhoon.md"]
    assert new.link == f"{SITE}/%E7%A4%BE%E4%BC%9A/typhoon-10/" and new.guid == old.guid
    with open_store(world) as store, store.engine.connect() as conn:
        rows = conn.execute(article_urls.select()).all()
    assert [(r.url, r.article_id) for r in rows] == [(old.link, old.id)]
    # Nobody else can take the old URL: a new article with that headline gets a suffix.
    (tmp_path / "content" / "ja" / "2024-09-29-again.md").write_text(
        text.replace("2024-09-22T15:40", "2024-09-29T15:40"), encoding="utf-8"
    )
    _, again = collect(world)
    assert again["ja/2024-09-29-again.md"].link not in (old.link, new.link)


def test_same_headline_in_one_section_is_two_articles(world: Settings) -> None:
    report, stored = collect(world)
    first = stored["product/2024-09-16-release-notes.md"]
    second = stored["product/2024-09-23-release-notes.md"]
    assert report.duplicates == 0
    assert first.link == f"{SITE}/product/release-notes/"
    assert re.fullmatch(rf"{SITE}/product/release-notes-[0-9a-f]{{6}}/", second.link)
    # The suffix comes from the article's own identity: the same on every run.
    with open_store(world) as store, store.engine.begin() as conn:
        conn.execute(articles.delete())
    _, again = collect(world)
    assert again["product/2024-09-23-release-notes.md"].link == second.link


def test_no_break_spaces_stay_characters_in_every_field_and_format(
    world: Settings, tmp_path: Path
) -> None:
    _, stored = collect(world)
    avignon = stored["fr/2024-09-25-avignon.md"]
    assert avignon.title == "Festival d’Avignon\u00a0: «\u202fune édition historique\u202f»"
    assert avignon.summary.startswith("Plus de 150\u00a0000 spectateurs")  # &nbsp; decoded
    assert "arts\u00a0vivants" in avignon.tags
    assert avignon.image_alt == "La cour d’honneur du Palais des papes\u00a0: la scène principale"
    build(world)
    feeds = tmp_path / "feeds"
    for name in ("rss.xml", "atom.xml", "feed.json"):
        data = (feeds / name).read_text(encoding="utf-8")
        assert "nbsp;" not in data and "&#160;" not in data and "&#xa0;" not in data.lower()
    entry = next(
        e
        for e in feedparser.parse((feeds / "atom.xml").read_bytes()).entries
        if "Avignon" in e.title
    )
    assert entry.title == avignon.title and entry.summary == avignon.summary
    assert [t.term for t in entry.tags] == ["Culture", "arts\u00a0vivants", "théâtre"]
    assert f'alt="{avignon.image_alt}"' in entry.content[0].value


def test_indented_html_bodies_are_html_not_code(world: Settings) -> None:
    _, stored = collect(world)
    arabic = stored["ar/2024-09-21-central-bank.md"].content_html
    review = stored["tech/2024-09-27-e-reader-review.md"].content_html
    heise = stored["de/2024-09-26-linux-611.md"].content_html
    for body in (arabic, review):
        assert "<pre>" not in body and "&lt;p" not in body
    assert "<blockquote>" in arabic and "<strong>50 نقطة أساس</strong>" in arabic
    assert '<figure>\n      <img src="https://news.example.com/images/2024/09/floods.png"' in review
    # Markdown with indented HTML blocks: the blocks are HTML, the fenced block stays code.
    assert "<div>\n  <p>Ein Überblick über die <strong>wichtigsten Änderungen</strong>" in heise
    assert "<li>io_uring kann jetzt Netzwerkverbindungen <em>asynchron</em> aufbauen.</li>" in heise
    assert heise.count("<pre>") == 1 and "&lt;p&gt;Dieser Code-Block bleibt Code." in heise


def test_media_are_kept_or_linked_and_every_link_is_absolute(world: Settings) -> None:
    _, stored = collect(world)
    review = stored["tech/2024-09-27-e-reader-review.md"]
    body = review.content_html
    assert '<video poster="https://news.example.com/images/2024/09/floods.png" controls="">' in body
    assert (
        '<source src="https://media.example.com/video/e-reader-demo.mp4" type="video/mp4">' in body
    )
    assert '<source src="https://media.example.com/audio/e-reader-podcast.mp3"' in body
    assert "blob:" not in body  # a video with no web source becomes a link to the page
    assert f'<a href="{review.link}" rel="noopener noreferrer">Watch the video on' in body
    assert '<a href="https://www.youtube.com/embed/dQw4w9WgXcQ">Watch the video</a>' in body
    assert f'href="{review.link}#screen"' in body  # a bare fragment, against the article
    greek = stored["el/2024-09-23-climate-summit.md"].content_html
    assert 'poster="https://news.example.com/images/2024/09/floods.png"' in greek
    zh = stored["zh/2024-09-22-ai-rules.md"]
    assert f'href="{zh.link}#fn:1"' in zh.content_html  # Markdown footnotes
    assert f'href="{zh.link}documents/ai-rules.pdf"' in zh.content_html
    assert f'href="{zh.link}#%E4%B8%BB%E8%A6%81%E5%86%85%E5%AE%B9"' in zh.content_html
    for article in stored.values():
        for url in re.findall(r'(?:href|src|poster)="([^"]*)"', article.content_html):
            assert url.startswith("https://") and url.isascii(), (article.key, url)


def test_text_fields_are_text_and_rss_descriptions_are_escaped(
    world: Settings, tmp_path: Path
) -> None:
    _, stored = collect(world)
    article = stored["tech/2024-09-27-i-element.md"]
    assert article.title == "Why the <i> element still matters"
    assert article.summary.startswith("Screen readers treat <i> and <em> differently; AT&T's")
    build(world)
    rss = (tmp_path / "feeds" / "rss.xml").read_bytes()
    assert b"<title>Why the &#x3C;i&gt; element still matters</title>" in rss
    assert b"<description>Screen readers treat &amp;lt;i&amp;gt; and &amp;lt;em&amp;gt;" in rss
    entry = next(e for e in feedparser.parse(rss).entries if e.link == article.link)
    assert entry.title == article.title
    assert entry.summary_detail.type == "text/html"  # a reader renders it: the same text
    assert etree.fromstring(f"<p>{entry.summary}</p>".encode()).text == article.summary
    feed = json.loads((tmp_path / "feeds" / "feed.json").read_bytes())
    item = next(i for i in feed["items"] if i["url"] == article.link)
    assert (item["title"], item["summary"]) == (article.title, article.summary)


def test_atom_has_no_prefixes_empty_content_or_iris(world: Settings, tmp_path: Path) -> None:
    report, stored = collect(world)
    brief = stored["briefs/2024-09-26-power-restored.md"]
    assert brief.content_html == ""
    build(world)
    feeds = tmp_path / "feeds"
    for path in feeds.rglob("atom.xml"):
        data = path.read_bytes()
        assert b"ns0" not in data and b"<content/>" not in data, path
        assert b'<content type="html"></content>' not in data
    atom = etree.parse(str(feeds / "atom.xml"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry = atom.xpath("//a:entry[a:id=$id]", namespaces=ns, id=brief.guid)[0]
    assert entry.xpath("a:content", namespaces=ns) == []
    assert entry.xpath("a:summary/text()", namespaces=ns) == [brief.title]
    rss = etree.parse(str(feeds / "rss.xml"))
    item = rss.xpath("//item[guid=$id]", id=brief.guid)[0]
    assert item.xpath("*[local-name()='encoded']") == []
    feed = json.loads((feeds / "feed.json").read_bytes())
    assert next(i for i in feed["items"] if i["id"] == brief.guid)["content_text"] == brief.title
    # A link with Hangul in it is stored and written as a URI.
    korean = stored["ko/2024-09-24-transit-fares.md"]
    assert korean.link == f"{SITE}/%EC%82%AC%ED%9A%8C/%EC%9A%94%EA%B8%88-%EC%9D%B8%EC%83%81/"
    assert all(
        b.isascii() for b in re.findall(rb'href="([^"]*)"', (feeds / "atom.xml").read_bytes())
    )
    # A urn: link is refused when collected, naming the file and the line; the rest go on.
    [error] = report.errors
    assert error.path.endswith("briefs/2024-09-26-urn-link.md") and error.line == 5
    assert "urn:" in error.reason and "http" in error.reason
    assert stored_article_count(world) == 14


def stored_article_count(settings: Settings) -> int:
    with open_store(settings) as store:
        return store.article_count()


def test_dates_keep_the_offset_the_source_gave(world: Settings, tmp_path: Path) -> None:
    _, stored = collect(world)
    expected = {
        "zh/2024-09-22-ai-rules.md": ("2024-09-22T09:00:00+08:00", "Sun, 22 Sep 2024 09:00:00 +0800"),
        "tech/2024-09-27-e-reader-review.md": ("2024-09-27T13:00:00-04:00", "Fri, 27 Sep 2024 13:00:00 -0400"),
        # The scraped format has no zone: the site's (Asia/Kolkata), as before.
        "hi/2024-09-24-cricket.txt": ("2024-09-24T18:15:00+05:30", "Tue, 24 Sep 2024 18:15:00 +0530"),
    }  # fmt: skip
    build(world)
    feeds = tmp_path / "feeds"
    atom = {e.link: e for e in feedparser.parse((feeds / "atom.xml").read_bytes()).entries}
    rss = {e.link: e for e in feedparser.parse((feeds / "rss.xml").read_bytes()).entries}
    items = {i["url"]: i for i in json.loads((feeds / "feed.json").read_bytes())["items"]}
    for path, (iso, rfc822) in expected.items():
        link = stored[path].link
        assert stored[path].published.isoformat() == iso
        assert atom[link].published == iso and items[link]["date_published"] == iso
        assert rss[link].published == rfc822
    greek = stored["el/2024-09-23-climate-summit.md"].link
    assert atom[greek].updated == "2024-09-23T16:45:00+03:00"


def test_files_over_max_bytes_are_reported_and_skipped(tmp_path: Path) -> None:
    settings = multilingual_project(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('path = "content"', 'path = "content"\nmax_bytes = 4096'),
        encoding="utf-8",
    )  # fmt: skip
    big = tmp_path / "content" / "briefs" / "2024-09-30-huge.md"
    big.write_text("---\ntitle: Huge\ndate: 2024-09-30\n---\n" + "word " * 2000, encoding="utf-8")
    settings = load_settings(config, environ={})
    report, stored = collect(settings)
    huge = next(e for e in report.errors if e.path.endswith("2024-09-30-huge.md"))
    assert "max_bytes (4,096)" in huge.reason and "10,0" in huge.reason
    assert "briefs/2024-09-30-huge.md" not in stored and len(stored) == 14


def test_big_bodies_are_not_copied_whole_into_feeds(tmp_path: Path) -> None:
    settings = multilingual_project(tmp_path, feeds="max_content_bytes = 1000")
    _, stored = collect(settings)
    build(settings)
    feed = json.loads((tmp_path / "feeds" / "feed.json").read_bytes())
    items = {i["url"]: i for i in feed["items"]}
    review = stored["tech/2024-09-27-e-reader-review.md"]
    html = items[review.link]["content_html"]
    assert len(review.content_html.encode()) > 1000 and len(html.encode()) < 1000
    assert html.startswith(f"<p><strong>{review.summary}</strong></p>")
    assert html.endswith(f'<p><a href="{review.link}">Read the whole story: {review.title}</a></p>')
    small = stored["ko/2024-09-24-transit-fares.md"]
    assert small.content_html in items[small.link]["content_html"]


def test_feeds_in_any_script_are_served_at_their_percent_encoded_urls(
    world: Settings, tmp_path: Path
) -> None:
    from .webhelpers import client

    build(world)
    with open_store(world) as store:
        web = client(world, store)
        response = web.get(
            "/feeds/section/%D0%BF%D0%BE%D0%BB%D0%B8%D1%82%D0%B8%D0%BA%D0%B0/rss.xml"
        )
        assert response.status_code == 200
        assert response.content == (tmp_path / "feeds/section/политика/rss.xml").read_bytes()
        archive = feedparser.parse(response.content)
        assert [link.href for link in archive.feed.links if link.rel == "self"] == [
            f"{SITE}/feeds/section/%D0%BF%D0%BE%D0%BB%D0%B8%D1%82%D0%B8%D0%BA%D0%B0/rss.xml"
        ]


def test_front_matter_format_and_whole_seconds(world: Settings, tmp_path: Path) -> None:
    briefs = tmp_path / "content" / "briefs"
    (briefs / "2024-09-29-html.md").write_text(
        '+++\ntitle = "Forced HTML"\ndate = 2024-09-29T10:00:00.123456+05:00\nformat = "html"\n+++\n'
        "Plain words first, *not* Markdown.\n\n    <p>indented</p>\n",
        encoding="utf-8",
    )
    (briefs / "2024-09-29-markdown.md").write_text(
        '+++\ntitle = "Forced Markdown"\ndate = 2024-09-29T11:00:00+05:00\nformat = "markdown"\n+++\n'
        "<span>inline</span> and *emphasis*\n",
        encoding="utf-8",
    )
    (briefs / "2024-09-29-bad.md").write_text(
        '+++\ntitle = "Bad"\ndate = 2024-09-29T12:00:00+05:00\nformat = "rst"\n+++\nx\n',
        encoding="utf-8",
    )
    report, stored = collect(world)
    forced = stored["briefs/2024-09-29-html.md"]
    assert forced.content_html == "Plain words first, *not* Markdown.\n\n    <p>indented</p>"
    assert forced.published.isoformat() == "2024-09-29T10:00:00+05:00"  # microseconds dropped
    assert stored["briefs/2024-09-29-markdown.md"].content_html == (
        "<p><span>inline</span> and <em>emphasis</em></p>"
    )
    bad = next(e for e in report.errors if e.path.endswith("2024-09-29-bad.md"))
    assert bad.line == 4 and "format" in bad.reason
    build(world)
    atom = (tmp_path / "feeds" / "atom.xml").read_text(encoding="utf-8")
    assert "<published>2024-09-29T10:00:00+05:00</published>" in atom and ".123456" not in atom


def test_feedgen_is_used_through_its_public_api() -> None:
    from publisher.feeds import xml

    source = Path(xml.__file__).read_text(encoding="utf-8")
    assert "_create_rss" not in source and "_create_atom" not in source
    assert "register_extension" in source
