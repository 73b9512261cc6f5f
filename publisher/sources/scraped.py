"""The plain-text format of articles scraped from a news site.

The layout, top to bottom (see ``content/000_70c30224e34ffb25.txt``)::

    Headline
    <blank>
    Web DeskSeptember 17, 2024 05:50 PMpolitics      <- byline, date and section run together
      • highlight                                      <- zero or more bullets
    Caption of the lead imageImage Credits: geo        <- optional
    Standfirst line.
    <blank>
    Body paragraph, one per line ...
    Related Post                                       <- page chrome, dropped

Every failure names the line it happened on, and none quotes the file's text: a file that is
not an article at all (a stray symlink target, a secret) must not end up in a log.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from ..errors import ArticleError
from ..models import Article
from .text import localize, paragraphs_to_html

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
)
DATELINE = re.compile(
    rf"^(?P<author>.*?)(?P<date>(?:{MONTHS})\.? \d{{1,2}}, \d{{4}})"
    r"(?:\s+(?P<time>\d{1,2}:\d{2})\s*(?P<ampm>[AaPp][Mm])?)?(?P<section>.*)$"
)
BULLET = re.compile(r"^\s*[•·▪◦‣*-]\s+(?P<text>.+)$")
IMAGE_CREDIT = re.compile(r"^(?P<caption>.*?)\s*Image Credits?:\s*(?P<credit>.*)$", re.IGNORECASE)
# Lines of page furniture that the scraper picked up; never part of the article.
CHROME = {
    "related post",
    "related posts",
    "related",
    "read more",
    "also read",
    "advertisement",
    "share",
    "share this",
    "comments",
    "trending",
}


def _parse_date(match: re.Match[str], tz: ZoneInfo) -> datetime:
    date_text = match.group("date").replace(".", "").replace("Sept ", "Sep ")
    time_text = match.group("time") or "00:00"
    ampm = (match.group("ampm") or "").upper()
    fmt_date = "%B %d, %Y" if len(date_text.split()[0]) > 3 else "%b %d, %Y"
    if ampm:
        parsed = datetime.strptime(f"{date_text} {time_text} {ampm}", f"{fmt_date} %I:%M %p")
    else:
        parsed = datetime.strptime(f"{date_text} {time_text}", f"{fmt_date} %H:%M")
    return localize(parsed, tz)


def parse_scraped(
    text: str, *, key: str, source: str, path: str, site_url: str, tz: ZoneInfo
) -> Article:
    """Parse one scraped article; raise ArticleError naming the line that is wrong."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    numbered = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise ArticleError(path, None, "the file is empty", "delete it or fill it in")
    title_line, title = numbered[0]
    if len(numbered) < 2:
        raise ArticleError(path, title_line, "only a headline; the dateline and body are missing")
    date_line, dateline = numbered[1]
    match = DATELINE.match(dateline)
    if match is None:
        raise ArticleError(
            path,
            date_line,
            "expected a dateline with byline, date and section",
            "the second non-blank line must look like 'Web DeskSeptember 17, 2024 05:50 PMpolitics'",
        )
    try:
        published = _parse_date(match, tz)
    except ValueError as exc:
        raise ArticleError(
            path, date_line, "unreadable date (no such day or time)", "check the dateline's date"
        ) from exc

    rest = numbered[2:]
    highlights: list[str] = []
    while rest and (bullet := BULLET.match(lines[rest[0][0] - 1])):
        highlights.append(bullet.group("text").strip())
        rest = rest[1:]
    image_alt = image_credit = ""
    if rest and (credit := IMAGE_CREDIT.match(rest[0][1])):
        image_alt, image_credit = credit.group("caption").strip(), credit.group("credit").strip()
        rest = rest[1:]
    body = [line for _, line in rest if line.casefold().rstrip(":") not in CHROME]
    if not body:
        raise ArticleError(path, date_line, "no standfirst or body text after the dateline")
    standfirst, paragraphs = body[0], body[1:]
    if not paragraphs:  # a one-paragraph story: the standfirst is the story
        paragraphs = [standfirst]
    section = match.group("section").strip()
    return Article(
        key=key,
        source=source,
        title=title,
        link="",  # the store gives it a permanent one, from the section and the headline
        published=published,
        author=match.group("author").strip(),
        section=section,
        summary=standfirst,
        content_html=paragraphs_to_html(paragraphs),
        highlights=highlights,
        image_alt=image_alt,
        image_credit=image_credit,
    )
