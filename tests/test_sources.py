"""Parsing article files: the scraped plain-text format and Markdown with front matter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.errors import ArticleError
from publisher.sources.markdown import parse_markdown
from publisher.sources.scraped import parse_scraped

from .conftest import ROOT, SEED

KARACHI = ZoneInfo("Asia/Karachi")
SITE = "https://news.example.com"


def scraped(text: str, path: str = "x.txt"):  # type: ignore[no-untyped-def]
    return parse_scraped(text, key=f"s:{path}", source="s", path=path, site_url=SITE, tz=KARACHI)


def markdown(text: str, path: str = "x.md"):  # type: ignore[no-untyped-def]
    return parse_markdown(text, key=f"s:{path}", source="s", path=path, site_url=SITE, tz=KARACHI)


def test_seed_article_parsed_exactly() -> None:
    article = scraped((ROOT / "content" / SEED).read_text(encoding="utf-8"))
    assert (
        article.title
        == "US Under Secretary John Bass Visits Pakistan for Bilateral Cooperation Talks"
    )
    assert article.author == "Web Desk"
    assert article.published == datetime(2024, 9, 17, 17, 50, tzinfo=KARACHI)
    assert article.published.astimezone(UTC) == datetime(2024, 9, 17, 12, 50, tzinfo=UTC)
    assert article.section == "politics"
    assert article.highlights == [
        "John Bass discusses counter-terrorism with Pakistani officials.",
        "Focus on economic development and regional stability.",
        "Collaboration on Afghan refugee resettlement emphasized.",
    ]
    assert article.image_credit == "geo"
    assert article.image_alt == article.title
    assert article.summary == (
        "John Bass visits Pakistan to enhance bilateral cooperation, focusing on "
        "counter-terrorism and economic development."
    )
    paragraphs = article.content_html.split("\n")
    assert len(paragraphs) == 6
    assert all(p.startswith("<p>") and p.endswith("</p>") for p in paragraphs)
    assert paragraphs[0].startswith("<p>In a significant diplomatic move, John Bass")
    assert paragraphs[-1].startswith("<p>John Bass's visit to Pakistan marks a pivotal moment")
    assert "Related Post" not in article.content_html
    assert article.link == "" and article.slug == ""  # the store fixes both, once


def test_scraped_without_image_or_time() -> None:
    text = "Headline here\n\nDesk NameMarch 3, 2025business\nStandfirst.\n\nBody one.\nBody two.\nAdvertisement\n"
    article = scraped(text)
    assert article.author == "Desk Name"
    assert article.section == "business"
    assert article.published == datetime(2025, 3, 3, 0, 0, tzinfo=KARACHI)
    assert article.image_credit == "" and article.highlights == []
    assert article.summary == "Standfirst."
    assert article.content_html == "<p>Body one.</p>\n<p>Body two.</p>"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "empty"),
        ("Only a headline\n", 1, "only a headline"),
        ("Headline\n\nno date in this line at all\nBody.\n", 3, "dateline"),
        ("Headline\n\nWeb DeskFebruary 31, 2024 05:50 PMpolitics\nBody.\n", 3, "unreadable date"),
        (
            "Headline\n\nWeb DeskFebruary 3, 2024 05:50 PMpolitics\nRelated Post\n",
            3,
            "no standfirst",
        ),
    ],
)
def test_scraped_errors_name_the_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(ArticleError) as info:
        scraped(text, path="content/bad.txt")
    assert info.value.line == line
    assert words in info.value.reason.lower()
    assert str(info.value).startswith("content/bad.txt")


def test_markdown_with_toml_front_matter() -> None:
    article = markdown(
        (ROOT / "content" / "2024-09-18-markets-rally.md").read_text(encoding="utf-8")
    )
    assert article.title == "Stocks Close at Record High as Inflation Cools"
    assert article.author == "Sara Khan"
    assert article.section == "business"
    assert article.published == datetime(2024, 9, 18, 16, 30, tzinfo=KARACHI)
    assert article.tags == ["markets", "inflation"]
    assert len(article.highlights) == 3
    assert article.image_url == "https://news.example.com/images/2024/09/stock-exchange.png"
    assert article.image_credit == "Dispatch photo"
    assert "<strong>further interest-rate cuts</strong>" in article.content_html
    assert "<blockquote>" in article.content_html
    assert article.link == ""  # no explicit link: the store makes one up on first sight


def test_markdown_with_yaml_front_matter() -> None:
    article = markdown(
        (ROOT / "content" / "2024-09-18-monsoon-floods.md").read_text(encoding="utf-8")
    )
    assert article.author == "Ali Raza"
    assert article.published == datetime(2024, 9, 18, 4, 15, tzinfo=UTC)
    assert article.updated == datetime(2024, 9, 18, 9, 0, tzinfo=UTC)
    assert article.tags == ["weather", "floods", "relief"]
    assert article.highlights[0] == "More than 4,000 people moved to relief camps."
    assert "<h2>What comes next</h2>" in article.content_html
    assert "<li>Relief camps have opened in three districts.</li>" in article.content_html


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("no front matter\n", 1, "no front matter"),
        ("---\ntitle: x\n", 1, "never closed"),
        ("---\ntitle: [unclosed\ndate: 2024-01-01\n---\nbody\n", 3, "yaml"),
        ('+++\ntitle = "x\n+++\nbody\n', 2, "toml"),
        ("---\ndate: 2024-01-01\n---\nbody\n", 1, "title"),
        ("---\ntitle: x\n---\nbody\n", 1, "date"),
        ("---\ntitle: x\ndate: yesterday\n---\nbody\n", 3, "not a date"),
    ],
)
def test_markdown_errors(text: str, line: int, words: str) -> None:
    with pytest.raises(ArticleError) as info:
        markdown(text)
    assert info.value.line == line
    assert words in info.value.reason.lower()


def test_sample_content_all_parses() -> None:
    for path in sorted(Path(ROOT / "content").iterdir()):
        parse = scraped if path.suffix == ".txt" else markdown
        article = parse(path.read_text(encoding="utf-8"), path=str(path))
        assert article.title and article.section and article.author
