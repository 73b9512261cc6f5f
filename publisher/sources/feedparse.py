"""Read an upstream feed (RSS, Atom, JSON Feed) into plain ``FeedEntry`` records.

RSS and Atom go through feedparser, which keeps whatever parses of a malformed document and
says what was wrong (``bozo``). It is always handed a stream, never the bytes themselves:
given bytes that look like a path, feedparser opens that local file. feedparser 6 does not
read JSON Feed, so JSON Feed 1.0 and 1.1 are mapped here, item by item, a bad item skipped.
Nothing is sanitised here: the collector cleans every article's HTML once, with one policy.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from .text import html_to_text, paragraphs_to_html

log = logging.getLogger(__name__)

JSON_TYPES = ("application/feed+json", "application/json")
# feedparser's notes that are not damage: the entries are whole.
HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
RSS_AUTHOR = re.compile(r"^\s*\S+@\S+\s+\((?P<name>[^)]+)\)\s*$")  # "ann@x.example (Ann)"


@dataclass
class FeedEntry:
    """One item of a feed, in the feed's own words (links absolute, dates in UTC)."""

    guid: str = ""
    link: str = ""
    title: str = ""
    summary: str = ""  # HTML or text, as the feed gives it
    content: str = ""  # HTML
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    tags: list[str] = field(default_factory=list)
    image: str = ""


@dataclass
class ParsedFeed:
    entries: list[FeedEntry]
    problem: str = ""  # what was malformed ("" when the document was well-formed)


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """The entries of a feed document fetched from ``url``; never raises for bad input."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if content_type in JSON_TYPES or start == b"{":
        return _json_feed(body, url)
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": url, "content-type": content_type or "text/xml"},
        sanitize_html=False,
        resolve_relative_uris=True,
    )
    problem = ""
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), HARMLESS):
        problem = str(parsed.get("bozo_exception") or "not well-formed")
    if not parsed.get("version") and not parsed.entries:
        return ParsedFeed([], problem or "no RSS, Atom or JSON Feed document found")
    return ParsedFeed([_entry(e, url) for e in parsed.entries], problem)


def _when(value: Any) -> datetime | None:
    if isinstance(value, time.struct_time):
        try:
            return datetime(*value[:6], tzinfo=UTC)
        except ValueError:
            return None
    return None


def _author(entry: Any) -> str:
    """The byline: RSS's "address (Name)" gives the name, Atom's author its name; a bare
    address is no byline (and is not ours to republish)."""
    raw = str(entry.get("author") or "").strip()
    if match := RSS_AUTHOR.match(raw):
        return match["name"].strip()
    if name := str((entry.get("author_detail") or {}).get("name") or "").strip():
        return name
    return "" if "@" in raw and " " not in raw else raw


def _image(entry: Any, base: str) -> str:
    candidates = [
        m.get("url")
        for m in entry.get("media_content") or []
        if m.get("medium") == "image" or str(m.get("type", "")).startswith("image/")
    ]
    candidates += [m.get("url") for m in entry.get("media_thumbnail") or []]
    candidates += [
        link.get("href")
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/")
    ]
    found = next((c for c in candidates if c), "")
    return urljoin(base, str(found)) if found else ""


def _is_html(entry: Any, key: str) -> bool:
    """Whether feedparser read ``key`` (title, summary) as HTML rather than text."""
    return "html" in str((entry.get(f"{key}_detail") or {}).get("type", ""))


def _entry(entry: Any, base: str) -> FeedEntry:
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    html = next((c for c in contents if "html" in str(c.get("type", ""))), None)
    if html is not None:
        content = str(html["value"])
    elif contents:
        content = paragraphs_to_html(str(contents[0]["value"]).split("\n\n"))
    else:
        content = ""
    # `in` first: feedparser's .get("updated_parsed") falls back to the publication date.
    updated = _when(entry["updated_parsed"]) if "updated_parsed" in entry else None
    published = _when(entry.get("published_parsed")) or updated
    link = str(entry.get("link") or "")
    # Titles and summaries are text in publisher; a feed may send them as HTML.
    title, summary = str(entry.get("title") or ""), str(entry.get("summary") or "")
    if _is_html(entry, "summary"):
        content = content or summary  # an RSS <description> is also the body
        summary = html_to_text(summary)
    if _is_html(entry, "title"):
        title = html_to_text(title)
    return FeedEntry(
        guid=str(entry.get("id") or ""),
        link=urljoin(base, link) if link else "",
        title=title,
        summary=summary,
        content=content,
        author=_author(entry),
        published=published,
        updated=updated if updated != published else None,
        tags=[str(t["term"]) for t in entry.get("tags") or [] if t.get("term")],
        image=_image(entry, base),
    )


# -- JSON Feed ----------------------------------------------------------------------------
def _json_when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _json_item(item: dict[str, Any], base: str) -> FeedEntry:
    authors = _list(item.get("authors")) or [item.get("author")]
    names = [a.get("name") for a in authors if isinstance(a, dict)]
    content = _text(item.get("content_html"))
    if not content and (plain := _text(item.get("content_text"))):
        content = paragraphs_to_html([p for p in plain.split("\n\n") if p.strip()])
    link = _text(item.get("url")) or _text(item.get("external_url"))
    image = _text(item.get("image")) or _text(item.get("banner_image"))
    ident = item.get("id")
    updated = _json_when(item.get("date_modified"))
    published = _json_when(item.get("date_published")) or updated
    return FeedEntry(
        guid=str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else "",
        link=urljoin(base, link) if link else "",
        title=_text(item.get("title")),
        summary=_text(item.get("summary")),
        content=content,
        author=next((n for n in names if isinstance(n, str) and n), ""),
        published=published,
        updated=updated if updated != published else None,
        tags=[t for t in _list(item.get("tags")) if isinstance(t, str) and t],
        image=urljoin(base, image) if image else "",
    )


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return ParsedFeed([], f"not valid JSON ({str(exc)[:120]})")
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        return ParsedFeed([], "JSON, but not a JSON Feed (no jsonfeed.org `version`)")
    items = doc.get("items")
    if not isinstance(items, list):
        return ParsedFeed([], "a JSON Feed without an `items` list")
    entries: list[FeedEntry] = []
    bad: list[str] = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            bad.append(f"item {n} is not an object")
            continue
        try:
            entries.append(_json_item(item, url))
        except (AttributeError, TypeError, ValueError) as exc:
            bad.append(f"item {n}: {exc}")
    return ParsedFeed(entries, "; ".join(bad[:3]) + (" …" if len(bad) > 3 else ""))
