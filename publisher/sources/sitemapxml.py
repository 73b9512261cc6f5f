"""Read a sitemap, a sitemap index or a Google News sitemap into plain records.

The XML comes from outside, so lxml is told not to resolve entities, not to load a DTD and
not to touch the network (no billion laughs, no external entities), and to recover what it
can from a damaged document, saying what was wrong. Elements are matched by local name:
many sitemaps get the namespace slightly wrong, and that should not lose their URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from lxml import etree

from .fetch import gunzip

MAX_ENTRIES = 50_000  # the protocol's own limit per file


@dataclass
class SitemapEntry:
    """One ``<url>`` or ``<sitemap>``: where, when it last changed, and news details."""

    loc: str
    lastmod: datetime | None = None
    title: str = ""  # news:title
    published: datetime | None = None  # news:publication_date
    keywords: list[str] = field(default_factory=list)  # news:keywords


@dataclass
class Sitemap:
    kind: str  # "index" (lists sitemaps) or "urlset" (lists pages)
    entries: list[SitemapEntry]
    problem: str = ""  # what was malformed ("" when the document was well-formed)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )


def parse_when(text: str, tz: ZoneInfo) -> datetime | None:
    """A W3C datetime ("2026-10-06", "2026-10-06T08:30:00+05:00"); None if unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0, 0), tzinfo=tz)
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=tz)).astimezone(UTC)


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(element: etree._Element, name: str, within: str = "") -> str:
    """The text of ``name`` directly under ``element`` or, with ``within``, under the
    ``within`` element inside it (``news:title``, not the ``image:title`` beside it)."""
    parents = [element] if not within else [c for c in element if _local(c) == within]
    for parent in parents:
        for child in parent:
            if _local(child) == name:
                return (child.text or "").strip()
    return ""


def parse_sitemap(body: bytes, url: str, max_bytes: int, tz: ZoneInfo) -> Sitemap:
    """The entries of a sitemap document (gzipped or not); never raises for bad input."""
    if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not as Content-Encoding
        body = gunzip(body, max_bytes, url)
    parser = _parser()
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        return Sitemap("urlset", [], f"not XML ({exc})")
    errors = [str(e.message) for e in parser.error_log][:3]
    if root is None:
        return Sitemap("urlset", [], "; ".join(errors) or "an empty document")
    kind = {"sitemapindex": "index", "urlset": "urlset"}.get(_local(root))
    if kind is None:
        found = _local(root)
        return Sitemap("urlset", [], f"the root element is <{found}>, not <urlset> or <sitemapindex>")  # fmt: skip
    wanted = "sitemap" if kind == "index" else "url"
    entries: list[SitemapEntry] = []
    for element in root:
        if _local(element) != wanted:
            continue
        loc = _child_text(element, "loc")
        if not loc:
            continue
        keywords = _child_text(element, "keywords", "news")
        entries.append(
            SitemapEntry(
                loc=loc,
                lastmod=parse_when(_child_text(element, "lastmod"), tz),
                title=_child_text(element, "title", "news"),
                published=parse_when(_child_text(element, "publication_date", "news"), tz),
                keywords=[k.strip() for k in keywords.split(",") if k.strip()],
            )
        )
        if len(entries) >= MAX_ENTRIES:
            errors.append(f"more than {MAX_ENTRIES:,} entries; the rest ignored")
            break
    return Sitemap(kind, entries, "; ".join(errors))
